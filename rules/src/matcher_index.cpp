// The Matcher's rule index: rules bucketed by trigger type and parameters, their criteria interned as distinct
// criteria, and the equality index (equals, iequals, inside on a constant pattern) that narrows the candidates.
#include <algorithm>
#include <optional>

#include "matcher_cache.hpp"
#include "squall/rules/matcher.hpp"
#include "squall/templates/template.hpp"

namespace squall::rules {
namespace {

std::string Folded(std::string_view s) {
    return core::PythonLower(s);
}

/// The keys under which the Matcher indexes a criterion, each {is a string key, key} (string keys are the raw
/// string, others EqualityKey); nullopt when the criterion cannot be indexed. A value can only pass the criterion
/// when it looks up one of these keys: `equals` needs PyEquals with the pattern, `iequals` two strings equal once
/// lower-cased, `inside` (a list of scalars) PyEquals with one element.
std::optional<std::vector<std::pair<bool, std::string>>> IndexKeys(const Criterion& c) {
    if (c.pattern_is_template) return std::nullopt;
    std::vector<std::pair<bool, std::string>> keys;
    auto add = [&](const Json& p) {
        if (p.is_string()) {
            keys.emplace_back(true, p.get<std::string>());
            return true;
        }
        std::string k = EqualityKey(p);
        if (k.empty()) return false;
        keys.emplace_back(false, std::move(k));
        return true;
    };
    if (c.is_equals) {
        if (!add(c.pattern)) return std::nullopt;
    } else if (c.is_iequals) {
        if (!c.pattern.is_string()) return std::nullopt;
        keys.emplace_back(true, Folded(c.pattern.get_ref<const std::string&>()));
    } else if (c.is_inside) {
        if (!c.pattern.is_array() || c.pattern.empty()) return std::nullopt;
        for (const auto& e : c.pattern) {
            if (!add(e)) return std::nullopt;
        }
    } else {
        return std::nullopt;
    }
    return keys;
}

/// The identity of a criterion among its bucket's: same key path, operator function, condition and pattern give
/// the same verdict on an instance.
std::string CriterionIdentity(const Criterion& c) {
    std::string identity = c.path;
    identity += '\x1f';
    identity += std::to_string(reinterpret_cast<uintptr_t>(c.fn));
    identity += '\x1f';
    identity += c.condition;
    identity += '\x1f';
    identity += c.pattern.dump();
    return identity;
}

/// A bucket's copy of what matching reads of `c` (see Matcher::DistinctCriterion).
template <typename Distinct>
Distinct MakeDistinct(const Criterion& c, uint32_t path_id) {
    using Mode = typename Distinct::Mode;
    Distinct d;
    d.criterion = &c;
    d.path_id = path_id;
    d.any_item = c.any_item;
    d.all_children = c.all_children;
    if (c.is_search) {
        d.mode = Mode::kSearch;
    } else if (c.prepared && !c.pattern_is_template) {
        d.mode = c.prepared.IsCaseInsensitive() ? Mode::kPreparedCi : Mode::kPrepared;
        d.prepared = c.prepared;
    } else {
        d.mode = Mode::kGeneric;
    }
    return d;
}

uint32_t Intern(
    std::unordered_map<std::string, uint32_t>& ids,
    std::vector<std::vector<PathStep>>& paths,
    const std::string& path,
    const std::vector<PathStep>& steps
) {
    auto [it, inserted] = ids.emplace(path, static_cast<uint32_t>(paths.size()));
    if (inserted) paths.push_back(steps);
    return it->second;
}

}  // namespace

Matcher::Matcher(std::vector<CompiledRulePtr> rules) {
    for (auto& r : rules) {
        if (!r->meta.enabled) continue;
        auto& buckets = by_trigger_[r->meta.trigger_type];
        const Json params = r->meta.trigger_parameters.is_object() ? r->meta.trigger_parameters : Json::object();
        auto it = std::find_if(buckets.begin(), buckets.end(), [&](const Bucket& b) {
            return b.trigger_parameters == params;
        });
        if (it == buckets.end()) {
            buckets.emplace_back();
            buckets.back().trigger_parameters = params;
            it = buckets.end() - 1;
        }
        AddRule(*it, std::move(r), true);
        ++count_;
    }
}

void Matcher::AddRule(Bucket& b, CompiledRulePtr r, bool index) {
    const auto pos = static_cast<uint32_t>(b.rules.size());
    if (b.rule_begin.empty()) b.rule_begin.push_back(0);
    for (const auto& c : r->criteria) {
        const uint32_t path_id = Intern(b.path_ids, b.paths, c.path, c.steps);
        auto [it_c, added] = b.criterion_ids.emplace(CriterionIdentity(c), static_cast<uint32_t>(b.criteria.size()));
        if (added) {
            DistinctCriterion d = MakeDistinct<DistinctCriterion>(c, path_id);
            for (const auto& child : c.children) {
                const uint32_t item_path = Intern(b.item_path_ids, b.item_paths, child.path, child.steps);
                auto [it_i, added_i] = b.item_criterion_ids.emplace(
                    CriterionIdentity(child), static_cast<uint32_t>(b.item_criteria.size())
                );
                if (added_i) b.item_criteria.push_back(MakeDistinct<DistinctCriterion>(child, item_path));
                d.children.push_back(it_i->second);
            }
            b.criteria.push_back(std::move(d));
        }
        b.rule_criteria.push_back(it_c->second);
    }
    b.rule_begin.push_back(static_cast<uint32_t>(b.rule_criteria.size()));
    // Index by the first equality-like criterion with a constant pattern; the criterion is still evaluated.
    const Criterion* indexed = nullptr;
    for (const auto& c : r->criteria) {
        if (index && IndexKeys(c).has_value()) {
            indexed = &c;
            break;
        }
    }
    if (indexed) {
        const uint32_t path_id = b.path_ids.at(indexed->path);
        auto ki = std::find_if(b.indexes.begin(), b.indexes.end(), [&](const KeyIndex& k) {
            return k.lowered == indexed->is_iequals && k.path_id == path_id;
        });
        if (ki == b.indexes.end()) {
            b.indexes.push_back(KeyIndex{path_id, indexed->is_iequals, {}, {}});
            ki = b.indexes.end() - 1;
        }
        const auto keys = IndexKeys(*indexed);  // a local: `*IndexKeys(...)` in the for would dangle
        for (const auto& [is_string, key] : *keys) {
            auto& list = is_string ? ki->by_string[key] : ki->by_value[key];
            if (list.empty() || list.back() != pos) list.push_back(pos);  // `inside` [a, a]: once
        }
    } else {
        b.unindexed.push_back(pos);
    }
    b.positions.push_back(pos);
    b.is_backstop.push_back(r->meta.type == "backstop" ? 1 : 0);
    b.rules.push_back(std::move(r));
}

const Matcher::Bucket* Matcher::FindBucket(const core::TriggerInstance& ti) const {
    auto it = by_trigger_.find(ti.trigger);
    if (it == by_trigger_.end()) return nullptr;
    static const Json kEmpty = Json::object();  // immutable
    const Json& params = ti.trigger_parameters.is_object() ? ti.trigger_parameters : kEmpty;
    for (const auto& b : it->second) {
        if (b.trigger_parameters == params) return &b;
    }
    return nullptr;
}

void Matcher::CandidatePositions(
    const Bucket& b, const Json& payload, InstanceCache& cache, std::vector<uint32_t>* out
) {
    (void)payload;  // resolved through `cache`, which was reset on it
    std::vector<uint32_t> hits;
    IndexHits(b, cache, &hits);
    out->resize(b.unindexed.size() + hits.size());
    std::merge(b.unindexed.begin(), b.unindexed.end(), hits.begin(), hits.end(), out->begin());
}

void Matcher::IndexHits(const Bucket& b, InstanceCache& cache, std::vector<uint32_t>* out) {
    out->clear();
    size_t lists = 0;
    for (const auto& k : b.indexes) {
        const Json* v = cache.Value(b, k.path_id);
        if (!v) continue;
        const std::vector<uint32_t>* hit = nullptr;
        if (v->is_string()) {
            // A string only equals a string pattern (PyEquals), so only `by_string` can hold its rules.
            const std::string& s = v->get_ref<const std::string&>();
            auto it = k.by_string.find(std::string_view(k.lowered ? cache.Lowered(k.path_id, s) : s));
            if (it != k.by_string.end()) hit = &it->second;
        } else if (k.lowered) {
            continue;  // iequals only ever holds for strings
        } else if (!k.by_value.empty()) {
            const std::string key = EqualityKey(*v);
            if (key.empty()) continue;  // a list, mapping or null never equals a scalar pattern
            auto it = k.by_value.find(key);
            if (it != k.by_value.end()) hit = &it->second;
        }
        if (!hit || hit->empty()) continue;
        out->insert(out->end(), hit->begin(), hit->end());
        ++lists;
    }
    // Every list is ascending and a rule is indexed under one key only: sorting restores load order.
    if (lists > 1) std::sort(out->begin(), out->end());
}

std::vector<CompiledRulePtr> Matcher::Candidates(const core::TriggerInstance& ti) const {
    std::vector<CompiledRulePtr> out;
    const Bucket* b = FindBucket(ti);
    if (!b) return out;
    InstanceCache cache;
    cache.Reset(*b, ti.payload);
    std::vector<uint32_t> positions;
    CandidatePositions(*b, ti.payload, cache, &positions);
    out.reserve(positions.size());
    for (uint32_t p : positions) out.push_back(b->rules[p]);
    return out;
}

}  // namespace squall::rules
