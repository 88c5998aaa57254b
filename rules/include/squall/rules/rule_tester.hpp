#pragma once

#include <string>

#include "squall/core/model/model.hpp"
#include "squall/rules/matcher.hpp"

namespace squall::rules {

/// What st2-rule-tester says about one rule and one trigger instance, without running anything: `squall rule
/// test` prints it, `POST /api/v1/rules/test` answers it.
struct RuleTestOutcome {
    bool matched = false;
    /// Every criterion's verdict (no short-circuit) and, when one failed, the first failing one in `reason`.
    RuleVerdict verdict;
    /// Why it does not match (empty when it matches): the first failing criterion, a disabled rule, another trigger
    /// type, or action parameters that do not render.
    std::string reason;
    /// Index in verdict.criteria of the first failing criterion; -1 when every criterion passed.
    int first_failed = -1;
    /// The rule's action parameters rendered with the instance's payload as `trigger` (when they render).
    Json action_parameters = Json::object();
};

/// As st2-rule-tester: the criteria evaluated on `ti`'s payload; a disabled rule, an instance of another trigger
/// type (or, when the instance has trigger parameters, of other parameters: another webhook url) or action parameters
/// that do not render (`trigger` is the only context: no datastore is read) are no match whatever the criteria say.
/// `kv` (optional): the datastore criteria patterns read, as the rules engine's (Matcher::Match).
RuleTestOutcome TestRule(
    const CompiledRule& rule, const core::TriggerInstance& ti, const core::KeyValueLookup* kv = nullptr
);

}  // namespace squall::rules
