// Rule matching cost (SPEC §4 performance): one trigger instance against N rules on its trigger type.
//   BM_MatchEqualsRules/N: every rule has `equals` on the same key with a different pattern; with the equality
//     index the per-instance cost must stay nearly flat (10,000 rules ≤ 3× the cost of 100).
//   BM_MatchMixedRules: 100 rules of mixed operators (a third with an `equals`, the rest regex, wildcard, contains,
//     comparisons, inside, search, one template); target ≥ 500 k instances/s per core.
//   BM_MatchMixedRulesWithVerdicts: the same rules asked for every rule's verdict (`squall rule test`, traces).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "squall/rules/matcher.hpp"

namespace squall::rules {
namespace {

const OperatorRegistry& Ops() {
    static const OperatorRegistry kOps = [] {
        OperatorRegistry r;
        RegisterBuiltinOperators(r);
        return r;
    }();
    return kOps;
}

CompiledRulePtr Rule(const std::string& name, const Json& criteria) {
    packs::RuleMeta meta;
    meta.name = name;
    meta.trigger_type = "bench.event";
    meta.criteria = criteria;
    meta.action_ref = "core.noop";
    return *CompileRule(meta, Ops());
}

core::TriggerInstance Instance() {
    core::TriggerInstance ti;
    ti.id = "ti";
    ti.trigger = "bench.event";
    ti.payload = Json::parse(R"({
        "host": "web-42.prod.example.com", "service": "service-37", "severity": 4, "env": "prod",
        "message": "disk usage 91% on /var/lib/data", "tags": ["disk", "pager", "linux"],
        "labels": {"team": "storage", "region": "eu-west-1"},
        "checks": [{"name": "ci/unit", "state": "passed"}, {"name": "ci/lint", "state": "failed"}]
    })");
    return ti;
}

void BM_MatchEqualsRules(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    std::vector<CompiledRulePtr> rules;
    for (int i = 0; i < n; ++i) {
        rules.push_back(Rule(
            "r" + std::to_string(i),
            {{"trigger.service", {{"type", "equals"}, {"pattern", "service-" + std::to_string(i)}}}}
        ));
    }
    const Matcher matcher(std::move(rules));
    const core::TriggerInstance ti = Instance();
    size_t matched = 0;
    for (auto _ : state) {
        auto m = matcher.Match(ti);
        matched += m.size();
        benchmark::DoNotOptimize(m);
    }
    state.counters["matched_per_instance"] = static_cast<double>(matched) / static_cast<double>(state.iterations());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchEqualsRules)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000);

std::vector<CompiledRulePtr> MixedRules(bool with_template) {
    std::vector<CompiledRulePtr> rules;
    for (int i = 0; i < 100; ++i) {
        const std::string s = std::to_string(i);
        Json c;
        switch (i % 10) {
            case 0:
                c = {
                    {"trigger.service", {{"type", "equals"}, {"pattern", "service-" + s}}},
                    {"trigger.severity", {{"type", "gt"}, {"pattern", 2}}}};
                break;
            case 1:
                c = {
                    {"trigger.env", {{"type", "eq"}, {"pattern", i % 3 ? "stage" : "prod"}}},
                    {"trigger.host", {{"type", "matchwildcard"}, {"pattern", "web-*.prod.*"}}}};
                break;
            case 2:
                c = {{"trigger.message", {{"type", "regex"}, {"pattern", "disk usage (9[0-9])% on /var/" + s}}}};
                break;
            case 3:
                c = {{"trigger.tags", {{"type", "contains"}, {"pattern", "tag" + s}}}};
                break;
            case 4:
                c = {
                    {"trigger.host", {{"type", "startswith"}, {"pattern", "db-" + s}}},
                    {"trigger.severity", {{"type", "lessthan"}, {"pattern", 3}}}};
                break;
            case 5:
                c = {{"trigger.labels.team", {{"type", "iequals"}, {"pattern", "team-" + s}}}};
                break;
            case 6:
                c = {{"trigger.labels.region", {{"type", "inside"}, {"pattern", {"us-east-1", "ap-south-" + s}}}}};
                break;
            case 7:
                c = {{"trigger.message", {{"type", "icontains"}, {"pattern", "MEMORY " + s}}}};
                break;
            case 8:
                c = {
                    {"trigger.checks",
                     {{"type", "search"},
                      {"condition", "any"},
                      {"pattern",
                       {{"item.name", {{"type", "equals"}, {"pattern", "ci/e2e-" + s}}},
                        {"item.state", {{"type", "equals"}, {"pattern", "failed"}}}}}}}};
                break;
            default:
                // One rule in a hundred has a template pattern (rendered per instance); the others in this slot use
                // nequals and exists.
                if (i == 99 && with_template) {
                    c = {{"trigger.service", {{"type", "equals"}, {"pattern", "{{ trigger.env }}-" + s}}}};
                } else {
                    c = {
                        {"trigger.severity", {{"type", "neq"}, {"pattern", i}}}, {"trigger.env", {{"type", "exists"}}}};
                }
                break;
        }
        rules.push_back(Rule("mixed" + s, c));
    }
    return rules;
}

/// Arg 0: no template patterns; arg 1: one rule of the hundred has a template pattern, so the template context is
/// built (a copy of the payload) for every instance.
void BM_MatchMixedRules(benchmark::State& state) {
    const Matcher matcher(MixedRules(state.range(0) != 0));
    const core::TriggerInstance ti = Instance();
    size_t matched = 0;
    for (auto _ : state) {
        auto m = matcher.Match(ti);
        matched += m.size();
        benchmark::DoNotOptimize(m);
    }
    state.counters["matched_per_instance"] = static_cast<double>(matched) / static_cast<double>(state.iterations());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchMixedRules)->Arg(0)->Arg(1);

/// BM_MatchMixedRules over 64 different instances in turn (services, hosts, severities, messages, tags and checks
/// vary, so that the equality index and the operators see different values), so that no per-instance work can be
/// served from the previous instance. Arg as BM_MatchMixedRules.
void BM_MatchMixedRulesVaryingInstances(benchmark::State& state) {
    const Matcher matcher(MixedRules(state.range(0) != 0));
    std::vector<core::TriggerInstance> instances;
    for (int i = 0; i < 64; ++i) {
        core::TriggerInstance ti = Instance();
        const std::string s = std::to_string(i);
        ti.payload["service"] = "service-" + std::to_string(i * 7 % 100);
        ti.payload["host"] = (i % 3 ? "web-" : "db-") + s + (i % 2 ? ".prod.example.com" : ".stage.example.com");
        ti.payload["severity"] = i % 6;
        ti.payload["env"] = i % 4 ? "prod" : "stage";
        ti.payload["message"] = (i % 2 ? "disk usage 9" : "MEMORY ") + s + "% on /var/" + s;
        ti.payload["tags"] = Json::array({"tag" + s, "pager"});
        ti.payload["labels"]["team"] = "TEAM-" + std::to_string(i % 10 * 10 + 5);
        ti.payload["checks"][0]["name"] = "ci/e2e-" + std::to_string(i % 10 * 10 + 8);
        instances.push_back(std::move(ti));
    }
    size_t matched = 0;
    size_t next = 0;
    for (auto _ : state) {
        auto m = matcher.Match(instances[next]);
        next = (next + 1) % instances.size();
        matched += m.size();
        benchmark::DoNotOptimize(m);
    }
    state.counters["matched_per_instance"] = static_cast<double>(matched) / static_cast<double>(state.iterations());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchMixedRulesVaryingInstances)->Arg(0)->Arg(1);

/// BM_MatchMixedRules with the verdict of every rule (the equality index bypassed). Arg as BM_MatchMixedRules.
void BM_MatchMixedRulesWithVerdicts(benchmark::State& state) {
    const Matcher matcher(MixedRules(state.range(0) != 0));
    const core::TriggerInstance ti = Instance();
    size_t matched = 0;
    for (auto _ : state) {
        std::vector<std::pair<CompiledRulePtr, RuleVerdict>> verdicts;
        auto m = matcher.Match(ti, &verdicts);
        matched += m.size();
        benchmark::DoNotOptimize(m);
        benchmark::DoNotOptimize(verdicts);
    }
    state.counters["matched_per_instance"] = static_cast<double>(matched) / static_cast<double>(state.iterations());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchMixedRulesWithVerdicts)->Arg(0)->Arg(1);

}  // namespace
}  // namespace squall::rules
