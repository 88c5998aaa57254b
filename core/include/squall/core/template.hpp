#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"

namespace squall::core {

/// Resolves `st2kv.system.<key>` / `st2kv.user.<key>` lazily while a template renders (SPEC §5). Implementations
/// may block (a Redis read); they are called on the rendering thread and must be thread-safe when the same lookup
/// is shared between threads.
class KeyValueLookup {
public:
    virtual ~KeyValueLookup() = default;
    /// The stored value of `key` in `scope` ("system" or "user"), or nullopt when there is none.
    virtual std::optional<std::string> Get(std::string_view scope, std::string_view key) const = 0;
    /// Decrypts a secret value for the `decrypt_kv` filter. The default has no key and fails.
    virtual Result<std::string> Decrypt(std::string_view ciphertext) const;
    /// The plaintexts Decrypt has handed out so far, so that callers can mask them where they were rendered.
    virtual std::vector<std::string> Revealed() const { return {}; }
};

/// Per-render options. Pointers are borrowed for the duration of the render only.
struct RenderOptions {
    /// Datastore for `st2kv.*`; null → `st2kv` is undefined unless the context has it.
    const KeyValueLookup* kv = nullptr;
    /// Printing (or returning) an undefined value is an error naming it, as with Jinja's StrictUndefined;
    /// `default` and `is defined` still work. Criteria patterns render this way: a typo must not match.
    bool strict_undefined = false;
    /// StackStorm's environment for action parameters: Jinja's `trim_blocks` (the newline after a block or
    /// comment tag is removed) and `lstrip_blocks` (spaces and tabs before one on its line are removed).
    bool stackstorm_whitespace = false;
};

/// A compiled Jinja-compatible template (SPEC §5): `{{ expr }}`, `{% if/elif/else %}`, `{% for %}` with `loop.*`
/// and `else`, `{% set %}`, comments, `{% raw %}`, whitespace control, filters and tests. Behaves as Python's
/// Jinja2 with the default `Undefined`: an undefined value prints empty and is falsy; an attribute of an
/// undefined value is an error naming it. Values print as Python's str() does.
/// Immutable after Compile and safe to render from many threads at once. Rendering never throws.
class Template {
public:
    struct Impl;

    /// Parses `text`. Errors read `template error at column N: <what> in "<text>"`. `stackstorm_whitespace`: as
    /// RenderOptions::stackstorm_whitespace.
    static Result<std::shared_ptr<const Template>> Compile(std::string_view text, bool stackstorm_whitespace = false);
    /// Compile through a bounded process-wide cache keyed by the text (thread-safe).
    static Result<std::shared_ptr<const Template>> Cached(std::string_view text, bool stackstorm_whitespace = false);

    explicit Template(std::unique_ptr<Impl> impl);
    ~Template();
    Template(const Template&) = delete;
    Template& operator=(const Template&) = delete;

    /// Renders to text, as Jinja2's `Template.render` does.
    Result<std::string> RenderText(const Json& context, const RenderOptions& options = {}) const;
    /// Renders keeping the JSON type when the template is exactly one `{{ expr }}` (surrounding whitespace
    /// allowed); otherwise the rendered text as a JSON string. An undefined single expression gives "".
    Result<Json> Render(const Json& context, const RenderOptions& options = {}) const;
    /// True when the template is exactly one `{{ expr }}`.
    bool IsSingleExpression() const;

private:
    std::unique_ptr<Impl> impl_;
};

using TemplatePtr = std::shared_ptr<const Template>;

/// Renders `text` (compiled through Template::Cached) over a JSON context such as {"trigger": payload}.
/// Thread-safe.
Result<std::string> RenderString(std::string_view text, const Json& context, const RenderOptions& options = {});

/// Renders every string inside `value` (recursively through objects and arrays); other values are kept. A string
/// that is exactly one `{{ expr }}` keeps the JSON type of the value; strings without template markup are kept
/// as they are. Thread-safe.
Result<Json> RenderValue(const Json& value, const Json& context, const RenderOptions& options = {});

/// Looks up a dotted path like `trigger.body.ref` or `trigger.commits[0]['id']` (used by criteria keys);
/// returns nullptr when any step is missing.
const Json* LookupPath(const Json& root, std::string_view path);

/// Python's str.lower() for ASCII, Latin-1, Greek and basic Cyrillic (other scripts are kept); ASCII text takes a
/// fast path. What `lower`, `iequals`, `icontains`... compare.
std::string PythonLower(std::string_view s);

/// Python str() of a JSON value, as Jinja prints it (True, None, ['a', 1], {'k': 1.0}).
std::string PythonStr(const Json& v);

}  // namespace squall::core
