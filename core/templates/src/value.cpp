#include "value.hpp"

#include <algorithm>
#include <compare>
#include <optional>

#include "ast.hpp"
#include "bigint.hpp"
#include "pystr.hpp"
#include "squall/templates/template.hpp"

namespace squall::core::templates {

Json MakeTuple(Json items, const std::vector<std::string>& fields) {
    Json t = Json::object();
    t[kTupleKey] = std::move(items);
    if (!fields.empty()) t[kTupleFieldsKey] = fields;
    return t;
}

Json UndefinedJson(const std::string& name) {
    Json u = Json::object();
    u[kUndefinedKey] = name;
    return u;
}

Json MakeBigInt(std::string digits) {
    Json b = Json::object();
    b[kBigIntKey] = std::move(digits);
    return b;
}

const char* TypeName(const Json& j) {
    if (IsTuple(j)) return "tuple";
    if (IsBigInt(j)) return "int";
    return PyTypeName(j);
}

Json Plain(const Json& j, bool* had_undefined, bool keep_big) {
    if (IsSpecial(j)) {
        if (IsTuple(j)) return Plain(TupleItems(j), had_undefined, keep_big);
        if (IsBigInt(j)) return keep_big ? j : Json(BigIntDigits(j));
        if (had_undefined) *had_undefined = true;
        return nullptr;
    }
    if (j.is_array()) {
        Json out = Json::array();
        for (const Json& x : j) out.push_back(Plain(x, had_undefined, keep_big));
        return out;
    }
    if (j.is_object()) {
        Json out = Json::object();
        for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = Plain(*it, had_undefined, keep_big);
        return out;
    }
    return j;
}

bool HasSpecial(const Json& j) {
    if (IsSpecial(j)) return true;
    if (j.is_array() || j.is_object()) {
        for (const Json& x : j) {
            if ((x.is_array() || x.is_object()) && HasSpecial(x)) return true;
        }
    }
    return false;
}

Json ToElement(Value v) {
    if (v.IsJson()) return std::move(v).Take();
    if (v.kind == Value::Kind::kUndefined) return UndefinedJson(v.name);
    return nullptr;
}

int64_t ClampToInt(double x) {
    return PyAsInt(Json(x));
}

bool Truthy(const Value& v) {
    if (!v.IsJson()) return v.IsDefinedHandle();
    const Json& j = v.J();
    if (IsSpecial(j)) return IsBigInt(j) || (IsTuple(j) && !TupleItems(j).empty());  // a big int is never 0
    return PyTruthy(j);
}

std::string Str(const Value& v) {
    if (v.kind == Value::Kind::kMacro) return "<Macro '" + (v.macro->attr.empty() ? "caller" : v.macro->attr) + "'>";
    if (!v.IsJson()) return "";
    const Json& j = v.J();
    if (j.is_string()) return j.get_ref<const std::string&>();
    return PythonStr(j);
}

std::optional<std::partial_ordering> TCompare(const Json& a, const Json& b) {
    const bool ta = IsTuple(a);
    const bool tb = IsTuple(b);
    if (ta != tb) return std::nullopt;
    if (ta || (a.is_array() && b.is_array() && (HasSpecial(a) || HasSpecial(b)))) {
        // Python's sequence comparison: the first items that differ decide, else the lengths.
        const Json& x = ta ? TupleItems(a) : a;
        const Json& y = tb ? TupleItems(b) : b;
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (PyEquals(x[i], y[i])) continue;
            return TCompare(x[i], y[i]);
        }
        return x.size() <=> y.size();
    }
    if (IsBigInt(a) || IsBigInt(b)) {
        if (!IsAnyNumber(a) || !IsAnyNumber(b)) return std::nullopt;
        return CompareBig(a, b);
    }
    if (IsSpecial(a) || IsSpecial(b)) return std::nullopt;
    return PyCompare(a, b);
}

bool TEquals(const Json& a, const Json& b) {
    if ((IsBigInt(a) || IsBigInt(b)) && (a.is_number_float() || b.is_number_float())) return CompareBig(a, b) == 0;
    return PyEquals(a, b);
}

int PyCmp(const Json& a, const Json& b, bool* ok) {
    const std::optional<std::partial_ordering> c = TCompare(a, b);
    if (!c) {
        *ok = false;
        return 0;
    }
    return *c < 0 ? -1 : *c > 0 ? 1 : 0;
}

bool Iterate(const Json& j, std::vector<Json>* items) {
    if (IsTuple(j)) {
        items->assign(TupleItems(j).begin(), TupleItems(j).end());
        return true;
    }
    if (IsSpecial(j)) return false;
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

AttrPath MakeAttrPath(const Json& attribute) {
    AttrPath path;
    if (attribute.is_null()) return path;
    if (!attribute.is_string()) {
        AttrStep step;
        step.is_index = PyIsInt(attribute);
        step.index = step.is_index ? PyAsInt(attribute) : 0;
        step.name = PythonStr(attribute);
        path.push_back(std::move(step));
        return path;
    }
    const std::string& a = attribute.get_ref<const std::string&>();
    size_t start = 0;
    while (true) {
        const size_t dot = a.find('.', start);
        AttrStep step;
        step.name = a.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        step.is_index = !step.name.empty() && step.name.size() < 19 &&
                        std::all_of(step.name.begin(), step.name.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (step.is_index) step.index = std::stoll(step.name);
        path.push_back(std::move(step));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return path;
}

const Json* FollowAttrPath(const Json& item, const AttrPath& path, Json* scratch) {
    const Json* cur = &item;
    for (const AttrStep& step : path) {
        if (IsTuple(*cur)) {
            // A named tuple's field by name (groupby's grouper/list), else its items as a list's.
            const Json& items = TupleItems(*cur);
            if (!step.is_index) {
                auto f = cur->find(kTupleFieldsKey);
                if (f == cur->end()) return nullptr;
                auto at = std::find(f->begin(), f->end(), Json(step.name));
                if (at == f->end() || static_cast<size_t>(at - f->begin()) >= items.size()) return nullptr;
                cur = &items[static_cast<size_t>(at - f->begin())];
                continue;
            }
            cur = &items;
        } else if (IsSpecial(*cur)) {
            return nullptr;
        }
        if (step.is_index) {
            if (cur->is_array()) {
                const auto n = static_cast<int64_t>(cur->size());
                const int64_t i = step.index < 0 ? step.index + n : step.index;
                if (i < 0 || i >= n) return nullptr;
                cur = &(*cur)[static_cast<size_t>(i)];
            } else if (cur->is_string()) {
                std::vector<std::string> cps = CodePoints(cur->get_ref<const std::string&>());
                const auto n = static_cast<int64_t>(cps.size());
                const int64_t i = step.index < 0 ? step.index + n : step.index;
                if (i < 0 || i >= n) return nullptr;
                *scratch = Json(std::move(cps[static_cast<size_t>(i)]));
                cur = scratch;
            } else {
                return nullptr;
            }
        } else {
            if (!cur->is_object()) return nullptr;
            auto f = cur->find(step.name);
            if (f == cur->end()) return nullptr;
            cur = &*f;
        }
    }
    return cur;
}

}  // namespace squall::core::templates
