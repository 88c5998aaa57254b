// The workflow role's failures: a task's `delay` survives a crash of the role (its due time is stored with the
// workflow, so a role that takes over launches the task when it is due — not at once, and not a whole delay after it
// started), and a task's end that the role could not store (its Redis connection lost) is handled when delivered
// again.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cutting_proxy.hpp"
#include "files.hpp"
#include "redis_server.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

void WritePack(const fs::path& data) {
    const fs::path pack = data / "packs" / "dl";
    Write(pack / "pack.yaml", "name: dl\ndescription: delay\nversion: 0.1.0\nauthor: squall\nemail: s@example.com\n");
    Write(
        pack / "actions" / "later.yaml",
        "name: later\nrunner_type: orquesta\nentry_point: workflows/later.yaml\nparameters:\n  file:\n    type: "
        "string\n    required: true\n  wait:\n    type: integer\n    default: 8\n"
    );
    Write(pack / "actions" / "workflows" / "later.yaml", R"(version: 1.0
input:
  - file
  - wait
tasks:
  first:
    action: core.local cmd="echo first >> {{ ctx('file') }}"
    next:
      - do: later
  later:
    delay: "{{ ctx('wait') }}"
    action: core.local cmd="echo later >> {{ ctx('file') }}"
)");
}

size_t CountLines(const fs::path& path) {
    std::ifstream in(path);
    size_t n = 0;
    std::string line;
    while (std::getline(in, line)) n += !line.empty();
    return n;
}

TEST(WorkflowDelayIntegrationTest, ADelayedTaskIsLaunchedWhenDueByTheRoleThatTakesOver) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    RedisServer redis;
    const fs::path d = data.path() / "api";
    WritePack(d);
    SquallProcess::Options o;
    o.data_dir = d.string();
    o.redis_url = "unix://" + redis.socket_path();
    o.extra_args = {"--roles", "api,rules,notifier,runner", "--workers", "4"};
    SquallProcess api(o);
    SquallProcess::Options w;
    w.redis_url = o.redis_url;
    w.extra_args = {"--roles", "workflow", "--listen", "127.0.0.1:0"};
    w.data_dir = (data.path() / "wf1").string();
    auto driver = std::make_unique<SquallProcess>(w);

    const fs::path file = data.path() / "out.txt";
    CliResult run = api.Cli({"run", "dl.later", "file=" + file.string(), "wait=8", "-a", "-j"});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    const std::string id = Json::parse(run.out)["id"];
    ASSERT_TRUE(WaitFor([&] { return CountLines(file) >= 1; }, 30s)) << driver->Output();
    const auto scheduled = std::chrono::steady_clock::now();  // `later` is due about 8 s from here
    // Let the role read first's end and schedule `later`, then kill it and start another.
    std::this_thread::sleep_for(1500ms);
    driver->Kill();
    driver.reset();
    w.data_dir = (data.path() / "wf2").string();
    SquallProcess successor(w);
    const auto restarted = std::chrono::steady_clock::now();
    ASSERT_TRUE(WaitFor([&] { return CountLines(file) >= 2; }, 40s)) << successor.Output();
    const auto ran = std::chrono::steady_clock::now();
    const double after_scheduling = std::chrono::duration<double>(ran - scheduled).count();
    const double after_restart = std::chrono::duration<double>(ran - restarted).count();
    // Not at once (the successor started well before it was due), and when due, not a full delay after the restart.
    EXPECT_GE(after_scheduling, 7.0) << "launched at once by the successor";
    EXPECT_LT(after_restart, 7.5) << "the delay started over in the successor (" << after_scheduling << " s)";
    Json wf;
    ASSERT_TRUE(WaitFor(
        [&] {
            CliResult got = api.Cli({"execution", "get", id, "-j"});
            wf = Json::parse(got.out, nullptr, false);
            return wf.is_object() && wf.value("status", "") == "succeeded";
        },
        30s
    )) << wf.dump(2);
    EXPECT_EQ(ReadFile(file.string()), "first\nlater\n");
}

// Found by a tester: a workflow canceled while a task waited for its `delay` (or a retry for its `delay`) stayed
// `canceling` until the delay was over, and then the task ran. Nothing new starts after a cancel (StackStorm cancels
// a workflow's delayed children): the waiting task ends `canceled` at once, and the workflow with it.
TEST(WorkflowDelayIntegrationTest, ACancelEndsADelayedTaskAndADelayedRetryBeforeTheyRun) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "all";
    WritePack(d);
    Write(
        d / "packs" / "dl" / "actions" / "retrying.yaml",
        "name: retrying\nrunner_type: orquesta\nentry_point: workflows/retrying.yaml\nparameters:\n  file:\n"
        "    type: string\n    required: true\n"
    );
    Write(d / "packs" / "dl" / "actions" / "workflows" / "retrying.yaml", R"(version: 1.0
input:
  - file
tasks:
  flaky:
    action: core.local cmd="echo try >> {{ ctx('file') }}; exit 1"
    retry:
      count: 3
      delay: 4
)");
    SquallProcess::Options o;
    o.data_dir = d.string();
    SquallProcess server(o);

    for (const std::string action : {"dl.later", "dl.retrying"}) {
        const fs::path file = data.path() / (action + ".txt");
        std::vector<std::string> args = {"run", action, "file=" + file.string(), "-a", "-j"};
        if (action == "dl.later") args.push_back("wait=4");
        CliResult run = server.Cli(args);
        ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
        const std::string id = Json::parse(run.out)["id"];
        ASSERT_TRUE(WaitFor([&] { return CountLines(file) >= 1; }, 30s)) << server.Output();
        const auto canceled = std::chrono::steady_clock::now();
        CliResult cancel = server.Cli({"execution", "cancel", id});
        ASSERT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
        Json wf;
        ASSERT_TRUE(WaitFor(
            [&] {
                CliResult got = server.Cli({"execution", "get", id, "-j"});
                wf = Json::parse(got.out, nullptr, false);
                return wf.is_object() && wf.value("status", "") == "canceled";
            },
            30s
        )) << action
           << ": " << wf.dump(2);
        EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - canceled).count(), 2.5)
            << action << ": the cancel waited for the delay";
        // Past the delay, fenced by a run started after the cancel with the same 4 s delay: once its delayed task
        // has run, the canceled one would have too.
        const fs::path fence = data.path() / (action + ".fence.txt");
        CliResult after = server.Cli({"run", "dl.later", "file=" + fence.string(), "wait=4", "-a", "-j"});
        ASSERT_EQ(after.exit_code, 0) << after.out << after.err;
        ASSERT_TRUE(WaitFor([&] { return CountLines(fence) >= 2; }, 30s)) << server.Output();
        EXPECT_EQ(CountLines(file), 1u) << action << ": " << ReadFile(file.string());
    }
}

// A task's end whose step the workflow role cannot store (its connection lost as it sends the step: a Redis restart, a
// failover, a command timeout) stays pending and is handled when it is delivered again. Before, the role acknowledged
// every event of a batch whatever became of it: the task's end was gone, and the workflow stayed `running` forever.
TEST(WorkflowRedeliveryIntegrationTest, ATaskEndWhoseStepWasNotStoredIsHandledWhenDeliveredAgain) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    RedisServer redis;
    const fs::path d = data.path() / "api";
    const fs::path pack = d / "packs" / "rd";
    Write(
        pack / "pack.yaml", "name: rd\ndescription: redelivery\nversion: 0.1.0\nauthor: squall\nemail: s@example.com\n"
    );
    Write(pack / "actions" / "two.yaml", "name: two\nrunner_type: orquesta\nentry_point: workflows/two.yaml\n");
    // `first` prints a word its command does not contain (the shell computes it): the first thing the workflow role
    // sends with it is the step that stores first's end (its published variable), which the proxy cuts.
    Write(pack / "actions" / "workflows" / "two.yaml", R"(version: 1.0
tasks:
  first:
    action: core.local cmd="echo cut$((6*7))word"
    next:
      - when: <% succeeded() %>
        publish:
          - said: <% result().stdout %>
        do: second
  second:
    action: core.local cmd="echo second"
output:
  - said: <% ctx(said) %>
)");
    SquallProcess::Options o;
    o.data_dir = d.string();
    o.redis_url = "unix://" + redis.socket_path();
    o.extra_args = {"--roles", "api,rules,notifier,runner", "--workers", "4"};
    SquallProcess api(o);
    CuttingProxy proxy(redis.socket_path(), "cut42word");
    SquallProcess::Options w;
    w.redis_url = "unix://" + proxy.path();
    w.extra_args = {"--roles", "workflow", "--listen", "127.0.0.1:0"};
    w.data_dir = (data.path() / "wf").string();
    SquallProcess role(w);

    CliResult run = api.Cli({"run", "rd.two", "-a", "-j"});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    const std::string id = Json::parse(run.out)["id"];
    Json wf;
    EXPECT_TRUE(WaitFor(
        [&] {
            CliResult got = api.Cli({"execution", "get", id, "-j"});
            wf = Json::parse(got.out, nullptr, false);
            return wf.is_object() && wf.value("status", "") == "succeeded";
        },
        60s
    )) << wf.dump(2)
       << role.Output();
    EXPECT_TRUE(proxy.cut()) << "the step storing first's end was never sent";
    EXPECT_EQ(wf["result"]["output"].value("said", ""), "cut42word") << wf.dump(2);
}

}  // namespace
}  // namespace squall::test
