// YAQL's values (yaql_values.hpp).
#include "yaql_values.hpp"

#include <cmath>
#include <limits>

#include "pystr.hpp"
#include "squall/templates/template.hpp"
#include "st2fns.hpp"

namespace squall::core::yaql {

using templates::CodePointCount;
using templates::PyFloatRepr;

Val Own(Json j) {
    return std::make_shared<const Json>(std::move(j));
}
Val Child(const Val& parent, const Json& child) {
    return Val(parent, &child);
}

const char* TypeName(const Json& j) {
    switch (j.type()) {
        case Json::value_t::null:
            return "null";
        case Json::value_t::boolean:
            return "boolean";
        case Json::value_t::number_integer:
        case Json::value_t::number_unsigned:
            return "integer";
        case Json::value_t::number_float:
            return "float";
        case Json::value_t::string:
            return "string";
        case Json::value_t::array:
            return "list";
        case Json::value_t::object:
            return "dict";
        default:
            return "value";
    }
}

bool IsInt(const Json& j) {
    return j.is_number_integer() && !(j.is_number_unsigned() && j.get<uint64_t>() > INT64_MAX);
}
bool IsNum(const Json& j) {
    return j.is_number();
}
double AsDouble(const Json& j) {
    return j.get<double>();
}

/// Python truthiness.
bool Truthy(const Json& j) {
    switch (j.type()) {
        case Json::value_t::null:
            return false;
        case Json::value_t::boolean:
            return j.get<bool>();
        case Json::value_t::number_integer:
            return j.get<int64_t>() != 0;
        case Json::value_t::number_unsigned:
            return j.get<uint64_t>() != 0;
        case Json::value_t::number_float:
            return j.get<double>() != 0;
        case Json::value_t::string:
            return !j.get_ref<const std::string&>().empty();
        case Json::value_t::array:
        case Json::value_t::object:
            return !j.empty();
        default:
            return true;
    }
}

/// Python's ==, where True == 1 and 1 == 1.0.
bool PyEq(const Json& a, const Json& b) {
    const bool an = a.is_number() || a.is_boolean(), bn = b.is_number() || b.is_boolean();
    if (an && bn) {
        auto as_num = [](const Json& j) { return j.is_boolean() ? (j.get<bool>() ? 1.0 : 0.0) : j.get<double>(); };
        if (IsInt(a) && IsInt(b)) return a.get<int64_t>() == b.get<int64_t>();
        return as_num(a) == as_num(b);
    }
    if (a.type() != b.type()) return false;
    if (a.is_array()) {
        if (a.size() != b.size()) return false;
        for (size_t i = 0; i < a.size(); ++i)
            if (!PyEq(a[i], b[i])) return false;
        return true;
    }
    if (a.is_object()) {
        if (a.size() != b.size()) return false;
        for (auto it = a.begin(); it != a.end(); ++it) {
            auto other = b.find(it.key());
            if (other == b.end() || !PyEq(*it, *other)) return false;
        }
        return true;
    }
    return a == b;
}

/// Python's ordering of two values: -1, 0, 1, or nullopt when they cannot be compared.
std::optional<int> PyCmp(const Json& a, const Json& b) {
    const bool an = a.is_number() || a.is_boolean(), bn = b.is_number() || b.is_boolean();
    if (an && bn) {
        if (IsInt(a) && IsInt(b)) {
            const int64_t x = a.get<int64_t>(), y = b.get<int64_t>();
            return x < y ? -1 : x > y ? 1 : 0;
        }
        auto as_num = [](const Json& j) { return j.is_boolean() ? (j.get<bool>() ? 1.0 : 0.0) : j.get<double>(); };
        const double x = as_num(a), y = as_num(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.is_string() && b.is_string()) {
        const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    if (a.is_array() && b.is_array()) {
        for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
            if (PyEq(a[i], b[i])) continue;
            return PyCmp(a[i], b[i]);
        }
        return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
    }
    return std::nullopt;
}

/// YAQL's str(): null, true and false as YAQL spells them; other values as Python prints them.
std::string YaqlStr(const Json& j) {
    if (j.is_null()) return "null";
    if (j.is_boolean()) return j.get<bool>() ? "true" : "false";
    if (j.is_string()) return j.get<std::string>();
    return PythonStr(j);
}

/// Approximate bytes a value occupies, stopping once past `cap`.
uint64_t ApproxBytes(const Json& j, uint64_t cap) {
    if (j.is_string()) return 16 + j.get_ref<const std::string&>().size();
    if (!j.is_array() && !j.is_object()) return 16;
    uint64_t n = 16;
    for (auto it = j.begin(); it != j.end() && n <= cap; ++it) {
        n += ApproxBytes(*it, cap - n);
        if (j.is_object()) n += it.key().size();
    }
    return n;
}

std::string BudgetBytes(uint64_t bytes) {
    if (bytes % (uint64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
    return std::to_string(bytes) + " bytes";
}

}  // namespace squall::core::yaql
