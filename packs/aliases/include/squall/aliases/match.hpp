#pragma once

// Action alias matching (SPEC §9, reference §3.6): StackStorm's semantics of
// st2common/models/utils/action_alias_utils.py and st2common/util/actionalias_matching.py, re-implemented.
//
// A format is a regular expression with `{{name}}` and `{{name=default}}` placeholders. Matching a command:
//  1. trailing `key=value` pairs (value: a word, "double" or 'single' quoted text, or {...}) are cut from the end
//     of the command and become parameters (they win over placeholders);
//  2. each placeholder becomes a named group that takes the shortest text, optionally in quotes; a placeholder with
//     a default is optional together with the whitespace before it;
//  3. the format is anchored (`^\s*` ... `\s*$`) unless it has its own anchors, and matched against the rest;
//  4. an unmatched optional placeholder takes its default.
// A format that does not match: kInvalidArgument `Command "..." doesn't match format string "..."`.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/regex.hpp"

namespace squall::aliases {

using core::Json;

/// One (display, representation) pair of an alias format: a string format is both; an object gives `display`
/// (help text) and `representation` (a string or a list of formats that are matched).
struct FormatEntry {
    std::string display;
    std::string representation;
};
/// The pairs of one alias's `formats` list, in order (entries that are neither strings nor objects are skipped).
std::vector<FormatEntry> NormaliseFormats(const Json& formats);

/// A command split for matching: the text left once its trailing key=value pairs are cut, and those pairs.
struct ParsedCommand {
    std::string original;
    std::string stream;           ///< " <command without trailing pairs> "
    Json pairs = Json::object();  ///< key → value (string), in the order given; later keys win
};
ParsedCommand ParseCommand(const std::string& command);

/// A format compiled once (the regex and its placeholders), matched against many commands. Thread-safe.
class CompiledFormat {
public:
    /// kInvalidArgument naming the format and the regex error (e.g. a placeholder name that is not a word).
    static Result<CompiledFormat> Compile(const std::string& format);
    /// The parameters of `command` (strings; a required placeholder left unmatched is null), or
    /// kInvalidArgument when it does not match.
    Result<Json> Extract(const ParsedCommand& command) const;
    const std::string& format() const { return format_; }

private:
    std::string format_;
    core::RegexPtr regex_;
    std::vector<std::string> group_names_;
    std::vector<std::pair<std::string, std::string>> defaults_;  ///< optional placeholders: name → default
};

/// extract_parameters(format, command): compiles and matches once.
Result<Json> ExtractParameters(const std::string& format, const std::string& command);

/// A matched alias: the alias JSON (ActionAliasAPI shape), the format pair that matched and the parameters.
struct AliasMatch {
    std::string ref;
    Json alias;
    std::string display;
    std::string representation;
    Json parameters;
};

/// The enabled aliases of one content version with their formats compiled (build once per version, share).
class AliasIndex {
public:
    /// `aliases`: ref → ActionAliasAPI JSON. Formats that do not compile are left out and listed in errors().
    explicit AliasIndex(const std::map<std::string, Json>& aliases);

    /// Every alias that matches `command`, each with the first of its formats that matches, in ref order.
    std::vector<AliasMatch> MatchAll(const std::string& command) const;
    /// The one alias that matches: kNotFound `Command "..." matched no patterns`, kInvalidArgument
    /// `Command "..." matched more than 1 pattern: <ref> ("<format>"), ...` listing the candidates.
    Result<AliasMatch> Match(const std::string& command) const;
    /// The parameters of `command` matched against `format`, which must be one of the alias's representations
    /// (kInvalidArgument naming the alias otherwise, as StackStorm's extract_parameters_for_action_alias_db).
    Result<Json> ExtractFor(const std::string& ref, const std::string& format, const std::string& command) const;

    const std::vector<std::string>& errors() const { return errors_; }
    size_t size() const { return entries_.size(); }

private:
    struct Entry {
        std::string ref;
        Json alias;
        std::vector<std::pair<FormatEntry, std::shared_ptr<const CompiledFormat>>> formats;
    };
    std::vector<Entry> entries_;
    std::vector<std::string> errors_;
};

/// GET /actionalias/help: {available, helpstrings: [{pack, display, description}]} over enabled aliases, display
/// strings searched (case-insensitively, as a regex) for `filter`, of `pack` when given, paged as StackStorm pages
/// them (`available` counts every string that passed the filters).
Result<Json> HelpStrings(
    const std::map<std::string, Json>& aliases,
    const std::string& filter,
    const std::string& pack,
    size_t limit,
    size_t offset
);

}  // namespace squall::aliases
