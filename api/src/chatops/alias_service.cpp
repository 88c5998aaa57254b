#include "chatops/alias_service.hpp"

#include <mutex>

#include "squall/templates/template.hpp"

namespace squall::api::chatops {

std::shared_ptr<const aliases::AliasIndex> IndexFor(const packs::ContentSnapshot& snap) {
    static std::mutex mu;
    static int64_t version = -1;
    static std::shared_ptr<const aliases::AliasIndex> index;
    {
        std::lock_guard<std::mutex> lock(mu);
        if (index && version == snap.version) return index;
    }
    // Built outside the lock: two threads may both build one for a new version; either result is right.
    auto built = std::make_shared<const aliases::AliasIndex>(snap.aliases);
    std::lock_guard<std::mutex> lock(mu);
    if (snap.version >= version) {
        version = snap.version;
        index = built;
    }
    return built;
}

Result<Json> AliasByName(const packs::ContentSnapshot& snap, const std::string& name) {
    for (const auto& [ref, alias] : snap.aliases) {
        if (alias.value("name", "") == name || ref == name) return alias;
    }
    return NotFound("Unable to identify action alias with name \"" + name + "\".");
}

std::string ExecutionWebUrl(const Json& config, const std::string& execution_id) {
    auto it = config.find("webui_base_url");
    if (it == config.end() || !it->is_string()) return "";
    std::string base = it->get<std::string>();
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (base.empty()) return "";
    return base + "/#/history/" + execution_id + "/general";
}

std::string AckUrlSuffix(const Json& alias, const Json& config, const std::string& execution_id) {
    const Json ack = alias.value("ack", Json::object());
    if (ack.is_object() && ack.contains("append_url") && ack["append_url"] == Json(false)) return "";
    const std::string url = ExecutionWebUrl(config, execution_id);
    return url.empty() ? "" : " (details available at " + url + ")";
}

Status CheckAllowed(const Json& alias, const AliasCaller& caller) {
    if (!caller.allow.is_object() || caller.allow.empty()) return {};
    const std::string ref = alias.value("ref", "");
    const Json* list = nullptr;
    for (const std::string& key : {ref, alias.value("pack", std::string()), std::string("*")}) {
        auto it = caller.allow.find(key);
        if (it != caller.allow.end()) {
            list = &*it;
            break;
        }
    }
    if (!list) return {};
    if (list->is_array()) {
        for (const Json& u : *list) {
            if (u.is_string() && (u == caller.user || (!caller.user_id.empty() && u == caller.user_id))) return {};
        }
    }
    return Error(
        ErrorCode::kPermissionDenied,
        (caller.user.empty() ? std::string("this user") : caller.user) + " may not run " + ref +
            " (the chatops config's allow list)"
    );
}

Result<AliasRun> ExecuteAlias(
    ApiDeps& d, const Json& alias, const std::string& format, const std::string& command, const AliasCaller& caller
) {
    const std::string name = alias.value("name", "");
    const std::string ref = alias.value("ref", alias.value("pack", "") + "." + name);
    if (!core::BoolOr(alias, "enabled", true))
        return InvalidArgument("Action alias with name \"" + name + "\" is disabled.");
    if (Status allowed = CheckAllowed(alias, caller); !allowed) return allowed.error();
    Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
    if (!snap) return snap.error();
    Result<Json> extracted = IndexFor(**snap)->ExtractFor(ref, format, command);
    if (!extracted) return extracted.error();

    Json params = Json::object();
    for (const auto& [k, v] : extracted->items()) {
        if (!v.is_null()) params[k] = v;  // a placeholder the command left out is not given
    }
    const Json immutable = alias.value("immutable_parameters", Json::object());
    if (immutable.is_object()) {
        std::string overridden;
        for (const auto& [k, v] : immutable.items()) {
            if (params.contains(k)) overridden += (overridden.empty() ? "" : ",") + k;
        }
        if (!overridden.empty()) return InvalidArgument("Immutable arguments cannot be overriden: " + overridden);
        // Templates in them (st2kv, action_context) are rendered by the service with the other parameters.
        for (const auto& [k, v] : immutable.items()) params[k] = v;
    }

    executions::ExecutionSpec spec;
    spec.action_ref = alias.value("action_ref", "");
    spec.parameters = std::move(params);
    spec.user = caller.requester;
    spec.api_user = caller.user.empty() ? caller.requester : caller.user;
    spec.context = {{"action_alias_ref", ref}, {"source_channel", caller.source_channel}};
    if (!caller.source_context.is_null()) spec.context["source_context"] = caller.source_context;
    if (!caller.notification_route.empty()) spec.context["notification_route"] = caller.notification_route;
    Result<std::string> id = d.execution_service.RequestBlocking(spec);
    if (!id) {
        Error e = id.error();
        if (e.code == ErrorCode::kNotFound) e.code = ErrorCode::kInvalidArgument;
        return e;
    }
    Result<Json> execution = d.executions.GetBlocking(*id);
    if (!execution) return execution.error();

    AliasRun run;
    run.execution_id = *id;
    run.body = {{"execution", *execution}, {"actionalias", alias}};
    const Json ack = alias.value("ack", Json::object());
    core::RenderOptions options;
    options.stackstorm_whitespace = true;  // StackStorm's Jinja environment (trim_blocks, lstrip_blocks)
    if (ack.is_object() && ack.contains("format") && ack["format"].is_string()) {
        Result<std::string> message = core::RenderString(ack["format"].get<std::string>(), run.body, options);
        run.body["message"] =
            message ? *message : "Cannot render \"format\" in field \"ack\" for alias. " + message.error().message;
    }
    if (ack.is_object() && ack.contains("extra")) {
        Result<Json> extra = core::RenderValue(ack["extra"], run.body, options);
        run.body["extra"] =
            extra ? *extra : Json("Cannot render \"extra\" in field \"ack\" for alias. " + extra.error().message);
    }
    return run;
}

}  // namespace squall::api::chatops
