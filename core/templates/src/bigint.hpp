// Python's integers beyond 64 bits, exactly (issue 12 item 3). Within 64 bits an int is a JSON integer (signed, or
// unsigned from 2^63 to 2^64 - 1, as the rest of Squall keeps them); an arithmetic result beyond lives inside JSON
// as the special object {"\0i": "<decimal digits>"} (see value.hpp) and is computed with Boost.Multiprecision's
// cpp_int. A result is normalised back to a JSON integer whenever it fits, so a big int is never within 64 bits.
//
// Bound: an int has at most kMaxIntDigits decimal digits, Python's own limit for converting an int to text
// (sys.int_info.default_max_str_digits, 4300): a template can print no larger int anyway, and the bound keeps
// every operation small (a 4300-digit product is microseconds), so the render budgets keep holding.
#pragma once

#include <boost/multiprecision/cpp_int.hpp>
#include <compare>
#include <optional>
#include <string>

#include "value.hpp"

namespace squall::core::templates {

using BigInt = boost::multiprecision::cpp_int;

inline constexpr size_t kMaxIntDigits = 4300;
/// About the bits of a kMaxIntDigits-digit int (4300 · log2 10), to refuse a power before computing it.
inline constexpr size_t kMaxIntBits = 14286;

/// Python's int: a JSON integer, a bool or a big int.
bool IsAnyInt(const Json& j);
/// Python's int or float (bool included).
bool IsAnyNumber(const Json& j);
/// The value of an IsAnyInt.
BigInt ToBigInt(const Json& j);
/// `n` as a value: a JSON integer when it fits 64 bits, a big int beyond; nullopt beyond kMaxIntDigits digits.
std::optional<Json> FromBigInt(const BigInt& n);
/// float(n) of any int or float; false where Python raises OverflowError ("int too large to convert to float").
bool AnyToDouble(const Json& j, double* out);
/// Python's comparison of two numbers, at least one a big int (a float is compared exactly; NaN is unordered).
std::partial_ordering CompareBig(const Json& a, const Json& b);
/// Python's int(text, base) for a text of digits (sign, no prefix, no underscores handled by the caller) that does
/// not fit 64 bits; false when it is not an int literal or has more than kMaxIntDigits digits.
bool ParseBigInt(const std::string& text, int base, BigInt* out);
/// The int of a finite float, exactly (Python's int(1e20) is 100000000000000000000).
BigInt BigFromDouble(double x);

}  // namespace squall::core::templates
