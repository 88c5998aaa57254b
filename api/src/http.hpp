#pragma once

#include <httplib.h>

#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "auth.hpp"
#include "squall/api/server.hpp"
#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"
#include "webhook_lane.hpp"

namespace squall::api {

using core::Json;
using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
/// A handler that acts for the caller: gets the identity the router authenticated (empty for public routes).
using IdentityHandler = std::function<void(const httplib::Request&, httplib::Response&, const Identity&)>;

/// The one place where an Error becomes an HTTP answer: {"faultstring": message, "code": NAME}. `detail` is
/// logged, never sent. Redis LOADING becomes 503; every 503 carries Retry-After; 5xx are logged, unavailability
/// at most once per 10 s.
void SendError(httplib::Response& res, const Error& error);
void SendJson(httplib::Response& res, int status, const Json& body);
/// Runs `f`, the exception boundary of every route: a squall Exception is answered as its error, a request value of
/// the wrong JSON type as a 400 (the stored data handlers read was written by us with the right types, so the request
/// is malformed, never a server error), anything else as a 500.
template <class F>
void Guarded(httplib::Response& res, F&& f) {
    try {
        f();
    } catch (const Exception& e) {
        SendError(res, e.error());
    } catch (const Json::type_error& e) {
        SendError(res, InvalidArgument(std::string("request: a value has the wrong JSON type (") + e.what() + ")"));
    } catch (const std::exception& e) {
        SendError(res, Internal("internal error", e.what()));
    }
}
/// A list answer with X-Total-Count and X-Limit (`-1` when the page was `limit=-1`, everything).
void SendList(httplib::Response& res, const std::vector<Json>& items, size_t total, size_t limit);

/// Body as JSON (an empty body is an empty object) through core::ParseJsonLimited: kInvalidArgument naming the
/// JSON error, the depth limit or the path of an out-of-range number otherwise. Any JSON value (webhooks).
Result<Json> ParseBody(const httplib::Request& req);
/// The body of a resource operation: a JSON object (kInvalidArgument otherwise) whose top-level keys set to
/// null are dropped, so that `"field": null` means "not given" for every optional field (StackStorm's client
/// sends nulls for what the user left out).
Result<Json> ParseObjectBody(const httplib::Request& req);
/// A comma-separated query value's items, spaces around them trimmed, empty ones dropped.
std::vector<std::string> SplitList(const std::string& text);
/// Non-negative integer query parameter; kInvalidArgument naming it when malformed or above `max`.
Result<size_t> QueryCount(const httplib::Request& req, const std::string& name, size_t def, size_t max);

/// `limit` and `offset` query parameters of a list endpoint: limit defaults to 100, at most `max_limit`; `-1`
/// asks for everything (kNoLimit; admins only, which the router checks for every route); `0` and anything else
/// negative are refused (docs/api.md "Lists").
struct Page {
    static constexpr size_t kNoLimit = 1'000'000'000;  ///< limit=-1: far above any stored count, safe to add to
    size_t limit = 100;
    size_t offset = 0;
};
Result<Page> QueryPage(const httplib::Request& req, size_t max_limit);

/// Applies `include_attributes` / `exclude_attributes` (comma-separated, dotted paths such as `action.ref`) to
/// an answer: an object, or each object of a list. `include` keeps `id` as StackStorm does.
Json FilterAttributes(
    const Json& body, const std::vector<std::string>& include, const std::vector<std::string>& exclude
);

/// The top-level attributes that the request's include_attributes keep (`action` for `action.ref`; empty: all) and
/// those its exclude_attributes drop whole: what a list may leave out of the records it reads.
void TopLevelAttributes(const httplib::Request& req, std::vector<std::string>* only, std::vector<std::string>* without);

using RouteInfo = ApiRoute;

/// A handler only admins may call: others get 403 saying `what` is for admins only.
IdentityHandler AdminOnly(std::string what, Handler h);

/// Registers handlers under both /api/v1 and /v1 (as StackStorm's services answer both), each with and without a
/// trailing slash (st2client asks for `/executions/?limit=50`), wrapped with auth, the exception boundary and
/// the include/exclude_attributes filter. Every authenticated route also refuses, for non-admins, what
/// StackStorm keeps to admins whatever the resource: `limit=-1` and `show_secrets=true` (403).
/// Each method takes a Handler, or an IdentityHandler when it acts for the caller.
class Router {
public:
    Router(httplib::Server& server, Authenticator& auth) : server_(server), auth_(auth) {}
    void Get(const std::string& pattern, Handler h, bool needs_auth = true);
    void Get(const std::string& pattern, IdentityHandler h, bool needs_auth = true);
    /// A GET whose answer include_attributes/exclude_attributes do not narrow, as StackStorm's controllers that are
    /// not backed by a model (the webhooks list: `st2 webhook list` asks for `url` and then reads `parameters`).
    void GetWhole(const std::string& pattern, Handler h, bool needs_auth = true);
    void Post(const std::string& pattern, Handler h, bool needs_auth = true);
    void Post(const std::string& pattern, IdentityHandler h, bool needs_auth = true);
    /// A POST whose handler gets the raw body whatever its Content-Type (the GitHub webhook signs those bytes):
    /// cpp-httplib parses form bodies itself and refuses those over 8 KB (its compile-time
    /// CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH), so this reads the body through a content reader (the
    /// payload limit still applies: 413). Matched before the routes registered with Post.
    void PostRaw(const std::string& pattern, Handler h, bool needs_auth = true);
    void PostRaw(const std::string& pattern, IdentityHandler h, bool needs_auth = true);
    void Put(const std::string& pattern, Handler h, bool needs_auth = true);
    void Put(const std::string& pattern, IdentityHandler h, bool needs_auth = true);
    void Delete(const std::string& pattern, Handler h, bool needs_auth = true);
    void Delete(const std::string& pattern, IdentityHandler h, bool needs_auth = true);
    /// A route outside the API prefixes (`/stream/v1/stream`, `/auth/v1/...`): `path` exactly as given, with and
    /// without a trailing slash.
    void GetAt(const std::string& path, Handler h, bool needs_auth = true);
    void PostAt(const std::string& path, Handler h, bool needs_auth = true);
    void PostAt(const std::string& path, IdentityHandler h, bool needs_auth = true);
    void DeleteAt(const std::string& path, IdentityHandler h, bool needs_auth = true);
    Authenticator& auth() { return auth_; }
    /// The user of the request's credentials (for public routes that also accept them).
    Result<std::string> User(const httplib::Request& req) {
        Result<Identity> who = auth_.Check(req);
        if (!who) return who.error();
        return who->user;
    }
    /// Every route registered so far.
    const std::vector<RouteInfo>& routes() const { return routes_; }

private:
    static IdentityHandler Plain(Handler h);
    Handler Wrap(IdentityHandler h, bool needs_auth, bool filter_attributes = true);
    /// Registers `h` for `method` at each of `patterns` (full regexes) and records them.
    void Add(const std::string& method, const std::vector<std::string>& patterns, const Handler& h, bool needs_auth);
    std::vector<std::string> Prefixed(const std::string& pattern) const;
    httplib::Server& server_;
    Authenticator& auth_;
    std::vector<RouteInfo> routes_;
};

/// Route groups, one file each under src/routes/.
void RegisterExecutionRoutes(Router& r, ApiDeps& d);
void RegisterContentRoutes(Router& r, ApiDeps& d);
class QueueDepth;
/// Webhooks; refused with 429 and Retry-After while `depth` is over its bound.
void RegisterWebhookRoutes(Router& r, ApiDeps& d, const QueueDepth& depth);
/// The webhook route as the webhook lane serves it (webhook_lane.hpp): the same answers, without waiting.
LaneHandler WebhookLaneHandler(Router& r, ApiDeps& d, const QueueDepth& depth);
/// `/triggerinstances` (filters, re_emit), `/ruleenforcements`, `/traces` (routes/traces.cpp).
void RegisterTriggerRoutes(Router& r, ApiDeps& d);
void RegisterKeyRoutes(Router& r, ApiDeps& d);
void RegisterInquiryRoutes(Router& r, ApiDeps& d);
void RegisterPackContentRoutes(Router& r, ApiDeps& d);
void RegisterConfigRoutes(Router& r, ApiDeps& d);
void RegisterPackManageRoutes(Router& r, ApiDeps& d);
void RegisterDeadLetterRoutes(Router& r, ApiDeps& d);
/// GET /service-registry, /service_registries/groups[/{group}/members] (StackStorm shapes), /pools.
void RegisterServiceRegistryRoutes(Router& r, ApiDeps& d);
/// Action alias create/replace/delete, match and help; alias executions (routes/chatops_aliases.cpp).
void RegisterChatOpsAliasRoutes(Router& r, ApiDeps& d);
namespace chatops {
class ChatNotifier;
}
/// POST /chatops/slack: the Slack adapter (routes/chatops_slack.cpp); results are posted through `notifier`.
void RegisterChatOpsSlackRoutes(Router& r, ApiDeps& d, chatops::ChatNotifier& notifier);
/// POST /chatops/generic: the generic JSON adapter (routes/chatops_generic.cpp).
void RegisterChatOpsGenericRoutes(Router& r, ApiDeps& d, chatops::ChatNotifier& notifier);
/// POST /chatops/mattermost: Mattermost outgoing webhooks (routes/chatops_mattermost.cpp).
void RegisterChatOpsMattermostRoutes(Router& r, ApiDeps& d, chatops::ChatNotifier& notifier);
void RegisterWorkflowRoutes(Router& r, ApiDeps& d);
/// GET /metrics and /api/v1/metrics: Prometheus text (routes/metrics.cpp).
void RegisterMetricsRoutes(Router& r, ApiDeps& d, const QueueDepth& depth);
/// GET /openapi.json and POST /ops/{pack}/{action}: the catalog as a typed API (routes/openapi.cpp).
void RegisterOpenApiRoutes(Router& r, ApiDeps& d);
/// `/auth/v1/tokens` (create, validate, revoke), `/user`, `/apikeys` CRUD (routes/auth.cpp).
void RegisterAuthRoutes(Router& r, ApiDeps& d, const ApiOptions& options);
/// `/runnertypes`, `/timers`: the read-only resources st2client lists (routes/compat.cpp).
void RegisterCompatRoutes(Router& r, ApiDeps& d);
class EventHub;
/// `/stream/v1/stream` and `/api/v1/stream` (routes/stream.cpp).
void RegisterStreamRoutes(Router& r, EventHub& hub, std::chrono::seconds heartbeat);

}  // namespace squall::api
