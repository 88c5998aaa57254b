// StackStorm's shared expression functions (st2fns.hpp): time, version, jsonpath_query.
#include "st2fns.hpp"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "pystr.hpp"

namespace squall::core::templates {
namespace {

std::string TypeOf(const Json& v) {
    if (v.is_null()) return "NoneType";
    if (v.is_boolean()) return "bool";
    if (v.is_number_integer()) return "int";
    if (v.is_number()) return "float";
    if (v.is_string()) return "str";
    if (v.is_array()) return "list";
    return "dict";
}

/// (year, month, day) of the proleptic Gregorian calendar for `z` days since 1970-01-01.
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2 ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Semantic versions, as semver's Version (strict: MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]).

struct SemVer {
    int64_t major = 0, minor = 0, patch = 0;
    std::string prerelease, build;

    std::string Str() const {
        std::string out = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
        if (!prerelease.empty()) out += "-" + prerelease;
        if (!build.empty()) out += "+" + build;
        return out;
    }
};

bool IsDigit(char c) {
    return c >= '0' && c <= '9';
}
bool IsIdentChar(char c) {
    return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/// `0|[1-9]\d*` at s[i]; advances i.
bool ParseNumber(std::string_view s, size_t& i, int64_t* out) {
    const size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == start || (s[start] == '0' && i - start > 1) || i - start > 18) return false;
    *out = std::stoll(std::string(s.substr(start, i - start)));
    return true;
}

/// Dot-separated identifiers of [0-9A-Za-z-]; a prerelease's numeric identifiers have no leading zero.
bool ValidIdentifiers(std::string_view s, bool prerelease) {
    if (s.empty()) return false;
    size_t start = 0;
    while (true) {
        const size_t dot = s.find('.', start);
        const std::string_view part =
            s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (part.empty()) return false;
        bool numeric = true;
        for (char c : part) {
            if (!IsIdentChar(c)) return false;
            if (!IsDigit(c)) numeric = false;
        }
        if (prerelease && numeric && part.size() > 1 && part[0] == '0') return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

Result<SemVer> ParseSemVer(const Json& v) {
    if (!v.is_string()) return InvalidArgument("not expecting type '" + TypeOf(v) + "'");
    const std::string& s = v.get_ref<const std::string&>();
    SemVer out;
    size_t i = 0;
    const auto bad = [&] { return InvalidArgument(s + " is not valid SemVer string"); };
    if (!ParseNumber(s, i, &out.major) || i >= s.size() || s[i++] != '.') return bad();
    if (!ParseNumber(s, i, &out.minor) || i >= s.size() || s[i++] != '.') return bad();
    if (!ParseNumber(s, i, &out.patch)) return bad();
    const size_t plus = s.find('+', i);
    if (i < s.size() && s[i] == '-') {
        out.prerelease = s.substr(i + 1, plus == std::string::npos ? std::string::npos : plus - i - 1);
        if (!ValidIdentifiers(out.prerelease, true)) return bad();
        i = plus == std::string::npos ? s.size() : plus;
    }
    if (i < s.size()) {
        if (s[i] != '+') return bad();
        out.build = s.substr(i + 1);
        if (!ValidIdentifiers(out.build, false)) return bad();
    }
    return out;
}

int Cmp(int64_t a, int64_t b) {
    return a < b ? -1 : (a > b ? 1 : 0);
}

/// semver's natural comparison of two prereleases: numeric identifiers numerically and below alphanumeric ones;
/// when every common identifier is equal, the longer text is the greater.
int ComparePrerelease(const std::string& a, const std::string& b) {
    auto split = [](const std::string& s) {
        std::vector<std::string> parts;
        size_t start = 0;
        while (true) {
            const size_t dot = s.find('.', start);
            parts.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
            if (dot == std::string::npos) return parts;
            start = dot + 1;
        }
    };
    auto numeric = [](const std::string& p) {
        if (p.empty()) return false;
        for (char c : p) {
            if (!IsDigit(c)) return false;
        }
        return true;
    };
    const std::vector<std::string> pa = split(a), pb = split(b);
    for (size_t k = 0; k < pa.size() && k < pb.size(); ++k) {
        const bool na = numeric(pa[k]), nb = numeric(pb[k]);
        int c = 0;
        if (na && nb) {
            // Compare as numbers of any length: fewer digits (after leading zeros) is smaller.
            const std::string x = pa[k].substr(std::min(pa[k].find_first_not_of('0'), pa[k].size()));
            const std::string y = pb[k].substr(std::min(pb[k].find_first_not_of('0'), pb[k].size()));
            c = x.size() != y.size() ? (x.size() < y.size() ? -1 : 1) : (x < y ? -1 : (x > y ? 1 : 0));
        } else if (na) {
            c = -1;
        } else if (nb) {
            c = 1;
        } else {
            c = pa[k] < pb[k] ? -1 : (pa[k] > pb[k] ? 1 : 0);
        }
        if (c != 0) return c;
    }
    return Cmp(static_cast<int64_t>(a.size()), static_cast<int64_t>(b.size()));
}

int Compare(const SemVer& a, const SemVer& b) {
    if (int c = Cmp(a.major, b.major)) return c;
    if (int c = Cmp(a.minor, b.minor)) return c;
    if (int c = Cmp(a.patch, b.patch)) return c;
    const int rc = ComparePrerelease(a.prerelease, b.prerelease);
    if (rc == 0) return 0;
    if (a.prerelease.empty()) return 1;  // a release is above its prereleases
    if (b.prerelease.empty()) return -1;
    return rc;
}

// ---------------------------------------------------------------------------------------------------------------
// JSONPath (the part of jsonpath_rw's grammar that templates use).

struct PathStep {
    enum Kind { kField, kIndex, kSlice } kind = kField;
    bool descend = false;  // `..`
    std::string name;      // kField; "*" for every field
    int64_t index = 0;     // kIndex
    std::optional<int64_t> from, to;
};

Result<std::vector<PathStep>> ParseJsonPath(const std::string& q) {
    std::vector<PathStep> steps;
    size_t i = 0;
    auto bad = [&](const std::string& what) {
        return InvalidArgument("JSONPath \"" + q + "\": " + what + " at character " + std::to_string(i + 1));
    };
    auto skip_ws = [&] {
        while (i < q.size() && (q[i] == ' ' || q[i] == '\t')) ++i;
    };
    auto name_char = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '@' ||
               static_cast<unsigned char>(c) >= 0x80;
    };
    auto read_name = [&](PathStep& st) -> bool {
        if (i < q.size() && q[i] == '*') {
            st.name = "*";
            ++i;
            return true;
        }
        if (i < q.size() && (q[i] == '\'' || q[i] == '"')) {
            const char quote = q[i++];
            const size_t end = q.find(quote, i);
            if (end == std::string::npos) return false;
            st.name = q.substr(i, end - i);
            i = end + 1;
            return true;
        }
        const size_t start = i;
        while (i < q.size() && name_char(q[i])) ++i;
        st.name = q.substr(start, i - start);
        return !st.name.empty();
    };
    auto read_int = [&](int64_t* out) -> bool {
        const size_t start = i;
        if (i < q.size() && q[i] == '-') ++i;
        const size_t digits = i;
        while (i < q.size() && IsDigit(q[i])) ++i;
        if (i == digits || i - digits > 18) return false;
        *out = std::stoll(q.substr(start, i - start));
        return true;
    };
    skip_ws();
    if (i < q.size() && q[i] == '$') {
        ++i;
    } else {
        PathStep st;
        if (!read_name(st)) return bad("expected a field name or $");
        steps.push_back(std::move(st));
    }
    while (true) {
        skip_ws();
        if (i >= q.size()) return steps;
        PathStep st;
        if (q[i] == '.') {
            ++i;
            if (i < q.size() && q[i] == '.') {
                st.descend = true;
                ++i;
            }
            if (!read_name(st)) return bad("expected a field name");
            steps.push_back(std::move(st));
            continue;
        }
        if (q[i] != '[') return bad("unexpected '" + std::string(1, q[i]) + "'");
        ++i;
        skip_ws();
        if (i < q.size() && (q[i] == '\'' || q[i] == '"')) {
            if (!read_name(st)) return bad("unterminated field name");
        } else if (i < q.size() && q[i] == '*') {
            st.kind = PathStep::kSlice;
            ++i;
        } else {
            int64_t n = 0;
            const bool has_from = i < q.size() && q[i] != ':' && read_int(&n);
            skip_ws();
            if (i < q.size() && q[i] == ':') {
                st.kind = PathStep::kSlice;
                if (has_from) st.from = n;
                ++i;
                skip_ws();
                int64_t m = 0;
                if (i < q.size() && q[i] != ']') {
                    if (!read_int(&m)) return bad("expected a slice end");
                    st.to = m;
                }
            } else if (has_from) {
                st.kind = PathStep::kIndex;
                st.index = n;
            } else {
                return bad("expected an index, a slice, * or a quoted field name");
            }
        }
        skip_ws();
        if (i >= q.size() || q[i] != ']') return bad("expected ]");
        ++i;
        steps.push_back(std::move(st));
    }
}

constexpr size_t kMaxMatches = 100000;

bool ApplyStep(const PathStep& st, const Json* v, std::vector<const Json*>& out) {
    switch (st.kind) {
        case PathStep::kField:
            if (!v->is_object()) return true;
            if (st.name == "*") {
                for (const auto& [k, x] : v->items()) out.push_back(&x);
            } else if (auto it = v->find(st.name); it != v->end()) {
                out.push_back(&*it);
            }
            break;
        case PathStep::kIndex: {
            if (!v->is_array()) return true;
            const auto n = static_cast<int64_t>(v->size());
            const int64_t k = st.index < 0 ? st.index + n : st.index;
            if (k >= 0 && k < n) out.push_back(&(*v)[static_cast<size_t>(k)]);
            break;
        }
        case PathStep::kSlice: {
            if (!v->is_array()) {  // jsonpath_rw slices a single value as a list of one
                if (!st.from && !st.to) out.push_back(v);
                return true;
            }
            const auto n = static_cast<int64_t>(v->size());
            auto clamp = [n](int64_t x) { return std::clamp<int64_t>(x < 0 ? x + n : x, 0, n); };
            const int64_t a = st.from ? clamp(*st.from) : 0, b = st.to ? clamp(*st.to) : n;
            for (int64_t k = a; k < b; ++k) out.push_back(&(*v)[static_cast<size_t>(k)]);
            break;
        }
    }
    return out.size() <= kMaxMatches;
}

/// `..step`: the step's matches at `v`, then at every value below it, depth first in document order.
bool Descend(const PathStep& st, const Json* v, std::vector<const Json*>& out) {
    if (!ApplyStep(st, v, out)) return false;
    if (v->is_object() || v->is_array()) {
        for (const auto& x : *v) {
            if (!Descend(st, &x, out)) return false;
        }
    }
    return true;
}

}  // namespace

Result<Json> HumanTimeFromSeconds(const Json& seconds) {
    if (!seconds.is_number() && !seconds.is_boolean())
        return InvalidArgument(
            "to_human_time_from_seconds needs a number of seconds, not " + TypeOf(seconds) + " (AssertionError)"
        );
    int64_t n = 0;
    if (seconds.is_boolean()) {
        n = seconds.get<bool>() ? 1 : 0;
    } else if (seconds.is_number_float()) {
        const double d = seconds.get<double>();
        if (d == 0.0) return Json("0s");
        if (d < 1) return Json(PyFloatRepr(d) + "\u03bcs");  // microseconds, as st2 prints them
        const double r = std::nearbyint(d);                  // Python's round(): half to even
        if (!std::isfinite(r) || r > 3.2e11) return InvalidArgument("date value out of range (OverflowError)");
        n = static_cast<int64_t>(r);
    } else {
        if (seconds.is_number_unsigned() && seconds.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
            return InvalidArgument("date value out of range (OverflowError)");
        n = seconds.get<int64_t>();
        if (n == 0) return Json("0s");
        if (n < 1) return Json(std::to_string(n) + "\u03bcs");
    }
    // datetime(1, 1, 1) + timedelta(seconds=n); its year ends at 9999.
    const int64_t days = n / 86400, rest = n % 86400;
    if (days > 3652058) return InvalidArgument("date value out of range (OverflowError)");
    int64_t year = 0;
    unsigned month = 0, day = 0;
    CivilFromDays(days - 719162, &year, &month, &day);  // day 0 is 0001-01-01
    const int64_t parts[5] = {year - 1, static_cast<int64_t>(day) - 1, rest / 3600, rest % 3600 / 60, rest % 60};
    int first = 0;
    while (first < 5 && parts[first] == 0) ++first;
    if (first == 5) return Json("0s");
    static const char* const kUnits[5] = {"y", "d", "h", "m", "s"};
    // st2 names the parts by how many there are, from the seconds up.
    std::string out;
    const int count = 5 - first;
    for (int k = 0; k < count; ++k) out += std::to_string(parts[first + k]) + kUnits[5 - count + k];
    return Json(std::move(out));
}

bool IsVersionFunction(const std::string& name, int* arity) {
    static const std::vector<std::pair<std::string, int>> kNames = {
        {"version_compare", 2},
        {"version_more_than", 2},
        {"version_less_than", 2},
        {"version_equal", 2},
        {"version_match", 2},
        {"version_bump_major", 1},
        {"version_bump_minor", 1},
        {"version_bump_patch", 1},
        {"version_strip_patch", 1},
    };
    for (const auto& [n, a] : kNames) {
        if (n == name) {
            if (arity) *arity = a;
            return true;
        }
    }
    return false;
}

Result<Json> VersionFunction(const std::string& name, const Json& value, const Json& pattern) {
    Result<SemVer> v = ParseSemVer(value);
    if (!v) return v.error();
    if (name == "version_bump_major") return Json(SemVer{v->major + 1, 0, 0, "", ""}.Str());
    if (name == "version_bump_minor") return Json(SemVer{v->major, v->minor + 1, 0, "", ""}.Str());
    if (name == "version_bump_patch") return Json(SemVer{v->major, v->minor, v->patch + 1, "", ""}.Str());
    if (name == "version_strip_patch") return Json(std::to_string(v->major) + "." + std::to_string(v->minor));
    if (name == "version_match") {
        if (!pattern.is_string())
            return InvalidArgument("the match expression must be a string, not " + TypeOf(pattern));
        const std::string& expr = pattern.get_ref<const std::string&>();
        std::string op, version;
        const std::string two = expr.substr(0, 2);
        if (two == ">=" || two == "<=" || two == "==" || two == "!=") {
            op = two;
            version = expr.substr(2);
        } else if (!expr.empty() && (expr[0] == '>' || expr[0] == '<')) {
            op = expr.substr(0, 1);
            version = expr.substr(1);
        } else if (!expr.empty() && IsDigit(expr[0])) {
            op = "==";
            version = expr;
        } else {
            return InvalidArgument(
                "match_expr parameter should be in format <op><ver>, where <op> is one of ['<', '>', '==', '<=', "
                "'>=', '!=']. You provided: " +
                PyRepr(pattern)
            );
        }
        Result<SemVer> other = ParseSemVer(Json(version));
        if (!other) return other.error();
        const int c = Compare(*v, *other);
        if (op == ">") return Json(c == 1);
        if (op == "<") return Json(c == -1);
        if (op == "==") return Json(c == 0);
        if (op == "!=") return Json(c != 0);
        if (op == ">=") return Json(c >= 0);
        return Json(c <= 0);
    }
    Result<SemVer> other = ParseSemVer(pattern);
    if (!other) return other.error();
    const int c = Compare(*v, *other);
    if (name == "version_compare") return Json(c);
    if (name == "version_more_than") return Json(c == 1);
    if (name == "version_less_than") return Json(c == -1);
    if (name == "version_equal") return Json(c == 0);
    return InvalidArgument("unknown version function " + name);
}

Result<Json> JsonPathQuery(const Json& value, const std::string& query) {
    Result<std::vector<PathStep>> steps = ParseJsonPath(query);
    if (!steps) return steps.error();
    std::vector<const Json*> cur = {&value};
    for (const PathStep& st : *steps) {
        std::vector<const Json*> next;
        for (const Json* v : cur) {
            if (!(st.descend ? Descend(st, v, next) : ApplyStep(st, v, next)))
                return InvalidArgument("JSONPath \"" + query + "\" finds more than 100000 values");
        }
        cur = std::move(next);
    }
    if (cur.empty()) return Json(nullptr);
    Json out = Json::array();
    for (const Json* v : cur) out.push_back(*v);
    return out;
}

}  // namespace squall::core::templates
