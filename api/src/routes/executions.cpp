#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include "http.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"

namespace squall::api {

namespace {

/// An execution list's query time (`timestamp_gt`, `timestamp_lt`) in µs since the epoch.
Result<int64_t> QueryTime(const httplib::Request& req, const std::string& name) {
    const std::string text = req.get_param_value(name);
    std::chrono::system_clock::time_point tp;
    if (!core::ParseIsoTimestamp(text, &tp)) {
        return InvalidArgument(
            "query parameter \"" + name + "\": \"" + text + "\" is not a UTC time such as 2026-12-07T17:14:00Z"
        );
    }
    return core::ToMicros(tp);
}

/// StackStorm's execution filters that no index answers (ListFilter): `parent` (`null`: top-level executions only),
/// `runner`, `trigger_instance` (the executions its enforcements created), `id`, `timestamp_gt`/`timestamp_lt`,
/// `sort_asc`. StackStorm's `liveaction` and `timestamp` (one instant) are refused rather than ignored.
Status UnindexedFilters(ApiDeps& d, const httplib::Request& req, executions::ListFilter& filter) {
    for (const char* unsupported : {"liveaction", "timestamp"}) {
        if (req.has_param(unsupported)) {
            return InvalidArgument(
                std::string("query parameter \"") + unsupported +
                "\": not supported (filter with timestamp_gt and timestamp_lt, or get the execution by id)"
            );
        }
    }
    const std::string parent = req.get_param_value("parent");
    if (parent == "null") {
        filter.top_level = true;
    } else {
        filter.parent = parent;
    }
    filter.runner = req.get_param_value("runner");
    if (req.has_param("id")) filter.ids = std::vector<std::string>{req.get_param_value("id")};
    if (req.has_param("timestamp_gt")) {
        Result<int64_t> t = QueryTime(req, "timestamp_gt");
        if (!t) return t.error();
        filter.after_us = *t;
    }
    if (req.has_param("timestamp_lt")) {
        Result<int64_t> t = QueryTime(req, "timestamp_lt");
        if (!t) return t.error();
        filter.before_us = *t;
    }
    const std::string asc = req.get_param_value("sort_asc");
    filter.oldest_first = asc == "True" || asc == "true" || asc == "1";
    if (!req.get_param_value("trigger_instance").empty()) {
        size_t total = 0;
        Result<std::vector<Json>> enforcements =
            d.enforcements.ListBlocking(req.get_param_value("trigger_instance"), 0, 1000, &total);
        if (!enforcements) return enforcements.error();
        std::vector<std::string> ids;
        for (const Json& e : *enforcements) {
            const std::string id = e.value("execution_id", "");
            if (!id.empty() && (!filter.ids || filter.ids->front() == id)) ids.push_back(id);
        }
        filter.ids = std::move(ids);
    }
    return {};
}

}  // namespace

namespace {

/// What executions::ExecutionService refused, as the API has always said it: an unknown action is a bad request.
Error AsRequestError(Error e) {
    if (e.code == ErrorCode::kNotFound) e.code = ErrorCode::kInvalidArgument;
    return e;
}

/// `user` of a request body: absent or null (StackStorm's client sends null) means the authenticated user.
Result<std::string> BodyUser(const Json& body, const std::string& authenticated) {
    auto it = body.find("user");
    if (it == body.end() || it->is_null()) return authenticated;
    if (!it->is_string()) return InvalidArgument("body: \"user\" must be a string or null");
    if (it->get<std::string>().empty()) return authenticated;
    return it->get<std::string>();
}

/// Who an execution belongs to: context.user.
std::string Owner(const Json& execution) {
    const Json context = execution.value("context", Json::object());
    const Json user = context.is_object() ? context.value("user", Json()) : Json();
    return user.is_string() ? user.get<std::string>() : std::string();
}

/// Non-admins act only on their own executions: kPermissionDenied naming the owner otherwise.
Status CheckOwner(const Json& execution, const Identity& who, const std::string& what) {
    if (who.admin) return {};
    const std::string owner = Owner(execution);
    if (owner == who.user) return {};
    return Error(
        ErrorCode::kPermissionDenied,
        what + " execution " + execution.value("id", std::string()) + " of user \"" + owner +
            "\" is for its owner or an admin (user \"" + who.user + "\" is neither)"
    );
}

/// The execution `id` when `who` may act on it.
Result<Json> OwnedExecution(ApiDeps& d, const std::string& id, const Identity& who, const std::string& what) {
    Result<Json> e = d.executions.GetBlocking(id);
    if (!e) return e.error();
    if (Status st = CheckOwner(*e, who, what); !st) return st.error();
    return e;
}

void SendExecution(ApiDeps& d, httplib::Response& res, int status, const std::string& id) {
    Result<Json> e = d.executions.GetBlocking(id);
    if (!e) return SendError(res, e.error());
    SendJson(res, status, *e);
}

}  // namespace

void RegisterExecutionRoutes(Router& r, ApiDeps& d) {
    r.Post("/executions", [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
        Result<Json> body = ParseObjectBody(req);
        if (!body) return SendError(res, body.error());
        if (!body->is_object() || !body->contains("action") || !(*body)["action"].is_string()) {
            return SendError(res, InvalidArgument("body: \"action\" (an action ref) is required"));
        }
        const std::string authenticated = who.user;
        Result<std::string> user = BodyUser(*body, authenticated);
        if (!user) return SendError(res, user.error());
        if (*user != who.user) {
            if (Status st = RequireAdmin(who, "running an action as another user"); !st)
                return SendError(res, st.error());
        }
        executions::ExecutionSpec spec;
        spec.action_ref = (*body)["action"];
        const Json params = body->value("parameters", Json::object());
        if (!params.is_null() && !params.is_object())
            return SendError(res, InvalidArgument("body: \"parameters\" must be an object"));
        spec.parameters = params.is_null() ? Json::object() : params;
        spec.parameters_see_each_other = true;  // st2 run's live parameters see each other by name
        spec.user = *user;
        spec.api_user = authenticated;
        const Json context = body->value("context", Json::object());
        if (!context.is_null() && !context.is_object())
            return SendError(res, InvalidArgument("body: \"context\" must be an object"));
        if (context.is_object()) spec.context = context;
        if (body->contains("trace_tag") && (*body)["trace_tag"].is_string())
            spec.context["trace_context"] = {{"trace_tag", (*body)["trace_tag"]}};
        // StackStorm's liveaction `notify`: sections on-complete / on-success / on-failure, each {message, data,
        // routes}; used when the action has no notify of its own.
        if (Json notify = body->value("notify", Json()); !notify.is_null()) {
            if (!notify.is_object()) return SendError(res, InvalidArgument("body: \"notify\" must be an object"));
            for (const auto& [section, v] : notify.items()) {
                const std::string where = "notify." + section;
                if (section != "on-complete" && section != "on-success" && section != "on-failure")
                    return SendError(
                        res, InvalidArgument(where + ": unknown section (on-complete, on-success or on-failure)")
                    );
                if (!v.is_object()) return SendError(res, InvalidArgument(where + ": must be an object"));
                const Json routes = v.value("routes", Json::array());
                if (!routes.is_array() ||
                    !std::all_of(routes.begin(), routes.end(), [](const Json& r) { return r.is_string(); }))
                    return SendError(res, InvalidArgument(where + ".routes: must be a list of route names"));
                if (v.contains("message") && !v["message"].is_string())
                    return SendError(res, InvalidArgument(where + ".message: must be a string"));
                if (v.contains("data") && !v["data"].is_object())
                    return SendError(res, InvalidArgument(where + ".data: must be an object"));
            }
            spec.notify = std::move(notify);
        }
        Result<std::string> id = d.execution_service.RequestBlocking(spec);
        if (!id) return SendError(res, AsRequestError(id.error()));
        SendExecution(d, res, 201, *id);
    });

    // Cancel (StackStorm: DELETE answers the execution, now canceling or canceled). One that has ended is answered
    // as StackStorm answers it, 200 either way, so that `st2 execution cancel ID...` goes on through a list: an
    // execution already canceled is answered as it is; one that ended otherwise gets a faultstring naming its status
    // (`Action cannot be canceled. State = succeeded.`), which st2 prints for that id.
    r.Delete(
        R"(/executions/([0-9a-zA-Z_-]+))",
        [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
            if (Result<Json> e = OwnedExecution(d, req.matches[1], who, "canceling"); !e)
                return SendError(res, e.error());
            Result<executions::CancelOutcome> c = d.execution_service.CancelBlocking(req.matches[1]);
            if (!c && c.error().code == ErrorCode::kFailedPrecondition) {
                Result<Json> ended = d.executions.GetBlocking(req.matches[1]);
                if (!ended) return SendError(res, ended.error());
                const std::string status = ended->value("status", "");
                if (status != "canceled") {
                    return SendJson(res, 200, {{"faultstring", "Action cannot be canceled. State = " + status + "."}});
                }
            } else if (!c) {
                return SendError(res, c.error());
            }
            SendExecution(d, res, 200, req.matches[1]);
        }
    );

    r.Post(
        R"(/executions/([0-9a-zA-Z_-]+)/re_run)",
        [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
            if (Result<Json> e = OwnedExecution(d, req.matches[1], who, "re-running"); !e)
                return SendError(res, e.error());
            Result<Json> body = ParseObjectBody(req);
            if (!body) return SendError(res, body.error());
            if (!body->is_object()) return SendError(res, InvalidArgument("body: must be an object"));
            // StackStorm's {tasks, reset}: re-run an Orquesta workflow from those tasks (docs/workflows.md).
            Json from_tasks = {
                {"tasks", body->value("tasks", Json::array())}, {"reset", body->value("reset", Json::array())}};
            for (auto& [k, v] : from_tasks.items()) {
                if (v.is_null()) v = Json::array();
            }
            Result<std::string> user = BodyUser(*body, who.user);
            if (!user) return SendError(res, user.error());
            if (*user != who.user) {
                if (Status st = RequireAdmin(who, "re-running as another user"); !st) return SendError(res, st.error());
            }
            Json overrides = body->value("parameters", Json::object());
            if (overrides.is_null()) overrides = Json::object();
            if (!overrides.is_object())
                return SendError(res, InvalidArgument("body: \"parameters\" must be an object"));
            Result<std::string> id = d.execution_service.ReRunBlocking(req.matches[1], overrides, *user, from_tasks);
            if (!id) return SendError(res, id.error());
            SendExecution(d, res, 201, *id);
        }
    );

    // Pause / resume: {"status": "pausing"|"resuming"} for runners that support it.
    r.Put(
        R"(/executions/([0-9a-zA-Z_-]+))",
        [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
            if (Result<Json> e = OwnedExecution(d, req.matches[1], who, "pausing or resuming"); !e)
                return SendError(res, e.error());
            Result<Json> body = ParseObjectBody(req);
            if (!body) return SendError(res, body.error());
            const std::string status = body->is_object() && (*body)["status"].is_string() ? (*body)["status"] : "";
            Result<std::string> moved =
                status == "pausing" ? d.execution_service.PauseBlocking(req.matches[1])
                : status == "resuming"
                    ? d.execution_service.ResumeBlocking(req.matches[1])
                    : Result<std::string>(InvalidArgument("body: \"status\" must be \"pausing\" or \"resuming\""));
            if (!moved) return SendError(res, moved.error());
            SendExecution(d, res, 200, req.matches[1]);
        }
    );

    r.Get("/executions", [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
        Result<Page> page = QueryPage(req, 1000);
        if (!page) return SendError(res, page.error());
        // One answer holds at most 5,000 executions, whatever an admin asks: `st2 execution list -n -1` at 128,000
        // executions read every record in one pipeline (Redis answered nothing else for seconds, the API 504, the
        // server grew by 300 MB). X-Total-Count still counts them all and `offset` pages on; st2 says only the first
        // ones are shown.
        page->limit = std::min<size_t>(page->limit, 5000);
        const std::string status = req.get_param_value("status");
        if (!status.empty()) {
            const auto& all = core::status::All();
            if (std::find(all.begin(), all.end(), status) == all.end()) {
                return SendError(res, InvalidArgument("query parameter \"status\": unknown status \"" + status + "\""));
            }
        }
        size_t total = 0;
        executions::ListFilter filter;
        filter.action = req.get_param_value("action");
        filter.status = status;
        // StackStorm's `rule` and `trigger_type` (`trigger` too, as /triggerinstances takes): the rule's ref and the
        // trigger type of the instance it matched.
        filter.rule = req.get_param_value("rule");
        filter.trigger =
            req.has_param("trigger_type") ? req.get_param_value("trigger_type") : req.get_param_value("trigger");
        // Non-admins see their own executions, all of them: the store's index by user. An admin may ask for anyone's.
        const std::string user = req.get_param_value("user");
        if (!who.admin) {
            if (!user.empty() && user != who.user) return SendList(res, {}, 0, page->limit);
            filter.user = who.user;
        } else {
            filter.user = user;
        }
        // StackStorm's other filters (reference §2; `st2 execution list` sends `parent=null` unless --showall).
        if (Status st = UnindexedFilters(d, req, filter); !st) return SendError(res, st.error());
        // What include/exclude_attributes leave out is not parsed (st2's `execution list` asks for six attributes).
        TopLevelAttributes(req, &filter.only, &filter.without);
        Result<std::vector<Json>> list = d.executions.ListBlocking(filter, page->offset, page->limit, &total);
        if (!list) return SendError(res, list.error());
        SendList(res, *list, total, page->limit);
    });

    r.Get(
        R"(/executions/([0-9a-zA-Z_-]+))",
        [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
            Result<Json> e = OwnedExecution(d, req.matches[1], who, "reading");
            if (!e) return SendError(res, e.error());
            SendJson(res, 200, *e);
        }
    );

    // StackStorm's descendants of a workflow execution: its tasks' executions, depth first in the order they were
    // created (a subworkflow's tasks right after it), down to `depth` levels (-1, the default: all). st2client reads
    // it for `st2 execution get` of a workflow.
    r.Get(
        R"(/executions/([0-9a-zA-Z_-]+)/children)",
        [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
            Result<Json> root = OwnedExecution(d, req.matches[1], who, "reading the children of");
            if (!root) return SendError(res, root.error());
            int64_t depth = -1;
            if (req.has_param("depth")) {
                const std::string text = req.get_param_value("depth");
                char* end = nullptr;
                errno = 0;
                const long long v = std::strtoll(text.c_str(), &end, 10);
                if (text.empty() || *end != '\0' || errno != 0 || v < -1) {
                    return SendError(
                        res, InvalidArgument("query parameter \"depth\": must be -1 (all) or a number of levels")
                    );
                }
                depth = v;
            }
            constexpr size_t kMaxDescendants = 10000;
            Json out = Json::array();
            // (id, level) still to visit, the next one at the back.
            std::vector<std::pair<std::string, int64_t>> stack;
            auto push_children = [&stack](const Json& e, int64_t level) {
                const Json children = e.value("children", Json::array());
                if (!children.is_array()) return;
                for (auto it = children.rbegin(); it != children.rend(); ++it) {
                    if (it->is_string()) stack.emplace_back(it->get<std::string>(), level);
                }
            };
            push_children(*root, 1);
            while (!stack.empty() && out.size() < kMaxDescendants) {
                auto [id, level] = std::move(stack.back());
                stack.pop_back();
                Result<Json> e = d.executions.GetBlocking(id);
                if (!e) {
                    if (e.error().code == ErrorCode::kNotFound) continue;  // purged meanwhile
                    return SendError(res, e.error());
                }
                if (depth <= 0 || level < depth) push_children(*e, level + 1);
                out.push_back(std::move(*e));
            }
            SendJson(res, 200, out);
        }
    );

    r.Get(
        R"(/executions/([0-9a-zA-Z_-]+)/output)",
        [&d](const httplib::Request& req, httplib::Response& res, const Identity& who) {
            Result<Json> e = OwnedExecution(d, req.matches[1], who, "reading the output of");
            if (!e) return SendError(res, e.error());
            Result<std::vector<Json>> lines = d.executions.OutputBlocking(req.matches[1]);
            if (!lines) return SendError(res, lines.error());
            const std::string type = req.get_param_value("output_type");
            if (req.get_param_value("format") == "json") {
                // The entries themselves, {output_type, data, timestamp}: `squall execution tail` prints those stored
                // before its stream opened and recognises them when the stream brings them too.
                std::vector<Json> kept;
                for (auto& l : *lines) {
                    if (type.empty() || l.value("output_type", "") == type) kept.push_back(std::move(l));
                }
                return SendJson(res, 200, Json(std::move(kept)));
            }
            std::string text;
            for (const auto& l : *lines) {
                if (!type.empty() && l.value("output_type", "") != type) continue;
                text += l.value("data", "");
            }
            res.status = 200;
            res.set_content(text, "text/plain; charset=utf-8");
        }
    );
}

}  // namespace squall::api
