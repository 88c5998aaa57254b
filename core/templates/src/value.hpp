// A value during evaluation and the Python semantics the evaluator applies to it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "squall/core/model/model.hpp"
#include "squall/core/pyvalue.hpp"

namespace squall::core::templates {

// Values.

/// A value during evaluation: a JSON value (borrowed from the context, the AST or a live local, or owned), an
/// undefined value carrying the name it was looked up by (for error messages), or a lazy datastore handle.
struct Value {
    enum class Kind : uint8_t { kJson, kUndefined, kKvRoot, kKvScope, kKvKey };
    Kind kind = Kind::kUndefined;
    const Json* ref = nullptr;
    Json own;
    std::string name;  // undefined: the name; kv: scope
    std::string key;   // kv key prefix
    std::string hint;  // undefined: why ("no first item", ...)

    static Value Borrow(const Json& j) {
        Value v;
        v.kind = Kind::kJson;
        v.ref = &j;
        return v;
    }
    static Value Own(Json j) {
        Value v;
        v.kind = Kind::kJson;
        v.own = std::move(j);
        return v;
    }
    static Value Undefined(std::string name) {
        Value v;
        v.name = std::move(name);
        return v;
    }
    bool IsJson() const { return kind == Kind::kJson; }
    bool IsUndefined() const { return kind != Kind::kJson; }
    const Json& J() const { return ref ? *ref : own; }
    Json Take() && { return ref ? *ref : std::move(own); }
};

/// A float truncated toward zero as Python's int() does, clamped to 64 bits; NaN gives 0.
int64_t ClampToInt(double x);
/// Python's bool(): a JSON value as PyTruthy, an undefined value false, the datastore handles true.
bool Truthy(const Value& v);
/// Python's str() of the value ("" for an undefined one).
std::string Str(const Value& v);
/// PyCompare as -1/0/1 for sorting (an unordered NaN sorts as equal); false in *ok where Python raises TypeError.
int PyCmp(const Json& a, const Json& b, bool* ok);
/// Python list() of an iterable value: list items, dict keys, string code points. False when not iterable.
bool Iterate(const Json& j, std::vector<Json>* items);

}  // namespace squall::core::templates
