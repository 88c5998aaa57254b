#include <gtest/gtest.h>

#include <csignal>
#include <optional>
#include <thread>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/core/store/store.hpp"
#include "wait.hpp"

namespace squall::core {
namespace {

class StoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        client_ = RedisClient::Create(io_, server_.Endpoint("store"));
    }
    void TearDown() override {
        client_.reset();
        runner_.Drain();
    }

    test::RedisServer server_;
    test::IoRunner runner_{1};
    asio::io_context& io_ = runner_.io();
    RedisClientPtr client_;
};

TEST_F(StoreTest, TriggerInstancesAreStoredAndStreamedOnce) {
    TriggerStore triggers(client_, SystemClock());
    TriggerInstance ti;
    ti.id = NewId();
    ti.trigger = "core.st2.webhook";
    ti.payload = {{"body", {{"x", 1}}}};
    ti.occurrence_time = FormatIsoTimestamp(std::chrono::system_clock::now());
    ASSERT_TRUE(triggers.EmitBlocking(ti));
    Result<Json> got = triggers.GetBlocking(ti.id);
    ASSERT_TRUE(got);
    EXPECT_EQ((*got)["payload"]["body"]["x"], 1);
    EXPECT_EQ((*got)["status"], "pending");
    size_t total = 0;
    EXPECT_EQ(triggers.ListBlocking(0, 10, &total)->size(), 1u);
    EXPECT_EQ(client_->CommandBlocking({"XLEN", triggers.keys().TriggerStream()})->integer, 1);
    // An id that exists is not emitted again (the notifier derives ids from executions: redelivery is harmless).
    ASSERT_TRUE(triggers.EmitBlocking(ti));
    EXPECT_EQ(client_->CommandBlocking({"XLEN", triggers.keys().TriggerStream()})->integer, 1);
}

}  // namespace
}  // namespace squall::core
