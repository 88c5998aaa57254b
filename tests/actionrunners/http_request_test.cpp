#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "runner_harness.hpp"

namespace squall::actionrunners {
namespace {

using test::RunnerHarness;

/// A real HTTP server on 127.0.0.1 for the runner to call.
class EchoServer {
public:
    EchoServer() {
        server_.Get("/json", [](const httplib::Request& req, httplib::Response& res) {
            Json params = Json::object();
            for (const auto& [k, v] : req.params) params[k] = v;
            Json out = {
                {"method", req.method},
                {"params", params},
                {"x_test", req.get_header_value("X-Test")},
                {"cookie", req.get_header_value("Cookie")},
                {"authorization", req.get_header_value("Authorization")}};
            res.set_header("X-Reply", "yes");
            res.set_content(out.dump(), "application/json");
        });
        server_.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
            res.status = 201;
            res.set_content(
                req.body + "|" + req.get_header_value("Content-Type") + "|" + req.get_header_value("User-Agent") + "|" +
                    req.get_header_value("X-Stanley-Action"),
                "text/plain"
            );
        });
        server_.Get("/missing", [](const httplib::Request&, httplib::Response& res) {
            res.status = 404;
            res.set_content(R"({"faultstring":"no such thing"})", "application/json");
        });
        server_.Get("/redirect", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/json"); });
        server_.Get("/slow", [this](const httplib::Request&, httplib::Response& res) {
            std::unique_lock lock(mu_);
            ++slow_waiting_;
            cv_.wait_for(lock, std::chrono::seconds(30), [this] { return released_; });
            res.set_content("late", "text/plain");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        // stop() is a no-op before listening starts: wait for it, so that the destructor cannot hang.
        squall::test::WaitFor([this] { return server_.is_running(); }, std::chrono::seconds(10));
    }
    ~EchoServer() {
        Release();
        server_.stop();
        thread_.join();
    }
    std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
    void Release() {
        {
            std::lock_guard lock(mu_);
            released_ = true;
        }
        cv_.notify_all();
    }
    int SlowWaiting() {
        std::lock_guard lock(mu_);
        return slow_waiting_;
    }

private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool released_ = false;
    int slow_waiting_ = 0;
};

RunRequest Http(Json params) {
    RunRequest r;
    r.execution_id = "exec-http";
    r.action_ref = "core.http";
    r.action = {{"name", "http"}, {"pack", "core"}, {"runner_type", "http-request"}, {"parameters", Json::object()}};
    r.parameters = std::move(params);
    return r;
}

TEST(HttpRequestTest, GetWithQueryHeadersCookiesAndBasicAuthParsesJson) {
    EchoServer server;
    RunnerHarness h;
    RunRequest req = Http({
        {"url", server.Url("/json")},
        {"params", {{"q", "a b"}, {"n", 2}}},
        {"headers", {{"X-Test", "yes"}}},
        {"cookies", {{"session", "abc"}}},
        {"username", "user"},
        {"password", "pass"},
    });
    req.secret_values = {"pass"};
    test::RunReport r = h.Run("http-request", req);
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    EXPECT_EQ(r.result.result["status_code"], 200);
    EXPECT_EQ(r.result.result["parsed"], true);
    const Json& body = r.result.result["body"];
    EXPECT_EQ(body["method"], "GET");
    EXPECT_EQ(body["params"], Json({{"q", "a b"}, {"n", "2"}}));
    EXPECT_EQ(body["x_test"], "yes");
    EXPECT_EQ(body["cookie"], "session=abc");
    EXPECT_EQ(body["authorization"], "Basic dXNlcjpwYXNz");  // user:pass
    EXPECT_EQ(r.result.result["headers"]["X-Reply"], "yes");
}

TEST(HttpRequestTest, PostBodyAndTextResponse) {
    EchoServer server;
    RunnerHarness h;
    test::RunReport r = h.Run(
        "http-request",
        Http(
            {{"url", server.Url("/echo")},
             {"method", "post"},
             {"body", "hello"},
             {"headers", {{"Content-Type", "text/x-test"}}}}
        )
    );
    ASSERT_EQ(r.result.status, core::status::kSucceeded) << r.result.result.dump(2);
    EXPECT_EQ(r.result.result["status_code"], 201);
    EXPECT_EQ(r.result.result["parsed"], false);
    EXPECT_EQ(r.result.result["body"], "hello|text/x-test|st2/v3.9.0 (Squall)|http");

    // A JSON value goes as JSON, text as text/plain; the action's own User-Agent wins.
    r = h.Run("http-request", Http({{"url", server.Url("/echo")}, {"method", "POST"}, {"body", {{"a", 1}}}}));
    EXPECT_EQ(r.result.result["body"], R"({"a":1}|application/json|st2/v3.9.0 (Squall)|http)");
    r = h.Run(
        "http-request",
        Http(
            {{"url", server.Url("/echo")},
             {"method", "POST"},
             {"body", "{\"a\": 1}"},
             {"headers", {{"User-Agent", "mine"}}}}
        )
    );
    EXPECT_EQ(r.result.result["body"], R"({"a": 1}|text/plain|mine|http)");
}

TEST(HttpRequestTest, NonSuccessStatusFails) {
    EchoServer server;
    RunnerHarness h;
    test::RunReport r = h.Run("http-request", Http({{"url", server.Url("/missing")}}));
    EXPECT_EQ(r.result.status, core::status::kFailed);
    EXPECT_EQ(r.result.result["status_code"], 404);
    EXPECT_EQ(r.result.result["body"], Json({{"faultstring", "no such thing"}}));
    EXPECT_NE(r.result.result["error"].get<std::string>().find("answered 404"), std::string::npos);
}

TEST(HttpRequestTest, RedirectsFollowedOnlyWhenAllowed) {
    EchoServer server;
    RunnerHarness h;
    test::RunReport r = h.Run("http-request", Http({{"url", server.Url("/redirect")}}));
    EXPECT_EQ(r.result.status, core::status::kFailed);
    EXPECT_EQ(r.result.result["status_code"], 302);
    r = h.Run("http-request", Http({{"url", server.Url("/redirect")}, {"allow_redirects", true}}));
    EXPECT_EQ(r.result.status, core::status::kSucceeded);
    EXPECT_EQ(r.result.result["body"]["method"], "GET");
}

TEST(HttpRequestTest, TimeoutAndCancelDoNotWaitForTheServer) {
    EchoServer server;
    RunnerHarness h;
    test::RunReport r = h.Run("http-request", Http({{"url", server.Url("/slow")}, {"timeout", 0.5}}));
    EXPECT_EQ(r.result.status, core::status::kTimeout);
    EXPECT_NE(r.result.result["error"].get<std::string>().find("0.5 seconds"), std::string::npos);

    RunRequest req = Http({{"url", server.Url("/slow")}, {"timeout", 60}});
    req.execution_id = "exec-cancel";
    auto pending = h.Start("http-request", req);
    ASSERT_TRUE(squall::test::WaitFor([&] { return server.SlowWaiting() == 2; }, std::chrono::seconds(30)));
    h.Get("http-request").Cancel(req.execution_id);
    auto canceled = RunnerHarness::Wait(pending);
    ASSERT_TRUE(canceled);
    EXPECT_EQ(canceled->result.status, core::status::kCanceled);
    server.Release();
}

TEST(HttpRequestTest, TransportErrorsAndBadUrlsFailClearly) {
    RunnerHarness h;
    // A port nothing listens on: bind one (without listening), read its number, close it.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    const int port = ntohs(addr.sin_port);
    test::RunReport r =
        h.Run("http-request", Http({{"url", "http://127.0.0.1:" + std::to_string(port) + "/x"}, {"timeout", 20}}));
    EXPECT_EQ(r.result.status, core::status::kFailed);
    EXPECT_NE(r.result.result["error"].get<std::string>().find("failed"), std::string::npos) << r.result.result.dump();

    r = h.Run("http-request", Http({{"url", "ftp://example.com/"}}));
    EXPECT_EQ(r.result.status, core::status::kFailed);
    EXPECT_NE(r.result.result["error"].get<std::string>().find("ftp"), std::string::npos);

    r = h.Run("http-request", Http({{"url", "http://10.0.0.1/"}, {"url_hosts_blacklist", {"10.0.0.1"}}}));
    EXPECT_EQ(r.result.status, core::status::kFailed);
    EXPECT_NE(r.result.result["error"].get<std::string>().find("url_hosts_blacklist"), std::string::npos);
}

}  // namespace
}  // namespace squall::actionrunners
