// Inquiries (reference §2 inquiries, §8): an inquiry is an execution of the `inquirer` runner waiting in `pending`;
// answering it validates the response against the inquiry's schema and completes the execution.
#include <algorithm>

#include "http.hpp"
#include "squall/packs/json_schema.hpp"

namespace squall::api {
namespace {

constexpr const char* kInquirer = "inquirer";

bool IsInquiry(const Json& e) {
    return e.contains("runner") && e["runner"].value("name", "") == kInquirer;
}

/// StackStorm's inquiry shape: {id, schema, roles, users, route, ttl, status, liveaction, ...}.
Json InquiryJson(const Json& e) {
    const Json result = e.value("result", Json::object());
    Json out = {
        {"id", e.value("id", "")},
        {"status", e.value("status", "")},
        {"schema", result.value("schema", Json::object())},
        {"roles", result.value("roles", Json::array())},
        {"users", result.value("users", Json::array())},
        {"route", result.value("route", "")},
        {"ttl", result.value("ttl", 1440)},
        {"action", e.contains("action") ? e["action"].value("ref", "") : ""},
        {"start_timestamp", e.value("start_timestamp", "")}};
    if (e.contains("parent")) out["parent"] = e["parent"];
    if (result.contains("response")) out["response"] = result["response"];
    return out;
}

Result<Json> FindInquiry(ApiDeps& d, const std::string& id) {
    Result<Json> e = d.executions.GetBlocking(id);
    if (!e) {
        if (e.error().code == ErrorCode::kNotFound) return NotFound("inquiry \"" + id + "\" not found");
        return e.error();
    }
    if (!IsInquiry(*e)) return NotFound("inquiry \"" + id + "\" not found (execution " + id + " is not an inquiry)");
    return e;
}

/// StackStorm's check (st2common/services/inquiry.py, check_permission): when the inquiry names `users`, the responder
/// must be one of them; when it names `roles`, the responder must hold one. Squall's roles are `admin` (also spelled
/// `system_admin`, as StackStorm's) for admins, none otherwise (GET /user). An admin not named is refused too.
Status MayRespond(const std::string& id, const Json& result, const Identity& who) {
    const auto names = [](const Json& list, const auto& pred) {
        if (!list.is_array() || list.empty()) return true;
        return std::any_of(list.begin(), list.end(), [&](const Json& v) {
            return v.is_string() && pred(v.get<std::string>());
        });
    };
    const bool user_ok =
        names(result.value("users", Json::array()), [&](const std::string& u) { return u == who.user; });
    const bool role_ok = names(result.value("roles", Json::array()), [&](const std::string& r) {
        return who.admin && (r == "admin" || r == "system_admin");
    });
    if (user_ok && role_ok) return {};
    return Error(
        ErrorCode::kPermissionDenied,
        "user \"" + who.user + "\" may not respond to inquiry \"" + id + "\": it is for " +
            (user_ok ? "the roles " + result.value("roles", Json::array()).dump()
                     : "the users " + result.value("users", Json::array()).dump())
    );
}

}  // namespace

void RegisterInquiryRoutes(Router& r, ApiDeps& d) {
    r.Get("/inquiries", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Page> page = QueryPage(req, 1000);
        if (!page) return SendError(res, page.error());
        size_t total = 0;
        // Pending executions are few; filter them down to the inquirer's.
        Result<std::vector<Json>> list =
            d.executions.ListBlocking({.status = core::status::kPending}, 0, 10000, &total);
        if (!list) return SendError(res, list.error());
        std::vector<Json> inquiries;
        for (const auto& e : *list) {
            if (IsInquiry(e)) inquiries.push_back(InquiryJson(e));
        }
        const size_t count = inquiries.size();
        std::vector<Json> shown;
        for (size_t i = page->offset; i < count && shown.size() < page->limit; ++i) shown.push_back(inquiries[i]);
        SendList(res, shown, count, page->limit);
    });

    r.Get(R"(/inquiries/([0-9a-zA-Z_-]+))", [&d](const httplib::Request& req, httplib::Response& res) {
        Result<Json> e = FindInquiry(d, req.matches[1]);
        if (!e) return SendError(res, e.error());
        SendJson(res, 200, InquiryJson(*e));
    });

    r.Put(
        R"(/inquiries/([0-9a-zA-Z_-]+))",
        [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
            const std::string id = req.matches[1];
            Result<Json> body = ParseObjectBody(req);
            if (!body) return SendError(res, body.error());
            if (!body->is_object() || !body->contains("response"))
                return SendError(res, InvalidArgument("body: \"response\" (an object) is required"));
            const Json& response = (*body)["response"];
            if (!response.is_object()) return SendError(res, InvalidArgument("body: \"response\" must be an object"));
            Result<Json> e = FindInquiry(d, id);
            if (!e) return SendError(res, e.error());
            if (e->value("status", "") != core::status::kPending) {
                return SendError(
                    res,
                    Error(
                        ErrorCode::kFailedPrecondition,
                        "inquiry \"" + id + "\" is not pending (status " + e->value("status", "") + ")"
                    )
                );
            }
            Json result = e->value("result", Json::object());
            if (Status allowed = MayRespond(id, result, who); !allowed) return SendError(res, allowed.error());
            Json schema = result.value("schema", Json::object());
            // StackStorm's inquiry schemas mark required properties per property (`required: true`); draft 4 wants a
            // list on the object. Both are honoured.
            if (schema.contains("properties") && schema["properties"].is_object()) {
                Json required = schema.value("required", Json::array());
                if (!required.is_array()) required = Json::array();
                for (const auto& [name, prop] : schema["properties"].items()) {
                    if (prop.is_object() && core::BoolOr(prop, "required", false)) required.push_back(name);
                }
                if (!required.empty()) schema["required"] = required;
            }
            Result<packs::JsonSchema> compiled = packs::JsonSchema::Compile(schema);
            if (!compiled) return SendError(res, InvalidArgument("inquiry schema: " + compiled.error().message));
            if (Status valid = compiled->Validate(response, "response", {.subject = "field"}); !valid)
                return SendError(res, InvalidArgument(valid.error().message));
            result["response"] = response;
            Result<executions::TransitionResult> moved = d.executions.TransitionBlocking(
                id,
                core::status::kSucceeded,
                {{"result", result.dump(-1, ' ', false, Json::error_handler_t::replace)},
                 {"end_timestamp", core::FormatIsoTimestamp(d.clock.Now())}},
                {core::status::kPending}
            );
            if (!moved) return SendError(res, moved.error());
            if (!moved->applied)
                return SendError(
                    res, Error(ErrorCode::kFailedPrecondition, "inquiry \"" + id + "\" was answered or ended meanwhile")
                );
            SendJson(res, 200, {{"id", id}, {"response", response}});
        }
    );
}

}  // namespace squall::api
