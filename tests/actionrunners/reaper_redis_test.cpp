// The gc role's reaper against a real redis-server: an inquiry left unanswered past its `ttl` (minutes) times out, as
// StackStorm's garbage collector times it out; one with `ttl: 0`, one still within its ttl and any other pending
// execution stay pending.
#include <gtest/gtest.h>

#include <csignal>
#include <optional>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/actionrunners/container.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/executions/store.hpp"
#include "wait.hpp"

namespace squall::actionrunners {
namespace {

using namespace std::chrono_literals;
using core::Json;

class ReaperRedisTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        client_ = core::RedisClient::Create(io_, server_.Endpoint("reap"));
        store_.emplace(client_, clock_);
    }
    void TearDown() override {
        reaper_.reset();  // stops it
        store_.reset();
        client_.reset();
        runner_.Drain();
    }

    /// An execution of `runner_type` waiting in `pending` with `result`.
    std::string Pending(const std::string& runner_type, const Json& result) {
        executions::NewExecution e;
        e.request.execution_id = core::NewId();
        e.request.action_ref = runner_type == "inquirer" ? "core.ask" : "core.local";
        e.request.runner_type = runner_type;
        e.action = {{"ref", e.request.action_ref}, {"runner_type", runner_type}};
        const std::string id = *store_->CreateBlocking(e);
        EXPECT_TRUE(store_->TransitionBlocking(id, "running", {})->applied);
        EXPECT_TRUE(store_->TransitionBlocking(id, "pending", {{"result", result.dump()}})->applied);
        return id;
    }
    std::string Status(const std::string& id) {
        return client_->CommandBlocking({"HGET", store_->keys().Execution(id), "status"})->str;
    }

    test::RedisServer server_;
    test::IoRunner runner_{1};
    asio::io_context& io_ = runner_.io();
    core::ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000))};
    core::RedisClientPtr client_;
    std::optional<executions::ExecutionStore> store_;
    std::unique_ptr<Reaper> reaper_;
};

TEST_F(ReaperRedisTest, AnInquiryUnansweredPastItsTtlTimesOutAndNothingElseDoes) {
    const Json schema = {{"type", "object"}};
    const std::string probe = Pending("inquirer", {{"schema", schema}, {"ttl", 3}});  // shows a sweep ran
    const std::string short_ttl = Pending("inquirer", {{"schema", schema}, {"ttl", 5}});
    const std::string long_ttl = Pending("inquirer", {{"schema", schema}, {"ttl", 60}});
    const std::string no_ttl = Pending("inquirer", {{"schema", schema}, {"ttl", 0}});
    const std::string other = Pending("local-shell-cmd", {{"ttl", 1}});
    reaper_ = std::make_unique<Reaper>(io_, client_, 50ms, clock_);
    reaper_->Start();

    // 4 minutes: a sweep has timed the 3-minute probe out, and left the 5-minute one within its ttl.
    clock_.Advance(4min);
    ASSERT_TRUE(test::WaitFor([&] { return Status(probe) == "timeout"; }, 10s)) << Status(probe);
    EXPECT_EQ(Status(short_ttl), "pending");

    clock_.Advance(2min);  // 6 minutes: past the 5-minute ttl
    EXPECT_TRUE(test::WaitFor([&] { return Status(short_ttl) == "timeout"; }, 10s)) << Status(short_ttl);
    const auto end =
        client_->CommandBlocking({"HMGET", store_->keys().Execution(short_ttl), "end_timestamp", "result"});
    EXPECT_EQ(end->elements[0].str, core::FormatIsoTimestamp(clock_.Now()));
    EXPECT_EQ(Json::parse(end->elements[1].str).value("ttl", 0), 5) << "the inquiry keeps its result";
    EXPECT_EQ(Status(long_ttl), "pending");
    EXPECT_EQ(Status(no_ttl), "pending");
    EXPECT_EQ(Status(other), "pending");

    // A day: the sweep that times the 60-minute one out looks at the others in the same pass.
    clock_.Advance(24h);
    EXPECT_TRUE(test::WaitFor([&] { return Status(long_ttl) == "timeout"; }, 10s)) << Status(long_ttl);
    EXPECT_EQ(Status(no_ttl), "pending") << "ttl 0: never times out";
    EXPECT_EQ(Status(other), "pending") << "only inquiries time out";
}

}  // namespace
}  // namespace squall::actionrunners
