// Triggers, trigger instances, rule enforcements and traces (issue 13 item 8; SPEC §11 "trace everything"):
// GET /triggers[/{id}], GET /triggerinstances (filters, paging), GET /triggerinstances/{id}, POST
// /triggerinstances/{id}/re_emit, GET /ruleenforcements[/{id}], GET /traces[/{id}]. docs/api.md "Trigger instances and
// traces".
#include <algorithm>
#include <optional>
#include <set>

#include "http.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/core/mask.hpp"
#include "squall/core/store/kv_store.hpp"
#include "squall/rules/enforcements.hpp"
#include "squall/rules/matcher.hpp"

namespace squall::api {
namespace {

using SysTime = std::chrono::system_clock::time_point;

/// How many of the newest trigger instances a filtered list looks through: there is no per-trigger index, so
/// filters scan, and answer the matches among these (docs/api.md "Lists").
constexpr size_t kScanWindow = 10000;
constexpr size_t kScanBatch = 500;
/// How many of the newest trigger instances the `execution` and `rule` filters of /traces look through (each
/// instance costs a trace).
constexpr size_t kTraceScanWindow = 500;
/// Bounds of a trace's execution tree (workflows of workflows).
constexpr int kMaxExecutionDepth = 6;
constexpr size_t kMaxExecutions = 500;

/// A filter on stored trigger instances from the query: trigger (or StackStorm's trigger_type), status,
/// timestamp_gt / timestamp_lt (ISO-8601, on occurrence_time). kInvalidArgument naming a bad parameter.
struct InstanceFilter {
    std::string trigger;
    std::string status;
    std::optional<SysTime> after;
    std::optional<SysTime> before;
    bool Empty() const { return trigger.empty() && status.empty() && !after && !before; }
    bool Keeps(const Json& ti) const {
        if (!trigger.empty() && ti.value("trigger", "") != trigger) return false;
        if (!status.empty() && ti.value("status", "") != status) return false;
        if (after || before) {
            SysTime at;
            if (!core::ParseIsoTimestamp(ti.value("occurrence_time", ""), &at)) return false;
            if (after && !(at > *after)) return false;
            if (before && !(at < *before)) return false;
        }
        return true;
    }
    static Result<InstanceFilter> FromQuery(const httplib::Request& req) {
        InstanceFilter f;
        f.trigger = req.has_param("trigger") ? req.get_param_value("trigger") : req.get_param_value("trigger_type");
        f.status = req.get_param_value("status");
        static const std::set<std::string> kStatuses = {"pending", "processing", "processed", "processing_failed"};
        if (!f.status.empty() && !kStatuses.count(f.status)) {
            return InvalidArgument(
                "status: \"" + f.status + "\" is not one of pending, processing, processed, processing_failed"
            );
        }
        for (const char* name : {"timestamp_gt", "timestamp_lt"}) {
            if (!req.has_param(name)) continue;
            SysTime t;
            if (!core::ParseIsoTimestamp(req.get_param_value(name), &t)) {
                return InvalidArgument(
                    std::string(name) +
                    ": not an ISO-8601 time between the years 1678 and 2261 (e.g. 2026-01-31T12:00:00Z)"
                );
            }
            (std::string(name) == "timestamp_gt" ? f.after : f.before) = t;
        }
        return f;
    }
};

/// Pages over the newest instances that `keep`, scanning at most `window` of them; `total` counts the matches.
Result<std::vector<Json>> ScanInstances(
    ApiDeps& d, const Page& page, size_t window, const std::function<bool(const Json&)>& keep, size_t* matched
) {
    std::vector<Json> out;
    *matched = 0;
    size_t total = 0;
    for (size_t scanned = 0; scanned < window; scanned += kScanBatch) {
        Result<std::vector<Json>> batch = d.triggers.ListBlocking(scanned, kScanBatch, &total);
        if (!batch) return batch.error();
        for (auto& ti : *batch) {
            if (!keep(ti)) continue;
            if ((*matched)++ >= page.offset && out.size() < page.limit) out.push_back(std::move(ti));
        }
        if (batch->size() < kScanBatch) break;
    }
    return out;
}

/// The execution `id` with its children (workflow tasks), recursively: {id, action, status, start_timestamp,
/// end_timestamp, elapsed_seconds, children: [...]}. `budget` bounds the whole tree.
Json ExecutionNode(ApiDeps& d, const std::string& id, int depth, size_t& budget) {
    Json node = {{"id", id}};
    if (budget == 0) {
        node["truncated"] = true;
        return node;
    }
    --budget;
    Result<Json> e = d.executions.GetBlocking(id);
    if (!e) {
        node["error"] = e.error().message;
        return node;
    }
    node["action"] = (*e)["action"].value("ref", "");
    node["status"] = e->value("status", "");
    for (const char* k : {"start_timestamp", "end_timestamp", "elapsed_seconds"}) {
        if (e->contains(k)) node[k] = (*e)[k];
    }
    if (e->contains("context") && (*e)["context"].contains("orquesta")) {
        node["task"] = (*e)["context"]["orquesta"].value("task_name", "");
    }
    node["children"] = Json::array();
    const Json children = e->value("children", Json::array());
    if (depth >= kMaxExecutionDepth && !children.empty()) {
        node["children_truncated"] = children.size();
        return node;
    }
    for (const auto& c : children) {
        if (c.is_string()) node["children"].push_back(ExecutionNode(d, c.get<std::string>(), depth + 1, budget));
    }
    return node;
}

/// A workflow's tasks under `node` (ExecutionNode), recursively, as trace components caused by their parent: StackStorm
/// puts a task's execution in its workflow's trace (st2common/services/trace.py), so `GET /traces?execution=<task>`
/// finds it.
void AddTaskComponents(const Json& node, Json& out) {
    for (const auto& c : node.value("children", Json::array())) {
        if (!c.is_object() || !c.contains("action")) continue;
        out.push_back(
            {{"object_id", c.value("id", "")},
             {"ref", c.value("action", "")},
             {"updated_at", c.value("start_timestamp", "")},
             {"caused_by", {{"type", "action_execution"}, {"id", node.value("id", "")}}}}
        );
        AddTaskComponents(c, out);
    }
}

/// The trace of one trigger instance (its id is the instance's): StackStorm's shape (`trigger_instances`,
/// `rules`, `action_executions`, each `{object_id, ref, updated_at, caused_by}`) and, for people, the instance
/// itself, one decision per rule that was or would be evaluated for it, and the tree of executions it caused.
///
/// Decisions: the stored enforcements (the rules that matched, with their execution or failure reason), then the
/// enabled rules on the instance's trigger (and trigger parameters) evaluated now against the instance, with
/// every criterion's verdict: for a miss, `reason` names the first criterion that failed. The rules engine stores
/// no record of a miss (it would cost every instance a write), so a miss is evaluated with the rules as they are
/// now (`evaluated: "now"`, with the content version); a rule that matches now but has no enforcement was added or
/// changed after the instance was processed.
Result<Json> TraceOf(ApiDeps& d, const Json& ti, bool with_decisions) {
    const std::string id = ti.value("id", "");
    const std::string at = ti.value("occurrence_time", "");
    Json trace = {
        {"id", id},
        {"uid", "trace:" + id},
        {"trace_tag", ti.value("trace_tag", "")},
        {"start_timestamp", at},
        {"trigger_instances",
         Json::array(
             {{{"object_id", id}, {"ref", ti.value("trigger", "")}, {"updated_at", at}, {"caused_by", Json::object()}}}
         )},
        {"rules", Json::array()},
        {"action_executions", Json::array()}};
    size_t total = 0;
    Result<std::vector<Json>> enforcements = d.enforcements.ListBlocking(id, 0, 100, &total);
    if (!enforcements) return enforcements.error();
    Json decisions = Json::array();
    Json executions = Json::array();
    std::set<std::string> enforced;
    size_t budget = kMaxExecutions;
    for (auto it = enforcements->rbegin(); it != enforcements->rend(); ++it) {  // oldest first
        const Json& e = *it;
        const Json rule = e.value("rule", Json::object());
        const std::string rule_id = rule.is_object() ? rule.value("id", "") : "";
        const std::string rule_ref = rule.is_object() ? rule.value("ref", "") : "";
        const std::string when = e.value("enforced_at", at);
        enforced.insert(rule_ref);
        trace["rules"].push_back(
            {{"object_id", rule_id},
             {"ref", rule_ref},
             {"updated_at", when},
             {"caused_by", {{"type", "trigger_instance"}, {"id", id}}}}
        );
        const std::string execution_id = e.value("execution_id", "");
        Json decision = {
            {"rule", rule_ref},
            {"matched", true},
            {"evaluated", "stored"},
            {"enforcement_id", e.value("id", "")},
            {"enforced_at", when},
            {"status", e.value("status", "")}};
        if (!execution_id.empty()) decision["execution_id"] = execution_id;
        if (!e.value("failure_reason", "").empty()) decision["failure_reason"] = e["failure_reason"];
        decisions.push_back(std::move(decision));
        if (execution_id.empty()) continue;
        Json node = ExecutionNode(d, execution_id, 0, budget);
        trace["action_executions"].push_back(
            {{"object_id", execution_id},
             {"ref", node.value("action", "")},
             {"updated_at", node.value("start_timestamp", when)},
             {"caused_by", {{"type", "rule"}, {"id", rule_id + ":" + id}}}}
        );
        AddTaskComponents(node, trace["action_executions"]);
        node["rule"] = rule_ref;
        executions.push_back(std::move(node));
    }
    if (with_decisions) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        Result<core::TriggerInstance> instance = core::TriggerInstance::FromJson(ti);
        // Criteria patterns read the datastore as the rules engine's do; what they decrypted is masked below.
        std::optional<core::KvLookup> kv;
        if (snap && instance && d.kv_cache) {
            (void)d.kv_cache->RefreshBlocking();
            kv.emplace(d.kv_cache->LookupFor(""));
        }
        if (snap && instance) {
            for (const auto& [ref, rule] : (*snap)->rules) {
                if (!rule.enabled || rule.trigger_type != instance->trigger || enforced.count(ref)) continue;
                // A parameterised trigger (a webhook url, a timer schedule) is a trigger of its own.
                if (!rule.trigger_parameters.empty() && rule.trigger_parameters != instance->trigger_parameters)
                    continue;
                Json decision = {{"rule", ref}, {"evaluated", "now"}, {"content_version", (*snap)->version}};
                Result<rules::CompiledRulePtr> compiled = rules::CompileRule(rule, d.operators);
                if (!compiled) {
                    decision["matched"] = false;
                    decision["reason"] = "the rule does not compile: " + compiled.error().message;
                    decisions.push_back(std::move(decision));
                    continue;
                }
                const rules::RuleVerdict verdict = rules::Matcher::Evaluate(**compiled, *instance, kv ? &*kv : nullptr);
                decision["matched"] = verdict.matched;
                if (verdict.matched) {
                    decision["reason"] =
                        "matches the rules as they are now, but was not enforced: the rule was added or changed "
                        "after this instance was processed";
                } else {
                    decision["reason"] = verdict.reason;
                }
                Json criteria = Json::array();
                for (const auto& c : verdict.criteria) {
                    Json cj = {{"key", c.key}, {"type", c.op}, {"pattern", c.pattern}, {"passed", c.passed}};
                    cj["value"] = c.present ? c.value : Json();
                    if (!c.present) cj["absent"] = true;
                    if (!c.error.empty()) cj["error"] = c.error;
                    criteria.push_back(std::move(cj));
                }
                decision["criteria"] = std::move(criteria);
                if (kv) {
                    if (const std::vector<std::string> revealed = kv->Revealed(); !revealed.empty())
                        core::SecretMasker(revealed).Value(decision);
                }
                decisions.push_back(std::move(decision));
            }
        }
    }
    trace["trigger_instance"] = ti;
    trace["rule_decisions"] = std::move(decisions);
    trace["executions"] = std::move(executions);
    return trace;
}

/// StackStorm's triggers (TriggerAPI): a trigger type plus concrete parameters. Every trigger type whose
/// parameters_schema requires nothing is a trigger of its own (ref = the type's ref, parameters {}); each distinct
/// (type, parameters) of the enabled rules that give parameters is one more, with a stable id (the same as /timers
/// gives a timer, and the Python sensor wrapper gives add_trigger).
std::vector<Json> Triggers(const packs::ContentSnapshot& snap, const std::string& type) {
    std::map<std::string, Json> out;
    for (const auto& [ref, tt] : snap.trigger_types) {
        if (!type.empty() && ref != type) continue;
        const Json schema = tt.value("parameters_schema", Json::object());
        const Json required = schema.is_object() ? schema.value("required", Json::array()) : Json::array();
        if (required.is_array() && !required.empty()) continue;
        out[ref] = {
            {"id", core::Sha256Hex("trigger:" + ref + ":{}").substr(0, 24)},
            {"ref", ref},
            {"uid", "trigger:" + tt.value("pack", "") + ":" + tt.value("name", "")},
            {"name", tt.value("name", "")},
            {"pack", tt.value("pack", "")},
            {"type", ref},
            {"parameters", Json::object()},
            {"description", tt.value("description", "")}};
    }
    for (const auto& [ref, rule] : snap.rules) {
        if (!rule.enabled || rule.trigger_parameters.empty()) continue;
        if (!type.empty() && rule.trigger_type != type) continue;
        const std::string id =
            core::Sha256Hex("trigger:" + rule.trigger_type + ":" + core::CanonicalDump(rule.trigger_parameters))
                .substr(0, 24);
        const std::string pack = rule.trigger_type.substr(0, rule.trigger_type.find('.'));
        if (out.count(pack + "." + id)) continue;
        out[pack + "." + id] = {
            {"id", id},
            {"ref", pack + "." + id},
            {"uid", "trigger:" + pack + ":" + id},
            {"name", id},
            {"pack", pack},
            {"type", rule.trigger_type},
            {"parameters", rule.trigger_parameters}};
    }
    std::vector<Json> list;
    for (auto& [k, v] : out) list.push_back(std::move(v));
    return list;
}

bool TraceMentions(const Json& trace, const char* list, const std::string& key, const std::string& value) {
    for (const auto& c : trace[list]) {
        if (c.value(key, "") == value) return true;
    }
    return false;
}

}  // namespace

void RegisterTriggerRoutes(Router& r, ApiDeps& d) {
    r.Get("/triggers", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Page> page = QueryPage(req, 100000);
        if (!page) return SendError(res, page.error());
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        const std::vector<Json> all = Triggers(**snap, req.get_param_value("type"));
        std::vector<Json> out;
        for (size_t i = page->offset; i < all.size() && out.size() < page->limit; ++i) out.push_back(all[i]);
        SendList(res, out, all.size(), page->limit);
    });
    r.Get(R"(/triggers/([A-Za-z0-9_.:-]+))", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        const std::string key = req.matches[1];
        for (const auto& t : Triggers(**snap, "")) {
            if (t["id"] == key || t["ref"] == key || t["uid"] == key) return SendJson(res, 200, t);
        }
        SendError(res, NotFound("trigger \"" + key + "\" not found"));
    });
    r.Get("/triggerinstances", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Page> page = QueryPage(req, 1000);
        if (!page) return SendError(res, page.error());
        Result<InstanceFilter> filter = InstanceFilter::FromQuery(req);
        if (!filter) return SendError(res, filter.error());
        size_t total = 0;
        if (filter->Empty()) {
            Result<std::vector<Json>> list = d.triggers.ListBlocking(page->offset, page->limit, &total);
            if (!list) return SendError(res, list.error());
            return SendList(res, *list, total, page->limit);
        }
        Result<std::vector<Json>> list = ScanInstances(
            d, *page, kScanWindow, [&](const Json& ti) { return filter->Keeps(ti); }, &total
        );
        if (!list) return SendError(res, list.error());
        SendList(res, *list, total, page->limit);
    });
    r.Get(R"(/triggerinstances/([0-9a-zA-Z_-]+))", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Json> ti = d.triggers.GetBlocking(req.matches[1]);
        if (!ti) return SendError(res, ti.error());
        SendJson(res, 200, *ti);
    });
    // StackStorm's re_emit: the same trigger, parameters, payload and trace tag as a new instance, its payload
    // marked with `__context.original_id`; the rules engine processes it like any other.
    r.Post(R"(/triggerinstances/([0-9a-zA-Z_-]+)/re_emit)", [&d](const httplib::Request& req, httplib::Response& res) {
        const std::string id = req.matches[1];
        Result<Json> stored = d.triggers.GetBlocking(id);
        if (!stored) return SendError(res, stored.error());
        Result<core::TriggerInstance> ti = core::TriggerInstance::FromJson(*stored);
        if (!ti) return SendError(res, Internal("stored trigger instance " + id + ": " + ti.error().message));
        ti->id = core::NewId();
        ti->status = "pending";
        ti->occurrence_time = core::FormatIsoTimestamp(d.clock.Now());
        if (!ti->payload.is_object()) ti->payload = Json::object();
        ti->payload["__context"] = {{"original_id", id}};
        Result<std::string> emitted = d.triggers.EmitBlocking(*ti);
        if (!emitted) return SendError(res, emitted.error());
        SendJson(
            res,
            200,
            {{"message", "Trigger instance " + id + " successfully re-sent as " + ti->id + "."},
             {"trigger_instance", ti->ToJson()}}
        );
    });

    r.Get("/ruleenforcements", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Page> page = QueryPage(req, 1000);
        if (!page) return SendError(res, page.error());
        const std::string rule = req.has_param("rule_ref") ? req.get_param_value("rule_ref") : "";
        const std::string execution = req.get_param_value("execution");
        size_t total = 0;
        if (rule.empty() && execution.empty()) {
            Result<std::vector<Json>> list =
                d.enforcements.ListBlocking(req.get_param_value("trigger_instance"), page->offset, page->limit, &total);
            if (!list) return SendError(res, list.error());
            return SendList(res, *list, total, page->limit);
        }
        // rule_ref / execution filter the newest enforcements (as trigger instance filters do).
        std::vector<Json> out;
        size_t matched = 0;
        for (size_t scanned = 0; scanned < kScanWindow; scanned += kScanBatch) {
            Result<std::vector<Json>> batch =
                d.enforcements.ListBlocking(req.get_param_value("trigger_instance"), scanned, kScanBatch, &total);
            if (!batch) return SendError(res, batch.error());
            for (auto& e : *batch) {
                const Json rj = e.value("rule", Json::object());
                if (!rule.empty() && (!rj.is_object() || rj.value("ref", "") != rule)) continue;
                if (!execution.empty() && e.value("execution_id", "") != execution) continue;
                if (matched++ >= page->offset && out.size() < page->limit) out.push_back(std::move(e));
            }
            if (batch->size() < kScanBatch) break;
        }
        SendList(res, out, matched, page->limit);
    });
    r.Get(R"(/ruleenforcements/([0-9a-zA-Z_:/.-]+))", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<core::RedisReply> r =
            d.redis->CommandBlocking({"HGETALL", d.enforcements.keys().Enforcement(req.matches[1])});
        if (!r) return SendError(res, r.error());
        if (r->IsError()) return SendError(res, Internal("redis: " + r->str));
        if (r->elements.empty()) {
            return SendError(res, NotFound("rule enforcement \"" + std::string(req.matches[1]) + "\" not found"));
        }
        Json e = Json::object();
        for (size_t i = 0; i + 1 < r->elements.size(); i += 2) {
            const std::string& k = r->elements[i].str;
            const std::string& v = r->elements[i + 1].str;
            Json parsed = k == "rule" ? Json::parse(v, nullptr, false) : Json(v);
            e[k] = parsed.is_discarded() ? Json(v) : parsed;
        }
        SendJson(res, 200, e);
    });

    r.Get("/traces", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Page> page = QueryPage(req, 1000);
        if (!page) return SendError(res, page.error());
        size_t total = 0;
        if (req.has_param("trigger_instance")) {
            Result<Json> ti = d.triggers.GetBlocking(req.get_param_value("trigger_instance"));
            if (!ti && ti.error().code != ErrorCode::kNotFound) return SendError(res, ti.error());
            std::vector<Json> items;
            if (ti) {
                Result<Json> trace = TraceOf(d, *ti, false);
                if (!trace) return SendError(res, trace.error());
                items.push_back(std::move(*trace));
            }
            return SendList(res, items, items.size(), page->limit);
        }
        const std::string tag = req.get_param_value("trace_tag");
        const std::string execution = req.get_param_value("execution");
        const std::string rule = req.get_param_value("rule");
        if (tag.empty() && execution.empty() && rule.empty()) {
            Result<std::vector<Json>> list = d.triggers.ListBlocking(page->offset, page->limit, &total);
            if (!list) return SendError(res, list.error());
            std::vector<Json> items;
            for (const auto& ti : *list) {
                Result<Json> trace = TraceOf(d, ti, false);
                if (!trace) return SendError(res, trace.error());
                items.push_back(std::move(*trace));
            }
            return SendList(res, items, total, page->limit);
        }
        // Filters scan the newest instances (docs/api.md "Trigger instances and traces").
        const size_t window = tag.empty() ? kTraceScanWindow : kScanWindow;
        std::vector<Json> items;
        size_t matched = 0;
        for (size_t scanned = 0; scanned < window; scanned += kScanBatch) {
            Result<std::vector<Json>> batch = d.triggers.ListBlocking(scanned, kScanBatch, &total);
            if (!batch) return SendError(res, batch.error());
            for (const auto& ti : *batch) {
                if (!tag.empty() && ti.value("trace_tag", "") != tag) continue;
                Result<Json> trace = TraceOf(d, ti, false);
                if (!trace) return SendError(res, trace.error());
                if (!execution.empty() && !TraceMentions(*trace, "action_executions", "object_id", execution)) continue;
                if (!rule.empty() && !TraceMentions(*trace, "rules", "ref", rule) &&
                    !TraceMentions(*trace, "rules", "object_id", rule))
                    continue;
                if (matched++ >= page->offset && items.size() < page->limit) items.push_back(std::move(*trace));
            }
            if (batch->size() < kScanBatch) break;
        }
        SendList(res, items, matched, page->limit);
    });
    r.Get(R"(/traces/([0-9a-zA-Z_-]+))", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Json> ti = d.triggers.GetBlocking(req.matches[1]);
        if (!ti) {
            if (ti.error().code == ErrorCode::kNotFound)
                return SendError(res, NotFound("trace \"" + std::string(req.matches[1]) + "\" not found"));
            return SendError(res, ti.error());
        }
        Result<Json> trace = TraceOf(d, *ti, true);
        if (!trace) return SendError(res, trace.error());
        SendJson(res, 200, *trace);
    });
}

}  // namespace squall::api
