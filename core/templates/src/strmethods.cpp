// More of Python's str methods for templates (`'x'.zfill(3)`, `s.rsplit('.', 1)`, `s.partition(':')`), beyond the
// common ones EvalCall handles itself. Widths and positions count code points, as Python's do.
#include <optional>
#include <string>
#include <vector>

#include "evaluator.hpp"

namespace squall::core::templates {

namespace {

/// Python's str.title(): a cased letter after an uncased character starts a word and is upper-cased, the other
/// letters are lower-cased ("they're" → "They'Re", unlike Jinja's title filter).
std::string StrTitle(const std::string& s) {
    std::string out;
    bool prev_cased = false;
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = DecodeUtf8(s, i);
        const bool cased = UpperCp(cp) != cp || LowerCp(cp) != cp;
        AppendUtf8(out, cased ? (prev_cased ? LowerCp(cp) : UpperCp(cp)) : cp);
        prev_cased = cased;
    }
    return out;
}

std::string StrSwapCase(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = DecodeUtf8(s, i);
        const uint32_t up = UpperCp(cp);
        AppendUtf8(out, up != cp ? up : LowerCp(cp));
    }
    return out;
}

/// islower/isupper: at least one cased character, and none of the other case.
bool StrIsCase(const std::string& s, bool upper) {
    bool any = false;
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = DecodeUtf8(s, i);
        const bool is_upper = LowerCp(cp) != cp;
        const bool is_lower = UpperCp(cp) != cp;
        if (upper ? is_lower : is_upper) return false;
        any = any || is_upper || is_lower;
    }
    return any;
}

/// rsplit: as split, from the right.
std::vector<std::string> StrRSplit(const std::string& s, const std::string* sep, int64_t maxsplit) {
    std::vector<std::string> out;
    if (sep) {
        size_t end = s.size();
        while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
            if (end < sep->size()) break;
            const size_t p = s.rfind(*sep, end - sep->size());
            if (p == std::string::npos) break;
            out.insert(out.begin(), s.substr(p + sep->size(), end - p - sep->size()));
            end = p;
        }
        out.insert(out.begin(), s.substr(0, end));
        return out;
    }
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
    size_t end = s.size();
    while (true) {
        while (end > 0 && space(s[end - 1])) --end;
        if (end == 0) break;
        size_t start = end;
        if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
            out.insert(out.begin(), s.substr(0, end));
            break;
        }
        while (start > 0 && !space(s[start - 1])) --start;
        out.insert(out.begin(), s.substr(start, end - start));
        end = start;
    }
    return out;
}

}  // namespace

std::optional<Value> Evaluator::StrMethod(const Expr& e, const std::string& s, const std::string& m, Args& args) {
    auto arg_str = [&](size_t i, const char* name) -> std::optional<std::string> {
        const Value* a = args.Get(i, name);
        if (!a || !a->IsJson() || !a->J().is_string()) return std::nullopt;
        return a->J().get<std::string>();
    };
    auto arg_int = [&](size_t i, const char* name, int64_t dflt) -> std::optional<int64_t> {
        const Value* a = args.Get(i, name);
        if (!a) return dflt;
        if (!a->IsJson() || !PyIsInt(a->J())) return std::nullopt;
        return PyAsInt(a->J());
    };
    if (m == "title") return Value::Own(Json(StrTitle(s)));
    if (m == "swapcase") return Value::Own(Json(StrSwapCase(s)));
    if (m == "casefold") {
        // lower() plus the folds that differ from it in use: ß → ss, final ς → σ (not Unicode's whole fold table).
        std::string out = PyReplace(PyReplace(PyLower(s), "\u00df", "ss", -1), "\u03c2", "\u03c3", -1);
        return Value::Own(Json(std::move(out)));
    }
    if (m == "islower" || m == "isupper") return Value::Own(StrIsCase(s, m == "isupper"));
    if (m == "isnumeric" || m == "isdecimal") {
        bool r = !s.empty();
        for (char c : s) r = r && c >= '0' && c <= '9';
        return Value::Own(r);
    }
    if (m == "index" || m == "rfind" || m == "rindex") {
        auto sub = arg_str(0, "sub");
        if (!sub) return Fail(e.pos, m + "() needs a string argument");
        const size_t f = m == "index" ? s.find(*sub) : s.rfind(*sub);
        if (f == std::string::npos) {
            if (m == "rfind") return Value::Own(int64_t{-1});
            return Fail(e.pos, "substring not found");
        }
        return Value::Own(static_cast<int64_t>(CodePointCount(s.substr(0, f))));
    }
    if (m == "zfill" || m == "ljust" || m == "rjust" || m == "center") {
        const auto width = arg_int(0, "width", 0);
        if (!width || !args.Get(0, "width")) return Fail(e.pos, m + "() needs an integer width");
        std::string fill = " ";
        if (m != "zfill") {
            if (auto f = arg_str(1, "fillchar")) {
                if (CodePointCount(*f) != 1)
                    return Fail(e.pos, "The fill character must be exactly one character long");
                fill = *f;
            }
        }
        const auto len = static_cast<int64_t>(CodePointCount(s));
        // The bound on what one template may build, as for `'x' * n`.
        if (*width > int64_t{16} * 1024 * 1024) return Fail(e.pos, m + "(): width too large (more than 16 MiB)");
        if (*width <= len) return Value::Own(Json(s));
        const int64_t marg = *width - len;
        auto repeat = [&](int64_t n) {
            std::string r;
            for (int64_t i = 0; i < n; ++i) r += fill;
            return r;
        };
        if (m == "ljust") return Value::Own(Json(s + repeat(marg)));
        if (m == "rjust") return Value::Own(Json(repeat(marg) + s));
        if (m == "center") {
            const int64_t left = marg / 2 + (marg & *width & 1);
            return Value::Own(Json(repeat(left) + s + repeat(marg - left)));
        }
        // zfill: zeros after a leading sign.
        const bool sign = !s.empty() && (s[0] == '+' || s[0] == '-');
        return Value::Own(
            Json((sign ? s.substr(0, 1) : "") + std::string(static_cast<size_t>(marg), '0') + (sign ? s.substr(1) : s))
        );
    }
    if (m == "splitlines") {
        Json out = Json::array();
        for (std::string& line : PySplitLines(s)) out.push_back(std::move(line));
        return Value::Own(std::move(out));
    }
    if (m == "rsplit") {
        auto sep = arg_str(0, "sep");
        if (sep && sep->empty()) return Fail(e.pos, "empty separator");
        const auto maxsplit = arg_int(1, "maxsplit", -1);
        if (!maxsplit) return Fail(e.pos, "rsplit(): maxsplit must be an integer");
        return Value::Own(Json(StrRSplit(s, sep ? &*sep : nullptr, *maxsplit)));
    }
    if (m == "partition" || m == "rpartition") {
        auto sep = arg_str(0, "sep");
        if (!sep) return Fail(e.pos, m + "() needs a string argument");
        if (sep->empty()) return Fail(e.pos, "empty separator");
        const size_t p = m == "partition" ? s.find(*sep) : s.rfind(*sep);
        Json items = Json::array();
        if (p == std::string::npos) {
            items = m == "partition" ? Json::array({s, "", ""}) : Json::array({"", "", s});
        } else {
            items = Json::array({s.substr(0, p), *sep, s.substr(p + sep->size())});
        }
        return Value::Own(MakeTuple(std::move(items)));
    }
    if (m == "removeprefix" || m == "removesuffix") {
        auto a = arg_str(0, m == "removeprefix" ? "prefix" : "suffix");
        if (!a) return Fail(e.pos, m + "() needs a string argument");
        if (m == "removeprefix" && s.rfind(*a, 0) == 0) return Value::Own(Json(s.substr(a->size())));
        if (m == "removesuffix" && !a->empty() && s.size() >= a->size() &&
            s.compare(s.size() - a->size(), a->size(), *a) == 0)
            return Value::Own(Json(s.substr(0, s.size() - a->size())));
        return Value::Own(Json(s));
    }
    return std::nullopt;
}

}  // namespace squall::core::templates
