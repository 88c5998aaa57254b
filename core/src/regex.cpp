#define PCRE2_CODE_UNIT_WIDTH 8
#include "squall/core/regex.hpp"

#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace squall::core {

struct Regex::Impl {
    pcre2_code* code = nullptr;
    bool jit = false;  ///< `code` was JIT-compiled: matched with pcre2_jit_match (no per-call option checks)
    uint32_t capture_count = 0;
    /// PCRE2's JIT ignores match-time PCRE2_ANCHORED/ENDANCHORED (those calls fall back to the interpreter, many
    /// times slower), so anchored forms get their own code, compiled with the options at first use.
    std::string translated;
    uint32_t compile_flags = 0;
    mutable std::once_flag anchored_once, full_once;
    mutable pcre2_code* anchored = nullptr;
    mutable pcre2_code* full = nullptr;
    mutable bool anchored_jit = false;
    mutable bool full_jit = false;
    /// Literals that every match contains (longest first; none known: empty); a subject without one of them
    /// fails without running PCRE2. Each is searched with Boyer-Moore-Horspool.
    struct Literal {
        std::string text;
        std::array<uint8_t, 256> skip{};  ///< shifts, capped at 255
        explicit Literal(std::string t) : text(std::move(t)) {
            const size_t m = text.size();
            skip.fill(static_cast<uint8_t>(std::min<size_t>(m, 255)));
            for (size_t i = 0; i + 1 < m; ++i)
                skip[static_cast<unsigned char>(text[i])] = static_cast<uint8_t>(std::min<size_t>(m - 1 - i, 255));
        }
        bool In(std::string_view s) const {
            const size_t m = text.size();
            if (s.size() < m) return false;
            const char* t = s.data();
            const char last = text[m - 1];
            for (size_t i = 0; i + m <= s.size();) {
                const char c = t[i + m - 1];
                if (c == last && std::memcmp(t + i, text.data(), m - 1) == 0) return true;
                i += skip[static_cast<unsigned char>(c)];
            }
            return false;
        }
    };
    std::vector<Literal> required;

    /// False when `text` cannot hold a match (it lacks a required literal).
    bool MayMatch(std::string_view text) const {
        for (const auto& l : required) {
            if (!l.In(text)) return false;
        }
        return true;
    }

    /// The code compiled with `extra` compile options (JIT'd); falls back to `code` + match-time options.
    pcre2_code* Variant(std::once_flag& once, pcre2_code*& slot, bool& jit, uint32_t extra) const {
        std::call_once(once, [&] {
            int err = 0;
            PCRE2_SIZE offset = 0;
            slot = pcre2_compile(
                reinterpret_cast<PCRE2_SPTR>(translated.data()),
                translated.size(),
                compile_flags | extra,
                &err,
                &offset,
                nullptr
            );
            if (slot) jit = pcre2_jit_compile(slot, PCRE2_JIT_COMPLETE) == 0;
        });
        return slot;
    }
    ~Impl() {
        if (code) pcre2_code_free(code);
        if (anchored) pcre2_code_free(anchored);
        if (full) pcre2_code_free(full);
    }
};

namespace {

/// Python-only group syntax → PCRE2's.
std::string Translate(std::string_view p) {
    std::string out;
    out.reserve(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] == '\\' && i + 1 < p.size()) {
            // Python's \Z is the very end (PCRE's \z); PCRE's \Z would also allow a final newline.
            out += p[i];
            out += p[i + 1] == 'Z' ? 'z' : p[i + 1];
            ++i;
            continue;
        }
        if (p[i] == '{' && i + 1 < p.size() && p[i + 1] == ',') {
            // Python's {,n} is {0,n}; PCRE reads it as literal text.
            size_t k = i + 2;
            while (k < p.size() && p[k] >= '0' && p[k] <= '9') ++k;
            if (k > i + 2 && k < p.size() && p[k] == '}') {
                out += "{0";
                continue;  // the ",n}" follows as it is
            }
        }
        if (p.compare(i, 4, "(?P<") == 0) {
            out += "(?<";
            i += 3;
        } else if (p.compare(i, 4, "(?P=") == 0) {
            const size_t close = p.find(')', i);
            if (close == std::string_view::npos) {
                out += p.substr(i);
                break;
            }
            out += "\\k<" + std::string(p.substr(i + 4, close - i - 4)) + ">";
            i = close;
        } else if (p.compare(i, 4, "(?P>") == 0) {
            out += "(?&";
            i += 3;
        } else {
            out += p[i];
        }
    }
    return out;
}

/// Runs of plain characters that every match of `p` (PCRE2 syntax, case-sensitive, not extended) contains:
/// literal characters at the top level, not made optional by a quantifier; the (at most 3) longest runs of 2 or
/// more characters, longest first. None when unsure: any alternation, `(?` / `(*` construct, or escape other
/// than an escaped punctuation character or a simple class (\d, \s, \b, ...); non-ASCII bytes end a run.
std::vector<std::string> RequiredLiterals(std::string_view p) {
    if (p.find('|') != std::string_view::npos || p.find("(?") != std::string_view::npos ||
        p.find("(*") != std::string_view::npos)
        return {};
    std::vector<std::string> runs;
    std::string cur;
    int depth = 0;
    auto end_run = [&] {
        if (cur.size() >= 2) runs.push_back(cur);
        cur.clear();
    };
    static constexpr std::string_view kSimpleEscapes = "dDsSwWbBAzZGntrfehHvVRX";
    const size_t n = p.size();
    for (size_t i = 0; i < n;) {
        const auto c = static_cast<unsigned char>(p[i]);
        if (c == '\\') {
            if (i + 1 >= n) return {};
            const auto d = static_cast<unsigned char>(p[i + 1]);
            if ((d >= 0x21 && d <= 0x2F) || (d >= 0x3A && d <= 0x40) || (d >= 0x5B && d <= 0x60) ||
                (d >= 0x7B && d <= 0x7E)) {
                if (depth == 0) cur += static_cast<char>(d);
            } else if (d < 0x80 && kSimpleEscapes.find(static_cast<char>(d)) != std::string_view::npos) {
                end_run();
            } else {
                return {};  // \x.., \p{..}, back-references, \Q...\E, ...: not worth reading
            }
            i += 2;
        } else if (c == '[') {
            end_run();
            size_t j = i + 1;
            if (j < n && p[j] == '^') ++j;
            if (j < n && p[j] == ']') ++j;
            while (j < n && p[j] != ']') {
                if (p[j] == '\\') {
                    j += 2;
                } else if (p[j] == '[' && j + 1 < n && p[j + 1] == ':') {
                    const size_t close = p.find(":]", j + 2);
                    if (close == std::string_view::npos) return {};
                    j = close + 2;
                } else {
                    ++j;
                }
            }
            if (j >= n) return {};
            i = j + 1;
        } else if (c == '(') {
            end_run();
            ++depth;
            ++i;
        } else if (c == ')') {
            end_run();
            if (--depth < 0) return {};
            ++i;
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            // A quantifier applies to the character before it (if that was in the run): not required.
            if (!cur.empty()) cur.pop_back();
            end_run();
            if (c == '{') {
                const size_t close = p.find('}', i);
                if (close == std::string_view::npos) return {};
                i = close + 1;
            } else {
                ++i;
            }
        } else if (c == '.' || c == '^' || c == '$' || c >= 0x80) {
            end_run();
            ++i;
        } else {
            if (depth == 0) cur += static_cast<char>(c);
            ++i;
        }
    }
    end_run();
    std::stable_sort(runs.begin(), runs.end(), [](const std::string& a, const std::string& b) {
        return a.size() > b.size();
    });
    if (runs.size() > 3) runs.resize(3);
    return runs;
}

}  // namespace

Regex::Regex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Regex::~Regex() = default;

Result<RegexPtr> Regex::Compile(std::string_view pattern, Options options) {
    const std::string translated = Translate(pattern);
    // UCP: \w, \d, \s, \b and case-insensitive matching are Unicode-aware, as in Python's str patterns.
    uint32_t flags = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
    if (options.ignore_case) flags |= PCRE2_CASELESS;
    if (options.dot_all) flags |= PCRE2_DOTALL;
    if (options.multiline) flags |= PCRE2_MULTILINE;
    int err = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(
        reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(), flags, &err, &offset, nullptr
    );
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof(msg));
        return InvalidArgument(
            "invalid regular expression \"" + std::string(pattern) + "\" at offset " + std::to_string(offset) + ": " +
            reinterpret_cast<const char*>(msg)
        );
    }
    const bool jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;  // best effort: else the interpreter
    auto impl = std::make_unique<Impl>();
    impl->code = code;
    impl->jit = jit;
    impl->translated = translated;
    impl->compile_flags = flags;
    if (!options.ignore_case) {
        for (auto& l : RequiredLiterals(translated)) impl->required.emplace_back(std::move(l));
    }
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &impl->capture_count);
    return RegexPtr(new Regex(std::move(impl)));  // NOLINT: private constructor
}

Result<RegexPtr> Regex::Cached(std::string_view pattern, Options options) {
    thread_local std::unordered_map<std::string, RegexPtr> cache;
    std::string key(1, static_cast<char>('0' + options.ignore_case + 2 * options.dot_all + 4 * options.multiline));
    key += pattern;
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    Result<RegexPtr> re = Compile(pattern, options);
    if (!re) return re;
    if (cache.size() >= 4096) cache.clear();
    cache.emplace(std::move(key), *re);
    return re;
}

namespace {

/// Match data reused per thread (one allocation per thread, not per match); patterns with more groups than it
/// holds get their own. A one-pair match data serves the calls that only need the whole match (or a yes/no): the
/// JIT then records no groups.
constexpr uint32_t kSharedPairs = 32;
struct SharedMatchData {
    pcre2_match_data* md = pcre2_match_data_create(kSharedPairs, nullptr);
    pcre2_match_data* one = pcre2_match_data_create(1, nullptr);
    ~SharedMatchData() {
        pcre2_match_data_free(md);
        pcre2_match_data_free(one);
    }
};
SharedMatchData& Shared() {
    thread_local SharedMatchData shared;
    return shared;
}

}  // namespace

bool Regex::Run(
    std::string_view text,
    size_t start,
    uint32_t match_flags,
    std::vector<std::string>* groups,
    size_t* match_begin,
    size_t* match_end
) const {
    const bool own = groups && impl_->capture_count + 1 > kSharedPairs;
    pcre2_match_data* md =
        own ? pcre2_match_data_create_from_pattern(impl_->code, nullptr) : (groups ? Shared().md : Shared().one);
    const pcre2_code* code = impl_->code;
    bool jit = impl_->jit;
    if (match_flags == PCRE2_ANCHORED) {
        if (const pcre2_code* v =
                impl_->Variant(impl_->anchored_once, impl_->anchored, impl_->anchored_jit, PCRE2_ANCHORED)) {
            code = v;
            jit = impl_->anchored_jit;
            match_flags = 0;
        }
    } else if (match_flags == (PCRE2_ANCHORED | PCRE2_ENDANCHORED)) {
        if (const pcre2_code* v =
                impl_->Variant(impl_->full_once, impl_->full, impl_->full_jit, PCRE2_ANCHORED | PCRE2_ENDANCHORED)) {
            code = v;
            jit = impl_->full_jit;
            match_flags = 0;
        }
    }
    const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    // The JIT handles invalid UTF-8 itself (PCRE2_MATCH_INVALID_UTF), so pcre2_match's checks can be skipped.
    const int rc = jit && match_flags == 0 && start <= text.size()
                       ? pcre2_jit_match(code, subject, text.size(), start, 0, md, nullptr)
                       : pcre2_match(code, subject, text.size(), start, match_flags, md, nullptr);
    const bool ok = rc >= 0;
    if (ok) {
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        if (match_begin) *match_begin = ov[0];
        if (match_end) *match_end = ov[1];
        if (groups) {
            groups->clear();
            for (uint32_t g = 0; g <= impl_->capture_count; ++g) {
                if (static_cast<int>(g) < rc && ov[2 * g] != PCRE2_UNSET) {
                    groups->emplace_back(text.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]));
                } else {
                    groups->emplace_back();
                }
            }
        }
    }
    if (own) pcre2_match_data_free(md);
    return ok;
}

bool Regex::Search(std::string_view text, std::vector<std::string>* groups) const {
    return impl_->MayMatch(text) && Run(text, 0, 0, groups, nullptr, nullptr);
}

bool Regex::MatchStart(std::string_view text, std::vector<std::string>* groups) const {
    return impl_->MayMatch(text) && Run(text, 0, PCRE2_ANCHORED, groups, nullptr, nullptr);
}

bool Regex::FullMatch(std::string_view text) const {
    return impl_->MayMatch(text) && Run(text, 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED, nullptr, nullptr, nullptr);
}

std::vector<std::string> Regex::FindAll(std::string_view text) const {
    std::vector<std::string> out;
    if (!impl_->MayMatch(text)) return out;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t b = 0;
        size_t e = 0;
        if (!Run(text, pos, 0, nullptr, &b, &e)) break;
        out.emplace_back(text.substr(b, e - b));
        pos = e > b ? e : e + 1;
    }
    return out;
}

std::vector<std::string> Regex::GroupNames() const {
    std::vector<std::string> names(impl_->capture_count + 1);
    uint32_t count = 0;
    uint32_t entry_size = 0;
    PCRE2_SPTR table = nullptr;
    pcre2_pattern_info(impl_->code, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(impl_->code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info(impl_->code, PCRE2_INFO_NAMETABLE, &table);
    for (uint32_t i = 0; i < count; ++i) {
        // Each entry: the group number in two bytes (big-endian), then the zero-terminated name.
        const PCRE2_SPTR e = table + static_cast<size_t>(i) * entry_size;
        const size_t group = (static_cast<size_t>(e[0]) << 8) | e[1];
        if (group < names.size()) names[group] = reinterpret_cast<const char*>(e + 2);
    }
    return names;
}

std::vector<std::vector<std::string>> Regex::FindAllGroups(std::string_view text) const {
    std::vector<std::vector<std::string>> out;
    if (!impl_->MayMatch(text)) return out;
    std::vector<std::string> groups;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t b = 0;
        size_t e = 0;
        if (!Run(text, pos, 0, &groups, &b, &e)) break;
        if (groups.size() > 1) groups.erase(groups.begin());
        out.push_back(std::move(groups));
        groups.clear();
        pos = e > b ? e : e + 1;
    }
    return out;
}

std::string Regex::Replace(std::string_view text, std::string_view repl) const {
    if (!impl_->MayMatch(text)) return std::string(text);
    std::string out;
    size_t pos = 0;
    std::vector<std::string> groups;
    while (pos <= text.size()) {
        size_t b = 0;
        size_t e = 0;
        if (!Run(text, pos, 0, &groups, &b, &e)) break;
        out.append(text.substr(pos, b - pos));
        for (size_t i = 0; i < repl.size(); ++i) {
            if (repl[i] != '\\' || i + 1 >= repl.size()) {
                out += repl[i];
                continue;
            }
            const char n = repl[i + 1];
            if (n >= '0' && n <= '9') {
                const size_t g = static_cast<size_t>(n - '0');
                if (g < groups.size()) out += groups[g];
                ++i;
            } else if (n == 'g' && i + 2 < repl.size() && repl[i + 2] == '<') {
                const size_t close = repl.find('>', i + 3);
                const std::string name(repl.substr(i + 3, close - i - 3));
                if (!name.empty() && std::isdigit(static_cast<unsigned char>(name[0]))) {
                    const size_t g = std::stoul(name);
                    if (g < groups.size()) out += groups[g];
                } else {
                    const int num =
                        pcre2_substring_number_from_name(impl_->code, reinterpret_cast<PCRE2_SPTR>(name.c_str()));
                    if (num >= 0 && static_cast<size_t>(num) < groups.size()) out += groups[static_cast<size_t>(num)];
                }
                i = close == std::string_view::npos ? repl.size() : close;
            } else if (n == 'n') {
                out += '\n';
                ++i;
            } else if (n == 't') {
                out += '\t';
                ++i;
            } else if (n == '\\') {
                out += '\\';
                ++i;
            } else {
                out += repl[i];
            }
        }
        if (e == b) {
            if (b < text.size()) out += text[b];
            pos = e + 1;
        } else {
            pos = e;
        }
    }
    if (pos < text.size()) out.append(text.substr(pos));
    return out;
}

}  // namespace squall::core
