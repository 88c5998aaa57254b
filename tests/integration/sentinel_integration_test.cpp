// Redis high availability on Redis's own machinery: a primary, a replica and three sentinels (Debian's
// redis-server, `--sentinel`) on 127.0.0.1; squall follows `--redis sentinel://.../MASTER`. Webhook load with
// Idempotency-Key senders that retry until 2xx; the primary is kill -9'd mid-load; the sentinels promote the replica
// and the server reconnects to it without a restart. Every event answered 2xx runs exactly once.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "files.hpp"
#include "io_runner.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

extern char** environ;  // NOLINT: POSIX

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;

int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) throw std::runtime_error("bind");
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

/// One redis-server process (a data node or, with a config file and `--sentinel`, a sentinel) on a TCP port.
class RedisNode {
public:
    RedisNode(std::vector<std::string> args, const std::string& log) {
        args.insert(args.begin(), "/usr/bin/redis-server");
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) throw std::runtime_error("cannot spawn redis-server");
    }
    ~RedisNode() { Kill(); }
    void Signal(int sig) {
        if (pid_ > 0) ::kill(pid_, sig);
    }
    RedisNode(const RedisNode&) = delete;
    RedisNode& operator=(const RedisNode&) = delete;
    void Kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
    }

private:
    pid_t pid_ = -1;
};

/// WaitFor with a coarser poll, for conditions that cost a few Redis commands to check.
template <class F>
bool WaitEvery(F pred, std::chrono::milliseconds deadline, std::chrono::milliseconds every = 50ms) {
    return WaitFor(
        [&, next = std::chrono::steady_clock::time_point{}]() mutable {
            const auto now = std::chrono::steady_clock::now();
            if (now < next) return false;
            next = now + every;
            return pred();
        },
        deadline
    );
}

class SentinelTest : public ::testing::Test {
protected:
    void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }
    void TearDown() override {
        // Clients first (the IoRunner drains), then the processes.
        sentinel_clients_.clear();
        replica_client_.reset();
    }

    core::RedisClientPtr Client(int port) {
        core::RedisEndpoint ep;
        ep.host = "127.0.0.1";
        ep.port = port;
        return core::RedisClient::Create(io_.io(), ep, {.connect_timeout = 1s, .command_timeout = 2s});
    }

    std::vector<std::string> NodeArgs(int port, const std::string& name) {
        const std::string d = dir_.path().string();
        std::filesystem::create_directories(d + "/" + name);
        return {
            "--port",
            std::to_string(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            d + "/" + name,
            "--save",
            "",
            "--appendonly",
            "no"};
    }

    /// A primary, its replica (in sync), and `count` sentinels (quorum `quorum`) that know both and each other;
    /// url_ is the `sentinel://` URL of them.
    void StartCluster(int count, int quorum) {
        const std::string d = dir_.path().string();
        primary_port_ = FreePort();
        replica_port_ = FreePort();
        primary_ = std::make_unique<RedisNode>(NodeArgs(primary_port_, "primary"), d + "/primary.log");
        std::vector<std::string> replica_args = NodeArgs(replica_port_, "replica");
        replica_args.insert(replica_args.end(), {"--replicaof", "127.0.0.1", std::to_string(primary_port_)});
        replica_ = std::make_unique<RedisNode>(replica_args, d + "/replica.log");
        // The replica is in sync before the sentinels start: their first INFO of the primary lists it.
        replica_client_ = Client(replica_port_);
        ASSERT_TRUE(WaitEvery(
            [&] {
                auto r = replica_client_->CommandBlocking({"INFO", "replication"});
                return r && r->str.find("master_link_status:up") != std::string::npos;
            },
            20s
        )) << ReadFile(d + "/replica.log");
        url_ = "sentinel://";
        for (int i = 0; i < count; ++i) {
            const int port = FreePort();
            sentinel_ports_.push_back(port);
            url_ += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(port);
            const std::string conf = d + "/sentinel-" + std::to_string(i) + ".conf";
            std::ofstream(conf) << "port " << port << "\nbind 127.0.0.1\ndir " << d << "\n"
                                << "sentinel monitor mymaster 127.0.0.1 " << primary_port_ << " " << quorum << "\n"
                                << "sentinel down-after-milliseconds mymaster 1000\n"
                                << "sentinel failover-timeout mymaster 5000\n"
                                << "sentinel parallel-syncs mymaster 1\n";
            sentinels_.push_back(std::make_unique<RedisNode>(
                std::vector<std::string>{conf, "--sentinel"}, d + "/sentinel-" + std::to_string(i) + ".log"
            ));
        }
        url_ += "/mymaster";
        // Ready: every sentinel knows the replica and the other sentinels.
        for (int port : sentinel_ports_) sentinel_clients_.push_back(Client(port));
        ASSERT_TRUE(WaitEvery(
            [&] {
                for (auto& c : sentinel_clients_) {
                    auto others = c->CommandBlocking({"SENTINEL", "sentinels", "mymaster"});
                    auto replicas = c->CommandBlocking({"SENTINEL", "replicas", "mymaster"});
                    if (!others || others->elements.size() != sentinel_clients_.size() - 1 || !replicas ||
                        replicas->elements.size() != 1)
                        return false;
                }
                return true;
            },
            25s
        )) << ReadFile(d + "/sentinel-0.log");
    }

    /// A rule: the webhook `ha` appends its body's `id` to out_file() (core.local).
    void AddRule(SquallProcess& server) {
        httplib::Client c(server.host(), server.port());
        c.set_read_timeout(30, 0);
        Json rule = {
            {"name", "ha"},
            {"pack", "default"},
            {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "ha"}}}}},
            {"action",
             {{"ref", "core.local"}, {"parameters", {{"cmd", "echo {{ trigger.body.id }} >> " + out_file()}}}}}};
        auto r = c.Post("/api/v1/rules/", {{"St2-Api-Key", server.api_key()}}, rule.dump(), "application/json");
        ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    }

    std::string out_file() const { return dir_.path().string() + "/ran.txt"; }

    std::map<std::string, size_t> CountLines() const {
        std::map<std::string, size_t> lines;
        std::ifstream in(out_file());
        for (std::string line; std::getline(in, line);) lines[line] += 1;
        return lines;
    }

    TempDir dir_;
    IoRunner io_;
    int primary_port_ = 0;
    int replica_port_ = 0;
    std::vector<int> sentinel_ports_;
    std::string url_;
    std::unique_ptr<RedisNode> primary_;
    std::unique_ptr<RedisNode> replica_;
    std::vector<std::unique_ptr<RedisNode>> sentinels_;
    core::RedisClientPtr replica_client_;
    std::vector<core::RedisClientPtr> sentinel_clients_;
};

TEST_F(SentinelTest, FailoverLosesNoAcknowledgedWebhook) {
    if (::access("/usr/bin/redis-server", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/redis-server";
    const std::string d = dir_.path().string();
    using SteadyClock = std::chrono::steady_clock;
    auto ms = [](auto dur) { return std::chrono::duration_cast<std::chrono::milliseconds>(dur).count(); };
    const auto started_at = SteadyClock::now();
    ASSERT_NO_FATAL_FAILURE(StartCluster(3, 2));
    const auto cluster_at = SteadyClock::now();
    SquallProcess::Options o;
    o.data_dir = d + "/data";
    o.redis_url = url_;
    SquallProcess server(o);
    const std::string key = server.api_key();
    ASSERT_NO_FATAL_FAILURE(AddRule(server));
    const int replica_port = replica_port_;
    auto& sentinel_clients = sentinel_clients_;
    const std::string out_file = this->out_file();
    auto& primary = primary_;

    // Senders retry until 2xx with the same key; the primary dies once a third of the events are answered.
    constexpr size_t kEvents = 150;
    constexpr size_t kSenders = 4;
    std::mutex mu;
    std::map<std::string, std::string> instance_of;  // guarded by mu
    std::vector<std::string> errors;                 // guarded by mu
    std::atomic<size_t> answered{0};
    std::atomic<size_t> retries{0};
    const auto load_at = SteadyClock::now();
    std::atomic<bool> promoted_seen{false};
    std::atomic<int64_t> first_answer_after_promotion_ns{0};  // steady clock, since epoch
    const auto give_up = SteadyClock::now() + 50s;
    std::vector<std::thread> threads;
    for (size_t t = 0; t < kSenders; ++t) {
        threads.emplace_back([&, t] {
            httplib::Client c(server.host(), server.port());
            c.set_connection_timeout(2, 0);
            c.set_read_timeout(15, 0);
            for (size_t i = t; i < kEvents; i += kSenders) {
                const std::string id = "h" + std::to_string(i);
                while (true) {
                    auto r = c.Post(
                        "/api/v1/webhooks/ha",
                        {{"St2-Api-Key", key}, {"Idempotency-Key", id}},
                        Json{{"id", id}}.dump(),
                        "application/json"
                    );
                    if (r && r->status / 100 == 2) {
                        if (promoted_seen.load()) {
                            int64_t none = 0;
                            first_answer_after_promotion_ns.compare_exchange_strong(
                                none, SteadyClock::now().time_since_epoch().count()
                            );
                        }
                        Json j = Json::parse(r->body, nullptr, false);
                        std::lock_guard lock(mu);
                        instance_of[id] = j.is_object() ? j.value("id", "") : "";
                        answered += 1;
                        break;
                    }
                    retries += 1;
                    if (std::chrono::steady_clock::now() > give_up) {
                        std::lock_guard lock(mu);
                        errors.push_back(id + ": never answered 2xx");
                        break;
                    }
                    std::this_thread::sleep_for(20ms);  // a sender's retry pause
                }
            }
        });
    }
    const bool loaded = WaitFor([&] { return answered.load() >= kEvents / 3; }, 30s);
    const size_t answered_at_kill = answered.load();
    // The acknowledging steps waited for the replica (WAIT went to the primary).
    auto primary_client = Client(primary_port_);
    auto stats = primary_client->CommandBlocking({"INFO", "commandstats"});
    primary_client.reset();
    const auto killed_at = SteadyClock::now();
    primary->Kill();
    // The sentinels promote the replica.
    const bool promoted = WaitEvery(
        [&] {
            auto r = sentinel_clients[0]->CommandBlocking({"SENTINEL", "get-master-addr-by-name", "mymaster"});
            return r && r->elements.size() == 2 && r->elements[1].str == std::to_string(replica_port);
        },
        30s,
        20ms
    );
    const auto promoted_at = SteadyClock::now();
    promoted_seen = true;
    for (auto& t : threads) t.join();
    const auto answered_at = SteadyClock::now();
    ASSERT_TRUE(loaded) << "only " << answered_at_kill << " events answered before the kill\n"
                        << server.Output().substr(0, 30000);
    ASSERT_TRUE(promoted) << ReadFile(d + "/sentinel-0.log");
    ASSERT_TRUE(stats);
    EXPECT_NE(stats->str.find("cmdstat_wait:calls="), std::string::npos) << stats->str;
    // The server followed the failover: it connected to the promoted replica without a restart.
    EXPECT_NE(server.Output().find("127.0.0.1:" + std::to_string(replica_port)), std::string::npos)
        << server.Output().substr(0, 30000);
    for (const auto& e : errors) ADD_FAILURE() << e;
    ASSERT_EQ(instance_of.size(), kEvents);

    // Every answered event ran exactly once, on the promoted replica's data.
    auto count_lines = [&] { return CountLines(); };
    std::map<std::string, size_t> lines;
    const bool all_ran = WaitFor(
        [&] {
            lines = count_lines();
            return lines.size() >= kEvents;
        },
        30s
    );
    if (!all_ran) {
        std::string missing;
        for (const auto& [id, ti] : instance_of) {
            if (!lines.count(id)) missing += " " + id + " (instance " + ti + ")";
        }
        // What became of their executions on the promoted replica (status and result say which step lost them).
        auto promoted_client = Client(replica_port);
        auto keys = promoted_client->CommandBlocking({"KEYS", "squall:{x}exec:*"});
        for (const auto& k : keys ? keys->elements : std::vector<core::RedisReply>{}) {
            auto h = promoted_client->CommandBlocking({"HMGET", k.str, "trigger_instance", "status", "result"});
            if (!h || h->elements.size() != 3) continue;
            for (const auto& [id, ti] : instance_of) {
                if (!lines.count(id) && h->elements[0].str.find(ti) != std::string::npos) {
                    missing +=
                        "\n  " + id + ": " + k.str + " " + h->elements[1].str + " " + h->elements[2].str.substr(0, 300);
                }
            }
        }
        const std::string out = server.Output();
        ADD_FAILURE() << lines.size() << " of " << kEvents << " events ran; missing:" << missing << "\n"
                      << out.substr(out.size() > 60000 ? out.size() - 60000 : 0);
    }
    for (const auto& [id, ti] : instance_of) {
        EXPECT_EQ(lines[id], 1u) << id << " ran " << lines[id] << " times";
    }
    const auto ran_at = SteadyClock::now();
    // Every execution ended `succeeded` on the promoted replica: no final status was lost with the primary.
    auto new_master = Client(replica_port);
    int64_t succeeded = 0;
    EXPECT_TRUE(WaitEvery(
        [&] {
            auto r = new_master->CommandBlocking({"ZCARD", "squall:{x}executions:status:succeeded"});
            succeeded = r ? r->integer : -1;
            return succeeded == static_cast<int64_t>(kEvents);
        },
        20s
    )) << succeeded
       << " executions succeeded";
    auto role = new_master->CommandBlocking({"ROLE"});
    ASSERT_TRUE(role && role->IsArray());
    EXPECT_EQ(role->elements[0].str, "master");
    auto instances = new_master->CommandBlocking({"ZCARD", "squall:{ti}triggerinstances"});
    ASSERT_TRUE(instances);
    EXPECT_EQ(instances->integer, static_cast<int64_t>(kEvents));
    // The promoted replica has no replica of its own: nothing waits on it (no WAIT, no added round trip).
    auto new_stats = new_master->CommandBlocking({"INFO", "commandstats"});
    ASSERT_TRUE(new_stats);
    EXPECT_EQ(new_stats->str.find("cmdstat_wait:"), std::string::npos) << new_stats->str;
    const int64_t resumed_ns = first_answer_after_promotion_ns.load();
    const auto resumed_at = SteadyClock::time_point(SteadyClock::duration(resumed_ns));
    std::cout << "sentinel: " << kEvents << " events, primary killed after " << answered_at_kill << " answered, "
              << retries.load() << " retried posts; promoted " << ms(promoted_at - killed_at)
              << " ms after the kill; first 2xx after the promotion " << (resumed_ns ? ms(resumed_at - killed_at) : -1)
              << " ms after the kill" << std::endl;
    auto count = [out = server.Output()](const std::string& what) {
        size_t n = 0;
        for (size_t at = out.find(what); at != std::string::npos; at = out.find(what, at + 1)) ++n;
        return n;
    };
    std::cout << "sentinel: after the kill, claims made again " << count("claiming again on the current master")
              << ", results stored again " << count("storing it again on the current master")
              << ", batches left pending " << count("not replicated; entries stay pending")
              << ", pack configs read again " << count("cannot read the pack config yet") << std::endl;
    std::cout << "sentinel timings: cluster ready " << ms(cluster_at - started_at) << " ms, server up "
              << ms(load_at - cluster_at) << " ms, all answered " << ms(answered_at - load_at) << " ms, all ran "
              << ms(ran_at - answered_at) << " ms later" << std::endl;
    {
        // On a failure, the end of the output: what the server did while it stopped (a CI run once saw it not exit
        // within 30 s of SIGTERM after the failover, on a loaded machine, and printed only its start).
        const int stopped = server.Stop();
        const std::string output = server.Output();
        EXPECT_EQ(stopped, 0) << output.substr(output.size() > 60000 ? output.size() - 60000 : 0);
    }
    new_master.reset();
}

// A replica that does not acknowledge within WAIT's second: the webhook is answered 503 with Retry-After (not 2xx),
// the runner holds the claimed execution back until the replica has it; once the replica is back, the sender's
// retry is answered 2xx and the event runs once.
TEST_F(SentinelTest, UnacknowledgedByTheReplicaIsAnswered503) {
    if (::access("/usr/bin/redis-server", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/redis-server";
    ASSERT_NO_FATAL_FAILURE(StartCluster(1, 1));
    SquallProcess::Options o;
    o.data_dir = dir_.path().string() + "/data";
    o.redis_url = url_;
    SquallProcess server(o);
    ASSERT_NO_FATAL_FAILURE(AddRule(server));
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(15, 0);
    auto post = [&](const std::string& id) {
        return c.Post(
            "/api/v1/webhooks/ha",
            {{"St2-Api-Key", server.api_key()}, {"Idempotency-Key", id}},
            Json{{"id", id}}.dump(),
            "application/json"
        );
    };
    auto first = post("before");
    ASSERT_TRUE(first) << server.Output();
    EXPECT_EQ(first->status / 100, 2) << first->body;

    replica_->Signal(SIGSTOP);
    const auto sent_at = std::chrono::steady_clock::now();
    auto refused = post("stopped");
    const auto waited = std::chrono::steady_clock::now() - sent_at;
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503) << refused->body;
    EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
    EXPECT_NE(refused->body.find("replica"), std::string::npos) << refused->body;
    EXPECT_GE(waited, 900ms);  // WAIT's own timeout, then the answer
    replica_->Signal(SIGCONT);

    // The sender retries with the same key until 2xx: the instance stored by the refused request is the one.
    std::optional<httplib::Result> accepted;
    ASSERT_TRUE(WaitEvery(
        [&] {
            auto r = post("stopped");
            if (!r || r->status / 100 != 2) return false;
            accepted.emplace(std::move(r));
            return true;
        },
        20s,
        100ms
    ));
    auto ran = [&] {
        auto lines = CountLines();
        return lines.size() == 2 && lines["before"] == 1 && lines["stopped"] == 1;
    };
    EXPECT_TRUE(WaitFor(ran, 30s)) << ReadFile(out_file()) << "\n" << server.Output().substr(0, 30000);
    {
        // On a failure, the end of the output: what the server did while it stopped (a CI run once saw it not exit
        // within 30 s of SIGTERM after the failover, on a loaded machine, and printed only its start).
        const int stopped = server.Stop();
        const std::string output = server.Output();
        EXPECT_EQ(stopped, 0) << output.substr(output.size() > 60000 ? output.size() - 60000 : 0);
    }
    for (const auto& [id, n] : CountLines()) EXPECT_EQ(n, 1u) << id;
}

}  // namespace
}  // namespace squall::test
