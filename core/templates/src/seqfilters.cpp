// The built-in filters over sequences (sort, unique, min/max, sum, join, map, select..., groupby, dictsort,
// batch/slice, items), with Jinja's `attribute=` paths; registered in the builtin table by filters.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>

#include "bigint.hpp"
#include "evaluator.hpp"

namespace squall::core::templates {
Value Evaluator::FilterDictsort(const Expr& e, const std::string& n, Value v, const Args& args) {
    auto arg_str = [&](size_t i, const char* name, const std::string& dflt) {
        const Value* a = args.Get(i, name);
        return a ? Str(*a) : dflt;
    };
    auto arg_bool = [&](size_t i, const char* name) {
        const Value* a = args.Get(i, name);
        return a && Truthy(*a);
    };
    auto need_json = [&]() {
        if (!v.IsJson()) {
            Undef(*e.args[0], v);
            return false;
        }
        return true;
    };
    if (!need_json()) return {};
    if (!v.J().is_object() || IsBigInt(v.J()))
        return Fail(e.pos, std::string("'") + TypeName(v.J()) + "' object has no attribute 'items'");
    const bool cs = arg_bool(0, "case_sensitive");
    const std::string by = arg_str(1, "by", "key");
    if (by != "key" && by != "value") return Fail(e.pos, "You can only sort by either \"key\" or \"value\"");
    const bool rev = arg_bool(2, "reverse");
    const size_t at = by == "key" ? 0 : 1;
    std::vector<Json> pairs;
    for (auto it = v.J().begin(); it != v.J().end(); ++it) pairs.push_back(Json::array({it.key(), *it}));
    // Pairs are compared as lists while sorting and become tuples after.
    auto key = [&](const Json& p) {
        const Json& x = p[at];
        return !cs && x.is_string() ? Json(PyLower(x.get_ref<const std::string&>())) : x;
    };
    bool ok = true;
    if (!SpendSort(e.pos, pairs.size())) return {};
    std::stable_sort(pairs.begin(), pairs.end(), [&](const Json& a, const Json& b) {
        return rev ? PyCmp(key(b), key(a), &ok) < 0 : PyCmp(key(a), key(b), &ok) < 0;
    });
    if (!ok) return Fail(e.pos, "'<' not supported between these values");
    Json out = Json::array();
    for (Json& p : pairs) out.push_back(MakeTuple(std::move(p)));
    return Value::Own(std::move(out));
}

Value Evaluator::FilterBatch(const Expr& e, const std::string& n, Value v, const Args& args) {
    std::vector<Json> items;
    if (!SpendIterated(e.pos, v)) return {};
    if (v.IsJson() && !Iterate(v.J(), &items))
        return Fail(e.pos, std::string("'") + TypeName(v.J()) + "' object is not iterable");
    const Value* cnt = args.Get(0, n == "batch" ? "linecount" : "slices");
    if (!cnt || !cnt->IsJson() || !PyIsInt(cnt->J())) return Fail(e.pos, n + " needs an integer count");
    const int64_t c = PyAsInt(cnt->J());
    const Value* fill = args.Get(1, "fill_with");
    const bool has_fill = fill && fill->IsJson() && !fill->J().is_null();
    Json out = Json::array();
    if (n == "batch") {
        Json tmp = Json::array();
        for (Json& it : items) {
            if (static_cast<int64_t>(tmp.size()) == c) {
                out.push_back(std::move(tmp));
                tmp = Json::array();
            }
            tmp.push_back(std::move(it));
        }
        if (!tmp.empty()) {
            while (has_fill && static_cast<int64_t>(tmp.size()) < c) tmp.push_back(fill->J());
            out.push_back(std::move(tmp));
        }
        return Value::Own(std::move(out));
    }
    if (c <= 0) return Fail(e.pos, c == 0 ? "integer division or modulo by zero" : "slice count must be positive");
    const auto len = static_cast<int64_t>(items.size());
    const int64_t per = len / c;
    const int64_t extra = len % c;
    int64_t offset = 0;
    for (int64_t k = 0; k < c; ++k) {
        const int64_t start = offset + k * per;
        if (k < extra) ++offset;
        const int64_t stop = offset + (k + 1) * per;
        Json tmp = Json::array();
        for (int64_t i = start; i < stop && i < len; ++i) tmp.push_back(items[static_cast<size_t>(i)]);
        if (has_fill && k >= extra) tmp.push_back(fill->J());
        out.push_back(std::move(tmp));
    }
    return Value::Own(std::move(out));
}

namespace {

/// A sort/unique/min/max key: one value per attribute path, nullopt where the attribute is missing (Jinja's
/// Undefined), strings lower-cased unless case-sensitive (Jinja's ignore_case postprocess).
using Key = std::vector<std::optional<Json>>;

/// A hash that agrees with PyEquals on hashable values: equal values (1, 1.0, True; equal strings; tuples of equal
/// items) hash alike, so `unique` compares an item only with the few seen items of its hash, not with all of them.
size_t PyHash(const Json& j) {
    if (j.is_string()) return std::hash<std::string>{}(j.get_ref<const std::string&>());
    if (IsAnyNumber(j)) {
        double d = 0;
        if (!AnyToDouble(j, &d)) return 0x5bd1e995;  // beyond a double: one bucket
        return std::hash<double>{}(d == 0 ? 0.0 : d);
    }
    if (IsTuple(j)) {
        size_t h = 0x345678;
        for (const Json& x : TupleItems(j)) h = h * 1000003 ^ PyHash(x);
        return h;
    }
    return static_cast<size_t>(j.type());
}

std::optional<Json> KeyPart(const Json& item, const AttrPath& path, bool lower) {
    Json scratch;
    const Json* got = FollowAttrPath(item, path, &scratch);
    if (!got) return std::nullopt;
    if (lower && got->is_string()) return Json(PyLower(got->get_ref<const std::string&>()));
    return got == &scratch ? std::move(scratch) : *got;
}

/// Python's comparison of two key lists: the first unequal parts decide with `<`. A missing attribute equals
/// another missing one; compared with a value it is Jinja's UndefinedError (`*undefined` set), and values
/// Python cannot order are a TypeError (`*ok` false).
int KeyCmp(const Key& a, const Key& b, bool* ok, bool* undefined, bool as_list = true) {
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
        if (!a[i] && !b[i] && as_list) continue;  // [Undefined] == [Undefined]; Undefined < Undefined fails
        if (!a[i] || !b[i]) {
            *undefined = true;
            return 0;
        }
        if (PyEquals(*a[i], *b[i])) continue;
        return PyCmp(*a[i], *b[i], ok);
    }
    return 0;
}

/// Jinja's UndefinedError for a missing attribute.
std::string NoAttribute(const std::vector<AttrPath>& paths) {
    std::string name = paths.empty() || paths[0].empty() ? "" : paths[0].back().name;
    return "object has no attribute '" + name + "'";
}

}  // namespace

// Filters over sequences.
Value Evaluator::FilterSequence(const Expr& e, const std::string& n, Value v, const Args& args) {
    auto arg_str = [&](size_t i, const char* name, const std::string& dflt) {
        const Value* a = args.Get(i, name);
        return a ? Str(*a) : dflt;
    };
    auto arg_bool = [&](size_t i, const char* name) {
        const Value* a = args.Get(i, name);
        return a && Truthy(*a);
    };
    std::vector<Json> items;
    if (!SpendIterated(e.pos, v)) return {};
    if (v.IsJson() && !Iterate(v.J(), &items)) {
        if (n == "reverse" && PyIsNumber(v.J()))
            return Fail(e.pos, std::string("argument to reversed() must be a sequence"));
        return Fail(e.pos, std::string("'") + TypeName(v.J()) + "' object is not iterable");
    }
    // The position of `attribute` among each filter's arguments (after the subject).
    const size_t attr_at = n == "join" ? 1 : n == "sort" ? 2 : n == "sum" ? 0 : 1;
    const Value* attr =
        n == "list" || n == "first" || n == "last" || n == "reverse" ? nullptr : args.Get(attr_at, "attribute");
    const Json no_attribute;
    const Json& attribute = attr && attr->IsJson() ? attr->J() : no_attribute;
    if (n == "join" || n == "sum") {
        const AttrPath path = MakeAttrPath(attribute);
        if (!path.empty()) {
            for (Json& it : items) {
                Json scratch;
                const Json* got = FollowAttrPath(it, path, &scratch);
                if (!got) {
                    // str(Undefined) is "" for join; for sum `0 + Undefined` is an UndefinedError.
                    if (n == "sum") return Fail(e.pos, NoAttribute({path}));
                    it = Json("");
                    continue;
                }
                it = got == &scratch ? std::move(scratch) : Json(*got);
            }
        }
    }
    if (n == "join") {
        std::string out;
        const std::string sep = arg_str(0, "d", "");
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += sep;
            out += items[i].is_string() ? items[i].get_ref<const std::string&>() : PythonStr(items[i]);
        }
        return Value::Own(Json(std::move(out)));
    }
    if (n == "list") return Value::Own(Json(items));
    if (n == "first" || n == "last") {
        if (items.empty()) {
            Value u = Value::Undefined("");
            u.hint = n == "first" ? "No first item, sequence was empty." : "No last item, sequence was empty.";
            return u;
        }
        return Element(n == "first" ? items.front() : items.back(), false);
    }
    if (n == "reverse") {
        if (v.IsJson() && v.J().is_string()) {
            std::string out;
            for (auto it = items.rbegin(); it != items.rend(); ++it) out += it->get_ref<const std::string&>();
            return Value::Own(Json(std::move(out)));
        }
        std::reverse(items.begin(), items.end());
        return Value::Own(Json(items));
    }
    if (n == "sum") {
        // sum(iterable, start): Python's + from `start` (0 unless given) over the items.
        const Value* st = args.Get(1, "start");
        if (st && !st->IsJson()) return Undef(e, *st);
        Json acc = st ? st->J() : Json(0);
        for (const Json& it : items) {
            if (acc.is_string()) return Fail(e.pos, "sum() can't sum strings [use ''.join(seq) instead]");
            if (acc.is_array() && it.is_array()) {
                acc.insert(acc.end(), it.begin(), it.end());
                if (!Spend(e.pos, 0, 16 * it.size())) return {};
                continue;
            }
            if (!IsAnyNumber(acc) || !IsAnyNumber(it))
                return Fail(
                    e.pos,
                    std::string("unsupported operand type(s) for +: '") + TypeName(acc) + "' and '" + TypeName(it) + "'"
                );
            if (acc.is_number_float() || it.is_number_float()) {
                double x = 0;
                double y = 0;
                if (!AnyToDouble(acc, &x) || !AnyToDouble(it, &y))
                    return Fail(e.pos, "int too large to convert to float");
                acc = x + y;
                continue;
            }
            int64_t r = 0;
            if (acc.is_number_integer() && !acc.is_number_unsigned() && it.is_number_integer() &&
                !it.is_number_unsigned() && !__builtin_add_overflow(PyAsInt(acc), PyAsInt(it), &r)) {
                acc = r;
                continue;
            }
            // Beyond 64 bits (or a bool, or an unsigned above 2**63): exactly.
            std::optional<Json> big = FromBigInt(ToBigInt(acc) + ToBigInt(it));
            if (!big)
                return Fail(e.pos, "integer too large: sum has more than " + std::to_string(kMaxIntDigits) + " digits");
            acc = std::move(*big);
        }
        return Value::Own(std::move(acc));
    }
    // sort / unique / min / max: keys by attribute (sort takes several, comma-separated), case-folded unless
    // case_sensitive.
    const bool lower = !arg_bool(n == "sort" ? 1 : 0, "case_sensitive");
    std::vector<AttrPath> paths;
    if (n == "sort" && attribute.is_string()) {
        const std::string& a = attribute.get_ref<const std::string&>();
        for (size_t start = 0;;) {
            const size_t comma = a.find(',', start);
            paths.push_back(MakeAttrPath(Json(a.substr(start, comma == std::string::npos ? comma : comma - start))));
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
    } else {
        paths.push_back(MakeAttrPath(attribute));
    }
    std::vector<Key> keys;
    keys.reserve(items.size());
    for (const Json& it : items) {
        Key k;
        for (const AttrPath& p : paths) k.push_back(KeyPart(it, p, lower));
        keys.push_back(std::move(k));
    }
    bool ok = true;
    bool undefined = false;
    auto failed = [&]() {
        if (undefined) return Fail(e.pos, NoAttribute(paths));
        return Fail(e.pos, "'<' not supported between these values");
    };
    if (n == "unique") {
        // A set of the keys: unhashable keys (list, dict) are a TypeError; missing attributes are all one key.
        std::vector<Json> out;
        std::unordered_map<size_t, std::vector<const Key*>> seen;  // by PyHash; missing attributes hash as 1
        for (size_t i = 0; i < items.size(); ++i) {
            const std::optional<Json>& k = keys[i][0];
            if (k && (k->is_array() || (k->is_object() && !IsSpecial(*k))))
                return Fail(e.pos, std::string("unhashable type: '") + TypeName(*k) + "'");
            std::vector<const Key*>& bucket = seen[k ? PyHash(*k) : 1];
            if (!Spend(e.pos, bucket.size() + 1)) return {};
            const bool dup = std::any_of(bucket.begin(), bucket.end(), [&](const Key* s) {
                const std::optional<Json>& o = (*s)[0];
                return (!o && !k) || (o && k && PyEquals(*o, *k));
            });
            if (dup) continue;
            bucket.push_back(&keys[i]);
            out.push_back(std::move(items[i]));
        }
        return Value::Own(Json(out));
    }
    if (n == "sort") {
        std::vector<size_t> order(items.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        const bool rev = arg_bool(0, "reverse");
        if (!SpendSort(e.pos, order.size())) return {};
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
            return rev ? KeyCmp(keys[b], keys[a], &ok, &undefined) < 0 : KeyCmp(keys[a], keys[b], &ok, &undefined) < 0;
        });
        if (!ok || undefined) return failed();
        Json out = Json::array();
        for (size_t i : order) out.push_back(std::move(items[i]));
        return Value::Own(std::move(out));
    }
    // min / max
    if (items.empty()) {
        Value u = Value::Undefined("");
        u.hint = "No aggregated item, sequence was empty.";
        return u;
    }
    size_t best = 0;
    for (size_t i = 1; i < items.size(); ++i) {
        const int c = KeyCmp(keys[i], keys[best], &ok, &undefined, /*as_list=*/false);
        if ((n == "min" && c < 0) || (n == "max" && c > 0)) best = i;
    }
    if (!ok || undefined) return failed();
    return Value::Own(std::move(items[best]));
}

Value Evaluator::FilterItems(const Expr& e, const std::string& n, Value v, const Args& args) {
    if (!v.IsJson()) return Value::Own(Json::array());
    if (!v.J().is_object() || IsBigInt(v.J())) return Fail(e.pos, "Can only get item pairs from a mapping.");
    Json out = Json::array();
    for (auto it = v.J().begin(); it != v.J().end(); ++it) out.push_back(MakeTuple(Json::array({it.key(), *it})));
    return Value::Own(std::move(out));
}

Value Evaluator::SelectOrMap(const Expr& e, const std::string& n, const Value& v, const Args& args) {
    std::vector<Json> items;
    if (!SpendIterated(e.pos, v)) return {};
    if (v.IsJson() && !Iterate(v.J(), &items))
        return Fail(e.pos, std::string("'") + TypeName(v.J()) + "' object is not iterable");
    Json out = Json::array();
    if (n == "map") {
        const Value* attribute = nullptr;
        for (const auto& [k, a] : args.kw) {
            if (k == "attribute") attribute = &a;
        }
        if (args.pos.empty() && attribute) {
            const Value* dflt = nullptr;
            for (const auto& [k, a] : args.kw) {
                if (k == "default") {
                    dflt = &a;
                } else if (k != "attribute") {
                    return Fail(e.pos, "Unexpected keyword argument '" + k + "'");
                }
            }
            const AttrPath path = MakeAttrPath(attribute->IsJson() ? attribute->J() : Json());
            for (const Json& it : items) {
                Json scratch;
                const Json* got = FollowAttrPath(it, path, &scratch);
                if (got) {
                    out.push_back(*got);
                } else if (dflt) {
                    out.push_back(ToElement(*dflt));
                } else {
                    out.push_back(UndefinedJson(path.empty() ? "" : path.back().name));
                }
            }
            return Value::Own(std::move(out));
        }
        if (args.pos.empty()) return Fail(e.pos, "map requires a filter argument");
        const std::string filter = Str(args.pos[0]);
        if (!Builtins().Filter(filter)) return Fail(e.pos, "No filter named '" + filter + "'");
        Args rest;
        rest.pos.assign(args.pos.begin() + 1, args.pos.end());
        rest.kw = args.kw;
        for (const Json& it : items) {
            Value r = ApplyFilter(e, filter, Element(it, true), rest);
            if (error) return {};
            out.push_back(ToElement(std::move(r)));
        }
        return Value::Own(std::move(out));
    }
    const bool by_attr = n == "selectattr" || n == "rejectattr";
    const bool keep_when = n == "select" || n == "selectattr";
    size_t k = 0;
    AttrPath path;
    std::string path_name;
    if (by_attr) {
        if (args.pos.empty()) return Fail(e.pos, "Missing parameter for attribute name");
        path = MakeAttrPath(args.pos[0].IsJson() ? args.pos[0].J() : Json());
        path_name = Str(args.pos[0]);
        k = 1;
    }
    std::string test;
    Args rest;
    if (args.pos.size() > k) {
        test = Str(args.pos[k]);
        if (!Builtins().Test(test)) return Fail(e.pos, "No test named '" + test + "'");
        rest.pos.assign(args.pos.begin() + static_cast<std::ptrdiff_t>(k) + 1, args.pos.end());
        rest.kw = args.kw;
    }
    for (const Json& it : items) {
        Value subject = Element(it, true);
        if (by_attr) {
            Json scratch;
            const Json* got = FollowAttrPath(it, path, &scratch);
            subject = !got ? Value::Undefined(path_name) : got == &scratch ? Value::Own(scratch) : Value::Borrow(*got);
        }
        bool verdict = false;
        if (test.empty()) {
            verdict = Truthy(subject);
        } else {
            Value r = ApplyTest(e, test, subject, rest, false);
            if (error) return {};
            verdict = Truthy(r);
        }
        if (verdict == keep_when) out.push_back(it);
    }
    return Value::Own(std::move(out));
}

}  // namespace squall::core::templates

namespace squall::core::templates {

Value Evaluator::FilterGroupby(const Expr& e, const std::string& n, Value v, const Args& args) {
    std::vector<Json> items;
    if (!SpendIterated(e.pos, v)) return {};
    if (v.IsJson() && !Iterate(v.J(), &items))
        return Fail(e.pos, std::string("'") + TypeName(v.J()) + "' object is not iterable");
    const Value* attr = args.Get(0, "attribute");
    if (!attr) return Fail(e.pos, "groupby() missing required argument 'attribute'");
    const AttrPath path = MakeAttrPath(attr->IsJson() ? attr->J() : Json());
    const Value* dflt = args.Get(1, "default");
    const bool has_default = dflt && !(dflt->IsJson() && dflt->J().is_null()) && dflt->IsJson();
    const Value* cs = args.Get(2, "case_sensitive");
    const bool lower = !(cs && Truthy(*cs));
    // The grouping key of each item (missing: the default, else undefined), and the key as printed (the first
    // item's own, not case-folded).
    auto key_of = [&](const Json& item, bool fold) -> std::optional<Json> {
        Json scratch;
        const Json* got = FollowAttrPath(item, path, &scratch);
        if (!got && !has_default) return std::nullopt;
        Json k = got ? (got == &scratch ? std::move(scratch) : *got) : dflt->J();
        if (fold && k.is_string()) k = Json(PyLower(k.get_ref<const std::string&>()));
        return k;
    };
    std::vector<std::optional<Json>> keys;
    keys.reserve(items.size());
    for (const Json& it : items) keys.push_back(key_of(it, lower));
    std::vector<size_t> order(items.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    bool ok = true;
    bool undefined = false;
    if (!SpendSort(e.pos, order.size())) return {};
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        const std::optional<Json>& x = keys[a];
        const std::optional<Json>& y = keys[b];
        if (!x || !y) {
            undefined = true;  // Undefined < anything fails, even another Undefined
            return false;
        }
        return PyCmp(*x, *y, &ok) < 0;
    });
    if (undefined) return Fail(e.pos, NoAttribute({path}));
    if (!ok) return Fail(e.pos, "'<' not supported between these values");
    Json out = Json::array();
    static const std::vector<std::string> kFields = {"grouper", "list"};
    for (size_t i = 0; i < order.size();) {
        size_t j = i + 1;
        const std::optional<Json>& k = keys[order[i]];
        while (j < order.size()) {
            const std::optional<Json>& k2 = keys[order[j]];
            if (k.has_value() != k2.has_value() || (k && !PyEquals(*k, *k2))) break;
            ++j;
        }
        Json group = Json::array();
        for (size_t m = i; m < j; ++m) group.push_back(items[order[m]]);
        std::optional<Json> grouper = lower ? key_of(items[order[i]], false) : k;
        Json pair = Json::array();
        pair.push_back(grouper ? std::move(*grouper) : UndefinedJson(path.empty() ? "" : path.back().name));
        pair.push_back(std::move(group));
        out.push_back(MakeTuple(std::move(pair), kFields));
        i = j;
    }
    return Value::Own(std::move(out));
}

}  // namespace squall::core::templates
