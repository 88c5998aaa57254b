// Chaos: a multi-process installation (one Redis with AOF `appendfsync always`, separate `squall server --roles ...`
// processes) takes webhook events from concurrent senders while a driver kill -9s a random squall process every
// ~1.5 s and restarts it, and restarts Redis itself once in the middle of the load. Senders retry until answered
// 2xx with the same Idempotency-Key, as real webhook senders do. At the end every event has exactly one trigger
// instance and one execution, and its shell action appended its id to the file exactly once — or the execution is
// `abandoned` (its runner died mid-run) and the action's retry policy ran it again, successfully (docs/delivery.md).
//
// Size: SQUALL_CHAOS_EVENTS (default 3000: about a minute and a half under ASan on 2 cores; the 5000 take
// about 100 s), SQUALL_CHAOS_SENDERS (8), SQUALL_CHAOS_KILL_MS (1500).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "files.hpp"
#include "io_runner.hpp"
#include "redis_server.hpp"
#include "scale_out_support.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

size_t EnvSize(const char* name, size_t fallback) {
    const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read before any thread starts
    if (v == nullptr || *v == '\0') return fallback;
    return static_cast<size_t>(std::stoul(v));
}

/// A TCP port on 127.0.0.1 that nothing listens on right now (the API processes keep theirs across restarts, so
/// that senders find them again).
int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) throw std::runtime_error("bind");
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

/// One `squall server --roles ...` process of the installation, restartable after a kill -9.
struct Member {
    std::string name;
    std::vector<std::string> args;
    std::unique_ptr<SquallProcess> process;
};

class ChaosTest : public ::testing::Test {
protected:
    void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }

    void StartMember(Member& m) {
        SquallProcess::Options o;
        o.data_dir = data_dir_;
        o.redis_url = "unix://" + redis_->socket_path();
        o.extra_args = m.args;
        m.process = std::make_unique<SquallProcess>(o);
    }

    Member& Add(std::string name, std::vector<std::string> args) {
        members_.push_back(Member{std::move(name), std::move(args), nullptr});
        StartMember(members_.back());
        return members_.back();
    }

    core::RedisReply Redis(core::RedisClient::Args args) {
        Result<core::RedisReply> r = client_->CommandBlocking(std::move(args));
        if (!r) throw std::runtime_error("redis: " + r.error().message);
        return *r;
    }
    int64_t RedisInt(core::RedisClient::Args args) { return Redis(std::move(args)).integer; }

    std::unique_ptr<RedisServer> redis_;
    TempDir dir_;
    std::string data_dir_;
    std::deque<Member> members_;
    IoRunner io_;
    core::RedisClientPtr client_;
};

TEST_F(ChaosTest, KillNineAndRedisRestartUnderWebhookLoad) {
    const size_t events = EnvSize("SQUALL_CHAOS_EVENTS", 3000);
    const size_t senders = std::max<size_t>(1, EnvSize("SQUALL_CHAOS_SENDERS", 8));
    const auto kill_every = std::chrono::milliseconds(EnvSize("SQUALL_CHAOS_KILL_MS", 1500));
    redis_ = std::make_unique<RedisServer>(RedisServer::Options{.aof_always = true});
    data_dir_ = (dir_.path() / "data").string();
    core::RedisEndpoint ep;
    ep.unix_path = redis_->socket_path();
    client_ = core::RedisClient::Create(io_.io(), ep);
    const std::string out_file = (dir_.path() / "ran.txt").string();
    // The action: a shell command with StackStorm's retry policy, which re-runs an execution abandoned by its
    // runner's death (and a failure, which should not happen here).
    const auto pack = dir_.path() / "data" / "packs" / "chaos";
    Write(pack / "pack.yaml", "---\nref: chaos\nname: chaos\nversion: 0.1.0\nauthor: t\n");
    Write(pack / "actions" / "append.yaml", "---\nname: append\nrunner_type: local-shell-cmd\n");
    Write(
        pack / "policies" / "retry.yaml",
        "---\nname: append_retry\nresource_ref: chaos.append\npolicy_type: action.retry\n"
        "parameters:\n  retry_on: failure\n  max_retry_count: 2\n"
    );

    // The installation: two API processes (senders go to the other one when theirs is down), and one process per
    // other role, two runners.
    const std::vector<int> ports = {FreePort(), FreePort()};
    Member& first_api = Add("api-1", {"--roles", "api", "--listen", "127.0.0.1:" + std::to_string(ports[0])});
    const std::string key = first_api.process->api_key();
    {
        httplib::Client c("127.0.0.1", ports[0]);
        c.set_read_timeout(30, 0);
        Json rule = {
            {"name", "chaos"},
            {"pack", "default"},
            {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "chaos"}}}}},
            {"action",
             {{"ref", "chaos.append"}, {"parameters", {{"cmd", "echo {{ trigger.body.id }} >> " + out_file}}}}}};
        auto r = c.Post("/api/v1/rules/", {{"St2-Api-Key", key}}, rule.dump(), "application/json");
        ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    }
    Add("api-2", {"--roles", "api", "--listen", "127.0.0.1:" + std::to_string(ports[1])});
    Add("rules", {"--roles", "rules"});
    Add("runner-1", {"--roles", "runner"});
    Add("runner-2", {"--roles", "runner"});
    Add("workflow", {"--roles", "workflow"});
    Add("notifier", {"--roles", "notifier"});
    Add("gc", {"--roles", "gc"});

    // Senders: event i goes from sender i % senders; each retries until answered 2xx, with the same key.
    std::mutex mu;
    std::map<std::string, std::string> instance_of;  // event id → trigger instance id (guarded by mu)
    std::vector<std::string> errors;                 // guarded by mu
    std::atomic<size_t> answered{0};
    std::atomic<size_t> retries{0};
    const auto started = SteadyClock::now();
    const auto give_up = started + 20min;
    std::vector<std::thread> threads;
    for (size_t t = 0; t < senders; ++t) {
        threads.emplace_back([&, t] {
            std::vector<std::unique_ptr<httplib::Client>> clients;
            for (int port : ports) {
                clients.push_back(std::make_unique<httplib::Client>("127.0.0.1", port));
                clients.back()->set_connection_timeout(2, 0);
                clients.back()->set_read_timeout(15, 0);
                clients.back()->set_write_timeout(5, 0);
                clients.back()->set_keep_alive(true);
            }
            for (size_t i = t; i < events; i += senders) {
                const std::string id = "e" + std::to_string(i);
                const std::string body = Json{{"id", id}}.dump();
                for (size_t attempt = 0;; ++attempt) {
                    auto& c = *clients[(i + attempt) % clients.size()];
                    auto r = c.Post(
                        "/api/v1/webhooks/chaos",
                        {{"St2-Api-Key", key}, {"Idempotency-Key", id}},
                        body,
                        "application/json"
                    );
                    if (r && r->status / 100 == 2) {
                        Json j = Json::parse(r->body, nullptr, false);
                        std::lock_guard lock(mu);
                        const std::string ti = j.is_object() ? j.value("id", "") : "";
                        if (ti.empty()) errors.push_back(id + ": 2xx without an id: " + r->body);
                        instance_of[id] = ti;
                        answered += 1;
                        break;
                    }
                    retries += 1;
                    if (SteadyClock::now() > give_up) {
                        std::lock_guard lock(mu);
                        errors.push_back(id + ": never answered 2xx");
                        break;
                    }
                    std::this_thread::sleep_for(20ms);  // a sender's retry pause, not a wait for a condition
                }
            }
        });
    }

    // The driver: kill -9 a random process and restart it, every kill_every; once half the events are answered,
    // kill -9 Redis too and restart it from its AOF.
    std::atomic<bool> load_done{false};
    size_t kills = 0;
    bool redis_restarted = false;
    std::map<std::string, size_t> killed;
    std::thread driver([&] {
        std::mt19937 rng(std::random_device{}());
        auto next = SteadyClock::now() + kill_every;
        std::vector<size_t> order;
        while (!load_done) {
            if (!redis_restarted && answered.load() >= events / 2) {
                redis_->Kill();
                redis_->Restart();
                redis_restarted = true;
            }
            if (SteadyClock::now() < next) {
                std::this_thread::sleep_for(10ms);
                continue;
            }
            next += kill_every;
            // Every process dies in turn, in a fresh random order each round.
            if (order.empty()) {
                for (size_t i = 0; i < members_.size(); ++i) order.push_back(i);
                std::shuffle(order.begin(), order.end(), rng);
            }
            Member& victim = members_[order.back()];
            order.pop_back();
            victim.process->Kill();
            killed[victim.name] += 1;
            ++kills;
            try {
                StartMember(victim);
            } catch (const std::exception& e) {
                std::lock_guard lock(mu);
                errors.push_back("cannot restart " + victim.name + ": " + e.what());
            }
        }
    });
    for (auto& t : threads) t.join();
    const double load_seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
    load_done = true;
    driver.join();
    {
        std::lock_guard lock(mu);
        for (const auto& e : errors) ADD_FAILURE() << e;
    }
    ASSERT_EQ(instance_of.size(), events);
    EXPECT_TRUE(redis_restarted);

    // Drain: every trigger instance handled, every execution ended. Entries a killed process held are reclaimed
    // after 30 s idle, executions of a killed runner are marked abandoned once its liveness key expires (15 s).
    const std::string p = "squall:";
    const std::vector<std::string> in_flight = {
        "requested", "scheduled", "delayed", "running", "canceling", "pending", "pausing", "resuming"};
    auto drained = [&] {
        // One MULTI: the counts of one moment (an abandoned execution's retry is made between two separate reads).
        std::vector<core::RedisClient::Args> reads = {
            {"MULTI"}, {"XLEN", p + "{ti}stream:triggers"}, {"ZCARD", p + "{x}executions"}};
        for (const auto& s : in_flight) reads.push_back({"ZCARD", p + "{x}executions:status:" + s});
        // An abandoned execution has ended, but its retry may still be due (the runners' poll makes it): the
        // event is processed once that retry exists and has ended.
        reads.push_back({"ZCARD", p + "{x}retry:due"});
        reads.push_back({"EXEC"});
        Result<std::vector<core::RedisReply>> r = client_->PipelineBlocking(std::move(reads));
        if (!r || r->empty() || r->back().elements.size() != in_flight.size() + 3) return false;
        const auto& counts = r->back().elements;
        if (counts[0].integer != 0 || counts[1].integer < static_cast<int64_t>(events)) return false;
        for (size_t i = 2; i < counts.size(); ++i) {
            if (counts[i].integer != 0) return false;
        }
        return true;
    };
    const bool done = WaitFor(
        [&] {
            try {
                return drained();
            } catch (const std::exception&) {
                return false;
            }
        },
        150s
    );
    const double total_seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
    // Not drained: what each unfinished execution is (its owner alive or not), and every log line naming it.
    std::string stuck;
    for (const auto& s : in_flight) {
        if (done) break;
        for (const auto& e : Redis({"ZRANGE", p + "{x}executions:status:" + s, "0", "-1"}).elements) {
            core::RedisReply f = Redis({"HMGET", p + "{x}exec:" + e.str, "status", "runner_id", "start_timestamp"});
            const std::string owner = f.elements.size() == 3 ? f.elements[1].str : "";
            stuck += "execution " + e.str + " (" + s + "): runner " + owner +
                     (RedisInt({"EXISTS", p + "runner:alive:" + owner}) == 1 ? " alive" : " not alive") + "\n";
            for (const auto& m : members_) {
                std::istringstream lines(m.process->Output());
                for (std::string line; std::getline(lines, line);) {
                    if (line.find(e.str) != std::string::npos) stuck += "  " + m.name + ": " + line + "\n";
                }
            }
        }
    }
    std::string fleet_log;
    for (const auto& m : members_) fleet_log += "--- " + m.name + "\n" + m.process->Output().substr(0, 20000);
    ASSERT_TRUE(done) << "not drained: triggers " << RedisInt({"XLEN", p + "{ti}stream:triggers"}) << ", executions "
                      << RedisInt({"ZCARD", p + "{x}executions"}) << ", scheduled "
                      << RedisInt({"ZCARD", p + "{x}executions:status:scheduled"}) << ", running "
                      << RedisInt({"ZCARD", p + "{x}executions:status:running"}) << "\n"
                      << stuck << fleet_log;

    // Exactly one trigger instance per event: the one its answers named.
    EXPECT_EQ(RedisInt({"ZCARD", p + "{ti}triggerinstances"}), static_cast<int64_t>(events));
    std::set<std::string> instances;
    for (const auto& [id, ti] : instance_of) {
        instances.insert(ti);
        EXPECT_EQ(RedisInt({"EXISTS", p + "{ti}ti:" + ti}), 1) << id;
    }
    EXPECT_EQ(instances.size(), events) << "two events share a trigger instance";

    // Exactly one execution per trigger instance, plus the retries its policy made of an abandoned one.
    core::RedisReply ids = Redis({"ZRANGE", p + "{x}executions", "0", "-1"});
    ASSERT_GE(ids.elements.size(), events);
    std::vector<core::RedisClient::Args> reads;
    for (const auto& e : ids.elements) {
        reads.push_back({"HMGET", p + "{x}exec:" + e.str, "status", "trigger_instance", "context"});
    }
    Result<std::vector<core::RedisReply>> rows = client_->PipelineBlocking(std::move(reads));
    ASSERT_TRUE(rows) << rows.error().message;
    std::map<std::string, std::string> status_of_instance;       // the first execution's
    std::map<std::string, std::string> execution_of_instance;    // the first execution's id
    std::map<std::string, std::vector<std::string>> retries_of;  // execution id → its retries' statuses
    std::map<std::string, std::string> retried_from;             // retry id → the execution it retried
    std::map<std::string, size_t> statuses;
    for (size_t i = 0; i < rows->size(); ++i) {
        const auto& row = (*rows)[i];
        ASSERT_EQ(row.elements.size(), 3u);
        const std::string id = ids.elements[i].str;
        const std::string status = row.elements[0].str;
        const Json ti = Json::parse(row.elements[1].str, nullptr, false);
        const std::string ti_id = ti.is_object() ? ti.value("id", "") : "";
        const Json ctx = Json::parse(row.elements[2].str, nullptr, false);
        const std::string of = ctx.is_object() ? ctx.value("policies", Json::object())
                                                     .value("retry", Json::object())
                                                     .value("retried_liveaction_id", "")
                                               : "";
        statuses[status] += 1;
        EXPECT_TRUE(instances.count(ti_id)) << "execution " << id << " of unknown instance " << ti_id;
        if (!of.empty()) {
            retried_from[id] = of;
            continue;
        }
        EXPECT_TRUE(status_of_instance.emplace(ti_id, status).second) << "two executions for instance " << ti_id;
        execution_of_instance[ti_id] = id;
    }
    // A retry's own status, down the chain (a retry can be abandoned too, and retried again).
    std::map<std::string, std::string> status_of;
    for (size_t i = 0; i < rows->size(); ++i) status_of[ids.elements[i].str] = (*rows)[i].elements[0].str;
    std::map<std::string, std::string> retry_of;  // execution id → its retry's id
    for (const auto& [retry, of] : retried_from) {
        EXPECT_TRUE(retry_of.emplace(of, retry).second) << "two retries of " << of;
    }
    size_t retried = 0;
    auto final_status = [&](std::string id) {
        while (retry_of.count(id)) {
            ++retried;
            id = retry_of[id];
        }
        return status_of[id];
    };

    // Exactly one line per event whose execution succeeded; for an abandoned one (its runner died after or before
    // the shell ran) its retry succeeded, and the event has one or two lines; nothing else.
    std::map<std::string, size_t> lines;
    {
        std::ifstream in(out_file);
        for (std::string line; std::getline(in, line);) lines[line] += 1;
    }
    size_t abandoned = 0;
    size_t abandoned_ran = 0;
    for (const auto& [id, ti] : instance_of) {
        const std::string status = status_of_instance.count(ti) ? status_of_instance[ti] : "(none)";
        const size_t n = lines.count(id) ? lines[id] : 0;
        if (status == "succeeded") {
            EXPECT_EQ(n, 1u) << id << " ran " << n << " times";
        } else if (status == "abandoned") {
            ++abandoned;
            abandoned_ran += n > 1 ? 1 : 0;
            EXPECT_EQ(final_status(execution_of_instance[ti]), "succeeded") << id << ": abandoned, not retried";
            EXPECT_GE(n, 1u) << id << " (abandoned, retried) never ran";
            EXPECT_LE(n, 3u) << id << " (abandoned, retried) ran " << n << " times";
        } else {
            ADD_FAILURE() << id << ": execution " << status;
        }
        lines.erase(id);
    }
    EXPECT_TRUE(lines.empty()) << "lines for events never sent: " << lines.begin()->first;
    const int64_t dead = RedisInt({"XLEN", p + "stream:deadletters"});
    EXPECT_EQ(dead, 0) << "dead letters";

    std::ostringstream report;
    report << "chaos: " << events << " events from " << senders << " senders in " << load_seconds << " s ("
           << static_cast<double>(events) / load_seconds << " answered/s while killing), all ended after "
           << total_seconds << " s; " << kills << " kill -9 (";
    for (const auto& [name, n] : killed) report << name << " " << n << ", ";
    report << "redis restarted " << (redis_restarted ? 1 : 0) << "), " << retries.load() << " retried posts; ";
    for (const auto& [s, n] : statuses) report << s << " " << n << ", ";
    report << "abandoned " << abandoned << " (" << abandoned_ran << " had run before), retries " << retried
           << ", dead letters " << dead;
    std::cout << report.str() << std::endl;
    RecordProperty("chaos", report.str());

    for (auto& m : members_) m.process->Stop(15s);
    client_.reset();
}

}  // namespace
}  // namespace squall::test
