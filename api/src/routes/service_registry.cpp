// The service registry (core/service_registry.hpp): every live `squall server` process, its roles, its pool and its
// last heartbeat; StackStorm's group/member shapes (`st2 service-registry group list`, `member list`), where a
// group is a role; and the runner pools with their live runners (docs/delivery.md, "Roles, the registry and pools").
#include <map>
#include <set>

#include "http.hpp"
#include "squall/core/service_registry.hpp"

namespace squall::api {
namespace {

/// StackStorm's member item: {group_id, member_id, capabilities}.
Json MemberOfGroup(const core::ServiceMember& m, const std::string& group) {
    Json capabilities = m.ToJson();
    capabilities["name"] = group;
    capabilities["type"] = "active";
    return {{"group_id", group}, {"member_id", m.id}, {"capabilities", std::move(capabilities)}};
}

}  // namespace

void RegisterServiceRegistryRoutes(Router& r, ApiDeps& d) {
    r.Get("/service-registry", [&d](const httplib::Request&, httplib::Response& res) {
        Result<std::vector<core::ServiceMember>> members = core::ListServiceMembersBlocking(*d.redis);
        if (!members) return SendError(res, members.error());
        std::vector<Json> items;
        for (const auto& m : *members) items.push_back(m.ToJson());
        SendList(res, items, items.size(), items.size());
    });
    // StackStorm's paths are /service_registry/...; /service_registries/... is accepted too.
    for (const std::string base : {"/service_registry", "/service_registries"}) {
        r.Get(base + "/groups", [&d](const httplib::Request&, httplib::Response& res) {
            Result<std::vector<core::ServiceMember>> members = core::ListServiceMembersBlocking(*d.redis);
            if (!members) return SendError(res, members.error());
            std::set<std::string> groups;
            for (const auto& m : *members) groups.insert(m.roles.begin(), m.roles.end());
            SendJson(res, 200, {{"groups", Json(std::vector<std::string>(groups.begin(), groups.end()))}});
        });
        r.Get(base + R"(/groups/([A-Za-z0-9_.-]+)/members)", [&d](const httplib::Request& req, httplib::Response& res) {
            const std::string group = req.matches[1];
            Result<std::vector<core::ServiceMember>> members = core::ListServiceMembersBlocking(*d.redis);
            if (!members) return SendError(res, members.error());
            Json out = Json::array();
            for (const auto& m : *members) {
                if (std::find(m.roles.begin(), m.roles.end(), group) != m.roles.end())
                    out.push_back(MemberOfGroup(m, group));
            }
            if (out.empty()) return SendError(res, NotFound("group \"" + group + "\" not found (no live member)"));
            SendJson(res, 200, {{"members", out}});
        });
    }
    // Runner pools: each pool some live runner serves, and `default`, with the runners (ids) that serve it now.
    r.Get("/pools", [&d](const httplib::Request&, httplib::Response& res) {
        Result<std::vector<core::ServiceMember>> members = core::ListServiceMembersBlocking(*d.redis);
        if (!members) return SendError(res, members.error());
        std::map<std::string, Json> pools = {{"default", Json::array()}};
        for (const auto& m : *members) {
            if (m.pool.empty()) continue;
            auto [it, inserted] = pools.try_emplace(m.pool, Json::array());
            it->second.push_back({{"id", m.id}, {"hostname", m.hostname}, {"pid", m.pid}, {"last_beat", m.last_beat}});
        }
        std::vector<Json> items;
        for (auto& [name, runners] : pools) {
            const size_t n = runners.size();
            items.push_back({{"name", name}, {"runners", std::move(runners)}, {"live_runners", n}});
        }
        SendList(res, items, items.size(), items.size());
    });
}

}  // namespace squall::api
