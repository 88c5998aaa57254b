// Action-chains end to end with the real binary: a pack's `runner_type: action-chain` actions run in the `workflow`
// role, every task a child execution of the chain (parent/children links, context.chain), with StackStorm's result
// shape ({tasks, published}); failures, top-level errors, cancel, pause/resume, and a workflow role killed with
// SIGKILL in the middle of a chain replaced by another that finishes it without running a finished task again.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include <httplib.h>

#include "files.hpp"
#include "redis_server.hpp"
#include "squall/core/model/model.hpp"
#include "squall_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"
#include "workflow_cli.hpp"

namespace squall::test {
namespace {

using core::Json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

void Action(const fs::path& pack, const std::string& name, const std::string& params) {
    Write(
        pack / "actions" / (name + ".yaml"),
        "name: " + name + "\nrunner_type: action-chain\nentry_point: chains/" + name + ".yaml\nparameters:\n" + params
    );
}

/// The pack `cht` under DATA/packs, with chains modelled on StackStorm's `examples` pack.
void WritePack(const fs::path& data) {
    const fs::path pack = data / "packs" / "cht";
    Write(
        pack / "pack.yaml",
        "name: cht\ndescription: chain tests\nversion: 0.1.0\nauthor: squall\nemail: s@example.com\n"
    );
    // echochain: three tasks in sequence, c4 on any failure; c2 names its parent (the chain's execution).
    Action(pack, "echochain", "  file:\n    type: string\n    required: true\n");
    Write(pack / "actions" / "chains" / "echochain.yaml", R"(---
chain:
  - name: c1
    ref: core.local
    params:
      cmd: "echo c1 >> {{ file }}; echo c1"
    on-success: c2
    on-failure: c4
  - name: c2
    ref: core.local
    params:
      cmd: "echo c2 >> {{ file }}; echo \"c2: parent exec is {{ action_context.parent.execution_id }}.\""
    on-success: c3
    on-failure: c4
  - name: c3
    ref: core.local
    params:
      cmd: "echo c3 >> {{ file }}; echo c3"
    on-failure: c4
  - name: c4
    ref: core.local
    params:
      cmd: "echo fail c4"
default: c1
)");
    // chain-sequential: each task publishes a greeting built on the previous one.
    Action(pack, "sequential", "  name:\n    type: string\n    default: Stanley\n");
    Write(pack / "actions" / "chains" / "sequential.yaml", R"(chain:
  - name: task1
    ref: core.echo
    params:
      message: "{{ name }}"
    publish:
      greeting: "{{ task1.stdout }}"
    on-success: task2
  - name: task2
    ref: core.echo
    params:
      message: "All your base are belong to us!"
    publish:
      greeting: "{{ greeting }}, {{ task2.stdout }}"
    on-success: task3
  - name: task3
    ref: core.echo
    params:
      message: "{{ greeting }}"
    publish:
      greeting: "{{ task3.stdout }}"
)");
    // publish_data: vars from the datastore and the parameters, a published object, a typed parameter.
    Action(pack, "publish_data", "  port:\n    type: integer\n    default: 9101\n");
    Write(pack / "actions" / "chains" / "publish_data.yaml", R"(vars:
  domain: "{{ st2kv.system.chain_domain }}"
chain:
  - name: get_host
    ref: core.local
    params:
      cmd: "echo web1"
    publish:
      host: "{{ get_host.stdout }}"
      fqdn: "{{ get_host.stdout }}{% if domain %}.{{ domain }}{% endif %}"
      paths:
        api: ["v1/actions", "v1/triggers"]
        auth_port: "{{ port + 1 }}"
    on-success: say
  - name: say
    ref: core.local
    params:
      cmd: "echo host={{ host }} fqdn={{ fqdn }} api={{ paths.api[0] }} port={{ paths.auth_port }}"
)");
    // A failure handled by on-failure (the chain succeeds), and one that is not (the chain fails).
    Action(pack, "handled", "  file:\n    type: string\n    required: true\n");
    Write(pack / "actions" / "chains" / "handled.yaml", R"(chain:
  - name: bad
    ref: core.local
    params: {cmd: "echo bad >> {{ file }}; echo broken >&2; exit 3"}
    publish:
      why: "{{ bad.stderr }}"
    on-success: never
    on-failure: cleanup
  - name: cleanup
    ref: core.local
    params: {cmd: "echo cleanup {{ why }} >> {{ file }}"}
  - name: never
    ref: core.local
    params: {cmd: "echo never >> {{ file }}"}
)");
    Action(pack, "unhandled", "  file:\n    type: string\n    required: true\n");
    Write(pack / "actions" / "chains" / "unhandled.yaml", R"(chain:
  - name: ok
    ref: core.local
    params: {cmd: "echo ok >> {{ file }}"}
    on-success: bad
  - name: bad
    ref: core.local
    params: {cmd: "exit 4"}
    on-success: never
  - name: never
    ref: core.local
    params: {cmd: "echo never >> {{ file }}"}
)");
    // echochain_top_level_failure: an action that does not exist stops the chain with a top-level error.
    Action(pack, "top_level_failure", "  {}\n");
    Write(pack / "actions" / "chains" / "top_level_failure.yaml", R"(chain:
  - name: c1
    ref: core.local
    parameters: {cmd: "echo c1"}
    on-success: c2
    on-failure: c4
  - name: c2
    ref: core.invalid-action
    on-success: c3
  - name: c3
    ref: core.local
    parameters: {cmd: "echo c3"}
  - name: c4
    ref: core.noop
)");
    // A chain that does not load: the execution fails before any task, naming the file, line and field.
    Action(pack, "broken", "  {}\n");
    Write(
        pack / "actions" / "chains" / "broken.yaml", "chain:\n  - name: c1\n    ref: core.noop\n    on-success: c9\n"
    );
    // `n` tasks in sequence that each append a line to `file` and sleep `pause` (a loop through publish).
    Action(
        pack,
        "lines",
        "  file:\n    type: string\n    required: true\n  n:\n    type: integer\n    default: 5\n  pause:\n    type: "
        "number\n    default: 0\n"
    );
    Write(pack / "actions" / "chains" / "lines.yaml", R"(vars:
  i: 0
chain:
  - name: step
    ref: core.local
    params:
      cmd: "echo step{{ i }} >> {{ file }}; sleep {{ pause }}; test {{ i + 1 }} -lt {{ n }}"
    publish:
      i: "{{ i + 1 }}"
    on-success: step
    on-failure: done
  - name: done
    ref: core.local
    params:
      cmd: "echo done{{ i }} >> {{ file }}"
)");
    // launch_refused: c1's parameters fail cht.strict's schema, so the service refuses it: the task failed and
    // on-failure runs, reading the datastore by its bare name and the pack's config.
    Write(pack / "config.schema.yaml", "greeting:\n  type: string\n  default: hello\n");
    Write(
        pack / "actions" / "strict.yaml",
        "name: strict\nrunner_type: local-shell-cmd\nparameters:\n  count:\n    type: integer\n  cmd:\n    type: "
        "string\n    default: \"true\"\n"
    );
    Action(pack, "launch_refused", "  file:\n    type: string\n    required: true\n");
    Write(pack / "actions" / "chains" / "launch_refused.yaml", R"(chain:
  - name: c1
    ref: cht.strict
    params: {count: "lots"}
    on-success: c2
    on-failure: c3
  - name: c2
    ref: core.noop
  - name: c3
    ref: core.local
    params:
      cmd: "echo handled {{ system.region }} {{ config_context.greeting }} >> {{ file }}"
)");
}

std::vector<std::string> TaskNames(const Json& chain) {
    std::vector<std::string> out;
    for (const auto& t : chain["result"].value("tasks", Json::array())) out.push_back(t.value("name", ""));
    return out;
}

TEST(ChainIntegrationTest, RunsStackStormStyleChainsWithTasksAsChildExecutions) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});

    // echochain: c1, c2, c3 in order; c2 names the chain's execution; each task a child execution.
    const std::string file = (data.path() / "echo.txt").string();
    Json chain = RunSync(server, {"cht.echochain", "file=" + file});
    ASSERT_EQ(chain["status"], "succeeded") << chain.dump(2) << server.Output();
    EXPECT_EQ(TaskNames(chain), (std::vector<std::string>{"c1", "c2", "c3"})) << chain.dump(2);
    EXPECT_EQ(ReadFile(file), "c1\nc2\nc3\n");
    const Json& tasks = chain["result"]["tasks"];
    EXPECT_EQ(tasks[1]["result"]["stdout"], "c2: parent exec is " + chain["id"].get<std::string>() + ".")
        << tasks.dump(2);
    EXPECT_EQ(chain["result"]["published"], Json::object());
    ASSERT_EQ(chain["children"].size(), 3u) << chain.dump(2);
    {
        // The list shows a workflow's children as GET of the execution does (it answered [], found by a tester).
        httplib::Client c(server.host(), server.port());
        const std::string path = "/api/v1/executions?action=cht.echochain&include_attributes=id,children";
        httplib::Result listed = c.Get(path.c_str(), {{"St2-Api-Key", server.api_key()}});
        ASSERT_TRUE(listed && listed->status == 200);
        const Json items = Json::parse(listed->body, nullptr, false);
        ASSERT_TRUE(items.is_array() && !items.empty()) << listed->body;
        EXPECT_EQ(items[0]["children"], chain["children"]) << listed->body;
    }
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(tasks[i]["execution_id"], chain["children"][i]);
        EXPECT_EQ(tasks[i]["state"], "succeeded");
        Json child = GetExecution(server, chain["children"][i]);
        EXPECT_EQ(child["parent"], chain["id"]);
        EXPECT_EQ(child["context"]["chain"]["name"], tasks[i]["name"]) << child.dump(2);
        EXPECT_EQ(child["context"]["parent"]["execution_id"], chain["id"]);
        EXPECT_EQ(child["action"]["ref"], "core.local");
    }
    // --show-tasks lists the chain's tasks with their names.
    CliResult shown = server.Cli({"execution", "get", chain["id"], "--show-tasks", "-j"});
    Json with_tasks = Json::parse(shown.out, nullptr, false);
    ASSERT_TRUE(with_tasks.is_object()) << shown.out << shown.err;
    ASSERT_EQ(with_tasks["tasks"].size(), 3u);
    EXPECT_EQ(with_tasks["tasks"][2]["task"], "c3");
    EXPECT_EQ(with_tasks["tasks"][2]["item"], "");

    // chain-sequential: published greetings.
    Json seq = RunSync(server, {"cht.sequential"});
    ASSERT_EQ(seq["status"], "succeeded") << seq.dump(2);
    EXPECT_EQ(seq["result"]["published"]["greeting"], "Stanley, All your base are belong to us!") << seq.dump(2);
    EXPECT_EQ(seq["result"]["tasks"][2]["result"]["stdout"], "Stanley, All your base are belong to us!");

    // publish_data: vars from the datastore, a published object, arithmetic on a typed parameter.
    ASSERT_EQ(server.Cli({"key", "set", "chain_domain", "example.org"}).exit_code, 0);
    Json pub = RunSync(server, {"cht.publish_data"});
    ASSERT_EQ(pub["status"], "succeeded") << pub.dump(2);
    EXPECT_EQ(
        pub["result"]["published"],
        (Json{
            {"host", "web1"},
            {"fqdn", "web1.example.org"},
            {"paths", {{"api", {"v1/actions", "v1/triggers"}}, {"auth_port", 9102}}}})
    ) << pub.dump(2);
    EXPECT_EQ(
        pub["result"]["tasks"][1]["result"]["stdout"], "host=web1 fqdn=web1.example.org api=v1/actions port=9102"
    );
}

TEST(ChainIntegrationTest, FailuresFollowOnFailureOrFailTheChain) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});

    // Handled: the failed task's publish reaches the handler; the chain ends with the handler's success.
    const std::string h = (data.path() / "handled.txt").string();
    Json handled = RunSync(server, {"cht.handled", "file=" + h});
    EXPECT_EQ(handled["status"], "succeeded") << handled.dump(2);
    EXPECT_EQ(TaskNames(handled), (std::vector<std::string>{"bad", "cleanup"}));
    EXPECT_EQ(handled["result"]["tasks"][0]["state"], "failed");
    EXPECT_EQ(handled["result"]["tasks"][0]["result"]["return_code"], 3);
    EXPECT_EQ(ReadFile(h), "bad\ncleanup broken\n");

    // Unhandled: the chain fails with the failing task's status; the task after it never runs.
    const std::string u = (data.path() / "unhandled.txt").string();
    Json unhandled = RunSync(server, {"cht.unhandled", "file=" + u});
    EXPECT_EQ(unhandled["status"], "failed") << unhandled.dump(2);
    EXPECT_EQ(TaskNames(unhandled), (std::vector<std::string>{"ok", "bad"}));
    EXPECT_EQ(ReadFile(u), "ok\n");

    // An action that does not exist: a top-level error, no on-failure.
    Json top = RunSync(server, {"cht.top_level_failure"});
    EXPECT_EQ(top["status"], "failed") << top.dump(2);
    EXPECT_EQ(TaskNames(top), (std::vector<std::string>{"c1"}));
    EXPECT_NE(top["result"].value("error", "").find("Failed to run task \"c2\""), std::string::npos) << top.dump(2);
    EXPECT_NE(top["result"].value("error", "").find("core.invalid-action"), std::string::npos) << top.dump(2);
    EXPECT_EQ(top["children"].size(), 1u);

    // A chain that does not load: failed before any task, the error names the file, line and field.
    Json broken = RunSync(server, {"cht.broken"});
    EXPECT_EQ(broken["status"], "failed") << broken.dump(2);
    const std::string error = broken["result"].value("error", "");
    EXPECT_NE(
        error.find("broken.yaml:4:5: chain[0].on-success: Unable to find node with name \"c9\""), std::string::npos
    ) << broken.dump(2);
    EXPECT_EQ(broken.value("children", Json::array()).size(), 0u);
}

/// Cancel: the running task finishes, nothing starts after it, the chain ends canceled. Pause/resume: the next task
/// waits while paused, then the chain goes on to its end.
/// A task the service refuses at launch follows on-failure (StackStorm's runner), and task parameters read
/// system.<key> and config_context.
TEST(ChainIntegrationTest, ATaskRefusedAtLaunchFollowsOnFailure) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    CliResult key = server.Cli({"key", "set", "region", "eu-west"});
    ASSERT_EQ(key.exit_code, 0) << key.out << key.err;
    const std::string file = (data.path() / "refused.txt").string();
    Json chain = RunSync(server, {"cht.launch_refused", "file=" + file});
    EXPECT_EQ(chain["status"], "succeeded") << chain.dump(2);
    EXPECT_EQ(TaskNames(chain), (std::vector<std::string>{"c1", "c3"})) << chain.dump(2);
    const Json& c1 = chain["result"]["tasks"][0];
    EXPECT_TRUE(c1["execution_id"].is_null()) << c1.dump(2);
    EXPECT_EQ(c1["state"], "failed");
    EXPECT_EQ(c1["result"].value("error", "").rfind("Failed running task \"c1\". ", 0), 0u) << c1.dump(2);
    EXPECT_NE(c1["result"].value("error", "").find("count"), std::string::npos) << c1.dump(2);
    EXPECT_TRUE(c1["result"].contains("traceback")) << c1.dump(2);
    EXPECT_EQ(ReadFile(file), "handled eu-west hello\n");
    EXPECT_EQ(chain["children"].size(), 1u) << chain.dump(2);
}

TEST(ChainIntegrationTest, CancelPauseAndResume) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});

    const std::string file = (data.path() / "cancel.txt").string();
    const std::string id = StartAsync(server, {"cht.lines", "file=" + file, "n=30", "pause=0.3"});
    ASSERT_TRUE(WaitFor([&] { return CountLines(file) >= 2; }, 30s));
    CliResult cancel = server.Cli({"execution", "cancel", id});
    ASSERT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
    const size_t at_cancel = CountLines(file);
    Json chain = WaitStatus(server, id, {"canceled"});
    EXPECT_FALSE(WaitFor([&] { return CountLines(file) > at_cancel + 1; }, 1s)) << ReadFile(file);
    EXPECT_LT(CountLines(file), 30u);
    EXPECT_EQ(chain["result"]["tasks"].size(), chain["children"].size()) << chain.dump(2);

    const std::string pfile = (data.path() / "pause.txt").string();
    const std::string pid = StartAsync(server, {"cht.lines", "file=" + pfile, "n=6", "pause=0.2"});
    ASSERT_TRUE(WaitFor([&] { return CountLines(pfile) >= 2; }, 30s));
    CliResult pause = server.Cli({"execution", "pause", pid});
    ASSERT_EQ(pause.exit_code, 0) << pause.out << pause.err;
    WaitStatus(server, pid, {"paused"});
    const size_t at_pause = CountLines(pfile);
    EXPECT_FALSE(WaitFor([&] { return CountLines(pfile) != at_pause; }, 1s)) << "a task started while paused";
    EXPECT_LT(at_pause, 7u);
    CliResult resume = server.Cli({"execution", "resume", pid});
    ASSERT_EQ(resume.exit_code, 0) << resume.out << resume.err;
    Json done = WaitStatus(server, pid, {"succeeded", "failed"});
    EXPECT_EQ(done["status"], "succeeded") << done.dump(2);
    EXPECT_EQ(ReadFile(pfile), "step0\nstep1\nstep2\nstep3\nstep4\nstep5\ndone6\n");
    EXPECT_EQ(done["result"]["published"]["i"], 6);
}

/// kill -9 of the process that drives chains at random moments: another `workflow` role finishes each chain with
/// the same result, and no task that had finished runs again (one line per task).
TEST(ChainIntegrationTest, AKilledWorkflowRoleIsReplacedWithoutRerunningFinishedTasks) {
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

    std::mt19937 rng(std::random_device{}());
    const int kRuns = KillRuns(6);  // SQUALL_KILL_RUNS=50 for a long run
    const int kSteps = 10;
    int generation = 0;
    for (int run = 0; run < kRuns; ++run) {
        w.data_dir = (data.path() / ("wf" + std::to_string(generation++))).string();
        auto driver = std::make_unique<SquallProcess>(w);
        const std::string file = (data.path() / ("out" + std::to_string(run) + ".txt")).string();
        const std::string id =
            StartAsync(api, {"cht.lines", "file=" + file, "n=" + std::to_string(kSteps), "pause=0.05"});
        ASSERT_FALSE(id.empty());
        const size_t kill_at = run == 0 ? 0 : std::uniform_int_distribution<size_t>(1, kSteps - 1)(rng);
        ASSERT_TRUE(WaitFor([&] { return CountLines(file) >= kill_at; }, 30s)) << driver->Output();
        std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 40)(rng)));
        driver->Kill();
        driver.reset();
        w.data_dir = (data.path() / ("wf" + std::to_string(generation++))).string();
        SquallProcess successor(w);
        Json chain = WaitStatus(api, id, {"succeeded", "failed"});
        EXPECT_EQ(chain["status"], "succeeded") << chain.dump(2) << successor.Output();
        EXPECT_EQ(chain["result"]["published"]["i"], kSteps) << chain.dump(2);
        EXPECT_EQ(chain["result"]["tasks"].size(), static_cast<size_t>(kSteps + 1));
        EXPECT_EQ(CountLines(file), static_cast<size_t>(kSteps + 1)) << "killed after " << kill_at << " lines:\n"
                                                                     << ReadFile(file);
        successor.Stop();
    }
    std::cout << "[ kill -9  ] " << kRuns << " runs, each finished by another workflow role\n";
}

}  // namespace
}  // namespace squall::test
