#include "squall/core/pyvalue.hpp"

#include <cmath>
#include <limits>
#include <string>

namespace squall::core {
namespace {

constexpr double kTwo63 = 9223372036854775808.0;   // 2^63, exact as a double
constexpr double kTwo64 = 18446744073709551616.0;  // 2^64

// An integer as sign and magnitude: every int64, uint64 and bool fits.
struct Int {
    bool negative = false;
    uint64_t magnitude = 0;
};

Int ToInt(const Json& v) {
    if (v.is_boolean()) return {false, v.get<bool>() ? 1U : 0U};
    if (v.is_number_unsigned()) return {false, v.get<uint64_t>()};
    const int64_t i = v.get<int64_t>();
    if (i >= 0) return {false, static_cast<uint64_t>(i)};
    return {true, static_cast<uint64_t>(-(i + 1)) + 1};  // no overflow at INT64_MIN
}

std::strong_ordering CompareInts(Int a, Int b) {
    if (a.negative != b.negative) return a.negative ? std::strong_ordering::less : std::strong_ordering::greater;
    if (a.negative) return b.magnitude <=> a.magnitude;
    return a.magnitude <=> b.magnitude;
}

// An integer against a double, exactly (Python compares int and float without rounding the int).
std::partial_ordering CompareIntDouble(Int a, double d) {
    if (std::isnan(d)) return std::partial_ordering::unordered;
    if (d >= kTwo64) return std::partial_ordering::less;
    if (d <= -kTwo64) return std::partial_ordering::greater;
    const double t = std::trunc(d);
    const Int ti = t < 0 ? Int{true, static_cast<uint64_t>(-t)} : Int{false, static_cast<uint64_t>(t)};
    const std::strong_ordering c = CompareInts(a, ti.magnitude == 0 ? Int{} : ti);
    if (c != 0) return c;
    // Same integer part: the fraction decides.
    if (d > t) return std::partial_ordering::less;
    if (d < t) return std::partial_ordering::greater;
    return std::partial_ordering::equivalent;
}

std::partial_ordering CompareNumbers(const Json& a, const Json& b) {
    const bool af = a.is_number_float();
    const bool bf = b.is_number_float();
    if (af && bf) return a.get<double>() <=> b.get<double>();
    if (!af && !bf) return CompareInts(ToInt(a), ToInt(b));
    if (bf) return CompareIntDouble(ToInt(a), b.get<double>());
    const std::partial_ordering c = CompareIntDouble(ToInt(b), a.get<double>());
    if (c == std::partial_ordering::less) return std::partial_ordering::greater;
    if (c == std::partial_ordering::greater) return std::partial_ordering::less;
    return c;
}

}  // namespace

bool PyIsNumber(const Json& v) {
    return v.is_number() || v.is_boolean();
}

bool PyIsInt(const Json& v) {
    return v.is_number_integer() || v.is_boolean();
}

bool PyTruthy(const Json& v) {
    switch (v.type()) {
        case Json::value_t::null:
            return false;
        case Json::value_t::boolean:
            return v.get<bool>();
        case Json::value_t::number_float:
            return v.get<double>() != 0;
        case Json::value_t::number_integer:
            return v.get<int64_t>() != 0;
        case Json::value_t::number_unsigned:
            return v.get<uint64_t>() != 0;
        case Json::value_t::string:
            return !v.get_ref<const std::string&>().empty();
        case Json::value_t::array:
        case Json::value_t::object:
            return !v.empty();
        default:
            return true;
    }
}

const char* PyTypeName(const Json& v) {
    switch (v.type()) {
        case Json::value_t::null:
            return "NoneType";
        case Json::value_t::boolean:
            return "bool";
        case Json::value_t::number_float:
            return "float";
        case Json::value_t::number_integer:
        case Json::value_t::number_unsigned:
            return "int";
        case Json::value_t::string:
            return "str";
        case Json::value_t::array:
            return "list";
        case Json::value_t::object:
            return "dict";
        default:
            return "object";
    }
}

int64_t PyAsInt(const Json& v) {
    if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
    if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        return u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                              : static_cast<int64_t>(u);
    }
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float()) {
        const double x = v.get<double>();
        if (std::isnan(x)) return 0;
        if (x >= kTwo63) return std::numeric_limits<int64_t>::max();
        if (x <= -kTwo63) return std::numeric_limits<int64_t>::min();
        return static_cast<int64_t>(x);
    }
    return 0;
}

double PyAsDouble(const Json& v) {
    if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
    if (v.is_number()) return v.get<double>();  // nlohmann converts int64 and uint64 with rounding, as float() does
    return 0;
}

bool PyEquals(const Json& a, const Json& b) {
    if (PyIsNumber(a) && PyIsNumber(b)) return CompareNumbers(a, b) == std::partial_ordering::equivalent;
    if (a.type() != b.type()) return false;
    switch (a.type()) {
        case Json::value_t::string:
            return a.get_ref<const std::string&>() == b.get_ref<const std::string&>();
        case Json::value_t::null:
            return true;
        case Json::value_t::array: {
            if (a.size() != b.size()) return false;
            for (size_t i = 0; i < a.size(); ++i) {
                if (!PyEquals(a[i], b[i])) return false;
            }
            return true;
        }
        case Json::value_t::object: {
            if (a.size() != b.size()) return false;
            for (auto it = a.begin(); it != a.end(); ++it) {
                auto jt = b.find(it.key());
                if (jt == b.end() || !PyEquals(*it, *jt)) return false;
            }
            return true;
        }
        default:
            return a == b;
    }
}

std::optional<std::partial_ordering> PyCompare(const Json& a, const Json& b) {
    if (PyIsNumber(a) && PyIsNumber(b)) return CompareNumbers(a, b);
    if (a.is_string() && b.is_string()) {
        // UTF-8 byte order is code point order.
        const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
        return c <=> 0;
    }
    if (a.is_array() && b.is_array()) {
        const size_t n = std::min(a.size(), b.size());
        for (size_t i = 0; i < n; ++i) {
            if (PyEquals(a[i], b[i])) continue;
            return PyCompare(a[i], b[i]);
        }
        return a.size() <=> b.size();
    }
    return std::nullopt;
}

}  // namespace squall::core
