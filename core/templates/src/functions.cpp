// Calls: global functions (range, dict, namespace, and the caller's own for one render) and the methods of
// str, dict and list values (`x.split()`, `d.items()`, `loop.cycle()`).
#include <algorithm>
#include <cmath>
#include <string>

#include "evaluator.hpp"

namespace squall::core::templates {

Value Evaluator::EvalCall(const Expr& e) {
    Args args;
    if (!e.has_subject) {
        if (!EvalArgs(e, &args)) return {};
        if (const Stmt* m = FindMacro(e.name)) return CallMacro(e, *m, args);
        if (e.name == "loop" && !recursive_loops_.empty()) return CallRecursiveLoop(e, args);
        return CallFunction(e, args);
    }
    Value self = Eval(*e.args[0]);
    if (error) return {};
    if (!EvalArgs(e, &args)) return {};
    if (!self.IsJson()) {
        if (self.name.empty()) return Undef(e, self);
        return Fail(ChainStart(*e.args[0]), "'" + self.name + "' is undefined");
    }
    const Json& j = self.J();
    const std::string& m = e.name;
    auto arg_str = [&](size_t i, const char* name) -> std::optional<std::string> {
        const Value* a = args.Get(i, name);
        if (!a || !a->IsJson() || a->J().is_null()) return std::nullopt;
        return Str(*a);
    };
    if (IsTuple(j)) {
        const Json& items = TupleItems(j);
        if (m == "count" || m == "index") {
            const Value* a = args.Get(0, "value");
            if (!a || !a->IsJson()) return Fail(e.pos, m + " needs an argument");
            int64_t cnt = 0;
            for (size_t i = 0; i < items.size(); ++i) {
                if (PyEquals(items[i], a->J())) {
                    if (m == "index") return Value::Own(static_cast<int64_t>(i));
                    ++cnt;
                }
            }
            if (m == "index") return Fail(e.pos, "tuple.index(x): x not in tuple");
            return Value::Own(cnt);
        }
        return Fail(e.pos, "'tuple' object has no attribute '" + m + "'");
    }
    if (j.is_object() && !IsBigInt(j)) {
        if (e.args[0]->kind == Ek::kName && e.args[0]->name == "loop" && m == "cycle" && j.contains("index0")) {
            if (args.pos.empty()) return Fail(e.pos, "no items for cycling given");
            return args.pos[static_cast<size_t>(PyAsInt(j["index0"])) % args.pos.size()];
        }
        if (e.args[0]->kind == Ek::kName && e.args[0]->name == "loop" && m == "changed" && j.contains("index0") &&
            !loop_changed_.empty()) {
            Json now = Json::array();
            for (const Value& a : args.pos) now.push_back(a.IsJson() ? a.J() : UndefinedJson(a.name));
            std::optional<Json>& last = loop_changed_.back();
            if (last && PyEquals(*last, now)) return Value::Own(false);
            last = std::move(now);
            return Value::Own(true);
        }
        if (m == "items" || m == "keys" || m == "values") {
            Json out = Json::array();
            for (auto it = j.begin(); it != j.end(); ++it) {
                if (m == "items")
                    out.push_back(MakeTuple(Json::array({it.key(), *it})));
                else if (m == "keys")
                    out.push_back(it.key());
                else
                    out.push_back(*it);
            }
            return Value::Own(std::move(out));
        }
        if (m == "copy" && args.pos.empty() && args.kw.empty()) return Value::Own(j);
        if (m == "get") {
            auto k = arg_str(0, "key");
            if (k) {
                auto it = j.find(*k);
                if (it != j.end()) return Value::Own(*it);
            }
            const Value* d = args.Get(1, "default");
            return d ? *d : Value::Own(nullptr);
        }
    } else if (j.is_string()) {
        const std::string& s = j.get_ref<const std::string&>();
        if (m == "format") {
            std::vector<Json> pos;
            for (const Value& a : args.pos) pos.push_back(ToElement(a));
            Json kw = Json::object();
            for (const auto& [k, a] : args.kw) kw[k] = ToElement(a);
            std::string out;
            std::string err;
            if (!PyStrFormat(s, pos, kw, &out, &err)) return Fail(e.pos, err);
            return Value::Own(Json(std::move(out)));
        }
        if (m == "upper") return Value::Own(Json(PyUpper(s)));
        if (m == "lower") return Value::Own(Json(PyLower(s)));
        if (m == "capitalize") return Value::Own(Json(PyCapitalize(s)));
        if (m == "strip" || m == "lstrip" || m == "rstrip") {
            auto c = arg_str(0, "chars");
            return Value::Own(Json(PyStrip(s, c ? &*c : nullptr, m != "rstrip", m != "lstrip")));
        }
        if (m == "split") {
            auto sep = arg_str(0, "sep");
            const Value* ms = args.Get(1, "maxsplit");
            if (sep && sep->empty()) return Fail(e.pos, "empty separator");
            const int64_t maxsplit = ms && ms->IsJson() && PyIsInt(ms->J()) ? PyAsInt(ms->J()) : -1;
            return Value::Own(Json(PySplit(s, sep ? &*sep : nullptr, maxsplit)));
        }
        if (m == "startswith" || m == "endswith") {
            auto p = arg_str(0, "prefix");
            if (!p) return Fail(e.pos, m + " needs a string argument");
            const bool r = m == "startswith"
                               ? s.rfind(*p, 0) == 0
                               : s.size() >= p->size() && s.compare(s.size() - p->size(), p->size(), *p) == 0;
            return Value::Own(r);
        }
        if (m == "replace") {
            auto a = arg_str(0, "old");
            auto b = arg_str(1, "new");
            const Value* c = args.Get(2, "count");
            if (!a || !b) return Fail(e.pos, "replace needs two arguments");
            return Value::Own(Json(PyReplace(s, *a, *b, c && c->IsJson() && PyIsInt(c->J()) ? PyAsInt(c->J()) : -1)));
        }
        if (m == "find" || m == "count") {
            auto a = arg_str(0, "sub");
            if (!a) return Fail(e.pos, m + " needs a string argument");
            if (m == "find") {
                const size_t f = s.find(*a);
                return Value::Own(
                    f == std::string::npos ? int64_t{-1} : static_cast<int64_t>(CodePointCount(s.substr(0, f)))
                );
            }
            int64_t cnt = 0;
            if (a->empty()) return Value::Own(static_cast<int64_t>(CodePointCount(s) + 1));
            for (size_t p = s.find(*a); p != std::string::npos; p = s.find(*a, p + a->size())) ++cnt;
            return Value::Own(cnt);
        }
        if (m == "join") {
            const Value* a = args.Get(0, "iterable");
            std::vector<Json> items;
            if (!a || !a->IsJson() || !Iterate(a->J(), &items)) return Fail(e.pos, "can only join an iterable");
            std::string out;
            for (size_t i = 0; i < items.size(); ++i) {
                if (!items[i].is_string())
                    return Fail(
                        e.pos,
                        std::string("sequence item ") + std::to_string(i) + ": expected str instance, " +
                            TypeName(items[i]) + " found"
                    );
                if (i) out += s;
                out += items[i].get_ref<const std::string&>();
            }
            return Value::Own(Json(std::move(out)));
        }
        if (std::optional<Value> r = StrMethod(e, s, m, args)) return std::move(*r);
        if (m == "isdigit" || m == "isalpha" || m == "isalnum" || m == "isspace") {
            bool r = !s.empty();
            for (char c : s) {
                const auto u = static_cast<unsigned char>(c);
                r = r && (m == "isdigit"   ? std::isdigit(u)
                          : m == "isalpha" ? std::isalpha(u)
                          : m == "isalnum" ? std::isalnum(u)
                                           : std::isspace(u));
            }
            return Value::Own(r);
        }
    } else if (j.is_array()) {
        if (m == "count" || m == "index") {
            const Value* a = args.Get(0, "value");
            if (!a || !a->IsJson()) return Fail(e.pos, m + " needs an argument");
            int64_t cnt = 0;
            for (size_t i = 0; i < j.size(); ++i) {
                if (PyEquals(j[i], a->J())) {
                    if (m == "index") return Value::Own(static_cast<int64_t>(i));
                    ++cnt;
                }
            }
            if (m == "index") return Fail(e.pos, "value is not in list");
            return Value::Own(cnt);
        }
    }
    return Fail(e.pos, std::string("'") + TypeName(j) + "' object has no attribute '" + m + "'");
}

/// `loop(children)` in a `for ... recursive` loop: the loop's body over `children`, one level deeper (loop.depth + 1),
/// as the text it renders.
Value Evaluator::CallRecursiveLoop(const Expr& e, Args& args) {
    const RecursiveLoop current = recursive_loops_.back();
    if (current.depth != depth_) return Fail(e.pos, "Tried to call non recursive loop");
    if (args.pos.size() != 1 || !args.kw.empty()) return Fail(e.pos, "loop() takes exactly one argument");
    if (current.loop_depth >= kMaxLoopDepth) return Fail(e.pos, "recursive loop nested too deep");
    std::string text;
    if (!ExecForOver(*current.stmt, args.pos[0], current.loop_depth + 1, text)) return {};
    return Value::Own(Json(std::move(text)));
}

Value Evaluator::CallFunction(const Expr& e, Args& args) {
    if (opts_.functions) {
        auto it = opts_.functions->find(e.name);
        if (it != opts_.functions->end()) {
            std::vector<Json> pos;
            pos.reserve(args.pos.size());
            // The caller gets plain JSON: tuples as lists, kept undefined values as null.
            auto plain = [](Value& a) {
                if (!a.IsJson()) return Json(nullptr);
                return HasSpecial(a.J()) ? Plain(a.J()) : std::move(a).Take();
            };
            for (Value& a : args.pos) pos.push_back(plain(a));
            std::vector<std::pair<std::string, Json>> kw;
            for (auto& [k, a] : args.kw) kw.emplace_back(k, plain(a));
            Result<Json> r = it->second(pos, kw);
            if (!r) return Fail(e.pos, e.name + "(): " + r.error().message);
            return Value::Own(std::move(*r));
        }
    }
    if (const FunctionFn* f = Builtins().Function(e.name)) return (this->*(*f))(e, args);
    Value f = Lookup(e.name);
    if (!f.IsJson()) return Undef(e, f);
    return Fail(e.pos, std::string("'") + TypeName(f.J()) + "' object is not callable");
}

Value Evaluator::FunctionRange(const Expr& e, Args& args) {
    int64_t p[3] = {0, 0, 1};
    if (args.pos.empty() || args.pos.size() > 3) return Fail(e.pos, "range expected 1 to 3 arguments");
    for (const Value& a : args.pos) {
        if (!a.IsJson() || !PyIsInt(a.J())) return Fail(e.pos, "range() arguments must be integers");
    }
    if (args.pos.size() == 1) {
        p[1] = PyAsInt(args.pos[0].J());
    } else {
        p[0] = PyAsInt(args.pos[0].J());
        p[1] = PyAsInt(args.pos[1].J());
        if (args.pos.size() == 3) p[2] = PyAsInt(args.pos[2].J());
    }
    if (p[2] == 0) return Fail(e.pos, "range() arg 3 must not be zero");
    Json out = Json::array();
    for (int64_t i = p[0]; p[2] > 0 ? i < p[1] : i > p[1];) {
        if (out.size() >= 100000) return Fail(e.pos, "range too big");
        out.push_back(i);
        if (__builtin_add_overflow(i, p[2], &i)) break;  // past the 64-bit end: nothing more in range
    }
    return Value::Own(std::move(out));
}

Value Evaluator::FunctionDict(const Expr& e, Args& args) {
    Json out = Json::object();
    // dict(mapping) / namespace(mapping), or an iterable of pairs, then the keyword arguments.
    if (args.pos.size() > 1)
        return Fail(e.pos, e.name + " expected at most 1 argument, got " + std::to_string(args.pos.size()));
    if (!args.pos.empty()) {
        const Value& a = args.pos[0];
        if (!a.IsJson()) return Undef(e, a);
        std::vector<Json> pairs;
        if (a.J().is_object() && !IsSpecial(a.J())) {
            out = a.J();
        } else if (Iterate(a.J(), &pairs) && !a.J().is_string()) {
            for (const Json& p : pairs) {
                std::vector<Json> kv;
                if (!Iterate(p, &kv) || kv.size() != 2)
                    return Fail(
                        e.pos,
                        "dictionary update sequence element has length " + std::to_string(kv.size()) + "; 2 is required"
                    );
                out[Str(Element(kv[0], false))] = kv[1];
            }
        } else {
            return Fail(e.pos, std::string("'") + TypeName(a.J()) + "' object is not iterable");
        }
    }
    for (auto& [k, v] : args.kw) out[k] = ToElement(std::move(v));
    return Value::Own(std::move(out));
}

void RegisterFunctions(BuiltinTable& table) {
    table.functions = {
        {"range", &Evaluator::FunctionRange},
        {"dict", &Evaluator::FunctionDict},
        {"namespace", &Evaluator::FunctionDict},
    };
}

}  // namespace squall::core::templates
