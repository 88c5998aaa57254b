// Rule criteria (rules/): any criteria compile or fail with an error naming the criterion, and a compiled rule
// evaluates any payload; never a crash, a hang or a throw. Input: criteria JSON, a NUL byte, payload JSON.
#include <cstdint>

#include "fuzz_input.hpp"
#include "squall/core/input.hpp"
#include "squall/rules/matcher.hpp"

namespace {
const squall::rules::OperatorRegistry& Ops() {
    static const squall::rules::OperatorRegistry kOps = [] {
        squall::rules::OperatorRegistry r;
        squall::rules::RegisterBuiltinOperators(r);
        return r;
    }();
    return kOps;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace squall;
    auto [criteria_text, payload_text] = fuzz::SplitAtNul(data, size);
    Result<core::Json> criteria = core::ParseJsonLimited(criteria_text, "criteria");
    if (!criteria || !criteria->is_object()) return 0;
    packs::RuleMeta meta;
    meta.name = "fuzz";
    meta.pack = "fuzz";
    meta.trigger_type = "fuzz.event";
    meta.criteria = *criteria;
    meta.action_ref = "core.noop";
    Result<rules::CompiledRulePtr> rule = rules::CompileRule(meta, Ops());
    if (!rule) return 0;
    core::TriggerInstance ti;
    ti.id = "ti";
    ti.trigger = "fuzz.event";
    Result<core::Json> payload = core::ParseJsonLimited(payload_text, "payload");
    ti.payload = payload ? *payload : core::Json::object();
    (void)rules::Matcher::Evaluate(**rule, ti);
    (void)rules::Matcher::Matches(**rule, ti.payload);
    const rules::Matcher matcher({*rule});
    (void)matcher.Match(ti);
    return 0;
}
