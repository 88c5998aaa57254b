// Read-only resources that StackStorm's client lists and that have no richer home yet (reference §2): runner
// types, timers, trigger instances filtered by trigger, traces. Shapes as
// StackStorm's (docs/api.md "Compatibility resources").
#include <algorithm>

#include "http.hpp"
#include "squall/core/id.hpp"

namespace squall::api {
namespace {

/// A stable 24-hex id (the form of StackStorm's ObjectIds) for objects Squall keys by name.
std::string NameId(const std::string& kind, const std::string& name) {
    return core::Sha256Hex(kind + ":" + name).substr(0, 24);
}

/// One page of `items` with X-Total-Count.
void SendSlice(const httplib::Request& req, httplib::Response& res, const std::vector<Json>& items, size_t max) {
    Result<Page> page = QueryPage(req, max);
    if (!page) return SendError(res, page.error());
    std::vector<Json> out;
    for (size_t i = page->offset; i < items.size() && out.size() < page->limit; ++i) out.push_back(items[i]);
    SendList(res, out, items.size(), page->limit);
}

Json RunnerTypeJson(const Json& stored) {
    Json j = stored;
    const std::string name = j.value("name", "");
    j["id"] = NameId("runnertype", name);
    j["uid"] = "runner_type:" + name;
    if (!j.contains("enabled")) j["enabled"] = true;
    return j;
}

/// StackStorm's timer trigger types; `/timers` lists the triggers of rules that use one.
const std::vector<std::string>& TimerTypes() {
    static const std::vector<std::string> kTypes = {
        "core.st2.IntervalTimer", "core.st2.DateTimer", "core.st2.CronTimer"};
    return kTypes;
}

/// The trigger of a timer rule in StackStorm's TriggerAPI shape (a trigger is a type plus parameters).
Json TimerJson(const packs::RuleMeta& rule) {
    const std::string key = rule.trigger_type + ":" + rule.trigger_parameters.dump();
    const std::string id = NameId("trigger", key);
    const std::string type_pack = rule.trigger_type.substr(0, rule.trigger_type.find('.'));
    return {
        {"id", id},
        {"name", id},
        {"pack", type_pack},
        {"ref", type_pack + "." + id},
        {"uid", "trigger:" + type_pack + ":" + id},
        {"type", rule.trigger_type},
        {"parameters", rule.trigger_parameters},
        {"rule", rule.Ref()}};
}

Result<std::vector<Json>> Timers(ApiDeps& d, const std::string& timer_type) {
    Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
    if (!snap) return snap.error();
    std::vector<Json> out;
    for (const auto& [ref, rule] : (*snap)->rules) {
        const auto& types = TimerTypes();
        if (std::find(types.begin(), types.end(), rule.trigger_type) == types.end()) continue;
        if (!timer_type.empty() && rule.trigger_type != timer_type) continue;
        out.push_back(TimerJson(rule));
    }
    return out;
}

/// How many of the newest trigger instances `?trigger=` looks through: there is no per-trigger index, so the
/// filter scans, and answers the matches among these (docs/api.md "Lists").
constexpr size_t kTriggerScanWindow = 10000;
constexpr size_t kTriggerScanBatch = 500;

/// StackStorm's trace of one trigger instance: the instance, the rules it was enforced by and the executions they
/// created. Squall stores no trace records yet; a trace is derived from the instance and its enforcements, and its
/// id is the instance's. Executions started directly (not by a rule) have no trace here.
Result<Json> TraceOf(ApiDeps& d, const Json& ti) {
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
    for (const auto& e : *enforcements) {
        const Json rule = e.value("rule", Json::object());
        const std::string rule_id = rule.is_object() ? rule.value("id", "") : "";
        const std::string when = e.value("enforced_at", at);
        trace["rules"].push_back(
            {{"object_id", rule_id},
             {"ref", rule.is_object() ? rule.value("ref", "") : ""},
             {"updated_at", when},
             {"caused_by", {{"type", "trigger_instance"}, {"id", id}}}}
        );
        const std::string execution_id = e.value("execution_id", "");
        if (execution_id.empty()) continue;
        Result<Json> execution = d.executions.GetBlocking(execution_id);
        trace["action_executions"].push_back(
            {{"object_id", execution_id},
             {"ref", execution ? (*execution)["action"].value("ref", "") : ""},
             {"updated_at", execution ? execution->value("start_timestamp", when) : when},
             {"caused_by", {{"type", "rule"}, {"id", rule_id + ":" + id}}}}
        );
    }
    return trace;
}

bool TraceMentions(const Json& trace, const char* list, const std::string& key, const std::string& value) {
    for (const auto& c : trace[list]) {
        if (c.value(key, "") == value) return true;
    }
    return false;
}

/// How many of the newest trigger instances the `execution` and `rule` filters of /traces look through.
constexpr size_t kTraceScanWindow = 500;

}  // namespace

void RegisterCompatRoutes(Router& r, ApiDeps& d) {
    r.Get("/runnertypes", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        std::vector<Json> items;
        for (const auto& [name, rt] : (*snap)->runner_types) {
            if (req.has_param("name") && req.get_param_value("name") != name) continue;
            Json j = RunnerTypeJson(rt);
            if (req.has_param("id") && req.get_param_value("id") != j["id"]) continue;
            items.push_back(std::move(j));
        }
        SendSlice(req, res, items, 100000);
    });
    r.Get(R"(/runnertypes/([A-Za-z0-9_.-]+))", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        const std::string key = req.matches[1];
        for (const auto& [name, rt] : (*snap)->runner_types) {
            Json j = RunnerTypeJson(rt);
            if (name == key || j["id"] == key) return SendJson(res, 200, j);
        }
        SendError(res, NotFound("runner type \"" + key + "\" not found"));
    });

    r.Get("/timers", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<std::vector<Json>> timers = Timers(d, req.get_param_value("timer_type"));
        if (!timers) return SendError(res, timers.error());
        SendSlice(req, res, *timers, 100000);
    });
    r.Get(R"(/timers/([A-Za-z0-9_.:-]+))", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<std::vector<Json>> timers = Timers(d, "");
        if (!timers) return SendError(res, timers.error());
        const std::string key = req.matches[1];
        for (const auto& t : *timers) {
            if (t["id"] == key || t["ref"] == key || t["uid"] == key) return SendJson(res, 200, t);
        }
        SendError(res, NotFound("timer \"" + key + "\" not found"));
    });

    // Registered before the plain list in webhooks.cpp, which it shadows: the same list plus `?trigger=`.
    r.Get("/triggerinstances", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Page> page = QueryPage(req, 1000);
        if (!page) return SendError(res, page.error());
        const std::string trigger = req.get_param_value("trigger");
        size_t total = 0;
        if (trigger.empty()) {
            Result<std::vector<Json>> list = d.triggers.ListBlocking(page->offset, page->limit, &total);
            if (!list) return SendError(res, list.error());
            return SendList(res, *list, total, page->limit);
        }
        std::vector<Json> matches;
        size_t matched = 0;
        for (size_t scanned = 0; scanned < kTriggerScanWindow; scanned += kTriggerScanBatch) {
            Result<std::vector<Json>> batch = d.triggers.ListBlocking(scanned, kTriggerScanBatch, &total);
            if (!batch) return SendError(res, batch.error());
            for (auto& ti : *batch) {
                if (ti.value("trigger", "") != trigger) continue;
                if (matched++ >= page->offset && matches.size() < page->limit) matches.push_back(std::move(ti));
            }
            if (batch->size() < kTriggerScanBatch) break;
        }
        SendList(res, matches, matched, page->limit);
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
                Result<Json> trace = TraceOf(d, *ti);
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
                Result<Json> trace = TraceOf(d, ti);
                if (!trace) return SendError(res, trace.error());
                items.push_back(std::move(*trace));
            }
            return SendList(res, items, total, page->limit);
        }
        // Filters scan the newest instances (docs/api.md "Compatibility resources").
        const size_t window = tag.empty() ? kTraceScanWindow : kTriggerScanWindow;
        std::vector<Json> items;
        size_t matched = 0;
        for (size_t scanned = 0; scanned < window; scanned += kTriggerScanBatch) {
            Result<std::vector<Json>> batch = d.triggers.ListBlocking(scanned, kTriggerScanBatch, &total);
            if (!batch) return SendError(res, batch.error());
            for (const auto& ti : *batch) {
                if (!tag.empty() && ti.value("trace_tag", "") != tag) continue;
                Result<Json> trace = TraceOf(d, ti);
                if (!trace) return SendError(res, trace.error());
                if (!execution.empty() && !TraceMentions(*trace, "action_executions", "object_id", execution)) continue;
                if (!rule.empty() && !TraceMentions(*trace, "rules", "ref", rule) &&
                    !TraceMentions(*trace, "rules", "object_id", rule))
                    continue;
                if (matched++ >= page->offset && items.size() < page->limit) items.push_back(std::move(*trace));
            }
            if (batch->size() < kTriggerScanBatch) break;
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
        Result<Json> trace = TraceOf(d, *ti);
        if (!trace) return SendError(res, trace.error());
        SendJson(res, 200, *trace);
    });
}

}  // namespace squall::api
