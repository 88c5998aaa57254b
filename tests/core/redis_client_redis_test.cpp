#include <gtest/gtest.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <latch>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/core/redis/client.hpp"
#include "wait.hpp"

namespace squall::core {
namespace {

using namespace std::chrono_literals;
using test::WaitFor;

// A real redis-server plus an io_context run by two threads. Clients must be released before TearDown,
// which checks that the io_context drains (no leaked connections or timers).
class RedisClientTest : public ::testing::Test {
protected:
    void SetUp() override {
        // hiredis writes with write(2): a peer that died would otherwise kill the test with SIGPIPE.
        std::signal(SIGPIPE, SIG_IGN);
    }

    void TearDown() override { runner_.Drain(10s); }

    RedisClientPtr MakeClient(RedisClientOptions options = {}, int db = 0) {
        auto ep = server_.Endpoint("client");
        ep.db = db;
        return RedisClient::Create(io_, ep, options);
    }

    test::RedisServer server_;
    test::IoRunner runner_;
    asio::io_context& io_ = runner_.io();
};

TEST_F(RedisClientTest, SetGetRoundTrip) {
    auto client = MakeClient();
    auto set = client->CommandBlocking({"SET", client->Key("k"), "hello"});
    ASSERT_TRUE(set) << set.error().message;
    EXPECT_EQ(set->type, RedisReply::Type::kStatus);
    EXPECT_EQ(set->str, "OK");

    auto get = client->CommandBlocking({"GET", client->Key("k")});
    ASSERT_TRUE(get);
    EXPECT_EQ(get->type, RedisReply::Type::kString);
    EXPECT_EQ(get->str, "hello");

    auto missing = client->CommandBlocking({"GET", client->Key("missing")});
    ASSERT_TRUE(missing);
    EXPECT_TRUE(missing->IsNil());

    auto incr = client->CommandBlocking({"INCRBY", client->Key("n"), "41"});
    ASSERT_TRUE(incr);
    EXPECT_EQ(incr->type, RedisReply::Type::kInteger);
    EXPECT_EQ(incr->integer, 41);

    ASSERT_TRUE(client->CommandBlocking({"RPUSH", client->Key("l"), "a", "b", "c"}));
    auto range = client->CommandBlocking({"LRANGE", client->Key("l"), "0", "-1"});
    ASSERT_TRUE(range);
    ASSERT_TRUE(range->IsArray());
    ASSERT_EQ(range->elements.size(), 3u);
    EXPECT_EQ(range->elements[2].str, "c");
}

TEST_F(RedisClientTest, KeyUsesEndpointPrefix) {
    auto client = MakeClient();
    EXPECT_EQ(client->Key("x"), client->endpoint().key_prefix + "x");
    EXPECT_NE(client->endpoint().key_prefix, MakeClient()->endpoint().key_prefix);
}

TEST_F(RedisClientTest, ArgumentsAndValuesAreBinarySafe) {
    auto client = MakeClient();
    const std::string key = client->Key(std::string("bin\0key with space\r\n", 20));
    std::string value;
    for (int i = 0; i < 256; ++i) {
        value.push_back(static_cast<char>(i));
    }
    value += std::string("\0\0\r\n$3\r\n", 9);
    ASSERT_TRUE(client->CommandBlocking({"SET", key, value}));
    auto get = client->CommandBlocking({"GET", key});
    ASSERT_TRUE(get);
    EXPECT_EQ(get->str, value);

    ASSERT_TRUE(client->CommandBlocking({"SET", client->Key("empty"), ""}));
    auto empty = client->CommandBlocking({"GET", client->Key("empty")});
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->type, RedisReply::Type::kString);
    EXPECT_EQ(empty->str, "");
}

TEST_F(RedisClientTest, ErrorReplyIsAValue) {
    auto client = MakeClient();
    ASSERT_TRUE(client->CommandBlocking({"SET", client->Key("s"), "not a number"}));
    auto r = client->CommandBlocking({"INCR", client->Key("s")});
    ASSERT_TRUE(r) << "an error reply is a value, not an Error";
    EXPECT_TRUE(r->IsError());
    EXPECT_NE(r->str.find("ERR"), std::string::npos) << r->str;

    auto unknown = client->CommandBlocking({"NOSUCHCOMMAND", "x"});
    ASSERT_TRUE(unknown);
    EXPECT_TRUE(unknown->IsError());

    // The connection is still usable afterwards.
    auto ping = client->CommandBlocking({"PING"});
    ASSERT_TRUE(ping);
    EXPECT_EQ(ping->str, "PONG");
}

TEST_F(RedisClientTest, EmptyCommandIsInvalidArgument) {
    auto client = MakeClient();
    auto r = client->CommandBlocking({});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    auto p = client->PipelineBlocking({});
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->empty());
}

TEST_F(RedisClientTest, PipelineOfTenThousandCommands) {
    auto client = MakeClient();
    std::vector<RedisClient::Args> commands;
    commands.reserve(10000);
    for (int i = 0; i < 10000; ++i) {
        commands.push_back({"INCR", client->Key("counter")});
    }
    auto start = std::chrono::steady_clock::now();
    auto r = client->PipelineBlocking(std::move(commands));
    auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->size(), 10000u);
    for (int i = 0; i < 10000; ++i) {
        ASSERT_EQ((*r)[i].integer, i + 1) << "replies in order";
    }
    EXPECT_LT(elapsed, 4s);
}

TEST_F(RedisClientTest, PipelineCallbackGetsAllReplies) {
    auto client = MakeClient();
    std::promise<Result<std::vector<RedisReply>>> done;
    client->Pipeline(
        {{"SET", client->Key("a"), "1"}, {"INCR", client->Key("a")}, {"HGET", client->Key("a"), "f"}},
        [&](Result<std::vector<RedisReply>> r) { done.set_value(std::move(r)); }
    );
    auto f = done.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    auto r = f.get();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ((*r)[0].str, "OK");
    EXPECT_EQ((*r)[1].integer, 2);
    EXPECT_TRUE((*r)[2].IsError()) << "WRONGTYPE is a value inside the pipeline";
}

TEST_F(RedisClientTest, ManyConcurrentCommandsFromFourThreads) {
    auto client = MakeClient();
    constexpr int kThreads = 4;
    constexpr int kPerThread = 2500;
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> producers;
    for (int t = 0; t < kThreads; ++t) {
        producers.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                client->Command({"INCR", client->Key("shared")}, [&](Result<RedisReply> r) {
                    (r && r->type == RedisReply::Type::kInteger ? ok : failed)++;
                });
                client->Command({"RPUSH", client->Key("list" + std::to_string(t)), std::to_string(i)}, [&](auto r) {
                    (r && !r->IsError() ? ok : failed)++;
                });
            }
        });
    }
    for (auto& p : producers) {
        p.join();
    }
    ASSERT_TRUE(WaitFor([&] { return ok + failed == kThreads * kPerThread * 2; }, 20s));
    EXPECT_EQ(failed.load(), 0);
    auto total = client->CommandBlocking({"GET", client->Key("shared")});
    ASSERT_TRUE(total);
    EXPECT_EQ(total->str, std::to_string(kThreads * kPerThread));
    // Commands of one thread keep their order.
    for (int t = 0; t < kThreads; ++t) {
        auto list = client->CommandBlocking({"LRANGE", client->Key("list" + std::to_string(t)), "0", "-1"});
        ASSERT_TRUE(list);
        ASSERT_EQ(list->elements.size(), static_cast<size_t>(kPerThread));
        for (int i = 0; i < kPerThread; ++i) {
            ASSERT_EQ(list->elements[i].str, std::to_string(i));
        }
    }
}

TEST_F(RedisClientTest, CallbacksRunOnTheIoContextNotInline) {
    auto client = MakeClient();
    std::promise<bool> on_io;
    auto caller = std::this_thread::get_id();
    client->Command({"PING"}, [&](Result<RedisReply>) {
        on_io.set_value(std::this_thread::get_id() != caller && io_.get_executor().running_in_this_thread());
    });
    auto f = on_io.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_TRUE(f.get());
}

TEST_F(RedisClientTest, BlockingCallFromIoThreadIsRejected) {
    auto client = MakeClient();
    std::promise<Result<RedisReply>> result;
    asio::post(io_, [&] { result.set_value(client->CommandBlocking({"PING"})); });
    auto f = result.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    auto r = f.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInternal);
}

/// With a 100 ms command timeout, `send` fails a DEBUG SLEEP of 0.5 s with kTimeout within 400 ms; once the server is
/// back it works again, and the late "+OK" of DEBUG SLEEP is never taken for the reply of a later command.
void ExpectTimeoutThenOwnReplies(const std::function<Result<RedisReply>(RedisClient::Args)>& send) {
    const auto start = std::chrono::steady_clock::now();
    auto r = send({"DEBUG", "SLEEP", "0.5"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kTimeout) << r.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 400ms);
    ASSERT_TRUE(WaitFor(
        [&] {
            auto echo = send({"ECHO", "after"});
            return echo && echo->str == "after";
        },
        5s
    ));
    auto echo = send({"ECHO", "x"});
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->str, "x");
}

TEST_F(RedisClientTest, CommandTimesOut) {
    RedisClientOptions options;
    options.command_timeout = 100ms;
    auto client = MakeClient(options);
    ASSERT_TRUE(client->CommandBlocking({"PING"}));
    ExpectTimeoutThenOwnReplies([&](RedisClient::Args a) { return client->CommandBlocking(std::move(a)); });
}

TEST_F(RedisClientTest, PausedServerTimesOutEveryQueuedCommand) {
    RedisClientOptions fast;
    fast.command_timeout = 100ms;
    auto client = MakeClient(fast);
    auto admin = MakeClient();
    // Connected first, with retries: under a load average of ~6 the first PING once took longer than the 100 ms
    // timeout. The pause is long against that timeout for the same reason: the 50 commands must be queued in it.
    ASSERT_TRUE(WaitFor([&] { return client->CommandBlocking({"PING"}).has_value(); }, 5s));
    auto pause = admin->CommandBlocking({"CLIENT", "PAUSE", "1500", "ALL"});
    ASSERT_TRUE(pause);
    ASSERT_FALSE(pause->IsError()) << pause->str;

    std::atomic<int> timeouts{0};
    std::atomic<int> other{0};
    for (int i = 0; i < 50; ++i) {
        client->Command({"GET", client->Key("x")}, [&](Result<RedisReply> r) {
            (!r && (r.error().code == ErrorCode::kTimeout || r.error().code == ErrorCode::kUnavailable) ? timeouts
                                                                                                        : other)++;
        });
    }
    ASSERT_TRUE(WaitFor([&] { return timeouts + other == 50; }, 5s));
    EXPECT_EQ(other.load(), 0);
    EXPECT_TRUE(WaitFor([&] { return client->CommandBlocking({"PING"}).has_value(); }, 5s));
}

TEST_F(RedisClientTest, BatchedBlockingUsesTheWritersOwnConnectionForEveryThread) {
    auto client = MakeClient({}, 3);
    auto id_of = [&](bool batched) {
        Result<RedisReply> r =
            batched ? client->BatchedBlocking({"CLIENT", "ID"}) : client->CommandBlocking({"CLIENT", "ID"});
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        return r ? r->integer : -1;
    };
    const int64_t writer = id_of(true);
    EXPECT_GT(writer, 0);
    EXPECT_EQ(id_of(true), writer);   // kept for the next command
    EXPECT_NE(id_of(false), writer);  // the shared connection is another
    int64_t other_thread = -1;
    std::thread([&] { other_thread = id_of(true); }).join();
    EXPECT_EQ(other_thread, writer);  // one connection for all threads

    // Same database, same data: a write on one connection is read on the other.
    auto set = client->BatchedBlocking({"SET", client->Key("k"), "batched"});
    ASSERT_TRUE(set) << set.error().message;
    EXPECT_EQ(set->str, "OK");
    auto get = client->CommandBlocking({"GET", client->Key("k")});
    ASSERT_TRUE(get);
    EXPECT_EQ(get->str, "batched");
    auto db = client->BatchedBlocking({"CLIENT", "INFO"});
    ASSERT_TRUE(db);
    EXPECT_NE(db->str.find(" db=3 "), std::string::npos) << db->str;
    auto error = client->BatchedBlocking({"INCR", client->Key("k")});
    ASSERT_TRUE(error);
    EXPECT_TRUE(error->IsError());
}

TEST_F(RedisClientTest, BatchedBlockingGivesEachOfManyThreadsItsOwnReply) {
    auto client = MakeClient();
    auto admin = MakeClient();
    constexpr int kThreads = 48;
    constexpr int kEach = 150;
    std::atomic<int> wrong{0};
    std::atomic<int> failed{0};
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int i = 0; i < kEach; ++i) {
                const std::string mine = std::to_string(t) + "/" + std::to_string(i) + std::string(t * 40, 'x');
                auto r = i % 10 == 9 ? client->BatchedBlocking({"INCR", client->Key("counted")})
                                     : client->BatchedBlocking({"ECHO", mine});
                if (!r) {
                    ++failed;
                } else if (i % 10 != 9 && r->str != mine) {
                    ++wrong;
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(wrong.load(), 0);
    auto counted = admin->CommandBlocking({"GET", client->Key("counted")});
    ASSERT_TRUE(counted);
    EXPECT_EQ(counted->str, std::to_string(kThreads * kEach / 10));
    // All of it went on the writer's connection: it and the two shared ones are the clients Redis has.
    ASSERT_TRUE(client->CommandBlocking({"PING"}));
    auto clients = admin->CommandBlocking({"CLIENT", "LIST"});
    ASSERT_TRUE(clients);
    EXPECT_EQ(std::count(clients->str.begin(), clients->str.end(), '\n'), 3) << clients->str;
}

TEST_F(RedisClientTest, BatchedBlockingTimesOutAndTheNextCommandGetsItsOwnReply) {
    RedisClientOptions fast;
    fast.command_timeout = 100ms;
    auto client = MakeClient(fast);
    ASSERT_TRUE(WaitFor([&] { return client->BatchedBlocking({"PING"}).has_value(); }, 5s));
    // The timed-out connection is closed: a new one reads the next reply.
    ExpectTimeoutThenOwnReplies([&](RedisClient::Args a) { return client->BatchedBlocking(a); });
}

TEST_F(RedisClientTest, BatchedBlockingSelectsItsDatabaseWithinTheCommandTimeout) {
    RedisClientOptions fast;
    fast.command_timeout = 200ms;
    auto client = MakeClient(fast, 3);
    auto admin = MakeClient();
    // A Redis that accepts the connection and answers nothing (paused): the SELECT of the writer's first connection
    // gives up at the command timeout instead of waiting as long as Redis does.
    auto pause = admin->CommandBlocking({"CLIENT", "PAUSE", "3000", "ALL"});
    ASSERT_TRUE(pause);
    ASSERT_FALSE(pause->IsError()) << pause->str;
    const auto start = std::chrono::steady_clock::now();
    auto r = client->BatchedBlocking({"PING"});
    EXPECT_FALSE(r);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2000ms);
    ASSERT_TRUE(admin->CommandBlocking({"CLIENT", "UNPAUSE"}));
    ASSERT_TRUE(WaitFor([&] { return client->BatchedBlocking({"PING"}).has_value(); }, 5s));
    auto db = client->BatchedBlocking({"CLIENT", "INFO"});
    ASSERT_TRUE(db);
    EXPECT_NE(db->str.find(" db=3 "), std::string::npos) << db->str;
}

TEST_F(RedisClientTest, BatchedBlockingFollowsARestartOfRedis) {
    auto client = MakeClient();
    ASSERT_TRUE(client->BatchedBlocking({"SET", client->Key("k"), "v"}));
    server_.Kill();
    auto down = client->BatchedBlocking({"PING"});
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code, ErrorCode::kUnavailable) << down.error().message;
    server_.Restart();
    ASSERT_TRUE(WaitFor([&] { return client->CommandBlocking({"PING"}).has_value(); }, 5s));
    auto ping = client->BatchedBlocking({"PING"});
    ASSERT_TRUE(ping) << ping.error().message;
    EXPECT_EQ(ping->str, "PONG");

    // A connection the server closed while it was idle is noticed before use: the next command does not fail.
    auto id = client->BatchedBlocking({"CLIENT", "ID"});
    ASSERT_TRUE(id);
    auto kill = client->CommandBlocking({"CLIENT", "KILL", "ID", std::to_string(id->integer)});
    ASSERT_TRUE(kill);
    ASSERT_EQ(kill->integer, 1);
    auto after_kill = client->BatchedBlocking({"ECHO", "again"});
    ASSERT_TRUE(after_kill) << after_kill.error().message;
    EXPECT_EQ(after_kill->str, "again");
    auto new_id = client->BatchedBlocking({"CLIENT", "ID"});
    ASSERT_TRUE(new_id);
    EXPECT_NE(new_id->integer, id->integer);
}

TEST_F(RedisClientTest, BatchedBlockingOnAnIoThreadIsRefused) {
    auto client = MakeClient();
    std::promise<Result<RedisReply>> on_io;
    asio::post(io_, [&] { on_io.set_value(client->BatchedBlocking({"PING"})); });
    Result<RedisReply> r = on_io.get_future().get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInternal);
}

TEST_F(RedisClientTest, BatchedAsyncAnswersEachCommandOnceAndInOrderWithTheBlockingOnes) {
    auto client = MakeClient({}, 3);
    constexpr int kCommands = 2000;
    std::mutex mu;
    std::vector<int> order;
    std::map<int, std::string> replies;
    std::promise<void> all;
    std::atomic<int> answered{0};
    std::thread blocking([&] {  // blocking callers share the batches
        for (int i = 0; i < 200; ++i) EXPECT_TRUE(client->BatchedBlocking({"INCR", client->Key("blocking")}));
    });
    for (int i = 0; i < kCommands; ++i) {
        RedisClient::Args args = i % 7 == 6 ? RedisClient::Args{"HGET", client->Key("nothing"), "x", "too many"}
                                            : RedisClient::Args{"ECHO", "async-" + std::to_string(i)};
        client->BatchedAsync(args, [&, i](Result<RedisReply> r) {
            {
                std::lock_guard lock(mu);
                order.push_back(i);
                replies[i] = !r ? "failed: " + r.error().message : r->IsError() ? "error" : r->str;
            }
            if (++answered == kCommands) all.set_value();
        });
    }
    ASSERT_EQ(all.get_future().wait_for(10s), std::future_status::ready);
    blocking.join();
    EXPECT_EQ(answered.load(), kCommands);
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));  // one writer, one connection: in the order given
    for (int i = 0; i < kCommands; ++i) {
        EXPECT_EQ(replies[i], i % 7 == 6 ? "error" : "async-" + std::to_string(i)) << i;
    }
    auto counted = client->CommandBlocking({"GET", client->Key("blocking")});
    ASSERT_TRUE(counted);
    EXPECT_EQ(counted->str, "200");
}

TEST_F(RedisClientTest, BatchedAsyncAnswersWhenRedisIsDownAndWhenItIsBack) {
    RedisClientOptions fast;
    fast.connect_timeout = 200ms;
    fast.command_timeout = 200ms;
    auto client = MakeClient(fast);
    auto run = [&](RedisClient::Args args) {
        auto p = std::make_shared<std::promise<Result<RedisReply>>>();
        auto f = p->get_future();
        client->BatchedAsync(std::move(args), [p](Result<RedisReply> r) { p->set_value(std::move(r)); });
        EXPECT_EQ(f.wait_for(5s), std::future_status::ready);
        return f.get();
    };
    ASSERT_TRUE(run({"PING"}));
    server_.Kill();
    Result<RedisReply> down = run({"PING"});
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code, ErrorCode::kUnavailable) << down.error().message;
    server_.Restart();
    ASSERT_TRUE(WaitFor([&] { return run({"PING"}).has_value(); }, 5s));
    Result<RedisReply> echo = run({"ECHO", "back"});
    ASSERT_TRUE(echo) << echo.error().message;
    EXPECT_EQ(echo->str, "back");
}

TEST_F(RedisClientTest, ReconnectsAfterServerRestart) {
    auto client = MakeClient();
    ASSERT_TRUE(client->CommandBlocking({"SET", client->Key("k"), "v"}));

    server_.Kill();
    auto down = client->CommandBlocking({"PING"});
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code, ErrorCode::kUnavailable) << down.error().message;
    // Still down: fails fast, no hang.
    auto start = std::chrono::steady_clock::now();
    auto again = client->CommandBlocking({"PING"});
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::kUnavailable);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);

    server_.Restart();
    ASSERT_TRUE(WaitFor([&] { return client->CommandBlocking({"PING"}).has_value(); }, 5s));
    ASSERT_TRUE(client->CommandBlocking({"SET", client->Key("k2"), "v2"}));
    auto get = client->CommandBlocking({"GET", client->Key("k2")});
    ASSERT_TRUE(get);
    EXPECT_EQ(get->str, "v2");
}

TEST_F(RedisClientTest, InFlightCommandsFailWhenConnectionDrops) {
    auto client = MakeClient();
    auto killer = MakeClient();
    ASSERT_TRUE(client->CommandBlocking({"PING"}));
    std::promise<Result<RedisReply>> blocked;
    // BLPOP blocks on the server until our connection is killed.
    client->Command({"BLPOP", client->Key("nothing"), "0"}, [&](Result<RedisReply> r) {
        blocked.set_value(std::move(r));
    });
    ASSERT_TRUE(WaitFor(
        [&] {
            auto kill = killer->CommandBlocking({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
            return kill && kill->integer > 0;
        },
        5s
    ));
    auto f = blocked.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    auto r = f.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
    // The next command reconnects immediately.
    auto ping = client->CommandBlocking({"PING"});
    ASSERT_TRUE(ping) << ping.error().message;
}

TEST_F(RedisClientTest, CloseFailsPendingAndLaterCommandsReconnect) {
    auto client = MakeClient();
    std::promise<Result<RedisReply>> blocked;
    client->Command({"BLPOP", client->Key("nothing"), "0"}, [&](Result<RedisReply> r) {
        blocked.set_value(std::move(r));
    });
    client->Close();
    auto f = blocked.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    auto r = f.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
    EXPECT_TRUE(client->CommandBlocking({"PING"}));
}

TEST_F(RedisClientTest, BoundedQueue) {
    RedisClientOptions options;
    options.max_pending = 10;
    auto client = MakeClient(options);
    std::vector<RedisClient::Args> too_many(11, RedisClient::Args{"PING"});
    auto r = client->PipelineBlocking(too_many);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
    too_many.pop_back();
    EXPECT_TRUE(client->PipelineBlocking(too_many));
}

TEST_F(RedisClientTest, SelectsDatabase) {
    auto db3 = MakeClient({}, 3);
    auto db0 = MakeClient({}, 0);
    ASSERT_TRUE(db3->CommandBlocking({"SET", "db-test-key", "three"}));
    auto in0 = db0->CommandBlocking({"GET", "db-test-key"});
    ASSERT_TRUE(in0);
    EXPECT_TRUE(in0->IsNil());
    auto in3 = db3->CommandBlocking({"GET", "db-test-key"});
    ASSERT_TRUE(in3);
    EXPECT_EQ(in3->str, "three");
}

TEST_F(RedisClientTest, FailedSelectFailsCommandsInsteadOfUsingDbZero) {
    auto bad = MakeClient({}, 99);  // the server has 16 databases
    auto r = bad->CommandBlocking({"SET", "must-not-exist", "x"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
    auto db0 = MakeClient();
    auto check = db0->CommandBlocking({"EXISTS", "must-not-exist"});
    ASSERT_TRUE(check);
    EXPECT_EQ(check->integer, 0);
}

TEST_F(RedisClientTest, PendingCommandKeepsClientAlive) {
    std::promise<Result<RedisReply>> done;
    {
        auto client = MakeClient();
        client->Command({"ECHO", "still here"}, [&](Result<RedisReply> r) { done.set_value(std::move(r)); });
    }
    auto f = done.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    auto r = f.get();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->str, "still here");
}

TEST_F(RedisClientTest, UnreachableServerIsUnavailable) {
    RedisEndpoint ep;
    ep.unix_path = server_.socket_path() + ".nope";
    auto client = RedisClient::Create(io_, ep);
    auto r = client->CommandBlocking({"PING"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace squall::core
