#include <gtest/gtest.h>

#include <csignal>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/core/redis/counters.hpp"
#include "wait.hpp"

namespace squall::core {
namespace {

using namespace std::chrono_literals;
using test::WaitFor;

class DeferredCountersTest : public ::testing::Test {
protected:
    void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }
    void TearDown() override { runner_.Drain(10s); }

    RedisClientPtr MakeClient(std::chrono::milliseconds interval) {
        RedisClientOptions o;
        o.counters_interval = interval;
        o.command_timeout = 1s;
        o.connect_timeout = 1s;
        return RedisClient::Create(io_, server_.Endpoint("counters"), o);
    }

    /// HGET as a number (0 when absent).
    static int64_t Field(RedisClient& c, const std::string& hash, const std::string& field) {
        Result<RedisReply> r = c.CommandBlocking({"HGET", hash, field});
        if (!r || r->type != RedisReply::Type::kString) return 0;
        return std::stoll(r->str);
    }

    test::RedisServer server_;
    test::IoRunner runner_;
    asio::io_context& io_ = runner_.io();
};

// Adds from many threads are summed in memory and reach Redis within the interval, without anyone flushing; a field
// whose deltas cancel out is not sent at all.
TEST_F(DeferredCountersTest, AddsFromManyThreadsReachTheHashWithinTheInterval) {
    auto client = MakeClient(100ms);
    const std::string hash = client->Key("metrics:test");
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i) client->counters().Add(hash, "hits");
            client->counters().Add(hash, "bytes", 10);
        });
    }
    for (auto& t : threads) t.join();
    client->counters().Add(hash, "zero", 5);
    client->counters().Add(hash, "zero", -5);
    client->counters().Add({{{hash, "other"}, 2}, {{hash, "none"}, 0}});
    EXPECT_TRUE(WaitFor([&] { return Field(*client, hash, "hits") == 4000; }, 5s)) << Field(*client, hash, "hits");
    EXPECT_EQ(Field(*client, hash, "bytes"), 40);
    EXPECT_EQ(Field(*client, hash, "other"), 2);
    EXPECT_TRUE(WaitFor([&] { return client->counters().pending() == 0; }, 5s));
    Result<RedisReply> exists = client->CommandBlocking({"HEXISTS", hash, "zero"});
    ASSERT_TRUE(exists);
    EXPECT_EQ(exists->integer, 0) << "a delta of 0 is not sent";
    EXPECT_EQ(client->CommandBlocking({"HEXISTS", hash, "none"})->integer, 0);
}

// FlushBlocking sends at once (what a clean shutdown does), long before the interval.
TEST_F(DeferredCountersTest, FlushBlockingSendsAtOnce) {
    auto client = MakeClient(1h);
    const std::string hash = client->Key("metrics:test");
    client->counters().Add(hash, "a", 3);
    EXPECT_EQ(client->counters().pending(), 1u);
    ASSERT_TRUE(client->counters().FlushBlocking());
    EXPECT_EQ(Field(*client, hash, "a"), 3);
    EXPECT_EQ(client->counters().pending(), 0u);
    EXPECT_TRUE(client->counters().FlushBlocking()) << "nothing pending: nothing to send";
}

// A flush that fails (Redis is down) keeps its deltas: they are sent with what came after once Redis is back,
// without being counted twice.
TEST_F(DeferredCountersTest, AFailedFlushKeepsItsDeltasForTheNext) {
    auto client = MakeClient(50ms);
    const std::string hash = client->Key("metrics:test");
    ASSERT_TRUE(client->CommandBlocking({"PING"}));
    server_.Kill();
    client->counters().Add(hash, "n", 7);
    EXPECT_FALSE(client->counters().FlushBlocking());
    EXPECT_EQ(client->counters().pending(), 1u) << "kept after the failed flush";
    client->counters().Add(hash, "n", 5);  // the background flushes fail too while Redis is down
    server_.Restart();
    EXPECT_TRUE(WaitFor([&] { return Field(*client, hash, "n") == 12; }, 10s)) << Field(*client, hash, "n");
    EXPECT_TRUE(WaitFor([&] { return client->counters().pending() == 0; }, 5s));
    EXPECT_EQ(Field(*client, hash, "n"), 12);
}

// A field answered with an error (the key is not a hash) is kept, the others of the same flush are not resent.
TEST_F(DeferredCountersTest, AnErrorReplyKeepsOnlyTheFieldsItRefused) {
    auto client = MakeClient(1h);
    const std::string good = client->Key("metrics:good");
    const std::string bad = client->Key("metrics:bad");
    ASSERT_TRUE(client->CommandBlocking({"SET", bad, "not a hash"}));
    client->counters().Add(good, "x", 2);
    client->counters().Add(bad, "y", 4);
    EXPECT_FALSE(client->counters().FlushBlocking());
    EXPECT_EQ(Field(*client, good, "x"), 2);
    EXPECT_EQ(client->counters().pending(), 1u);
    ASSERT_TRUE(client->CommandBlocking({"DEL", bad}));
    ASSERT_TRUE(client->counters().FlushBlocking());
    EXPECT_EQ(Field(*client, good, "x"), 2) << "not sent twice";
    EXPECT_EQ(Field(*client, bad, "y"), 4);
}

}  // namespace
}  // namespace squall::core
