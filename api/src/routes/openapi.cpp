// The catalog as a typed API (issue 15 item 5; docs/api.md "OpenAPI and typed operations"):
//   - GET /api/v1/openapi.json: an OpenAPI 3.0 document of every route the router registered, plus one operation per
//     enabled action, `POST /api/v1/ops/{pack}/{action}`, whose request body schema is the action's effective
//     parameter schema (the runner's parameters overridden by the action's). It follows the registered content: a
//     pack installed or removed changes it at once.
//   - POST /api/v1/ops/{pack}/{action}: the body is the parameters; it runs the action through ExecutionService as
//     POST /executions does. `?wait=SECONDS` (at most 300) answers 200 with the finished execution, or 202 with the
//     execution as it is when the wait ends; without it, 201 at once.
#include <algorithm>
#include <cctype>
#include <set>
#include <thread>

#include "http.hpp"
#include "metrics.hpp"
#include "squall/executions/service.hpp"

namespace squall::api {

namespace {

/// A route regex as an OpenAPI path: each group becomes `{name}` (the singular of the segment before it, or
/// `param<N>`), the optional trailing slash and anchors dropped. The names of the parameters go to `params`.
std::string OpenApiPath(const std::string& pattern, std::vector<std::string>& params) {
    return RouteTemplate(pattern, [&params](const std::string& so_far) {
        const size_t slash = so_far.rfind('/', so_far.size() >= 2 ? so_far.size() - 2 : 0);
        std::string name = slash == std::string::npos ? "" : so_far.substr(slash + 1, so_far.size() - slash - 2);
        if (name.size() > 1 && name.back() == 's') name.pop_back();
        for (char& ch : name) {
            if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        }
        if (name.empty() || std::find(params.begin(), params.end(), name) != params.end())
            name = "param" + std::to_string(params.size() + 1);
        params.push_back(name);
        return "{" + name + "}";
    });
}

/// One StackStorm parameter schema as an OpenAPI 3.0 Schema Object: JSON-Schema keywords kept, StackStorm's own
/// attributes turned into OpenAPI's (`secret` → writeOnly, `type: [a, b]` → anyOf, `null` → nullable).
Json ParameterSchema(const Json& s) {
    static const std::set<std::string> kKeep = {
        "description",
        "default",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
        "format",
        "multipleOf",
        "minProperties",
        "maxProperties"};
    Json out = Json::object();
    if (!s.is_object()) return out;
    for (const auto& [k, v] : s.items()) {
        if (kKeep.count(k)) out[k] = v;
    }
    if (auto t = s.find("type"); t != s.end()) {
        std::vector<std::string> types;
        if (t->is_string()) types.push_back(t->get<std::string>());
        if (t->is_array()) {
            for (const auto& one : *t) {
                if (one.is_string()) types.push_back(one.get<std::string>());
            }
        }
        bool nullable = false;
        std::vector<std::string> real;
        for (const auto& one : types) {
            if (one == "null")
                nullable = true;
            else
                real.push_back(one);
        }
        if (real.size() == 1) {
            out["type"] = real[0];
        } else if (real.size() > 1) {
            out["anyOf"] = Json::array();
            for (const auto& one : real) out["anyOf"].push_back({{"type", one}});
        }
        if (nullable) out["nullable"] = true;
    }
    if (auto items = s.find("items"); items != s.end() && items->is_object()) out["items"] = ParameterSchema(*items);
    if (out.value("type", "") == "array" && !out.contains("items")) out["items"] = Json::object();
    if (auto props = s.find("properties"); props != s.end() && props->is_object()) {
        out["properties"] = Json::object();
        for (const auto& [k, v] : props->items()) out["properties"][k] = ParameterSchema(v);
    }
    if (auto ap = s.find("additionalProperties"); ap != s.end() && (ap->is_boolean() || ap->is_object()))
        out["additionalProperties"] = ap->is_object() ? ParameterSchema(*ap) : *ap;
    if (core::BoolOr(s, "secret", false)) out["writeOnly"] = true;
    return out;
}

/// The request body schema of an action: its effective parameters, less the immutable ones (the caller cannot set
/// them), with `required` listed.
Json RequestSchema(const Json& parameters) {
    Json schema = {{"type", "object"}, {"properties", Json::object()}, {"additionalProperties", false}};
    Json required = Json::array();
    if (parameters.is_object()) {
        for (const auto& [name, s] : parameters.items()) {
            if (core::BoolOr(s, "immutable", false)) continue;
            schema["properties"][name] = ParameterSchema(s);
            if (core::BoolOr(s, "required", false) && !(s.is_object() && s.contains("default")))
                required.push_back(name);
        }
    }
    if (!required.empty()) schema["required"] = required;
    return schema;
}

Json ErrorResponse(const std::string& what) {
    return {
        {"description", what},
        {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
}

Json Document(const Router& r, const packs::ContentSnapshot& snap) {
    Json paths = Json::object();
    for (const auto& route : r.routes()) {
        // /v1/... repeats /api/v1/...: the document names each route once.
        if (route.pattern.rfind("/v1/", 0) == 0) continue;
        std::vector<std::string> params;
        const std::string path = OpenApiPath(route.pattern, params);
        if (path.rfind("/api/v1/ops/", 0) == 0) continue;  // one typed operation per action, below
        std::string method = route.method;
        for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        Json op = {
            {"operationId", route.method + " " + path},
            {"summary", route.method + " " + path + " (docs/api.md)"},
            {"responses",
             {{"default", {{"description", "JSON; errors are {\"faultstring\": ...} with the HTTP status"}}}}}};
        if (!params.empty()) {
            op["parameters"] = Json::array();
            for (const auto& p : params) {
                op["parameters"].push_back(
                    {{"name", p}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}}
                );
            }
        }
        if (!route.needs_auth) op["security"] = Json::array();
        paths[path][method] = std::move(op);
    }
    for (const auto& [ref, action] : snap.actions) {
        if (!action.is_object() || !core::BoolOr(action, "enabled", true)) continue;
        if (!action.value("unavailable", std::string()).empty()) continue;
        Result<Json> parameters = snap.ActionSchema(ref);
        if (!parameters) continue;
        const std::string pack = action.value("pack", "");
        const std::string name = action.value("name", "");
        const Json body = RequestSchema(*parameters);
        paths["/api/v1/ops/" + pack + "/" + name]["post"] = {
            {"operationId", ref},
            {"summary", action.value("description", ref)},
            {"tags", {pack}},
            {"parameters",
             {{{"name", "wait"},
               {"in", "query"},
               {"required", false},
               {"description", "Seconds to wait for the execution to finish (0-300)."},
               {"schema", {{"type", "integer"}, {"minimum", 0}, {"maximum", 300}}}}}},
            {"requestBody",
             {{"required", body.contains("required")}, {"content", {{"application/json", {{"schema", body}}}}}}},
            {"responses",
             {{"200",
               {{"description", "finished (with ?wait)"},
                {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Execution"}}}}}}}}},
              {"201",
               {{"description", "requested (no ?wait)"},
                {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Execution"}}}}}}}}},
              {"202",
               {{"description", "still running when the wait ended"},
                {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Execution"}}}}}}}}},
              {"400", ErrorResponse("a parameter is missing or invalid (the message names it)")},
              {"401", ErrorResponse("no or bad credentials")},
              {"404", ErrorResponse("no such action")}}}};
    }
    return {
        {"openapi", "3.0.3"},
        {"info",
         {{"title", "Squall API"},
          {"version", "1"},
          {"description",
           "StackStorm's API v1 (docs/api.md) and the catalog as typed operations: POST "
           "/api/v1/ops/{pack}/{action}."}}},
        {"servers", {{{"url", "/"}}}},
        {"security", {{{"ApiKey", Json::array()}}, {{"AuthToken", Json::array()}}}},
        {"paths", paths},
        {"components",
         {{"securitySchemes",
           {{"ApiKey", {{"type", "apiKey"}, {"in", "header"}, {"name", "St2-Api-Key"}}},
            {"AuthToken", {{"type", "apiKey"}, {"in", "header"}, {"name", "X-Auth-Token"}}}}},
          {"schemas",
           {{"Error",
             {{"type", "object"},
              {"properties", {{"faultstring", {{"type", "string"}}}}},
              {"required", {"faultstring"}}}},
            {"Execution",
             {{"type", "object"},
              {"properties",
               {{"id", {{"type", "string"}}},
                {"status", {{"type", "string"}}},
                {"result", {{"type", "object"}, {"nullable", true}}},
                {"action", {{"type", "object"}}},
                {"parameters", {{"type", "object"}}},
                {"start_timestamp", {{"type", "string"}}},
                {"end_timestamp", {{"type", "string"}}}}}}}}}}}};
}

}  // namespace

void RegisterOpenApiRoutes(Router& r, ApiDeps& d) {
    r.Get("/openapi.json", [&r, &d](const httplib::Request&, httplib::Response& res) {
        Result<packs::ContentSnapshotPtr> snap = d.content_cache.GetBlocking();
        if (!snap) return SendError(res, snap.error());
        SendJson(res, 200, Document(r, **snap));
    });
    r.Post(
        R"(/ops/([A-Za-z0-9_-]+)/([A-Za-z0-9_.-]+))",
        [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
            Result<size_t> wait = QueryCount(req, "wait", 0, 300);
            if (!wait) return SendError(res, wait.error());
            Json parameters = Json::object();
            if (!req.body.empty()) {
                Result<Json> body = ParseObjectBody(req);
                if (!body) return SendError(res, body.error());
                if (!body->is_object()) return SendError(res, InvalidArgument("body: must be an object of parameters"));
                parameters = std::move(*body);
            }
            executions::ExecutionSpec spec;
            spec.action_ref = std::string(req.matches[1]) + "." + std::string(req.matches[2]);
            spec.parameters = std::move(parameters);
            spec.user = who.user;
            spec.api_user = who.user;
            Result<std::string> id = d.execution_service.RequestBlocking(spec);
            if (!id) return SendError(res, id.error());
            Result<Json> e = d.executions.GetBlocking(*id);
            if (!e) return SendError(res, e.error());
            if (*wait == 0) return SendJson(res, 201, *e);
            // Polled with a growing interval (10 ms → 250 ms): the answer comes soon after the end, whichever
            // process ran it, and a long wait costs a few reads a second.
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(*wait);
            auto interval = std::chrono::milliseconds(10);
            while (!core::status::IsCompleted(e->value("status", "")) && std::chrono::steady_clock::now() < deadline) {
                std::this_thread::sleep_for(interval);
                interval = std::min(interval * 2, std::chrono::milliseconds(250));
                Result<Json> again = d.executions.GetBlocking(*id);
                if (!again) return SendError(res, again.error());
                e = std::move(again);
            }
            SendJson(res, core::status::IsCompleted(e->value("status", "")) ? 200 : 202, *e);
        }
    );
}

}  // namespace squall::api
