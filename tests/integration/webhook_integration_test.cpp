// Generic webhooks end to end (issue 13 items 2 and 6): form bodies, the trace tag, credentials kept out of the
// payload, Idempotency-Key, and payloads refused by their trigger type's schema, with the real binary.
#include <gtest/gtest.h>
#include <httplib.h>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/core/store/store.hpp"
#include "squall/executions/store.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;

class WebhookTest : public ::testing::Test {
protected:
    void SetUp() override {
        SquallProcess::Options o;
        o.data_dir = (dir_.path() / "d").string();
        o.extra_args = {"--roles", "api"};
        server_ = std::make_unique<SquallProcess>(o);
        http_ = std::make_unique<httplib::Client>(server_->host(), server_->port());
        http_->set_read_timeout(30, 0);
        const Json rule = {
            {"name", "on_form"},
            {"pack", "t"},
            {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "forms"}}}}},
            {"action", {{"ref", "core.noop"}}}};
        auto r = Post("/rules", rule.dump());
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 201) << r->body;
    }
    httplib::Result Post(
        const std::string& path,
        const std::string& body,
        httplib::Headers extra = {},
        const char* type = "application/json"
    ) {
        extra.emplace("St2-Api-Key", server_->api_key());
        return http_->Post(("/api/v1" + path).c_str(), extra, body, type);
    }
    Json Instance(const std::string& id) {
        auto r = http_->Get(("/api/v1/triggerinstances/" + id).c_str(), {{"St2-Api-Key", server_->api_key()}});
        EXPECT_TRUE(r && r->status == 200);
        return r ? Json::parse(r->body, nullptr, false) : Json();
    }
    size_t Count() {
        auto r = http_->Get("/api/v1/triggerinstances?limit=1", {{"St2-Api-Key", server_->api_key()}});
        return r && r->status == 200 ? std::stoul(r->get_header_value("X-Total-Count")) : SIZE_MAX;
    }

    TempDir dir_;
    std::unique_ptr<SquallProcess> server_;
    std::unique_ptr<httplib::Client> http_;
};

TEST_F(WebhookTest, FormBodiesTraceTagsAndNoCredentialsInThePayload) {
    auto r = Post(
        "/webhooks/forms",
        "name=deploy+now&tag=a&tag=b&empty=",
        {{"St2-Trace-Tag", "release-42"},
         {"Authorization", "Bearer abc"},
         {"Cookie", "session=xyz"},
         {"X-Auth-Token", "tok"},
         {"X-Custom", "kept"}},
        "application/x-www-form-urlencoded"
    );
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    const Json ti = Instance(Json::parse(r->body)["id"]);
    EXPECT_EQ(ti["payload"]["body"], (Json{{"name", {"deploy now"}}, {"tag", {"a", "b"}}, {"empty", {""}}}));
    EXPECT_EQ(ti["trace_tag"], "release-42");
    const Json headers = ti["payload"]["headers"];
    EXPECT_EQ(headers["X-Custom"], "kept");
    for (const char* h : {"St2-Api-Key", "Authorization", "Cookie", "X-Auth-Token"}) {
        EXPECT_FALSE(headers.contains(h)) << h << " reached the payload: " << headers.dump();
    }
    EXPECT_EQ(ti.dump().find(server_->api_key()), std::string::npos);
    EXPECT_EQ(ti.dump().find("Bearer abc"), std::string::npos);
    // A bad %-escape is refused, naming the body.
    r = Post("/webhooks/forms", "a=%zz", {}, "application/x-www-form-urlencoded");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("request body"), std::string::npos) << r->body;
}

TEST_F(WebhookTest, AnIdempotencyKeyDedupsLikeAGitHubDelivery) {
    auto first = Post("/webhooks/forms", R"({"v": 1})", {{"Idempotency-Key", "order-7"}});
    ASSERT_TRUE(first);
    ASSERT_EQ(first->status, 202) << first->body;
    auto again = Post("/webhooks/forms", R"({"v": 1})", {{"Idempotency-Key", "order-7"}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 200) << again->body;
    EXPECT_EQ(Json::parse(again->body)["duplicate"], true);
    EXPECT_EQ(Json::parse(again->body)["id"], Json::parse(first->body)["id"]);
    EXPECT_EQ(Count(), 1u);
    // The generic hook too; and without the header every post is new.
    const std::string generic = R"({"trigger": "core.st2.webhook", "payload": {"headers": {}, "body": {"x": 1}}})";
    for (int i = 0; i < 2; ++i) {
        auto r = Post("/webhooks/st2", generic, {{"Idempotency-Key", "gen-1"}});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, i == 0 ? 202 : 200) << r->body;
    }
    ASSERT_EQ(Post("/webhooks/forms", R"({"v": 1})")->status, 202);
    ASSERT_EQ(Post("/webhooks/forms", R"({"v": 1})")->status, 202);
    EXPECT_EQ(Count(), 4u);
}

TEST_F(WebhookTest, APayloadItsSchemaRefusesIsA400NamingTheFieldAndIsNeverDispatched) {
    // core.st2.webhook's body is an object or an array.
    auto r = Post("/webhooks/forms", R"("just text")");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("payload.body"), std::string::npos) << r->body;
    // Any trigger through the generic hook: github.push needs body.ref to be a string.
    r = Post(
        "/webhooks/st2",
        R"({"trigger": "github.push", "payload": {"event": "push", "delivery": "x", "headers": {},
            "body": {"ref": 5, "before": "a", "after": "b", "repository": {}}}})"
    );
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("payload.body.ref"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("github.push"), std::string::npos) << r->body;
    EXPECT_EQ(Count(), 0u);
    // A valid one passes.
    r = Post(
        "/webhooks/st2",
        R"({"trigger": "github.push", "payload": {"event": "push", "delivery": "x", "headers": {},
            "body": {"ref": "refs/heads/main", "before": "a", "after": "b", "repository": {}}}})"
    );
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202) << r->body;
}

TEST_F(WebhookTest, ATimerRuleWithABadScheduleIsRefusedNamingTheField) {
    const Json rule = {
        {"name", "bad_cron"},
        {"pack", "t"},
        {"trigger", {{"type", "core.st2.CronTimer"}, {"parameters", {{"minute", "*/0"}}}}},
        {"action", {{"ref", "core.noop"}}}};
    auto r = Post("/rules", rule.dump());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find(R"(trigger.parameters.minute: \"*/0\": the step must be at least 1)"), std::string::npos)
        << r->body;
    Json tz = rule;
    tz["trigger"]["parameters"] = {{"hour", 3}, {"timezone", "Europe/Atlantis"}};
    r = Post("/rules", tz.dump());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("trigger.parameters.timezone"), std::string::npos) << r->body;
}

/// The value of the series `line_prefix` (its name and labels, up to the value) in a Prometheus text, or -1.
double Series(const std::string& text, const std::string& line_prefix) {
    size_t at = text.find("\n" + line_prefix + " ");
    if (at == std::string::npos) return -1;
    at += line_prefix.size() + 2;
    return std::stod(text.substr(at, text.find('\n', at) - at));
}

// The work counters of GET /metrics (issue 15 item 6), counted by the roles that do the work, with every role of
// the real binary: webhook → rule → core.noop, a refused payload, and a trigger nothing matches.
TEST(WorkMetricsTest, TriggersRuleMatchesExecutionsByRunnerAndStageLatencies) {
    TempDir dir;
    SquallProcess::Options o;
    o.data_dir = (dir.path() / "d").string();
    SquallProcess server(o);
    httplib::Client http(server.host(), server.port());
    http.set_read_timeout(30, 0);
    const httplib::Headers auth = {{"St2-Api-Key", server.api_key()}};
    const Json rule = {
        {"name", "counted"},
        {"pack", "t"},
        {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "counted"}}}}},
        {"criteria", {{"trigger.body.go", {{"type", "equals"}, {"pattern", true}}}}},
        {"action", {{"ref", "core.noop"}}}};
    auto r = http.Post("/api/v1/rules", auth, rule.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    // The webhook route finds a rule created a moment ago (the API's rule cache refreshes within a second).
    ASSERT_TRUE(WaitFor(
        [&] {
            auto p = http.Post("/api/v1/webhooks/counted", auth, R"({"go": true})", "application/json");
            return p && p->status == 202;
        },
        std::chrono::seconds(10)
    ));
    for (int i = 0; i < 2; ++i) {
        r = http.Post("/api/v1/webhooks/counted", auth, R"({"go": true})", "application/json");
        ASSERT_TRUE(r && r->status == 202);
    }
    r = http.Post("/api/v1/webhooks/counted", auth, R"({"go": false})", "application/json");  // matches nothing
    ASSERT_TRUE(r && r->status == 202);
    r = http.Post("/api/v1/webhooks/counted", auth, R"("not an object")", "application/json");  // refused
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 400) << r->body;

    const std::string webhook = "{trigger=\"core.st2.webhook\"}";
    std::string text;
    const bool all_counted = WaitFor(
        [&] {
            auto m = http.Get("/metrics", auth);
            if (!m || m->status != 200) return false;
            text = m->body;
            return Series(text, "squall_triggers_dispatched_total" + webhook) == 4 &&
                   Series(text, "squall_executions_ended_total{runner=\"noop\",status=\"succeeded\"}") == 3;
        },
        std::chrono::seconds(30)
    );
    ASSERT_TRUE(all_counted) << text;
    EXPECT_EQ(Series(text, "squall_triggers_received_total" + webhook), 4) << text;
    EXPECT_EQ(Series(text, "squall_triggers_rejected_total" + webhook), 1) << text;
    EXPECT_EQ(Series(text, "squall_rule_matches_total{rule=\"t.counted\"}"), 3) << text;
    EXPECT_EQ(Series(text, "squall_executions_created_total{runner=\"noop\"}"), 3) << text;
    EXPECT_NE(text.find("# TYPE squall_execution_latency_seconds histogram\n"), std::string::npos);
    for (const std::string stage : {"trigger_scheduled", "scheduled_running", "running_done", "trigger_done"}) {
        const std::string labels = "{stage=\"" + stage + "\"";
        EXPECT_EQ(Series(text, "squall_execution_latency_seconds_count" + labels + "}"), 3) << stage << "\n" << text;
        EXPECT_EQ(Series(text, "squall_execution_latency_seconds_bucket" + labels + ",le=\"+Inf\"}"), 3) << stage;
        // Buckets are cumulative: the last finite one holds every sample here (a noop takes well under 300 s).
        EXPECT_EQ(Series(text, "squall_execution_latency_seconds_bucket" + labels + ",le=\"300\"}"), 3) << stage;
        // scheduled → running and running → done of a noop are 0: it is created ended (NewExecution::settled).
        if (stage == "trigger_scheduled" || stage == "trigger_done")
            EXPECT_GT(Series(text, "squall_execution_latency_seconds_sum" + labels + "}"), 0) << stage;
    }
    // trigger→done spans the other stages.
    EXPECT_GE(
        Series(text, "squall_execution_latency_seconds_sum{stage=\"trigger_done\"}"),
        Series(text, "squall_execution_latency_seconds_sum{stage=\"running_done\"}")
    );
}

// Each process counts in memory and flushes once a second; a clean stop sends what it counted since its last flush.
// The server is stopped (SIGTERM) as soon as the last execution has succeeded, and the counters in Redis then equal
// what is stored: nothing of the last second was lost.
TEST(WorkMetricsTest, AServerStoppedCleanlySendsItsLastCounts) {
    TempDir dir;
    RedisServer redis;
    SquallProcess::Options o;
    o.data_dir = (dir.path() / "d").string();
    o.redis_url = "unix://" + redis.socket_path();
    auto server = std::make_unique<SquallProcess>(o);
    httplib::Client http(server->host(), server->port());
    http.set_read_timeout(30, 0);
    const httplib::Headers auth = {{"St2-Api-Key", server->api_key()}};
    const Json rule = {
        {"name", "last"},
        {"pack", "t"},
        {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "last"}}}}},
        {"action", {{"ref", "core.noop"}}}};
    auto r = http.Post("/api/v1/rules", auth, rule.dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    ASSERT_TRUE(WaitFor(
        [&] {
            auto p = http.Post("/api/v1/webhooks/last", auth, R"({"n": 0})", "application/json");
            return p && p->status == 202;
        },
        std::chrono::seconds(10)
    ));
    for (int i = 1; i < 5; ++i) {
        r = http.Post("/api/v1/webhooks/last", auth, R"({"n": 1})", "application/json");
        ASSERT_TRUE(r && r->status == 202);
    }
    ASSERT_TRUE(WaitFor(
        [&] {
            auto l = http.Get("/api/v1/executions?status=succeeded&limit=1", auth);
            return l && l->status == 200 && l->get_header_value("X-Total-Count") == "5";
        },
        std::chrono::seconds(30)
    ));
    ASSERT_EQ(server->Stop(), 0) << server->Output();

    IoRunner io;
    core::RedisEndpoint ep;
    ep.unix_path = redis.socket_path();
    auto client = core::RedisClient::Create(io.io(), ep);
    const std::string prefix = "squall:";
    const auto field = [&](const std::string& hash, const std::string& name) -> int64_t {
        Result<core::RedisReply> v = client->CommandBlocking({"HGET", hash, name});
        return v && v->type == core::RedisReply::Type::kString ? std::stoll(v->str) : -1;
    };
    const executions::Keys ek(prefix);
    EXPECT_EQ(field(ek.Metrics(), "created:noop"), 5);
    EXPECT_EQ(field(ek.Metrics(), "ended:noop:succeeded"), 5);
    EXPECT_GT(field(ek.Metrics(), "lat:trigger_done:sum_us"), 0);
    EXPECT_EQ(field(core::Keys(prefix).TriggerMetrics(), "received:core.st2.webhook"), 5);
    EXPECT_EQ(field(core::Keys(prefix).TriggerMetrics(), "dispatched:core.st2.webhook"), 5);
    EXPECT_EQ(client->CommandBlocking({"ZCARD", ek.ByStatus("succeeded")})->integer, 5) << "the key prefix";
    client.reset();
}

}  // namespace
}  // namespace squall::test
