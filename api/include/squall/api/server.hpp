#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "squall/core/clock.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/core/store/kv_store.hpp"
#include "squall/core/store/store.hpp"
#include "squall/executions/service.hpp"
#include "squall/packs/content_cache.hpp"
#include "squall/rules/enforcements.hpp"
#include "squall/rules/operators.hpp"
#include "squall/sensors/sensor.hpp"

namespace squall::api {

/// What the HTTP API works with. Everything is owned by the composition root and outlives the server.
struct ApiDeps {
    core::RedisClientPtr redis;
    executions::ExecutionStore& executions;
    /// The one way executions are created, canceled, re-run, paused and resumed.
    executions::ExecutionService& execution_service;
    core::TriggerStore& triggers;
    rules::EnforcementStore& enforcements;
    packs::ContentStore& content;
    packs::ContentCache& content_cache;
    sensors::WebhookSensor& webhooks;
    const rules::OperatorRegistry& operators;
    const core::Clock& clock;
    /// The datastore and its snapshot for templates (null: no /keys routes, no st2kv in API-rendered defaults).
    core::KvStore* kv = nullptr;
    core::KvCache* kv_cache = nullptr;
    /// DATA (configs/<pack>.yaml are written by PUT /configs/{pack}); empty: configs cannot be written.
    std::string data_dir;
    /// A connection of its own for the event stream's reader (XREAD BLOCK holds it); null: no /stream.
    core::RedisClientPtr stream_reader = nullptr;
    /// The key action tokens are signed with (core::LoadOrCreateActionTokenKeyBlocking); empty: none accepted.
    std::string action_token_key;
};

struct ApiOptions {
    std::string host = "127.0.0.1";
    int port = 9101;                ///< 0: pick a free port (see ApiServer::port())
    int threads = 8;                ///< HTTP workers kept when idle; more start on demand up to max_connections
    size_t max_connections = 1000;  ///< open connections in total; past it: 503 and close
    size_t max_connections_per_client = 256;    ///< open connections from one address; past it: 503 and close
    bool webhook_lane = true;                   ///< webhooks served on an event loop (webhook_lane.hpp)
    std::chrono::seconds stream_heartbeat{25};  ///< heartbeat comment on an idle event stream
    int64_t token_ttl = 86400;                  ///< seconds a token lives when the request names no ttl
    int64_t token_max_ttl = 86400;              ///< the largest ttl a token request may ask for
    /// Back-pressure: past this much work waiting in Redis (trigger and execution request streams), webhooks are
    /// answered 429 with Retry-After instead of accepted; 0: no bound (docs/delivery.md "Back-pressure").
    int64_t max_queue_depth = 100000;
};

/// A registered route: method, the full regex it is matched with, and whether it needs credentials.
struct ApiRoute {
    std::string method;
    std::string pattern;
    bool needs_auth = true;
};

/// The REST API v1 (SPEC §10) on cpp-httplib. Handlers run on httplib's own worker threads and may block on
/// Redis (bounded by the client's command timeout); they never touch an io_context's objects directly.
class ApiServer {
public:
    ApiServer(ApiDeps deps, ApiOptions options);
    ~ApiServer();
    /// Binds (synchronously, so that bind errors surface here) and serves on a background thread.
    Status Start();
    void Stop();
    int port() const;
    /// Every route the server answers (the test that walks them all without credentials).
    std::vector<ApiRoute> RoutesForTest() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// The SHA-256 form in which API keys are stored; `admin` keys are created by the server on first start.
Status RegisterApiKeyBlocking(
    core::RedisClient& redis, const std::string& key, const std::string& user, const core::Clock& clock
);

}  // namespace squall::api
