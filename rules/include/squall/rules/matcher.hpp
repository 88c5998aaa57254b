#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "squall/core/kv_lookup.hpp"
#include "squall/core/model/model.hpp"
#include "squall/packs/content.hpp"
#include "squall/rules/operators.hpp"

namespace squall::core {
class Template;
}  // namespace squall::core

namespace squall::rules {

/// One step of a compiled criteria key: `.name`, `['name']`, `[n]` (negative counts from the end) or `[*]` / `.*`
/// (every element; the first one that resolves is used, as jsonpath-rw's first match is).
struct PathStep {
    enum class Kind { kField, kIndex, kWildcard };
    Kind kind = Kind::kField;
    std::string name;
    long index = 0;
};

/// One criterion, checked once when the rule is compiled.
struct Criterion {
    std::string key;   ///< as written, e.g. "trigger.body.ref#1"
    std::string path;  ///< lookup path without the #tag, e.g. "trigger.body.ref"
    std::string op;    ///< operator name as written
    const OperatorFn* fn = nullptr;
    Json pattern;  ///< raw pattern (may contain templates)
    bool pattern_is_template = false;
    /// Template patterns: the keys of the root ("trigger"/"item") that the template reads, when it only reads
    /// `root.name` / `root['name']` (so that the render context needs a copy of those keys only, not of the
    /// whole payload); `template_reads_all` when that cannot be told.
    std::vector<std::string> template_keys;
    bool template_reads_all = true;
    std::shared_ptr<const core::Template> pattern_template;  ///< template patterns: compiled once (null: invalid)
    std::vector<PathStep> steps;  ///< `path` after its root ("trigger", or "item" inside `search`)
    Prepared prepared;            ///< the operator bound to a constant pattern, when it has such a form
    bool is_equals = false;       ///< `equals`/`eq` (the Matcher indexes these)
    bool is_iequals = false;      ///< `iequals`/`ieq` (indexed by the lower-cased pattern)
    bool is_inside = false;       ///< `inside`/`in` (indexed by each element of a list of scalars)
    bool is_search = false;
    std::string condition;            ///< search: any, all, any2any or all2any
    bool any_item = false;            ///< search: `any` or `any2any` (precomputed from `condition`)
    bool all_children = false;        ///< search: `any` or `all`
    std::vector<Criterion> children;  ///< search: the nested criteria on `item.…`
};

/// Parses a criteria key after its #tag is stripped: `root` followed by `.name`, `."name"`, `['name']`,
/// `["name"]`, `[n]`, `[*]` or `.*`. Fails when it does not start with `root`.
Result<std::vector<PathStep>> ParseCriteriaPath(std::string_view path, std::string_view root);

/// The value at `steps` under `root`; nullptr when a step is missing.
const Json* ResolvePath(const Json& root, const std::vector<PathStep>& steps);

/// A rule ready to match.
struct CompiledRule {
    packs::RuleMeta meta;
    std::vector<Criterion> criteria;
};
using CompiledRulePtr = std::shared_ptr<const CompiledRule>;

/// Validates the rule's criteria against the registry: an unknown operator is an error naming the key and
/// suggesting the closest operator, e.g. `criteria.trigger.body.ref.type: unknown operator "equal" (did you mean
/// "equals"?)`. `doc_for_location` (optional) turns the error into file:line:col. With `all`, every criterion is
/// checked and each error is appended there (the first is also returned).
Result<CompiledRulePtr> CompileRule(
    const packs::RuleMeta& rule,
    const OperatorRegistry& registry,
    const core::YamlDocument* doc_for_location = nullptr,
    std::vector<Error>* all = nullptr
);

/// The verdict on one criterion, for `rule test`, traces and enforcement reasons.
struct CriterionVerdict {
    std::string key;
    std::string op;
    Json value;  ///< null when absent
    bool present = false;
    Json pattern;  ///< rendered
    bool passed = false;
    std::string error;  ///< pattern render error
};

struct RuleVerdict {
    bool matched = false;
    std::vector<CriterionVerdict> criteria;
    /// First failing criterion, e.g. `trigger.body.ref equals "refs/heads/main" failed (value "refs/heads/dev")`.
    std::string reason;
};

/// Matches trigger instances against a rule set. Pure: rules in, matches out; no I/O, thread-safe once built.
/// Rules are indexed by trigger type and, for parameterised triggers (webhooks), by their parameters; within
/// that, rules with an equality-like criterion on a constant pattern — `equals` (scalar), `iequals` (string, by
/// its lower-cased form), `inside` (a list of scalars, by each element) — are indexed by (key, pattern), so an
/// instance only evaluates the rules whose criterion could hold plus the rules without such a criterion.
/// While one instance is matched (per thread, without allocating once warm), each distinct criteria key is
/// resolved once, each distinct criterion (key, operator, pattern) checked once whichever rules repeat it, and for
/// `search` each list item's keys and child verdicts are computed once whichever search criteria look at the list.
class Matcher {
public:
    explicit Matcher(std::vector<CompiledRulePtr> rules);

    /// Enabled rules on this trigger type whose trigger parameters equal the instance's, narrowed by the
    /// equality index (a superset of the rules that match), in load order.
    std::vector<CompiledRulePtr> Candidates(const core::TriggerInstance& ti) const;
    /// Evaluates every criterion of `rule` (no short-circuit, so that all verdicts are known), whatever its
    /// trigger type and enabled flag, through the same loop as Match.
    static RuleVerdict Evaluate(
        const CompiledRule& rule, const core::TriggerInstance& ti, const core::KeyValueLookup* kv = nullptr
    );
    /// Whether `rule` matches `payload`: Evaluate without the verdicts, stopping at the first failure.
    static bool Matches(const CompiledRule& rule, const Json& payload);
    /// Rules that match: the standard ones, or the backstop ones when no standard rule matched.
    /// `verdicts` (optional) receives the verdict of every enabled rule on the trigger (the equality index is
    /// bypassed so that a rule that did not match says why); without it only the candidates are evaluated.
    /// `kv` (optional): the datastore that criteria patterns read (`{{ st2kv.system.x }}`, `{{ system.x }}`), as
    /// StackStorm renders them with its system scope.
    std::vector<CompiledRulePtr> Match(
        const core::TriggerInstance& ti,
        std::vector<std::pair<CompiledRulePtr, RuleVerdict>>* verdicts = nullptr,
        const core::KeyValueLookup* kv = nullptr
    ) const;
    size_t size() const { return count_; }

private:
    struct StringHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    struct KeyIndex {
        uint32_t path_id = 0;  ///< the indexed key, in Bucket::paths
        bool lowered = false;  ///< iequals: keys and looked-up strings are ASCII lower-cased
        /// String patterns → rule positions (ascending), looked up without building a key.
        std::unordered_map<std::string, std::vector<uint32_t>, StringHash, std::equal_to<>> by_string;
        std::unordered_map<std::string, std::vector<uint32_t>> by_value;  ///< other scalars: EqualityKey → positions
    };
    /// One of a bucket's distinct criteria (same key path, operator, condition and pattern: same verdict on an
    /// instance). For `search`, the children are distinct criteria on `item.…` among the bucket's search children.
    /// What matching reads of a criterion is copied here, next to its neighbours, so that checking the candidates
    /// of an instance walks one array instead of every rule's heap-allocated criteria.
    struct DistinctCriterion {
        enum class Mode : uint8_t {
            kPrepared,    ///< `prepared` tests the value
            kPreparedCi,  ///< `prepared` tests the value with its lower-cased string (case-insensitive operators)
            kSearch,      ///< `search`: `children` on each item
            kGeneric,     ///< CheckValue on `criterion` (template patterns, operators without a prepared form)
        };
        const Criterion* criterion = nullptr;  ///< owned by a rule of the bucket
        uint32_t path_id = 0;                  ///< in Bucket::paths (trigger.…) or Bucket::item_paths (item.…)
        Mode mode = Mode::kGeneric;
        bool any_item = false;           ///< search: as Criterion::any_item
        bool all_children = false;       ///< search: as Criterion::all_children
        Prepared prepared;               ///< kPrepared, kPreparedCi: a copy of criterion->prepared
        std::vector<uint32_t> children;  ///< search: ids in Bucket::item_criteria, in `criterion->children` order
    };
    struct Bucket {
        Json trigger_parameters;
        std::vector<CompiledRulePtr> rules;  ///< load order
        std::vector<uint32_t> unindexed;     ///< positions always evaluated
        std::vector<uint32_t> positions;     ///< every position (0, 1, ...): all rules, for verdicts
        std::vector<KeyIndex> indexes;
        std::vector<std::vector<PathStep>> paths;            ///< distinct criteria keys (without #tag)
        std::unordered_map<std::string, uint32_t> path_ids;  ///< key → index in `paths`
        std::vector<DistinctCriterion> criteria;             ///< distinct criteria on `trigger.…`
        std::unordered_map<std::string, uint32_t> criterion_ids;
        /// Per rule position p: its criteria are the distinct criteria rule_criteria[rule_begin[p]..rule_begin[p+1]).
        std::vector<uint32_t> rule_begin;
        std::vector<uint32_t> rule_criteria;
        /// The children of top-level `search` criteria, interned the same way (their keys start with `item`).
        std::vector<std::vector<PathStep>> item_paths;
        std::unordered_map<std::string, uint32_t> item_path_ids;
        std::vector<DistinctCriterion> item_criteria;
        std::unordered_map<std::string, uint32_t> item_criterion_ids;
        std::vector<uint8_t> is_backstop;  ///< per rule position
    };
    struct InstanceCache;
    /// Appends `rule` to `bucket`: its criteria interned, and (with `index`) its equality index entries.
    static void AddRule(Bucket& bucket, CompiledRulePtr rule, bool index);
    /// The one search loop (matching and verdicts alike): the rules at positions `always` merged with `hits`
    /// (both ascending), in load order, checked on the instance `cache` was reset on; matches are appended to
    /// `standard` or `backstop`. With kExplain every criterion of every rule is checked and each rule's verdict
    /// appended to `verdicts`.
    template <bool kExplain>
    static void Scan(
        const Bucket& bucket,
        InstanceCache& cache,
        const std::vector<uint32_t>& always,
        const std::vector<uint32_t>& hits,
        std::vector<CompiledRulePtr>& standard,
        std::vector<CompiledRulePtr>& backstop,
        std::vector<std::pair<CompiledRulePtr, RuleVerdict>>* verdicts,
        const core::KeyValueLookup* kv
    );
    const Bucket* FindBucket(const core::TriggerInstance& ti) const;
    /// Positions of the candidate rules in `bucket.rules`, ascending.
    static void CandidatePositions(
        const Bucket& bucket, const Json& payload, InstanceCache& cache, std::vector<uint32_t>* out
    );
    /// Positions of the indexed rules whose key the instance holds, ascending.
    static void IndexHits(const Bucket& bucket, InstanceCache& cache, std::vector<uint32_t>* out);

    std::unordered_map<std::string, std::vector<Bucket>> by_trigger_;
    size_t count_ = 0;
};

}  // namespace squall::rules
