// `squall rule test <rule.yaml> (--payload FILE | --trigger-instance ID)`: st2-rule-tester. Says whether and why
// a rule matches a payload without running anything: one line per criterion, then MATCH or NO MATCH.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "app.hpp"
#include "squall/api/client.hpp"
#include "squall/core/yaml_json.hpp"
#include "squall/rules/matcher.hpp"
#include "squall/rules/rule_tester.hpp"

namespace squall::app {
namespace {

using core::Json;

constexpr const char* kRuleTestUsage =
    "usage: squall rule test <rule.yaml> (--payload payload.json | --trigger-instance ID)\n"
    "  exit 0: the rule matches; 1: it does not; 2: the rule or the payload could not be loaded\n";

int LoadError(const Error& e) {
    std::cerr << "ERROR: " << e.What() << "\n";
    return 2;
}

/// Pattern or value for the report: JSON, cut to a readable length.
std::string Shown(const Json& v) {
    std::string s = v.dump();
    if (s.size() > 200) s = s.substr(0, 197) + "...";
    return s;
}

}  // namespace

int RuleTestCommand(const std::vector<std::string>& args) {
    // args: "rule" "test" <rule.yaml> [--payload FILE | --trigger-instance ID | <payload.json|ID>]
    std::string rule_file;
    std::string payload_file;
    std::string trigger_instance;
    for (size_t i = 2; i < args.size(); ++i) {
        const std::string& a = args[i];
        if ((a == "--payload" || a == "-p") && i + 1 < args.size()) {
            payload_file = args[++i];
        } else if ((a == "--trigger-instance" || a == "-t") && i + 1 < args.size()) {
            trigger_instance = args[++i];
        } else if (a == "-h" || a == "--help") {
            std::cout << kRuleTestUsage;
            return 0;
        } else if (!a.empty() && a[0] == '-') {
            std::cerr << "squall: unknown option \"" << a << "\"\n" << kRuleTestUsage;
            return 2;
        } else if (rule_file.empty()) {
            rule_file = a;
        } else if (payload_file.empty() && trigger_instance.empty()) {
            // SPEC §4's positional form: an existing file is a payload, anything else a trigger instance id.
            (access(a.c_str(), R_OK) == 0 ? payload_file : trigger_instance) = a;
        } else {
            std::cerr << kRuleTestUsage;
            return 2;
        }
    }
    if (rule_file.empty() || payload_file.empty() == trigger_instance.empty()) {
        std::cerr << kRuleTestUsage;
        return 2;
    }

    Result<core::YamlDocument> doc = core::LoadYamlFile(rule_file);
    if (!doc) return LoadError(doc.error());
    Result<packs::RuleMeta> meta = packs::RuleMeta::FromDocument(*doc, "default");
    if (!meta) return LoadError(meta.error());
    rules::OperatorRegistry operators;
    rules::RegisterBuiltinOperators(operators);
    Result<rules::CompiledRulePtr> rule = rules::CompileRule(*meta, operators, &*doc);
    if (!rule) return LoadError(rule.error());
    // The action's metadata is not at hand offline: any `cmd` rendering trigger data is worth a warning.
    for (const auto& w : packs::TriggerDataInShellWarnings(*meta, Json())) std::cerr << "warning: " << w << "\n";

    core::TriggerInstance ti;
    ti.trigger = meta->trigger_type;
    if (!payload_file.empty()) {
        Result<core::YamlDocument> payload = core::LoadYamlFile(payload_file);  // JSON is YAML too
        if (!payload) return LoadError(payload.error());
        // A stored trigger instance (as `trigger-instance get -j` prints it) is accepted too.
        const Json& v = payload->value;
        const bool is_instance = v.is_object() && v.contains("payload") && v.contains("trigger");
        ti.payload = is_instance ? v["payload"] : v;
        if (is_instance && v["trigger"].is_string()) ti.trigger = v["trigger"].get<std::string>();
    } else {
        api::ApiClient client = CliClient();
        Result<api::ApiResponse> r = client.Get("/triggerinstances/" + trigger_instance);
        if (!r) return LoadError(r.error());
        ti.id = trigger_instance;
        ti.payload = r->body.contains("payload") ? r->body["payload"] : Json::object();
        if (r->body.contains("trigger") && r->body["trigger"].is_string())
            ti.trigger = r->body["trigger"].get<std::string>();
    }
    const rules::RuleTestOutcome outcome = rules::TestRule(**rule, ti);
    for (const auto& c : outcome.verdict.criteria) {
        std::cout << (c.passed ? "PASS " : "FAIL ") << c.key << " " << c.op << " "
                  << (c.error.empty() ? Shown(c.pattern) : "<render error: " + c.error + ">") << " "
                  << (c.present ? Shown(c.value) : std::string("<absent>")) << "\n";
    }
    // As st2-rule-tester: a disabled rule, another trigger type or action parameters that do not render are no
    // match, whatever the criteria say.
    const std::string& reason = outcome.reason;
    if (outcome.matched) {
        std::cout << "MATCH " << meta->Ref() << " -> " << meta->action_ref << "\n";
        return 0;
    }
    std::cout << "NO MATCH " << meta->Ref() << (reason.empty() ? "" : ": " + reason) << "\n";
    return 1;
}

}  // namespace squall::app
