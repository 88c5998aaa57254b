// The built-in tests (`is defined`, `is even`, ...), each registered by name in the one builtin table.
#include <cctype>
#include <cmath>
#include <string>

#include "bigint.hpp"
#include "evaluator.hpp"

namespace squall::core::templates {

Value Evaluator::EvalTest(const Expr& e) {
    Value v = Eval(*e.args[0]);
    if (error) return {};
    Args args;
    if (!EvalArgs(e, &args)) return {};
    return ApplyTest(e, e.name, v, args, e.negated);
}

Value Evaluator::ApplyTest(const Expr& e, const std::string& n, const Value& v, const Args& args, bool negated) {
    const TestFn* t = Builtins().Test(n);
    if (!t) return Fail(e.pos, "unknown test \"" + n + "\"");
    Value r = (this->*(*t))(e, n, v, args);
    if (error) return {};
    return Value::Own(negated != r.J().get<bool>());
}

Value Evaluator::TestDefined(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    const bool def = v.IsJson() || v.IsDefinedHandle();
    return Value::Own(def);
}

Value Evaluator::TestUndefined(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    const bool def = v.IsJson() || v.IsDefinedHandle();
    return Value::Own(!def);
}

Value Evaluator::TestNone(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    const Json null_json;
    const Json& j = v.IsJson() ? v.J() : null_json;
    return Value::Own(v.IsJson() && j.is_null());
}

Value Evaluator::TestString(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    const Json null_json;
    const Json& j = v.IsJson() ? v.J() : null_json;
    return Value::Own(v.IsJson() && j.is_string());
}

Value Evaluator::TestNumber(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    const Json null_json;
    const Json& j = v.IsJson() ? v.J() : null_json;
    return Value::Own(v.IsJson() && IsAnyNumber(j));
}

Value Evaluator::TestBoolean(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    const Json null_json;
    const Json& j = v.IsJson() ? v.J() : null_json;
    return Value::Own(v.IsJson() && j.is_boolean());
}

Value Evaluator::TestInteger(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    const Json null_json;
    const Json& j = v.IsJson() ? v.J() : null_json;
    return Value::Own(v.IsJson() && (j.is_number_integer() || IsBigInt(j)));
}

Value Evaluator::TestFloat(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    const Json null_json;
    const Json& j = v.IsJson() ? v.J() : null_json;
    return Value::Own(v.IsJson() && j.is_number_float());
}

Value Evaluator::TestMapping(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    const Json null_json;
    const Json& j = v.IsJson() ? v.J() : null_json;
    return Value::Own(v.IsJson() && j.is_object() && !IsSpecial(j));
}

Value Evaluator::TestIterable(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    const Json null_json;
    const Json& j = v.IsJson() ? v.J() : null_json;
    return Value::Own(
        v.IsJson() ? (j.is_string() || j.is_array() || (j.is_object() && !IsBigInt(j))) : n == "iterable"
    );
}

Value Evaluator::TestFilter(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    const Json null_json;
    const Json& j = v.IsJson() ? v.J() : null_json;
    bool r = false;
    r = v.IsJson() && j.is_string() &&
        (n == "filter" ? Builtins().Filter(j.get_ref<const std::string&>()) != nullptr
                       : Builtins().Test(j.get_ref<const std::string&>()) != nullptr);
    return Value::Own(r);
}

Value Evaluator::TestTrue(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    const Json null_json;
    const Json& j = v.IsJson() ? v.J() : null_json;
    return Value::Own(v.IsJson() && j.is_boolean() && j.get<bool>() == (n == "true"));
}

Value Evaluator::TestLower(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    bool r = false;
    const std::string s = Str(v);
    bool cased = false;
    r = true;
    for (char c : s) {
        if (std::isalpha(static_cast<unsigned char>(c))) {
            cased = true;
            if ((n == "lower") ? std::isupper(static_cast<unsigned char>(c))
                               : std::islower(static_cast<unsigned char>(c)))
                r = false;
        }
    }
    r = r && cased;
    return Value::Own(r);
}

Value Evaluator::TestEven(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    const Json null_json;
    const Json& j = v.IsJson() ? v.J() : null_json;
    bool r = false;
    if (!v.IsJson()) return Undef(*e.args[0], v);
    int64_t d = 2;
    if (n == "divisibleby") {
        const Value* a = args.Get(0, "num");
        if (!a || !a->IsJson() || !PyIsNumber(a->J())) return Fail(e.pos, "divisibleby needs a number");
        d = PyAsInt(a->J());
        if (d == 0) return Fail(e.pos, "integer division or modulo by zero");
    }
    if (!IsAnyNumber(j))
        return Fail(e.pos, std::string("unsupported operand type(s) for %: '") + TypeName(j) + "' and 'int'");
    if (IsBigInt(j)) {
        BigInt m = ToBigInt(j) % d;  // the sign of the dividend; Python's has the divisor's
        if (m != 0 && ((m < 0) != (d < 0))) m += d;
        r = n == "odd" ? m == 1 : m == 0;
    } else if (j.is_number_float()) {
        const double m = std::fmod(j.get<double>(), static_cast<double>(d));
        r = n == "odd" ? m == 1 || m == -1 : m == 0;
    } else {
        int64_t m = PyAsInt(j) % d;
        if (m != 0 && ((m < 0) != (d < 0))) m += d;
        r = n == "odd" ? m == 1 : m == 0;
    }
    return Value::Own(r);
}

Value Evaluator::TestCompare(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    const Json null_json;
    const Json& j = v.IsJson() ? v.J() : null_json;
    bool r = false;
    const Value* a = args.Get(0, "b");
    if (!a) return Fail(e.pos, "test '" + n + "' needs an argument");
    if (n == "sameas") {
        // Python's `is`: the same value (both borrowed from one place), or values Python keeps once: None, the
        // bools and the small ints.
        if (v.IsJson() && a->IsJson() && v.ref && v.ref == a->ref) {
            r = true;
        } else if (v.IsJson() && a->IsJson()) {
            const Json& b = a->J();
            r = (j.is_null() && b.is_null()) || (j.is_boolean() && b.is_boolean() && j == b) ||
                (j.is_number_integer() && b.is_number_integer() && PyEquals(j, b) && PyAsInt(j) >= -5 &&
                 PyAsInt(j) <= 256);
        } else {
            r = !v.IsJson() && !a->IsJson();
        }
    } else if (n == "eq" || n == "equalto" || n == "ne") {
        const bool eq = v.IsJson() && a->IsJson() ? PyEquals(j, a->J()) && (n != "sameas" || j.type() == a->J().type())
                                                  : (!v.IsJson() && !a->IsJson());
        r = n == "ne" ? !eq : eq;
    } else if (n == "in") {
        if (!In(e, v, *a, &r)) return {};
    } else {
        if (!v.IsJson()) return Undef(*e.args[0], v);
        if (!a->IsJson()) return Fail(e.pos, "'" + n + "' comparison with an undefined value");
        const std::optional<std::partial_ordering> c = TCompare(j, a->J());
        if (!c)
            return Fail(
                e.pos,
                "comparison not supported between '" + std::string(TypeName(j)) + "' and '" + TypeName(a->J()) + "'"
            );
        r = n == "lt" ? *c < 0 : n == "gt" ? *c > 0 : n == "le" ? *c <= 0 : *c >= 0;
    }
    return Value::Own(r);
}

Value Evaluator::TestCallable(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    // A macro is callable; no value is escaped markup (there is no autoescaping).
    return Value::Own(n == "callable" && v.kind == Value::Kind::kMacro);
}

void RegisterTests(BuiltinTable& table) {
    table.tests = {
        {"defined", &Evaluator::TestDefined},   {"undefined", &Evaluator::TestUndefined},
        {"none", &Evaluator::TestNone},         {"string", &Evaluator::TestString},
        {"number", &Evaluator::TestNumber},     {"boolean", &Evaluator::TestBoolean},
        {"integer", &Evaluator::TestInteger},   {"float", &Evaluator::TestFloat},
        {"mapping", &Evaluator::TestMapping},   {"sequence", &Evaluator::TestIterable},
        {"iterable", &Evaluator::TestIterable}, {"filter", &Evaluator::TestFilter},
        {"test", &Evaluator::TestFilter},       {"true", &Evaluator::TestTrue},
        {"false", &Evaluator::TestTrue},        {"lower", &Evaluator::TestLower},
        {"upper", &Evaluator::TestLower},       {"even", &Evaluator::TestEven},
        {"odd", &Evaluator::TestEven},          {"divisibleby", &Evaluator::TestEven},
        {"eq", &Evaluator::TestCompare},        {"equalto", &Evaluator::TestCompare},
        {"ne", &Evaluator::TestCompare},        {"lt", &Evaluator::TestCompare},
        {"gt", &Evaluator::TestCompare},        {"le", &Evaluator::TestCompare},
        {"ge", &Evaluator::TestCompare},        {"in", &Evaluator::TestCompare},
        {"sameas", &Evaluator::TestCompare},    {"callable", &Evaluator::TestCallable},
        {"escaped", &Evaluator::TestCallable},
    };
}

}  // namespace squall::core::templates
