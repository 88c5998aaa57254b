// Roles as separate processes sharing one Redis: the service registry (heartbeats; a process killed with -9
// disappears), runner pools (an execution waits in `scheduled` until a runner of its pool takes it) and
// deploy/multi.sh (a Redis and N processes per role, a webhook served end to end, a clean stop).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <set>

#include "files.hpp"
#include "redis_server.hpp"
#include "scale_out_support.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using namespace std::chrono_literals;

std::string HostName() {
    char buf[256] = {0};
    gethostname(buf, sizeof(buf) - 1);
    return buf;
}

/// The registry's members by id.
std::map<std::string, Json> Members(const SquallProcess& s) {
    std::map<std::string, Json> out;
    Json list = GetJson(s, "/service-registry");
    if (!list.is_array()) return out;
    for (const auto& m : list) out[m.value("id", "")] = m;
    return out;
}

class ScaleOutTest : public ::testing::Test {
protected:
    void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }
    SquallProcess::Options Opts(std::vector<std::string> args) {
        SquallProcess::Options o;
        o.data_dir = (dir_.path() / "d").string();
        o.redis_url = "unix://" + redis_.socket_path();
        o.extra_args = std::move(args);
        return o;
    }
    RedisServer redis_;
    TempDir dir_;
};

TEST_F(ScaleOutTest, RegistryShowsEveryProcessAndForgetsOneKilledWithSigkill) {
    SquallProcess api(Opts({"--roles", "api"}));
    SquallProcess runner(Opts({"--roles", "runner,gc", "--pool", "blue"}));
    const std::string api_id = HostName() + "-" + std::to_string(api.pid());
    const std::string runner_id = HostName() + "-" + std::to_string(runner.pid());
    std::map<std::string, Json> members;
    ASSERT_TRUE(WaitFor(
        [&] {
            members = Members(api);
            return members.count(api_id) && members.count(runner_id);
        },
        20s
    )) << Json(members).dump(2);
    const Json& r = members[runner_id];
    EXPECT_EQ(r["roles"], Json::array({"runner", "gc"}));
    EXPECT_EQ(r["pool"], "blue");
    EXPECT_EQ(r["pid"], runner.pid());
    EXPECT_EQ(r["hostname"], HostName());
    EXPECT_EQ(members[api_id]["roles"], Json::array({"api"}));
    EXPECT_EQ(members[api_id]["pool"], "");
    EXPECT_EQ(members[api_id]["listen"], "127.0.0.1:" + std::to_string(api.port()));
    EXPECT_FALSE(r.value("started_at", "").empty());
    // The heartbeat moves last_beat on.
    const std::string first_beat = r["last_beat"];
    ASSERT_TRUE(WaitFor([&] { return Members(api)[runner_id].value("last_beat", "") > first_beat; }, 10s));

    // StackStorm's shapes (st2 service-registry group list / member list): a group is a role.
    Json groups = GetJson(api, "/service_registry/groups");
    std::set<std::string> names(groups["groups"].begin(), groups["groups"].end());
    EXPECT_EQ(names, (std::set<std::string>{"api", "gc", "runner"})) << groups.dump();
    Json runners = GetJson(api, "/service_registry/groups/runner/members");
    ASSERT_EQ(runners["members"].size(), 1u) << runners.dump();
    EXPECT_EQ(runners["members"][0]["group_id"], "runner");
    EXPECT_EQ(runners["members"][0]["member_id"], runner_id);
    EXPECT_EQ(runners["members"][0]["capabilities"]["pid"], runner.pid());
    EXPECT_EQ(GetJson(api, "/service_registries/groups/runner/members"), runners) << "the plural path answers too";
    EXPECT_EQ(Call(api, "GET", "/api/v1/service_registry/groups/timers/members").status, 404);

    // The CLI lists them too.
    CliResult list = api.Cli({"service-registry", "list"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find(runner_id), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("blue"), std::string::npos) << list.out;
    CliResult member_list = api.Cli({"service-registry", "member", "list", "--group-id", "runner"});
    ASSERT_EQ(member_list.exit_code, 0) << member_list.err;
    EXPECT_NE(member_list.out.find(runner_id), std::string::npos) << member_list.out;

    // kill -9: no goodbye; the member expires on its own.
    runner.Kill();
    ASSERT_TRUE(WaitFor([&] { return !Members(api).count(runner_id); }, 30s));
    EXPECT_TRUE(Members(api).count(api_id));
    // A clean stop says goodbye at once.
    SquallProcess second(Opts({"--roles", "notifier"}));
    const std::string second_id = HostName() + "-" + std::to_string(second.pid());
    ASSERT_TRUE(WaitFor([&] { return Members(api).count(second_id) == 1; }, 20s));
    EXPECT_EQ(second.Stop(), 0);
    EXPECT_EQ(Members(api).count(second_id), 0u);
}

TEST_F(ScaleOutTest, AnExecutionWaitsScheduledUntilARunnerOfItsPoolTakesIt) {
    // A pack whose action runs only in the pool `gpu`.
    const auto pack = dir_.path() / "d" / "packs" / "pooled";
    Write(pack / "pack.yaml", "---\nref: pooled\nname: pooled\nversion: 0.1.0\nauthor: t\n");
    Write(
        pack / "actions" / "where.yaml",
        "---\nname: where\nrunner_type: local-shell-cmd\npool: gpu\nparameters:\n  cmd:\n    default: echo on-gpu\n"
    );
    SquallProcess main(Opts({}));  // every role; its runner serves the default pool
    std::string why;
    const std::string id = Start(main, "pooled.where", Json::object(), &why);
    ASSERT_FALSE(id.empty()) << why;
    const std::string plain = Start(main, "core.local", {{"cmd", "echo default"}}, &why);
    ASSERT_FALSE(plain.empty()) << why;
    ASSERT_TRUE(WaitFor([&] { return GetJson(main, "/executions/" + plain).value("status", "") == "succeeded"; }, 30s));
    Json e = GetJson(main, "/executions/" + id);
    EXPECT_EQ(e.value("pool", ""), "gpu");
    EXPECT_EQ(e.value("status", ""), "scheduled") << "no runner of pool gpu yet: " << e.dump(2);
    Json pools = GetJson(main, "/pools");
    auto pool_named = [&](const std::string& name) {
        for (const auto& p : pools)
            if (p.value("name", "") == name) return p;
        return Json();
    };
    EXPECT_EQ(pool_named("default").value("live_runners", 0), 1) << pools.dump();
    EXPECT_TRUE(pool_named("gpu").is_null()) << pools.dump();

    SquallProcess gpu(Opts({"--roles", "runner", "--pool", "gpu"}));
    const std::string gpu_id = HostName() + "-" + std::to_string(gpu.pid());
    ASSERT_TRUE(WaitFor([&] { return GetJson(main, "/executions/" + id).value("status", "") == "succeeded"; }, 30s))
        << GetJson(main, "/executions/" + id).dump(2) << gpu.Output();
    e = GetJson(main, "/executions/" + id);
    EXPECT_EQ(e["result"].value("stdout", ""), "on-gpu");
    EXPECT_EQ(e["liveaction"]["runner_info"].value("hostname", ""), gpu_id + "-runner-gpu");
    pools = GetJson(main, "/pools");
    ASSERT_FALSE(pool_named("gpu").is_null()) << pools.dump();
    EXPECT_EQ(pool_named("gpu")["live_runners"], 1);
    EXPECT_EQ(pool_named("gpu")["runners"][0]["id"], gpu_id);
    CliResult cli = main.Cli({"pool", "list"});
    ASSERT_EQ(cli.exit_code, 0) << cli.err;
    EXPECT_NE(cli.out.find("gpu"), std::string::npos) << cli.out;
}

// core.noop's result is known without running: it is created ended, by whichever process creates it, with no runner
// anywhere (docs/decisions.md, "Settled at creation"). A noop action of a named pool still waits for its pool's
// runner, and a shell action for a runner.
TEST_F(ScaleOutTest, ANoopEndsAtItsCreationWhileOtherActionsWaitForARunner) {
    const auto pack = dir_.path() / "d" / "packs" / "pooled";
    Write(pack / "pack.yaml", "---\nref: pooled\nname: pooled\nversion: 0.1.0\nauthor: t\n");
    Write(pack / "actions" / "nothing.yaml", "---\nname: nothing\nrunner_type: noop\npool: gpu\n");
    SquallProcess api(Opts({"--roles", "api"}));
    std::string why;
    const std::string noop = Start(api, "core.noop", Json::object(), &why);
    ASSERT_FALSE(noop.empty()) << why;
    const std::string pooled = Start(api, "pooled.nothing", Json::object(), &why);
    ASSERT_FALSE(pooled.empty()) << why;
    const std::string shell = Start(api, "core.local", {{"cmd", "echo ran"}}, &why);
    ASSERT_FALSE(shell.empty()) << why;
    Json e = GetJson(api, "/executions/" + noop);
    EXPECT_EQ(e.value("status", ""), "succeeded") << e.dump(2);
    EXPECT_EQ(e["result"].value("return_code", -1), 0) << e.dump(2);
    std::vector<std::string> log;
    for (const auto& l : e["log"]) log.push_back(l.value("status", ""));
    EXPECT_EQ(log, (std::vector<std::string>{"requested", "scheduled", "running", "succeeded"}));
    EXPECT_EQ(GetJson(api, "/executions/" + pooled).value("status", ""), "scheduled");
    EXPECT_EQ(GetJson(api, "/executions/" + shell).value("status", ""), "scheduled");

    SquallProcess runner(Opts({"--roles", "runner"}));
    ASSERT_TRUE(WaitFor([&] { return GetJson(api, "/executions/" + shell).value("status", "") == "succeeded"; }, 30s))
        << GetJson(api, "/executions/" + shell).dump(2) << runner.Output();
    EXPECT_EQ(GetJson(api, "/executions/" + pooled).value("status", ""), "scheduled") << "no runner of pool gpu";
}

/// Runs `argv` (argv[0] an absolute path) with `env` added to this process's environment, output to files; waits up
/// to `deadline` (then SIGKILL, exit code -1).
CliResult RunCommand(
    const std::vector<std::string>& argv, const std::map<std::string, std::string>& env, std::chrono::seconds deadline
) {
    TempDir dir;
    const std::string out = (dir.path() / "out").string();
    const std::string err = (dir.path() / "err").string();
    const pid_t pid = fork();
    if (pid == 0) {
        for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);  // NOLINT(concurrency-mt-unsafe): child
        const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int in = open("/dev/null", O_RDONLY);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        std::vector<char*> args;
        std::vector<std::string> copy = argv;
        for (auto& a : copy) args.push_back(a.data());
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    CliResult r;
    int status = 0;
    if (!WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, deadline)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    } else {
        r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    r.out = ReadFile(out);
    r.err = ReadFile(err);
    return r;
}

/// A loopback socket bound to `port` (0: any free one), or -1.
int BindLoopback(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {  // NOLINT: the sockets API
        close(fd);
        return -1;
    }
    return fd;
}

/// A port P such that P and P + 1 are both free now: deploy/multi.sh's api processes listen on PORT + i - 1.
/// (Checking P alone failed when P + 1 was the local port of some other test's client connection.)
int FreePortPair() {
    for (int attempt = 0; attempt < 100; ++attempt) {
        const int first = BindLoopback(0);
        sockaddr_in a{};
        socklen_t len = sizeof(a);
        getsockname(first, reinterpret_cast<sockaddr*>(&a), &len);  // NOLINT: the sockets API
        const int port = ntohs(a.sin_port);
        const int second = port < 65535 ? BindLoopback(port + 1) : -1;
        close(first);
        if (second >= 0) {
            close(second);
            return port;
        }
    }
    return 0;
}

TEST_F(ScaleOutTest, MultiScriptStartsEveryRoleServesAWebhookAndStops) {
    const std::string dir = (dir_.path() / "multi").string();
    const int port = FreePortPair();
    ASSERT_GT(port, 0);
    const std::map<std::string, std::string> env = {
        {"SQUALL_BIN", SquallProcess::Binary()},
        {"SQUALL_MULTI_DIR", dir},
        {"SQUALL_MULTI_PORT", std::to_string(port)}};
    const std::string script = std::string(SQUALL_SOURCE_DIR) + "/deploy/multi.sh";
    CliResult started = RunCommand({"/bin/bash", script, "start", "2"}, env, 180s);
    // Whatever happens below, nothing of this test stays behind.
    struct Stopper {
        std::function<void()> f;
        ~Stopper() { f(); }
    } stopper{[&] { RunCommand({"/bin/bash", script, "stop"}, env, 120s); }};
    ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
    EXPECT_NE(started.out.find("http://127.0.0.1:" + std::to_string(port + 1) + "/api/v1"), std::string::npos);

    // Two api processes; each answers, with the same key (one data dir).
    const std::string key = ReadFile(dir + "/data/admin-api-key").substr(0, 64);
    auto call = [&](int p, const std::string& method, const std::string& path, const Json& body) {
        httplib::Client c("127.0.0.1", p);
        c.set_read_timeout(30, 0);
        httplib::Headers h = {{"St2-Api-Key", key.substr(0, key.find('\n'))}};
        auto r = method == "GET" ? c.Get(path.c_str(), h) : c.Post(path.c_str(), h, body.dump(), "application/json");
        return r ? std::make_pair(r->status, Json::parse(r->body, nullptr, false)) : std::make_pair(-1, Json());
    };
    // Every role runs twice: 16 members.
    Json members;
    ASSERT_TRUE(WaitFor(
        [&] {
            members = call(port, "GET", "/api/v1/service-registry", Json()).second;
            return members.is_array() && members.size() == 16;
        },
        60s
    )) << members.dump(2);
    std::map<std::string, int> per_role;
    for (const auto& m : members)
        for (const auto& r : m["roles"]) per_role[r.get<std::string>()] += 1;
    for (const std::string role : {"api", "sensors", "rules", "runner", "workflow", "timers", "notifier", "gc"})
        EXPECT_EQ(per_role[role], 2) << role;

    // webhook → rule → core.local, through separate processes.
    const std::string out_file = dir + "/hook.out";
    auto rule = call(
        port,
        "POST",
        "/api/v1/rules",
        {{"name", "multi"},
         {"pack", "t"},
         {"trigger", {{"type", "core.st2.webhook"}, {"parameters", {{"url", "multi"}}}}},
         {"action", {{"ref", "core.local"}, {"parameters", {{"cmd", "echo {{ trigger.body.n }} >> " + out_file}}}}}}
    );
    ASSERT_EQ(rule.first, 201) << rule.second.dump();
    // The second api sees the rule's webhook (content is shared through Redis).
    std::pair<int, Json> hook;
    ASSERT_TRUE(WaitFor(
        [&] {
            hook = call(port + 1, "POST", "/api/v1/webhooks/multi", {{"n", 42}});
            return hook.first == 202;
        },
        20s
    )) << hook.first
       << " " << hook.second.dump();
    ASSERT_TRUE(WaitFor([&] { return ReadFile(out_file) == "42\n"; }, 60s)) << ReadFile(out_file);
    Json list;
    ASSERT_TRUE(WaitFor(
        [&] {
            list = call(port, "GET", "/api/v1/executions?action=core.local", Json()).second;
            return list.is_array() && list.size() == 1 && list[0].value("status", "") == "succeeded";
        },
        30s
    )) << list.dump(2);

    // A clean stop: every process exits, nothing stays behind.
    std::vector<pid_t> pids;
    for (const auto& f : std::filesystem::directory_iterator(dir + "/run"))
        pids.push_back(std::stoi(ReadFile(f.path().string())));
    ASSERT_EQ(pids.size(), 17u);  // 16 squall processes and Redis
    CliResult stopped = RunCommand({"/bin/bash", script, "stop"}, env, 120s);
    ASSERT_EQ(stopped.exit_code, 0) << stopped.out << stopped.err;
    EXPECT_EQ(stopped.err.find("killed"), std::string::npos) << "a process needed SIGKILL: " << stopped.err;
    for (pid_t p : pids) EXPECT_NE(kill(p, 0), 0) << "pid " << p << " still runs";
    // Each squall process logged its clean exit.
    for (const auto& f : std::filesystem::directory_iterator(dir + "/logs")) {
        if (f.path().filename() == "redis.log") continue;
        EXPECT_NE(ReadFile(f.path().string()).find("exit_code=0"), std::string::npos) << f.path();
    }
}

}  // namespace
}  // namespace squall::test
