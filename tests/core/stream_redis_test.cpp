#include <gtest/gtest.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/stream.hpp"
#include "wait.hpp"

namespace squall::core {
namespace {

using namespace std::chrono_literals;
using test::WaitFor;

// What a handler saw, shared with the test thread.
struct Received {
    std::mutex mu;
    std::vector<StreamMessage> messages;
    std::vector<size_t> batch_sizes;
    std::vector<StreamConsumer::Done> held;  // dones not called yet

    size_t Count() {
        std::lock_guard lock(mu);
        return messages.size();
    }
    std::multiset<std::string> Bodies() {
        std::lock_guard lock(mu);
        std::multiset<std::string> out;
        for (auto& m : messages) {
            out.insert(m.body);
        }
        return out;
    }
    size_t MaxBatch() {
        std::lock_guard lock(mu);
        return batch_sizes.empty() ? 0 : *std::max_element(batch_sizes.begin(), batch_sizes.end());
    }
    void DropHeld() {
        std::vector<StreamConsumer::Done> held_now;
        {
            std::lock_guard lock(mu);
            held_now.swap(held);
        }
    }
};

class StreamConsumerTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        commands_ = RedisClient::Create(io_, server_.Endpoint("stream"));
        stream_ = commands_->Key("events");
    }

    void TearDown() override {
        commands_.reset();
        runner_.Drain(15s);
    }

    StreamConsumerOptions Options(std::string consumer, size_t batch = 64) {
        StreamConsumerOptions o;
        o.stream = stream_;
        o.group = "workers";
        o.consumer = std::move(consumer);
        o.batch = batch;
        o.block = 100ms;
        return o;
    }

    // A handler that records every batch and acknowledges all of it (ack = true) or holds its done.
    static StreamConsumer::Handler Recorder(Received& rec, bool ack) {
        return [&rec, ack](std::vector<StreamMessage> batch, StreamConsumer::Done done) {
            std::vector<std::string> ids;
            {
                std::lock_guard lock(rec.mu);
                rec.batch_sizes.push_back(batch.size());
                for (auto& m : batch) {
                    ids.push_back(m.id);
                    rec.messages.push_back(std::move(m));
                }
                if (!ack) {
                    rec.held.push_back(std::move(done));
                    return;
                }
            }
            done(std::move(ids));
        };
    }

    void Produce(int from, int to) {
        std::vector<RedisClient::Args> cmds;
        for (int i = from; i < to; ++i) {
            cmds.push_back(XAddCommand(stream_, "msg-" + std::to_string(i)));
        }
        auto r = commands_->PipelineBlocking(std::move(cmds));
        ASSERT_TRUE(r) << r.error().message;
        for (auto& reply : *r) {
            ASSERT_FALSE(reply.IsError()) << reply.str;
        }
    }

    void StopAndWait(const StreamConsumerPtr& consumer, Received* rec = nullptr) {
        std::promise<void> stopped;
        consumer->Stop([&] { stopped.set_value(); });
        if (rec != nullptr) {
            rec->DropHeld();  // the batch is "dropped": its entries stay pending
        }
        ASSERT_EQ(stopped.get_future().wait_for(5s), std::future_status::ready);
    }

    int64_t PendingCount() {
        auto r = commands_->CommandBlocking({"XPENDING", stream_, "workers"});
        EXPECT_TRUE(r && r->IsArray()) << (r ? r->str : r.error().message);
        return r && r->IsArray() && !r->elements.empty() ? r->elements[0].integer : -1;
    }

    int64_t Length() {
        auto r = commands_->CommandBlocking({"XLEN", stream_});
        return r ? r->integer : -1;
    }

    static std::multiset<std::string> Expected(int from, int to) {
        std::multiset<std::string> out;
        for (int i = from; i < to; ++i) {
            out.insert("msg-" + std::to_string(i));
        }
        return out;
    }

    test::RedisServer server_;
    test::IoRunner runner_;
    asio::io_context& io_ = runner_.io();
    RedisClientPtr commands_;
    std::string stream_;
};

TEST(XAddCommandTest, BuildsXAdd) {
    EXPECT_EQ(XAddCommand("s", "{}"), (RedisClient::Args{"XADD", "s", "*", "d", "{}"}));
}

TEST_F(StreamConsumerTest, ConsumesEveryMessageExactlyOnceInBatches) {
    Received rec;
    auto consumer = StreamConsumer::Create(io_, commands_, Options("c1", 64), Recorder(rec, true));
    consumer->Start();
    Produce(0, 500);
    ASSERT_TRUE(WaitFor([&] { return rec.Count() >= 500; }, 10s)) << rec.Count();
    Produce(500, 1000);  // some arrive while the consumer is blocked in XREADGROUP
    ASSERT_TRUE(WaitFor([&] { return rec.Count() >= 1000; }, 10s)) << rec.Count();
    StopAndWait(consumer);

    EXPECT_EQ(rec.Bodies(), Expected(0, 1000));
    EXPECT_LE(rec.MaxBatch(), 64u);
    EXPECT_GT(rec.MaxBatch(), 1u) << "messages are read in batches";
    EXPECT_EQ(PendingCount(), 0);
    EXPECT_EQ(Length(), 0) << "delete_on_ack removes acknowledged entries";
}

TEST_F(StreamConsumerTest, KeepsEntriesWhenDeleteOnAckIsOff) {
    Received rec;
    auto options = Options("c1");
    options.delete_on_ack = false;
    auto consumer = StreamConsumer::Create(io_, commands_, options, Recorder(rec, true));
    consumer->Start();
    Produce(0, 10);
    ASSERT_TRUE(WaitFor([&] { return rec.Count() >= 10; }, 5s));
    StopAndWait(consumer);
    EXPECT_EQ(PendingCount(), 0);
    EXPECT_EQ(Length(), 10);
}

TEST_F(StreamConsumerTest, UnacknowledgedEntriesAreReclaimedByAnotherConsumer) {
    Produce(0, 100);
    Received a;
    auto consumer_a = StreamConsumer::Create(io_, commands_, Options("a", 100), Recorder(a, false));
    consumer_a->Start();
    ASSERT_TRUE(WaitFor([&] { return a.Count() >= 100; }, 5s));
    StopAndWait(consumer_a, &a);  // A dies without acknowledging
    consumer_a.reset();
    EXPECT_EQ(PendingCount(), 100);

    Received b;
    auto options = Options("b", 32);
    options.reclaim_min_idle = 50ms;
    options.reclaim_interval = 100ms;
    auto consumer_b = StreamConsumer::Create(io_, commands_, options, Recorder(b, true));
    consumer_b->Start();
    ASSERT_TRUE(WaitFor([&] { return b.Count() >= 100; }, 10s)) << b.Count();
    ASSERT_TRUE(WaitFor([&] { return PendingCount() == 0; }, 5s));
    StopAndWait(consumer_b);
    EXPECT_EQ(b.Bodies(), Expected(0, 100));
    EXPECT_EQ(Length(), 0);
}

TEST_F(StreamConsumerTest, OwnPendingEntriesAreReadAgainAfterRestart) {
    Produce(0, 20);
    Received first;
    auto consumer = StreamConsumer::Create(io_, commands_, Options("same", 8), Recorder(first, false));
    consumer->Start();
    ASSERT_TRUE(WaitFor([&] { return first.Count() >= 8; }, 5s));
    StopAndWait(consumer, &first);
    consumer.reset();
    ASSERT_EQ(first.Count(), 8u) << "the consumer waits for done before reading more";

    Received second;
    auto options = Options("same", 8);  // default reclaim_min_idle (30 s): only the own pending list helps
    auto restarted = StreamConsumer::Create(io_, commands_, options, Recorder(second, true));
    restarted->Start();
    ASSERT_TRUE(WaitFor([&] { return second.Count() >= 20; }, 10s)) << second.Count();
    StopAndWait(restarted);
    EXPECT_EQ(second.Bodies(), Expected(0, 20));
    {
        std::lock_guard lock(second.mu);
        // The 8 pending entries come first, in their own batch(es).
        for (int i = 0; i < 8; ++i) {
            EXPECT_EQ(second.messages[i].body, first.messages[i].body);
        }
    }
    EXPECT_EQ(PendingCount(), 0);
}

TEST_F(StreamConsumerTest, ZeroCapacityPausesUntilNotified) {
    std::atomic<size_t> capacity{0};
    std::atomic<int> capacity_calls{0};
    Received rec;
    auto consumer = StreamConsumer::Create(io_, commands_, Options("c", 64), Recorder(rec, true), [&] {
        ++capacity_calls;
        return capacity.load();
    });
    consumer->Start();
    Produce(0, 12);
    ASSERT_TRUE(WaitFor([&] { return capacity_calls > 0; }, 5s));
    // Nothing is read while capacity is 0 (a bounded negative check).
    EXPECT_FALSE(WaitFor([&] { return rec.Count() > 0; }, 300ms));

    capacity = 5;
    consumer->NotifyCapacity();
    ASSERT_TRUE(WaitFor([&] { return rec.Count() >= 12; }, 5s)) << rec.Count();
    EXPECT_LE(rec.MaxBatch(), 5u) << "capacity caps the batch size";
    StopAndWait(consumer);
    EXPECT_EQ(rec.Bodies(), Expected(0, 12));
}

TEST_F(StreamConsumerTest, EntriesWithoutBodyAreAcknowledgedNotDelivered) {
    ASSERT_TRUE(commands_->CommandBlocking({"XADD", stream_, "*", "other", "x"}));
    Produce(0, 3);
    Received rec;
    auto consumer = StreamConsumer::Create(io_, commands_, Options("c"), Recorder(rec, true));
    consumer->Start();
    ASSERT_TRUE(WaitFor([&] { return rec.Count() >= 3; }, 5s));
    ASSERT_TRUE(WaitFor([&] { return PendingCount() == 0; }, 5s));
    StopAndWait(consumer);
    EXPECT_EQ(rec.Bodies(), Expected(0, 3));
    EXPECT_EQ(Length(), 0);
}

TEST_F(StreamConsumerTest, DroppedDoneDoesNotStallTheLoop) {
    Received rec;
    std::atomic<int> batches{0};
    auto consumer = StreamConsumer::Create(
        io_,
        commands_,
        Options("c", 5),
        [&](std::vector<StreamMessage> batch, StreamConsumer::Done) {
            batches++;
            std::lock_guard lock(rec.mu);
            for (auto& m : batch) {
                rec.messages.push_back(std::move(m));
            }
        }
    );
    consumer->Start();
    Produce(0, 10);
    ASSERT_TRUE(WaitFor([&] { return rec.Count() >= 10; }, 5s));
    EXPECT_GE(batches.load(), 2);
    StopAndWait(consumer);
    EXPECT_EQ(PendingCount(), 10) << "nothing was acknowledged";
}

TEST_F(StreamConsumerTest, SurvivesRedisRestart) {
    Received rec;
    auto consumer = StreamConsumer::Create(io_, commands_, Options("c"), Recorder(rec, true));
    consumer->Start();
    Produce(0, 5);
    ASSERT_TRUE(WaitFor([&] { return rec.Count() >= 5; }, 5s));

    server_.Kill();
    server_.Restart();  // empty server: stream and group are gone and must be re-created
    ASSERT_TRUE(WaitFor(
        [&] {
            auto r = commands_->CommandBlocking({"XINFO", "GROUPS", stream_});
            return r && r->IsArray() && !r->elements.empty();
        },
        10s
    ));
    Produce(5, 10);
    ASSERT_TRUE(WaitFor([&] { return rec.Count() >= 10; }, 10s)) << rec.Count();
    StopAndWait(consumer);
    EXPECT_EQ(rec.Bodies(), Expected(0, 10));
}

TEST_F(StreamConsumerTest, DestroyingTheConsumerStopsIt) {
    Received rec;
    auto consumer = StreamConsumer::Create(io_, commands_, Options("c"), Recorder(rec, true));
    consumer->Start();
    Produce(0, 3);
    ASSERT_TRUE(WaitFor([&] { return rec.Count() >= 3; }, 5s));
    consumer.reset();  // TearDown checks that the io_context drains
}

}  // namespace
}  // namespace squall::core

namespace squall::core {
namespace {

// A poison entry (its handler never acknowledges it, or throws on it) is delivered at most max_deliveries
// times, then moved to the dead-letter stream with the reason; everything else is processed.
class DeadLetterTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        commands_ = RedisClient::Create(io_, server_.Endpoint("dlq"));
    }
    void TearDown() override {
        commands_.reset();
        runner_.Drain(15s);
    }
    StreamConsumerOptions Options(size_t batch) {
        StreamConsumerOptions o;
        o.stream = commands_->Key("in");
        o.group = "g";
        o.consumer = "c";
        o.batch = batch;
        o.block = 50ms;
        o.reclaim_min_idle = 30ms;
        o.reclaim_interval = 60ms;
        o.max_deliveries = 3;
        o.dead_letters = commands_->Key("dead");
        return o;
    }
    void Produce(const std::vector<std::string>& bodies) {
        for (const auto& b : bodies)
            ASSERT_FALSE(commands_->CommandBlocking(XAddCommand(commands_->Key("in"), b))->IsError());
    }
    std::vector<Json> DeadLetters() {
        std::vector<Json> out;
        auto r = commands_->CommandBlocking({"XRANGE", commands_->Key("dead"), "-", "+"});
        for (const auto& e : r->elements) out.push_back(Json::parse(e.elements[1].elements[1].str));
        return out;
    }

    test::RedisServer server_;
    test::IoRunner runner_;
    asio::io_context& io_ = runner_.io();
    RedisClientPtr commands_;
};

TEST_F(DeadLetterTest, AnEntryThatIsNeverAcknowledgedEndsInDeadLettersAndTheRestGoesOn) {
    std::mutex mu;
    std::map<std::string, int> seen;
    auto handler = [&](std::vector<StreamMessage> batch, StreamConsumer::Done done) {
        std::vector<std::string> ack;
        std::lock_guard lock(mu);
        for (const auto& m : batch) {
            seen[m.body] += 1;
            if (m.body != "poison") ack.push_back(m.id);
        }
        done(std::move(ack));
    };
    auto consumer = StreamConsumer::Create(io_, commands_, Options(16), handler);
    consumer->Start();
    Produce({"a", "poison", "b"});
    ASSERT_TRUE(WaitFor([&] { return DeadLetters().size() == 1; }, 10s));
    Produce({"c"});
    ASSERT_TRUE(WaitFor(
        [&] {
            std::lock_guard l(mu);
            return seen.count("c") == 1;
        },
        5s
    ));
    std::promise<void> stopped;
    consumer->Stop([&] { stopped.set_value(); });
    ASSERT_EQ(stopped.get_future().wait_for(5s), std::future_status::ready);
    std::lock_guard lock(mu);
    EXPECT_EQ(seen["a"], 1);
    EXPECT_EQ(seen["b"], 1);
    EXPECT_EQ(seen["poison"], 3) << "handed to the handler max_deliveries times, never more";
    Json letter = DeadLetters()[0];
    EXPECT_EQ(letter["body"], "poison");
    EXPECT_EQ(letter["group"], "g");
    EXPECT_EQ(letter["deliveries"], 4);
    EXPECT_NE(letter["reason"].get<std::string>().find("without being acknowledged"), std::string::npos);
    auto pending = commands_->CommandBlocking({"XPENDING", commands_->Key("in"), "g"});
    EXPECT_EQ(pending->elements[0].integer, 0);
}

TEST_F(DeadLetterTest, AHandlerThatThrowsIsNamedInTheDeadLetter) {
    std::atomic<int> ok{0};
    auto handler = [&](std::vector<StreamMessage> batch, StreamConsumer::Done done) {
        for (const auto& m : batch) {
            if (m.body == "poison") throw std::runtime_error("boom on poison");
        }
        ok += static_cast<int>(batch.size());
        std::vector<std::string> ids;
        for (const auto& m : batch) ids.push_back(m.id);
        done(std::move(ids));
    };
    auto consumer = StreamConsumer::Create(io_, commands_, Options(1), handler);
    consumer->Start();
    Produce({"a", "poison", "b"});
    ASSERT_TRUE(WaitFor([&] { return DeadLetters().size() == 1 && ok == 2; }, 10s)) << ok;
    std::promise<void> stopped;
    consumer->Stop([&] { stopped.set_value(); });
    ASSERT_EQ(stopped.get_future().wait_for(5s), std::future_status::ready);
    EXPECT_EQ(DeadLetters()[0]["reason"], "the handler threw: boom on poison");
}

// A process that dies of an entry takes its embedded Redis with it. Redis counts a delivery from the pending list
// in memory only (it propagates neither to the AOF nor to replicas), so each restart found a poison entry at the
// same count and the server crash-looped (found by a tester: a webhook rendered into a crash, forever). The count
// is now stored (XCLAIM RETRYCOUNT) before the handler gets the entry: Redis killed right after each delivery, the
// entry still ends in dead letters after max_deliveries.
TEST(DeadLetterAcrossRestartsTest, ACountThatRedisLosesOnRestartIsStoredBeforeEachDelivery) {
    std::signal(SIGPIPE, SIG_IGN);
    test::RedisServer server({.aof_always = true});
    test::IoRunner runner;
    RedisClientPtr commands = RedisClient::Create(runner.io(), server.Endpoint("dlr"));
    ASSERT_FALSE(commands->CommandBlocking(XAddCommand(commands->Key("in"), "poison"))->IsError());
    StreamConsumerOptions o;
    o.stream = commands->Key("in");
    o.group = "g";
    o.consumer = "c";
    o.batch = 16;
    o.block = 50ms;
    o.reclaim_min_idle = 400ms;  // Redis is killed well before the entry could be reclaimed in the same life
    o.reclaim_interval = 100ms;
    o.max_deliveries = 3;
    o.dead_letters = commands->Key("dead");
    auto deliveries = std::make_shared<std::atomic<int>>(0);
    auto consumer = StreamConsumer::Create(
        runner.io(),
        commands,
        o,
        [deliveries](std::vector<StreamMessage> batch, StreamConsumer::Done done) {
            *deliveries += static_cast<int>(batch.size());
            done({});  // never acknowledged: the handler "died" of it
        }
    );
    consumer->Start();
    const auto dead = [&] {
        Result<RedisReply> r = commands->CommandBlocking({"XLEN", commands->Key("dead")});
        return r && r->type == RedisReply::Type::kInteger && r->integer == 1;
    };
    for (int seen = 1; seen <= 8 && !dead(); ++seen) {
        ASSERT_TRUE(WaitFor([&] { return *deliveries >= seen || dead(); }, 20s)) << "delivery " << seen;
        if (dead()) break;
        server.Kill();  // its count in memory is lost with it; what the AOF holds comes back
        server.Restart();
    }
    EXPECT_TRUE(WaitFor(dead, 20s)) << *deliveries << " deliveries, and no dead letter";
    EXPECT_EQ(*deliveries, 3) << "handed to the handler max_deliveries times, across restarts";
    std::promise<void> stopped;
    consumer->Stop([&] { stopped.set_value(); });
    EXPECT_EQ(stopped.get_future().wait_for(10s), std::future_status::ready);
    consumer.reset();
    commands.reset();
    runner.Drain(15s);
}

}  // namespace
}  // namespace squall::core
