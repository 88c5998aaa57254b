// Cancel, pause and resume cascade down to subworkflows, end to end with the real binary: a workflow (Orquesta or
// action-chain) whose task is another workflow; canceling the parent cancels the subworkflow (its running task
// finishes, nothing new starts in either); pausing the parent pauses the subworkflow and the parent is paused once the
// subworkflow is; resuming the parent resumes both to the end.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "files.hpp"
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

/// The pack `casc`: `casc.inner` appends `n` lines to `file`, one task each taking `pause` seconds; `casc.outer`
/// (Orquesta) and `casc.chain_outer` (action-chain) run it as their first task, then append "after".
void WritePack(const fs::path& data) {
    const fs::path pack = data / "packs" / "casc";
    Write(
        pack / "pack.yaml", "name: casc\ndescription: cascade\nversion: 0.1.0\nauthor: squall\nemail: s@example.com\n"
    );
    const std::string params =
        "parameters:\n  file:\n    type: string\n    required: true\n  n:\n    type: integer\n    default: 10\n  "
        "pause:\n    type: number\n    default: 0.2\n";
    Write(
        pack / "actions" / "inner.yaml",
        "name: inner\nrunner_type: orquesta\nentry_point: workflows/inner.yaml\n" + params
    );
    Write(pack / "actions" / "workflows" / "inner.yaml", R"(version: 1.0
input:
  - file
  - n
  - pause
vars:
  - i: 0
tasks:
  step:
    action: core.local
    input:
      cmd: "echo inner{{ ctx('i') }} >> {{ ctx('file') }}; sleep {{ ctx('pause') }}"
    next:
      - when: "{{ succeeded() and ctx('i') + 1 < ctx('n') }}"
        publish: i="{{ ctx('i') + 1 }}"
        do: step
output:
  - steps: "{{ ctx('i') + 1 }}"
)");
    Write(
        pack / "actions" / "outer.yaml",
        "name: outer\nrunner_type: orquesta\nentry_point: workflows/outer.yaml\n" + params
    );
    Write(pack / "actions" / "workflows" / "outer.yaml", R"(version: 1.0
input:
  - file
  - n
  - pause
tasks:
  sub:
    action: casc.inner
    input:
      file: "{{ ctx('file') }}"
      n: "{{ ctx('n') }}"
      pause: "{{ ctx('pause') }}"
    next:
      - when: "{{ succeeded() }}"
        publish: steps="{{ result().output.steps }}"
        do: after
  after:
    action: core.local cmd="echo after >> {{ ctx('file') }}"
output:
  - steps: "{{ ctx('steps') }}"
)");
    Write(
        pack / "actions" / "chain_outer.yaml",
        "name: chain_outer\nrunner_type: action-chain\nentry_point: chains/outer.yaml\n" + params
    );
    Write(pack / "actions" / "chains" / "outer.yaml", R"(chain:
  - name: sub
    ref: casc.inner
    params: {file: "{{ file }}", n: "{{ n }}", pause: "{{ pause }}"}
    publish:
      steps: "{{ sub.output.steps }}"
    on-success: after
  - name: after
    ref: core.local
    params: {cmd: "echo after >> {{ file }}"}
)");
}

Json WaitStatus(const SquallProcess& server, const std::string& id, const std::string& status) {
    return WaitStatus(server, id, std::vector<std::string>{status});
}

/// The subworkflow: the parent's first child, once it exists.
std::string Subworkflow(const SquallProcess& server, const std::string& parent) {
    std::string sub;
    EXPECT_TRUE(WaitFor(
        [&] {
            Json p = GetExecution(server, parent);
            if (p.value("children", Json::array()).empty()) return false;
            sub = p["children"][0];
            return true;
        },
        30s
    ));
    return sub;
}

void CancelCascades(const std::string& action) {
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    const fs::path file = data.path() / "out.txt";
    const std::string id = StartAsync(server, {action, "file=" + file.string(), "n=30", "pause=0.3"});
    ASSERT_TRUE(WaitFor([&] { return CountLines(file.string()) >= 2; }, 30s));
    const std::string sub = Subworkflow(server, id);
    CliResult cancel = server.Cli({"execution", "cancel", id});
    ASSERT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
    const size_t at_cancel = CountLines(file.string());
    WaitStatus(server, sub, "canceled");
    Json parent = WaitStatus(server, id, "canceled");
    // Nothing starts in either once canceled: at most the task that was running finishes.
    EXPECT_FALSE(WaitFor([&] { return CountLines(file.string()) > at_cancel + 1; }, 1s)) << ReadFile(file.string());
    EXPECT_LT(CountLines(file.string()), 30u);
    EXPECT_EQ(ReadFile(file.string()).find("after"), std::string::npos);
    EXPECT_EQ(parent.value("children", Json::array()).size(), 1u) << parent.dump(2);
}

void PauseAndResumeCascade(const std::string& action) {
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    const fs::path file = data.path() / "out.txt";
    // 20 tasks of 0.2 s: the pause lands well before the last one even on a loaded machine under ASan (with 8, a
    // CI run once saw all 8 written before the pause took).
    const std::string id = StartAsync(server, {action, "file=" + file.string(), "n=20", "pause=0.2"});
    ASSERT_TRUE(WaitFor([&] { return CountLines(file.string()) >= 2; }, 30s));
    const std::string sub = Subworkflow(server, id);
    CliResult pause = server.Cli({"execution", "pause", id});
    ASSERT_EQ(pause.exit_code, 0) << pause.out << pause.err;
    WaitStatus(server, sub, "paused");
    WaitStatus(server, id, "paused");
    const size_t at_pause = CountLines(file.string());
    EXPECT_FALSE(WaitFor([&] { return CountLines(file.string()) != at_pause; }, 1s)) << "a task started while paused";
    EXPECT_LT(at_pause, 20u);
    CliResult resume = server.Cli({"execution", "resume", id});
    ASSERT_EQ(resume.exit_code, 0) << resume.out << resume.err;
    Json parent = WaitStatus(server, id, "succeeded");
    Json child = GetExecution(server, sub);
    EXPECT_EQ(child["status"], "succeeded") << child.dump(2);
    EXPECT_EQ(CountLines(file.string()), 21u) << ReadFile(file.string());
    EXPECT_NE(ReadFile(file.string()).find("inner19\nafter\n"), std::string::npos) << ReadFile(file.string());
    for (const Json* e : {&parent, &child}) {
        std::vector<std::string> statuses;
        for (const auto& l : (*e)["log"]) statuses.push_back(l["status"]);
        EXPECT_EQ(
            statuses,
            (std::vector<std::string>{
                "requested", "scheduled", "running", "pausing", "paused", "resuming", "running", "succeeded"})
        ) << e->dump(2);
    }
}

TEST(WorkflowCascadeIntegrationTest, CancelOfAWorkflowCancelsItsSubworkflow) {
    std::signal(SIGPIPE, SIG_IGN);
    CancelCascades("casc.outer");
}

TEST(WorkflowCascadeIntegrationTest, PauseAndResumeOfAWorkflowCascadeToItsSubworkflow) {
    std::signal(SIGPIPE, SIG_IGN);
    PauseAndResumeCascade("casc.outer");
}

TEST(WorkflowCascadeIntegrationTest, CancelOfAnActionChainCancelsItsSubworkflow) {
    std::signal(SIGPIPE, SIG_IGN);
    CancelCascades("casc.chain_outer");
}

TEST(WorkflowCascadeIntegrationTest, PauseAndResumeOfAnActionChainCascadeToItsSubworkflow) {
    std::signal(SIGPIPE, SIG_IGN);
    PauseAndResumeCascade("casc.chain_outer");
}

// StackStorm's own steering of its `examples` pack (st2tests/integration/orquesta/test_wiring_cancel.py,
// test_wiring_pause_and_resume.py, the action-chain runner's pause/resume tests), on workflows of the same shape
// written here: a task loops while a temp file exists; the test cancels, pauses or resumes while it does, then
// removes the file.

/// The pack `stex`: `stex.wait` (as examples.orquesta-test-cancel/-pause-resume), `stex.subs` (two `stex.wait`
/// subworkflows joined by task3, as examples.orquesta-test-cancel-subworkflows/-pause-subworkflows), the chains
/// `stex.chain_wait` (as examples.chain-test-pause-resume) and `stex.chain_sub` (its subchain variant).
void WriteSteeredPack(const fs::path& data) {
    const fs::path pack = data / "packs" / "stex";
    Write(
        pack / "pack.yaml", "name: stex\ndescription: steered\nversion: 0.1.0\nauthor: squall\nemail: s@example.com\n"
    );
    const std::string wait_params =
        "parameters:\n  tempfile:\n    type: string\n    required: true\n  message:\n    type: string\n"
        "    default: foobar\n";
    Write(
        pack / "actions" / "wait.yaml",
        "name: wait\nrunner_type: orquesta\nentry_point: workflows/wait.yaml\n" + wait_params
    );
    Write(pack / "actions" / "workflows" / "wait.yaml", R"(version: 1.0
input:
  - tempfile
  - message
tasks:
  task1:
    action: core.local
    input:
      cmd: "while [ -e '<% ctx().tempfile %>' ]; do sleep 0.1; done"
      timeout: 300
    next:
      - when: <% succeeded() %>
        publish: var1=<% ctx().message %>
        do: task2
  task2:
    action: core.local
    input:
      cmd: echo "<% ctx().var1 %>"
output:
  - said: <% ctx().var1 %>
)");
    Write(
        pack / "actions" / "subs.yaml",
        "name: subs\nrunner_type: orquesta\nentry_point: workflows/subs.yaml\nparameters:\n  file1:\n    type: string\n"
        "    required: true\n  file2:\n    type: string\n    required: true\n"
    );
    Write(pack / "actions" / "workflows" / "subs.yaml", R"(version: 1.0
input:
  - file1
  - file2
tasks:
  task1:
    action: stex.wait tempfile=<% ctx().file1 %> message=Bravo
    next:
      - when: <% succeeded() %>
        do: task3
  task2:
    action: stex.wait tempfile=<% ctx().file2 %> message=Excellent
    next:
      - when: <% succeeded() %>
        do: task3
  task3:
    join: all
    action: core.echo message="Yahoo!"
)");
    Write(
        pack / "actions" / "chain_wait.yaml",
        "name: chain_wait\nrunner_type: action-chain\nentry_point: chains/wait.yaml\n" + wait_params
    );
    Write(pack / "actions" / "chains" / "wait.yaml", R"(chain:
  - name: task1
    ref: core.local
    params:
      cmd: "while [ -e '{{tempfile}}' ]; do sleep 0.1; done"
    on-success: task2
  - name: task2
    ref: core.local
    params:
      cmd: echo "{{message}}"
)");
    Write(
        pack / "actions" / "chain_sub.yaml",
        "name: chain_sub\nrunner_type: action-chain\nentry_point: chains/sub.yaml\n" + wait_params
    );
    Write(pack / "actions" / "chains" / "sub.yaml", R"(chain:
  - name: task1
    ref: stex.chain_wait
    params:
      tempfile: "{{tempfile}}"
      message: "{{message}}"
    on-success: task2
  - name: task2
    ref: core.local
    params:
      cmd: echo foobar
)");
}

/// The task execution of workflow `wf` for task `name` (Orquesta's task_name or the chain's node name), once it is in
/// `status`; "" (and a test failure) if it is not within 60 s.
std::string TaskExecution(
    const SquallProcess& server, const std::string& wf, const std::string& name, const std::string& status
) {
    std::string found;
    EXPECT_TRUE(WaitFor(
        [&] {
            for (const auto& c : GetExecution(server, wf).value("children", Json::array())) {
                const Json e = GetExecution(server, c.get<std::string>());
                const Json ctx = e.value("context", Json::object());
                const Json task = ctx.contains("orquesta") ? ctx["orquesta"] : ctx.value("chain", Json::object());
                const std::string n = task.value("task_name", task.value("name", ""));
                if (n == name && e.value("status", "") == status) {
                    found = c;
                    return true;
                }
            }
            return false;
        },
        60s
    )) << "task "
       << name << " of " << wf << " never " << status << ": " << GetExecution(server, wf).dump(2);
    return found;
}

/// A temp file the workflow waits on (it exists until the test removes it).
fs::path TouchTemp(const TempDir& dir, const std::string& name) {
    const fs::path p = dir.path() / name;
    Write(p, "");
    return p;
}

void Steer(const SquallProcess& server, const std::vector<std::string>& cli) {
    CliResult r = server.Cli(cli);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(WorkflowCascadeIntegrationTest, CancelOfOneSubworkflowCancelsTheRootAndTheOtherSubworkflows) {
    // test_cancellation_cascade_up_to_workflow_with_other_subworkflow: the cancel goes up to the root, whose cancel
    // comes down to the other subworkflow; the running tasks finish once the file is gone; task3 never runs.
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    WriteSteeredPack(data.path() / "d");
    SquallProcess server({(data.path() / "d").string(), "", {}});
    const fs::path file = TouchTemp(data, "wait");
    const std::string ex = StartAsync(server, {"stex.subs", "file1=" + file.string(), "file2=" + file.string()});
    const std::string sub1 = TaskExecution(server, ex, "task1", "running");
    const std::string sub2 = TaskExecution(server, ex, "task2", "running");
    TaskExecution(server, sub1, "task1", "running");
    TaskExecution(server, sub2, "task1", "running");
    Steer(server, {"execution", "cancel", sub1});
    WaitStatus(server, sub1, "canceling");
    WaitStatus(server, ex, "canceling");
    WaitStatus(server, sub2, "canceling");
    fs::remove(file);
    WaitStatus(server, sub1, "canceled");
    WaitStatus(server, sub2, "canceled");
    const Json root = WaitStatus(server, ex, "canceled");
    EXPECT_EQ(root.value("children", Json::array()).size(), 2u) << root.dump(2);  // no task3
    // Each subworkflow's task1 finished (graceful exit); no task2 started in either.
    for (const auto& sub : {sub1, sub2}) {
        const Json e = GetExecution(server, sub);
        ASSERT_EQ(e.value("children", Json::array()).size(), 1u) << e.dump(2);
        EXPECT_EQ(GetExecution(server, e["children"][0])["status"], "succeeded");
    }
}

TEST(WorkflowCascadeIntegrationTest, SubworkflowsPausedOnTheirOwnPauseTheParentOnceNothingElseRuns) {
    // test_pause_from_all_subworkflows_and_resume_from_subworkflows, then _from_parent_workflow: pausing subworkflows
    // leaves the parent running until nothing else runs; then it is paused. Resuming one subworkflow resumes only
    // it (the other stays paused, so the parent pauses again once the first one ends); resuming the other finishes
    // everything.
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    WriteSteeredPack(data.path() / "d");
    SquallProcess server({(data.path() / "d").string(), "", {}});
    const fs::path f1 = TouchTemp(data, "one");
    const fs::path f2 = TouchTemp(data, "two");
    const std::string ex = StartAsync(server, {"stex.subs", "file1=" + f1.string(), "file2=" + f2.string()});
    const std::string sub1 = TaskExecution(server, ex, "task1", "running");
    const std::string sub2 = TaskExecution(server, ex, "task2", "running");
    TaskExecution(server, sub1, "task1", "running");
    TaskExecution(server, sub2, "task1", "running");
    Steer(server, {"execution", "pause", sub1});
    WaitStatus(server, sub1, "pausing");
    fs::remove(f1);
    WaitStatus(server, sub1, "paused");
    // The other subworkflow still runs: so does the parent.
    EXPECT_FALSE(WaitFor([&] { return GetExecution(server, ex).value("status", "") != "running"; }, 1s))
        << GetExecution(server, ex).dump(2);
    Steer(server, {"execution", "pause", sub2});
    fs::remove(f2);
    WaitStatus(server, sub2, "paused");
    WaitStatus(server, ex, "paused");
    // Resuming one subworkflow: it ends; the other stays paused and so does the parent in the end.
    Steer(server, {"execution", "resume", sub1});
    Json one = WaitStatus(server, sub1, "succeeded");
    EXPECT_EQ(one["result"]["output"]["said"], "Bravo") << one.dump(2);
    WaitStatus(server, ex, "paused");
    EXPECT_EQ(GetExecution(server, sub2)["status"], "paused");
    EXPECT_EQ(GetExecution(server, ex).value("children", Json::array()).size(), 2u);  // task3 waits for task2
    // Resuming the parent resumes the other subworkflow (the cascade down); task3 runs after the join.
    Steer(server, {"execution", "resume", ex});
    WaitStatus(server, sub2, "succeeded");
    const Json root = WaitStatus(server, ex, "succeeded");
    ASSERT_EQ(root.value("children", Json::array()).size(), 3u) << root.dump(2);
    const std::string task3 = TaskExecution(server, ex, "task3", "succeeded");
    EXPECT_EQ(GetExecution(server, task3)["result"]["stdout"], "Yahoo!");
    std::vector<std::string> statuses;
    for (const auto& l : root["log"]) statuses.push_back(l["status"]);
    EXPECT_EQ(
        statuses,
        (std::vector<std::string>{
            "requested",
            "scheduled",
            "running",
            "pausing",
            "paused",
            "resuming",
            "running",
            "pausing",
            "paused",
            "resuming",
            "running",
            "succeeded"})
    ) << root.dump(2);
}

TEST(WorkflowCascadeIntegrationTest, AChainPausedThroughItsSubchainWaitsForItsOwnResume) {
    // test_chain_pause_resume_cascade_to_parent_workflow: the subchain paused on its own pauses the chain (its only
    // running task is paused); resuming the subchain ends it but the chain stays paused until it is resumed.
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    WriteSteeredPack(data.path() / "d");
    SquallProcess server({(data.path() / "d").string(), "", {}});
    const fs::path file = TouchTemp(data, "wait");
    const std::string ex = StartAsync(server, {"stex.chain_sub", "tempfile=" + file.string()});
    const std::string sub = TaskExecution(server, ex, "task1", "running");
    TaskExecution(server, sub, "task1", "running");
    Steer(server, {"execution", "pause", sub});
    WaitStatus(server, sub, "pausing");
    fs::remove(file);
    WaitStatus(server, sub, "paused");
    WaitStatus(server, ex, "paused");
    Steer(server, {"execution", "resume", sub});
    const Json inner = WaitStatus(server, sub, "succeeded");
    EXPECT_EQ(inner["result"]["tasks"].size(), 2u) << inner.dump(2);
    EXPECT_FALSE(WaitFor([&] { return GetExecution(server, ex).value("status", "") != "paused"; }, 1s))
        << GetExecution(server, ex).dump(2);
    EXPECT_EQ(GetExecution(server, ex).value("children", Json::array()).size(), 1u);
    Steer(server, {"execution", "resume", ex});
    const Json chain = WaitStatus(server, ex, "succeeded");
    ASSERT_EQ(chain["result"]["tasks"].size(), 2u) << chain.dump(2);
    EXPECT_EQ(chain["result"]["tasks"][1]["result"]["stdout"], "foobar");
}

}  // namespace
}  // namespace squall::test
