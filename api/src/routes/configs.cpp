// Pack configs (SPEC §2): GET /configs, GET/PUT /configs/{pack}, StackStorm's ConfigAPI shape {id, pack, values}.
// Secret properties are masked unless ?show_secrets=true.
#include "http.hpp"
#include "squall/packs/config.hpp"

namespace squall::api {
namespace {

bool ShowSecrets(const httplib::Request& req) {
    const std::string v = req.get_param_value("show_secrets");
    return v == "true" || v == "True" || v == "1";
}

Json ConfigJson(const std::string& pack, const Json& values, const std::vector<std::string>& secrets, bool show) {
    return {{"id", pack}, {"pack", pack}, {"values", show ? values : packs::MaskConfig(values, secrets)}};
}

std::vector<std::string> SecretsOf(const packs::ContentSnapshot& snap, const std::string& pack) {
    auto it = snap.config_secrets.find(pack);
    return it == snap.config_secrets.end() ? std::vector<std::string>{} : it->second;
}

}  // namespace

void RegisterConfigRoutes(Router& r, ApiDeps& d) {
    r.Get("/configs", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Page> page = QueryPage(req, 100000);
        if (!page) return SendError(res, page.error());
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        const bool show = ShowSecrets(req);
        std::vector<Json> items;
        size_t total = 0;
        for (const auto& [pack, values] : (*snap)->configs) {
            if (req.has_param("pack") && req.get_param_value("pack") != pack) continue;
            if (total++ < page->offset || items.size() >= page->limit) continue;
            items.push_back(ConfigJson(pack, values, SecretsOf(**snap, pack), show));
        }
        SendList(res, items, total, page->limit);
    });

    r.Get(R"(/configs/([A-Za-z0-9_]+))", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        const std::string pack = req.matches[1];
        if (!(*snap)->packs.count(pack)) return SendError(res, NotFound("pack \"" + pack + "\" not found"));
        auto it = (*snap)->configs.find(pack);
        if (it == (*snap)->configs.end())
            return SendError(res, NotFound("pack \"" + pack + "\" has no config (or its config file is invalid)"));
        SendJson(res, 200, ConfigJson(pack, it->second, SecretsOf(**snap, pack), ShowSecrets(req)));
    });

    r.Put(
        R"(/configs/([A-Za-z0-9_]+))",
        AdminOnly(
            "writing pack configs",
            [&d](const httplib::Request& req, httplib::Response& res) {
                Result<Json> body = ParseObjectBody(req);
                if (!body) return SendError(res, body.error());
                if (!body->is_object())
                    return SendError(res, InvalidArgument("body: must be an object of property: value"));
                Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
                if (!snap) return SendError(res, snap.error());
                const std::string pack = req.matches[1];
                auto record = (*snap)->packs.find(pack);
                if (record == (*snap)->packs.end()) return SendError(res, NotFound("pack \"" + pack + "\" not found"));
                Result<packs::ConfigSchema> schema =
                    packs::ConfigSchema::FromJson(record->second.value("config_schema", Json(nullptr)));
                if (!schema) return SendError(res, schema.error());
                auto current = (*snap)->configs.find(pack);
                const Json update = current == (*snap)->configs.end()
                                        ? *body
                                        : packs::KeepMaskedSecrets(*body, current->second, schema->secret_keys());
                Result<Json> values = schema->Validate(update);
                if (!values) return SendError(res, values.error());
                if (d.data_dir.empty())
                    return SendError(res, Unavailable("this server has no data dir to write configs to"));
                // The file is the source of truth (read again at every start); Redis follows it.
                if (Status st = packs::WriteConfigFileBlocking(packs::ConfigFilePath(d.data_dir, pack), *values); !st)
                    return SendError(res, st.error());
                packs::PackConfig config{*values, schema->secret_keys()};
                if (Status st = d.content.PutConfigBlocking(pack, config); !st) return SendError(res, st.error());
                d.content_cache.Invalidate();
                SendJson(res, 200, ConfigJson(pack, config.values, config.secret_keys, ShowSecrets(req)));
            }
        )
    );
}

}  // namespace squall::api
