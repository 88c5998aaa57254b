#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <memory>
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

    /// Calls `push` (an RPUSH of "by-script") and right after it sends RPUSH "after" on the same connection, without
    /// waiting; returns the list once both are there, in the order Redis ran them.
    std::vector<std::string> ScriptThenCommand(const Script& push, const std::string& list) {
        std::promise<void> both;
        push.Run(*client_, {list}, {"by-script"}, [](Result<RedisReply> r) { EXPECT_TRUE(r && !r->IsError()); });
        client_->Command({"RPUSH", list, "after"}, [&](Result<RedisReply>) { both.set_value(); });
        both.get_future().wait();
        EXPECT_TRUE(test::WaitFor(
            [&] {
                Result<RedisReply> n = client_->CommandBlocking({"LLEN", list});
                return n && n->integer == 2;
            },
            std::chrono::seconds(5)
        )) << list;
        std::vector<std::string> out;
        Result<RedisReply> got = client_->CommandBlocking({"LRANGE", list, "0", "-1"});
        if (got) {
            for (const auto& e : got->elements) out.push_back(e.str);
        }
        return out;
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

TEST_F(StoreTest, EmitBatchedStoresTheInstanceAlsoAfterRedisForgotTheScript) {
    TriggerStore triggers(client_, SystemClock());
    auto emit = [&](const TriggerInstance& ti) {
        auto done = std::make_shared<std::promise<Result<std::string>>>();
        auto f = done->get_future();
        triggers.EmitBatched(ti, [done](Result<std::string> id) { done->set_value(std::move(id)); });
        EXPECT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
        return f.get();
    };
    for (int round = 0; round < 2; ++round) {
        // The second round after SCRIPT FLUSH: EVALSHA is answered NOSCRIPT and the script is sent again.
        if (round == 1) ASSERT_TRUE(client_->CommandBlocking({"SCRIPT", "FLUSH"}));
        TriggerInstance ti;
        ti.id = NewId();
        ti.trigger = "core.st2.webhook";
        ti.payload = {{"body", {{"round", round}}}};
        ti.occurrence_time = FormatIsoTimestamp(std::chrono::system_clock::now());
        Result<std::string> id = emit(ti);
        ASSERT_TRUE(id) << id.error().message;
        Result<Json> got = triggers.GetBlocking(ti.id);
        ASSERT_TRUE(got) << round;
        EXPECT_EQ((*got)["payload"]["body"]["round"], round);
    }
    EXPECT_EQ(client_->CommandBlocking({"XLEN", triggers.keys().TriggerStream()})->integer, 2);
}

// A script's first call on a Redis that does not know it yet runs before the commands sent after it: it goes as EVAL
// with the source, not as an EVALSHA whose NOSCRIPT retry would follow them. Later calls (EVALSHA) and a call after a
// SCRIPT FLUSH (NOSCRIPT, retried) work too.
TEST_F(StoreTest, AScriptsFirstCallKeepsItsPlaceAmongTheConnectionsCommands) {
    const Script push("return redis.call('RPUSH', KEYS[1], ARGV[1])");
    for (const std::string round : {"first", "loaded", "flushed"}) {
        if (round == "flushed") ASSERT_TRUE(client_->CommandBlocking({"SCRIPT", "FLUSH"}));
        const std::vector<std::string> order = ScriptThenCommand(push, "order:" + round);
        ASSERT_EQ(order.size(), 2u) << round;
        if (round != "flushed") EXPECT_EQ(order[0], "by-script") << round;
    }
}

// A Redis that lost its scripts (a restart, a failover to a replica: here SCRIPT FLUSH and the connections killed)
// gets them again in the handshake of the new connection, before the commands queued for it: a call of a script
// already known to this process keeps its place (answered NOSCRIPT, it was sent again after the next command).
TEST_F(StoreTest, AReconnectedClientsScriptCallsKeepTheirPlace) {
    const Script push("return redis.call('RPUSH', KEYS[1], ARGV[1]) -- reconnect test");
    auto other = RedisClient::Create(io_, server_.Endpoint("store"));
    for (const std::string round : {"loaded", "restarted"}) {
        if (round == "restarted") {
            ASSERT_TRUE(other->CommandBlocking({"SCRIPT", "FLUSH"}));
            ASSERT_TRUE(other->CommandBlocking({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"}));
            // The killed connection fails what it still had; the next command connects again.
            ASSERT_TRUE(test::WaitFor(
                [&] {
                    Result<RedisReply> pong = client_->CommandBlocking({"PING"});
                    return pong && !pong->IsError();
                },
                std::chrono::seconds(5)
            ));
        }
        const std::vector<std::string> order = ScriptThenCommand(push, "reconnect-order:" + round);
        ASSERT_EQ(order.size(), 2u) << round;
        EXPECT_EQ(order[0], "by-script") << round;
    }
    // The writer thread's synchronous connection loads them too.
    ASSERT_TRUE(other->CommandBlocking({"SCRIPT", "FLUSH"}));
    ASSERT_TRUE(other->CommandBlocking({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"}));
    bool pinged = false;
    for (int attempt = 0; attempt < 3 && !pinged; ++attempt) {  // the first write may meet the killed connection
        Result<RedisReply> batched = client_->BatchedBlocking({"PING"});
        pinged = batched && !batched->IsError();
    }
    ASSERT_TRUE(pinged);
    Result<RedisReply> sha = other->CommandBlocking(
        {"EVAL", "return redis.sha1hex(ARGV[1])", "0", "return redis.call('RPUSH', KEYS[1], ARGV[1]) -- reconnect test"}
    );
    ASSERT_TRUE(sha);
    Result<RedisReply> exists = other->CommandBlocking({"SCRIPT", "EXISTS", sha->str});
    ASSERT_TRUE(exists);
    ASSERT_EQ(exists->elements.size(), 1u);
    EXPECT_EQ(exists->elements[0].integer, 1);
}

TEST_F(StoreTest, TheStreamEntryIsTheInstancesJson) {
    TriggerStore triggers(client_, SystemClock());
    std::vector<TriggerInstance> cases(3);
    cases[0].payload = {{"headers", {{"X-Github-Event", "push"}}}, {"body", {{"ref", "refs/heads/main"}, {"n", 1.5}}}};
    cases[1].payload = Json::object();
    cases[1].trace_tag = "tag \"quoted\" \u00e9";
    cases[1].trigger_parameters = {{"url", "a/b"}};
    cases[2].payload = {{"list", {1, "two", nullptr, true}}, {"nested", {{"a", {{"b", "\n\t"}}}}}};
    cases[2].trigger_parameters = {{"unit", "seconds"}, {"delta", 5}};
    for (auto& ti : cases) {
        ti.id = NewId();
        ti.trigger = "core.st2.webhook";
        ti.occurrence_time = FormatIsoTimestamp(std::chrono::system_clock::now());
        ASSERT_TRUE(triggers.EmitBlocking(ti));
    }
    auto entries = client_->CommandBlocking({"XRANGE", triggers.keys().TriggerStream(), "-", "+"});
    ASSERT_TRUE(entries);
    ASSERT_EQ(entries->elements.size(), cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
        const auto& fields = entries->elements[i].elements[1].elements;
        ASSERT_EQ(fields.size(), 2u);
        EXPECT_EQ(fields[1].str, cases[i].ToJson().dump()) << i;  // byte for byte: the rules engine parses it
        Result<Json> stored = triggers.GetBlocking(cases[i].id);
        ASSERT_TRUE(stored);
        EXPECT_EQ((*stored)["payload"], cases[i].payload) << i;
    }
}

}  // namespace
}  // namespace squall::core
