// Every route the API registers, walked without credentials (issue 15 item 3): each answers 401 with a
// faultstring, except the public routes listed here by name. The routes come from the router itself
// (ApiServer::RoutesForTest), so a route added later is walked too, and a new public route fails this test until
// it is listed. Path parameters get a dummy value that the route's own regex accepts.
#include <gtest/gtest.h>
#include <httplib.h>

#include <regex>
#include <set>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/api/server.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/core/store/kv_store.hpp"
#include "squall/executions/service.hpp"
#include "squall/packs/content_store.hpp"
#include "squall/rules/enforcements.hpp"
#include "squall/rules/operators.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::api {
namespace {

/// Routes that need no API credentials, and why. Everything else must answer 401 without them.
const std::set<std::pair<std::string, std::string>>& PublicRoutes() {
    static const std::set<std::pair<std::string, std::string>> kPublic = {
        // Health checks (SPEC §10: "auth on every endpoint except health").
        {"GET", "/api/v1/health/?"},
        {"GET", "/v1/health/?"},
        // Token creation authenticates with HTTP Basic itself.
        {"POST", "/auth/v1/tokens/?"},
        {"POST", "/auth/tokens/?"},
        // Webhooks that authenticate by signature (GitHub X-Hub-Signature-256, Slack X-Slack-Signature) or by
        // their adapter's own shared key (Mattermost token, generic X-Chatops-Key).
        {"POST", "/api/v1/webhooks/github"},
        {"POST", "/v1/webhooks/github"},
        {"POST", "/api/v1/chatops/slack"},
        {"POST", "/v1/chatops/slack"},
        {"POST", "/api/v1/chatops/mattermost"},
        {"POST", "/v1/chatops/mattermost"},
        {"POST", "/api/v1/chatops/generic/?"},
        {"POST", "/v1/chatops/generic/?"},
    };
    return kPublic;
}

/// A path for `pattern` (a route regex): each group replaced by a value its own regex accepts, the optional
/// trailing slash dropped. Empty when no candidate fits (the test then fails naming the pattern).
std::string DummyPath(const std::string& pattern) {
    static const std::vector<std::string> kCandidates = {
        "0123456789abcdef01234567", "dummy", "dummy.name", "core.local", "x"};
    std::string p = pattern;
    if (p.size() >= 2 && p.compare(p.size() - 2, 2, "/?") == 0) p.resize(p.size() - 2);
    std::string out;
    for (size_t i = 0; i < p.size();) {
        if (p[i] != '(') {
            if (p[i] == '\\' && i + 1 < p.size()) ++i;  // an escaped literal
            out += p[i++];
            continue;
        }
        int depth = 0;
        size_t j = i;
        for (; j < p.size(); ++j) {
            if (p[j] == '\\') {
                ++j;
                continue;
            }
            if (p[j] == '(') ++depth;
            if (p[j] == ')' && --depth == 0) break;
        }
        const std::regex group(p.substr(i, j - i + 1));
        std::string value;
        for (const auto& c : kCandidates) {
            if (std::regex_match(c, group)) {
                value = c;
                break;
            }
        }
        if (value.empty()) return "";
        out += value;
        i = j + 1;
    }
    return std::regex_match(out, std::regex(pattern)) ? out : "";
}

class AuthRoutesTest : public ::testing::Test {
protected:
    void SetUp() override {
        redis_ = core::RedisClient::Create(io_.io(), server_.Endpoint("routes"));
        stream_reader_ = core::RedisClient::Create(io_.io(), redis_->endpoint());
        executions_ = std::make_unique<executions::ExecutionStore>(redis_, clock_);
        triggers_ = std::make_unique<core::TriggerStore>(redis_, clock_);
        enforcements_ = std::make_unique<rules::EnforcementStore>(redis_, clock_);
        content_ = std::make_unique<packs::ContentStore>(redis_);
        cache_ = std::make_unique<packs::ContentCache>(*content_, clock_, std::chrono::milliseconds(0));
        kv_ = std::make_unique<core::KvStore>(redis_, nullptr, clock_, triggers_.get());
        kv_cache_ = std::make_unique<core::KvCache>(*kv_);
        service_ = std::make_unique<executions::ExecutionService>(*executions_, cache_.get(), kv_cache_.get());
        rules::RegisterBuiltinOperators(operators_);
        sensor_ctx_ =
            std::make_unique<sensors::SensorContext>(sensors::SensorContext{*triggers_, *cache_, redis_, "t"});
        webhooks_ = std::make_unique<sensors::WebhookSensor>(*sensor_ctx_);
        ApiOptions options;
        options.port = 0;
        options.threads = 2;
        api_ = std::make_unique<ApiServer>(
            ApiDeps{
                redis_,
                *executions_,
                *service_,
                *triggers_,
                *enforcements_,
                *content_,
                *cache_,
                *webhooks_,
                operators_,
                clock_,
                kv_.get(),
                kv_cache_.get(),
                data_.path().string(),
                stream_reader_,
                std::string(64, 'k')},
            options
        );
        ASSERT_TRUE(api_->Start());
    }
    void TearDown() override {
        api_->Stop();
        api_.reset();
        stream_reader_->Close();
        redis_->Close();
    }

    test::RedisServer server_;
    test::IoRunner io_;
    test::TempDir data_;
    core::RealClock clock_;
    core::RedisClientPtr redis_;
    core::RedisClientPtr stream_reader_;
    std::unique_ptr<executions::ExecutionStore> executions_;
    std::unique_ptr<core::TriggerStore> triggers_;
    std::unique_ptr<rules::EnforcementStore> enforcements_;
    std::unique_ptr<packs::ContentStore> content_;
    std::unique_ptr<packs::ContentCache> cache_;
    std::unique_ptr<core::KvStore> kv_;
    std::unique_ptr<core::KvCache> kv_cache_;
    std::unique_ptr<executions::ExecutionService> service_;
    rules::OperatorRegistry operators_;
    std::unique_ptr<sensors::SensorContext> sensor_ctx_;
    std::unique_ptr<sensors::WebhookSensor> webhooks_;
    std::unique_ptr<ApiServer> api_;
};

TEST_F(AuthRoutesTest, EveryRouteButThePublicOnesAnswers401WithoutCredentials) {
    const std::vector<ApiRoute> routes = api_->RoutesForTest();
    ASSERT_GT(routes.size(), 100u) << "the router reports its routes";
    httplib::Client http("127.0.0.1", api_->port());
    http.set_read_timeout(10, 0);
    std::set<std::pair<std::string, std::string>> seen_public;
    size_t walked = 0;
    for (const auto& route : routes) {
        if (!route.needs_auth) {
            seen_public.insert({route.method, route.pattern});
            continue;
        }
        const std::string path = DummyPath(route.pattern);
        ASSERT_FALSE(path.empty()) << "no dummy path for " << route.method << " " << route.pattern;
        httplib::Result r = route.method == "GET"    ? http.Get(path.c_str())
                            : route.method == "POST" ? http.Post(path.c_str(), "{}", "application/json")
                            : route.method == "PUT"  ? http.Put(path.c_str(), "{}", "application/json")
                                                     : http.Delete(path.c_str());
        ASSERT_TRUE(r) << route.method << " " << path;
        EXPECT_EQ(r->status, 401) << route.method << " " << path << " (" << route.pattern << "): " << r->body;
        EXPECT_NE(r->body.find("\"faultstring\""), std::string::npos) << route.method << " " << path;
        ++walked;
    }
    EXPECT_GT(walked, 100u);
    // Exactly the listed routes are public: a new one must be added (with its reason) above.
    EXPECT_EQ(seen_public, PublicRoutes());
}

TEST_F(AuthRoutesTest, ABadCredentialIsRefusedLikeNone) {
    httplib::Client http("127.0.0.1", api_->port());
    for (const httplib::Headers& h : std::vector<httplib::Headers>{
             {{"St2-Api-Key", "wrong"}},
             {{"X-Auth-Token", "wrong"}},
             {{"X-Auth-Token", "sqx1.0123456789abcdef01234567.99999999999." + std::string(64, '0')}}}) {
        auto r = http.Get("/api/v1/actions", h);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 401) << r->body;
    }
}

TEST_F(AuthRoutesTest, MetricsArePrometheusTextForACaller) {
    const std::string key = "metrics-test-key";
    ASSERT_TRUE(redis_->CommandBlocking(
        {"HSET", redis_->Key("apikeys"), core::Sha256Hex(key), R"({"user": "admin", "enabled": true})"}
    ));
    httplib::Client http("127.0.0.1", api_->port());
    auto actions = http.Get("/api/v1/actions", {{"St2-Api-Key", key}});
    ASSERT_TRUE(actions);
    ASSERT_EQ(actions->status, 200) << actions->body;
    // Prometheus sends the key as a scrape parameter (scrape_config `params`).
    auto m = http.Get(("/metrics?st2-api-key=" + key).c_str());
    ASSERT_TRUE(m);
    ASSERT_EQ(m->status, 200) << m->body;
    EXPECT_NE(m->get_header_value("Content-Type").find("text/plain; version=0.0.4"), std::string::npos);
    const std::string& body = m->body;
    for (const std::string want : {
             // this process's HTTP traffic, by route label (never the raw path) and code
             "squall_http_requests_total{method=\"GET\",route=\"/api/v1/actions\",code=\"200\"} ",
             "squall_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/actions\",le=\"+Inf\"} ",
             // the installation's state, from Redis
             "# TYPE squall_executions gauge\nsquall_executions{status=\"requested\"} 0\n",
             "squall_executions{status=\"succeeded\"} 0\n",
             "squall_trigger_instances 0\n",
             "squall_stream_length{stream=\"{x}stream:executions:default\"} 0\n",
             "# TYPE squall_stream_lag gauge\n",
             "squall_runners_alive 0\n",
             "squall_process_resident_memory_bytes ",
         }) {
        EXPECT_NE(body.find(want), std::string::npos) << "missing: " << want << "\n" << body;
    }
    // The executions index counts what is stored.
    ASSERT_TRUE(redis_->CommandBlocking({"ZADD", executions_->keys().ByStatus("succeeded"), "1", "e1"}));
    auto again = http.Get("/api/v1/metrics", {{"St2-Api-Key", key}});
    ASSERT_TRUE(again);
    EXPECT_NE(again->body.find("squall_executions{status=\"succeeded\"} 1\n"), std::string::npos) << again->body;
    EXPECT_NE(again->body.find("route=\"/metrics\",code=\"200\"} 1\n"), std::string::npos) << again->body;

    // The work counters, counted in memory where the work is done and flushed to Redis once a second: a stored
    // trigger instance, a refused one, an enforcement (as the rules engine counts them) and an execution through its
    // stages.
    core::TriggerInstance ti;
    ti.id = core::NewId();
    ti.trigger = "core.st2.webhook";
    ti.payload = {{"body", core::Json::object()}};
    ti.occurrence_time = core::FormatIsoTimestamp(clock_.Now());
    ASSERT_TRUE(triggers_->EmitBlocking(ti));
    ASSERT_TRUE(triggers_->EmitBlocking(ti));  // the same id again is not stored again, nor counted
    triggers_->Count("rejected", "core.st2.webhook");
    triggers_->Count("dispatched", "core.st2.webhook", 1);
    redis_->counters().Add(enforcements_->keys().MatchCounts(), "t.\"quoted\"", 2);
    executions::NewExecution e;
    e.request.execution_id = core::NewId();
    e.request.action_ref = "core.local";
    e.request.runner_type = "local-shell-cmd";
    e.trigger_us = core::ToMicros(clock_.Now());
    ASSERT_TRUE(executions_->CreateBlocking(e));
    ASSERT_TRUE(executions_->TransitionBlocking(e.request.execution_id, "running", {})->applied);
    ASSERT_TRUE(executions_->TransitionBlocking(e.request.execution_id, "failed", {})->applied);
    const std::vector<std::string> wants = {
        "# TYPE squall_triggers_received_total "
        "counter\nsquall_triggers_received_total{trigger=\"core.st2.webhook\"} 1\n",
        "squall_triggers_dispatched_total{trigger=\"core.st2.webhook\"} 1\n",
        "squall_triggers_rejected_total{trigger=\"core.st2.webhook\"} 1\n",
        "squall_rule_matches_total{rule=\"t.\\\"quoted\\\"\"} 2\n",
        "squall_executions_created_total{runner=\"local-shell-cmd\"} 1\n",
        "squall_executions_ended_total{runner=\"local-shell-cmd\",status=\"failed\"} 1\n",
        "# TYPE squall_execution_latency_seconds histogram\n",
        "squall_execution_latency_seconds_bucket{stage=\"scheduled_running\",le=\"+Inf\"} 1\n",
        "squall_execution_latency_seconds_count{stage=\"trigger_done\"} 1\n",
        "squall_execution_latency_seconds_count{stage=\"running_done\"} 1\n",
        "squall_execution_latency_seconds_bucket{stage=\"trigger_scheduled\",le=\"300\"} 1\n",
    };
    // Within the flush interval (1 s) of the client that counted them.
    std::string work_body;
    const bool all_there = test::WaitFor(
        [&] {
            auto work = http.Get("/metrics", {{"St2-Api-Key", key}});
            if (!work || work->status != 200) return false;
            work_body = work->body;
            for (const auto& want : wants) {
                if (work_body.find(want) == std::string::npos) return false;
            }
            return true;
        },
        std::chrono::seconds(10)
    );
    EXPECT_TRUE(all_there) << work_body;
    for (const auto& want : wants) EXPECT_NE(work_body.find(want), std::string::npos) << "missing: " << want;
}

}  // namespace
}  // namespace squall::api
