// What happens when parts die: the embedded Redis, the whole server (kill -9), an external Redis.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "files.hpp"
#include "redis_server.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;

/// Pid of the live embedded redis-server listening on `socket`, or -1.
pid_t RedisChildFor(const std::string& socket) {
    for (pid_t pid : LiveProcessesMatching(socket)) {
        if (ReadFile("/proc/" + std::to_string(pid) + "/cmdline").rfind("redis-server", 0) == 0) return pid;
    }
    return -1;
}

class ResilienceTest : public ::testing::Test {
protected:
    void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }
    Json Post(const SquallProcess& s, const std::string& path, const std::string& body, int* status = nullptr) {
        httplib::Client c(s.host(), s.port());
        c.set_read_timeout(30, 0);
        auto r = c.Post(("/api/v1" + path).c_str(), {{"St2-Api-Key", s.api_key()}}, body, "application/json");
        if (status) *status = r ? r->status : -1;
        return r ? Json::parse(r->body, nullptr, false) : Json();
    }
    Json Get(const SquallProcess& s, const std::string& path) {
        httplib::Client c(s.host(), s.port());
        c.set_read_timeout(30, 0);
        auto r = c.Get(("/api/v1" + path).c_str(), {{"St2-Api-Key", s.api_key()}});
        return r && r->status == 200 ? Json::parse(r->body, nullptr, false) : Json();
    }
    TempDir data_;
};

TEST_F(ResilienceTest, EmbeddedRedisIsRestartedWhenItDies) {
    SquallProcess::Options o;
    o.data_dir = (data_.path() / "d").string();
    SquallProcess server(o);
    const std::string socket = o.data_dir + "/redis/redis.sock";
    const pid_t first = RedisChildFor(socket);
    ASSERT_GT(first, 0);
    int status = 0;
    Json e = Post(server, "/executions", R"({"action": "core.noop"})", &status);
    ASSERT_EQ(status, 201);
    // With appendfsync everysec Redis may answer before it writes the AOF (its write waits while a background fsync
    // is slow, as on a busy CI machine): what a SIGKILL cannot lose is what reached the file.
    const std::string id = e.value("id", "");
    ASSERT_TRUE(WaitFor(
        [&] {
            for (const auto& f : std::filesystem::directory_iterator(o.data_dir + "/redis/appendonlydir")) {
                if (ReadFile(f.path().string()).find(id) != std::string::npos) return true;
            }
            return false;
        },
        20s
    ));
    ASSERT_EQ(kill(first, SIGKILL), 0);
    pid_t second = -1;
    ASSERT_TRUE(WaitFor([&] { return (second = RedisChildFor(socket)) > 0 && second != first; }, 20s))
        << server.Output();
    // AOF (everysec) brought the data back, and the server works again.
    ASSERT_TRUE(WaitFor([&] { return Get(server, "/executions/" + id).is_object(); }, 20s));
    Json again;
    ASSERT_TRUE(WaitFor(
        [&] {
            again = Post(server, "/executions", R"({"action": "core.noop"})", &status);
            return status == 201;
        },
        20s
    ));
    ASSERT_TRUE(WaitFor(
        [&] { return Get(server, "/executions/" + again["id"].get<std::string>()).value("status", "") == "succeeded"; },
        30s
    )) << server.Output();
    EXPECT_NE(server.Output().find("embedded redis died; restarting"), std::string::npos);
    EXPECT_EQ(server.Stop(), 0);
    EXPECT_EQ(RedisChildFor(socket), -1) << "the embedded redis outlived the server";
}

TEST_F(ResilienceTest, KilledServerTakesItsEmbeddedRedisWithIt) {
    // A crashed (here kill -9) server must not leave its redis-server behind: the next server would start a
    // second one on the same socket and AOF files.
    SquallProcess::Options o;
    o.data_dir = (data_.path() / "d").string();
    const std::string socket = o.data_dir + "/redis/redis.sock";
    std::string id;
    {
        SquallProcess server(o);
        ASSERT_GT(RedisChildFor(socket), 0);
        int status = 0;
        Json e = Post(server, "/executions", R"({"action": "core.noop"})", &status);
        ASSERT_EQ(status, 201);
        id = e["id"];
        ASSERT_TRUE(WaitFor([&] { return Get(server, "/executions/" + id).value("status", "") == "succeeded"; }, 20s));
        server.Kill();
    }
    ASSERT_TRUE(WaitFor([&] { return RedisChildFor(socket) == -1; }, 10s)) << "the embedded redis outlived a kill -9";
    SquallProcess server(o);
    EXPECT_GT(RedisChildFor(socket), 0);
    EXPECT_EQ(Get(server, "/executions/" + id).value("status", ""), "succeeded");  // its AOF was saved on SIGTERM
}

TEST_F(ResilienceTest, KilledServerLeavesNothingRunningSilently) {
    RedisServer redis;  // external, so that it survives the kill -9 of the server
    SquallProcess::Options o;
    o.data_dir = (data_.path() / "d").string();
    o.redis_url = "unix://" + redis.socket_path();
    std::string id;
    const std::string pid_file = (data_.path() / "action.pid").string();
    const std::string background_file = (data_.path() / "background.pid").string();
    pid_t action = -1;
    pid_t background = -1;
    {
        SquallProcess server(o);
        EXPECT_FALSE(std::filesystem::exists(o.data_dir + "/redis")) << "--redis must not spawn a redis-server";
        int status = 0;
        const Json body = {
            {"action", "core.local"},
            {"parameters",
             {{"cmd", "sleep 31 & echo $! > " + background_file + "; echo $$ > " + pid_file + "; wait"}}}};
        Json e = Post(server, "/executions", body.dump(), &status);
        ASSERT_EQ(status, 201);
        id = e["id"];
        ASSERT_TRUE(WaitFor([&] { return Get(server, "/executions/" + id).value("status", "") == "running"; }, 20s));
        ASSERT_TRUE(WaitFor([&] { return (action = std::atoi(ReadFile(pid_file).c_str())) > 0; }, 20s));
        ASSERT_TRUE(WaitFor([&] { return (background = std::atoi(ReadFile(background_file).c_str())) > 0; }, 20s));
        server.Kill();
    }
    // The action dies with its runner (SIGKILL as the parent-death signal): left running, it ran on beside the retry
    // of its abandoned execution. Gone, or a zombie that nobody reaps in a container without an init.
    auto alive = [](pid_t pid) {
        const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
        return !stat.empty() && stat.find(") Z ") == std::string::npos;
    };
    EXPECT_TRUE(WaitFor([&] { return !alive(action); }, 10s)) << "the action outlived its runner's kill -9";
    if (alive(action)) ::kill(action, SIGKILL);
    // What it started in the background does not get that signal: it lives until the execution is abandoned.
    EXPECT_TRUE(alive(background));
    SquallProcess server(o);
    Json e;
    // The dead runner's liveness key expires (15 s) and the reaper (every 10 s) marks the execution abandoned.
    ASSERT_TRUE(WaitFor(
        [&] {
            e = Get(server, "/executions/" + id);
            return e.value("status", "") == "abandoned";
        },
        60s
    )) << e.dump(2);
    EXPECT_NE(e["result"].value("error", "").find("stopped responding"), std::string::npos);
    // Then the gc role kills it (found by the execution id in its environment).
    EXPECT_TRUE(WaitFor([&] { return !alive(background); }, 10s)) << "the action's background process lived on";
    if (alive(background)) ::kill(background, SIGKILL);
    // And the new server runs new work.
    int status = 0;
    Json fresh = Post(server, "/executions", R"({"action": "core.local", "parameters": {"cmd": "echo ok"}})", &status);
    ASSERT_EQ(status, 201);
    ASSERT_TRUE(WaitFor(
        [&] { return Get(server, "/executions/" + fresh["id"].get<std::string>()).value("status", "") == "succeeded"; },
        30s
    ));
}

TEST_F(ResilienceTest, TriggerInstancesPendingInADeadRulesEngineAreProcessedOnce) {
    RedisServer redis;
    SquallProcess::Options o;
    o.data_dir = (data_.path() / "d").string();
    o.redis_url = "unix://" + redis.socket_path();
    // Phase 1: only the api role: webhooks are accepted and queued, nothing consumes them.
    o.extra_args = {"--roles", "api"};
    {
        SquallProcess api(o);
        int status = 0;
        Post(
            api,
            "/rules",
            R"({"name": "r", "pack": "t", "trigger": {"type": "core.st2.webhook", "parameters": {"url": "q"}},
                               "action": {"ref": "core.noop"}})",
            &status
        );
        ASSERT_EQ(status, 201);
        for (int i = 0; i < 20; ++i) {
            Post(api, "/webhooks/q", "{\"i\": " + std::to_string(i) + "}", &status);
            ASSERT_EQ(status, 202);
        }
        EXPECT_EQ(api.Stop(), 0);
    }
    // Phase 2: everything: each queued instance runs its action exactly once.
    o.extra_args = {};
    SquallProcess server(o);
    Json list;
    ASSERT_TRUE(WaitFor(
        [&] {
            list = Get(server, "/executions?limit=100");
            return list.is_array() && list.size() == 20 &&
                   std::all_of(list.begin(), list.end(), [](const Json& e) { return e["status"] == "succeeded"; });
        },
        60s
    )) << list.dump();
    std::set<std::string> instances;
    for (const auto& e : list) instances.insert(e["trigger_instance"]["id"].get<std::string>());
    EXPECT_EQ(instances.size(), 20u);
}

}  // namespace
}  // namespace squall::test
