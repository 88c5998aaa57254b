#pragma once

#include <httplib.h>

#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "squall/api/server.hpp"
#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"

namespace squall::api {

using core::Json;
using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

/// The one place where an Error becomes an HTTP answer: {"faultstring": message, "code": NAME}. `detail` is
/// logged, never sent. Redis LOADING becomes 503; every 503 carries Retry-After; 5xx are logged, unavailability
/// at most once per 10 s.
void SendError(httplib::Response& res, const Error& error);
void SendJson(httplib::Response& res, int status, const Json& body);
/// A list answer with X-Total-Count and X-Limit.
void SendList(httplib::Response& res, const std::vector<Json>& items, size_t total, size_t limit);

/// Body as JSON (an empty body is an empty object) through core::ParseJsonLimited: kInvalidArgument naming the
/// JSON error, the depth limit or the path of an out-of-range number otherwise.
Result<Json> ParseBody(const httplib::Request& req);
/// Non-negative integer query parameter; kInvalidArgument naming it when malformed or above `max`.
Result<size_t> QueryCount(const httplib::Request& req, const std::string& name, size_t def, size_t max);

/// Checks API keys (header St2-Api-Key or query st2-api-key) against their stored SHA-256. Positive answers
/// are cached for a few seconds so that the hot path (webhooks) costs no Redis round trip. Thread-safe.
class Authenticator {
public:
    Authenticator(core::RedisClient& redis, const core::Clock& clock);
    /// The user the key belongs to, or kUnauthenticated.
    Result<std::string> Check(const httplib::Request& req);

private:
    core::RedisClient& redis_;
    const core::Clock& clock_;
    std::mutex mu_;
    std::unordered_map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>> cache_;
};

/// `limit` (default 100, at most `max_limit`) and `offset` query parameters of a list endpoint.
struct Page {
    size_t limit = 100;
    size_t offset = 0;
};
Result<Page> QueryPage(const httplib::Request& req, size_t max_limit);

/// Registers handlers under both /api/v1 and /v1 (as StackStorm's services answer both), wrapped with auth
/// and the exception boundary.
class Router {
public:
    Router(httplib::Server& server, Authenticator& auth) : server_(server), auth_(auth) {}
    void Get(const std::string& pattern, Handler h, bool needs_auth = true);
    void Post(const std::string& pattern, Handler h, bool needs_auth = true);
    /// A POST whose handler gets the raw body whatever its Content-Type (the GitHub webhook signs those bytes):
    /// cpp-httplib parses form bodies itself and refuses those over 8 KB (its compile-time
    /// CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH), so this reads the body through a content reader (the
    /// payload limit still applies: 413). Matched before the routes registered with Post.
    void PostRaw(const std::string& pattern, Handler h, bool needs_auth = true);
    void Put(const std::string& pattern, Handler h, bool needs_auth = true);
    void Delete(const std::string& pattern, Handler h, bool needs_auth = true);
    /// The user the request's credentials belong to (the check is cached: no Redis round trip on a hit).
    Result<std::string> User(const httplib::Request& req) { return auth_.Check(req); }

private:
    Handler Wrap(Handler h, bool needs_auth);
    httplib::Server& server_;
    Authenticator& auth_;
};

/// Route groups, one file each under src/routes/.
void RegisterExecutionRoutes(Router& r, ApiDeps& d);
void RegisterContentRoutes(Router& r, ApiDeps& d);
void RegisterWebhookRoutes(Router& r, ApiDeps& d);
void RegisterTriggerRoutes(Router& r, ApiDeps& d);
void RegisterKeyRoutes(Router& r, ApiDeps& d);
void RegisterInquiryRoutes(Router& r, ApiDeps& d);
void RegisterPackContentRoutes(Router& r, ApiDeps& d);
void RegisterConfigRoutes(Router& r, ApiDeps& d);
void RegisterPackManageRoutes(Router& r, ApiDeps& d);
void RegisterDeadLetterRoutes(Router& r, ApiDeps& d);

}  // namespace squall::api
