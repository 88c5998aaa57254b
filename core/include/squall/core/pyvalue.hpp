// Python's value semantics on JSON values, the one definition shared by the template engine (`==`, `<`, `in`,
// `if x`) and the rule operators (equals, lessthan, ...): bool is an int, int and float compare exactly (as
// Python's arbitrary-precision ints do, so 2**63 stored as uint64 is not 2**63 - 1 and 2**53 + 1 is not the float
// 2**53), str compares by code point, list lexicographically, dict only for equality.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>

#include "squall/core/model/model.hpp"

namespace squall::core {

/// int, float or bool (Python's bool is an int).
bool PyIsNumber(const Json& v);
/// int or bool.
bool PyIsInt(const Json& v);
/// Python's bool(v): None, False, 0, 0.0, "", [] and {} are false.
bool PyTruthy(const Json& v);
/// Python's type name: NoneType, bool, int, float, str, list, dict.
const char* PyTypeName(const Json& v);
/// The value as a 64-bit int: a bool as 0/1, a float truncated toward zero, clamped to int64 (NaN → 0).
int64_t PyAsInt(const Json& v);
/// The value as a double (an int beyond 2^53 rounds, as float(n) does).
double PyAsDouble(const Json& v);

/// Python's `a == b`.
bool PyEquals(const Json& a, const Json& b);
/// Python's ordering of `a` and `b`: less/equivalent/greater, unordered when a float is NaN, and nullopt where
/// Python raises TypeError (a str with an int, None with anything, a dict with a dict).
std::optional<std::partial_ordering> PyCompare(const Json& a, const Json& b);

}  // namespace squall::core
