#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "squall/core/error.hpp"

namespace squall::core {

/// A compiled regular expression with Python `re` syntax and semantics as far as PCRE2 allows (StackStorm's
/// criteria and Jinja filters use Python's `re`): `(?P<name>...)`, `(?P=name)` and `(?P>name)` are accepted,
/// patterns are UTF-8. Immutable and thread-safe once compiled.
class Regex {
public:
    struct Options {
        bool ignore_case = false;
        bool dot_all = false;    ///< re.DOTALL
        bool multiline = false;  ///< re.MULTILINE
    };
    /// Compiles `pattern`; the error names the pattern and the offset.
    static Result<std::shared_ptr<const Regex>> Compile(std::string_view pattern, Options options);
    /// Compiles through a bounded per-thread cache (criteria and filters reuse a few patterns).
    static Result<std::shared_ptr<const Regex>> Cached(std::string_view pattern, Options options);
    ~Regex();

    /// re.search: a match anywhere. Fills `groups` (0 = whole match; unmatched groups empty) when given.
    bool Search(std::string_view text, std::vector<std::string>* groups = nullptr) const;
    /// re.match: a match anchored at the start.
    bool MatchStart(std::string_view text, std::vector<std::string>* groups = nullptr) const;
    /// re.fullmatch.
    bool FullMatch(std::string_view text) const;
    /// re.sub(pattern, replacement, text): `\1`, `\g<1>`, `\g<name>` in the replacement.
    std::string Replace(std::string_view text, std::string_view replacement) const;
    /// Every non-overlapping match (group 0), like re.findall without groups.
    std::vector<std::string> FindAll(std::string_view text) const;
    /// re.findall exactly: per match, group 0 when the pattern has no groups, else groups 1..n (an unmatched
    /// group is ""); the caller makes one group a string and several a tuple.
    std::vector<std::vector<std::string>> FindAllGroups(std::string_view text) const;
    /// Names of the capture groups by number (index 0 and unnamed groups: ""), for re's groupdict().
    std::vector<std::string> GroupNames() const;

private:
    struct Impl;
    explicit Regex(std::unique_ptr<Impl> impl);
    bool Run(
        std::string_view text,
        size_t start,
        uint32_t match_flags,
        std::vector<std::string>* groups,
        size_t* match_begin,
        size_t* match_end
    ) const;
    std::unique_ptr<Impl> impl_;
};

using RegexPtr = std::shared_ptr<const Regex>;

}  // namespace squall::core
