#include "value.hpp"

#include <compare>
#include <optional>

#include "pystr.hpp"
#include "squall/templates/template.hpp"

namespace squall::core::templates {

int64_t ClampToInt(double x) {
    return PyAsInt(Json(x));
}

bool Truthy(const Value& v) {
    if (!v.IsJson()) return v.kind == Value::Kind::kKvRoot || v.kind == Value::Kind::kKvScope;
    return PyTruthy(v.J());
}

std::string Str(const Value& v) {
    if (!v.IsJson()) return "";
    const Json& j = v.J();
    if (j.is_string()) return j.get_ref<const std::string&>();
    return PythonStr(j);
}

int PyCmp(const Json& a, const Json& b, bool* ok) {
    const std::optional<std::partial_ordering> c = PyCompare(a, b);
    if (!c) {
        *ok = false;
        return 0;
    }
    return *c < 0 ? -1 : *c > 0 ? 1 : 0;
}

bool Iterate(const Json& j, std::vector<Json>* items) {
    if (j.is_array()) {
        items->assign(j.begin(), j.end());
        return true;
    }
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) items->emplace_back(it.key());
        return true;
    }
    if (j.is_string()) {
        for (auto& c : CodePoints(j.get_ref<const std::string&>())) items->emplace_back(std::move(c));
        return true;
    }
    return false;
}

}  // namespace squall::core::templates
