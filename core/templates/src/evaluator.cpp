// The template evaluator (see evaluator.hpp) and the builtin table.
#include "evaluator.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <mutex>

#include "bigint.hpp"

namespace squall::core::templates {

namespace {

const std::string kFilterBody = kFilterBodyName;

// Approximate bytes of a JSON value (16 per node plus string bytes), walking no further than `cap`.
uint64_t ApproxSize(const Json& v, uint64_t cap) {
    uint64_t n = 16;
    if (v.is_string()) return n + v.get_ref<const std::string&>().size();
    if (v.is_array() || v.is_object()) {
        for (auto it = v.begin(); it != v.end() && n <= cap; ++it) {
            if (v.is_object()) n += it.key().size();
            n += ApproxSize(*it, cap > n ? cap - n : 0);
        }
    }
    return n;
}

// What one loop iteration costs in steps: it builds the `loop` object (nine entries), about as much work as
// evaluating twenty expression nodes.
constexpr uint64_t kLoopIterationSteps = 20;

std::string BudgetBytes(uint64_t bytes) {
    if (bytes % (uint64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
    return std::to_string(bytes) + " bytes";
}

}  // namespace

std::string ErrorText(std::string_view source, size_t pos, const std::string& what) {
    size_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < pos && i < source.size(); ++i) {
        if (source[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    }
    const size_t col = pos - line_start + 1;
    std::string where =
        line > 1 ? "line " + std::to_string(line) + " column " + std::to_string(col) : "column " + std::to_string(col);
    return "template error at " + where + ": " + what + " in \"" + std::string(source) + "\"";
}

// The dotted name of an access chain (`trigger.body.x`, `a['k'][0]`), for undefined-value messages.
std::string ExprPath(const Expr& e) {
    switch (e.kind) {
        case Ek::kName:
            return e.name;
        case Ek::kGetAttr:
            return ExprPath(*e.args[0]) + "." + e.name;
        case Ek::kGetItem: {
            const Expr& k = *e.args[1];
            if (k.kind == Ek::kLiteral && k.literal.is_string())
                return ExprPath(*e.args[0]) + "." + k.literal.get<std::string>();
            if (k.kind == Ek::kLiteral) return ExprPath(*e.args[0]) + "[" + k.literal.dump() + "]";
            return ExprPath(*e.args[0]) + "[...]";
        }
        default:
            return "value";
    }
}

size_t ChainStart(const Expr& e) {
    if ((e.kind == Ek::kGetAttr || e.kind == Ek::kGetItem || e.kind == Ek::kSlice) && e.args[0])
        return ChainStart(*e.args[0]);
    return e.pos;
}

bool Evaluator::Exec(const Body& body, std::string& out) {
    for (const Stmt& s : body) {
        switch (s.kind) {
            case Sk::kData:
                if (!Spend(s.pos, 0, s.text.size())) return false;
                out += s.text;
                break;
            case Sk::kOutput: {
                Value v = Eval(*s.expr);
                if (error) return false;
                if (opts_.strict_undefined && v.kind == Value::Kind::kUndefined) {
                    Undef(*s.expr, v);
                    return false;
                }
                if (v.IsJson() && v.J().is_string()) {
                    const std::string& text = v.J().get_ref<const std::string&>();
                    if (!Spend(s.pos, 0, text.size())) return false;
                    out += text;
                } else {
                    const std::string text = Str(v);
                    if (!Spend(s.pos, 0, text.size())) return false;
                    out += text;
                }
                break;
            }
            case Sk::kIf: {
                bool done = false;
                for (const auto& [cond, b] : s.branches) {
                    Value c = Eval(*cond);
                    if (error) return false;
                    if (Truthy(c)) {
                        if (!Exec(b, out)) return false;
                        done = true;
                        break;
                    }
                }
                if (!done && !Exec(s.else_body, out)) return false;
                break;
            }
            case Sk::kFor:
                if (!ExecFor(s, out)) return false;
                break;
            case Sk::kSet: {
                Value v = Eval(*s.expr);
                if (error) return false;
                if (!s.attr.empty()) {
                    if (!SetAttr(s, std::move(v))) return false;
                } else if (s.targets.size() > 1) {
                    std::vector<Json> parts;
                    if (!v.IsJson() || !Iterate(v.J(), &parts) || parts.size() != s.targets.size()) {
                        Fail(
                            s.pos,
                            parts.size() > s.targets.size()
                                ? "too many values to unpack (expected " + std::to_string(s.targets.size()) + ")"
                                : "not enough values to unpack (expected " + std::to_string(s.targets.size()) +
                                      ", got " + std::to_string(parts.size()) + ")"
                        );
                        return false;
                    }
                    for (size_t k = 0; k < parts.size(); ++k) Assign(s.targets[k], Element(parts[k], false));
                } else {
                    Assign(s.targets[0], v.IsJson() ? Value::Own(std::move(v).Take()) : std::move(v));
                }
                break;
            }
            case Sk::kWith:
            case Sk::kFilterBlock:
            case Sk::kMacro:
            case Sk::kCallBlock:
                if (!ExecScoped(s, out)) return false;
                break;
            case Sk::kSetBlock: {
                std::string text;
                if (!Exec(s.body, text)) return false;
                if (s.expr) {  // `{% set x | filter %}`: the filters see the body as kFilterBody
                    const size_t before = locals_.size();
                    locals_.emplace_back(&kFilterBody, Value::Own(Json(std::move(text))));
                    Value v = Eval(*s.expr);
                    locals_.resize(before);
                    if (error) return false;
                    Assign(s.targets[0], v.IsJson() ? Value::Own(std::move(v).Take()) : std::move(v));
                    break;
                }
                Assign(s.targets[0], Value::Own(Json(std::move(text))));
                break;
            }
        }
    }
    return true;
}

Value Evaluator::Eval(const Expr& e) {
    if (!Spend(e.pos, 1)) return {};
    Value v = EvalNode(e);
    if (v.IsJson() && !v.ref && !SpendBuilt(e.pos, v)) return {};
    return v;
}

Value Evaluator::EvalNode(const Expr& e) {
    switch (e.kind) {
        case Ek::kLiteral:
            return Value::Borrow(e.literal);
        case Ek::kName:
            return Lookup(e.name);
        case Ek::kGetAttr: {
            Value base = Eval(*e.args[0]);
            if (error) return {};
            return GetAttr(e, base, e.name);
        }
        case Ek::kGetItem: {
            Value base = Eval(*e.args[0]);
            if (error) return {};
            Value key = Eval(*e.args[1]);
            if (error) return {};
            if (key.IsJson() && key.J().is_string()) return GetAttr(e, base, key.J().get_ref<const std::string&>());
            return GetItem(e, base, key);
        }
        case Ek::kSlice:
            return EvalSlice(e);
        case Ek::kNeg:
        case Ek::kPos: {
            Value v = Eval(*e.args[0]);
            if (error) return {};
            if (!v.IsJson()) return Undef(e, v);
            const Json& j = v.J();
            if (!IsAnyNumber(j))
                return Fail(
                    e.pos,
                    std::string("bad operand type for unary ") + (e.kind == Ek::kNeg ? "-" : "+") + ": '" +
                        TypeName(j) + "'"
                );
            if (e.kind == Ek::kPos) return j.is_boolean() ? Value::Own(PyAsInt(j)) : std::move(v);
            if (j.is_number_float()) return Value::Own(-j.get<double>());
            int64_t negated = 0;
            if (!IsBigInt(j) && !(j.is_number_unsigned() && j.get<uint64_t>() > INT64_MAX) &&
                !__builtin_sub_overflow(int64_t{0}, PyAsInt(j), &negated))
                return Value::Own(negated);
            return Value::Own(*FromBigInt(-ToBigInt(j)));  // the same number of digits
        }
        case Ek::kNot: {
            Value v = Eval(*e.args[0]);
            if (error) return {};
            return Value::Own(!Truthy(v));
        }
        case Ek::kAnd:
        case Ek::kOr: {
            Value l = Eval(*e.args[0]);
            if (error) return {};
            const bool t = Truthy(l);
            if ((e.kind == Ek::kAnd) != t) return l;
            return Eval(*e.args[1]);
        }
        case Ek::kCond: {
            Value c = Eval(*e.args[0]);
            if (error) return {};
            if (Truthy(c)) return Eval(*e.args[1]);
            if (e.args.size() > 2) return Eval(*e.args[2]);
            return Value::Undefined("");
        }
        case Ek::kBinary:
            return EvalBinary(e);
        case Ek::kCompare:
            return EvalCompare(e);
        case Ek::kConcat: {
            std::string s;
            for (const auto& a : e.args) {
                Value v = Eval(*a);
                if (error) return {};
                s += Str(v);
            }
            return Value::Own(std::move(s));
        }
        case Ek::kList: {
            Json arr = Json::array();
            for (const auto& a : e.args) {
                Value v = Eval(*a);
                if (error) return {};
                arr.push_back(ToElement(std::move(v)));
            }
            if (e.name == "tuple") return Value::Own(MakeTuple(std::move(arr)));
            return Value::Own(std::move(arr));
        }
        case Ek::kDict: {
            Json obj = Json::object();
            for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
                Value k = Eval(*e.args[i]);
                if (error) return {};
                Value v = Eval(*e.args[i + 1]);
                if (error) return {};
                obj[Str(k)] = ToElement(std::move(v));
            }
            return Value::Own(std::move(obj));
        }
        case Ek::kFilter:
            return EvalFilter(e);
        case Ek::kTest:
            return EvalTest(e);
        case Ek::kCall:
            return EvalCall(e);
    }
    return {};
}

Value Evaluator::Fail(size_t pos, const std::string& what) {
    if (!error) error = InvalidArgument(ErrorText(t_.source, pos, what));
    return {};
}

Value Evaluator::Undef(const Expr& e, const Value& v) {
    if (v.hint) return Fail(e.pos, v.hint);
    if (v.name.empty()) return Fail(e.pos, "value is undefined");
    return Fail(ChainStart(e), "'" + v.name + "' is undefined");
}

Value Evaluator::Lookup(const std::string& name) {
    for (auto it = locals_.rbegin(); it != locals_.rend(); ++it) {
        if (*it->first == name) return it->second.IsJson() ? Value::Borrow(it->second.J()) : it->second;
    }
    if (root_.is_object()) {
        auto it = root_.find(name);
        if (it != root_.end()) return Value::Borrow(*it);
    }
    if (name == "st2kv") {
        Value v;
        v.kind = Value::Kind::kKvRoot;
        return v;
    }
    if (name == "system" && opts_.kv_system_alias) {
        Value v;
        v.kind = Value::Kind::kKvScope;
        v.name = name;
        return v;
    }
    return Value::Undefined(name);
}

Value Evaluator::GetAttr(const Expr& e, const Value& base, const std::string& name) {
    switch (base.kind) {
        case Value::Kind::kUndefined:
            return Undef(e, base);
        case Value::Kind::kKvRoot: {
            if (name != "system" && name != "user") return Value::Undefined("st2kv." + name);
            Value v;
            v.kind = Value::Kind::kKvScope;
            v.name = name;
            return v;
        }
        case Value::Kind::kKvScope:
        case Value::Kind::kKvKey: {
            const std::string key = base.key.empty() ? name : base.key + "." + name;
            std::optional<std::string> got = opts_.kv ? opts_.kv->Get(base.name, key) : std::nullopt;
            if (got) return Value::Own(Json(std::move(*got)));
            Value v;
            v.kind = Value::Kind::kKvKey;
            v.name = base.name;
            v.key = key;
            return v;
        }
        case Value::Kind::kJson:
            break;
    }
    const Json& j = base.J();
    if (j.is_object()) {
        // A name never starts with NUL, so a tuple or kept-undefined marker has no entry for it.
        auto it = j.find(name);
        if (it != j.end()) return Element(*it, base.ref != nullptr);
        if (IsTuple(j)) {
            // A named tuple's fields (groupby's `grouper` and `list`); a digit attribute indexes any tuple.
            auto f = j.find(kTupleFieldsKey);
            if (f != j.end()) {
                for (size_t i = 0; i < f->size() && i < TupleItems(j).size(); ++i) {
                    if ((*f)[i] == name) return Element(TupleItems(j)[i], base.ref != nullptr);
                }
            }
            if (!name.empty() && std::isdigit(static_cast<unsigned char>(name[0])) && e.kind == Ek::kGetAttr)
                return GetItem(e, base, Value::Own(std::stoll(name)));
        }
    } else if (j.is_array() && !name.empty() && std::isdigit(static_cast<unsigned char>(name[0])) && e.kind == Ek::kGetAttr) {
        return GetItem(e, base, Value::Own(std::stoll(name)));
    }
    return Value::Undefined(ExprPath(e));
}

Value Evaluator::GetItem(const Expr& e, const Value& base, const Value& key) {
    if (!base.IsJson()) return Undef(e, base);
    const Json& j = IsTuple(base.J()) ? TupleItems(base.J()) : base.J();
    if (key.IsJson() && PyIsInt(key.J())) {
        int64_t i = PyAsInt(key.J());
        if (j.is_array()) {
            const auto n = static_cast<int64_t>(j.size());
            if (i < 0) i += n;
            if (i >= 0 && i < n) return Element(j[static_cast<size_t>(i)], base.ref != nullptr);
        } else if (j.is_string()) {
            auto cps = CodePoints(j.get_ref<const std::string&>());
            const auto n = static_cast<int64_t>(cps.size());
            if (i < 0) i += n;
            if (i >= 0 && i < n) return Value::Own(Json(cps[static_cast<size_t>(i)]));
        }
    }
    return Value::Undefined(ExprPath(e));
}

Value Evaluator::EvalSlice(const Expr& e) {
    Value base = Eval(*e.args[0]);
    if (error) return {};
    int64_t parts[3] = {0, 0, 1};
    bool given[3] = {false, false, false};
    for (int k = 0; k < 3; ++k) {
        if (!e.args[static_cast<size_t>(k) + 1]) continue;
        Value v = Eval(*e.args[static_cast<size_t>(k) + 1]);
        if (error) return {};
        if (v.IsJson() && v.J().is_null()) continue;
        if (!v.IsJson() || !PyIsInt(v.J())) return Fail(e.pos, "slice indices must be integers or None");
        parts[k] = PyAsInt(v.J());
        given[k] = true;
    }
    if (!base.IsJson()) return Undef(e, base);
    const Json& j = base.J();
    std::vector<Json> items;
    if ((j.is_object() && !IsTuple(j)) || !Iterate(j, &items))
        return Fail(e.pos, std::string("'") + TypeName(j) + "' object is not subscriptable");
    const int64_t step = parts[2];
    if (step == 0) return Fail(e.pos, "slice step cannot be zero");
    const auto n = static_cast<int64_t>(items.size());
    auto norm = [&](int64_t v, bool g, int64_t def_pos, int64_t def_neg) {
        if (!g) return step > 0 ? def_pos : def_neg;
        if (v < 0) v += n;
        if (step > 0) return std::clamp<int64_t>(v, 0, n);
        return std::clamp<int64_t>(v, -1, n - 1);
    };
    const int64_t start = norm(parts[0], given[0], 0, n - 1);
    const int64_t stop = norm(parts[1], given[1], n, -1);
    Json out = Json::array();
    std::string s;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (j.is_string())
            s += items[static_cast<size_t>(i)].get_ref<const std::string&>();
        else
            out.push_back(items[static_cast<size_t>(i)]);
    }
    if (j.is_string()) return Value::Own(Json(std::move(s)));
    if (IsTuple(j)) return Value::Own(MakeTuple(std::move(out)));
    return Value::Own(std::move(out));
}

Value Evaluator::PercentFormat(const Expr& e, const std::string& text, const Value& r, bool tuple) {
    std::vector<const Json*> args;
    const Json* mapping = nullptr;
    if (tuple) {
        for (const Json& x : TupleItems(r.J())) args.push_back(&x);
    } else {
        args.push_back(r.IsJson() ? &r.J() : nullptr);
        if (r.IsJson() && (r.J().is_object() || r.J().is_array())) mapping = &r.J();
    }
    std::string out;
    std::string err;
    if (!PyPercentFormat(text, args, mapping, &out, &err)) return Fail(e.pos, err);
    return Value::Own(Json(std::move(out)));
}

Value Evaluator::FloatArith(const Expr& e, const std::string& op, double x, double y) {
    if (op == "+") return Value::Own(x + y);
    if (op == "-") return Value::Own(x - y);
    if (op == "*") return Value::Own(x * y);
    if (op == "/") {
        if (y == 0) return Fail(e.pos, "division by zero");
        return Value::Own(x / y);
    }
    if (op == "//" || op == "%") {
        if (y == 0) return Fail(e.pos, op == "%" ? "modulo by zero" : "integer division or modulo by zero");
        double m = std::fmod(x, y);
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        if (op == "%") return Value::Own(m);
        return Value::Own(std::round((x - m) / y));
    }
    // **
    if (x == 0 && y < 0) return Fail(e.pos, "0.0 cannot be raised to a negative power");
    return Value::Own(std::pow(x, y));
}

Value Evaluator::BigArith(const Expr& e, const std::string& op, const Json& a, const Json& b) {
    const BigInt x = ToBigInt(a);
    const BigInt y = ToBigInt(b);
    BigInt r;
    if (op == "+") {
        r = x + y;
    } else if (op == "-") {
        r = x - y;
    } else if (op == "*") {
        r = x * y;
    } else if (op == "/") {
        // int / int is a float: the quotient of the two floats (Python rounds the exact quotient once; this may
        // differ in the last bit for operands beyond 2**53).
        double fx = 0;
        double fy = 0;
        if (!AnyToDouble(a, &fx) || !AnyToDouble(b, &fy))
            return Fail(e.pos, "integer division result too large for a float");
        return FloatArith(e, op, fx, fy);
    } else if (op == "//" || op == "%") {
        if (y == 0) return Fail(e.pos, op == "%" ? "modulo by zero" : "integer division or modulo by zero");
        BigInt q = x / y;  // truncates toward zero; Python floors
        BigInt m = x - q * y;
        if (m != 0 && ((m < 0) != (y < 0))) {
            m += y;
            --q;
        }
        r = op == "%" ? m : q;
    } else {  // **
        if (y < 0) {
            double fx = 0;
            double fy = 0;
            if (!AnyToDouble(a, &fx) || !AnyToDouble(b, &fy)) return Fail(e.pos, "int too large to convert to float");
            return FloatArith(e, op, fx, fy);
        }
        const BigInt ax = boost::multiprecision::abs(x);
        if (ax <= 1) {
            r = x == 0 ? BigInt(y == 0 ? 1 : 0) : x == 1 || (y % 2 == 0) ? BigInt(1) : BigInt(-1);
        } else {
            // Refused before it is computed: |x| ** y has more than (msb(|x|)) * y bits.
            const size_t bits = boost::multiprecision::msb(ax);
            if (y > BigInt(kMaxIntBits) || static_cast<size_t>(y.convert_to<uint64_t>()) * bits > kMaxIntBits)
                return Fail(
                    e.pos,
                    "integer too large: the result of ** would have more than " + std::to_string(kMaxIntDigits) +
                        " digits"
                );
            r = boost::multiprecision::pow(x, y.convert_to<unsigned>());
        }
    }
    std::optional<Json> out = FromBigInt(r);
    if (!out)
        return Fail(
            e.pos,
            "integer too large: the result of " + op + " has more than " + std::to_string(kMaxIntDigits) + " digits"
        );
    return Value::Own(std::move(*out));
}

Value Evaluator::EvalBinary(const Expr& e) {
    Value l = Eval(*e.args[0]);
    if (error) return {};
    Value r = Eval(*e.args[1]);
    if (error) return {};
    if (!l.IsJson()) return Undef(*e.args[0], l);
    if (e.name == "%" && l.J().is_string()) {
        const bool tuple = r.IsJson() && IsTuple(r.J());
        return PercentFormat(e, l.J().get_ref<const std::string&>(), r, tuple);
    }
    if (!r.IsJson()) return Undef(*e.args[1], r);
    const Json& a = l.J();
    const Json& b = r.J();
    const std::string& op = e.name;
    auto unsupported = [&]() {
        return Fail(
            e.pos, "unsupported operand type(s) for " + op + ": '" + TypeName(a) + "' and '" + TypeName(b) + "'"
        );
    };
    if (IsAnyNumber(a) && IsAnyNumber(b)) {
        const bool fl = a.is_number_float() || b.is_number_float();
        if (fl) {
            double x = 0;
            double y = 0;
            if (!AnyToDouble(a, &x) || !AnyToDouble(b, &y)) return Fail(e.pos, "int too large to convert to float");
            return FloatArith(e, op, x, y);
        }
        // Python's integers have no limit: within 64 bits the arithmetic is native; a result beyond (the builtins
        // say so) or a big operand is computed with cpp_int (bigint.hpp).
        if (!IsBigInt(a) && !IsBigInt(b)) {
            const int64_t x = PyAsInt(a);
            const int64_t y = PyAsInt(b);
            const bool small = !(a.is_number_unsigned() && a.get<uint64_t>() > INT64_MAX) &&
                               !(b.is_number_unsigned() && b.get<uint64_t>() > INT64_MAX);
            int64_t res = 0;
            if (small && op == "+" && !__builtin_add_overflow(x, y, &res)) return Value::Own(res);
            if (small && op == "-" && !__builtin_sub_overflow(x, y, &res)) return Value::Own(res);
            if (small && op == "*" && !__builtin_mul_overflow(x, y, &res)) return Value::Own(res);
            if (op == "/") return FloatArith(e, op, PyAsDouble(a), PyAsDouble(b));
            if (small && (op == "//" || op == "%") && y != 0 && y != -1) {
                int64_t q = x / y;
                int64_t m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) {
                    m += y;
                    --q;
                }
                return op == "%" ? Value::Own(m) : Value::Own(q);
            }
        }
        return BigArith(e, op, a, b);
    }
    if (IsTuple(a) && IsTuple(b) && op == "+") {
        Json out = TupleItems(a);
        out.insert(out.end(), TupleItems(b).begin(), TupleItems(b).end());
        return Value::Own(MakeTuple(std::move(out)));
    }
    if (op == "+") {
        if (a.is_string() && b.is_string())
            return Value::Own(Json(a.get_ref<const std::string&>() + b.get_ref<const std::string&>()));
        if (a.is_array() && b.is_array()) {
            Json out = a;
            out.insert(out.end(), b.begin(), b.end());
            return Value::Own(std::move(out));
        }
    }
    if (op == "*" &&
        ((PyIsInt(b) && (a.is_string() || a.is_array())) || (PyIsInt(a) && (b.is_string() || b.is_array())))) {
        const Json& seq = PyIsInt(b) ? a : b;
        const int64_t n = PyIsInt(b) ? PyAsInt(b) : PyAsInt(a);
        Json out = seq.is_string() ? Json("") : Json::array();
        const size_t unit = seq.is_string() ? seq.get_ref<const std::string&>().size() : seq.size();
        if (n <= 0 || unit == 0) return Value::Own(std::move(out));
        // A bound on what one template may build (a rule's parameters are rendered per event).
        constexpr size_t kMaxRepeated = size_t{16} * 1024 * 1024;
        if (static_cast<uint64_t>(n) > kMaxRepeated / unit)
            return Fail(e.pos, "result of * too large (more than 16 MiB characters or items)");
        const uint64_t left = opts_.max_bytes > bytes_ ? opts_.max_bytes - bytes_ : 0;
        const uint64_t each = seq.is_string() ? unit : ApproxSize(seq, left);
        if (static_cast<uint64_t>(n) > left / std::max<uint64_t>(each, 1))
            return Fail(e.pos, "exceeded the render budget of " + BudgetBytes(opts_.max_bytes));
        for (int64_t k = 0; k < n; ++k) {
            if (seq.is_string())
                out.get_ref<std::string&>() += seq.get_ref<const std::string&>();
            else
                out.insert(out.end(), seq.begin(), seq.end());
        }
        return Value::Own(std::move(out));
    }
    if (op == "+" && a.is_string() != b.is_string() && (a.is_string() || b.is_string())) {
        if (a.is_string())
            return Fail(e.pos, std::string("can only concatenate str (not \"") + TypeName(b) + "\") to str");
    }
    return unsupported();
}

bool Evaluator::In(const Expr& e, const Value& l, const Value& r, bool* result) {
    if (!r.IsJson()) {
        *result = false;
        return true;
    }
    const Json& b = r.J();
    if (b.is_string()) {
        if (!l.IsJson() || !l.J().is_string()) {
            Fail(
                e.pos,
                std::string("'in <string>' requires string as left operand, not ") +
                    (l.IsJson() ? TypeName(l.J()) : "Undefined")
            );
            return false;
        }
        *result = b.get_ref<const std::string&>().find(l.J().get_ref<const std::string&>()) != std::string::npos;
        return true;
    }
    if (b.is_array() || IsTuple(b)) {
        const Json& items = IsTuple(b) ? TupleItems(b) : b;
        *result =
            l.IsJson() && std::any_of(items.begin(), items.end(), [&](const Json& x) { return TEquals(l.J(), x); });
        return true;
    }
    if (b.is_object() && !IsBigInt(b)) {
        *result = l.IsJson() && l.J().is_string() && b.contains(l.J().get_ref<const std::string&>());
        return true;
    }
    Fail(e.pos, std::string("argument of type '") + TypeName(b) + "' is not iterable");
    return false;
}

Value Evaluator::EvalCompare(const Expr& e) {
    Value l = Eval(*e.args[0]);
    if (error) return {};
    for (size_t k = 0; k < e.ops.size(); ++k) {
        Value r = Eval(*e.args[k + 1]);
        if (error) return {};
        const std::string& op = e.ops[k];
        bool res = false;
        if (op == "==" || op == "!=") {
            bool eq;
            if (!l.IsJson() || !r.IsJson())
                eq = !l.IsJson() && !r.IsJson();
            else
                eq = TEquals(l.J(), r.J());
            res = (op == "==") == eq;
        } else if (op == "in" || op == "notin") {
            if (!In(e, l, r, &res)) return {};
            if (op == "notin") res = !res;
        } else {
            if (!l.IsJson()) return Undef(*e.args[k], l);
            if (!r.IsJson()) return Undef(*e.args[k + 1], r);
            const std::optional<std::partial_ordering> c = TCompare(l.J(), r.J());
            if (!c)
                return Fail(
                    e.pos,
                    "'" + op + "' not supported between instances of '" + TypeName(l.J()) + "' and '" +
                        TypeName(r.J()) + "'"
                );
            res = op == "<" ? *c < 0 : op == ">" ? *c > 0 : op == "<=" ? *c <= 0 : *c >= 0;
        }
        if (!res) return Value::Own(false);
        l = std::move(r);
    }
    return Value::Own(true);
}

bool Evaluator::EvalArgs(const Expr& e, Args* args) {
    std::vector<Value> spread_kw;  // the `**mapping` arguments, whose entries come after the keyword arguments
    for (size_t i = e.has_subject ? 1 : 0; i < e.args.size(); ++i) {
        Value v = Eval(*e.args[i]);
        if (error) return false;
        if (e.args[i]->spread == 0) {
            args->pos.push_back(std::move(v));
            continue;
        }
        // `*seq` gives its items as positional arguments, `**mapping` its entries as keyword arguments.
        if (!v.IsJson()) {
            if (e.args[i]->spread == 2) Undef(*e.args[i], v);
            if (error) return false;
            continue;  // *Undefined is no arguments
        }
        std::vector<Json> items;
        if (e.args[i]->spread == 2) {
            if (!v.J().is_object() || IsSpecial(v.J())) {
                Fail(e.args[i]->pos, "argument after ** must be a mapping");
                return false;
            }
            spread_kw.push_back(std::move(v));
        } else if (Iterate(v.J(), &items)) {
            for (const Json& x : items) args->pos.push_back(Element(x, false));
        } else {
            Fail(e.args[i]->pos, "argument after * must be an iterable");
            return false;
        }
    }
    for (const auto& [k, a] : e.kwargs) {
        args->kw.emplace_back(k, Eval(*a));
        if (error) return false;
    }
    // As Jinja passes them (its `**mapping` is the call's last argument): `dict(a=1, **d)` has `a` first.
    for (const Value& v : spread_kw) {
        for (auto it = v.J().begin(); it != v.J().end(); ++it) args->kw.emplace_back(it.key(), Element(*it, false));
    }
    return true;
}

void Evaluator::Assign(const std::string& name, Value v) {
    for (size_t i = locals_.size(); i > frame_; --i) {
        if (*locals_[i - 1].first == name) {
            locals_[i - 1].second = std::move(v);
            return;
        }
    }
    locals_.emplace_back(&name, std::move(v));
}

bool Evaluator::SetAttr(const Stmt& s, Value v) {
    for (auto it = locals_.rbegin(); it != locals_.rend(); ++it) {
        if (*it->first == s.targets[0] && it->second.IsJson() && it->second.J().is_object()) {
            Value& slot = it->second;
            if (slot.ref) {
                slot.own = *slot.ref;
                slot.ref = nullptr;
            }
            slot.own[s.attr] = ToElement(std::move(v));
            return true;
        }
    }
    Fail(s.pos, "cannot assign attribute on non-namespace object");
    return false;
}

bool Evaluator::ExecFor(const Stmt& s, std::string& out) {
    Value seq = Eval(*s.expr);
    if (error) return false;
    return ExecForOver(s, seq, 1, out);
}

bool Evaluator::ExecForOver(const Stmt& s, const Value& seq, int loop_depth, std::string& out) {
    std::vector<Value> items;
    if (seq.IsJson()) {
        const Json& j = IsTuple(seq.J()) ? TupleItems(seq.J()) : seq.J();
        if (j.is_array()) {
            items.reserve(j.size());
            for (const Json& x : j) items.push_back(Element(x, seq.ref != nullptr));
        } else if (IsSpecial(j)) {
            Fail(s.expr->pos, "'Undefined' object is not iterable");
            return false;
        } else if (j.is_object()) {
            for (auto it = j.begin(); it != j.end(); ++it) items.push_back(Value::Own(Json(it.key())));
        } else if (j.is_string()) {
            for (auto& c : CodePoints(j.get_ref<const std::string&>())) items.push_back(Value::Own(Json(std::move(c))));
        } else {
            Fail(s.expr->pos, std::string("'") + TypeName(j) + "' object is not iterable");
            return false;
        }
    }
    const size_t saved_size = locals_.size();
    const size_t saved_frame = frame_;
    frame_ = saved_size;
    auto bind = [&](const Value& item) -> bool {
        if (s.targets.size() == 1) {
            locals_.emplace_back(&s.targets[0], item.IsJson() ? Value::Borrow(item.J()) : item);
            return true;
        }
        std::vector<Json> parts;
        if (!item.IsJson() || !Iterate(item.J(), &parts) || parts.size() != s.targets.size()) {
            const size_t n = parts.size();
            Fail(
                s.pos,
                n > s.targets.size() ? "too many values to unpack (expected " + std::to_string(s.targets.size()) + ")"
                                     : "not enough values to unpack (expected " + std::to_string(s.targets.size()) +
                                           ", got " + std::to_string(n) + ")"
            );
            return false;
        }
        for (size_t k = 0; k < s.targets.size(); ++k) locals_.emplace_back(&s.targets[k], Element(parts[k], false));
        return true;
    };
    if (s.cond) {
        std::vector<Value> kept;
        for (Value& item : items) {
            if (!bind(item)) return false;
            Value c = Eval(*s.cond);
            locals_.resize(saved_size);
            if (error) return false;
            if (Truthy(c)) kept.push_back(std::move(item));
        }
        items = std::move(kept);
    }
    static const std::string kLoop = "loop";
    ++depth_;
    loop_changed_.emplace_back();  // loop.changed()'s last value: none yet
    if (s.recursive) recursive_loops_.push_back({&s, loop_depth, depth_});
    const size_t n = items.size();
    for (size_t i = 0; i < n; ++i) {
        if (!Spend(s.pos, kLoopIterationSteps)) return false;
        if (!bind(items[i])) return false;
        Json loop = {
            {"index", i + 1},
            {"index0", i},
            {"revindex", n - i},
            {"revindex0", n - i - 1},
            {"first", i == 0},
            {"last", i + 1 == n},
            {"length", n},
            {"depth", loop_depth},
            {"depth0", loop_depth - 1},
        };
        if (i > 0 && items[i - 1].IsJson()) loop["previtem"] = items[i - 1].J();
        if (i + 1 < n && items[i + 1].IsJson()) loop["nextitem"] = items[i + 1].J();
        // The copies of the neighbours are work proportional to their size.
        if (loop.size() > 9 && !Spend(s.pos, ApproxSize(loop, uint64_t{1} << 40) / 64)) return false;
        locals_.emplace_back(&kLoop, Value::Own(std::move(loop)));
        const bool ok = Exec(s.body, out);
        locals_.resize(saved_size);
        if (!ok) return false;
    }
    if (s.recursive) recursive_loops_.pop_back();
    --depth_;
    loop_changed_.pop_back();
    frame_ = saved_frame;
    if (n == 0) return Exec(s.else_body, out);
    return true;
}

bool Evaluator::Spend(size_t pos, uint64_t steps, uint64_t bytes) {
    steps_ += steps + bytes / 64;
    bytes_ += bytes;
    if (steps_ > opts_.max_steps) {
        Fail(pos, "exceeded the render budget of " + std::to_string(opts_.max_steps) + " steps");
        return false;
    }
    if (bytes_ > opts_.max_bytes) {
        Fail(pos, "exceeded the render budget of " + BudgetBytes(opts_.max_bytes));
        return false;
    }
    return !error;
}

bool Evaluator::SpendSort(size_t pos, size_t n) {
    return Spend(pos, static_cast<uint64_t>(n) * std::bit_width(n));
}

bool Evaluator::SpendIterated(size_t pos, const Value& v) {
    if (!v.IsJson() || !v.J().is_string()) return !error;
    return Spend(pos, 0, 48 * v.J().get_ref<const std::string&>().size());  // a JSON str node per character
}

bool Evaluator::SpendBuilt(size_t pos, const Value& v) {
    const Json& j = v.J();
    if (j.is_string()) return Spend(pos, 0, j.get_ref<const std::string&>().size());
    if (j.is_array() || j.is_object()) {
        const uint64_t left = opts_.max_bytes > bytes_ ? opts_.max_bytes - bytes_ : 0;
        return Spend(pos, 0, ApproxSize(j, left));
    }
    return !error;
}

const FilterFn* BuiltinTable::Filter(std::string_view name) const {
    auto it = filters.find(name);
    return it == filters.end() ? nullptr : &it->second;
}

const TestFn* BuiltinTable::Test(std::string_view name) const {
    auto it = tests.find(name);
    return it == tests.end() ? nullptr : &it->second;
}

const FunctionFn* BuiltinTable::Function(std::string_view name) const {
    auto it = functions.find(name);
    return it == functions.end() ? nullptr : &it->second;
}

const BuiltinTable& Builtins() {
    static const BuiltinTable kTable = [] {
        BuiltinTable t;
        RegisterFilters(t);
        RegisterTests(t);
        RegisterFunctions(t);
        return t;
    }();
    return kTable;
}

namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

}  // namespace

namespace {

template <typename Map>
std::string ClosestName(const Map& names, std::string_view name) {
    std::string best;
    size_t best_d = 3;
    for (const auto& [k, fn] : names) {
        const size_t d = EditDistance(name, k);
        if (d < best_d && d < name.size()) {
            best_d = d;
            best = k;
        }
    }
    return best;
}

}  // namespace

std::string ClosestOf(const std::map<std::string, FilterFn, std::less<>>& names, std::string_view name) {
    return ClosestName(names, name);
}

std::string ClosestOf(const std::map<std::string, TestFn, std::less<>>& names, std::string_view name) {
    return ClosestName(names, name);
}

}  // namespace squall::core::templates

namespace squall::core::templates {

namespace {
const std::string kCallerName = "caller";
const std::string kVarargsName = "varargs";
const std::string kKwargsName = "kwargs";
/// How deep macros may call macros: each level is a few evaluator frames on the native stack. Python's own
/// recursion limit stops Jinja near 1000 Python frames (a few hundred macro levels).
constexpr int kMaxMacroDepth = 100;
}  // namespace

bool Evaluator::ExecScoped(const Stmt& s, std::string& out) {
    const size_t saved_size = locals_.size();
    const size_t saved_frame = frame_;
    auto restore = [&]() {
        locals_.resize(saved_size);
        frame_ = saved_frame;
    };
    switch (s.kind) {
        case Sk::kWith: {
            // The values are evaluated in the enclosing scope, then bound in a new one (a `set` inside stays there).
            std::vector<Value> values;
            for (const auto& v : s.values) {
                Value x = Eval(*v);
                if (error) return false;
                values.push_back(x.IsJson() ? Value::Own(std::move(x).Take()) : std::move(x));
            }
            frame_ = saved_size;
            for (size_t k = 0; k < values.size(); ++k) locals_.emplace_back(&s.targets[k], std::move(values[k]));
            const bool ok = Exec(s.body, out);
            restore();
            return ok;
        }
        case Sk::kFilterBlock: {
            std::string body;
            frame_ = saved_size;
            const bool ok = Exec(s.body, body);
            restore();
            if (!ok) return false;
            locals_.emplace_back(&kFilterBody, Value::Own(Json(std::move(body))));
            Value v = Eval(*s.expr);
            restore();
            if (error) return false;
            const std::string text = Str(v);
            if (!Spend(s.pos, 0, text.size())) return false;
            out += text;
            return true;
        }
        case Sk::kMacro: {
            Value m;
            m.kind = Value::Kind::kMacro;
            m.macro = &s;
            Assign(s.attr, std::move(m));
            return true;
        }
        case Sk::kCallBlock: {
            Value caller;
            caller.kind = Value::Kind::kMacro;
            caller.macro = &s;
            locals_.emplace_back(&kCallerName, std::move(caller));
            Value v = Eval(*s.expr);
            restore();
            if (error) return false;
            const std::string text = Str(v);
            if (!Spend(s.pos, 0, text.size())) return false;
            out += text;
            return true;
        }
        default:
            return Exec(s.body, out);
    }
}

const Stmt* Evaluator::FindMacro(const std::string& name) const {
    for (auto it = locals_.rbegin(); it != locals_.rend(); ++it) {
        if (*it->first == name) return it->second.kind == Value::Kind::kMacro ? it->second.macro : nullptr;
    }
    return nullptr;
}

Value Evaluator::CallMacro(const Expr& e, const Stmt& m, Args& args) {
    const std::string name = m.attr.empty() ? "caller" : m.attr;
    const size_t np = m.targets.size();
    if (args.pos.size() > np && !m.uses_varargs)
        return Fail(e.pos, "macro '" + name + "' takes not more than " + std::to_string(np) + " argument(s)");
    Json extra_kw = Json::object();
    for (auto& [k, v] : args.kw) {
        if (std::find(m.targets.begin(), m.targets.end(), k) != m.targets.end()) continue;
        if (!m.uses_kwargs) return Fail(e.pos, "macro '" + name + "' takes no keyword argument '" + k + "'");
        extra_kw[k] = ToElement(v);
    }
    if (macro_depth_ >= kMaxMacroDepth)
        return Fail(
            e.pos,
            "maximum recursion depth exceeded (macros nested more than " + std::to_string(kMaxMacroDepth) +
                " calls deep)"
        );
    ++macro_depth_;
    const size_t saved_size = locals_.size();
    const size_t saved_frame = frame_;
    frame_ = saved_size;
    bool ok = true;
    for (size_t i = 0; i < np && ok; ++i) {
        Value v;
        bool given = false;
        if (i < args.pos.size()) {
            v = args.pos[i];
            given = true;
        } else {
            for (auto& [k, a] : args.kw) {
                if (k == m.targets[i]) {
                    v = a;
                    given = true;
                }
            }
        }
        if (!given) {
            // A default is evaluated at the call, seeing the parameters before it; none: undefined.
            if (m.values[i]) {
                v = Eval(*m.values[i]);
                ok = !error;
            } else {
                v = Value::Undefined(m.targets[i]);
            }
        }
        if (v.IsJson() && v.ref) v = Value::Own(v.J());
        locals_.emplace_back(&m.targets[i], std::move(v));
    }
    if (ok && m.uses_varargs) {
        Json rest = Json::array();
        for (size_t i = np; i < args.pos.size(); ++i) rest.push_back(ToElement(args.pos[i]));
        locals_.emplace_back(&kVarargsName, Value::Own(MakeTuple(std::move(rest))));
    }
    if (ok && m.uses_kwargs) locals_.emplace_back(&kKwargsName, Value::Own(std::move(extra_kw)));
    std::string out;
    ok = ok && Exec(m.body, out);
    locals_.resize(saved_size);
    frame_ = saved_frame;
    --macro_depth_;
    if (!ok) return {};
    return Value::Own(Json(std::move(out)));
}

}  // namespace squall::core::templates
