// YAQL expressions (see yaql.hpp): the tree-walking evaluator (the lexer and parser are in yaql_parse.cpp),
// whose values are shared, immutable JSON nodes (`$.a.b` aliases the context instead of copying it). Every node
// evaluated and every byte built is charged to RenderOptions' budgets, as the Jinja engine does.
#include "squall/templates/yaql.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "pystr.hpp"
#include "squall/core/input.hpp"
#include "squall/core/yaml_json.hpp"
#include "st2fns.hpp"
#include "yaql_parse.hpp"
#include "yaql_values.hpp"

namespace squall::core {
namespace {

using templates::CodePointCount;
using templates::PyFloatRepr;
using yaql::Arg;
using yaql::Nk;
using yaql::Node;
using yaql::NodePtr;
using yaql::Throw;
using yaql::YaqlFailure;

using yaql::ApproxBytes;
using yaql::AsDouble;
using yaql::BudgetBytes;
using yaql::Child;
using yaql::IsInt;
using yaql::IsNum;
using yaql::Own;
using yaql::PyCmp;
using yaql::PyEq;
using yaql::Truthy;
using yaql::TypeName;
using yaql::Val;
using yaql::YaqlStr;

// ---------------------------------------------------------------------------------------------------------------
// Evaluator

struct CallArgs {
    std::vector<Val> pos;
    std::vector<std::pair<std::string, Val>> kw;

    const Val* Kw(std::string_view name) const {
        for (const auto& [k, v] : kw)
            if (k == name) return &v;
        return nullptr;
    }
};

class Evaluator {
public:
    Evaluator(const Json& root, const RenderOptions& options) : opts_(options) {
        dollar_.push_back(Val(Val(), &root));  // borrowed: outlives the evaluation
    }

    Val Eval(const Node& n);

private:
    void Spend(size_t pos, uint64_t steps, uint64_t bytes = 0) {
        steps_ += steps + bytes / 64;
        bytes_ += bytes;
        if (steps_ > opts_.max_steps)
            Throw(pos, "exceeded the render budget of " + std::to_string(opts_.max_steps) + " steps");
        if (bytes_ > opts_.max_bytes) Throw(pos, "exceeded the render budget of " + BudgetBytes(opts_.max_bytes));
    }
    Val Built(size_t pos, Json j) {
        const uint64_t left = opts_.max_bytes > bytes_ ? opts_.max_bytes - bytes_ : 0;
        Spend(pos, 0, ApproxBytes(j, left));
        return Own(std::move(j));
    }
    /// Refuses up front a value that would take `bytes` to build.
    void Reserve(size_t pos, uint64_t bytes) {
        if (bytes > opts_.max_bytes || bytes_ + bytes > opts_.max_bytes)
            Throw(pos, "exceeded the render budget of " + BudgetBytes(opts_.max_bytes));
    }

    Val Attr(size_t pos, const Val& base, const std::string& name, bool safe);
    Val Index(const Node& n);
    Val Unary(const Node& n);
    Val Binary(const Node& n);
    Val Arith(size_t pos, const std::string& op, const Val& a, const Val& b);
    Val Call(const Node& n);
    Val CallLambda(const Node& n, const std::string& name, const Val& receiver, size_t first_arg);
    /// toDict, groupBy, aggregate: lambdas of one or two arguments (`$`, `$1`, `$2`) and a seed.
    Val CallSelectors(const Node& n, const std::string& name, const Val& receiver, size_t first_arg);
    Val CallBuiltin(size_t pos, const std::string& name, CallArgs& a);
    Val St2kv(size_t pos, const CallArgs& a);
    Val Switch(const Node& n);
    Val Let(const Node& n);
    CallArgs EvalArgs(const Node& n, const Val* receiver);
    /// Evaluates `body` with `$` bound to `item`.
    Val WithDollar(const Node& body, Val item) {
        dollar_.push_back(std::move(item));
        Val v = Eval(body);
        dollar_.pop_back();
        return v;
    }

    const RenderOptions& opts_;
    std::vector<Val> dollar_;
    std::vector<std::pair<std::string, Val>> vars_;  // `let` bindings, innermost last
    uint64_t steps_ = 0;
    uint64_t bytes_ = 0;
};

/// Items iterated by a query: a list's items, a dict's keys (as Python iterates them).
std::vector<Val> Items(size_t pos, const Val& v, const char* what) {
    std::vector<Val> out;
    if (v->is_array()) {
        out.reserve(v->size());
        for (const Json& item : *v) out.push_back(Child(v, item));
    } else if (v->is_object()) {
        for (auto it = v->begin(); it != v->end(); ++it) out.push_back(Own(it.key()));
    } else {
        Throw(pos, std::string(what) + " needs a list or a dict, not " + TypeName(*v));
    }
    return out;
}

Val Evaluator::Eval(const Node& n) {
    Spend(n.pos, 1);
    switch (n.kind) {
        case Nk::kLiteral:
            return Own(n.literal);
        case Nk::kRoot:
            return dollar_.back();
        case Nk::kVar:
            for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
                if (it->first == n.name) return it->second;
            Throw(n.pos, "variable $" + n.name + " is not defined (let(" + n.name + " => value) -> ... defines it)");
        case Nk::kIdent:
            return Own(n.name);  // a bare name is a string constant, as in ctx(name)
        case Nk::kAttr: {
            Val base = Eval(*n.kids[0]);
            return Attr(n.pos, base, n.name, n.safe);
        }
        case Nk::kIndex:
            return Index(n);
        case Nk::kCall:
            return Call(n);
        case Nk::kList: {
            Json out = Json::array();
            for (const auto& k : n.kids) out.push_back(*Eval(*k));
            return Built(n.pos, std::move(out));
        }
        case Nk::kMap: {
            Json out = Json::object();
            for (const Arg& a : n.args) {
                std::string key = a.name;
                if (a.key) {
                    Val k = Eval(*a.key);
                    if (!k->is_string())
                        Throw(a.key->pos, std::string("a dict key must be a string, not ") + TypeName(*k));
                    key = k->get<std::string>();
                }
                out[key] = *Eval(*a.value);
            }
            return Built(n.pos, std::move(out));
        }
        case Nk::kUnary:
            return Unary(n);
        case Nk::kBinary:
            return Binary(n);
    }
    Throw(n.pos, "unknown expression");
}

Val Evaluator::Attr(size_t pos, const Val& base, const std::string& name, bool safe) {
    const Json& j = *base;
    if (j.is_null() && safe) return base;
    if (j.is_object()) {
        auto it = j.find(name);
        if (it == j.end()) Throw(pos, "unable to resolve key '" + name + "'");
        return Child(base, *it);
    }
    if (j.is_array()) {  // YAQL maps `.name` over a list's items
        Json out = Json::array();
        for (const Json& item : j) {
            Spend(pos, 1);
            out.push_back(*Attr(pos, Child(base, item), name, safe));
        }
        return Built(pos, std::move(out));
    }
    Throw(pos, "cannot read key '" + name + "' of " + TypeName(j));
}

Val Evaluator::Index(const Node& n) {
    Val base = Eval(*n.kids[0]);
    Val key = Eval(*n.kids[1]);
    const Json& j = *base;
    if (j.is_object()) {
        if (!key->is_string()) Throw(n.kids[1]->pos, std::string("a dict key must be a string, not ") + TypeName(*key));
        auto it = j.find(key->get<std::string>());
        if (it != j.end()) return Child(base, *it);
        if (n.kids.size() > 2) return Eval(*n.kids[2]);
        Throw(n.kids[1]->pos, "unable to resolve key '" + key->get<std::string>() + "'");
    }
    if (j.is_array() || j.is_string()) {
        if (!IsInt(*key) || key->is_boolean())
            Throw(n.kids[1]->pos, std::string("an index must be an integer, not ") + TypeName(*key));
        // A string's code points, split once: on invalid UTF-8 CodePointCount can differ from CodePoints' size.
        std::vector<std::string> chars;
        if (j.is_string()) chars = templates::CodePoints(j.get_ref<const std::string&>());
        const int64_t size = static_cast<int64_t>(j.is_array() ? j.size() : chars.size());
        int64_t i = key->get<int64_t>();
        if (i < 0) i += size;
        if (i < 0 || i >= size) {
            if (n.kids.size() > 2) return Eval(*n.kids[2]);
            Throw(
                n.kids[1]->pos,
                "index " + std::to_string(key->get<int64_t>()) + " is out of range for a " + TypeName(j) + " of " +
                    std::to_string(size)
            );
        }
        if (j.is_array()) return Child(base, j[static_cast<size_t>(i)]);
        return Own(std::move(chars[static_cast<size_t>(i)]));
    }
    Throw(n.pos, std::string("cannot index ") + TypeName(j));
}

Val Evaluator::Unary(const Node& n) {
    Val v = Eval(*n.kids[0]);
    if (n.name == "not") return Own(!Truthy(*v));
    if (!IsNum(*v)) Throw(n.pos, "unary " + n.name + " needs a number, not " + TypeName(*v));
    if (n.name == "+") return v;
    if (IsInt(*v)) {
        const int64_t i = v->get<int64_t>();
        if (i == std::numeric_limits<int64_t>::min()) Throw(n.pos, "integer overflow");
        return Own(-i);
    }
    return Own(-AsDouble(*v));
}

Val Evaluator::Binary(const Node& n) {
    const std::string& op = n.name;
    if (op == "->") return Let(n);
    Val a = Eval(*n.kids[0]);
    if (op == "and") return Truthy(*a) ? Eval(*n.kids[1]) : a;
    if (op == "or") return Truthy(*a) ? a : Eval(*n.kids[1]);
    Val b = Eval(*n.kids[1]);
    if (op == "=") return Own(PyEq(*a, *b));
    if (op == "!=") return Own(!PyEq(*a, *b));
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
        int c;
        if (a->is_null() || b->is_null()) {  // YAQL orders null before everything
            c = a->is_null() && b->is_null() ? 0 : a->is_null() ? -1 : 1;
        } else {
            std::optional<int> got = PyCmp(*a, *b);
            if (!got)
                Throw(n.pos, "cannot compare " + std::string(TypeName(*a)) + " and " + TypeName(*b) + " with " + op);
            c = *got;
        }
        const bool r = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
        return Own(r);
    }
    if (op == "in") {
        const Json& coll = *b;
        if (coll.is_array()) {
            for (const Json& item : coll) {
                Spend(n.pos, 1);
                if (PyEq(*a, item)) return Own(true);
            }
            return Own(false);
        }
        if (coll.is_object()) return Own(a->is_string() && coll.contains(a->get<std::string>()));
        if (coll.is_string() && a->is_string())
            return Own(coll.get_ref<const std::string&>().find(a->get<std::string>()) != std::string::npos);
        Throw(n.pos, std::string("cannot look for ") + TypeName(*a) + " in " + TypeName(coll));
    }
    if (op == "=~" || op == "!~") {
        if (!a->is_string() || !b->is_string())
            Throw(n.pos, "'" + op + "' needs a string and a pattern, not " + TypeName(*a) + " and " + TypeName(*b));
        auto re = Regex::Cached(b->get<std::string>(), {});
        if (!re) Throw(n.kids[1]->pos, re.error().message);
        const bool found = (*re)->Search(a->get<std::string>());
        return Own(op == "=~" ? found : !found);
    }
    return Arith(n.pos, op, a, b);
}

Val Evaluator::Arith(size_t pos, const std::string& op, const Val& a, const Val& b) {
    const Json &x = *a, &y = *b;
    auto bad = [&]() -> Val {
        Throw(pos, "unsupported operand types for " + op + ": " + TypeName(x) + " and " + TypeName(y));
    };
    if (IsNum(x) && IsNum(y)) {
        if (IsInt(x) && IsInt(y)) {
            const int64_t i = x.get<int64_t>(), k = y.get<int64_t>();
            int64_t r = 0;
            if (op == "+") {
                if (__builtin_add_overflow(i, k, &r)) Throw(pos, "integer overflow");
            } else if (op == "-") {
                if (__builtin_sub_overflow(i, k, &r)) Throw(pos, "integer overflow");
            } else if (op == "*") {
                if (__builtin_mul_overflow(i, k, &r)) Throw(pos, "integer overflow");
            } else {  // `/` floors as Python's // does for integers; `mod` takes the divisor's sign
                if (k == 0) Throw(pos, "division by zero");
                if (i == std::numeric_limits<int64_t>::min() && k == -1) Throw(pos, "integer overflow");
                int64_t q = i / k, m = i % k;
                if (m != 0 && ((m < 0) != (k < 0))) {
                    --q;
                    m += k;
                }
                r = op == "/" ? q : m;
            }
            return Own(r);
        }
        const double i = AsDouble(x), k = AsDouble(y);
        if (op == "+") return Own(i + k);
        if (op == "-") return Own(i - k);
        if (op == "*") return Own(i * k);
        if (k == 0) Throw(pos, "division by zero");
        if (op == "/") return Own(i / k);
        double m = std::fmod(i, k);
        if (m != 0 && ((m < 0) != (k < 0))) m += k;
        return Own(m);
    }
    if (op == "+") {
        if (x.is_string() && y.is_string()) {
            Reserve(pos, x.get_ref<const std::string&>().size() + y.get_ref<const std::string&>().size());
            return Built(pos, Json(x.get<std::string>() + y.get<std::string>()));
        }
        if (x.is_array() && y.is_array()) {
            Json out = x;
            for (const Json& item : y) out.push_back(item);
            return Built(pos, std::move(out));
        }
        if (x.is_object() && y.is_object()) {
            Json out = x;
            for (auto it = y.begin(); it != y.end(); ++it) out[it.key()] = *it;
            return Built(pos, std::move(out));
        }
        return bad();
    }
    if (op == "*") {
        const Json* seq = IsInt(x) ? &y : &x;
        const Json* times = IsInt(x) ? &x : &y;
        if (!IsInt(*times) || !(seq->is_string() || seq->is_array())) return bad();
        const int64_t t = std::max<int64_t>(0, times->get<int64_t>());
        const uint64_t unit =
            seq->is_string() ? seq->get_ref<const std::string&>().size() : ApproxBytes(*seq, opts_.max_bytes + 1);
        if (unit > 0 && static_cast<uint64_t>(t) > (opts_.max_bytes + 1) / unit) Reserve(pos, opts_.max_bytes + 1);
        Reserve(pos, unit * static_cast<uint64_t>(t));
        Json out = seq->is_string() ? Json(std::string()) : Json::array();
        // Nothing to repeat: done at once ('' * 4073709551615 looped for hours; found by the yaql fuzz target).
        if (seq->is_string() ? seq->get_ref<const std::string&>().empty() : seq->empty())
            return Built(pos, std::move(out));
        for (int64_t k = 0; k < t; ++k) {
            if (seq->is_string())
                out.get_ref<std::string&>() += seq->get_ref<const std::string&>();
            else
                for (const Json& item : *seq) out.push_back(item);
        }
        return Built(pos, std::move(out));
    }
    return bad();
}

CallArgs Evaluator::EvalArgs(const Node& n, const Val* receiver) {
    CallArgs a;
    if (receiver) a.pos.push_back(*receiver);
    for (const Arg& arg : n.args) {
        if (arg.key) Throw(arg.key->pos, "'key => value' is not an argument of " + n.name + "()");
        Val v = Eval(*arg.value);
        if (arg.name.empty()) {
            if (!a.kw.empty()) Throw(arg.value->pos, "a positional argument follows a keyword argument");
            a.pos.push_back(std::move(v));
        } else {
            a.kw.emplace_back(arg.name, std::move(v));
        }
    }
    return a;
}

bool IsLambdaFunction(const std::string& name) {
    static const std::set<std::string, std::less<>> kNames = {
        "select", "where", "filter", "any", "all", "orderBy", "orderByDescending", "selectMany"};
    return kNames.contains(name);
}

Val Evaluator::Call(const Node& n) {
    const std::string& name = n.name;
    const bool method = !n.kids.empty();
    Val receiver;
    if (method) {
        receiver = Eval(*n.kids[0]);
        if (receiver->is_null() && n.safe) return receiver;
    }
    if (opts_.functions) {
        auto it = opts_.functions->find(name);
        if (it != opts_.functions->end()) {
            CallArgs a = EvalArgs(n, method ? &receiver : nullptr);
            std::vector<Json> pos;
            std::vector<std::pair<std::string, Json>> kw;
            for (const Val& v : a.pos) pos.push_back(*v);
            for (const auto& [k, v] : a.kw) kw.emplace_back(k, *v);
            Result<Json> r = it->second(pos, kw);
            if (!r) Throw(n.pos, name + "(): " + r.error().message);
            return Built(n.pos, std::move(r).value());
        }
    }
    if (name == "toDict" || name == "groupBy" || name == "aggregate") {
        if (method) return CallSelectors(n, name, receiver, 0);
        if (n.args.empty() || !n.args[0].name.empty() || n.args[0].key)
            Throw(n.pos, name + "() needs a collection first");
        return CallSelectors(n, name, Eval(*n.args[0].value), 1);
    }
    if (IsLambdaFunction(name)) {
        if (method) return CallLambda(n, name, receiver, 0);
        if (n.args.empty()) Throw(n.pos, name + "() needs a collection");
        if (!n.args[0].name.empty() || n.args[0].key) Throw(n.pos, name + "() needs a collection first");
        return CallLambda(n, name, Eval(*n.args[0].value), 1);
    }
    if (name == "switch" && !method) return Switch(n);
    if (name == "let") Throw(n.pos, "let() is used as let(name => value) -> expression");
    if (name == "dict" && !method) {
        Json out = Json::object();
        for (const Arg& arg : n.args) {
            if (!arg.name.empty()) {
                out[arg.name] = *Eval(*arg.value);
            } else if (arg.key) {
                Val k = Eval(*arg.key);
                if (!k->is_string())
                    Throw(arg.key->pos, std::string("a dict key must be a string, not ") + TypeName(*k));
                out[k->get<std::string>()] = *Eval(*arg.value);
            } else {  // dict(list of [key, value] pairs)
                Val pairs = Eval(*arg.value);
                if (!pairs->is_array())
                    Throw(arg.value->pos, std::string("dict() needs pairs, not ") + TypeName(*pairs));
                for (const Json& p : *pairs) {
                    if (!p.is_array() || p.size() != 2 || !p[0].is_string())
                        Throw(arg.value->pos, "dict() needs [key, value] pairs with string keys");
                    out[p[0].get<std::string>()] = p[1];
                }
            }
        }
        return Built(n.pos, std::move(out));
    }
    CallArgs a = EvalArgs(n, method ? &receiver : nullptr);
    if (name == "st2kv") return St2kv(n.pos, a);
    return CallBuiltin(n.pos, name, a);
}

/// `let(name => value, ...) -> expr`: evaluates expr with $name bound (positional values are $1, $2...).
Val Evaluator::Let(const Node& n) {
    const Node& let = *n.kids[0];
    if (let.kind != Nk::kCall || let.name != "let" || !let.kids.empty())
        Throw(n.pos, "'->' needs let(name => value, ...) on its left");
    std::vector<std::pair<std::string, Val>> bound;
    for (const Arg& arg : let.args) {
        if (arg.key) Throw(arg.key->pos, "let() takes name => value, not an expression as the name");
        bound.emplace_back(arg.name.empty() ? std::to_string(bound.size() + 1) : arg.name, Eval(*arg.value));
    }
    const size_t before = vars_.size();
    for (auto& b : bound) vars_.push_back(std::move(b));
    Val v = Eval(*n.kids[1]);
    vars_.resize(before);
    return v;
}

Val Evaluator::Switch(const Node& n) {
    for (const Arg& arg : n.args) {
        if (!arg.key && arg.name.empty()) Throw(arg.value->pos, "switch() takes 'condition => value' pairs");
        if (!arg.name.empty() || Truthy(*Eval(*arg.key))) return Eval(*arg.value);  // a bare name is a string
    }
    return Own(nullptr);
}

Val Evaluator::CallLambda(const Node& n, const std::string& name, const Val& receiver, size_t first_arg) {
    const Node* body = nullptr;
    for (size_t i = first_arg; i < n.args.size(); ++i) {
        if (!n.args[i].name.empty() || n.args[i].key) Throw(n.pos, name + "() takes no keyword arguments");
        if (body) Throw(n.args[i].value->pos, name + "() takes one expression");
        body = n.args[i].value.get();
    }
    const bool optional_body = name == "any" || name == "all";
    if (!body && !optional_body) Throw(n.pos, name + "() needs an expression, as in " + name + "($ > 1)");
    std::vector<Val> items = Items(n.pos, receiver, (name + "()").c_str());
    auto apply = [&](const Val& item) { return body ? WithDollar(*body, item) : item; };
    if (name == "any" || name == "all") {
        for (const Val& item : items) {
            const bool t = Truthy(*apply(item));
            if (name == "any" && t) return Own(true);
            if (name == "all" && !t) return Own(false);
        }
        return Own(name == "all");
    }
    if (name == "orderBy" || name == "orderByDescending") {
        std::vector<std::pair<Val, Val>> keyed;
        for (const Val& item : items) keyed.emplace_back(apply(item), item);
        std::optional<std::string> failed;
        const bool desc = name == "orderByDescending";
        std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& l, const auto& r) {
            if (failed) return false;
            const Json &x = *l.first, &y = *r.first;
            std::optional<int> c;
            if (x.is_null() || y.is_null())
                c = x.is_null() && y.is_null() ? 0 : x.is_null() ? -1 : 1;
            else
                c = PyCmp(x, y);
            if (!c) {
                failed = std::string("cannot order ") + TypeName(x) + " and " + TypeName(y);
                return false;
            }
            return desc ? *c > 0 : *c < 0;
        });
        if (failed) Throw(n.pos, *failed);
        Spend(n.pos, keyed.size());
        Json out = Json::array();
        for (const auto& [k, item] : keyed) out.push_back(*item);
        return Built(n.pos, std::move(out));
    }
    Json out = Json::array();
    for (const Val& item : items) {
        Val v = apply(item);
        if (name == "select") {
            out.push_back(*v);
        } else if (name == "selectMany") {
            if (!v->is_array()) Throw(body->pos, std::string("selectMany() needs lists, not ") + TypeName(*v));
            for (const Json& x : *v) out.push_back(x);
        } else if (Truthy(*v)) {  // where / filter
            out.push_back(*item);
        }
    }
    return Built(n.pos, std::move(out));
}

Val Evaluator::CallSelectors(const Node& n, const std::string& name, const Val& receiver, size_t first_arg) {
    std::vector<const Node*> bodies;
    const Node* value_kw = nullptr;
    const Node* aggregator_kw = nullptr;
    const Node* seed_kw = nullptr;
    for (size_t i = first_arg; i < n.args.size(); ++i) {
        const Arg& arg = n.args[i];
        if (arg.key) Throw(n.pos, name + "() takes no 'key => value' arguments");
        if (arg.name.empty()) {
            bodies.push_back(arg.value.get());
        } else if (arg.name == "valueSelector" && name != "aggregate") {
            value_kw = arg.value.get();
        } else if (arg.name == "keySelector" && name != "aggregate" && bodies.empty()) {
            bodies.push_back(arg.value.get());
        } else if (arg.name == "aggregator" && name == "groupBy") {
            aggregator_kw = arg.value.get();
        } else if (arg.name == "seed" && name == "aggregate") {
            seed_kw = arg.value.get();
        } else {
            Throw(n.pos, name + "() has no argument '" + arg.name + "'");
        }
    }
    std::vector<Val> items = Items(n.pos, receiver, (name + "()").c_str());
    if (name == "aggregate") {
        // yaql's aggregate(collection, selector, seed): a fold, `$1` the accumulator and `$2` the item.
        if (bodies.empty() || bodies.size() > 2 || (seed_kw && bodies.size() > 1))
            Throw(
                n.pos, "aggregate() takes an expression of $1 and $2 and an optional seed, as in aggregate($1 + $2, 0)"
            );
        std::optional<Val> acc;
        if (bodies.size() == 2) acc = Eval(*bodies[1]);
        if (seed_kw) acc = Eval(*seed_kw);
        size_t i = 0;
        if (!acc) {
            if (items.empty()) Throw(n.pos, "aggregate() of an empty collection needs a seed");
            acc = items[i++];
        }
        for (; i < items.size(); ++i) {
            const size_t before = vars_.size();
            vars_.emplace_back("1", *acc);
            vars_.emplace_back("2", items[i]);
            Val next = WithDollar(*bodies[0], *acc);
            vars_.resize(before);
            acc = std::move(next);
        }
        return *acc;
    }
    if (bodies.empty() || bodies.size() > 2 || (value_kw && bodies.size() > 1))
        Throw(
            n.pos, name + "() takes a key expression and an optional value expression, as in " + name + "($.name, $)"
        );
    const Node* key_sel = bodies[0];
    const Node* value_sel = bodies.size() > 1 ? bodies[1] : value_kw;
    auto key_text = [&](const Json& k) -> std::string {
        if (k.is_string()) return k.get<std::string>();
        if (IsNum(k) || k.is_boolean() || k.is_null()) return YaqlStr(k);  // JSON keys are text
        Throw(key_sel->pos, std::string("a dict key must be a string or a number, not ") + TypeName(k));
    };
    if (name == "toDict") {
        Json out = Json::object();
        for (const Val& item : items) {
            const std::string k = key_text(*WithDollar(*key_sel, item));
            out[k] = value_sel ? *WithDollar(*value_sel, item) : *item;
        }
        return Built(n.pos, std::move(out));
    }
    // groupBy: [key, [values]] pairs in the order the keys first appear (yaql's), each through the aggregator.
    Json keys = Json::array();
    std::vector<Json> groups;
    for (const Val& item : items) {
        Val k = WithDollar(*key_sel, item);
        size_t at = 0;
        while (at < keys.size() && !PyEq(keys[at], *k)) ++at;
        Spend(n.pos, at);
        if (at == keys.size()) {
            keys.push_back(*k);
            groups.emplace_back(Json::array());
        }
        groups[at].push_back(value_sel ? *WithDollar(*value_sel, item) : *item);
    }
    Json out = Json::array();
    for (size_t i = 0; i < keys.size(); ++i) {
        Json pair = Json::array({keys[i], std::move(groups[i])});
        out.push_back(aggregator_kw ? *WithDollar(*aggregator_kw, Own(std::move(pair))) : std::move(pair));
    }
    return Built(n.pos, std::move(out));
}

Val Evaluator::St2kv(size_t pos, const CallArgs& a) {
    if (a.pos.size() != 1 || !a.pos[0]->is_string()) Throw(pos, "st2kv() needs one key, as in st2kv('system.name')");
    for (const auto& [k, v] : a.kw)
        if (k != "decrypt" && k != "default") Throw(pos, "st2kv() has no argument '" + k + "'");
    const Val* decrypt = a.Kw("decrypt");
    if (decrypt && !(*decrypt)->is_boolean()) Throw(pos, "st2kv(): decrypt must be true or false");
    std::string key = a.pos[0]->get<std::string>();
    std::string scope = "system";
    if (key.starts_with("system.")) {
        key = key.substr(7);
    } else if (key.starts_with("user.")) {
        scope = "user";
        key = key.substr(5);
    }
    std::optional<std::string> got = opts_.kv ? opts_.kv->Get(scope, key) : std::nullopt;
    if (!got) {
        if (const Val* def = a.Kw("default")) return *def;
        Throw(pos, "st2kv(): the key \"" + scope + "." + key + "\" does not exist in the datastore");
    }
    if (decrypt && (*decrypt)->get<bool>()) {
        Result<std::string> plain = opts_.kv->Decrypt(*got);
        if (!plain) Throw(pos, "st2kv(): " + plain.error().message);
        return Built(pos, Json(std::move(plain).value()));
    }
    return Built(pos, Json(std::move(*got)));
}

// ---------------------------------------------------------------------------------------------------------------
// The standard library: every function also works with method syntax (`$.list.len()` is `len($.list)`).

/// Argument helpers that name the function in their errors.
struct Fn {
    size_t pos;
    const std::string& name;
    CallArgs& a;

    [[noreturn]] void Fail(const std::string& what) const { Throw(pos, name + "(): " + what); }
    void Count(size_t min, size_t max) const {
        if (a.pos.size() < min || a.pos.size() > max) {
            const std::string want =
                min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max);
            Fail("takes " + want + " argument" + (max == 1 ? "" : "s") + ", got " + std::to_string(a.pos.size()));
        }
        if (!a.kw.empty()) Fail("has no argument '" + a.kw[0].first + "'");
    }
    const Json& At(size_t i) const { return *a.pos[i]; }
    const std::string& Str(size_t i) const {
        if (!At(i).is_string())
            Fail(std::string("argument ") + std::to_string(i + 1) + " must be a string, not " + TypeName(At(i)));
        return At(i).get_ref<const std::string&>();
    }
    int64_t Int(size_t i) const {
        if (!IsInt(At(i)))
            Fail(std::string("argument ") + std::to_string(i + 1) + " must be an integer, not " + TypeName(At(i)));
        return At(i).get<int64_t>();
    }
    const Json& List(size_t i) const {
        if (!At(i).is_array())
            Fail(std::string("argument ") + std::to_string(i + 1) + " must be a list, not " + TypeName(At(i)));
        return At(i);
    }
    const Json& Dict(size_t i) const {
        if (!At(i).is_object())
            Fail(std::string("argument ") + std::to_string(i + 1) + " must be a dict, not " + TypeName(At(i)));
        return At(i);
    }
};

/// Python's str.format for `{}`, `{0}` and `{name}` fields (values printed as Python's str()).
std::string PyFormat(const Fn& f, const std::string& fmt, size_t first_arg) {
    std::string out;
    size_t auto_index = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
        const char c = fmt[i];
        if (c == '}') {
            if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
                out += '}';
                ++i;
                continue;
            }
            f.Fail("single '}' in the format string");
        }
        if (c != '{') {
            out += c;
            continue;
        }
        if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
            out += '{';
            ++i;
            continue;
        }
        const size_t close = fmt.find('}', i);
        if (close == std::string::npos) f.Fail("single '{' in the format string");
        const std::string field = fmt.substr(i + 1, close - i - 1);
        if (field.find_first_of(":!") != std::string::npos) f.Fail("format specs are not supported: {" + field + "}");
        const Json* v = nullptr;
        if (field.empty() || std::all_of(field.begin(), field.end(), [](char d) {
                return std::isdigit(static_cast<unsigned char>(d));
            })) {
            const size_t k = field.empty() ? auto_index++ : std::stoul(field);
            if (first_arg + k >= f.a.pos.size()) f.Fail("no value for {" + field + "}");
            v = &f.At(first_arg + k);
        } else {
            const Val* kv = f.a.Kw(field);
            if (!kv) f.Fail("no value for {" + field + "}");
            v = kv->get();
        }
        out += v->is_string() ? v->get<std::string>() : PythonStr(*v);
        i = close;
    }
    return out;
}

Val Evaluator::CallBuiltin(size_t pos, const std::string& name, CallArgs& a) {
    Fn f{pos, name, a};
    auto items_of = [&](size_t i) { return Items(pos, a.pos[i], (name + "()").c_str()); };
    // The values once each, in first-seen order (distinct, toSet, set(...)).
    auto distinct = [&](const std::vector<Val>& values) {
        Json out = Json::array();
        for (const Val& v : values) {
            Spend(pos, out.size());
            if (std::none_of(out.begin(), out.end(), [&](const Json& seen) { return PyEq(seen, *v); }))
                out.push_back(*v);
        }
        return out;
    };
    // Values
    if (name == "len" || name == "count") {
        f.Count(1, 1);
        const Json& v = f.At(0);
        if (v.is_string()) return Own(static_cast<int64_t>(CodePointCount(v.get_ref<const std::string&>())));
        if (v.is_array() || v.is_object()) return Own(static_cast<int64_t>(v.size()));
        f.Fail(std::string("needs a string, list or dict, not ") + TypeName(v));
    }
    if (name == "str") {
        f.Count(1, 1);
        return Built(pos, Json(YaqlStr(f.At(0))));
    }
    if (name == "int") {
        f.Count(1, 1);
        const Json& v = f.At(0);
        if (v.is_null()) return Own(0);
        if (IsInt(v)) return a.pos[0];
        if (v.is_boolean()) return Own(v.get<bool>() ? 1 : 0);
        if (v.is_number_float()) {
            const double d = std::trunc(v.get<double>());
            if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) f.Fail("cannot convert " + PyFloatRepr(v.get<double>()));
            return Own(static_cast<int64_t>(d));
        }
        int64_t out = 0;
        if (v.is_string() && templates::ParsePyInt(v.get<std::string>(), 10, &out)) return Own(out);
        f.Fail("cannot convert " + YaqlStr(v) + " to an integer");
    }
    if (name == "float") {
        f.Count(1, 1);
        const Json& v = f.At(0);
        if (v.is_null()) return Own(0.0);
        if (IsNum(v)) return Own(AsDouble(v));
        if (v.is_boolean()) return Own(v.get<bool>() ? 1.0 : 0.0);
        double out = 0;
        if (v.is_string() && templates::ParsePyFloat(v.get<std::string>(), &out)) return Own(out);
        f.Fail("cannot convert " + YaqlStr(v) + " to a float");
    }
    if (name == "bool") {
        f.Count(1, 1);
        return Own(Truthy(f.At(0)));
    }
    if (name == "isList" || name == "isDict" || name == "isString" || name == "isInteger" || name == "isNumber" ||
        name == "isBoolean") {
        f.Count(1, 1);
        const Json& v = f.At(0);
        const bool r = name == "isList"      ? v.is_array()
                       : name == "isDict"    ? v.is_object()
                       : name == "isString"  ? v.is_string()
                       : name == "isInteger" ? v.is_number_integer()
                       : name == "isNumber"  ? v.is_number()
                                             : v.is_boolean();
        return Own(r);
    }
    if (name == "coalesce") {
        if (!a.kw.empty()) f.Fail("takes no keyword arguments");
        for (const Val& v : a.pos)
            if (!v->is_null()) return v;
        return Own(nullptr);
    }
    // Dicts
    if (name == "keys" || name == "values" || name == "items") {
        f.Count(1, 1);
        const Json& d = f.Dict(0);
        Json out = Json::array();
        for (auto it = d.begin(); it != d.end(); ++it) {
            if (name == "keys")
                out.push_back(it.key());
            else if (name == "values")
                out.push_back(*it);
            else
                out.push_back(Json::array({it.key(), *it}));
        }
        return Built(pos, std::move(out));
    }
    if (name == "get") {
        f.Count(2, 3);
        const Json& d = f.Dict(0);
        auto it = d.find(f.Str(1));
        if (it != d.end()) return Child(a.pos[0], *it);
        return a.pos.size() > 2 ? a.pos[2] : Own(nullptr);
    }
    if (name == "set" && !(a.pos.size() == 3 && f.At(0).is_object())) {
        // yaql's set(1, 2, 2): the distinct values (a list in JSON).
        if (!a.kw.empty()) f.Fail("has no argument '" + a.kw[0].first + "'");
        return Built(pos, distinct(a.pos));
    }
    if (name == "enumerate") {
        const bool start_kw = a.kw.size() == 1 && a.kw[0].first == "start" && a.pos.size() == 1;
        if (!start_kw) f.Count(1, 2);
        int64_t start = a.pos.size() == 2 ? f.Int(1) : 0;
        if (const Val* s = a.Kw("start")) {
            if (!IsInt(**s)) f.Fail("start must be an integer");
            start = (*s)->get<int64_t>();
        }
        Json out = Json::array();
        for (const Val& v : items_of(0)) out.push_back(Json::array({start++, *v}));
        return Built(pos, std::move(out));
    }
    if (name == "toCharArray") {
        f.Count(1, 1);
        const std::string& text = f.Str(0);
        Json out = Json::array();
        for (size_t i = 0; i < text.size();) {
            size_t n = 1;
            const auto c = static_cast<unsigned char>(text[i]);
            if (c >= 0xF0)
                n = 4;
            else if (c >= 0xE0)
                n = 3;
            else if (c >= 0xC0)
                n = 2;
            out.push_back(text.substr(i, n));
            i += n;
        }
        return Built(pos, std::move(out));
    }
    if (name == "delete") {
        // dict.delete(key, ...): without those keys; list.delete(position[, count]): without those items.
        if (!a.kw.empty()) f.Fail("has no argument '" + a.kw[0].first + "'");
        if (a.pos.empty()) f.Count(2, 3);
        if (f.At(0).is_object()) {
            Json out = f.At(0);
            for (size_t i = 1; i < a.pos.size(); ++i) out.erase(f.Str(i));
            return Built(pos, std::move(out));
        }
        f.Count(2, 3);
        Json out = f.List(0);
        int64_t at = f.Int(1);
        const int64_t count = a.pos.size() == 3 ? f.Int(2) : 1;
        const auto size = static_cast<int64_t>(out.size());
        if (at < 0) at += size;
        if (at < 0 || at > size) f.Fail("position " + std::to_string(f.Int(1)) + " is out of range");
        const int64_t end = count < 0 ? size : std::min(size, at + count);
        out.erase(out.begin() + at, out.begin() + end);
        return Built(pos, std::move(out));
    }
    if (name == "mergeWith") {
        // yaql's merge_with: dicts merged key by key at every level; lists joined with the new items not already there;
        // otherwise the second value wins.
        f.Count(2, 2);
        std::function<Json(const Json&, const Json&)> merge = [&](const Json& x, const Json& y) -> Json {
            Spend(pos, 1);
            if (x.is_object() && y.is_object()) {
                Json out = x;
                for (const auto& [k, v] : y.items()) out[k] = out.contains(k) ? merge(out[k], v) : v;
                return out;
            }
            if (x.is_array() && y.is_array()) {
                Json out = x;
                for (const Json& v : y) {
                    if (std::none_of(out.begin(), out.end(), [&](const Json& seen) { return PyEq(seen, v); }))
                        out.push_back(v);
                }
                return out;
            }
            return y;
        };
        return Built(pos, merge(f.Dict(0), f.Dict(1)));
    }
    if (name == "set") {
        f.Count(3, 3);
        Json out = f.Dict(0);
        out[f.Str(1)] = f.At(2);
        return Built(pos, std::move(out));
    }
    if (name == "containsKey") {
        f.Count(2, 2);
        return Own(f.At(1).is_string() && f.Dict(0).contains(f.At(1).get<std::string>()));
    }
    if (name == "containsValue") {
        f.Count(2, 2);
        for (const Json& v : f.Dict(0))
            if (PyEq(v, f.At(1))) return Own(true);
        return Own(false);
    }
    // Collections
    if (name == "list") {
        if (!a.kw.empty()) f.Fail("takes no keyword arguments");
        Json out = Json::array();
        for (const Val& v : a.pos) out.push_back(*v);
        return Built(pos, std::move(out));
    }
    if (name == "toList") {
        f.Count(1, 1);
        Json out = Json::array();
        for (const Val& v : items_of(0)) out.push_back(*v);
        return Built(pos, std::move(out));
    }
    if (name == "range") {
        f.Count(1, 3);
        int64_t start = 0, stop = 0, step = 1;
        if (a.pos.size() == 1) {
            stop = f.Int(0);
        } else {
            start = f.Int(0);
            stop = f.Int(1);
            if (a.pos.size() == 3) step = f.Int(2);
        }
        if (step == 0) f.Fail("step must not be zero");
        const double n = std::max(
            0.0, std::ceil((static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step))
        );
        Reserve(pos, static_cast<uint64_t>(std::min(n, 1e15)) * 16);
        Spend(pos, static_cast<uint64_t>(n));
        Json out = Json::array();
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(i);
        return Built(pos, std::move(out));
    }
    if (name == "sum") {
        f.Count(1, 2);
        Val total = a.pos.size() > 1 ? a.pos[1] : Own(0);
        for (const Val& v : items_of(0)) total = Arith(pos, "+", total, v);
        return total;
    }
    if (name == "min" || name == "max") {
        if (!a.kw.empty()) f.Fail("takes no keyword arguments");
        std::vector<Val> vals;
        if (a.pos.size() == 1)
            vals = items_of(0);
        else
            vals = a.pos;
        if (vals.empty()) f.Fail("the collection is empty");
        Val best = vals[0];
        for (const Val& v : vals) {
            std::optional<int> c = PyCmp(*v, *best);
            if (!c) f.Fail(std::string("cannot compare ") + TypeName(*v) + " and " + TypeName(*best));
            if (name == "min" ? *c < 0 : *c > 0) best = v;
        }
        return best;
    }
    if (name == "first" || name == "last") {
        f.Count(1, 2);
        std::vector<Val> vals = items_of(0);
        if (vals.empty()) {
            if (a.pos.size() > 1) return a.pos[1];
            f.Fail("the collection is empty");
        }
        return name == "first" ? vals.front() : vals.back();
    }
    if (name == "distinct" || name == "toSet") {  // yaql's sets are lists in JSON
        f.Count(1, 1);
        return Built(pos, distinct(items_of(0)));
    }
    if (name == "reverse") {
        f.Count(1, 1);
        std::vector<Val> vals = items_of(0);
        Json out = Json::array();
        for (auto it = vals.rbegin(); it != vals.rend(); ++it) out.push_back(**it);
        return Built(pos, std::move(out));
    }
    if (name == "skip" || name == "limit" || name == "take") {
        f.Count(2, 2);
        std::vector<Val> vals = items_of(0);
        const size_t k = static_cast<size_t>(std::clamp<int64_t>(f.Int(1), 0, static_cast<int64_t>(vals.size())));
        Json out = Json::array();
        const size_t from = name == "skip" ? k : 0, to = name == "skip" ? vals.size() : k;
        for (size_t i = from; i < to; ++i) out.push_back(*vals[i]);
        return Built(pos, std::move(out));
    }
    if (name == "flatten") {
        f.Count(1, 1);
        Json out = Json::array();
        for (const Json& v : f.List(0)) {
            if (v.is_array())
                for (const Json& x : v) out.push_back(x);
            else
                out.push_back(v);
        }
        return Built(pos, std::move(out));
    }
    if (name == "contains") {
        f.Count(2, 2);
        const Json& c = f.At(0);
        if (c.is_string()) return Own(c.get_ref<const std::string&>().find(f.Str(1)) != std::string::npos);
        if (c.is_object()) return Own(f.At(1).is_string() && c.contains(f.At(1).get<std::string>()));
        for (const Json& v : f.List(0)) {
            Spend(pos, 1);
            if (PyEq(v, f.At(1))) return Own(true);
        }
        return Own(false);
    }
    if (name == "indexOf") {
        f.Count(2, 2);
        if (f.At(0).is_string()) {
            const size_t at = f.Str(0).find(f.Str(1));
            if (at == std::string::npos) return Own(-1);
            return Own(static_cast<int64_t>(CodePointCount(std::string_view(f.Str(0)).substr(0, at))));
        }
        const Json& l = f.List(0);
        for (size_t i = 0; i < l.size(); ++i)
            if (PyEq(l[i], f.At(1))) return Own(static_cast<int64_t>(i));
        return Own(-1);
    }
    if (name == "concat") {
        if (!a.kw.empty()) f.Fail("takes no keyword arguments");
        const bool strings = std::all_of(a.pos.begin(), a.pos.end(), [](const Val& v) { return v->is_string(); });
        if (strings) {
            std::string out;
            for (const Val& v : a.pos) {
                Reserve(pos, out.size() + v->get_ref<const std::string&>().size());
                out += v->get_ref<const std::string&>();
            }
            return Built(pos, Json(std::move(out)));
        }
        Json out = Json::array();
        for (size_t i = 0; i < a.pos.size(); ++i)
            for (const Val& v : items_of(i)) out.push_back(*v);
        return Built(pos, std::move(out));
    }
    if (name == "join") {
        f.Count(2, 2);
        // `list.join(sep)` / join(list, sep), and Python's `sep.join(list)`.
        const bool sep_first = f.At(0).is_string() && !f.At(1).is_string();
        const std::string& sep = f.Str(sep_first ? 0 : 1);
        std::string out;
        bool first = true;
        for (const Val& v : items_of(sep_first ? 1 : 0)) {
            if (!first) out += sep;
            first = false;
            out += YaqlStr(*v);
            Reserve(pos, out.size());
        }
        return Built(pos, Json(std::move(out)));
    }
    // Strings
    if (name == "toUpper" || name == "toLower") {
        f.Count(1, 1);
        return Built(pos, Json(name == "toUpper" ? templates::PyUpper(f.Str(0)) : templates::PyLower(f.Str(0))));
    }
    if (name == "trim" || name == "trimLeft" || name == "trimRight") {
        f.Count(1, 2);
        std::string chars;
        const bool has_chars = a.pos.size() > 1 && !f.At(1).is_null();
        if (has_chars) chars = f.Str(1);
        return Built(
            pos,
            Json(templates::PyStrip(f.Str(0), has_chars ? &chars : nullptr, name != "trimRight", name != "trimLeft"))
        );
    }
    if (name == "split") {
        f.Count(1, 3);
        std::string sep;
        const bool has_sep = a.pos.size() > 1 && !f.At(1).is_null();
        if (has_sep) sep = f.Str(1);
        if (has_sep && sep.empty()) f.Fail("empty separator");
        const int64_t max = a.pos.size() > 2 ? f.Int(2) : -1;
        Json out = Json::array();
        for (std::string& part : templates::PySplit(f.Str(0), has_sep ? &sep : nullptr, max))
            out.push_back(std::move(part));
        return Built(pos, std::move(out));
    }
    if (name == "replace") {
        f.Count(3, 4);
        const std::string& s = f.Str(0);
        const std::string &old = f.Str(1), &rep = f.Str(2);
        const int64_t count = a.pos.size() > 3 ? f.Int(3) : -1;
        if (!old.empty() && rep.size() > old.size())
            Reserve(pos, s.size() + (s.size() / old.size()) * (rep.size() - old.size()));
        else if (old.empty())
            Reserve(pos, s.size() + (s.size() + 1) * rep.size());
        return Built(pos, Json(templates::PyReplace(s, old, rep, count)));
    }
    if (name == "startsWith" || name == "endsWith") {
        if (a.pos.size() < 2) f.Count(2, 2);
        if (!a.kw.empty()) f.Fail("takes no keyword arguments");
        const std::string& s = f.Str(0);
        for (size_t i = 1; i < a.pos.size(); ++i)
            if (name == "startsWith" ? s.starts_with(f.Str(i)) : s.ends_with(f.Str(i))) return Own(true);
        return Own(false);
    }
    if (name == "substring") {
        f.Count(2, 3);
        std::vector<std::string> cps = templates::CodePoints(f.Str(0));
        const int64_t n = static_cast<int64_t>(cps.size());
        int64_t start = f.Int(1);
        if (start < 0) start = std::max<int64_t>(0, start + n);
        start = std::min(start, n);
        const int64_t length = a.pos.size() > 2 ? f.Int(2) : -1;
        const int64_t end = length < 0 ? n : std::min(n, start + length);
        std::string out;
        for (int64_t i = start; i < end; ++i) out += cps[static_cast<size_t>(i)];
        return Built(pos, Json(std::move(out)));
    }
    if (name == "format") {
        if (a.pos.empty()) f.Fail("needs a format string");
        return Built(pos, Json(PyFormat(f, f.Str(0), 1)));
    }
    if (name == "matches") {
        f.Count(2, 2);
        auto re = Regex::Cached(f.Str(1), {});
        if (!re) f.Fail(re.error().message);
        return Own((*re)->Search(f.Str(0)));
    }
    // Numbers
    if (name == "abs") {
        f.Count(1, 1);
        const Json& v = f.At(0);
        if (IsInt(v)) {
            if (v.get<int64_t>() == std::numeric_limits<int64_t>::min()) f.Fail("integer overflow");
            return Own(v.get<int64_t>() < 0 ? -v.get<int64_t>() : v.get<int64_t>());
        }
        if (IsNum(v)) return Own(std::fabs(AsDouble(v)));
        f.Fail(std::string("needs a number, not ") + TypeName(v));
    }
    if (name == "round" && a.pos.size() == 2) {
        // round(x, n): a float with n digits after the point, as Python's.
        f.Count(2, 2);
        if (!IsNum(f.At(0))) f.Fail(std::string("needs a number, not ") + TypeName(f.At(0)));
        const int64_t digits = f.Int(1);
        if (IsInt(f.At(0)) && digits >= 0) return a.pos[0];
        if (digits < -18 || digits > 18) f.Fail("cannot round to " + std::to_string(digits) + " digits");
        const double scale = std::pow(10.0, static_cast<double>(digits));
        const double d = std::nearbyint(AsDouble(f.At(0)) * scale) / scale;
        if (!std::isfinite(d)) f.Fail("cannot round " + PyFloatRepr(AsDouble(f.At(0))));
        return Own(d);
    }
    if (name == "round") {
        f.Count(1, 1);
        if (IsInt(f.At(0))) return a.pos[0];
        if (!IsNum(f.At(0))) f.Fail(std::string("needs a number, not ") + TypeName(f.At(0)));
        const double d = std::nearbyint(AsDouble(f.At(0)));  // banker's rounding, as Python's round()
        if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) f.Fail("cannot round " + PyFloatRepr(AsDouble(f.At(0))));
        return Own(static_cast<int64_t>(d));
    }
    // StackStorm's expression functions, which Orquesta registers for YAQL as for Jinja (there: filters).
    if (name == "to_json_string" || name == "json_dump") {
        f.Count(1, 3);
        templates::JsonDumpOptions o;
        o.item_sep = ",";  // json.dumps(separators=(',', ': ')), as st2's to_json_string
        if (a.pos.size() > 1 && !f.At(1).is_null()) o.indent = static_cast<int>(std::clamp<int64_t>(f.Int(1), 0, 64));
        o.sort_keys = a.pos.size() > 2 && Truthy(f.At(2));  // to_json_string(value, indent, sort_keys=False)
        std::string out;
        templates::PyJsonDump(out, f.At(0), o, 0);
        return Built(pos, Json(std::move(out)));
    }
    if (name == "from_json_string" || name == "json_parse") {
        f.Count(1, 1);
        Result<Json> parsed = core::ParseJsonLimited(f.Str(0), "the string");  // bounded: see FilterFromJsonString
        if (!parsed) f.Fail("invalid JSON (" + parsed.error().message + ")");
        return Built(pos, std::move(*parsed));
    }
    if (name == "to_yaml_string" || name == "yaml_dump") {
        f.Count(1, 1);
        return Built(pos, Json(templates::ToYaml(f.At(0))));
    }
    if (name == "from_yaml_string" || name == "yaml_parse") {
        f.Count(1, 1);
        Result<YamlDocument> doc = ParseYaml(f.Str(0), "<string>");
        if (!doc) f.Fail(doc.error().message);
        return Built(pos, std::move(doc->value));
    }
    if (name == "regex_match" || name == "regex_search" || name == "regex_replace" || name == "regex_substring") {
        // (value, pattern[, replacement | result_index][, ignorecase]), as st2's regex filters
        const bool three = name == "regex_replace" || name == "regex_substring";
        if (a.pos.size() < (name == "regex_replace" ? 3u : 2u) || a.pos.size() > (three ? 4u : 3u))
            f.Count(three ? 3 : 2, three ? 4 : 3);
        bool icase = a.pos.size() > (three ? 3u : 2u) && Truthy(f.At(three ? 3 : 2));
        if (const Val* kw = a.Kw("ignorecase")) icase = Truthy(**kw);
        std::string err;
        RegexPtr re = templates::GetRegex(f.Str(1), icase, &err);
        if (!re) f.Fail(err);
        const std::string& text = f.Str(0);
        if (name == "regex_match") return Own(re->MatchStart(text));
        if (name == "regex_search") return Own(re->Search(text));
        if (name == "regex_replace") return Built(pos, Json(re->Replace(text, f.Str(2))));
        int64_t i = a.pos.size() > 2 ? f.Int(2) : 0;
        std::vector<std::vector<std::string>> all = re->FindAllGroups(text);
        const auto count = static_cast<int64_t>(all.size());
        if (i < 0) i += count;
        if (i < 0 || i >= count) f.Fail("no match at index " + std::to_string(i));
        std::vector<std::string>& found = all[static_cast<size_t>(i)];
        if (found.size() == 1) return Built(pos, Json(std::move(found[0])));
        return Built(pos, Json(std::move(found)));
    }
    if (name == "basename" || name == "dirname") {
        f.Count(1, 1);
        return Own(name == "basename" ? templates::Basename(f.Str(0)) : templates::Dirname(f.Str(0)));
    }
    if (name == "use_none") {  // st2's magic string for None; casting an action parameter turns it back
        f.Count(1, 1);
        return f.At(0).is_null() ? Own(Json(templates::kNoneMagicValue)) : a.pos[0];
    }
    if (name == "json_escape") {  // json.dumps(value).strip('"')
        f.Count(1, 1);
        std::string out;
        templates::PyJsonDump(out, f.At(0), templates::JsonDumpOptions{}, 0);
        const size_t first = out.find_first_not_of('"');
        const size_t last = out.find_last_not_of('"');
        return Built(pos, Json(first == std::string::npos ? std::string() : out.substr(first, last - first + 1)));
    }
    if (name == "jsonpath_query") {
        f.Count(2, 2);
        Result<Json> r = templates::JsonPathQuery(f.At(0), f.Str(1));
        if (!r) f.Fail(r.error().message);
        return Built(pos, std::move(*r));
    }
    if (name == "to_human_time_from_seconds") {
        f.Count(1, 1);
        Result<Json> r = templates::HumanTimeFromSeconds(f.At(0));
        if (!r) f.Fail(r.error().message);
        return Own(std::move(*r));
    }
    if (int arity = 0; templates::IsVersionFunction(name, &arity)) {
        f.Count(static_cast<size_t>(arity), static_cast<size_t>(arity));
        Result<Json> r = templates::VersionFunction(name, f.At(0), arity == 2 ? f.At(1) : Json());
        if (!r) f.Fail(r.error().message);
        return Own(std::move(*r));
    }
    if (name == "random") {  // random() in [0, 1); random(from, to) an integer in [from, to]
        f.Count(0, 2);
        thread_local std::mt19937_64 gen{std::random_device{}()};
        if (a.pos.empty()) return Own(std::uniform_real_distribution<double>(0.0, 1.0)(gen));
        if (a.pos.size() != 2) f.Fail("takes no argument or two (from, to)");
        const int64_t lo = f.Int(0), hi = f.Int(1);
        if (lo > hi) f.Fail("from is greater than to");
        return Own(std::uniform_int_distribution<int64_t>(lo, hi)(gen));
    }
    Throw(pos, "unknown function '" + name + "'");
}

std::string ErrorText(size_t pos, const std::string& what, std::string_view expression) {
    return "yaql error at column " + std::to_string(pos + 1) + ": " + what + " in \"" + std::string(expression) + "\"";
}

/// The `<% ... %>` spans of `text` as Orquesta's pattern `<%.*?%>` finds them: the nearest `%>` on the same line.
struct Span {
    size_t open;
    size_t close;  // index of the `%>`
};
std::vector<Span> FindExpressions(std::string_view text) {
    std::vector<Span> out;
    size_t from = 0;
    while (true) {
        const size_t open = text.find("<%", from);
        if (open == std::string_view::npos) return out;
        const size_t close = text.find("%>", open + 2);
        const size_t newline = text.find('\n', open);
        if (close == std::string_view::npos) return out;
        if (newline < close) {
            from = newline + 1;
            continue;
        }
        out.push_back({open, close});
        from = close + 2;
    }
}

}  // namespace

Result<Json> EvaluateYaql(std::string_view expression, const Json& root, const RenderOptions& options) {
    try {
        NodePtr tree = yaql::Parse(expression);
        Evaluator ev(root, options);
        Val v = ev.Eval(*tree);
        return Json(*v);
    } catch (const YaqlFailure& f) {
        return InvalidArgument(ErrorText(std::min(f.pos, expression.size()), f.what, expression));
    } catch (const std::exception& e) {  // nlohmann or allocation failures: still an error, never a throw
        return InvalidArgument(ErrorText(0, e.what(), expression));
    }
}

const std::vector<std::string>& St2FunctionNames() {
    static const std::vector<std::string> kNames = {
        "basename",
        "dirname",
        "from_json_string",
        "from_yaml_string",
        "json_dump",
        "json_parse",
        "json_escape",
        "jsonpath_query",
        "regex_match",
        "regex_replace",
        "regex_search",
        "regex_substring",
        "to_human_time_from_seconds",
        "to_json_string",
        "to_yaml_string",
        "use_none",
        "version_compare",
        "version_more_than",
        "version_less_than",
        "version_equal",
        "version_match",
        "version_bump_major",
        "version_bump_minor",
        "version_bump_patch",
        "version_strip_patch",
        "yaml_dump",
        "yaml_parse",
    };
    return kNames;
}

Result<Json> CallSt2Function(
    const std::string& name, const std::vector<Json>& args, const std::vector<std::pair<std::string, Json>>& kwargs
) {
    const auto& names = St2FunctionNames();
    if (std::find(names.begin(), names.end(), name) == names.end())
        return InvalidArgument("unknown function '" + name + "'");
    // The call as YAQL, over its arguments: name($.a[0], ..., key => $.k.key).
    Json root = {{"a", args}, {"k", Json::object()}};
    std::string expr = name + "(";
    for (size_t i = 0; i < args.size(); ++i) expr += (i ? ", $.a[" : "$.a[") + std::to_string(i) + "]";
    for (const auto& [k, v] : kwargs) {
        const bool ident = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
        });
        if (!ident) return InvalidArgument("bad argument name '" + k + "'");
        root["k"][k] = v;
        expr += (expr.back() == '(' ? "" : ", ") + k + " => $.k." + k;
    }
    expr += ")";
    try {
        NodePtr tree = yaql::Parse(expr);
        const RenderOptions options;  // the evaluator keeps a reference: it must outlive it
        Evaluator ev(root, options);
        Val v = ev.Eval(*tree);
        return Json(*v);
    } catch (const YaqlFailure& f) {
        std::string what = f.what;
        const std::string prefix = name + "(): ";
        if (what.rfind(prefix, 0) == 0) what = what.substr(prefix.size());
        return InvalidArgument(what);
    } catch (const std::exception& e) {
        return InvalidArgument(e.what());
    }
}

std::vector<YaqlSyntaxError> YaqlSyntaxErrors(std::string_view text) {
    std::vector<YaqlSyntaxError> out;
    for (const Span& s : FindExpressions(text)) {
        const std::string_view expression = text.substr(s.open + 2, s.close - s.open - 2);
        std::string what;
        size_t pos = 0;
        try {
            (void)yaql::Parse(expression);
            continue;
        } catch (const YaqlFailure& f) {
            pos = std::min(f.pos, expression.size());
            what = f.what;
        } catch (const std::exception& e) {  // allocation failures: still an error, never a throw
            what = e.what();
        }
        out.push_back({std::string(text.substr(s.open, s.close + 2 - s.open)), ErrorText(pos, what, expression)});
    }
    return out;
}

bool HasYaql(std::string_view text) {
    return !FindExpressions(text).empty();
}

Result<Json> RenderYaqlString(std::string_view text, const Json& root, const RenderOptions& options) {
    const std::vector<Span> spans = FindExpressions(text);
    if (spans.empty()) return Json(std::string(text));
    auto inner = [&](const Span& s) { return text.substr(s.open + 2, s.close - s.open - 2); };
    if (spans.size() == 1) {
        const std::string_view before = text.substr(0, spans[0].open), after = text.substr(spans[0].close + 2);
        auto blank = [](std::string_view s) {
            return std::all_of(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
        };
        if (blank(before) && blank(after)) return EvaluateYaql(inner(spans[0]), root, options);
    }
    std::string out;
    size_t at = 0;
    for (const Span& s : spans) {
        out.append(text.substr(at, s.open - at));
        Result<Json> v = EvaluateYaql(inner(s), root, options);
        if (!v) return v;
        out += v->is_string() ? v->get<std::string>() : PythonStr(*v);
        if (out.size() > options.max_bytes)
            return InvalidArgument(
                ErrorText(0, "exceeded the render budget of " + BudgetBytes(options.max_bytes), inner(s))
            );
        at = s.close + 2;
    }
    out.append(text.substr(at));
    return Json(std::move(out));
}

}  // namespace squall::core
