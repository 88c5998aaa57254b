#include "squall/rules/operators.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <chrono>

#include "squall/core/clock.hpp"
#include "squall/core/regex.hpp"

namespace squall::rules {
namespace {

std::string Lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

bool IsString(const Json* v) {
    return v && v->is_string();
}
const std::string& Str(const Json& v) {
    return v.get_ref<const std::string&>();
}

bool Search(const Json* v, const Json& p, bool icase) {
    if (!IsString(v) || !p.is_string())
        return false;
    Result<core::RegexPtr> re = core::Regex::Cached(Str(p), {icase, false, false});
    return re && (*re)->Search(Str(*v));
}

bool Contains(const Json* v, const Json& p, bool icase) {
    if (!v)
        return false;
    if (v->is_string()) {
        if (!p.is_string())
            return false;
        return icase ? Lower(Str(*v)).find(Lower(Str(p))) != std::string::npos
                     : Str(*v).find(Str(p)) != std::string::npos;
    }
    if (v->is_array()) {
        for (const auto& item : *v) {
            if (icase && item.is_string() && p.is_string() ? Lower(Str(item)) == Lower(Str(p)) : item == p)
                return true;
        }
        return false;
    }
    if (v->is_object() && p.is_string())
        return v->contains(Str(p));
    return false;
}

/// Python's ordering for the comparable cases (numbers with numbers, strings with strings); others are a
/// TypeError in Python, which StackStorm treats as no match.
int Compare(const Json& a, const Json& b, bool* ok) {
    *ok = true;
    if (a.is_number() && b.is_number()) {
        const double x = a.get<double>();
        const double y = b.get<double>();
        return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (a.is_string() && b.is_string())
        return Str(a).compare(Str(b));
    *ok = false;
    return 0;
}

bool TimeDiff(const Json* v, const Json& p, bool less) {
    if (!IsString(v))
        return false;
    std::chrono::system_clock::time_point tp;
    if (!core::ParseIsoTimestamp(Str(*v), &tp))
        return false;
    double limit = 0;
    if (p.is_number()) {
        limit = p.get<double>();
    } else if (p.is_string()) {
        try {
            limit = std::stod(Str(p));
        } catch (const std::exception&) {
            return false;
        }
    } else {
        return false;
    }
    const double diff = std::chrono::duration<double>(std::chrono::system_clock::now() - tp).count();
    return less ? diff < limit : diff > limit;
}

}  // namespace

Status OperatorRegistry::Register(const std::string& name, const std::vector<std::string>& aliases, OperatorFn fn) {
    std::vector<std::string> all = aliases;
    all.insert(all.begin(), name);
    for (const auto& n : all) {
        if (ops_.count(Lower(n)))
            return Error(ErrorCode::kAlreadyExists, "operator \"" + n + "\" registered twice");
    }
    for (const auto& n : all)
        ops_[Lower(n)] = fn;
    return {};
}

const OperatorFn* OperatorRegistry::Find(const std::string& name) const {
    auto it = ops_.find(Lower(name));
    return it == ops_.end() ? nullptr : &it->second;
}

std::vector<std::string> OperatorRegistry::Names() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : ops_)
        out.push_back(k);
    return out;
}

void RegisterBuiltinOperators(OperatorRegistry& r) {
    auto reg = [&r](const std::string& name, std::vector<std::string> aliases, OperatorFn fn) {
        Status st = r.Register(name, aliases, std::move(fn));
        if (!st)
            throw Exception(st.error());  // a bug: built-ins are registered once, at start-up
    };
    reg("equals", {"eq"}, [](const Json* v, const Json& p) { return v ? *v == p : p.is_null(); });
    reg("nequals", {"neq"}, [](const Json* v, const Json& p) { return v ? *v != p : !p.is_null(); });
    reg("iequals", {"ieq"}, [](const Json* v, const Json& p) {
        return IsString(v) && p.is_string() && Lower(Str(*v)) == Lower(Str(p));
    });
    reg("lessthan", {"lt"}, [](const Json* v, const Json& p) {
        bool ok = false;
        return v && Compare(*v, p, &ok) < 0 && ok;
    });
    reg("greaterthan", {"gt"}, [](const Json* v, const Json& p) {
        bool ok = false;
        return v && Compare(*v, p, &ok) > 0 && ok;
    });
    reg("matchwildcard", {}, [](const Json* v, const Json& p) {
        return IsString(v) && p.is_string() && fnmatch(Str(p).c_str(), Str(*v).c_str(), 0) == 0;
    });
    reg("regex", {}, [](const Json* v, const Json& p) { return Search(v, p, false); });
    reg("iregex", {}, [](const Json* v, const Json& p) { return Search(v, p, true); });
    reg("matchregex", {}, [](const Json* v, const Json& p) {
        if (!IsString(v) || !p.is_string())
            return false;
        // Python's re.match(pattern, value, re.DOTALL): anchored at the start.
        Result<core::RegexPtr> re = core::Regex::Cached(Str(p), {false, true, false});
        return re && (*re)->MatchStart(Str(*v));
    });
    reg("contains", {}, [](const Json* v, const Json& p) { return Contains(v, p, false); });
    reg("ncontains", {}, [](const Json* v, const Json& p) { return v && !Contains(v, p, false); });
    reg("icontains", {}, [](const Json* v, const Json& p) { return Contains(v, p, true); });
    reg("incontains", {}, [](const Json* v, const Json& p) { return v && !Contains(v, p, true); });
    reg("startswith", {}, [](const Json* v, const Json& p) {
        return IsString(v) && p.is_string() && Str(*v).rfind(Str(p), 0) == 0;
    });
    reg("istartswith", {}, [](const Json* v, const Json& p) {
        return IsString(v) && p.is_string() && Lower(Str(*v)).rfind(Lower(Str(p)), 0) == 0;
    });
    reg("endswith", {}, [](const Json* v, const Json& p) {
        if (!IsString(v) || !p.is_string())
            return false;
        const std::string& s = Str(*v);
        const std::string& suf = Str(p);
        return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
    });
    reg("iendswith", {}, [](const Json* v, const Json& p) {
        if (!IsString(v) || !p.is_string())
            return false;
        const std::string s = Lower(Str(*v));
        const std::string suf = Lower(Str(p));
        return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
    });
    reg("timediff_lt", {"td_lt"}, [](const Json* v, const Json& p) { return TimeDiff(v, p, true); });
    reg("timediff_gt", {"td_gt"}, [](const Json* v, const Json& p) { return TimeDiff(v, p, false); });
    reg("exists", {}, [](const Json* v, const Json&) { return v && !v->is_null(); });
    reg("nexists", {}, [](const Json* v, const Json&) { return !v || v->is_null(); });
    reg("inside", {"in"}, [](const Json* v, const Json& p) { return v && Contains(&p, *v, false); });
    reg("ninside", {"nin"}, [](const Json* v, const Json& p) { return v && !Contains(&p, *v, false); });
}

}  // namespace squall::rules
