#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "squall/core/model/model.hpp"
#include "squall/packs/content.hpp"
#include "squall/rules/operators.hpp"

namespace squall::rules {

/// One criterion, checked once when the rule is compiled.
struct Criterion {
    std::string key;   ///< as written, e.g. "trigger.body.ref#1"
    std::string path;  ///< lookup path without the #tag, e.g. "trigger.body.ref"
    std::string op;    ///< operator name as written
    const OperatorFn* fn = nullptr;
    Json pattern;  ///< raw pattern (may contain templates)
    bool pattern_is_template = false;
};

/// A rule ready to match.
struct CompiledRule {
    packs::RuleMeta meta;
    std::vector<Criterion> criteria;
};
using CompiledRulePtr = std::shared_ptr<const CompiledRule>;

/// Validates the rule's criteria against the registry: an unknown operator is an error naming the key and
/// suggesting the closest operator, e.g. `criteria.trigger.body.ref.type: unknown operator "equal" (did you mean
/// "equals"?)`. `doc_for_location` (optional) turns the error into file:line:col.
Result<CompiledRulePtr> CompileRule(
    const packs::RuleMeta& rule, const OperatorRegistry& registry, const core::YamlDocument* doc_for_location = nullptr
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
/// Rules are indexed by trigger type and, for parameterised triggers (webhooks), by their parameters.
class Matcher {
public:
    explicit Matcher(std::vector<CompiledRulePtr> rules);

    /// Enabled rules on this trigger type whose trigger parameters equal the instance's.
    std::vector<CompiledRulePtr> Candidates(const core::TriggerInstance& ti) const;
    /// Evaluates every criterion of `rule` (no short-circuit, so that all verdicts are known).
    static RuleVerdict Evaluate(const CompiledRule& rule, const core::TriggerInstance& ti);
    /// Rules that match: the standard ones, or the backstop ones when no standard rule matched.
    /// `verdicts` (optional) receives the verdict of every candidate.
    std::vector<CompiledRulePtr> Match(
        const core::TriggerInstance& ti, std::vector<std::pair<CompiledRulePtr, RuleVerdict>>* verdicts = nullptr
    ) const;
    size_t size() const { return count_; }

private:
    std::unordered_map<std::string, std::vector<CompiledRulePtr>> by_trigger_;
    size_t count_ = 0;
};

}  // namespace squall::rules
