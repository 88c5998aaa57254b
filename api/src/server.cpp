#include "squall/api/server.hpp"

#include <thread>

#include "http.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/core/log.hpp"

namespace squall::api {

struct ApiServer::Impl {
    ApiDeps deps;
    ApiOptions options;
    httplib::Server server;
    Authenticator auth;
    Router router;
    std::thread thread;
    int bound_port = 0;

    Impl(ApiDeps d, ApiOptions o)
        : deps(std::move(d)), options(std::move(o)), auth(*deps.redis, deps.clock), router(server, auth) {}
};

ApiServer::ApiServer(ApiDeps deps, ApiOptions options)
    : impl_(std::make_unique<Impl>(std::move(deps), std::move(options))) {
    auto& s = impl_->server;
    const int threads = impl_->options.threads;
    s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    s.set_keep_alive_timeout(2);
    s.set_tcp_nodelay(true);  // headers and body go out in separate writes: without it Nagle adds ~40 ms
    s.set_read_timeout(10);
    s.set_write_timeout(10);
    s.set_payload_max_length(16 * 1024 * 1024);
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
        [&d](const httplib::Request&, httplib::Response& res) {
            Result<core::RedisReply> ping = d.redis->CommandBlocking({"PING"});
            const bool ok = ping && !ping->IsError();
            SendJson(
                res,
                ok ? 200 : 503,
                {{"status", ok ? "ok" : "degraded"},
                 {"redis",
                  ok     ? "ok"
                  : ping ? ping->str
                         : ping.error().message}}
            );
        },
        false
    );
    r.Get("/", [](const httplib::Request&, httplib::Response& res) {
        SendJson(res, 200, {{"version", "0.1.0"}, {"name", "squall"}, {"docs_url", "/api/v1/openapi.json"}});
    });
    RegisterExecutionRoutes(r, d);
    RegisterContentRoutes(r, d);
    RegisterWebhookRoutes(r, d);
    RegisterTriggerRoutes(r, d);
    RegisterKeyRoutes(r, d);
    RegisterInquiryRoutes(r, d);
    RegisterPackContentRoutes(r, d);
    RegisterConfigRoutes(r, d);
    RegisterPackManageRoutes(r, d);
    RegisterDeadLetterRoutes(r, d);
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
    impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
    return {};
}

void ApiServer::Stop() {
    if (impl_->thread.joinable()) {
        impl_->server.stop();
        impl_->thread.join();
    }
}

int ApiServer::port() const {
    return impl_->bound_port;
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
