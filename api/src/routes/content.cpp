#include "http.hpp"

#include <optional>

#include "squall/core/config.hpp"
#include "squall/core/mask.hpp"
#include "squall/core/regex.hpp"
#include "squall/core/store/kv_store.hpp"
#include "squall/core/yaml_json.hpp"
#include "squall/packs/parameters.hpp"
#include "squall/rules/matcher.hpp"
#include "squall/rules/rule_tester.hpp"
#include "squall/sensors/timer_spec.hpp"

namespace squall::api {
namespace {

/// Paged slice of a map's values, optionally filtered.
template <typename Map, typename ToJson, typename Keep>
void SendMap(const httplib::Request& req, httplib::Response& res, const Map& m, ToJson to_json, Keep keep) {
    Result<Page> page = QueryPage(req, 100000);
    if (!page) return SendError(res, page.error());
    std::vector<Json> all;
    for (const auto& [k, v] : m) {
        Json j = to_json(v);
        if (keep(j)) all.push_back(std::move(j));
    }
    std::vector<Json> items;
    for (size_t i = page->offset; i < all.size() && items.size() < page->limit; ++i) items.push_back(all[i]);
    SendList(res, items, all.size(), page->limit);
}

bool MatchesQuery(const httplib::Request& req, const Json& j, const char* param, const std::string& field) {
    if (!req.has_param(param)) return true;
    return j.value(field, "") == req.get_param_value(param);
}

/// Parses, validates and compiles a rule given as JSON (the StackStorm rule API shape).
Result<packs::RuleMeta> RuleFromBody(const Json& body, const ApiDeps& d, const packs::ContentSnapshot& snap) {
    core::YamlDocument doc;
    doc.file = "";
    doc.value = body;
    Result<packs::RuleMeta> rule = packs::RuleMeta::FromDocument(doc, "default");
    if (!rule) return rule.error();
    rule->metadata_file.clear();
    Result<rules::CompiledRulePtr> compiled = rules::CompileRule(*rule, d.operators);
    if (!compiled) return compiled.error();
    if (!snap.actions.count(rule->action_ref)) {
        std::vector<std::string> known;
        known.reserve(snap.actions.size());
        for (const auto& [ref, action] : snap.actions) known.push_back(ref);
        const std::string hint = core::ClosestMatch(rule->action_ref, known);
        return InvalidArgument(
            "action.ref: action \"" + rule->action_ref + "\" does not exist" +
            (hint.empty() ? std::string() : " (did you mean \"" + hint + "\"?)")
        );
    }
    // A regex that does not compile would fail its criterion on every event (the matcher treats it as re.error,
    // as StackStorm does): a rule given through the API is refused instead, naming the criterion.
    for (const auto& [key, crit] : rule->criteria.items()) {
        if (!crit.is_object() || !crit.contains("type") || !crit["type"].is_string()) continue;
        const rules::Operator* op = d.operators.FindOperator(crit["type"].get<std::string>());
        if (!op || (op->name != "regex" && op->name != "iregex" && op->name != "matchregex")) continue;
        const Json pattern = crit.value("pattern", Json());
        if (!pattern.is_string()) continue;
        const std::string& text = pattern.get_ref<const std::string&>();
        if (text.find("{{") != std::string::npos || text.find("{%") != std::string::npos) continue;  // rendered later
        Result<core::RegexPtr> re = core::Regex::Compile(text, {});
        if (!re) {
            return InvalidArgument("criteria." + key + ".pattern: " + re.error().message);
        }
    }
    // A timer's schedule is checked now, so that a CronTimer minute "*/0" is refused naming the field.
    if (sensors::TimerSpec::IsTimerType(rule->trigger_type)) {
        Result<sensors::TimerSpec> spec = sensors::TimerSpec::Parse(rule->trigger_type, rule->trigger_parameters);
        if (!spec) return spec.error();
    }
    if (!snap.trigger_types.count(rule->trigger_type)) {
        std::vector<std::string> known;
        for (const auto& [ref, type] : snap.trigger_types) known.push_back(ref);
        const std::string hint = core::ClosestMatch(rule->trigger_type, known);
        return InvalidArgument(
            "trigger.type: unknown trigger type \"" + rule->trigger_type + "\"" +
            (hint.empty() ? std::string() : " (did you mean \"" + hint + "\"?)")
        );
    }
    return rule;
}

/// The names of the secret parameters of `action_ref` (none when the action is unknown).
std::vector<std::string> SecretParameters(const packs::ContentSnapshot& snap, const std::string& action_ref) {
    std::vector<std::string> out;
    Result<Json> schema = snap.ActionSchema(action_ref);
    if (!schema || !schema->is_object()) return out;
    for (const auto& [name, spec] : schema->items()) {
        if (spec.is_object() && spec.value("secret", false) == true) out.push_back(name);
    }
    return out;
}

/// A rule as the API shows it: the values it gives the action's secret parameters masked, as StackStorm's rules API
/// masks them (since 3.2), unless an admin asks `show_secrets=true`.
Json RuleShown(const packs::RuleMeta& rule, const packs::ContentSnapshot& snap, bool show_secrets) {
    Json j = rule.ToJson();
    if (show_secrets || rule.action_parameters.empty()) return j;
    Json& params = j["action"]["parameters"];
    if (!params.is_object()) return j;
    for (const auto& name : SecretParameters(snap, rule.action_ref)) {
        if (auto it = params.find(name); it != params.end() && !it->is_null()) *it = packs::kMask;
    }
    return j;
}

/// A rule sent back as it was shown (`********` for a secret parameter's value) keeps the value it had.
void KeepMaskedSecrets(packs::RuleMeta& rule, const packs::RuleMeta& existing, const packs::ContentSnapshot& snap) {
    if (rule.action_ref != existing.action_ref || !rule.action_parameters.is_object()) return;
    for (const auto& name : SecretParameters(snap, rule.action_ref)) {
        auto it = rule.action_parameters.find(name);
        auto was = existing.action_parameters.find(name);
        if (it != rule.action_parameters.end() && *it == packs::kMask && was != existing.action_parameters.end())
            *it = *was;
    }
}

bool ShowSecrets(const httplib::Request& req) {
    const std::string v = req.get_param_value("show_secrets");
    return req.has_param("show_secrets") && v != "false" && v != "False" && v != "0";
}

Result<packs::RuleMeta> FindRule(const packs::ContentSnapshot& snap, const std::string& ref_or_id) {
    auto it = snap.rules.find(ref_or_id);
    if (it != snap.rules.end()) return it->second;
    for (const auto& [ref, rule] : snap.rules) {
        if (rule.id == ref_or_id) return rule;
    }
    return NotFound("rule \"" + ref_or_id + "\" not found");
}

/// The rule of a rule test's body: `rule` is a stored rule's ref or id, or a rule (the shape POST /rules takes).
Result<packs::RuleMeta> TestedRule(const Json& body, const ApiDeps& d, const packs::ContentSnapshot& snap) {
    auto it = body.find("rule");
    if (it == body.end()) return InvalidArgument("body: \"rule\" (a rule ref or a rule) is required");
    if (it->is_string()) {
        Result<packs::RuleMeta> rule = FindRule(snap, it->get<std::string>());
        if (!rule) return InvalidArgument("rule: " + rule.error().message);
        return rule;
    }
    if (!it->is_object()) return InvalidArgument("rule: must be a rule ref (a string) or a rule (an object)");
    Result<packs::RuleMeta> rule = RuleFromBody(*it, d, snap);
    if (!rule) return InvalidArgument("rule: " + rule.error().message);
    return rule;
}

/// The trigger instance of a rule test's body: `trigger_instance` is a stored instance's id, or an instance
/// `{trigger?, trigger_parameters?, payload}` (the trigger defaults to the rule's).
Result<core::TriggerInstance> TestedInstance(const Json& body, ApiDeps& d, const packs::RuleMeta& rule) {
    auto it = body.find("trigger_instance");
    if (it == body.end()) {
        return InvalidArgument("body: \"trigger_instance\" (a trigger instance id, or {trigger, payload}) is required");
    }
    if (it->is_string()) {
        Result<Json> stored = d.triggers.GetBlocking(it->get<std::string>());
        if (!stored) return InvalidArgument("trigger_instance: " + stored.error().message);
        Result<core::TriggerInstance> ti = core::TriggerInstance::FromJson(*stored);
        if (!ti) return Internal("stored trigger instance " + it->get<std::string>() + ": " + ti.error().message);
        return ti;
    }
    if (!it->is_object() || !it->contains("payload")) {
        return InvalidArgument("trigger_instance: must be a trigger instance id (a string) or {trigger, payload}");
    }
    core::TriggerInstance ti;
    ti.trigger = rule.trigger_type;
    ti.payload = (*it)["payload"];
    if (it->contains("trigger")) {
        if (!(*it)["trigger"].is_string())
            return InvalidArgument("trigger_instance.trigger: must be a trigger type ref (a string)");
        ti.trigger = (*it)["trigger"].get<std::string>();
    }
    if (it->contains("trigger_parameters")) {
        if (!(*it)["trigger_parameters"].is_object())
            return InvalidArgument("trigger_instance.trigger_parameters: must be an object");
        ti.trigger_parameters = (*it)["trigger_parameters"];
    }
    return ti;
}

/// A criterion's verdict as the API shows it (the shape of a trace's rule decisions).
Json CriterionJson(const rules::CriterionVerdict& c) {
    Json cj = {{"key", c.key}, {"type", c.op}, {"pattern", c.pattern}, {"passed", c.passed}};
    cj["value"] = c.present ? c.value : Json();
    if (!c.present) cj["absent"] = true;
    if (!c.error.empty()) cj["error"] = c.error;
    return cj;
}

/// POST /rules/test: st2-rule-tester's verdict, nothing run. Secret action parameters are masked.
void TestRuleRoute(ApiDeps& d, const httplib::Request& req, httplib::Response& res) {
    Result<Json> body = ParseObjectBody(req);
    if (!body) return SendError(res, body.error());
    Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
    if (!snap) return SendError(res, snap.error());
    Result<packs::RuleMeta> rule = TestedRule(*body, d, **snap);
    if (!rule) return SendError(res, rule.error());
    Result<core::TriggerInstance> ti = TestedInstance(*body, d, *rule);
    if (!ti) return SendError(res, ti.error());
    Result<rules::CompiledRulePtr> compiled = rules::CompileRule(*rule, d.operators);
    if (!compiled) return SendError(res, InvalidArgument("rule: " + compiled.error().message));
    // Criteria patterns read the datastore as the rules engine's do (its system scope); what they decrypted is masked.
    std::optional<core::KvLookup> kv;
    if (d.kv_cache) {
        (void)d.kv_cache->RefreshBlocking();
        kv.emplace(d.kv_cache->LookupFor(""));
    }
    const rules::RuleTestOutcome outcome = rules::TestRule(**compiled, *ti, kv ? &*kv : nullptr);
    Json criteria = Json::array();
    for (const auto& c : outcome.verdict.criteria) criteria.push_back(CriterionJson(c));
    Json params = outcome.action_parameters;
    if (params.is_object()) {
        for (const auto& name : SecretParameters(**snap, rule->action_ref)) {
            if (auto it = params.find(name); it != params.end()) *it = packs::kMask;
        }
    }
    Json instance = {{"trigger", ti->trigger}, {"payload", ti->payload}};
    if (!ti->id.empty()) instance["id"] = ti->id;
    if (!ti->trigger_parameters.empty()) instance["trigger_parameters"] = ti->trigger_parameters;
    Json answer = {
        {"matched", outcome.matched},
        {"reason", outcome.reason},
        {"rule",
         {{"ref", rule->Ref()},
          {"enabled", rule->enabled},
          {"trigger", {{"type", rule->trigger_type}, {"parameters", rule->trigger_parameters}}}}},
        {"trigger_instance", std::move(instance)},
        {"criteria", criteria},
        {"failed_criterion", outcome.first_failed >= 0 ? criteria[outcome.first_failed] : Json()},
        {"action", {{"ref", rule->action_ref}, {"parameters", std::move(params)}}}};
    if (kv) {
        if (const std::vector<std::string> revealed = kv->Revealed(); !revealed.empty())
            core::SecretMasker(revealed).Value(answer);
    }
    SendJson(res, 200, answer);
}

}  // namespace

void RegisterContentRoutes(Router& r, ApiDeps& d) {
    r.Get("/actions", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        SendMap(
            req,
            res,
            (*snap)->actions,
            [](const Json& a) { return a; },
            [&req](const Json& j) {
                return MatchesQuery(req, j, "pack", "pack") && MatchesQuery(req, j, "name", "name");
            }
        );
    });
    r.Get(R"(/actions/([A-Za-z0-9_.-]+))", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        auto it = (*snap)->actions.find(req.matches[1]);
        if (it == (*snap)->actions.end())
            return SendError(res, NotFound("action \"" + std::string(req.matches[1]) + "\" not found"));
        SendJson(res, 200, it->second);
    });
    // StackStorm's `action enable|disable` (st2client PUTs the whole action with `enabled` changed). An action's
    // definition comes from its pack's files: `enabled` is the one field taken from the body.
    r.Put(
        R"(/actions/([A-Za-z0-9_.-]+))",
        AdminOnly(
            "changing actions",
            [&d](const httplib::Request& req, httplib::Response& res) {
                Result<Json> body = ParseObjectBody(req);
                if (!body) return SendError(res, body.error());
                auto enabled = body->find("enabled");
                if (enabled == body->end() || !enabled->is_boolean()) {
                    return SendError(
                        res,
                        InvalidArgument(
                            "body: \"enabled\" (true or false) is required: it is the one field of an action that "
                            "the API changes; the rest comes from its pack's files (change them, then pack register)"
                        )
                    );
                }
                const std::string ref = req.matches[1];
                if (Status st = d.content.SetActionEnabledBlocking(ref, enabled->get<bool>()); !st)
                    return SendError(res, st.error());
                d.content_cache.Invalidate();
                Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
                if (!snap) return SendError(res, snap.error());
                auto it = (*snap)->actions.find(ref);
                if (it == (*snap)->actions.end()) return SendError(res, NotFound("action \"" + ref + "\" not found"));
                SendJson(res, 200, it->second);
            }
        )
    );
    // Creating or deleting an action through the API (StackStorm's POST /actions, DELETE /actions/{ref}): refused by
    // name rather than answered 404 for a resource that GET shows.
    const auto from_files = [](const httplib::Request&, httplib::Response& res) {
        res.set_header("Allow", "GET, PUT");
        SendJson(
            res,
            405,
            {{"faultstring",
              "actions are registered from their pack's files: add or remove the file and run `squall pack register "
              "<pack>` (or install the pack); the API changes only an action's \"enabled\""},
             {"code", "METHOD_NOT_ALLOWED"}}
        );
    };
    r.Post("/actions", AdminOnly("creating actions", from_files));
    r.Delete(R"(/actions/([A-Za-z0-9_.-]+))", AdminOnly("deleting actions", from_files));
    r.Get("/packs", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        SendMap(
            req, res, (*snap)->packs, [](const Json& a) { return a; }, [](const Json&) { return true; }
        );
    });
    r.Get(R"(/packs/([A-Za-z0-9_.-]+))", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        auto it = (*snap)->packs.find(req.matches[1]);
        if (it == (*snap)->packs.end())
            return SendError(res, NotFound("pack \"" + std::string(req.matches[1]) + "\" not found"));
        SendJson(res, 200, it->second);
    });

    r.Get("/rules", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        SendMap(
            req,
            res,
            (*snap)->rules,
            [&snap, show = ShowSecrets(req)](const packs::RuleMeta& rule) { return RuleShown(rule, **snap, show); },
            [&req](const Json& j) {
                if (req.has_param("trigger") && j["trigger"].value("type", "") != req.get_param_value("trigger"))
                    return false;
                if (req.has_param("action") && j["action"].value("ref", "") != req.get_param_value("action"))
                    return false;
                return MatchesQuery(req, j, "pack", "pack") && MatchesQuery(req, j, "name", "name");
            }
        );
    });
    r.Get(R"(/rules/([A-Za-z0-9_.-]+))", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        Result<packs::RuleMeta> rule = FindRule(**snap, req.matches[1]);
        if (!rule) return SendError(res, rule.error());
        SendJson(res, 200, RuleShown(*rule, **snap, ShowSecrets(req)));
    });
    // st2-rule-tester over HTTP (docs/api.md "Rule tester"); registered before /rules/{ref} routes of other methods.
    r.Post("/rules/test", AdminOnly("testing rules", [&d](const httplib::Request& req, httplib::Response& res) {
               TestRuleRoute(d, req, res);
           }));
    r.Post("/rules", AdminOnly("creating rules", [&d](const httplib::Request& req, httplib::Response& res) {
               Result<Json> body = ParseObjectBody(req);
               if (!body) return SendError(res, body.error());
               Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
               if (!snap) return SendError(res, snap.error());
               Result<packs::RuleMeta> rule = RuleFromBody(*body, d, **snap);
               if (!rule) return SendError(res, rule.error());
               rule->id.clear();
               if (Status st = d.content.PutRuleBlocking(*rule, true); !st) return SendError(res, st.error());
               d.content_cache.Invalidate();
               Result<packs::ContentSnapshotPtr> fresh = d.content_cache.GetBlocking();
               if (!fresh) return SendError(res, fresh.error());
               Result<packs::RuleMeta> stored = FindRule(**fresh, rule->Ref());
               SendJson(res, 201, RuleShown(stored ? *stored : *rule, **fresh, false));
           }));
    r.Put(
        R"(/rules/([A-Za-z0-9_.-]+))",
        AdminOnly(
            "changing rules",
            [&d](const httplib::Request& req, httplib::Response& res) {
                Result<Json> body = ParseObjectBody(req);
                if (!body) return SendError(res, body.error());
                Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
                if (!snap) return SendError(res, snap.error());
                Result<packs::RuleMeta> existing = FindRule(**snap, req.matches[1]);
                if (!existing) return SendError(res, existing.error());
                Result<packs::RuleMeta> rule = RuleFromBody(*body, d, **snap);
                if (!rule) return SendError(res, rule.error());
                if (rule->Ref() != existing->Ref()) {
                    return SendError(
                        res,
                        InvalidArgument(
                            "the rule's ref \"" + rule->Ref() + "\" differs from \"" + existing->Ref() + "\""
                        )
                    );
                }
                rule->id = existing->id;
                KeepMaskedSecrets(*rule, *existing, **snap);
                if (Status st = d.content.PutRuleBlocking(*rule, false); !st) return SendError(res, st.error());
                d.content_cache.Invalidate();
                SendJson(res, 200, RuleShown(*rule, **snap, false));
            }
        )
    );
    r.Delete(
        R"(/rules/([A-Za-z0-9_.-]+))",
        AdminOnly(
            "deleting rules",
            [&d](const httplib::Request& req, httplib::Response& res) {
                Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
                if (!snap) return SendError(res, snap.error());
                Result<packs::RuleMeta> rule = FindRule(**snap, req.matches[1]);
                if (!rule) return SendError(res, rule.error());
                if (Status st = d.content.DeleteRuleBlocking(rule->Ref()); !st) return SendError(res, st.error());
                d.content_cache.Invalidate();
                res.status = 204;
            }
        )
    );
}

}  // namespace squall::api
