// A value during evaluation and the Python semantics the evaluator applies to it.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "squall/core/model/model.hpp"
#include "squall/core/pyvalue.hpp"

namespace squall::core::templates {

struct Stmt;

// Values.

// Python values JSON has no type for live inside JSON values as objects whose first key starts with a NUL byte
// (no JSON from a payload, file or datastore is expected to have one): a tuple is {"\0t": [items]} (a named tuple,
// groupby's, adds {"\0tf": [field names]}), an undefined value kept in a list or dict (`[missing]`,
// `map(attribute='x')` where x is missing) is {"\0u": "name"}, and an int beyond 64 bits is {"\0i": "digits"}
// (bigint.hpp). They print as Python does (`(1, 2)`, `Undefined`, the digits) and become plain JSON (a list, null,
// the digits as a string) when a value leaves the template (see Plain).
inline const std::string kTupleKey("\0t", 2);
inline const std::string kTupleFieldsKey("\0tf", 3);
inline const std::string kUndefinedKey("\0u", 2);
inline const std::string kBigIntKey("\0i", 2);
/// True for a tuple or an undefined value inside JSON.
inline bool IsSpecial(const Json& j) {
    if (!j.is_object() || j.empty()) return false;
    const std::string& k = j.begin().key();
    return !k.empty() && k[0] == '\0';
}
inline bool IsTuple(const Json& j) {
    return IsSpecial(j) && j.begin().key() == kTupleKey;
}
inline bool IsUndefinedJson(const Json& j) {
    return IsSpecial(j) && j.begin().key() == kUndefinedKey;
}
/// An int beyond 64 bits (bigint.hpp makes them).
inline bool IsBigInt(const Json& j) {
    return IsSpecial(j) && j.begin().key() == kBigIntKey;
}
/// The decimal digits of a big int (a leading '-' when negative).
inline const std::string& BigIntDigits(const Json& j) {
    return j.begin()->get_ref<const std::string&>();
}
/// The big int of `digits` (bigint.hpp's FromBigInt normalises; this only wraps).
Json MakeBigInt(std::string digits);
/// Python's type name, with tuple and int for the special values.
const char* TypeName(const Json& j);
/// A tuple of `items` (an array); `fields` names them (a named tuple) when not empty.
Json MakeTuple(Json items, const std::vector<std::string>& fields = {});
/// The items of a tuple (an array).
inline const Json& TupleItems(const Json& t) {
    return *t.begin();
}
/// An undefined value, named, to keep inside a list or dict.
Json UndefinedJson(const std::string& name);
/// `j` as plain JSON: tuples as lists, undefined values as null, big ints as their digits (a string: JSON has no
/// exact type for them, and StackStorm's store refuses them), recursively. `*had_undefined` (if given) is set
/// when an undefined value was replaced.
/// `keep_big` keeps big ints as they are (for a writer that prints them, as tojson).
Json Plain(const Json& j, bool* had_undefined = nullptr, bool keep_big = false);
/// True when `j` has a tuple or an undefined value anywhere inside.
bool HasSpecial(const Json& j);

/// A value during evaluation: a JSON value (borrowed from the context, the AST or a live local, or owned), an
/// undefined value carrying the name it was looked up by (for error messages), or a lazy datastore handle.
struct Value {
    enum class Kind : uint8_t { kJson, kUndefined, kKvRoot, kKvScope, kKvKey, kMacro };
    Kind kind = Kind::kUndefined;
    const Json* ref = nullptr;
    const Stmt* macro = nullptr;  // kMacro: the `{% macro %}` (or `{% call %}` block, as `caller`)
    Json own;
    std::string name;            // undefined: the name; kv: scope
    std::string key;             // kv key prefix
    const char* hint = nullptr;  // undefined: why ("No first item, ...": a literal)

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
    /// Not JSON but defined: the datastore root and scopes, a macro.
    bool IsDefinedHandle() const { return kind == Kind::kKvRoot || kind == Kind::kKvScope || kind == Kind::kMacro; }
    const Json& J() const { return ref ? *ref : own; }
    Json Take() && { return ref ? *ref : std::move(own); }
};

/// An element taken out of a list, dict or tuple as a value: an undefined value kept there comes out undefined.
inline Value Element(const Json& j, bool borrow) {
    if (IsUndefinedJson(j)) [[unlikely]]
        return Value::Undefined(j.begin()->get<std::string>());
    return borrow ? Value::Borrow(j) : Value::Own(j);
}
/// A value to keep in a list or dict: an undefined one is kept as such (named), a datastore handle as null.
Json ToElement(Value v);

/// A float truncated toward zero as Python's int() does, clamped to 64 bits; NaN gives 0.
int64_t ClampToInt(double x);
/// Python's bool(): a JSON value as PyTruthy, an undefined value false, the datastore handles true.
bool Truthy(const Value& v);
/// Python's str() of the value ("" for an undefined one).
std::string Str(const Value& v);
/// PyCompare as -1/0/1 for sorting (an unordered NaN sorts as equal); false in *ok where Python raises TypeError.
int PyCmp(const Json& a, const Json& b, bool* ok);
/// One step of a Jinja attribute path (`attribute='a.b.0'`): a name, or an index.
struct AttrStep {
    std::string name;
    int64_t index = 0;
    bool is_index = false;
};
using AttrPath = std::vector<AttrStep>;
/// Jinja's _prepare_attribute_parts: a str is split at dots, parts of digits are indexes; an int is one index;
/// null (no attribute) is the empty path (the item itself).
AttrPath MakeAttrPath(const Json& attribute);
/// environment.getitem along `path` (a name looks in a dict, an index in a list or str); null where a step is
/// missing (Jinja's Undefined). `scratch` holds a result that is not inside `item` (a character of a str).
const Json* FollowAttrPath(const Json& item, const AttrPath& path, Json* scratch);

/// Python's `a == b` as PyEquals, with big ints (equal to a float of the same value).
bool TEquals(const Json& a, const Json& b);
/// Python's ordering as PyCompare, with tuples (compared with tuples, item by item) inside lists and tuples.
std::optional<std::partial_ordering> TCompare(const Json& a, const Json& b);
/// Python list() of an iterable value: list or tuple items, dict keys, string code points. False when not iterable.
bool Iterate(const Json& j, std::vector<Json>* items);

}  // namespace squall::core::templates
