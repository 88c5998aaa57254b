// Read-only resources that StackStorm's client lists and that have no richer home yet (reference §2): runner
// types, timers. Shapes as StackStorm's (docs/api.md "Compatibility resources"). Trigger instances and traces are
// in traces.cpp; the authenticated user and API keys in auth.cpp.
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
    const std::string key = rule.trigger_type + ":" + core::CanonicalDump(rule.trigger_parameters);
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
}

}  // namespace squall::api
