#include "bigint.hpp"

#include <cmath>
#include <cstdint>
#include <limits>

#include "squall/core/pyvalue.hpp"

namespace squall::core::templates {

bool IsAnyInt(const Json& j) {
    return PyIsInt(j) || IsBigInt(j);
}

bool IsAnyNumber(const Json& j) {
    return PyIsNumber(j) || IsBigInt(j);
}

BigInt ToBigInt(const Json& j) {
    if (IsBigInt(j)) return BigInt(BigIntDigits(j));
    if (j.is_number_unsigned()) return BigInt(j.get<uint64_t>());
    return BigInt(PyAsInt(j));
}

std::optional<Json> FromBigInt(const BigInt& n) {
    if (n >= std::numeric_limits<int64_t>::min() && n <= std::numeric_limits<int64_t>::max())
        return Json(n.convert_to<int64_t>());
    if (n > 0 && n <= std::numeric_limits<uint64_t>::max()) return Json(n.convert_to<uint64_t>());
    if (boost::multiprecision::msb(boost::multiprecision::abs(n)) > kMaxIntBits + 8) return std::nullopt;
    std::string digits = n.str();
    if (digits.size() - (digits[0] == '-' ? 1 : 0) > kMaxIntDigits) return std::nullopt;
    return MakeBigInt(std::move(digits));
}

bool AnyToDouble(const Json& j, double* out) {
    if (!IsBigInt(j)) {
        *out = PyAsDouble(j);
        return true;
    }
    *out = ToBigInt(j).convert_to<double>();
    return std::isfinite(*out);
}

BigInt BigFromDouble(double x) {
    return BigInt(std::trunc(x));
}

std::partial_ordering CompareBig(const Json& a, const Json& b) {
    if (a.is_number_float() || b.is_number_float()) {
        const bool af = a.is_number_float();
        const double f = (af ? a : b).get<double>();
        if (std::isnan(f)) return std::partial_ordering::unordered;
        // The float against the int: an infinite float is beyond every int; a finite one by its integral part,
        // then its fraction.
        std::partial_ordering c = std::partial_ordering::equivalent;
        if (std::isinf(f)) {
            c = f > 0 ? std::partial_ordering::greater : std::partial_ordering::less;
        } else {
            const BigInt whole = BigFromDouble(f);
            const BigInt other = ToBigInt(af ? b : a);
            const double frac = f - std::trunc(f);
            if (whole != other)
                c = whole < other ? std::partial_ordering::less : std::partial_ordering::greater;
            else if (frac != 0)
                c = frac < 0 ? std::partial_ordering::less : std::partial_ordering::greater;
        }
        if (!af) c = 0 <=> c;  // the float was b: the order from a's side
        return c;
    }
    const BigInt x = ToBigInt(a);
    const BigInt y = ToBigInt(b);
    return x < y   ? std::partial_ordering::less
           : x > y ? std::partial_ordering::greater
                   : std::partial_ordering::equivalent;
}

bool ParseBigInt(const std::string& text, int base, BigInt* out) {
    if (base < 2 || base > 36) return false;
    size_t i = 0;
    bool neg = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) neg = text[i++] == '-';
    if (i == text.size() || text.size() - i > kMaxIntDigits) return false;
    BigInt n = 0;
    for (; i < text.size(); ++i) {
        const char c = text[i];
        int d = 0;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'z')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'Z')
            d = c - 'A' + 10;
        else
            return false;
        if (d >= base) return false;
        n = n * base + d;
    }
    *out = neg ? BigInt(-n) : n;
    return FromBigInt(*out).has_value();
}

}  // namespace squall::core::templates
