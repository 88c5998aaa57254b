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

    // StackStorm's PUT /policies/{ref} (`st2 policy update REF FILE`): `enabled` changes (and stays across restarts
    // while the policy's file is unchanged); anything else of a policy comes from its pack's files, as creating and
    // deleting one does, refused by name rather than answered 404 for a resource that GET shows.
    const auto from_files = [](httplib::Response& res, const std::string& what) {
        res.set_header("Allow", "GET, PUT");
        SendJson(
            res,
            405,
            {{"faultstring",
              what + ": policies are registered from their pack's files: edit or remove the file and run `squall pack "
                     "register <pack>`; the API changes only a policy's \"enabled\""},
             {"code", "METHOD_NOT_ALLOWED"}}
        );
    };
    r.Put(
        R"(/policies/([A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+))",
        AdminOnly(
            "changing policies",
            [&d, from_files](const httplib::Request& req, httplib::Response& res) {
                const std::string ref = req.matches[1];
                Result<Json> body = ParseObjectBody(req);
                if (!body) return SendError(res, body.error());
                Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
                if (!snap) return SendError(res, snap.error());
                auto it = (*snap)->policies.find(ref);
                if (it == (*snap)->policies.end()) return SendError(res, NotFound("policy \"" + ref + "\" not found"));
                if (body->contains("enabled") && !(*body)["enabled"].is_boolean())
                    return SendError(res, InvalidArgument("enabled: must be true or false"));
                for (const char* field : {"resource_ref", "policy_type", "parameters", "name", "pack"}) {
                    if (body->contains(field) && (*body)[field] != it->second.value(field, Json()))
                        return from_files(res, std::string("\"") + field + "\" differs from the stored policy");
                }
                if (body->contains("enabled")) {
                    if (Status st = d.content.SetPolicyEnabledBlocking(ref, (*body)["enabled"].get<bool>()); !st)
                        return SendError(res, st.error());
                    d.content_cache.Invalidate();
                    snap = d.content_cache.GetBlocking();
                    if (!snap) return SendError(res, snap.error());
                    it = (*snap)->policies.find(ref);
                    if (it == (*snap)->policies.end())
                        return SendError(res, NotFound("policy \"" + ref + "\" not found"));
                }
                SendJson(res, 200, it->second);
            }
        )
    );
    // StackStorm's PUT /sensortypes/{ref} (`st2 sensor enable|disable`): only `enabled` changes, as there; the rest
    // of the body (st2 sends the whole sensor back) is ignored. The sensors role stops or starts the process on its
    // next pass; the change stays across restarts while the sensor's file is unchanged.
    r.Put(
        R"(/sensortypes/([A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+))",
        AdminOnly(
            "changing sensors",
            [&d](const httplib::Request& req, httplib::Response& res) {
                const std::string ref = req.matches[1];
                Result<Json> body = ParseObjectBody(req);
                if (!body) return SendError(res, body.error());
                if (!body->contains("enabled") || !(*body)["enabled"].is_boolean())
                    return SendError(res, InvalidArgument("enabled: must be true or false"));
                if (Status st = d.content.SetSensorEnabledBlocking(ref, (*body)["enabled"].get<bool>()); !st)
                    return SendError(res, st.error());
                d.content_cache.Invalidate();
                Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
                if (!snap) return SendError(res, snap.error());
                auto it = (*snap)->sensors.find(ref);
                if (it == (*snap)->sensors.end())
                    return SendError(res, NotFound("sensor type \"" + ref + "\" not found"));
                SendJson(res, 200, it->second);
            }
        )
    );
    r.Post("/policies", AdminOnly("creating policies", [from_files](const httplib::Request&, httplib::Response& res) {
               from_files(res, "creating a policy");
           }));
    r.Delete(
        R"(/policies/([A-Za-z0-9_.-]+))",
        AdminOnly(
            "deleting policies",
            [from_files](const httplib::Request&, httplib::Response& res) { from_files(res, "deleting a policy"); }
        )
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
