#include <algorithm>
#include <optional>

#include "http.hpp"
#include "squall/core/id.hpp"
#include "squall/core/store/kv_store.hpp"
#include "squall/packs/config.hpp"
#include "squall/packs/parameters.hpp"

namespace squall::api {

void RegisterExecutionRoutes(Router& r, ApiDeps& d) {
    r.Post("/executions", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Json> body = ParseBody(req);
        if (!body) return SendError(res, body.error());
        if (!body->is_object() || !body->contains("action") || !(*body)["action"].is_string()) {
            return SendError(res, InvalidArgument("body: \"action\" (an action ref) is required"));
        }
        const std::string ref = (*body)["action"];
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        auto action = (*snap)->actions.find(ref);
        if (action == (*snap)->actions.end())
            return SendError(res, InvalidArgument("action \"" + ref + "\" not found"));
        if (!action->second.value("enabled", true)) {
            return SendError(res, InvalidArgument("action \"" + ref + "\" is disabled"));
        }
        Result<Json> schema = (*snap)->ActionSchema(ref);
        if (!schema) return SendError(res, schema.error());
        const Json given = body->value("parameters", Json::object());
        Json context = {{"action_context", {{"user", body->value("user", "admin")}, {"api_user", "admin"}}}};
        // st2kv.* in templated defaults: the datastore as of now (refreshed only when its version moved).
        core::RenderOptions render;
        render.stackstorm_whitespace = true;  // StackStorm's environment (trim_blocks, lstrip_blocks)
        std::optional<core::KvLookup> kv;
        if (d.kv_cache) {
            if (Status st = d.kv_cache->RefreshBlocking(); !st) return SendError(res, st.error());
            kv.emplace(d.kv_cache->LookupFor(body->value("user", "admin")));
            render.kv = &*kv;
        }
        Result<Json> config = (*snap)->ConfigContext(ref, render);  // config_context for templated defaults
        if (!config) return SendError(res, config.error());
        std::vector<std::string> config_secrets;
        if (auto cs = (*snap)->config_secrets.find(action->second.value("pack", ""));
            cs != (*snap)->config_secrets.end())
            config_secrets = packs::SecretValuesOf(*config, cs->second);
        context["config_context"] = std::move(*config);
        // Live parameters are templates too (StackStorm's render_live_params): `cmd="echo {{ st2kv.system.x }}"`.
        Json live = given;
        if (live.is_object()) {
            Json ctx = context;
            for (const auto& [k, v] : given.items()) ctx[k] = v;
            for (auto& [k, v] : live.items()) {
                Result<Json> rendered = core::RenderValue(v, ctx, render);
                if (!rendered) {
                    return SendError(res, InvalidArgument("parameter \"" + k + "\": " + rendered.error().message));
                }
                v = std::move(*rendered);
            }
        }
        Result<packs::ResolvedParameters> params =
            packs::ResolveParameters(*schema, live, context, render, config_secrets);
        if (!params) return SendError(res, params.error());

        core::NewExecution e;
        e.request.execution_id = core::NewId();
        e.request.action_ref = ref;
        e.request.runner_type = action->second.value("runner_type", "");
        e.request.action = action->second;
        e.request.parameters = params->values;
        e.request.secret_parameters = params->secrets;
        e.request.masked_values = params->revealed;
        e.request.context = {{"user", body->value("user", "admin")}, {"pack", action->second.value("pack", "")}};
        if (body->contains("context") && (*body)["context"].is_object()) e.request.context.update((*body)["context"]);
        e.action = packs::MaskSecretDefaults(action->second, *schema);
        e.masked_parameters = params->masked;
        e.pool = action->second.value("pool", "default");
        Result<std::string> id = d.executions.CreateBlocking(e);
        if (!id) return SendError(res, id.error());
        Result<Json> created = d.executions.GetBlocking(*id);
        if (!created) return SendError(res, created.error());
        SendJson(res, 201, *created);
    });

    r.Get("/executions", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Page> page = QueryPage(req, 1000);
        if (!page) return SendError(res, page.error());
        const std::string status = req.get_param_value("status");
        if (!status.empty()) {
            const auto& all = core::status::All();
            if (std::find(all.begin(), all.end(), status) == all.end()) {
                return SendError(res, InvalidArgument("query parameter \"status\": unknown status \"" + status + "\""));
            }
        }
        size_t total = 0;
        Result<std::vector<Json>> list =
            d.executions.ListBlocking(req.get_param_value("action"), status, page->offset, page->limit, &total);
        if (!list) return SendError(res, list.error());
        SendList(res, *list, total, page->limit);
    });

    r.Get(R"(/executions/([0-9a-zA-Z_-]+))", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Json> e = d.executions.GetBlocking(req.matches[1]);
        if (!e) return SendError(res, e.error());
        SendJson(res, 200, *e);
    });

    r.Get(R"(/executions/([0-9a-zA-Z_-]+)/output)", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Json> e = d.executions.GetBlocking(req.matches[1]);
        if (!e) return SendError(res, e.error());
        Result<std::vector<Json>> lines = d.executions.OutputBlocking(req.matches[1]);
        if (!lines) return SendError(res, lines.error());
        const std::string type = req.get_param_value("output_type");
        std::string text;
        for (const auto& l : *lines) {
            if (!type.empty() && l.value("output_type", "") != type) continue;
            text += l.value("data", "");
        }
        res.status = 200;
        res.set_content(text, "text/plain; charset=utf-8");
    });
}

}  // namespace squall::api
