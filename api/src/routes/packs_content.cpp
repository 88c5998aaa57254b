// Read-only views of the pack content beyond actions and rules (StackStorm API shapes): trigger types, sensor
// types, action aliases, policies, policy types and config schemas.
#include "http.hpp"
#include "squall/packs/content.hpp"

namespace squall::api {
namespace {

using Filter = std::function<bool(const httplib::Request&, const Json&)>;

bool FieldIs(const httplib::Request& req, const Json& j, const char* param, const char* field) {
    if (!req.has_param(param)) return true;
    auto it = j.find(field);
    return it != j.end() && it->is_string() && it->get<std::string>() == req.get_param_value(param);
}

/// One page of `items` (already in ref order) that pass `keep`, with X-Total-Count.
void SendPage(const httplib::Request& req, httplib::Response& res, const std::vector<const Json*>& items) {
    Result<Page> page = QueryPage(req, 100000);
    if (!page) return SendError(res, page.error());
    std::vector<Json> out;
    for (size_t i = page->offset; i < items.size() && out.size() < page->limit; ++i) out.push_back(*items[i]);
    SendList(res, out, items.size(), page->limit);
}

/// GET /<path> (list, filtered by pack and name plus `extra`) and GET /<path>/<pack.name> over one snapshot map.
void ServeMap(
    Router& r,
    ApiDeps& d,
    const std::string& path,
    const std::string& what,
    std::map<std::string, Json> packs::ContentSnapshot::*member,
    Filter extra
) {
    r.Get("/" + path, [&d, member, extra](const httplib::Request& req, httplib::Response& res) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        std::vector<const Json*> items;
        for (const auto& [ref, j] : (**snap).*member) {
            if (FieldIs(req, j, "pack", "pack") && FieldIs(req, j, "name", "name") && (!extra || extra(req, j)))
                items.push_back(&j);
        }
        SendPage(req, res, items);
    });
    // A ref always has a dot, so sibling routes such as /actionalias/help stay free.
    r.Get(
        "/" + path + R"(/([A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+))",
        [&d, member, what](const httplib::Request& req, httplib::Response& res) {
            Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
            if (!snap) return SendError(res, snap.error());
            const auto& m = (**snap).*member;
            auto it = m.find(req.matches[1]);
            if (it == m.end())
                return SendError(res, NotFound(what + " \"" + std::string(req.matches[1]) + "\" not found"));
            SendJson(res, 200, it->second);
        }
    );
}

}  // namespace

void RegisterPackContentRoutes(Router& r, ApiDeps& d) {
    ServeMap(r, d, "triggertypes", "trigger type", &packs::ContentSnapshot::trigger_types, nullptr);
    ServeMap(
        r,
        d,
        "sensortypes",
        "sensor type",
        &packs::ContentSnapshot::sensors,
        [](const httplib::Request& req, const Json& j) {
            if (req.has_param("enabled")) {
                const bool want = req.get_param_value("enabled") == "true" || req.get_param_value("enabled") == "1";
                if (core::BoolOr(j, "enabled", true) != want) return false;
            }
            if (!req.has_param("trigger")) return true;
            const Json& types = j.contains("trigger_types") ? j["trigger_types"] : Json::array();
            return std::find(types.begin(), types.end(), Json(req.get_param_value("trigger"))) != types.end();
        }
    );
    ServeMap(r, d, "actionalias", "action alias", &packs::ContentSnapshot::aliases, nullptr);
    ServeMap(
        r,
        d,
        "policies",
        "policy",
        &packs::ContentSnapshot::policies,
        [](const httplib::Request& req, const Json& j) {
            return FieldIs(req, j, "resource_ref", "resource_ref") && FieldIs(req, j, "policy_type", "policy_type");
        }
    );

    r.Get("/policytypes", [](const httplib::Request& req, httplib::Response& res) {
        std::vector<const Json*> items;
        for (const auto& t : packs::PolicyMeta::Types()) {
            if (FieldIs(req, t, "resource_type", "resource_type") && FieldIs(req, t, "name", "name"))
                items.push_back(&t);
        }
        SendPage(req, res, items);
    });
    r.Get(R"(/policytypes/([A-Za-z0-9_.-]+))", [](const httplib::Request& req, httplib::Response& res) {
        for (const auto& t : packs::PolicyMeta::Types()) {
            if (t["ref"] == req.matches[1].str()) return SendJson(res, 200, t);
        }
        SendError(res, NotFound("policy type \"" + std::string(req.matches[1]) + "\" not found"));
    });

    // StackStorm's ConfigSchemaAPI: {id, pack, attributes}.
    auto schema_json = [](const std::string& pack, const Json& record) {
        Json attributes = record.contains("config_schema") && record["config_schema"].is_object()
                              ? record["config_schema"]
                              : Json::object();
        return Json{{"id", pack}, {"pack", pack}, {"attributes", attributes}};
    };
    r.Get("/config_schemas", [&d, schema_json](const httplib::Request& req, httplib::Response& res) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        std::vector<Json> all;
        for (const auto& [pack, record] : (*snap)->packs) {
            if (record.contains("config_schema") && record["config_schema"].is_object())
                all.push_back(schema_json(pack, record));
        }
        std::vector<const Json*> items;
        for (const auto& j : all) items.push_back(&j);
        SendPage(req, res, items);
    });
    r.Get(R"(/config_schemas/([A-Za-z0-9_]+))", [&d, schema_json](const httplib::Request& req, httplib::Response& res) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        auto it = (*snap)->packs.find(req.matches[1]);
        if (it == (*snap)->packs.end() || !it->second.contains("config_schema") ||
            !it->second["config_schema"].is_object())
            return SendError(res, NotFound("pack \"" + std::string(req.matches[1]) + "\" has no config schema"));
        SendJson(res, 200, schema_json(it->first, it->second));
    });
}

}  // namespace squall::api
