// Workflow inspection (StackStorm's POST /api/v1/workflows/inspect): the body is an Orquesta workflow definition
// (YAML text, or JSON {"definition": "..."}); the answer lists its problems — syntax, a `do` naming no task, an
// unreachable task, an undefined variable — each with task and line. An empty list: the workflow is fine.
#include "http.hpp"
#include "squall/core/input.hpp"
#include "squall/workflows/spec.hpp"

namespace squall::api {

void RegisterWorkflowRoutes(Router& r, ApiDeps&) {
    r.PostRaw("/workflows/inspect", [](const httplib::Request& req, httplib::Response& res) {
        std::string text = req.body;
        std::string file = "workflow";
        if (req.get_header_value("Content-Type").find("json") != std::string::npos) {
            Json j = core::ParseJsonLimited(req.body, "request body").value_or(Json());
            if (!j.is_object() || !j.contains("definition") || !j["definition"].is_string())
                return SendError(res, InvalidArgument("definition: required, the workflow's YAML text"));
            text = j["definition"];
            if (j.contains("file") && j["file"].is_string()) file = j["file"];
        }
        if (text.empty()) return SendError(res, InvalidArgument("the body must be the workflow definition (YAML)"));
        Json out = Json::array();
        for (const auto& p : workflows::InspectText(text, file)) out.push_back(p.ToJson());
        SendJson(res, 200, out);
    });
}

}  // namespace squall::api
