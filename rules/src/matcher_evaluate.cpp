// Evaluating rules on a trigger instance. Matching (Matcher::Match), the verdicts of `squall rule test`
// (Matcher::Evaluate, Match with verdicts) and Matcher::Matches all go through one loop, Matcher::Scan, over a
// bucket's distinct criteria; every `search` criterion goes through one item loop, SearchItems.
#include <algorithm>
#include <optional>
#include <type_traits>

#include "matcher_cache.hpp"
#include "squall/rules/matcher.hpp"
#include "squall/templates/template.hpp"

namespace squall::rules {
namespace {

std::string Short(const Json& v) {
    std::string s = v.dump();
    if (s.size() > 120) s = s.substr(0, 117) + "...";
    return s;
}

/// Python truthiness of a payload: a rule with criteria never matches a falsy one (st2's filter.py).
bool Falsy(const Json& payload) {
    switch (payload.type()) {
        case Json::value_t::null:
            return true;
        case Json::value_t::object:
        case Json::value_t::array:
            return payload.empty();
        case Json::value_t::string:
            return payload.get_ref<const std::string&>().empty();
        case Json::value_t::boolean:
            return !payload.get<bool>();
        default:
            return payload.is_number() && payload.get<double>() == 0;
    }
}

/// Everything a criterion needs while one trigger instance is matched: the root value under its name, and the
/// template context, built the first time a pattern needs rendering. The context holds copies of the keys of
/// `root` the rendered templates read (all of `root` when one of them may read anything).
struct Scope {
    const Json& root;
    const char* root_name;
    std::optional<Json> context;
    bool whole = false;                        ///< `context` holds all of `root`
    const core::KeyValueLookup* kv = nullptr;  ///< what `st2kv.system` reads in patterns
    const Json& Context(const Criterion& c) {
        if (whole) return *context;
        if (c.template_reads_all || !root.is_object()) {
            context = Json{{root_name, root}};
            whole = true;
            return *context;
        }
        if (!context) {
            context.emplace(Json::value_t::object);
            context->get_ptr<Json::object_t*>()->emplace(root_name, Json(Json::value_t::object));
        }
        auto& copy = *context->get_ptr<Json::object_t*>()->begin()->second.get_ptr<Json::object_t*>();
        const auto& object = *root.get_ptr<const Json::object_t*>();
        for (const auto& key : c.template_keys) {
            auto it = object.find(key);
            if (it != object.end()) copy.emplace(it->first, it->second);  // no-op when copied already
        }
        return *context;
    }
};

/// The items a `search` looks at: a list's elements, or a mapping as a list of one. False for anything else (None
/// is a TypeError in StackStorm; strings are not searched item by item).
bool SearchableItems(const Json* value, const Json** items, size_t* n) {
    if (!value) return false;
    if (value->is_object()) {
        *items = value;
        *n = 1;
        return true;
    }
    if (!value->is_array()) return false;
    const auto& array = value->get_ref<const Json::array_t&>();
    *items = array.data();
    *n = array.size();
    return true;
}

/// The one `search` loop: `condition` over the items (any/any2any: one item passes; all/all2any: every item,
/// possibly none) and over an item's children (any/all: every child; any2any/all2any: one child).
/// `child_passes(j, k, scope)` is the verdict of child k on item j, `scope` being item j's.
template <typename ChildPasses>
bool SearchItems(
    const Json* items,
    size_t n,
    size_t children,
    bool any_item,
    bool all_children,
    const core::KeyValueLookup* kv,
    ChildPasses&& child_passes
) {
    for (size_t j = 0; j < n; ++j) {
        Scope scope{items[j], "item", std::nullopt, false, kv};
        bool item_ok = all_children;
        for (size_t k = 0; k < children; ++k) {
            const bool ok = child_passes(j, k, scope);
            if (all_children && !ok) {
                item_ok = false;
                break;
            }
            if (!all_children && ok) {
                item_ok = true;
                break;
            }
        }
        if (any_item && item_ok) return true;
        if (!any_item && !item_ok) return false;
    }
    return !any_item;  // any: nothing matched; all: every item (possibly none) matched
}

bool CheckCriterion(const Criterion& c, Scope& scope, CriterionVerdict* out);

/// `search` nested in a search's children (no instance cache there).
bool CheckSearch(const Criterion& c, const Json* value, const core::KeyValueLookup* kv) {
    const Json* items = nullptr;
    size_t n = 0;
    if (!SearchableItems(value, &items, &n)) return false;
    return SearchItems(
        items,
        n,
        c.children.size(),
        c.any_item,
        c.all_children,
        kv,
        [&](size_t, size_t k, Scope& scope) { return CheckCriterion(c.children[k], scope, nullptr); }
    );
}

bool CheckValue(const Criterion& c, const Json* value, Scope& scope, CriterionVerdict* out);

/// Checks one criterion under `scope`; fills `out` (when given) with the value, rendered pattern and verdict.
bool CheckCriterion(const Criterion& c, Scope& scope, CriterionVerdict* out) {
    return CheckValue(c, ResolvePath(scope.root, c.steps), scope, out);
}

/// Checks one criterion whose key resolved to `value` (nullptr: absent).
bool CheckValue(const Criterion& c, const Json* value, Scope& scope, CriterionVerdict* out) {
    if (out) {
        out->key = c.key;
        out->op = c.op;
        out->present = value != nullptr;
        if (value) out->value = *value;
    }
    bool passed = false;
    if (c.is_search) {
        passed = CheckSearch(c, value, scope.kv);
        if (out) out->pattern = {{"condition", c.condition}, {"pattern", c.pattern}};
    } else if (c.pattern_is_template) {
        // StackStorm renders patterns with StrictUndefined (a pattern naming a missing value fails the criterion)
        // and its datastore's system scope (render_template_with_system_context: `st2kv.system.x`, `system.x`).
        const core::RenderOptions strict{
            .kv = scope.kv, .kv_system_alias = true, .strict_undefined = true, .stackstorm_whitespace = true};
        Result<Json> rendered = c.pattern_template ? c.pattern_template->Render(scope.Context(c), strict)
                                                   : core::RenderValue(c.pattern, scope.Context(c), strict);
        if (!rendered) {
            if (out) out->error = rendered.error().message;
        } else {
            passed = (*c.fn)(value, *rendered);
            if (out) out->pattern = std::move(*rendered);
        }
    } else {
        passed = c.prepared ? c.prepared.Test(value) : (*c.fn)(value, c.pattern);
        if (out) out->pattern = c.pattern;
    }
    if (out) out->passed = passed;
    return passed;
}

const Json* Walk(const Json& v, const std::vector<PathStep>& steps, size_t at) {
    if (at == steps.size()) return &v;
    const PathStep& s = steps[at];
    switch (s.kind) {
        case PathStep::Kind::kField: {
            if (!v.is_object()) return nullptr;
            const auto& object = *v.get_ptr<const Json::object_t*>();
            auto it = object.find(s.name);  // OrderedMap: a scan of key digests, or its index past 16 keys
            return it == object.end() ? nullptr : Walk(it->second, steps, at + 1);
        }
        case PathStep::Kind::kIndex: {
            if (!v.is_array()) return nullptr;
            const long n = static_cast<long>(v.size());
            const long idx = s.index < 0 ? n + s.index : s.index;
            return idx < 0 || idx >= n ? nullptr : Walk(v[static_cast<size_t>(idx)], steps, at + 1);
        }
        case PathStep::Kind::kWildcard: {
            if (!v.is_array() && !v.is_object()) return nullptr;
            for (const auto& item : v) {
                if (const Json* r = Walk(item, steps, at + 1)) return r;
            }
            return nullptr;
        }
    }
    return nullptr;
}

}  // namespace

const Json* ResolvePath(const Json& root, const std::vector<PathStep>& steps) {
    return Walk(root, steps, 0);
}

namespace {

template <typename Bucket, typename Distinct, typename Cache>
bool CheckSearchCached(
    const Bucket& b, const Distinct& d, const Json* value, Cache& cache, const core::KeyValueLookup* kv
);

/// The verdict of the bucket's distinct criterion `id` on the instance in `cache` (not cached here). Templates
/// only because Matcher's Bucket and InstanceCache are private.
template <typename Bucket, typename Cache>
bool CheckDistinct(const Bucket& b, uint32_t id, Cache& cache, Scope& scope) {
    using Mode = typename std::remove_cvref_t<decltype(b.criteria[id])>::Mode;
    const auto& d = b.criteria[id];
    const Json* v = cache.Value(b, d.path_id);
    switch (d.mode) {
        case Mode::kPrepared:
            return d.prepared.Test(v);
        case Mode::kPreparedCi:
            if (v && v->is_string())
                return d.prepared.Test(v, &cache.Lowered(d.path_id, v->get_ref<const std::string&>()));
            return d.prepared.Test(v);
        case Mode::kSearch:
            return CheckSearchCached(b, d, v, cache, scope.kv);
        case Mode::kGeneric:
            break;
    }
    return CheckValue(*d.criterion, v, scope, nullptr);
}

/// The verdict of distinct criterion `id`, computed once per instance.
template <typename Bucket, typename Cache>
inline bool Passes(const Bucket& b, uint32_t id, Cache& cache, Scope& scope) {
    const uint32_t verdict = cache.Verdict(id);
    if (verdict != 0) return verdict == 1;
    const bool passed = CheckDistinct(b, id, cache, scope);
    cache.SetVerdict(id, passed);
    return passed;
}

/// `search` on the value at a trigger path, with each item's values and child verdicts computed once per
/// instance, whichever search criteria of the bucket look at that list.
template <typename Bucket, typename Distinct, typename Cache>
bool CheckSearchCached(
    const Bucket& b, const Distinct& d, const Json* value, Cache& cache, const core::KeyValueLookup* kv
) {
    const Json* items = nullptr;
    size_t n = 0;
    if (!SearchableItems(value, &items, &n)) return false;
    using Mode = typename Distinct::Mode;
    const size_t np = b.item_paths.size();
    const size_t nc = b.item_criteria.size();
    int32_t& items_at = cache.ItemsAt(d.path_id);
    if (items_at < 0) {
        items_at = static_cast<int32_t>(cache.item_slots);
        cache.item_slots += n;
        cache.item_values.resize(cache.item_slots * np, detail::Unresolved());
        cache.item_verdicts.resize(cache.item_slots * nc, 0);
    }
    const auto base = static_cast<size_t>(items_at);
    return SearchItems(
        items,
        n,
        d.children.size(),
        d.any_item,
        d.all_children,
        kv,
        [&](size_t j, size_t k, Scope& scope) {
            const uint32_t cid = d.children[k];
            uint8_t& verdict = cache.item_verdicts[(base + j) * nc + cid];
            if (verdict == 0) {
                const auto& child = b.item_criteria[cid];
                const Json*& v = cache.item_values[(base + j) * np + child.path_id];
                if (v == detail::Unresolved()) v = ResolvePath(items[j], b.item_paths[child.path_id]);
                // Item values are not lower-cased ahead: kPreparedCi folds the value itself.
                const bool ok = child.mode == Mode::kPrepared || child.mode == Mode::kPreparedCi
                                    ? child.prepared.Test(v)
                                    : CheckValue(*child.criterion, v, scope, nullptr);
                verdict = ok ? 1 : 2;
            }
            return verdict == 1;
        }
    );
}

/// The verdict of criterion `c` (distinct criterion `id` of the bucket) for `rule test`: its value, its pattern
/// (rendered, for a template) and whether it passed, which is the verdict matching uses.
template <typename Bucket, typename Cache>
CriterionVerdict Explain(const Bucket& b, const Criterion& c, uint32_t id, Cache& cache, Scope& scope) {
    CriterionVerdict cv;
    if (c.pattern_is_template) {
        // The rendered pattern is part of the verdict: CheckValue renders it, as CheckDistinct would have.
        cv.passed = CheckValue(c, cache.Value(b, b.criteria[id].path_id), scope, &cv);
        cache.SetVerdict(id, cv.passed);
        return cv;
    }
    const Json* v = cache.Value(b, b.criteria[id].path_id);
    cv.key = c.key;
    cv.op = c.op;
    cv.present = v != nullptr;
    if (v) cv.value = *v;
    cv.pattern = c.is_search ? Json{{"condition", c.condition}, {"pattern", c.pattern}} : c.pattern;
    cv.passed = Passes(b, id, cache, scope);
    return cv;
}

/// Why a criterion failed, e.g. `trigger.body.ref equals "refs/heads/main" failed (value "refs/heads/dev")`.
std::string FailureReason(const CriterionVerdict& cv) {
    if (!cv.error.empty()) return cv.key + ": pattern " + cv.error;
    return cv.key + " " + cv.op + " " + Short(cv.pattern) + " failed (value " +
           (cv.present ? Short(cv.value) : std::string("absent")) + ")";
}

}  // namespace

template <bool kExplain>
void Matcher::Scan(
    const Bucket& b,
    InstanceCache& cache,
    const std::vector<uint32_t>& always,
    const std::vector<uint32_t>& hits,
    std::vector<CompiledRulePtr>& standard,
    std::vector<CompiledRulePtr>& backstop,
    std::vector<std::pair<CompiledRulePtr, RuleVerdict>>* verdicts,
    const core::KeyValueLookup* kv
) {
    const Json& payload = *cache.root;
    Scope scope{payload, "trigger", std::nullopt, false, kv};
    const bool falsy = Falsy(payload);
    // The rules in load order: `always` merged on the fly with `hits`.
    const uint32_t* u = always.data();
    const uint32_t* const u_end = u + always.size();
    const uint32_t* h = hits.data();
    const uint32_t* const h_end = h + hits.size();
    const uint32_t* const begins = b.rule_begin.data();
    const uint32_t* const criteria = b.rule_criteria.data();
    while (u != u_end || h != h_end) {
        const uint32_t p = u != u_end && (h == h_end || *u < *h) ? *u++ : *h++;
        const uint32_t* it = criteria + begins[p];
        const uint32_t* const end = criteria + begins[p + 1];
        bool matched = it == end || !falsy;
        if constexpr (!kExplain) {
            for (; matched && it != end; ++it) matched = Passes(b, *it, cache, scope);
        } else {
            // Every criterion, without short-circuit, so that the verdict says why each passed or not.
            const CompiledRule& rule = *b.rules[p];
            RuleVerdict v;
            bool all_passed = true;
            for (size_t k = 0; it != end; ++it, ++k) {
                CriterionVerdict cv = Explain(b, rule.criteria[k], *it, cache, scope);
                if (!cv.passed && all_passed) {
                    all_passed = false;
                    v.reason = FailureReason(cv);
                }
                v.criteria.push_back(std::move(cv));
            }
            if (all_passed && !matched) v.reason = "the payload is empty and the rule has criteria";
            matched = matched && all_passed;
            v.matched = matched;
            verdicts->emplace_back(b.rules[p], std::move(v));
        }
        if (matched) (b.is_backstop[p] ? backstop : standard).push_back(b.rules[p]);
    }
}

std::vector<CompiledRulePtr> Matcher::Match(
    const core::TriggerInstance& ti,
    std::vector<std::pair<CompiledRulePtr, RuleVerdict>>* verdicts,
    const core::KeyValueLookup* kv
) const {
    std::vector<CompiledRulePtr> standard;
    std::vector<CompiledRulePtr> backstop;
    const Bucket* b = FindBucket(ti);
    if (!b) return standard;
    thread_local std::vector<uint32_t> hits;  // reused: no allocation per instance
    thread_local InstanceCache cache;
    cache.Reset(*b, ti.payload);
    if (verdicts) {
        // Every enabled rule (the index bypassed), so that a rule that did not match says why.
        hits.clear();
        Scan<true>(*b, cache, b->positions, hits, standard, backstop, verdicts, kv);
    } else {
        IndexHits(*b, cache, &hits);
        standard.reserve(std::min<size_t>(b->unindexed.size() + hits.size(), 16));
        Scan<false>(*b, cache, b->unindexed, hits, standard, backstop, nullptr, kv);
    }
    if (standard.empty()) return backstop;  // two returns, not `?:`, so that the vector is moved, not copied
    return standard;
}

RuleVerdict Matcher::Evaluate(
    const CompiledRule& rule, const core::TriggerInstance& ti, const core::KeyValueLookup* kv
) {
    Bucket b;
    AddRule(b, CompiledRulePtr(CompiledRulePtr(), &rule), false);  // not owned: `rule` outlives `b`
    InstanceCache cache;
    cache.Reset(b, ti.payload);
    std::vector<CompiledRulePtr> standard;
    std::vector<CompiledRulePtr> backstop;
    std::vector<std::pair<CompiledRulePtr, RuleVerdict>> verdicts;
    Scan<true>(b, cache, b.positions, {}, standard, backstop, &verdicts, kv);
    return std::move(verdicts.front().second);
}

bool Matcher::Matches(const CompiledRule& rule, const Json& payload) {
    Bucket b;
    AddRule(b, CompiledRulePtr(CompiledRulePtr(), &rule), false);
    InstanceCache cache;
    cache.Reset(b, payload);
    std::vector<CompiledRulePtr> standard;
    std::vector<CompiledRulePtr> backstop;
    Scan<false>(b, cache, b.positions, {}, standard, backstop, nullptr, nullptr);
    return !standard.empty() || !backstop.empty();
}

}  // namespace squall::rules
