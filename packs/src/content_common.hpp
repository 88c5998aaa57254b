#pragma once

// Helpers shared by the metadata parsers of content_*.cpp (one file per metadata kind: pack, action, alias, policy,
// rule, sensor and trigger type). Private to squall_packs.

#include <optional>
#include <string>
#include <vector>

#include "squall/core/config.hpp"
#include "squall/core/input.hpp"
#include "squall/core/regex.hpp"
#include "squall/packs/content.hpp"

namespace squall::packs::detail {

using core::YamlDocument;

/// `path.key`, or `key` at the top.
std::string Join(const std::string& path, const std::string& key);

/// ` (did you mean "x"?)` for the closest of `known`, or "".
std::string Hint(const std::string& word, const std::vector<std::string>& known);

/// Collects every problem of one document, each located at its field (file:line:col: field: what). Parsers keep
/// going after an error so that one run reports all of them.
class Checker {
public:
    explicit Checker(const YamlDocument& doc) : doc_(doc) {}

    const YamlDocument& doc() const { return doc_; }
    bool ok() const { return errors_.empty(); }
    std::vector<Error>& errors() { return errors_; }
    void Fail(const std::string& path, const std::string& what) { errors_.push_back(doc_.ErrorAt(path, what)); }

    /// One error per key of `obj` not in `known`, with a did-you-mean hint.
    void Keys(const Json& obj, const std::string& path, const std::vector<std::string>& known);

    /// Declared but present with the wrong type → error; absent or null → `def`.
    std::string Str(const Json& obj, const std::string& key, const std::string& path, std::string def = {});

    /// Required non-empty string; nullopt (after an error) when missing or wrong.
    std::optional<std::string> Required(const Json& obj, const std::string& key, const std::string& path);

    bool Bool(const Json& obj, const std::string& key, const std::string& path, bool def);

    /// A mapping (or absent/null → `{}`).
    Json Mapping(const Json& obj, const std::string& key, const std::string& path, const std::string& what = "");

    /// A list of strings (or absent → {}); numbers are taken as their text ("3" for python_versions: [3]).
    std::vector<std::string> StringList(const Json& obj, const std::string& key, const std::string& path);

    /// A `pack.name` ref (core::CheckRef).
    std::optional<std::string> Ref(const Json& obj, const std::string& key, const std::string& path);

    /// A core::Check* message without its "field: " prefix (Fail adds the located field itself).
    static std::string Detail(const Error& e) {
        const size_t colon = e.message.find(": ");
        return colon == std::string::npos ? e.message : e.message.substr(colon + 2);
    }

    /// `name`: required and usable in a ref (core::CheckName: length, characters, no `..`).
    std::string Name(const Json& obj, const std::string& key = "name", const std::string& path = "");

    /// `pack` of a rule or other content given outside a pack: a valid pack name (core::CheckPackName).
    std::string PackName(const Json& obj, const std::string& key, const std::string& path, std::string def);

    /// `pack`: optional, and when given the pack the file is in.
    std::string Pack(const Json& obj, const std::string& pack, const std::string& path = "");

private:
    const YamlDocument& doc_;
    std::vector<Error> errors_;
};

/// The parsed value when the document had no error; else the first error (all of them appended to `all`).
template <typename T>
Result<T> Finish(Checker& c, T value, std::vector<Error>* all) {
    if (c.ok()) return value;
    if (all != nullptr) all->insert(all->end(), c.errors().begin(), c.errors().end());
    return c.errors().front();
}

/// One JSON schema at `path`: type names, then the draft-4 meta-schema (`minimum: "five"`, `maxLength: -1`,
/// ...), then it must compile.
void CheckSchema(Checker& c, const Json& schema, const std::string& path);

/// A map name → StackStorm parameter schema (action parameters, trigger parameters in st2 style).
void CheckParameters(Checker& c, const Json& params, const std::string& path);

/// `tags`: a list of {name, value}.
Json Tags(Checker& c, const Json& obj, const std::string& path);

}  // namespace squall::packs::detail
