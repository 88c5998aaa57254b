#include "squall/rules/matcher.hpp"

#include "squall/core/config.hpp"
#include "squall/core/template.hpp"

namespace squall::rules {
namespace {

std::string IndexKey(const std::string& trigger_type, const Json& parameters) {
    if (!parameters.is_object() || parameters.empty())
        return trigger_type;
    return trigger_type + "|" + parameters.dump();
}

std::string Short(const Json& v) {
    std::string s = v.dump();
    if (s.size() > 120)
        s = s.substr(0, 117) + "...";
    return s;
}

}  // namespace

Result<CompiledRulePtr> CompileRule(
    const packs::RuleMeta& rule, const OperatorRegistry& registry, const core::YamlDocument* doc
) {
    auto compiled = std::make_shared<CompiledRule>();
    compiled->meta = rule;
    for (const auto& [key, c] : rule.criteria.items()) {
        Criterion crit;
        crit.key = key;
        crit.path = key.substr(0, key.find('#'));
        crit.op = c.value("type", "");
        crit.fn = registry.Find(crit.op);
        const std::string field = "criteria." + key + ".type";
        if (!crit.fn) {
            const std::string hint = core::ClosestMatch(crit.op, registry.Names());
            const std::string msg = "unknown operator \"" + crit.op + "\"" +
                                    (hint.empty() ? std::string() : " (did you mean \"" + hint + "\"?)");
            if (doc)
                return doc->ErrorAt(field, msg);
            return InvalidArgument(field + ": " + msg);
        }
        if (crit.path.rfind("trigger.", 0) != 0 && crit.path != "trigger") {
            const std::string msg = "criteria keys start with \"trigger.\" (got \"" + key + "\")";
            if (doc)
                return doc->ErrorAt("criteria." + key, msg);
            return InvalidArgument("criteria." + key + ": " + msg);
        }
        crit.pattern = c.contains("pattern") ? c["pattern"] : Json(nullptr);
        crit.pattern_is_template =
            crit.pattern.is_string() && crit.pattern.get<std::string>().find("{{") != std::string::npos;
        compiled->criteria.push_back(std::move(crit));
    }
    return CompiledRulePtr(std::move(compiled));
}

Matcher::Matcher(std::vector<CompiledRulePtr> rules) {
    for (auto& r : rules) {
        if (!r->meta.enabled)
            continue;
        by_trigger_[IndexKey(r->meta.trigger_type, r->meta.trigger_parameters)].push_back(std::move(r));
        ++count_;
    }
}

std::vector<CompiledRulePtr> Matcher::Candidates(const core::TriggerInstance& ti) const {
    auto it = by_trigger_.find(IndexKey(ti.trigger, ti.trigger_parameters));
    return it == by_trigger_.end() ? std::vector<CompiledRulePtr>{} : it->second;
}

RuleVerdict Matcher::Evaluate(const CompiledRule& rule, const core::TriggerInstance& ti) {
    RuleVerdict verdict;
    verdict.matched = true;
    const Json context = {{"trigger", ti.payload}};
    for (const auto& c : rule.criteria) {
        CriterionVerdict cv;
        cv.key = c.key;
        cv.op = c.op;
        const Json* value = core::LookupPath(context, c.path);
        cv.present = value != nullptr;
        if (value)
            cv.value = *value;
        if (c.pattern_is_template) {
            Result<Json> rendered = core::RenderValue(c.pattern, context);
            if (!rendered) {
                cv.error = rendered.error().message;
                cv.passed = false;
            } else {
                cv.pattern = std::move(*rendered);
            }
        } else {
            cv.pattern = c.pattern;
        }
        if (cv.error.empty())
            cv.passed = (*c.fn)(value, cv.pattern);
        if (!cv.passed && verdict.matched) {
            verdict.matched = false;
            verdict.reason = cv.error.empty() ? c.key + " " + c.op + " " + Short(cv.pattern) + " failed (value " +
                                                    (cv.present ? Short(cv.value) : std::string("absent")) + ")"
                                              : c.key + ": pattern " + cv.error;
        }
        verdict.criteria.push_back(std::move(cv));
    }
    return verdict;
}

std::vector<CompiledRulePtr> Matcher::Match(
    const core::TriggerInstance& ti, std::vector<std::pair<CompiledRulePtr, RuleVerdict>>* verdicts
) const {
    std::vector<CompiledRulePtr> standard;
    std::vector<CompiledRulePtr> backstop;
    for (const auto& rule : Candidates(ti)) {
        RuleVerdict v = Evaluate(*rule, ti);
        if (v.matched)
            (rule->meta.type == "backstop" ? backstop : standard).push_back(rule);
        if (verdicts)
            verdicts->emplace_back(rule, std::move(v));
    }
    return standard.empty() ? backstop : standard;
}

}  // namespace squall::rules
