// Bounded resources: back-pressure on webhooks past max_queue_depth (429 with Retry-After, never a timeout; the depth
// in /metrics and /health), and a 100 MB stdout stored truncated without the runner's memory following it.
#include <gtest/gtest.h>
#include <signal.h>

#include <csignal>
#include <cstdlib>
#include <sstream>

#include "files.hpp"
#include "redis_server.hpp"
#include "scale_out_support.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using namespace std::chrono_literals;

class LimitsTest : public ::testing::Test {
protected:
    void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }
    SquallProcess::Options Opts(std::vector<std::string> args) {
        SquallProcess::Options o;
        o.data_dir = (dir_.path() / "d").string();
        o.redis_url = "unix://" + redis_.socket_path();
        o.extra_args = std::move(args);
        return o;
    }
    RedisServer redis_;
    TempDir dir_;
};

TEST_F(LimitsTest, WebhooksGet429WithRetryAfterPastTheQueueDepthAndAreAcceptedOnceItDrains) {
    // No runner: every accepted event leaves an execution waiting in Redis (a shell action: a core.noop is settled
    // where it is created and leaves nothing waiting).
    SquallProcess api(Opts({"--roles", "api,rules", "--max-queue-depth", "20"}));
    Answer rule = Call(
        api,
        "POST",
        "/api/v1/rules",
        {{"name", "bp"},
         {"pack", "t"},
         {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "bp"}}}}},
         {"action", {{"ref", "core.local"}, {"parameters", {{"cmd", "true"}}}}}}
    );
    ASSERT_EQ(rule.status, 201) << rule.text;
    Json health = GetJson(api, "/health");
    EXPECT_EQ(health["queue"]["max_depth"], 20) << health.dump();
    EXPECT_EQ(health["queue"]["accepting"], true) << health.dump();

    int accepted = 0;
    Answer refused;
    for (int i = 0; i < 2000 && refused.status != 429; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        Answer a = Call(api, "POST", "/api/v1/webhooks/bp", {{"i", i}});
        const auto took = std::chrono::steady_clock::now() - t0;
        EXPECT_LT(took, 2s) << "an answer took " << std::chrono::duration<double>(took).count() << " s";
        if (a.status == 202) {
            accepted += 1;
        } else {
            ASSERT_EQ(a.status, 429) << a.text;
            refused = a;
        }
        if (accepted > 20 && refused.status != 429) std::this_thread::sleep_for(5ms);  // let the gauge catch up
    }
    ASSERT_EQ(refused.status, 429) << "never refused after " << accepted << " accepted";
    EXPECT_GE(accepted, 20);
    EXPECT_EQ(
        refused.headers.find("Retry-After") != refused.headers.end() ? refused.headers.find("Retry-After")->second : "",
        "1"
    );
    EXPECT_NE(refused.body.value("faultstring", "").find("max_queue_depth 20"), std::string::npos) << refused.text;
    health = GetJson(api, "/health");
    EXPECT_GT(health["queue"]["depth"].get<int64_t>(), 20) << health.dump();
    EXPECT_EQ(health["queue"]["accepting"], false) << health.dump();
    httplib::Client c(api.host(), api.port());
    auto metrics = c.Get("/metrics", {{"St2-Api-Key", api.api_key()}});
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("squall_queue_depth{queue=\"executions\"} "), std::string::npos);
    EXPECT_NE(metrics->body.find("squall_queue_depth_max 20"), std::string::npos);

    // A runner drains the queue; webhooks are accepted again, and every accepted event ran.
    SquallProcess runner(Opts({"--roles", "runner"}));
    Answer again;
    ASSERT_TRUE(WaitFor(
        [&] {
            again = Call(api, "POST", "/api/v1/webhooks/bp", {{"i", -1}});
            if (again.status != 202) std::this_thread::sleep_for(50ms);
            return again.status == 202;
        },
        60s
    )) << again.status
       << " " << again.text;
    Json list;
    ASSERT_TRUE(WaitFor(
        [&] {
            list = GetJson(api, "/executions?action=core.local&status=succeeded&limit=1");
            Answer all = Call(api, "GET", "/api/v1/executions?action=core.local&status=succeeded&limit=1");
            auto total = all.headers.find("X-Total-Count");
            return total != all.headers.end() && std::stoi(total->second) == accepted + 1;
        },
        60s
    ));
}

/// Peak resident memory (VmHWM) of a process, in kB; 0 when unknown.
int64_t PeakRssKb(pid_t pid) {
    std::istringstream in(ReadFile("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
    }
    return 0;
}

TEST_F(LimitsTest, AHundredMegabyteStdoutIsStoredTruncatedAndTheRunnersMemoryStaysBounded) {
    SquallProcess api(Opts({"--roles", "api"}));
    // Under AddressSanitizer (the test build) freed memory is held in a quarantine of up to 256 MB, which would
    // count as resident: the measured runner gets a small one (the variable means nothing to other builds).
    const char* asan = std::getenv("ASAN_OPTIONS");  // NOLINT(concurrency-mt-unsafe): before any thread of ours
    const std::string saved = asan ? asan : "";
    setenv("ASAN_OPTIONS", (saved + (saved.empty() ? "" : ":") + "quarantine_size_mb=4").c_str(), 1);  // NOLINT
    SquallProcess runner(Opts({"--roles", "runner"}));
    if (asan) {
        setenv("ASAN_OPTIONS", saved.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
    } else {
        unsetenv("ASAN_OPTIONS");  // NOLINT(concurrency-mt-unsafe)
    }
    // Warm the runner up (its first run loads what every run needs), then measure its peak from there.
    std::string why;
    const std::string warm = Start(api, "core.local", {{"cmd", "echo warm"}}, &why);
    ASSERT_FALSE(warm.empty()) << why;
    ASSERT_TRUE(WaitFor([&] { return GetJson(api, "/executions/" + warm).value("status", "") == "succeeded"; }, 30s));
    const int64_t before = PeakRssKb(runner.pid());
    ASSERT_GT(before, 0);

    // One 100 MB line, and 100 MB of empty lines (a hundred million of them; the kept 4 MB alone are four million).
    const std::vector<std::string> commands = {
        "head -c 100000000 /dev/zero | tr '\\0' x", "head -c 100000000 /dev/zero | tr '\\0' '\\n'"};
    for (const auto& cmd : commands) {
        const std::string id = Start(api, "core.local", {{"cmd", cmd}, {"timeout", 300}}, &why);
        ASSERT_FALSE(id.empty()) << why;
        Json e;
        ASSERT_TRUE(WaitFor(
            [&] {
                e = GetJson(api, "/executions/" + id + "?exclude_attributes=result.stdout");
                return e.value("status", "") == "succeeded" || e.value("status", "") == "failed";
            },
            240s
        )) << e.dump(2).substr(0, 2000);
        EXPECT_EQ(e.value("status", ""), "succeeded") << cmd;
        EXPECT_EQ(e["result"].value("result_truncated", false), true) << cmd;
        Json full = GetJson(api, "/executions/" + id);
        const std::string out = full["result"].value("stdout", "");
        EXPECT_LE(out.size(), 4u * 1024 * 1024 + 100) << cmd;
        EXPECT_GE(out.size(), 4u * 1024 * 1024 - 200) << cmd;
        EXPECT_NE(out.find("output truncated"), std::string::npos) << cmd;
        // The streamed lines stop at their budget, with a marker.
        Answer output = Call(api, "GET", "/api/v1/executions/" + id + "/output");
        ASSERT_EQ(output.status, 200);
        EXPECT_LE(std::count(output.text.begin(), output.text.end(), '\n'), 100001) << cmd;
        if (cmd.find("'\\n'") != std::string::npos)
            EXPECT_NE(output.text.find("output lines not streamed past"), std::string::npos) << cmd;
    }
    const int64_t after = PeakRssKb(runner.pid());
    // Each run kept at most 4 MB of stdout; what the runner holds besides (copies of those 4 MB: the capture, the
    // masked text, the result's JSON, the Redis command; the streamed lines on their way) stays below the 100 MB it
    // was given (measured: 66 MB more at the peak under AddressSanitizer, whose redzones add to each copy). Without
    // the cuts, the output alone would be 100 MB, and its lines several times that.
    EXPECT_LT(after - before, 96 * 1024) << "peak RSS grew from " << before << " kB to " << after << " kB";
    std::cout << "runner peak RSS: " << before << " kB before, " << after << " kB after\n";
}

}  // namespace
}  // namespace squall::test
