// The built-in filters, each registered by name in the one builtin table (builtins.hpp).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bigint.hpp"
#include "evaluator.hpp"
#include "squall/core/input.hpp"
#include "squall/core/yaml_json.hpp"
#include "st2fns.hpp"

namespace squall::core::templates {

Value Evaluator::EvalFilter(const Expr& e) {
    Value v = Eval(*e.args[0]);
    if (error) return {};
    Args args;
    if (!EvalArgs(e, &args)) return {};
    return ApplyFilter(e, e.name, std::move(v), args);
}

Value Evaluator::ApplyFilter(const Expr& e, const std::string& n, Value v, const Args& args) {
    const FilterFn* f = Builtins().Filter(n);
    if (!f) return Fail(e.pos, "unknown filter \"" + n + "\"");
    return (this->*(*f))(e, n, std::move(v), args);
}

Value Evaluator::FilterDefault(const Expr& e, const std::string& n, Value v, const Args& args) {
    const bool def = v.IsJson() || v.IsDefinedHandle();
    auto arg_bool = [&](size_t i, const char* name) {
        const Value* a = args.Get(i, name);
        return a && Truthy(*a);
    };
    const bool use_default = !def || (arg_bool(1, "boolean") && !Truthy(v));
    if (!use_default) return v;
    const Value* a = args.Get(0, "default_value");
    return a ? *a : Value::Own(Json(""));
}

Value Evaluator::FilterUpper(const Expr& e, const std::string& n, Value v, const Args& args) {
    return Value::Own(Json(PyUpper(Str(v))));
}

Value Evaluator::FilterLower(const Expr& e, const std::string& n, Value v, const Args& args) {
    return Value::Own(Json(PyLower(Str(v))));
}

Value Evaluator::FilterCapitalize(const Expr& e, const std::string& n, Value v, const Args& args) {
    return Value::Own(Json(PyCapitalize(Str(v))));
}

Value Evaluator::FilterTitle(const Expr& e, const std::string& n, Value v, const Args& args) {
    return Value::Own(Json(PyTitle(Str(v))));
}

Value Evaluator::FilterTrim(const Expr& e, const std::string& n, Value v, const Args& args) {
    const Value* c = args.Get(0, "chars");
    const std::string chars = c && c->IsJson() && !c->J().is_null() ? Str(*c) : "";
    return Value::Own(Json(PyStrip(Str(v), c && c->IsJson() && !c->J().is_null() ? &chars : nullptr, true, true)));
}

Value Evaluator::FilterReplace(const Expr& e, const std::string& n, Value v, const Args& args) {
    auto arg_str = [&](size_t i, const char* name, const std::string& dflt) {
        const Value* a = args.Get(i, name);
        return a ? Str(*a) : dflt;
    };
    const Value* c = args.Get(2, "count");
    const int64_t count = c && c->IsJson() && PyIsInt(c->J()) ? PyAsInt(c->J()) : -1;
    return Value::Own(Json(PyReplace(Str(v), arg_str(0, "old", ""), arg_str(1, "new", ""), count)));
}

Value Evaluator::FilterString(const Expr& e, const std::string& n, Value v, const Args& args) {
    return Value::Own(Json(Str(v)));
}

Value Evaluator::FilterLength(const Expr& e, const std::string& n, Value v, const Args& args) {
    if (!v.IsJson()) return Value::Own(0);
    const Json& j = v.J();
    if (j.is_string()) return Value::Own(static_cast<int64_t>(CodePointCount(j.get_ref<const std::string&>())));
    if (IsTuple(j)) return Value::Own(static_cast<int64_t>(TupleItems(j).size()));
    if (j.is_array() || (j.is_object() && !IsBigInt(j))) return Value::Own(static_cast<int64_t>(j.size()));
    return Fail(e.pos, std::string("object of type '") + TypeName(j) + "' has no len()");
}

Value Evaluator::FilterBool(const Expr& e, const std::string& n, Value v, const Args& args) {
    return Value::Own(Truthy(v));
}

Value Evaluator::FilterInt(const Expr& e, const std::string& n, Value v, const Args& args) {
    auto need_json = [&]() {
        if (!v.IsJson()) {
            Undef(*e.args[0], v);
            return false;
        }
        return true;
    };
    const Value* d = args.Get(0, "default");
    const Value* b = args.Get(1, "base");
    const int base = b && b->IsJson() && PyIsInt(b->J()) ? static_cast<int>(PyAsInt(b->J())) : 10;
    Value dflt = d ? *d : Value::Own(0);
    if (!need_json()) return {};
    const Json& j = v.J();
    if (PyIsInt(j)) return j.is_boolean() ? Value::Own(PyAsInt(j)) : std::move(v);
    if (IsBigInt(j)) return v;
    if (j.is_number_float()) {
        const double x = j.get<double>();
        if (std::isnan(x) || std::isinf(x)) return dflt;
        return Value::Own(*FromBigInt(BigFromDouble(x)));  // a double has at most 309 digits
    }
    if (j.is_string()) {
        int64_t out = 0;
        std::string text = PyStrip(j.get_ref<const std::string&>(), nullptr, true, true);
        int b2 = base;
        const size_t sign = !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
        if (text.size() > sign + 2 && text[sign] == '0') {
            const char k = static_cast<char>(std::tolower(static_cast<unsigned char>(text[sign + 1])));
            const int pb = k == 'x' ? 16 : k == 'o' ? 8 : k == 'b' ? 2 : 0;
            if (pb && (base == pb || base == 0)) {
                text.erase(sign, 2);
                b2 = pb;
            }
        }
        if (b2 == 0) b2 = 10;
        if (ParsePyInt(text, b2, &out)) return Value::Own(out);
        if (BigInt big; ParseBigInt(text, b2, &big)) return Value::Own(*FromBigInt(big));
        double f = 0;
        if (ParsePyFloat(j.get_ref<const std::string&>(), &f) && !std::isnan(f) && !std::isinf(f))
            return Value::Own(*FromBigInt(BigFromDouble(f)));
    }
    return dflt;
}

Value Evaluator::FilterFloat(const Expr& e, const std::string& n, Value v, const Args& args) {
    auto need_json = [&]() {
        if (!v.IsJson()) {
            Undef(*e.args[0], v);
            return false;
        }
        return true;
    };
    const Value* d = args.Get(0, "default");
    Value dflt = d ? *d : Value::Own(0.0);
    if (!need_json()) return {};
    const Json& j = v.J();
    if (IsAnyNumber(j)) {
        double x = 0;
        if (!AnyToDouble(j, &x)) return Fail(e.pos, "int too large to convert to float");
        return Value::Own(x);
    }
    double f = 0;
    if (j.is_string() && ParsePyFloat(j.get_ref<const std::string&>(), &f)) return Value::Own(f);
    return dflt;
}

Value Evaluator::FilterAbs(const Expr& e, const std::string& n, Value v, const Args& args) {
    auto need_json = [&]() {
        if (!v.IsJson()) {
            Undef(*e.args[0], v);
            return false;
        }
        return true;
    };
    if (!need_json()) return {};
    const Json& j = v.J();
    if (!IsAnyNumber(j)) return Fail(e.pos, std::string("bad operand type for abs(): '") + TypeName(j) + "'");
    if (j.is_number_float()) return Value::Own(std::fabs(j.get<double>()));
    if (j.is_number_integer() && !j.is_number_unsigned() && PyAsInt(j) != std::numeric_limits<int64_t>::min())
        return Value::Own(std::abs(PyAsInt(j)));
    return Value::Own(*FromBigInt(boost::multiprecision::abs(ToBigInt(j))));
}

Value Evaluator::FilterRound(const Expr& e, const std::string& n, Value v, const Args& args) {
    auto arg_str = [&](size_t i, const char* name, const std::string& dflt) {
        const Value* a = args.Get(i, name);
        return a ? Str(*a) : dflt;
    };
    auto need_json = [&]() {
        if (!v.IsJson()) {
            Undef(*e.args[0], v);
            return false;
        }
        return true;
    };
    if (!need_json()) return {};
    const Json& j = v.J();
    if (!IsAnyNumber(j)) return Fail(e.pos, "round needs a number");
    const Value* p = args.Get(0, "precision");
    const std::string method = arg_str(1, "method", "common");
    const int64_t prec = p && p->IsJson() && PyIsInt(p->J()) ? PyAsInt(p->J()) : 0;
    if (method == "common" && IsAnyInt(j)) {
        // round(int, ndigits) is an int: unchanged for ndigits >= 0, else to a multiple of 10**-ndigits, a half
        // to the even multiple.
        if (prec >= 0) return j.is_boolean() ? Value::Own(PyAsInt(j)) : std::move(v);
        if (prec < -static_cast<int64_t>(kMaxIntDigits)) return Value::Own(0);
        const BigInt unit = boost::multiprecision::pow(BigInt(10), static_cast<unsigned>(-prec));
        const BigInt x = ToBigInt(j);
        BigInt q = x / unit;
        BigInt r = x - q * unit;
        if (r < 0) {
            r += unit;
            --q;
        }
        if (r * 2 > unit || (r * 2 == unit && q % 2 != 0)) ++q;
        std::optional<Json> out = FromBigInt(q * unit);
        if (!out) return Fail(e.pos, "integer too large: more than " + std::to_string(kMaxIntDigits) + " digits");
        return Value::Own(std::move(*out));
    }
    double xd = 0;
    if (!AnyToDouble(j, &xd)) return Fail(e.pos, "int too large to convert to float");
    if (method == "common" && prec >= 0 && std::isfinite(xd)) {
        // Python's round(float, ndigits) rounds the float's exact binary value, half to even (2.675 is
        // 2.67499999... so round(2.675, 2) is 2.67): printf's correctly rounded %.*f gives the same digits.
        // From 2**52 on a float is a whole number, and no double has a digit past the 330th decimal.
        if (prec > 330 || std::fabs(xd) >= 4503599627370496.0) return Value::Own(xd);
        std::array<char, 512> buf{};
        std::snprintf(buf.data(), buf.size(), "%.*f", static_cast<int>(prec), xd);
        return Value::Own(std::strtod(buf.data(), nullptr));
    }
    const double scale = std::pow(10.0, static_cast<double>(prec));
    double x = xd * scale;
    x = method == "floor" ? std::floor(x) : method == "ceil" ? std::ceil(x) : std::nearbyint(x);
    return Value::Own(x / scale);
}

Value Evaluator::FilterSelectOrMap(const Expr& e, const std::string& n, Value v, const Args& args) {
    return SelectOrMap(e, n, v, args);
}

Value Evaluator::FilterFormat(const Expr& e, const std::string& n, Value v, const Args& args) {
    // soft_str(value) % (kwargs or args)
    if (!args.pos.empty() && !args.kw.empty())
        return Fail(e.pos, "format: can't handle positional and keyword arguments at the same time");
    std::vector<const Json*> fargs;
    const Json* mapping = nullptr;
    Json kw = Json::object();
    if (!args.kw.empty()) {
        for (const auto& [k, a] : args.kw) kw[k] = a.IsJson() ? a.J() : Json(nullptr);
        fargs.push_back(&kw);
        mapping = &kw;
    } else {
        for (const Value& a : args.pos) fargs.push_back(a.IsJson() ? &a.J() : nullptr);
    }
    std::string out;
    std::string err;
    if (!PyPercentFormat(Str(v), fargs, mapping, &out, &err)) return Fail(e.pos, err);
    return Value::Own(Json(std::move(out)));
}

Value Evaluator::FilterEscape(const Expr& e, const std::string& n, Value v, const Args& args) {
    return Value::Own(Json(HtmlEscape(Str(v))));
}

Value Evaluator::FilterSafe(const Expr& e, const std::string& n, Value v, const Args& args) {
    return Value::Own(Json(Str(v)));
}

Value Evaluator::FilterTextLayout(const Expr& e, const std::string& n, Value v, const Args& args) {
    auto arg_str = [&](size_t i, const char* name, const std::string& dflt) {
        const Value* a = args.Get(i, name);
        return a ? Str(*a) : dflt;
    };
    auto arg_bool = [&](size_t i, const char* name) {
        const Value* a = args.Get(i, name);
        return a && Truthy(*a);
    };
    auto need_json = [&]() {
        if (!v.IsJson()) {
            Undef(*e.args[0], v);
            return false;
        }
        return true;
    };
    if (n == "truncate" && !v.IsJson()) return v;  // len(Undefined) is 0: returned as it is
    if (n != "center" && !need_json()) return {};
    if ((n == "indent" || n == "truncate") && !v.J().is_string()) {
        return Fail(e.pos, n + " needs a string, not '" + TypeName(v.J()) + "'");
    }
    const std::string s = Str(v);
    if (n == "wordcount") {
        // len(re.findall(r"\w+", s)): runs of letters, digits and underscores (non-ASCII letters count).
        int64_t words = 0;
        bool in_word = false;
        size_t i = 0;
        while (i < s.size()) {
            const uint32_t cp = DecodeUtf8(s, i);
            const bool w = cp < 0x80 ? (std::isalnum(static_cast<int>(cp)) || cp == '_')
                                     : cp >= 0xC0 && cp != 0xD7 && cp != 0xF7 && !(cp >= 0x2000 && cp <= 0x206F);
            if (w && !in_word) ++words;
            in_word = w;
        }
        return Value::Own(words);
    }
    auto int_arg = [&](size_t i, const char* name, int64_t dflt, bool* ok) {
        const Value* a = args.Get(i, name);
        if (!a) return dflt;
        if (!a->IsJson() || !PyIsInt(a->J())) {
            *ok = false;
            return dflt;
        }
        return PyAsInt(a->J());
    };
    bool ok = true;
    if (n == "center") {
        const int64_t width = int_arg(0, "width", 80, &ok);
        if (!ok) return Fail(e.pos, "center: width must be an integer");
        const auto len = static_cast<int64_t>(CodePointCount(s));
        if (width <= len) return Value::Own(Json(s));
        const int64_t marg = width - len;
        const int64_t left = marg / 2 + (marg & width & 1);
        return Value::Own(
            Json(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(marg - left), ' '))
        );
    }
    if (n == "indent") {
        const Value* w = args.Get(0, "width");
        std::string ind;
        if (w && w->IsJson() && w->J().is_string()) {
            ind = w->J().get<std::string>();
        } else {
            const int64_t width = int_arg(0, "width", 4, &ok);
            if (!ok) return Fail(e.pos, "indent: width must be an integer or a string");
            ind.assign(static_cast<size_t>(std::max<int64_t>(width, 0)), ' ');
        }
        std::vector<std::string> lines = PySplitLines(s + "\n");
        std::string rv;
        if (arg_bool(2, "blank")) {
            for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
        } else {
            rv = lines[0];
            for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : ind + lines[i]);
        }
        if (arg_bool(1, "first")) rv = ind + rv;
        return Value::Own(Json(std::move(rv)));
    }
    // truncate(s, length=255, killwords=False, end='...', leeway=5)
    const int64_t length = int_arg(0, "length", 255, &ok);
    const std::string end = arg_str(2, "end", "...");
    const int64_t leeway = int_arg(3, "leeway", 5, &ok);
    if (!ok) return Fail(e.pos, "truncate: length and leeway must be integers");
    const auto end_len = static_cast<int64_t>(CodePointCount(end));
    if (length < end_len) return Fail(e.pos, "expected length >= " + std::to_string(end_len));
    if (leeway < 0) return Fail(e.pos, "expected leeway >= 0");
    std::vector<std::string> cps = CodePoints(s);
    if (static_cast<int64_t>(cps.size()) <= length + leeway) return Value::Own(Json(s));
    std::string head;
    for (int64_t i = 0; i < length - end_len; ++i) head += cps[static_cast<size_t>(i)];
    if (!arg_bool(1, "killwords")) {
        const size_t sp = head.rfind(' ');
        if (sp != std::string::npos) head.resize(sp);
    }
    return Value::Own(Json(head + end));
}

Value Evaluator::FilterUrlencode(const Expr& e, const std::string& n, Value v, const Args& args) {
    if (!v.IsJson()) return Value::Own(Json(""));
    const Json& j = v.J();
    if ((!j.is_object() && !j.is_array()) || IsBigInt(j)) return Value::Own(Json(UrlQuote(Str(v), false)));
    auto qs = [](const Json& x) { return UrlQuote(x.is_string() ? x.get<std::string>() : PythonStr(x), true); };
    std::string out;
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) out += (out.empty() ? "" : "&") + qs(it.key()) + "=" + qs(*it);
        return Value::Own(Json(std::move(out)));
    }
    for (const Json& pair : j) {
        std::vector<Json> kv;
        if (!Iterate(pair, &kv) || kv.size() != 2) return Fail(e.pos, "urlencode: items must be (key, value) pairs");
        out += (out.empty() ? "" : "&") + qs(kv[0]) + "=" + qs(kv[1]);
    }
    return Value::Own(Json(std::move(out)));
}

Value Evaluator::FilterFilesizeformat(const Expr& e, const std::string& n, Value v, const Args& args) {
    auto arg_bool = [&](size_t i, const char* name) {
        const Value* a = args.Get(i, name);
        return a && Truthy(*a);
    };
    auto need_json = [&]() {
        if (!v.IsJson()) {
            Undef(*e.args[0], v);
            return false;
        }
        return true;
    };
    if (!need_json()) return {};
    double bytes = 0;
    const Json& j = v.J();
    if (PyIsNumber(j)) {
        bytes = PyAsDouble(j);
    } else if (!j.is_string() || !ParsePyFloat(j.get<std::string>(), &bytes)) {
        return Fail(e.pos, std::string("float() argument must be a string or a number, not '") + TypeName(j) + "'");
    }
    const bool binary = arg_bool(0, "binary");
    const double base = binary ? 1024 : 1000;
    static const char* const kSi[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    static const char* const kBin[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
    if (bytes == 1) return Value::Own(Json("1 Byte"));
    if (bytes < base) return Value::Own(Json(std::to_string(static_cast<int64_t>(bytes)) + " Bytes"));
    double unit = base;
    const char* prefix = "";
    for (int i = 0; i < 8; ++i) {
        unit = std::pow(base, i + 2);
        prefix = binary ? kBin[i] : kSi[i];
        if (bytes < unit) break;
    }
    char b[64];
    std::snprintf(b, sizeof(b), "%.1f %s", base * bytes / unit, prefix);  // NOLINT(cppcoreguidelines-pro-type-vararg)
    return Value::Own(Json(b));
}

Value Evaluator::FilterToJson(const Expr& e, const std::string& n, Value v, const Args& args) {
    auto need_json = [&]() {
        if (!v.IsJson()) {
            Undef(*e.args[0], v);
            return false;
        }
        return true;
    };
    if (!need_json()) return {};
    JsonDumpOptions o;
    const Value* ind = args.Get(0, "indent");
    if (ind && ind->IsJson() && PyIsInt(ind->J())) o.indent = static_cast<int>(PyAsInt(ind->J()));
    std::string out;
    if (n == "tojson") {
        o.sort_keys = true;  // Jinja's htmlsafe_json_dumps: the json.dumps_kwargs policy is sort_keys=True
    } else if (n == "to_json_string") {
        o.item_sep = ",";
        const Value* sort = args.Get(1, "sort_keys");  // st2: to_json_string(value, indent, sort_keys=False)
        o.sort_keys = sort && Truthy(*sort);
    }
    if (HasSpecial(v.J())) {
        bool had_undefined = false;
        const Json plain = Plain(v.J(), &had_undefined, /*keep_big=*/true);
        if (had_undefined) return Fail(e.pos, "Object of type Undefined is not JSON serializable");
        PyJsonDump(out, plain, o, 0);
    } else {
        PyJsonDump(out, v.J(), o, 0);
    }
    if (n == "tojson") {
        std::string safe;
        for (char c : out) {
            if (c == '<')
                safe += "\\u003c";
            else if (c == '>')
                safe += "\\u003e";
            else if (c == '&')
                safe += "\\u0026";
            else if (c == '\'')
                safe += "\\u0027";
            else
                safe += c;
        }
        out = std::move(safe);
    } else if (n == "json_escape") {
        size_t a = 0;
        size_t b = out.size();
        while (a < b && out[a] == '"') ++a;
        while (b > a && out[b - 1] == '"') --b;
        out = out.substr(a, b - a);
    }
    return Value::Own(Json(std::move(out)));
}

Value Evaluator::FilterFromJsonString(const Expr& e, const std::string& n, Value v, const Args& args) {
    // Bounded like every JSON that enters (core::ParseJsonLimited): a string nested 100,000 deep would otherwise
    // overflow the stack of whatever walks the value next.
    Result<Json> parsed = core::ParseJsonLimited(Str(v), "the string");
    if (!parsed) return Fail(e.pos, "from_json_string: invalid JSON (" + parsed.error().message + ")");
    return Value::Own(std::move(*parsed));
}

Value Evaluator::FilterToYamlString(const Expr& e, const std::string& n, Value v, const Args& args) {
    auto need_json = [&]() {
        if (!v.IsJson()) {
            Undef(*e.args[0], v);
            return false;
        }
        return true;
    };
    if (!need_json()) return {};
    if (HasSpecial(v.J())) {
        bool had_undefined = false;
        const Json plain = Plain(v.J(), &had_undefined, /*keep_big=*/true);
        if (had_undefined) return Fail(e.pos, "cannot represent an object: Undefined");
        return Value::Own(Json(ToYaml(plain)));
    }
    return Value::Own(Json(ToYaml(v.J())));
}

Value Evaluator::FilterRegex(const Expr& e, const std::string& n, Value v, const Args& args) {
    auto arg_str = [&](size_t i, const char* name, const std::string& dflt) {
        const Value* a = args.Get(i, name);
        return a ? Str(*a) : dflt;
    };
    auto arg_bool = [&](size_t i, const char* name) {
        const Value* a = args.Get(i, name);
        return a && Truthy(*a);
    };
    const std::string text = Str(v);
    const std::string pattern = arg_str(0, "pattern", "");
    const bool icase = n == "regex_replace"     ? arg_bool(2, "ignorecase")
                       : n == "regex_substring" ? arg_bool(2, "ignorecase")
                                                : arg_bool(1, "ignorecase");
    std::string err;
    RegexPtr re = GetRegex(pattern, icase, &err);
    if (!re) return Fail(e.pos, err);
    if (n == "regex_match") return Value::Own(re->MatchStart(text));
    if (n == "regex_search") return Value::Own(re->Search(text));
    if (n == "regex_replace") return Value::Own(Json(re->Replace(text, arg_str(1, "replacement", ""))));
    const Value* idx = args.Get(1, "result_index");
    int64_t i = idx && idx->IsJson() && PyIsInt(idx->J()) ? PyAsInt(idx->J()) : 0;
    // re.findall(pattern, value)[result_index]: the match, its one group, or its groups (a tuple in Python).
    std::vector<std::vector<std::string>> all = re->FindAllGroups(text);
    const auto cnt = static_cast<int64_t>(all.size());
    if (i < 0) i += cnt;
    if (i < 0 || i >= cnt) return Fail(e.pos, "list index out of range");
    std::vector<std::string>& found = all[static_cast<size_t>(i)];
    if (found.size() == 1) return Value::Own(Json(std::move(found[0])));
    return Value::Own(MakeTuple(Json(std::move(found))));
}

Value Evaluator::FilterPath(const Expr& e, const std::string& n, Value v, const Args& args) {
    if (!v.IsJson() || !v.J().is_string())
        return Fail(
            e.pos,
            std::string("expected str, bytes or os.PathLike object, not ") +
                (v.IsJson() ? TypeName(v.J()) : "Undefined")
        );
    const std::string& p = v.J().get_ref<const std::string&>();
    return Value::Own(Json(n == "basename" ? Basename(p) : Dirname(p)));
}

Value Evaluator::FilterUseNone(const Expr& e, const std::string& n, Value v, const Args& args) {
    // st2 returns a magic string for None; casting an action parameter turns it back into null.
    return v.IsJson() && v.J().is_null() ? Value::Own(Json(kNoneMagicValue)) : v;
}

Value Evaluator::FilterSt2Function(const Expr& e, const std::string& n, Value v, const Args& args) {
    if (!v.IsJson()) return Undef(e.args.empty() ? e : *e.args[0], v);
    Json subject = HasSpecial(v.J()) ? Plain(v.J()) : v.J();
    Result<Json> r = Json();
    int arity = 0;
    if (n == "to_human_time_from_seconds") {
        r = HumanTimeFromSeconds(subject);
    } else if (IsVersionFunction(n, &arity)) {
        Json pattern;
        if (arity == 2) {
            const Value* a = args.Get(0, "pattern");
            if (!a) return Fail(e.pos, n + "() missing 1 required positional argument: 'pattern'");
            if (!a->IsJson()) return Undef(e, *a);
            pattern = Plain(a->J());
        }
        r = VersionFunction(n, subject, pattern);
    } else if (n == "jsonpath_query") {
        const Value* a = args.Get(0, "query");
        if (!a) return Fail(e.pos, "jsonpath_query() missing 1 required positional argument: 'query'");
        r = JsonPathQuery(subject, Str(*a));
    } else if (n == "to_complex") {  // json.dumps(value)
        std::string out;
        PyJsonDump(out, subject, JsonDumpOptions{}, 0);
        r = Json(std::move(out));
    } else if (n == "from_yaml_string") {
        Result<YamlDocument> doc = ParseYaml(Str(v), "<string>");
        if (!doc) return Fail(e.pos, "from_yaml_string: " + doc.error().message);
        r = std::move(doc->value);
    }
    if (!r) return Fail(e.pos, n + ": " + r.error().message);
    return Value::Own(std::move(*r));
}

Value Evaluator::FilterDecryptKv(const Expr& e, const std::string& n, Value v, const Args& args) {
    if (!opts_.kv) return Fail(e.pos, "decrypt_kv: no datastore is available");
    Result<std::string> r = opts_.kv->Decrypt(Str(v));
    if (!r) return Fail(e.pos, r.error().message);
    return Value::Own(Json(std::move(*r)));
}

void RegisterFilters(BuiltinTable& table) {
    table.filters = {
        {"default", &Evaluator::FilterDefault},
        {"d", &Evaluator::FilterDefault},
        {"upper", &Evaluator::FilterUpper},
        {"lower", &Evaluator::FilterLower},
        {"capitalize", &Evaluator::FilterCapitalize},
        {"title", &Evaluator::FilterTitle},
        {"trim", &Evaluator::FilterTrim},
        {"replace", &Evaluator::FilterReplace},
        {"string", &Evaluator::FilterString},
        {"length", &Evaluator::FilterLength},
        {"count", &Evaluator::FilterLength},
        {"bool", &Evaluator::FilterBool},
        {"int", &Evaluator::FilterInt},
        {"float", &Evaluator::FilterFloat},
        {"abs", &Evaluator::FilterAbs},
        {"round", &Evaluator::FilterRound},
        {"select", &Evaluator::FilterSelectOrMap},
        {"reject", &Evaluator::FilterSelectOrMap},
        {"selectattr", &Evaluator::FilterSelectOrMap},
        {"rejectattr", &Evaluator::FilterSelectOrMap},
        {"map", &Evaluator::FilterSelectOrMap},
        {"format", &Evaluator::FilterFormat},
        {"escape", &Evaluator::FilterEscape},
        {"e", &Evaluator::FilterEscape},
        {"forceescape", &Evaluator::FilterEscape},
        {"safe", &Evaluator::FilterSafe},
        {"indent", &Evaluator::FilterTextLayout},
        {"center", &Evaluator::FilterTextLayout},
        {"truncate", &Evaluator::FilterTextLayout},
        {"wordcount", &Evaluator::FilterTextLayout},
        {"urlencode", &Evaluator::FilterUrlencode},
        {"filesizeformat", &Evaluator::FilterFilesizeformat},
        {"dictsort", &Evaluator::FilterDictsort},
        {"batch", &Evaluator::FilterBatch},
        {"slice", &Evaluator::FilterBatch},
        {"join", &Evaluator::FilterSequence},
        {"list", &Evaluator::FilterSequence},
        {"first", &Evaluator::FilterSequence},
        {"last", &Evaluator::FilterSequence},
        {"reverse", &Evaluator::FilterSequence},
        {"sort", &Evaluator::FilterSequence},
        {"unique", &Evaluator::FilterSequence},
        {"sum", &Evaluator::FilterSequence},
        {"min", &Evaluator::FilterSequence},
        {"max", &Evaluator::FilterSequence},
        {"items", &Evaluator::FilterItems},
        {"groupby", &Evaluator::FilterGroupby},
        {"random", &Evaluator::FilterRandom},
        {"attr", &Evaluator::FilterAttr},
        {"striptags", &Evaluator::FilterStriptags},
        {"wordwrap", &Evaluator::FilterWordwrap},
        {"pprint", &Evaluator::FilterPprint},
        {"tojson", &Evaluator::FilterToJson},
        {"to_json_string", &Evaluator::FilterToJson},
        {"json_escape", &Evaluator::FilterToJson},
        {"from_json_string", &Evaluator::FilterFromJsonString},
        {"to_yaml_string", &Evaluator::FilterToYamlString},
        {"regex_match", &Evaluator::FilterRegex},
        {"regex_search", &Evaluator::FilterRegex},
        {"regex_replace", &Evaluator::FilterRegex},
        {"regex_substring", &Evaluator::FilterRegex},
        {"basename", &Evaluator::FilterPath},
        {"dirname", &Evaluator::FilterPath},
        {"use_none", &Evaluator::FilterUseNone},
        {"decrypt_kv", &Evaluator::FilterDecryptKv},
        {"from_yaml_string", &Evaluator::FilterSt2Function},
        {"to_complex", &Evaluator::FilterSt2Function},
        {"jsonpath_query", &Evaluator::FilterSt2Function},
        {"to_human_time_from_seconds", &Evaluator::FilterSt2Function},
        {"version_compare", &Evaluator::FilterSt2Function},
        {"version_more_than", &Evaluator::FilterSt2Function},
        {"version_less_than", &Evaluator::FilterSt2Function},
        {"version_equal", &Evaluator::FilterSt2Function},
        {"version_match", &Evaluator::FilterSt2Function},
        {"version_bump_major", &Evaluator::FilterSt2Function},
        {"version_bump_minor", &Evaluator::FilterSt2Function},
        {"version_bump_patch", &Evaluator::FilterSt2Function},
        {"version_strip_patch", &Evaluator::FilterSt2Function},
    };
}

}  // namespace squall::core::templates
