// st2-rule-tester's verdict on one rule and one trigger instance (rule_tester.hpp).
#include "squall/rules/rule_tester.hpp"

#include "squall/templates/template.hpp"

namespace squall::rules {

RuleTestOutcome TestRule(const CompiledRule& rule, const core::TriggerInstance& ti, const core::KeyValueLookup* kv) {
    RuleTestOutcome out;
    out.verdict = Matcher::Evaluate(rule, ti, kv);
    for (size_t i = 0; i < out.verdict.criteria.size(); ++i) {
        if (!out.verdict.criteria[i].passed) {
            out.first_failed = static_cast<int>(i);
            break;
        }
    }
    const packs::RuleMeta& meta = rule.meta;
    Result<Json> params =
        core::RenderValue(meta.action_parameters, {{"trigger", ti.payload}}, {.stackstorm_whitespace = true});
    if (params) out.action_parameters = std::move(*params);
    if (!out.verdict.matched) {
        out.reason = out.verdict.reason;
    } else if (!meta.enabled) {
        out.reason = "the rule is disabled (enabled: false)";
    } else if (ti.trigger != meta.trigger_type) {
        out.reason = "the trigger instance is a " + ti.trigger + ", the rule listens to " + meta.trigger_type;
    } else if (ti.trigger_parameters.is_object() && !ti.trigger_parameters.empty() && !meta.trigger_parameters.empty() && ti.trigger_parameters != meta.trigger_parameters) {
        // A parameterised trigger (a webhook url, a timer schedule) is a trigger of its own.
        out.reason = "the trigger instance's trigger parameters " + ti.trigger_parameters.dump() +
                     " are not the rule's " + meta.trigger_parameters.dump();
    } else if (!params) {
        out.reason = "action parameters: " + params.error().message;
    } else {
        out.matched = true;
    }
    return out;
}

}  // namespace squall::rules
