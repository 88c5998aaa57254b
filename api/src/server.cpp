#include "squall/api/server.hpp"

#include <algorithm>
#include <set>
#include <string_view>
#include <thread>

#include "chatops/notifier.hpp"
#include "event_stream.hpp"
#include "http.hpp"
#include "http_server.hpp"
#include "metrics.hpp"
#include "queue_depth.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/core/input.hpp"
#include "squall/core/log.hpp"
#include "squall/sensors/sensor.hpp"
#include "web_ui.hpp"

namespace squall::api {

struct ApiServer::Impl {
    ApiDeps deps;
    ApiOptions options;
    HttpServer server;
    UserDirectory users;
    Authenticator auth;
    Router router;
    std::unique_ptr<EventHub> hub;                   ///< null without ApiDeps::stream_reader
    std::unique_ptr<chatops::ChatNotifier> chatops;  ///< posts chat answers; stopped before the hub
    QueueDepth depth;                                ///< back-pressure: work waiting in Redis, refreshed every 100 ms
    std::unique_ptr<WebhookLane> lane;               ///< webhooks on an event loop (null: options.webhook_lane off)
    std::thread thread;
    int bound_port = 0;
    /// First path segments of the API's routes ("api", "v1", "auth", "stream"): the web UI serves every other
    /// GET (web_ui.hpp). Filled once the routes are registered, before the server starts.
    std::set<std::string, std::less<>> api_roots;

    Impl(ApiDeps d, ApiOptions o)
        : deps(std::move(d)),
          options(std::move(o)),
          server(Limits(options)),
          users(deps.data_dir),
          auth(*deps.redis, deps.clock, users, &deps.executions, deps.action_token_key),
          router(server, auth),
          depth(deps.redis, options.max_queue_depth, std::chrono::milliseconds(100)) {}

    static HttpLimits Limits(const ApiOptions& o) {
        HttpLimits limits;
        limits.min_threads = static_cast<size_t>(std::max(1, o.threads));
        limits.max_connections = o.max_connections;
        limits.max_connections_per_client = o.max_connections_per_client;
        return limits;
    }
};

ApiServer::ApiServer(ApiDeps deps, ApiOptions options)
    : impl_(std::make_unique<Impl>(std::move(deps), std::move(options))) {
    auto& s = impl_->server;
    // Workers, connection limits, keep-alive and read/write deadlines are HttpServer's (http_server.hpp).
    s.set_tcp_nodelay(true);  // headers and body go out in separate writes: without it Nagle adds ~40 ms
    // GitHub deliveries may be 25 MB (its maximum): larger bodies are 413 here. Other routes keep the 16 MB JSON
    // limit, which ParseBody checks (400 naming it): refusing them before the body is read would leave its bytes
    // on a keep-alive connection.
    s.set_payload_max_length(sensors::GitHubWebhook::kMaxBodyBytes);
    // Routes are matched with std::regex, which recurses per character of the path: a path longer than any
    // real one (names are at most 255 characters) is refused before routing.
    // The web UI is answered here too, before the API's regex routes: its paths are the ones outside the API's.
    s.set_pre_routing_handler([impl = impl_.get()](const httplib::Request& req, httplib::Response& res) {
        // One Content-Length of digits, or none: httplib read `abc` as 0 and ran the handler on an empty body, took
        // the first of two, and read `-1` as 2^64 - 1 (waiting for the body until its timeout). Refused before the
        // body is read; the connection then closes (HttpServer keeps only requests read exactly to their end).
        // Header names are tokens and values hold no CR or NUL (RFC 9112): `Content-Length : 40`, a folded line or
        // a bare CR were taken as some other header, so that this server and a proxy in front of it could frame
        // the request differently (request smuggling). Refused, and the connection is closed.
        for (const auto& [name, value] : req.headers) {
            const auto token = [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
            };
            const bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), token);
            if (name_ok && value.find('\r') == std::string::npos && value.find('\0') == std::string::npos) continue;
            SendJson(
                res,
                400,
                {{"faultstring",
                  name_ok ? "header " + name + ": the value holds a CR or NUL byte"
                          : "header \"" + core::Utf8OrLatin1(name.substr(0, 40)) + "\": not a valid header name"},
                 {"code", "INVALID_ARGUMENT"}}
            );
            res.set_header("Connection", "close");
            return httplib::Server::HandlerResponse::Handled;
        }
        if (const size_t n = req.get_header_value_count("Content-Length"); n > 0) {
            const std::string v = req.get_header_value("Content-Length");
            if (n > 1 || v.empty() || v.size() > 18 ||
                !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
                SendJson(
                    res,
                    400,
                    {{"faultstring",
                      n > 1 ? "header Content-Length: given " + std::to_string(n) + " times"
                            : "header Content-Length: \"" + v.substr(0, 40) + "\" is not a length in bytes"},
                     {"code", "INVALID_ARGUMENT"}}
                );
                res.set_header("Connection", "close");
                return httplib::Server::HandlerResponse::Handled;
            }
        }
        constexpr size_t kMaxPath = 2048;
        if (req.path.size() <= kMaxPath) {
            return web::Serve(req, res, impl->api_roots) ? httplib::Server::HandlerResponse::Handled
                                                         : httplib::Server::HandlerResponse::Unhandled;
        }
        SendJson(
            res,
            414,
            {{"faultstring",
              "the path is " + std::to_string(req.path.size()) + " bytes long; at most " + std::to_string(kMaxPath) +
                  " are accepted"},
             {"code", "INVALID_ARGUMENT"}}
        );
        return httplib::Server::HandlerResponse::Handled;
    });
    s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty()) {
            SendJson(
                res,
                res.status,
                {{"faultstring", res.status == 404 ? "Not Found" : "HTTP error " + std::to_string(res.status)}}
            );
        }
    });
    ApiDeps& d = impl_->deps;
    Router& r = impl_->router;
    r.Get(
        "/health",
        [&d, &depth = impl_->depth](const httplib::Request&, httplib::Response& res) {
            Result<core::RedisReply> ping = d.redis->CommandBlocking({"PING"});
            const bool ok = ping && !ping->IsError();
            SendJson(
                res,
                ok ? 200 : 503,
                {{"status", ok ? "ok" : "degraded"},
                 {"redis",
                  ok     ? "ok"
                  : ping ? ping->str
                         : ping.error().message},
                 {"queue",
                  {{"depth", depth.total()},
                   {"triggers", depth.triggers()},
                   {"executions", depth.executions()},
                   {"max_depth", depth.max_depth()},
                   {"accepting", !depth.Over()}}}}
            );
        },
        false
    );
    r.Get("/", [](const httplib::Request&, httplib::Response& res) {
        SendJson(res, 200, {{"version", "0.1.0"}, {"name", "squall"}, {"docs_url", "/api/v1/openapi.json"}});
    });
    RegisterAuthRoutes(r, d, impl_->options);
    RegisterCompatRoutes(r, d);
    RegisterExecutionRoutes(r, d);
    RegisterContentRoutes(r, d);
    RegisterWebhookRoutes(r, d, impl_->depth);
    RegisterTriggerRoutes(r, d);
    RegisterKeyRoutes(r, d);
    RegisterInquiryRoutes(r, d);
    RegisterPackContentRoutes(r, d);
    RegisterConfigRoutes(r, d);
    RegisterPackManageRoutes(r, d);
    RegisterDeadLetterRoutes(r, d);
    RegisterServiceRegistryRoutes(r, d);
    RegisterChatOpsAliasRoutes(r, d);
    RegisterWorkflowRoutes(r, d);
    RegisterMetricsRoutes(r, d, impl_->depth);
    RegisterOpenApiRoutes(r, d);
    if (d.stream_reader) {
        impl_->hub = std::make_unique<EventHub>(d.stream_reader, d.executions);
        RegisterStreamRoutes(r, *impl_->hub, impl_->options.stream_heartbeat);
    }
    impl_->chatops = std::make_unique<chatops::ChatNotifier>(impl_->hub.get(), d);
    RegisterChatOpsSlackRoutes(r, d, *impl_->chatops);
    RegisterChatOpsGenericRoutes(r, d, *impl_->chatops);
    RegisterChatOpsMattermostRoutes(r, d, *impl_->chatops);
    if (impl_->options.webhook_lane) {
        HttpServer& server = impl_->server;
        impl_->lane = std::make_unique<WebhookLane>(
            server.limits(),
            WebhookLaneHandler(r, d, impl_->depth),
            RouteLabel("/api/v1/webhooks/(.+)"),
            [&server](
                int fd, std::string client, std::string buffered, size_t served, WebhookLane::SteadyTime deadline
            ) { server.ServeHandedBack(fd, std::move(client), std::move(buffered), served, deadline); },
            [&server](const std::string& client) { server.Release(client); }
        );
        server.SetLane(impl_->lane.get());
    }
    for (const auto& route : r.routes()) impl_->api_roots.insert(web::FirstSegment(route.pattern));
    impl_->api_roots.insert("metrics");  // SPEC §10: Prometheus text at /metrics, never the UI
    impl_->api_roots.erase("");
}

ApiServer::~ApiServer() {
    Stop();
}

Status ApiServer::Start() {
    auto& s = impl_->server;
    // httplib's default sets SO_REUSEPORT too, which lets a second server bind the same port and take half
    // the requests: SO_REUSEADDR alone (quick restarts) keeps "address in use" an error.
    s.set_socket_options([](socket_t sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    if (impl_->options.port == 0) {
        impl_->bound_port = s.bind_to_any_port(impl_->options.host);
        if (impl_->bound_port <= 0) return Unavailable("cannot bind the API to " + impl_->options.host);
    } else {
        if (!s.bind_to_port(impl_->options.host, impl_->options.port)) {
            return Unavailable(
                "cannot listen on " + impl_->options.host + ":" + std::to_string(impl_->options.port) +
                " (address in use or not available)"
            );
        }
        impl_->bound_port = impl_->options.port;
    }
    impl_->server.SetListenBacklog(static_cast<int>(impl_->options.max_connections));
    impl_->depth.Start();
    if (impl_->hub) impl_->hub->Start();
    impl_->chatops->Start();
    if (impl_->lane) impl_->lane->Start();
    impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
    return {};
}

void ApiServer::Stop() {
    // The chat notifier first (it subscribes to the hub), then event streams: their workers return, so that the
    // server's own stop joins them at once.
    impl_->chatops->Stop();
    if (impl_->hub) impl_->hub->Stop();
    if (impl_->thread.joinable()) {
        impl_->server.stop();
        impl_->thread.join();
    }
    // No connection is adopted any more: the lane's are closed, then those it gave back end (the server stopped).
    if (impl_->lane) impl_->lane->Stop();
    impl_->server.StopHandBacks();
    impl_->depth.Stop();
}

int ApiServer::port() const {
    return impl_->bound_port;
}

std::vector<ApiRoute> ApiServer::RoutesForTest() const {
    return impl_->router.routes();
}

Status RegisterApiKeyBlocking(
    core::RedisClient& redis, const std::string& key, const std::string& user, const core::Clock& clock
) {
    core::Json meta = {
        {"user", user},
        {"id", core::NewId()},
        {"created_at", core::FormatIsoTimestamp(clock.Now())},
        {"enabled", true}};
    Result<core::RedisReply> r =
        redis.CommandBlocking({"HSETNX", redis.Key("apikeys"), core::Sha256Hex(key), meta.dump()});
    if (!r) return r.error();
    if (r->IsError()) return Internal("redis: " + r->str);
    return {};
}

}  // namespace squall::api
