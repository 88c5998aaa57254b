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

class SentinelTest : public ::testing::Test {
protected:
    void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }

    core::RedisClientPtr Client(int port) {
        core::RedisEndpoint ep;
        ep.host = "127.0.0.1";
        ep.port = port;
        return core::RedisClient::Create(io_.io(), ep, {.connect_timeout = 1s, .command_timeout = 2s});
    }

    TempDir dir_;
    IoRunner io_;
};

TEST_F(SentinelTest, FailoverLosesNoAcknowledgedWebhook) {
    if (::access("/usr/bin/redis-server", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/redis-server";
    const std::string d = dir_.path().string();
    const int primary_port = FreePort();
    const int replica_port = FreePort();
    auto node_args = [&](int port, const std::string& name) {
        std::filesystem::create_directories(d + "/" + name);
        return std::vector<std::string>{
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
    };
    auto primary = std::make_unique<RedisNode>(node_args(primary_port, "primary"), d + "/primary.log");
    std::vector<std::string> replica_args = node_args(replica_port, "replica");
    replica_args.insert(replica_args.end(), {"--replicaof", "127.0.0.1", std::to_string(primary_port)});
    RedisNode replica(replica_args, d + "/replica.log");

    std::vector<int> sentinel_ports;
    std::vector<std::unique_ptr<RedisNode>> sentinels;
    for (int i = 0; i < 3; ++i) {
        const int port = FreePort();
        sentinel_ports.push_back(port);
        const std::string conf = d + "/sentinel-" + std::to_string(i) + ".conf";
        std::ofstream(conf) << "port " << port << "\nbind 127.0.0.1\ndir " << d << "\n"
                            << "sentinel monitor mymaster 127.0.0.1 " << primary_port << " 2\n"
                            << "sentinel down-after-milliseconds mymaster 1000\n"
                            << "sentinel failover-timeout mymaster 5000\n"
                            << "sentinel parallel-syncs mymaster 1\n";
        sentinels.push_back(std::make_unique<RedisNode>(
            std::vector<std::string>{conf, "--sentinel"}, d + "/sentinel-" + std::to_string(i) + ".log"
        ));
    }
    // Ready: the replica is in sync and every sentinel knows the replica and the two other sentinels.
    auto replica_client = Client(replica_port);
    ASSERT_TRUE(WaitFor(
        [&] {
            auto r = replica_client->CommandBlocking({"INFO", "replication"});
            return r && r->str.find("master_link_status:up") != std::string::npos;
        },
        30s
    )) << ReadFile(d + "/replica.log");
    std::vector<core::RedisClientPtr> sentinel_clients;
    for (int port : sentinel_ports) sentinel_clients.push_back(Client(port));
    ASSERT_TRUE(WaitFor(
        [&] {
            for (auto& c : sentinel_clients) {
                auto others = c->CommandBlocking({"SENTINEL", "sentinels", "mymaster"});
                auto replicas = c->CommandBlocking({"SENTINEL", "replicas", "mymaster"});
                if (!others || others->elements.size() != 2 || !replicas || replicas->elements.size() != 1)
                    return false;
            }
            return true;
        },
        40s
    )) << ReadFile(d + "/sentinel-0.log");

    std::string url = "sentinel://";
    for (size_t i = 0; i < sentinel_ports.size(); ++i) {
        url += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(sentinel_ports[i]);
    }
    url += "/mymaster";
    SquallProcess::Options o;
    o.data_dir = d + "/data";
    o.redis_url = url;
    SquallProcess server(o);
    const std::string key = server.api_key();
    const std::string out_file = d + "/ran.txt";
    {
        httplib::Client c(server.host(), server.port());
        c.set_read_timeout(30, 0);
        Json rule = {
            {"name", "ha"},
            {"pack", "default"},
            {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "ha"}}}}},
            {"action",
             {{"ref", "core.local"}, {"parameters", {{"cmd", "echo {{ trigger.body.id }} >> " + out_file}}}}}};
        auto r = c.Post("/api/v1/rules/", {{"St2-Api-Key", key}}, rule.dump(), "application/json");
        ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
    }

    // Senders retry until 2xx with the same key; the primary dies once a third of the events are answered.
    constexpr size_t kEvents = 300;
    constexpr size_t kSenders = 4;
    std::mutex mu;
    std::map<std::string, std::string> instance_of;  // guarded by mu
    std::vector<std::string> errors;                 // guarded by mu
    std::atomic<size_t> answered{0};
    std::atomic<size_t> retries{0};
    const auto give_up = std::chrono::steady_clock::now() + 4min;
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
    ASSERT_TRUE(WaitFor([&] { return answered.load() >= kEvents / 3; }, 120s));
    primary->Kill();
    // The sentinels promote the replica.
    ASSERT_TRUE(WaitFor(
        [&] {
            auto r = sentinel_clients[0]->CommandBlocking({"SENTINEL", "get-master-addr-by-name", "mymaster"});
            return r && r->elements.size() == 2 && r->elements[1].str == std::to_string(replica_port);
        },
        60s
    )) << ReadFile(d + "/sentinel-0.log");
    const size_t answered_at_kill = answered.load();
    for (auto& t : threads) t.join();
    for (const auto& e : errors) ADD_FAILURE() << e;
    ASSERT_EQ(instance_of.size(), kEvents);

    // Every answered event ran exactly once, on the promoted replica's data.
    auto count_lines = [&] {
        std::map<std::string, size_t> lines;
        std::ifstream in(out_file);
        for (std::string line; std::getline(in, line);) lines[line] += 1;
        return lines;
    };
    std::map<std::string, size_t> lines;
    const bool all_ran = WaitFor(
        [&] {
            lines = count_lines();
            return lines.size() >= kEvents;
        },
        120s
    );
    EXPECT_TRUE(all_ran) << lines.size() << " of " << kEvents << " events ran\n" << server.Output().substr(0, 30000);
    for (const auto& [id, ti] : instance_of) {
        EXPECT_EQ(lines[id], 1u) << id << " ran " << lines[id] << " times";
    }
    auto promoted = Client(replica_port);
    auto role = promoted->CommandBlocking({"ROLE"});
    ASSERT_TRUE(role && role->IsArray());
    EXPECT_EQ(role->elements[0].str, "master");
    auto instances = promoted->CommandBlocking({"ZCARD", "squall:triggerinstances"});
    ASSERT_TRUE(instances);
    EXPECT_EQ(instances->integer, static_cast<int64_t>(kEvents));
    std::cout << "sentinel: " << kEvents << " events, primary killed after " << answered_at_kill << " answered, "
              << retries.load() << " retried posts" << std::endl;
    EXPECT_EQ(server.Stop(), 0);
    promoted.reset();
    replica_client.reset();
    sentinel_clients.clear();
}

}  // namespace
}  // namespace squall::test
