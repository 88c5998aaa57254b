// The built-in filters, each registered by name in the one builtin table (builtins.hpp).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "evaluator.hpp"

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
    const bool def = v.IsJson() || v.kind == Value::Kind::kKvRoot || v.kind == Value::Kind::kKvScope;
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
    if (j.is_array() || j.is_object()) return Value::Own(static_cast<int64_t>(j.size()));
    return Fail(e.pos, std::string("object of type '") + PyTypeName(j) + "' has no len()");
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
    if (PyIsInt(j)) return Value::Own(PyAsInt(j));
    if (j.is_number_float()) {
        const double x = j.get<double>();
        if (std::isnan(x) || std::isinf(x)) return dflt;
        return Value::Own(ClampToInt(x));
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
        double f = 0;
        if (ParsePyFloat(j.get_ref<const std::string&>(), &f) && !std::isnan(f) && !std::isinf(f))
            return Value::Own(ClampToInt(f));
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
    if (PyIsNumber(j)) return Value::Own(PyAsDouble(j));
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
    if (!PyIsNumber(j)) return Fail(e.pos, std::string("bad operand type for abs(): '") + PyTypeName(j) + "'");
    if (j.is_number_float()) return Value::Own(std::fabs(j.get<double>()));
    if (PyAsInt(j) == std::numeric_limits<int64_t>::min())
        return Fail(e.pos, "integer overflow: abs(" + j.dump() + ") does not fit in 64 bits");
    return Value::Own(std::abs(PyAsInt(j)));
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
    if (!PyIsNumber(j)) return Fail(e.pos, "round needs a number");
    const Value* p = args.Get(0, "precision");
    const std::string method = arg_str(1, "method", "common");
    const int64_t prec = p && p->IsJson() && PyIsInt(p->J()) ? PyAsInt(p->J()) : 0;
    const double scale = std::pow(10.0, static_cast<double>(prec));
    double x = PyAsDouble(j) * scale;
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
        return Fail(e.pos, n + " needs a string, not '" + PyTypeName(v.J()) + "'");
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
    if (!j.is_object() && !j.is_array()) return Value::Own(Json(UrlQuote(Str(v), false)));
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
        return Fail(e.pos, std::string("float() argument must be a string or a number, not '") + PyTypeName(j) + "'");
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

Value Evaluator::FilterDictsort(const Expr& e, const std::string& n, Value v, const Args& args) {
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
    if (!need_json()) return {};
    if (!v.J().is_object())
        return Fail(e.pos, std::string("'") + PyTypeName(v.J()) + "' object has no attribute 'items'");
    const bool cs = arg_bool(0, "case_sensitive");
    const std::string by = arg_str(1, "by", "key");
    if (by != "key" && by != "value") return Fail(e.pos, "You can only sort by either \"key\" or \"value\"");
    const bool rev = arg_bool(2, "reverse");
    const size_t at = by == "key" ? 0 : 1;
    std::vector<Json> pairs;
    for (auto it = v.J().begin(); it != v.J().end(); ++it) pairs.push_back(Json::array({it.key(), *it}));
    auto key = [&](const Json& p) {
        const Json& x = p[at];
        return !cs && x.is_string() ? Json(PyLower(x.get_ref<const std::string&>())) : x;
    };
    bool ok = true;
    std::stable_sort(pairs.begin(), pairs.end(), [&](const Json& a, const Json& b) {
        return rev ? PyCmp(key(b), key(a), &ok) < 0 : PyCmp(key(a), key(b), &ok) < 0;
    });
    if (!ok) return Fail(e.pos, "'<' not supported between these values");
    return Value::Own(Json(pairs));
}

Value Evaluator::FilterBatch(const Expr& e, const std::string& n, Value v, const Args& args) {
    std::vector<Json> items;
    if (v.IsJson() && !Iterate(v.J(), &items))
        return Fail(e.pos, std::string("'") + PyTypeName(v.J()) + "' object is not iterable");
    const Value* cnt = args.Get(0, n == "batch" ? "linecount" : "slices");
    if (!cnt || !cnt->IsJson() || !PyIsInt(cnt->J())) return Fail(e.pos, n + " needs an integer count");
    const int64_t c = PyAsInt(cnt->J());
    const Value* fill = args.Get(1, "fill_with");
    const bool has_fill = fill && fill->IsJson() && !fill->J().is_null();
    Json out = Json::array();
    if (n == "batch") {
        Json tmp = Json::array();
        for (Json& it : items) {
            if (static_cast<int64_t>(tmp.size()) == c) {
                out.push_back(std::move(tmp));
                tmp = Json::array();
            }
            tmp.push_back(std::move(it));
        }
        if (!tmp.empty()) {
            while (has_fill && static_cast<int64_t>(tmp.size()) < c) tmp.push_back(fill->J());
            out.push_back(std::move(tmp));
        }
        return Value::Own(std::move(out));
    }
    if (c <= 0) return Fail(e.pos, c == 0 ? "integer division or modulo by zero" : "slice count must be positive");
    const auto len = static_cast<int64_t>(items.size());
    const int64_t per = len / c;
    const int64_t extra = len % c;
    int64_t offset = 0;
    for (int64_t k = 0; k < c; ++k) {
        const int64_t start = offset + k * per;
        if (k < extra) ++offset;
        const int64_t stop = offset + (k + 1) * per;
        Json tmp = Json::array();
        for (int64_t i = start; i < stop && i < len; ++i) tmp.push_back(items[static_cast<size_t>(i)]);
        if (has_fill && k >= extra) tmp.push_back(fill->J());
        out.push_back(std::move(tmp));
    }
    return Value::Own(std::move(out));
}

// Filters over sequences.
Value Evaluator::FilterSequence(const Expr& e, const std::string& n, Value v, const Args& args) {
    auto arg_str = [&](size_t i, const char* name, const std::string& dflt) {
        const Value* a = args.Get(i, name);
        return a ? Str(*a) : dflt;
    };
    auto arg_bool = [&](size_t i, const char* name) {
        const Value* a = args.Get(i, name);
        return a && Truthy(*a);
    };
    std::vector<Json> items;
    if (v.IsJson() && !Iterate(v.J(), &items)) {
        if (n == "reverse" && PyIsNumber(v.J()))
            return Fail(e.pos, std::string("argument to reversed() must be a sequence"));
        return Fail(e.pos, std::string("'") + PyTypeName(v.J()) + "' object is not iterable");
    }
    const Value* attr = args.Get(n == "join" ? 1 : 99, "attribute");
    if (attr && attr->IsJson()) {
        const std::string a = Str(*attr);
        for (Json& it : items) {
            auto f = it.is_object() ? it.find(a) : it.end();
            if (!it.is_object() || f == it.end()) {
                if (n == "join")
                    it = Json("");
                else
                    it = nullptr;
            } else {
                it = Json(*f);
            }
        }
    }
    if (n == "join") {
        std::string out;
        const std::string sep = arg_str(0, "d", "");
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += sep;
            out += items[i].is_string() ? items[i].get_ref<const std::string&>() : PythonStr(items[i]);
        }
        return Value::Own(Json(std::move(out)));
    }
    if (n == "list") return Value::Own(Json(items));
    if (n == "first" || n == "last") {
        if (items.empty()) {
            Value u = Value::Undefined("");
            u.hint = n == "first" ? "No first item, sequence was empty." : "No last item, sequence was empty.";
            return u;
        }
        return Value::Own(n == "first" ? items.front() : items.back());
    }
    if (n == "reverse") {
        if (v.IsJson() && v.J().is_string()) {
            std::string out;
            for (auto it = items.rbegin(); it != items.rend(); ++it) out += it->get_ref<const std::string&>();
            return Value::Own(Json(std::move(out)));
        }
        std::reverse(items.begin(), items.end());
        return Value::Own(Json(items));
    }
    const bool case_sensitive = arg_bool(n == "sort" ? 1 : 0, "case_sensitive");
    auto key = [&](const Json& x) {
        return !case_sensitive && x.is_string() ? Json(PyLower(x.get_ref<const std::string&>())) : x;
    };
    if (n == "unique") {
        std::vector<Json> out;
        for (Json& it : items) {
            if (std::none_of(out.begin(), out.end(), [&](const Json& x) { return PyEquals(key(x), key(it)); }))
                out.push_back(std::move(it));
        }
        return Value::Own(Json(out));
    }
    bool ok = true;
    if (n == "sort") {
        const bool rev = arg_bool(0, "reverse");
        std::stable_sort(items.begin(), items.end(), [&](const Json& a, const Json& b) {
            return rev ? PyCmp(key(b), key(a), &ok) < 0 : PyCmp(key(a), key(b), &ok) < 0;
        });
        if (!ok) return Fail(e.pos, "'<' not supported between these values");
        return Value::Own(Json(items));
    }
    if (n == "sum") {
        Json acc = 0;
        for (const Json& it : items) {
            if (!PyIsNumber(it))
                return Fail(
                    e.pos, std::string("unsupported operand type(s) for +: 'int' and '") + PyTypeName(it) + "'"
                );
            if (acc.is_number_float() || it.is_number_float())
                acc = PyAsDouble(acc) + PyAsDouble(it);
            else
                acc = PyAsInt(acc) + PyAsInt(it);
        }
        return Value::Own(std::move(acc));
    }
    // min / max
    if (items.empty()) {
        Value u = Value::Undefined("");
        u.hint = "No aggregated item, sequence was empty.";
        return u;
    }
    size_t best = 0;
    for (size_t i = 1; i < items.size(); ++i) {
        const int c = PyCmp(key(items[i]), key(items[best]), &ok);
        if ((n == "min" && c < 0) || (n == "max" && c > 0)) best = i;
    }
    if (!ok) return Fail(e.pos, "'<' not supported between these values");
    return Value::Own(items[best]);
}

Value Evaluator::FilterItems(const Expr& e, const std::string& n, Value v, const Args& args) {
    if (!v.IsJson()) return Value::Own(Json::array());
    if (!v.J().is_object()) return Fail(e.pos, "Can only get item pairs from a mapping.");
    Json out = Json::array();
    for (auto it = v.J().begin(); it != v.J().end(); ++it) out.push_back(Json::array({it.key(), *it}));
    return Value::Own(std::move(out));
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
    if (n == "to_json_string") {
        o.item_sep = ",";
    }
    PyJsonDump(out, v.J(), o, 0);
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
    Json parsed = Json::parse(Str(v), nullptr, false);
    if (parsed.is_discarded()) return Fail(e.pos, "from_json_string: invalid JSON");
    return Value::Own(std::move(parsed));
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
    return Value::Own(Json(std::move(found)));
}

Value Evaluator::FilterPath(const Expr& e, const std::string& n, Value v, const Args& args) {
    if (!v.IsJson() || !v.J().is_string())
        return Fail(
            e.pos,
            std::string("expected str, bytes or os.PathLike object, not ") +
                (v.IsJson() ? PyTypeName(v.J()) : "Undefined")
        );
    const std::string& p = v.J().get_ref<const std::string&>();
    return Value::Own(Json(n == "basename" ? Basename(p) : Dirname(p)));
}

Value Evaluator::FilterUseNone(const Expr& e, const std::string& n, Value v, const Args& args) {
    return v.IsJson() ? v : Value::Own(nullptr);
}

Value Evaluator::FilterDecryptKv(const Expr& e, const std::string& n, Value v, const Args& args) {
    if (!opts_.kv) return Fail(e.pos, "decrypt_kv: no datastore is available");
    Result<std::string> r = opts_.kv->Decrypt(Str(v));
    if (!r) return Fail(e.pos, r.error().message);
    return Value::Own(Json(std::move(*r)));
}

Value Evaluator::SelectOrMap(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    std::vector<Json> items;
    if (v.IsJson() && !Iterate(v.J(), &items))
        return Fail(e.pos, std::string("'") + PyTypeName(v.J()) + "' object is not iterable");
    // make_attrgetter: dotted parts, digits as list indexes; a missing part is undefined.
    auto get_attr = [](const Json& item, const std::string& path) -> const Json* {
        const Json* cur = &item;
        size_t start = 0;
        while (cur) {
            const size_t dot = path.find('.', start);
            const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
            const bool digits =
                !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
            if (digits) {
                const size_t idx = std::strtoull(part.c_str(), nullptr, 10);
                cur = cur->is_array() && idx < cur->size() ? &(*cur)[idx] : nullptr;
            } else if (cur->is_object()) {
                auto f = cur->find(part);
                cur = f == cur->end() ? nullptr : &*f;
            } else {
                cur = nullptr;
            }
            if (dot == std::string::npos) break;
            start = dot + 1;
        }
        return cur;
    };
    Json out = Json::array();
    if (n == "map") {
        const Value* attribute = nullptr;
        for (const auto& [k, a] : args.kw) {
            if (k == "attribute") attribute = &a;
        }
        if (args.pos.empty() && attribute) {
            const Value* dflt = nullptr;
            for (const auto& [k, a] : args.kw) {
                if (k == "default") {
                    dflt = &a;
                } else if (k != "attribute") {
                    return Fail(e.pos, "Unexpected keyword argument '" + k + "'");
                }
            }
            const std::string path = Str(*attribute);
            for (const Json& it : items) {
                const Json* got = get_attr(it, path);
                out.push_back(got ? *got : dflt && dflt->IsJson() ? dflt->J() : Json(nullptr));
            }
            return Value::Own(std::move(out));
        }
        if (args.pos.empty()) return Fail(e.pos, "map requires a filter argument");
        const std::string filter = Str(args.pos[0]);
        if (!Builtins().Filter(filter)) return Fail(e.pos, "No filter named '" + filter + "'");
        Args rest;
        rest.pos.assign(args.pos.begin() + 1, args.pos.end());
        rest.kw = args.kw;
        for (const Json& it : items) {
            Value r = ApplyFilter(e, filter, Value::Borrow(it), rest);
            if (error) return {};
            out.push_back(r.IsJson() ? std::move(r).Take() : Json(nullptr));
        }
        return Value::Own(std::move(out));
    }
    const bool by_attr = n == "selectattr" || n == "rejectattr";
    const bool keep_when = n == "select" || n == "selectattr";
    size_t k = 0;
    std::string path;
    if (by_attr) {
        if (args.pos.empty()) return Fail(e.pos, "Missing parameter for attribute name");
        path = Str(args.pos[0]);
        k = 1;
    }
    std::string test;
    Args rest;
    if (args.pos.size() > k) {
        test = Str(args.pos[k]);
        if (!Builtins().Test(test)) return Fail(e.pos, "No test named '" + test + "'");
        rest.pos.assign(args.pos.begin() + static_cast<std::ptrdiff_t>(k) + 1, args.pos.end());
        rest.kw = args.kw;
    }
    for (const Json& it : items) {
        Value subject = Value::Borrow(it);
        if (by_attr) {
            const Json* got = get_attr(it, path);
            subject = got ? Value::Borrow(*got) : Value::Undefined(path);
        }
        bool verdict = false;
        if (test.empty()) {
            verdict = Truthy(subject);
        } else {
            Value r = ApplyTest(e, test, subject, rest, false);
            if (error) return {};
            verdict = Truthy(r);
        }
        if (verdict == keep_when) out.push_back(it);
    }
    return Value::Own(std::move(out));
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
    };
}

}  // namespace squall::core::templates
