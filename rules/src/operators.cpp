// StackStorm's criteria operators (st2common/operators.py) with Python's semantics: where Python would raise a
// TypeError or AttributeError (comparing a str with an int, `.lower()` on a list, `in` on None) StackStorm logs the
// exception and the criterion fails, so every such case here answers false.
#include "squall/rules/operators.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <compare>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string_view>

#include "squall/core/pyvalue.hpp"
#include "squall/core/regex.hpp"
#include "squall/templates/template.hpp"

namespace squall::rules {
namespace {

/// Python's str.lower() (Unicode-aware), what the case-insensitive operators compare.
std::string Lower(const std::string& s) {
    return core::PythonLower(s);
}

const Json& Null() {
    static const Json kNull;  // immutable
    return kNull;
}

const Json& Val(const Json* v) {
    return v ? *v : Null();
}

const std::string& Str(const Json& v) {
    return v.get_ref<const std::string&>();
}

bool IsNumeric(const Json& v) {
    return core::PyIsNumber(v);  // Python's bool is an int
}

/// Python's ordering (core/pyvalue.hpp) as -1/0/1; nullopt where Python raises TypeError or a NaN is unordered.
std::optional<int> PyCompare(const Json& a, const Json& b) {
    const std::optional<std::partial_ordering> c = core::PyCompare(a, b);
    if (!c || *c == std::partial_ordering::unordered) return std::nullopt;
    return *c < 0 ? -1 : (*c > 0 ? 1 : 0);
}

/// Python's `needle in haystack`; nullopt where Python raises TypeError.
std::optional<bool> PyIn(const Json& needle, const Json& haystack) {
    if (haystack.is_string()) {
        if (!needle.is_string()) return std::nullopt;
        return Str(haystack).find(Str(needle)) != std::string::npos;
    }
    if (haystack.is_array()) {
        for (const auto& item : haystack) {
            if (rules::PyEquals(item, needle)) return true;
        }
        return false;
    }
    if (haystack.is_object()) {
        if (needle.is_array() || needle.is_object()) return std::nullopt;  // unhashable
        return needle.is_string() && haystack.contains(Str(needle));
    }
    return std::nullopt;  // None, numbers and bools are not containers
}

bool BothStrings(const Json* v, const Json& p) {
    return v && v->is_string() && p.is_string();
}

bool StartsWith(const std::string& s, const std::string& prefix) {
    return s.size() >= prefix.size() && std::memcmp(s.data(), prefix.data(), prefix.size()) == 0;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           std::memcmp(s.data() + s.size() - suffix.size(), suffix.data(), suffix.size()) == 0;
}

/// Python's fnmatch.translate (match it from the start, with DOTALL): `*`, `?`, `[seq]`, `[!seq]`; a backslash is an
/// ordinary character; `[` without a closing `]` is literal; `[^a]` is the set {^, a}, not a negation; `*` and `?`
/// match `/` and leading dots.
std::string GlobToRegex(const std::string& pat) {
    auto escape = [](char c) {
        static const std::string kSpecial = "\\^$.|?*+()[]{}-#&~ ";
        return kSpecial.find(c) != std::string::npos ? std::string("\\") + c : std::string(1, c);
    };
    std::string out;
    size_t i = 0;
    const size_t n = pat.size();
    while (i < n) {
        const char c = pat[i++];
        if (c == '*') {
            if (out.size() < 2 || out.compare(out.size() - 2, 2, ".*") != 0) out += ".*";
        } else if (c == '?') {
            out += '.';
        } else if (c == '[') {
            size_t j = i;
            if (j < n && pat[j] == '!') ++j;
            if (j < n && pat[j] == ']') ++j;
            while (j < n && pat[j] != ']') ++j;
            if (j >= n) {
                out += "\\[";
                continue;
            }
            std::string stuff = pat.substr(i, j - i);
            i = j + 1;
            if (stuff == "!") {
                out += '.';  // Python 3.12: "[!]" matches any one character
                continue;
            }
            std::string set;
            size_t k = 0;
            if (stuff[0] == '!') {
                set = "^";
                k = 1;
            } else if (stuff[0] == '^') {
                set = "\\^";
                k = 1;
            }
            for (; k < stuff.size(); ++k) {
                const char s = stuff[k];
                // '-' keeps its range meaning; everything PCRE could read as syntax inside a class is escaped.
                if (s == '\\' || s == '[' || s == ']' || s == '^') set += '\\';
                set += s;
            }
            out += "[" + set + "]";
        } else {
            out += escape(c);
        }
    }
    // Python's translate ends with \Z; with DOTALL, "no character follows" is the same and lets the engine
    // backtrack until the whole value is consumed.
    return out + "(?!.)";
}

/// The longest text the date parsers read: the longest form (RFC 2822 with a zone name) is about 40 characters.
constexpr size_t kMaxDateLength = 128;

/// Seconds since the epoch, like dateutil.parser.parse for the ISO-like forms payloads carry: `YYYY-MM-DD`, then
/// optionally `T` or a space, `HH:MM[:SS[.ffffff]]` and `Z`, `±HH:MM` or `±HHMM`. A naive time is UTC (st2's
/// date_utils.parse).
std::optional<double> ParseDate(const std::string& text) {
    if (text.size() > kMaxDateLength) return std::nullopt;
    int y = 0;
    int mo = 0;
    int d = 0;
    int consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &consumed) != 3 || consumed != 10) return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    size_t pos = 10;
    double frac = 0;
    long offset = 0;
    if (pos < text.size()) {
        if (text[pos] != 'T' && text[pos] != ' ') return std::nullopt;
        int hh = 0;
        int mm = 0;
        int n = 0;
        if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5) return std::nullopt;
        pos += 1 + 5;
        tm.tm_hour = hh;
        tm.tm_min = mm;
        if (pos < text.size() && text[pos] == ':') {
            int ss = 0;
            if (std::sscanf(text.c_str() + pos + 1, "%2d%n", &ss, &n) != 1 || n != 2) return std::nullopt;
            tm.tm_sec = ss;
            pos += 3;
            if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
                double scale = 0.1;
                ++pos;
                while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
                    frac += (text[pos] - '0') * scale;
                    scale /= 10;
                    ++pos;
                }
            }
        }
        if (hh > 23 || mm > 59 || tm.tm_sec > 59) return std::nullopt;
        if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
            ++pos;
        } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
            const int sign = text[pos] == '+' ? 1 : -1;
            int oh = 0;
            int om = 0;
            const std::string rest = text.substr(pos + 1);
            if (rest.size() == 5 && rest[2] == ':' && std::sscanf(rest.c_str(), "%2d:%2d", &oh, &om) == 2) {
            } else if (rest.size() == 4 && std::sscanf(rest.c_str(), "%2d%2d", &oh, &om) == 2) {
            } else if (rest.size() == 2 && std::sscanf(rest.c_str(), "%2d", &oh) == 1) {
            } else {
                return std::nullopt;
            }
            offset = sign * (oh * 3600L + om * 60L);
            pos = text.size();
        }
    }
    if (pos != text.size()) return std::nullopt;
    // Seconds since the epoch as a double: year 2999 does not fit system_clock's nanoseconds.
    return static_cast<double>(timegm(&tm) - offset) + frac;
}

/// The other date forms dateutil.parser.parse reads and webhooks send, rewritten to the ISO form ParseDate reads:
/// `Wed, 01 Jan 2020 00:00:00 GMT` (RFC 2822), `2020-01-01 12:00:00 UTC` (GitLab), `2020/01/01 10:00`,
/// `20200101T000000Z` (basic ISO), `2020-01-01T00:00:00 +0000` (a space before the offset).
std::optional<double> ParseDateLoose(const std::string& text) {
    // Dates are short; a longer value (a payload field a sender filled with 100 KB of spaces) is no date, and
    // bounding it keeps every parse below linear in a small size.
    if (text.size() > kMaxDateLength) return std::nullopt;
    if (auto iso = ParseDate(text)) return iso;
    // PCRE2 (core::Regex, with match limits), not std::regex, whose recursion overflows the stack on long input.
    auto compile = [](const char* pattern) -> core::RegexPtr {
        Result<core::RegexPtr> re = core::Regex::Compile(pattern, {});
        return re ? *re : nullptr;  // the patterns are constants; a failure here is a bug caught by the tests
    };
    static const core::RegexPtr kRfc2822 = compile(
        R"(^\s*(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{4})\s+(\d{2}:\d{2}(?::\d{2})?)\s*(.*?)\s*\Z)"
    );
    static const core::RegexPtr kBasic =
        compile(R"(^\s*(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?)?\s*(.*?)\s*\Z)");
    static const core::RegexPtr kSpaced =
        compile(R"(^\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?))?\s*(.*?)\s*\Z)");
    static const core::RegexPtr kOffset = compile(R"(^(?:UTC|GMT)?([+-]\d{2}(?::?\d{2})?)\Z)");
    if (!kRfc2822 || !kBasic || !kSpaced || !kOffset) return std::nullopt;
    static const char* const kMonths[] = {
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
    auto zone = [](std::string z) -> std::optional<std::string> {
        for (auto& c : z) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (z.empty() || z == "Z" || z == "UTC" || z == "GMT") return std::string("Z");
        std::vector<std::string> g;
        if (kOffset->MatchStart(z, &g)) return g[1];
        return std::nullopt;
    };
    auto two = [](const std::string& n) { return n.size() == 1 ? "0" + n : n; };
    std::vector<std::string> m;  // groups; an unmatched group is empty (every optional group here is non-empty)
    std::string iso;
    std::optional<std::string> tz;
    if (kRfc2822->MatchStart(text, &m)) {
        std::string mon = m[2];
        for (auto& c : mon) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const auto* it = std::find_if(std::begin(kMonths), std::end(kMonths), [&](const char* k) { return mon == k; });
        if (it == std::end(kMonths)) return std::nullopt;
        const int month = static_cast<int>(it - std::begin(kMonths)) + 1;
        iso = m[3] + "-" + two(std::to_string(month)) + "-" + two(m[1]) + "T" + m[4];
        tz = zone(m[5]);
    } else if (kBasic->MatchStart(text, &m)) {
        iso = m[1] + "-" + m[2] + "-" + m[3];
        if (!m[4].empty()) iso += "T" + m[4] + ":" + m[5] + (!m[6].empty() ? ":" + m[6] : "");
        tz = zone(m[7]);
    } else if (kSpaced->MatchStart(text, &m)) {
        iso = m[1] + "-" + two(m[2]) + "-" + two(m[3]);
        if (!m[4].empty()) iso += "T" + m[4];
        tz = zone(m[5]);
    } else {
        return std::nullopt;
    }
    if (!tz) return std::nullopt;
    if (iso.size() > 10) iso += *tz;  // a date alone is midnight UTC
    return ParseDate(iso);
}

bool TimeDiff(const Json* v, const Json& p, bool less, const core::Clock* clock) {
    // `(now - parse(value)).total_seconds() < pattern`: the pattern must be a number (a str is a TypeError in
    // Python 3, so "60" in quotes never matches), the value a date string.
    if (p.is_null() || !IsNumeric(p) || !v || !v->is_string()) return false;
    const auto tp = ParseDateLoose(Str(*v));
    if (!tp) return false;
    const auto now = clock ? clock->Now() : std::chrono::system_clock::now();
    const double diff = std::chrono::duration<double>(now.time_since_epoch()).count() - *tp;
    return less ? diff < core::PyAsDouble(p) : diff > core::PyAsDouble(p);
}

Prepared PrepareRegex(const Json& p, core::Regex::Options options, bool anchored) {
    if (!p.is_string()) return Prepared::Kind::kFalse;
    Result<core::RegexPtr> re = core::Regex::Compile(Str(p), options);
    if (!re) return Prepared::Kind::kFalse;  // re.error: StackStorm logs it and the criterion fails
    Prepared out(Prepared::Kind::kRegex);
    out.regex = std::move(*re);
    out.anchored = anchored;
    return out;
}

bool RegexOp(const Json* v, const Json& p, core::Regex::Options options, bool anchored) {
    if (!BothStrings(v, p)) return false;
    Result<core::RegexPtr> re = core::Regex::Cached(Str(p), options);
    if (!re) return false;
    return anchored ? (*re)->MatchStart(Str(*v)) : (*re)->Search(Str(*v));
}

Prepared PrepareWildcard(const Json& p) {
    if (!p.is_string()) return Prepared::Kind::kFalse;
    Result<core::RegexPtr> re = core::Regex::Compile(GlobToRegex(Str(p)), {false, true, false});
    if (!re) return Prepared::Kind::kFalse;
    Prepared out(Prepared::Kind::kRegex);
    out.regex = std::move(*re);
    out.anchored = true;
    const std::string& pat = Str(p);
    if (pat.find_first_of("?[") == std::string::npos) {
        // Only stars: matched piece by piece, without the regex engine.
        out.kind = Prepared::Kind::kGlob;
        size_t from = 0;
        for (size_t star; (star = pat.find('*', from)) != std::string::npos; from = star + 1)
            out.parts.push_back(pat.substr(from, star - from));
        out.parts.push_back(pat.substr(from));
    }
    return out;
}

/// fnmatch of `s` against a glob made of `parts` joined by `*` (each star matches any run of characters): the
/// first part is a prefix, the last a suffix, the ones between found left to right in what remains.
bool GlobStarMatch(std::string_view s, const std::vector<std::string>& parts) {
    if (parts.size() == 1) return s == parts[0];
    const std::string& first = parts.front();
    const std::string& last = parts.back();
    if (s.size() < first.size() + last.size()) return false;
    if (s.compare(0, first.size(), first) != 0) return false;
    if (s.compare(s.size() - last.size(), last.size(), last) != 0) return false;
    const std::string_view middle = s.substr(0, s.size() - last.size());
    size_t pos = first.size();
    for (size_t i = 1; i + 1 < parts.size(); ++i) {
        if (parts[i].empty()) continue;
        const size_t found = middle.find(parts[i], pos);
        if (found == std::string_view::npos) return false;
        pos = found + parts[i].size();
    }
    return true;
}

bool HasNonAscii(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

/// ASCII lower-casing without the locale lookup of std::tolower (this runs per character on the hot path).
inline char LowerChar(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Case-insensitive (ASCII) tests of a value against an already lower-cased pattern, without allocating.
bool CiEquals(std::string_view v, std::string_view lp) {
    return v.size() == lp.size() &&
           std::equal(v.begin(), v.end(), lp.begin(), [](char a, char b) { return LowerChar(a) == b; });
}
bool CiFind(std::string_view v, std::string_view lp) {
    if (lp.empty()) return true;
    if (v.size() < lp.size()) return false;
    const char first = lp[0];
    const std::string_view rest = lp.substr(1);
    for (size_t i = 0, last = v.size() - lp.size(); i <= last; ++i) {
        if (LowerChar(v[i]) == first && CiEquals(v.substr(i + 1, rest.size()), rest)) return true;
    }
    return false;
}
bool CiStartsWith(std::string_view v, std::string_view lp) {
    return v.size() >= lp.size() && CiEquals(v.substr(0, lp.size()), lp);
}
bool CiEndsWith(std::string_view v, std::string_view lp) {
    return v.size() >= lp.size() && CiEquals(v.substr(v.size() - lp.size()), lp);
}

Prepared WithText(Prepared::Kind kind, std::string text) {
    Prepared out(kind);
    out.text = std::move(text);
    return out;
}

/// A case-insensitive string operator (`kind`) whose pattern is lower-cased once.
PrepareFn PrepareLowered(Prepared::Kind kind) {
    return [kind](const Json& p) -> Prepared {
        if (!p.is_string()) return Prepared::Kind::kFalse;
        return WithText(kind, Lower(Str(p)));
    };
}

/// `equals` bound to its pattern: a string pattern only equals a string value, a number (or bool) only a number
/// or bool.
Prepared PrepareEquals(const Json& p) {
    if (p.is_null()) return Prepared::Kind::kFalse;
    if (p.is_string()) return WithText(Prepared::Kind::kEquals, Str(p));
    if (IsNumeric(p)) {
        Prepared out(Prepared::Kind::kNumEquals);
        out.number = p;
        return out;
    }
    return {};
}

Prepared PrepareNequals(const Json& p) {
    if (p.is_string()) return WithText(Prepared::Kind::kNequals, Str(p));
    if (IsNumeric(p)) {
        Prepared out(Prepared::Kind::kNumNequals);
        out.number = p;
        return out;
    }
    return {};
}

/// `contains` (negate = false) / `ncontains` (negate = true) bound to a string pattern: Python's `p in value`.
Prepared PrepareContains(const Json& p, bool negate) {
    if (!p.is_string()) return {};
    return WithText(negate ? Prepared::Kind::kNcontains : Prepared::Kind::kContains, Str(p));
}

Prepared PrepareAffix(const Json& p, bool prefix) {
    if (!p.is_string()) return Prepared::Kind::kFalse;
    return WithText(prefix ? Prepared::Kind::kStartsWith : Prepared::Kind::kEndsWith, Str(p));
}

/// Python's `s in v` for a string `s`; nullopt where Python raises TypeError (v absent, a number, bool or null).
std::optional<bool> StringIn(const std::string& s, const Json* v) {
    if (!v) return std::nullopt;  // `in None` is a TypeError
    if (v->is_string()) return Str(*v).find(s) != std::string::npos;
    if (v->is_array()) {
        for (const auto& item : v->get_ref<const Json::array_t&>()) {
            if (!item.is_string()) continue;
            const std::string& is = *item.get_ptr<const std::string*>();
            if (is.size() == s.size() && is == s) return true;
        }
        return false;
    }
    if (v->is_object()) return v->contains(s);
    return std::nullopt;  // numbers, bools and null are not containers
}

bool NumPyEquals(const Json* v, const Json& number) {
    return v && IsNumeric(*v) && core::PyEquals(*v, number);
}

}  // namespace

void LowerInPlace(std::string& s) {
    for (char& c : s) {
        if (static_cast<unsigned char>(c) >= 0x80) {
            s = core::PythonLower(s);  // non-ASCII: Python's rules
            return;
        }
        c = LowerChar(c);
    }
}

bool Prepared::TestOther(const Json* v, const std::string* lowered) const {
    using K = Kind;
    switch (kind) {
        case K::kNone:
            return false;  // callers use the OperatorFn
        case K::kFn:
            return fn(v);
        case K::kFalse:
            return false;
        case K::kEquals:
            return v && v->is_string() && Str(*v) == text;
        case K::kNequals:
            return !(v && v->is_string() && Str(*v) == text);
        case K::kNumEquals:
            return NumPyEquals(v, number);
        case K::kNumNequals:
            return !NumPyEquals(v, number);
        case K::kStartsWith:
            return v && v->is_string() && StartsWith(Str(*v), text);
        case K::kEndsWith:
            return v && v->is_string() && EndsWith(Str(*v), text);
        case K::kContains: {
            const auto in = StringIn(text, v);
            return in && *in;
        }
        case K::kNcontains: {
            const auto in = StringIn(text, v);
            return in && !*in;
        }
        case K::kRegex:
            if (!v || !v->is_string()) return false;
            return anchored ? regex->MatchStart(Str(*v)) : regex->Search(Str(*v));
        case K::kExists:
            return v && !v->is_null();
        case K::kNexists:
            return !v || v->is_null();
        case K::kGlob:
            if (!v || !v->is_string() || !GlobStarMatch(Str(*v), parts)) return false;
            // PCRE2's `.` matches no invalid UTF-8 byte: on non-ASCII values the regex has the last word.
            return !HasNonAscii(Str(*v)) || regex->MatchStart(Str(*v));
        default:
            break;
    }
    // The case-insensitive kinds.
    return TestCaseInsensitive(v, lowered);
}

bool Prepared::TestCaseInsensitive(const Json* v, const std::string* lowered) const {
    using K = Kind;
    if (!v || !v->is_string()) return false;
    std::string folded;  // non-ASCII text is lower-cased as Python does, not byte by byte
    if (!lowered && HasNonAscii(Str(*v))) {
        folded = core::PythonLower(Str(*v));
        lowered = &folded;
    }
    if (lowered) {
        const std::string_view lv(*lowered);
        switch (kind) {
            case K::kIEquals:
                return lv == text;
            case K::kIContains:
                return lv.find(text) != std::string_view::npos;
            case K::kINcontains:
                return lv.find(text) == std::string_view::npos;
            case K::kIStartsWith:
                return lv.size() >= text.size() && lv.compare(0, text.size(), text) == 0;
            case K::kIEndsWith:
                return lv.size() >= text.size() && lv.compare(lv.size() - text.size(), text.size(), text) == 0;
            default:
                return false;
        }
    }
    const std::string_view sv(Str(*v));
    switch (kind) {
        case K::kIEquals:
            return CiEquals(sv, text);
        case K::kIContains:
            return CiFind(sv, text);
        case K::kINcontains:
            return !CiFind(sv, text);
        case K::kIStartsWith:
            return CiStartsWith(sv, text);
        case K::kIEndsWith:
            return CiEndsWith(sv, text);
        default:
            return false;
    }
}

bool PyEquals(const Json& a, const Json& b) {
    return core::PyEquals(a, b);
}

std::string EqualityKey(const Json& v) {
    if (v.is_string()) return "s" + Str(v);
    if (IsNumeric(v)) {
        // Every number goes through its double value: values that PyEquals calls equal always share a key, and the
        // rare collisions (integers beyond 2^53) only add candidates, which are evaluated exactly anyway.
        const double d = core::PyAsDouble(v);
        if (std::nearbyint(d) == d && std::fabs(d) < 9.0e18) return "n" + std::to_string(static_cast<int64_t>(d));
        char buf[40];
        std::snprintf(buf, sizeof(buf), "n%.17g", d);
        return buf;
    }
    return "";
}

Status OperatorRegistry::Register(
    const std::string& name, const std::vector<std::string>& aliases, OperatorFn fn, PrepareFn prepare
) {
    std::vector<std::string> all = aliases;
    all.insert(all.begin(), name);
    for (const auto& n : all) {
        if (ops_.count(Lower(n))) return Error(ErrorCode::kAlreadyExists, "operator \"" + n + "\" registered twice");
    }
    auto op = std::make_shared<const Operator>(Operator{Lower(name), std::move(fn), std::move(prepare)});
    for (const auto& n : all) ops_[Lower(n)] = op;
    return {};
}

const OperatorFn* OperatorRegistry::Find(const std::string& name) const {
    const Operator* op = FindOperator(name);
    return op ? &op->fn : nullptr;
}

const Operator* OperatorRegistry::FindOperator(const std::string& name) const {
    auto it = ops_.find(Lower(name));
    return it == ops_.end() ? nullptr : it->second.get();
}

std::vector<std::string> OperatorRegistry::Names() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : ops_) out.push_back(k);
    return out;
}

void RegisterBuiltinOperators(OperatorRegistry& r, const core::Clock* clock) {
    auto reg = [&r](const std::string& name, std::vector<std::string> aliases, OperatorFn fn, PrepareFn prep = {}) {
        Status st = r.Register(name, aliases, std::move(fn), std::move(prep));
        if (!st) throw Exception(st.error());  // a bug: built-ins are registered once, at start-up
    };
    // equals: a null pattern never matches (not even a null value); otherwise Python's ==.
    reg(
        "equals",
        {"eq"},
        [](const Json* v, const Json& p) { return !p.is_null() && v && rules::PyEquals(*v, p); },
        PrepareEquals
    );
    // nequals has no null check in StackStorm: an absent key is != any non-null pattern.
    reg(
        "nequals", {"neq"}, [](const Json* v, const Json& p) { return !rules::PyEquals(Val(v), p); }, PrepareNequals
    );
    reg(
        "iequals",
        {"ieq"},
        [](const Json* v, const Json& p) { return BothStrings(v, p) && Lower(Str(*v)) == Lower(Str(p)); },
        PrepareLowered(Prepared::Kind::kIEquals)
    );
    reg("lessthan", {"lt"}, [](const Json* v, const Json& p) {
        if (p.is_null()) return false;
        const auto c = rules::PyCompare(Val(v), p);
        return c && *c < 0;
    });
    reg("greaterthan", {"gt"}, [](const Json* v, const Json& p) {
        if (p.is_null()) return false;
        const auto c = rules::PyCompare(Val(v), p);
        return c && *c > 0;
    });
    reg(
        "matchwildcard",
        {},
        [](const Json* v, const Json& p) {
            if (!BothStrings(v, p)) return false;
            Result<core::RegexPtr> re = core::Regex::Cached(GlobToRegex(Str(p)), {false, true, false});
            return re && (*re)->MatchStart(Str(*v));
        },
        PrepareWildcard
    );
    reg(
        "regex",
        {},
        [](const Json* v, const Json& p) {
            return RegexOp(v, p, {false, false, false}, false);
        },
        [](const Json& p) {
            return PrepareRegex(p, {false, false, false}, false);
        }
    );
    reg(
        "iregex",
        {},
        [](const Json* v, const Json& p) {
            return RegexOp(v, p, {true, false, false}, false);
        },
        [](const Json& p) {
            return PrepareRegex(p, {true, false, false}, false);
        }
    );
    // Deprecated: re.compile(pattern, re.DOTALL).match(value), anchored at the start only.
    reg(
        "matchregex",
        {},
        [](const Json* v, const Json& p) {
            return RegexOp(v, p, {false, true, false}, true);
        },
        [](const Json& p) {
            return PrepareRegex(p, {false, true, false}, true);
        }
    );
    reg(
        "contains",
        {},
        [](const Json* v, const Json& p) {
            if (p.is_null()) return false;
            const auto in = PyIn(p, Val(v));
            return in && *in;
        },
        [](const Json& p) { return PrepareContains(p, false); }
    );
    reg(
        "ncontains",
        {},
        [](const Json* v, const Json& p) {
            if (p.is_null()) return false;
            const auto in = PyIn(p, Val(v));
            return in && !*in;  // None or a number is a TypeError, not "does not contain"
        },
        [](const Json& p) { return PrepareContains(p, true); }
    );
    // The case-insensitive variants call .lower() on both sides, so they only work on strings (not lists).
    reg(
        "icontains",
        {},
        [](const Json* v, const Json& p) {
            return BothStrings(v, p) && Lower(Str(*v)).find(Lower(Str(p))) != std::string::npos;
        },
        PrepareLowered(Prepared::Kind::kIContains)
    );
    reg(
        "incontains",
        {},
        [](const Json* v, const Json& p) {
            return BothStrings(v, p) && Lower(Str(*v)).find(Lower(Str(p))) == std::string::npos;
        },
        PrepareLowered(Prepared::Kind::kINcontains)
    );
    reg(
        "startswith",
        {},
        [](const Json* v, const Json& p) { return BothStrings(v, p) && StartsWith(Str(*v), Str(p)); },
        [](const Json& p) { return PrepareAffix(p, true); }
    );
    reg(
        "istartswith",
        {},
        [](const Json* v, const Json& p) { return BothStrings(v, p) && StartsWith(Lower(Str(*v)), Lower(Str(p))); },
        PrepareLowered(Prepared::Kind::kIStartsWith)
    );
    reg(
        "endswith",
        {},
        [](const Json* v, const Json& p) { return BothStrings(v, p) && EndsWith(Str(*v), Str(p)); },
        [](const Json& p) { return PrepareAffix(p, false); }
    );
    reg(
        "iendswith",
        {},
        [](const Json* v, const Json& p) { return BothStrings(v, p) && EndsWith(Lower(Str(*v)), Lower(Str(p))); },
        PrepareLowered(Prepared::Kind::kIEndsWith)
    );
    reg("timediff_lt", {"td_lt"}, [clock](const Json* v, const Json& p) { return TimeDiff(v, p, true, clock); });
    reg("timediff_gt", {"td_gt"}, [clock](const Json* v, const Json& p) { return TimeDiff(v, p, false, clock); });
    reg(
        "exists",
        {},
        [](const Json* v, const Json&) { return v && !v->is_null(); },
        [](const Json&) { return Prepared(Prepared::Kind::kExists); }
    );
    reg(
        "nexists",
        {},
        [](const Json* v, const Json&) { return !v || v->is_null(); },
        [](const Json&) { return Prepared(Prepared::Kind::kNexists); }
    );
    reg("inside", {"in"}, [](const Json* v, const Json& p) {
        if (p.is_null()) return false;
        const auto in = PyIn(Val(v), p);
        return in && *in;
    });
    reg("ninside", {"nin"}, [](const Json* v, const Json& p) {
        if (p.is_null()) return false;
        const auto in = PyIn(Val(v), p);
        return in && !*in;
    });
    reg(kSearchOperator, {}, [](const Json*, const Json&) { return false; });
}

}  // namespace squall::rules
