// Orquesta workflows end to end with the real binary: a pack's `runner_type: orquesta` action runs its workflow,
// every task a child execution; a `workflow` role killed with SIGKILL in the middle of a workflow is replaced by
// another that finishes it without running a finished task again; several workflow roles share the work.
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

/// POST /api/v1/workflows/inspect of `definition`: the problems found (an array), or null when the answer is not 200.
Json InspectOverHttp(const SquallProcess& server, const std::string& definition, const char* content_type) {
    httplib::Client c(server.host(), server.port());
    c.set_read_timeout(30, 0);
    auto r = c.Post("/api/v1/workflows/inspect", {{"St2-Api-Key", server.api_key()}}, definition, content_type);
    EXPECT_TRUE(r);
    if (!r) return nullptr;
    EXPECT_EQ(r->status, 200) << r->body;
    return r->status == 200 ? Json::parse(r->body, nullptr, false) : Json(nullptr);
}
namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

/// The pack `wft` under DATA/packs: `wft.lines` appends one line per task to `file` (`n` tasks in sequence, each
/// taking `pause` seconds), then fans out over three items; `wft.broken` fails and handles nothing.
void WritePack(const fs::path& data) {
    const fs::path pack = data / "packs" / "wft";
    Write(
        pack / "pack.yaml",
        "name: wft\ndescription: workflow tests\nversion: 0.1.0\nauthor: squall\nemail: s@example.com\n"
    );
    Write(
        pack / "actions" / "lines.yaml",
        "name: lines\nrunner_type: orquesta\nentry_point: workflows/lines.yaml\nparameters:\n  file:\n    type: "
        "string\n"
        "    required: true\n  n:\n    type: integer\n    default: 10\n  pause:\n    type: number\n    default: 0\n"
    );
    Write(pack / "actions" / "workflows" / "lines.yaml", R"(version: 1.0
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
      cmd: "echo step{{ ctx('i') }} >> {{ ctx('file') }}; sleep {{ ctx('pause') }}"
    next:
      - when: "{{ succeeded() and ctx('i') + 1 < ctx('n') }}"
        publish: i="{{ ctx('i') + 1 }}"
        do: step
      - when: "{{ succeeded() and ctx('i') + 1 >= ctx('n') }}"
        do: fan
  fan:
    with: x in {{ ['a', 'b', 'c'] }}
    action: core.local cmd="echo item-{{ item('x') }} >> {{ ctx('file') }}"
    next:
      - publish: items="{{ result() | length }}"
output:
  - steps: "{{ ctx('i') + 1 }}"
  - items: "{{ ctx('items') }}"
)");
    Write(
        pack / "actions" / "outer.yaml",
        "name: outer\nrunner_type: orquesta\nentry_point: workflows/outer.yaml\nparameters:\n  file:\n    type: "
        "string\n"
        "    required: true\n"
    );
    Write(pack / "actions" / "workflows" / "outer.yaml", R"(version: 1.0
input:
  - file
tasks:
  inner:
    action: wft.lines
    input:
      file: "{{ ctx('file') }}"
      n: 2
    next:
      - when: "{{ succeeded() }}"
        publish: inner_steps="{{ result().output.steps }}"
        do: after
  after:
    action: core.local cmd="echo after >> {{ ctx('file') }}"
output:
  - inner_steps: "{{ ctx('inner_steps') }}"
)");
    Write(
        pack / "actions" / "broken.yaml",
        "name: broken\nrunner_type: orquesta\nentry_point: workflows/broken.yaml\nparameters: {}\n"
    );
    Write(pack / "actions" / "workflows" / "broken.yaml", R"(version: 1.0
tasks:
  ok:
    action: core.noop
    next:
      - publish: reached=ok
        do: bad
  bad:
    action: core.local cmd="echo oops >&2; exit 3"
    next:
      - when: "{{ succeeded() }}"
        do: never
  never:
    action: core.noop
output:
  - reached: "{{ ctx('reached') }}"
)");
}

TEST(WorkflowIntegrationTest, RunsAPacksWorkflowWithTasksAsChildExecutions) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    const std::string file = (data.path() / "out.txt").string();
    CliResult run = server.Cli({"run", "wft.lines", "file=" + file, "n=4", "-j"});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err << server.Output();
    Json wf = Json::parse(run.out);
    EXPECT_EQ(wf["status"], "succeeded") << wf.dump(2);
    EXPECT_EQ(wf["result"]["output"], (Json{{"steps", 4}, {"items", 3}})) << wf.dump(2);
    // The steps in order; the items in parallel, in any order.
    const std::string lines = ReadFile(file);
    EXPECT_EQ(lines.substr(0, 24), "step0\nstep1\nstep2\nstep3\n") << lines;
    for (const char* item : {"item-a\n", "item-b\n", "item-c\n"})
        EXPECT_NE(lines.find(item), std::string::npos) << lines;
    EXPECT_EQ(CountLines(file), 7u);

    // squall execution get --show-tasks: the children in creation order, with task names and timing.
    CliResult shown = server.Cli({"execution", "get", wf["id"], "--show-tasks", "-j"});
    Json with_tasks = Json::parse(shown.out, nullptr, false);
    ASSERT_TRUE(with_tasks.is_object()) << shown.out << shown.err;
    ASSERT_EQ(with_tasks["tasks"].size(), 7u) << with_tasks.dump(2);
    EXPECT_EQ(with_tasks["children"].size(), 7u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(with_tasks["tasks"][i]["task"], "step") << with_tasks["tasks"].dump(2);
    for (int i = 4; i < 7; ++i) {
        EXPECT_EQ(with_tasks["tasks"][i]["task"], "fan");
        EXPECT_EQ(with_tasks["tasks"][i]["status"], "succeeded");
    }
    CliResult table = server.Cli({"execution", "get", wf["id"], "--show-tasks"});
    // A subworkflow: a task whose action is another workflow; its output is the task's result.
    const std::string sub_file = (data.path() / "sub.txt").string();
    CliResult outer = server.Cli({"run", "wft.outer", "file=" + sub_file, "-j"});
    Json o = Json::parse(outer.out, nullptr, false);
    ASSERT_TRUE(o.is_object()) << outer.out << outer.err;
    EXPECT_EQ(o["status"], "succeeded") << o.dump(2);
    EXPECT_EQ(o["result"]["output"]["inner_steps"], 2) << o.dump(2);
    EXPECT_EQ(CountLines(sub_file), 2u + 3u + 1u) << ReadFile(sub_file);
    ASSERT_EQ(o["children"].size(), 2u);
    Json inner = GetExecution(server, o["children"][0]);
    EXPECT_EQ(inner["parent"], o["id"]);
    EXPECT_EQ(inner["children"].size(), 5u);
    // StackStorm's GET /executions/{id}/children (what `st2 execution get` reads for a workflow): every descendant,
    // depth first in creation order (the subworkflow's tasks right after it); `depth=1` only the workflow's tasks.
    {
        httplib::Client c(server.host(), server.port());
        c.set_read_timeout(30, 0);
        const httplib::Headers key = {{"St2-Api-Key", server.api_key()}};
        const std::string base = "/api/v1/executions/" + o["id"].get<std::string>() + "/children";
        auto all = c.Get(base + "/?depth=-1", key);
        ASSERT_TRUE(all && all->status == 200) << (all ? all->body : "no answer");
        Json tree = Json::parse(all->body);
        ASSERT_EQ(tree.size(), 2u + 5u) << tree.dump(2);
        EXPECT_EQ(tree[0]["id"], o["children"][0]);
        for (size_t i = 0; i < 5; ++i) EXPECT_EQ(tree[1 + i]["id"], inner["children"][i]);
        EXPECT_EQ(tree[6]["id"], o["children"][1]);
        auto top = c.Get(base + "?depth=1", key);
        ASSERT_TRUE(top && top->status == 200);
        EXPECT_EQ(Json::parse(top->body).size(), 2u) << top->body;
        auto bad = c.Get(base + "?depth=deep", key);
        ASSERT_TRUE(bad);
        EXPECT_EQ(bad->status, 400);
        EXPECT_NE(bad->body.find("depth"), std::string::npos) << bad->body;
    }
    EXPECT_NE(table.out.find("fan"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("core.local"), std::string::npos) << table.out;

    // The failing workflow: the task's failure is in result.errors, the output is still rendered, `never` never ran.
    CliResult broken = server.Cli({"run", "wft.broken", "-j"});
    Json b = Json::parse(broken.out, nullptr, false);
    ASSERT_TRUE(b.is_object()) << broken.out << broken.err;
    EXPECT_EQ(b["status"], "failed") << b.dump(2);
    EXPECT_EQ(b["result"]["output"]["reached"], "ok") << b.dump(2);
    ASSERT_EQ(b["result"]["errors"].size(), 1u) << b.dump(2);
    EXPECT_EQ(b["result"]["errors"][0]["task_id"], "bad");
    EXPECT_EQ(b["result"]["errors"][0]["result"]["return_code"], 3);

    // Every task is an execution whose parent is the workflow and whose context names the task.
    CliResult list = server.Cli({"execution", "list", "-n", "50", "-j"});
    Json all = Json::parse(list.out, nullptr, false);
    ASSERT_TRUE(all.is_array()) << list.out << list.err;
    int children = 0;
    for (const auto& e : all) {
        if (e.value("parent", "") != b["id"].get<std::string>()) continue;
        ++children;
        EXPECT_TRUE(e["context"]["orquesta"]["task_name"] == "ok" || e["context"]["orquesta"]["task_name"] == "bad")
            << e.dump(2);
    }
    EXPECT_EQ(children, 2);

    // The runner parameter `notify` names tasks of the workflow; one it does not have fails the run at once.
    CliResult notify = server.Cli({"run", "wft.broken", "notify=[\"ok\", \"nope\", \"nada\"]", "-j"});
    Json n = Json::parse(notify.out, nullptr, false);
    ASSERT_TRUE(n.is_object()) << notify.out << notify.err;
    EXPECT_EQ(n["status"], "failed") << n.dump(2);
    EXPECT_EQ(
        n["result"]["errors"][0]["message"],
        "The following tasks in the notify parameter do not exist in the workflow definition: nada, nope."
    ) << n.dump(2);
    EXPECT_TRUE(n.value("children", Json::array()).empty()) << n.dump(2);
}

/// A YAQL or Jinja expression that does not parse is found by inspection (Orquesta's evaluators' validate()): the
/// API names it with its spec_path, and a run fails before any task runs (not at the transition, after t0 and t1).
TEST(WorkflowIntegrationTest, AnExpressionThatDoesNotParseFailsTheRunBeforeAnyTask) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    const std::string workflow = R"(version: 1.0
input:
  - file
tasks:
  t0:
    action: core.local cmd="echo t0 >> {{ ctx('file') }}"
    next:
      - do: t1
  t1:
    action: core.local cmd="echo t1 {{ ctx('nope') }} >> {{ ctx('file') }}"
    next:
      - when: <% ctx(file) = = 1 %>
        do: t2
  t2:
    action: core.echo
    input:
      message: "{{ ctx('file') == }}"
)";
    Write(
        d / "packs" / "wft" / "actions" / "syntax.yaml",
        "name: syntax\nrunner_type: orquesta\nentry_point: workflows/syntax.yaml\nparameters:\n  file:\n    type: "
        "string\n    required: true\n"
    );
    Write(d / "packs" / "wft" / "actions" / "workflows" / "syntax.yaml", workflow);
    Write(
        d / "packs" / "wft" / "actions" / "unparsable.yaml",
        "name: unparsable\nrunner_type: orquesta\nentry_point: workflows/unparsable.yaml\n"
    );
    Write(
        d / "packs" / "wft" / "actions" / "workflows" / "unparsable.yaml",
        "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n    join: sometimes\n"
    );
    SquallProcess server({d.string(), "", {}});

    Json problems = InspectOverHttp(server, workflow, "application/x-yaml");
    ASSERT_EQ(problems.size(), 3u) << problems.dump(2);
    EXPECT_EQ(problems[0]["type"], "context");
    EXPECT_EQ(problems[1]["type"], "expression");
    EXPECT_EQ(problems[1]["spec_path"], "tasks.t1.next[0].when");
    EXPECT_EQ(problems[1]["language"], "yaql");
    EXPECT_EQ(problems[1]["expression"], "<% ctx(file) = = 1 %>");
    EXPECT_EQ(problems[2]["spec_path"], "tasks.t2.input.message");
    EXPECT_EQ(problems[2]["language"], "jinja");

    const std::string file = (data.path() / "out.txt").string();
    CliResult run = server.Cli({"run", "wft.syntax", "file=" + file, "-j"});
    Json wf = Json::parse(run.out, nullptr, false);
    ASSERT_TRUE(wf.is_object()) << run.out << run.err;
    EXPECT_EQ(wf["status"], "failed") << wf.dump(2);
    // Every problem, as StackStorm reports them (type, message, spec_path; sorted by type), without the server's path.
    const Json& errors = wf["result"]["errors"];
    ASSERT_EQ(errors.size(), 3u) << wf.dump(2);
    EXPECT_EQ(
        errors[0],
        (Json{
            {"type", "context"},
            {"message", "Variable \"nope\" is referenced before assignment."},
            {"spec_path", "tasks.t1.input.cmd"}})
    ) << wf.dump(2);
    EXPECT_EQ(errors[1]["type"], "expression");
    EXPECT_EQ(errors[1]["spec_path"], "tasks.t1.next[0].when");
    EXPECT_EQ(errors[1]["language"], "yaql");
    EXPECT_EQ(errors[1]["expression"], "<% ctx(file) = = 1 %>");
    EXPECT_NE(errors[1]["message"].get<std::string>().find("ctx(file) = = 1"), std::string::npos) << wf.dump(2);
    EXPECT_EQ(errors[2]["type"], "expression");
    EXPECT_EQ(errors[2]["spec_path"], "tasks.t2.input.message");
    EXPECT_EQ(errors[2]["language"], "jinja");
    EXPECT_EQ(errors.dump().find(data.path().string()), std::string::npos) << wf.dump(2);

    // A definition that does not parse names the file by its place in the pack.
    CliResult unparsable = server.Cli({"run", "wft.unparsable", "-j"});
    Json u = Json::parse(unparsable.out, nullptr, false);
    ASSERT_TRUE(u.is_object()) << unparsable.out << unparsable.err;
    EXPECT_EQ(u["status"], "failed") << u.dump(2);
    ASSERT_EQ(u["result"]["errors"].size(), 1u) << u.dump(2);
    EXPECT_EQ(u["result"]["errors"][0]["type"], "syntax");
    EXPECT_EQ(
        u["result"]["errors"][0]["message"].get<std::string>().rfind("wft/actions/workflows/unparsable.yaml:5:", 0), 0u
    ) << u.dump(2);
    EXPECT_TRUE(wf.value("children", Json::array()).empty()) << wf.dump(2);
    EXPECT_FALSE(fs::exists(file)) << ReadFile(file);  // neither t0 nor t1 ran
}

/// StackStorm's content checks before a workflow runs (st2's inspect_task_contents): an action that is not
/// registered, an input the action does not take and a required parameter not given fail the run before any task
/// runs, with errors of type content, StackStorm's messages and their spec paths.
TEST(WorkflowIntegrationTest, TaskContentsAreCheckedBeforeAnyTaskRuns) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    const fs::path actions = d / "packs" / "wft" / "actions";
    Write(
        actions / "sub_leaf.yaml",
        "name: sub_leaf\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: echo leaf\n  v:\n    type: "
        "string\n    required: true\n"
    );
    Write(
        actions / "contents.yaml",
        "name: contents\nrunner_type: orquesta\nentry_point: workflows/contents.yaml\nparameters:\n  file:\n    "
        "type: string\n    required: true\n"
    );
    Write(actions / "workflows" / "contents.yaml", R"(version: 1.0
input:
  - file
tasks:
  t0:
    action: core.local cmd="echo t0 >> {{ ctx('file') }}"
    next:
      - do: t1, t2, t3
  t1:
    action: x.y
  t2:
    action: core.echo message=hi bogus=1
  t3:
    action: wft.sub_leaf
)");
    SquallProcess server({d.string(), "", {}});
    const std::string file = (data.path() / "out.txt").string();
    CliResult run = server.Cli({"run", "wft.contents", "file=" + file, "-j"});
    Json wf = Json::parse(run.out, nullptr, false);
    ASSERT_TRUE(wf.is_object()) << run.out << run.err;
    EXPECT_EQ(wf["status"], "failed") << wf.dump(2);
    const Json expected = Json::array(
        {{{"type", "content"},
          {"message", "The action \"x.y\" is not registered in the database."},
          {"spec_path", "tasks.t1.action"}},
         {{"type", "content"},
          {"message", "Action \"core.echo\" has unexpected input \"bogus\"."},
          {"spec_path", "tasks.t2.input.bogus"}},
         {{"type", "content"},
          {"message", "Action \"wft.sub_leaf\" is missing required input \"v\"."},
          {"spec_path", "tasks.t3.input"}}}
    );
    EXPECT_EQ(wf["result"]["errors"], expected) << wf.dump(2);
    EXPECT_TRUE(wf.value("children", Json::array()).empty()) << wf.dump(2);
    EXPECT_FALSE(fs::exists(file)) << ReadFile(file);  // t0 did not run
}

/// Cancel: the running task finishes, no new task starts, the workflow ends canceled.
TEST(WorkflowIntegrationTest, CancelLetsTheRunningTaskFinishAndStartsNoNewOne) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    const std::string file = (data.path() / "out.txt").string();
    const std::string id = StartAsync(server, {"wft.lines", "file=" + file, "n=30", "pause=0.3"});
    ASSERT_TRUE(WaitFor([&] { return CountLines(file) >= 2; }, 30s));
    CliResult cancel = server.Cli({"execution", "cancel", id});
    ASSERT_EQ(cancel.exit_code, 0) << cancel.out << cancel.err;
    const size_t at_cancel = CountLines(file);
    Json wf;
    ASSERT_TRUE(WaitFor(
        [&] {
            wf = GetExecution(server, id);
            return wf.value("status", "") == "canceled";
        },
        30s
    )) << wf.dump(2);
    // Nothing may start once it is canceled: the line count must not pass the one task that was running (a
    // second with no change is the proof; a violation ends the wait at once).
    EXPECT_FALSE(WaitFor([&] { return CountLines(file) > at_cancel + 1; }, 1s)) << ReadFile(file);
    EXPECT_LT(CountLines(file), 30u);
    for (const auto& child : wf["children"]) {
        EXPECT_EQ(GetExecution(server, child.get<std::string>())["status"], "succeeded");
    }
}

/// StackStorm's examples.orquesta-data-flow-large-data, written here (its task2 names the fixture action
/// `examples.load_and_print_fixture`, which the examples pack calls `python_runner_load_and_print_fixture`: this one
/// names it right): a Python action returns a JSON document of about 1.5 MB, published twice and output twice.
TEST(WorkflowIntegrationTest, LargeDataFlowsThroughPublishAndOutput) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path pack = data.path() / "d" / "packs" / "big";
    Write(
        pack / "pack.yaml", "name: big\ndescription: large data\nversion: 0.1.0\nauthor: squall\nemail: s@example.com\n"
    );
    Write(
        pack / "actions" / "fixture.yaml",
        "name: fixture\nrunner_type: python-script\nentry_point: fixture.py\nparameters:\n  file_path:\n"
        "    type: string\n    required: true\n"
    );
    Write(pack / "actions" / "fixture.py", R"(import json

from st2common.runners.base_action import Action


class LoadAndPrintFixtureAction(Action):
    def run(self, file_path):
        with open(file_path, "r") as fp:
            return json.loads(fp.read())
)");
    Write(
        pack / "actions" / "flow.yaml",
        "name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\nparameters:\n  file_path:\n"
        "    type: string\n    required: true\n"
    );
    Write(pack / "actions" / "workflows" / "flow.yaml", R"(version: 1.0
input:
  - file_path
  - b1: <% ctx().file_path %>
vars:
  - a2: <% ctx().b1 %>
  - b2: <% ctx().a2 %>
output:
  - a5: <% ctx().b4 %>
  - b5: <% ctx().a5 %>
tasks:
  task1:
    action: core.echo
    input:
      message: <% ctx().b2 %>
    next:
      - when: <% succeeded() %>
        publish:
          - a3: <% result().stdout %>
          - b3: <% ctx().a3 %>
        do: task2
  task2:
    action: big.fixture
    input:
      file_path: <% ctx().file_path %>
    next:
      - when: <% succeeded() %>
        publish: a4=<% result().result %> b4=<% ctx().a4 %>
        do: task3
  task3:
    action: core.noop
)");
    Json fixture = {{"rows", Json::array()}};
    std::mt19937 rng(7);
    for (int i = 0; i < 12000; ++i) {
        std::string name(40, 'a');
        for (auto& c : name) c = static_cast<char>('a' + rng() % 26);
        fixture["rows"].push_back(
            {{"id", i}, {"name", name}, {"note", "床前明月光"}, {"tags", {rng() % 1000, rng() % 7}}}
        );
    }
    const fs::path file = data.path() / "fixture.json";
    Write(file, fixture.dump());
    ASSERT_GT(fs::file_size(file), 1000000u);
    SquallProcess server({(data.path() / "d").string(), "", {}});
    const Json e = RunSync(server, {"big.flow", "file_path=" + file.string()});
    ASSERT_EQ(e.value("status", ""), "succeeded") << e.dump(2).substr(0, 3000) << server.Output();
    ASSERT_TRUE(e["result"].contains("output")) << e.dump(2).substr(0, 3000);
    EXPECT_FALSE(e["result"].contains("errors"));
    EXPECT_TRUE(e["result"]["output"]["a5"] == fixture);
    EXPECT_TRUE(e["result"]["output"]["b5"] == fixture);
    EXPECT_EQ(e["children"].size(), 3u);
}

/// Pause: the running task finishes, the workflow is paused and nothing runs; resume: it goes on to the end.
TEST(WorkflowIntegrationTest, PauseAndResume) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {}});
    const std::string file = (data.path() / "out.txt").string();
    const std::string id = StartAsync(server, {"wft.lines", "file=" + file, "n=8", "pause=0.2"});
    ASSERT_TRUE(WaitFor([&] { return CountLines(file) >= 2; }, 30s));
    CliResult pause = server.Cli({"execution", "pause", id});
    ASSERT_EQ(pause.exit_code, 0) << pause.out << pause.err;
    Json wf;
    ASSERT_TRUE(WaitFor(
        [&] {
            wf = GetExecution(server, id);
            return wf.value("status", "") == "paused";
        },
        30s
    )) << wf.dump(2);
    const size_t at_pause = CountLines(file);
    EXPECT_FALSE(WaitFor([&] { return CountLines(file) != at_pause; }, 1s)) << "a task started while paused";
    EXPECT_LT(at_pause, 8u);
    CliResult resume = server.Cli({"execution", "resume", id});
    ASSERT_EQ(resume.exit_code, 0) << resume.out << resume.err;
    ASSERT_TRUE(WaitFor(
        [&] {
            wf = GetExecution(server, id);
            return wf.value("status", "") == "succeeded";
        },
        30s
    )) << wf.dump(2);
    EXPECT_EQ(CountLines(file), 11u) << ReadFile(file);
    std::vector<std::string> statuses;
    for (const auto& l : wf["log"]) statuses.push_back(l["status"]);
    EXPECT_EQ(
        statuses,
        (std::vector<std::string>{
            "requested", "scheduled", "running", "pausing", "paused", "resuming", "running", "succeeded"})
    );
}

/// Inspection before running: the API and the CLI name the task and line of a bad `do`, an unreachable task and an
/// undefined variable; a good workflow has no problem.
TEST(WorkflowIntegrationTest, InspectNamesTaskAndLineThroughTheApiAndTheCli) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    const fs::path d = data.path() / "d";
    WritePack(d);
    SquallProcess server({d.string(), "", {"--roles", "api"}});
    const std::string bad = R"(version: 1.0
input:
  - a
tasks:
  t1:
    action: core.echo message="{{ ctx('a') }}"
    next:
      - do: t9
  t2:
    action: core.noop
    next:
      - do: t3
  t3:
    action: core.echo message="{{ ctx('nope') }}"
    next:
      - do: t2
)";
    Json problems = InspectOverHttp(server, bad, "application/x-yaml");
    ASSERT_EQ(problems.size(), 4u) << problems.dump(2);
    EXPECT_EQ(problems[0]["task"], "t1");
    EXPECT_EQ(problems[0]["line"], 8);
    EXPECT_EQ(problems[1]["task"], "t2");
    EXPECT_EQ(problems[2]["task"], "t3");
    EXPECT_EQ(problems[3]["type"], "context");
    EXPECT_EQ(problems[3]["line"], 14);
    EXPECT_NE(problems[3]["message"].get<std::string>().find("\"nope\""), std::string::npos);

    EXPECT_EQ(
        InspectOverHttp(server, ReadFile((d / "packs/wft/actions/workflows/lines.yaml").string()), "text/plain"),
        Json::array()
    );

    const std::string file = (data.path() / "bad.yaml").string();
    Write(file, bad);
    CliResult cli = server.Cli({"workflow", "inspect", file});
    EXPECT_EQ(cli.exit_code, 1) << cli.out << cli.err;
    EXPECT_NE(cli.out.find(file + ":8: task \"t1\" transitions to \"t9\""), std::string::npos) << cli.out;
    EXPECT_NE(cli.out.find("unreachable"), std::string::npos) << cli.out;
    EXPECT_EQ(
        server.Cli({"workflow", "inspect", (d / "packs/wft/actions/workflows/lines.yaml").string()}).exit_code, 0
    );
}

/// kill -9 of the process that drives workflows, at random moments across several workflows: another `workflow`
/// role finishes each with the same output, and no task that had finished runs again (one line per task).
TEST(WorkflowIntegrationTest, AKilledWorkflowRoleIsReplacedWithoutRerunningFinishedTasks) {
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
    const int kRuns = KillRuns(8);  // SQUALL_KILL_RUNS=50 for a long run
    const int kSteps = 12;
    int generation = 0;
    for (int run = 0; run < kRuns; ++run) {
        w.data_dir = (data.path() / ("wf" + std::to_string(generation++))).string();
        auto driver = std::make_unique<SquallProcess>(w);
        const std::string file = (data.path() / ("out" + std::to_string(run) + ".txt")).string();
        const std::string id =
            StartAsync(api, {"wft.lines", "file=" + file, "n=" + std::to_string(kSteps), "pause=0.05"});
        ASSERT_FALSE(id.empty());
        // Kill it somewhere between its first and its last task (or before the first, for run 0).
        const size_t kill_at = run == 0 ? 0 : std::uniform_int_distribution<size_t>(1, kSteps - 1)(rng);
        ASSERT_TRUE(WaitFor([&] { return CountLines(file) >= kill_at; }, 30s)) << driver->Output();
        std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 40)(rng)));
        driver->Kill();
        driver.reset();
        w.data_dir = (data.path() / ("wf" + std::to_string(generation++))).string();
        SquallProcess successor(w);
        Json wf;
        ASSERT_TRUE(WaitFor(
            [&] {
                wf = GetExecution(api, id);
                return wf.value("status", "") == "succeeded" || wf.value("status", "") == "failed";
            },
            90s
        )) << wf.dump(2)
           << successor.Output();
        EXPECT_EQ(wf["status"], "succeeded") << wf.dump(2);
        EXPECT_EQ(wf["result"]["output"], (Json{{"steps", kSteps}, {"items", 3}})) << wf.dump(2);
        EXPECT_EQ(CountLines(file), static_cast<size_t>(kSteps + 3)) << "killed after " << kill_at << " lines:\n"
                                                                     << ReadFile(file);
        successor.Stop();
    }
    std::cout << "[ kill -9  ] " << kRuns << " runs, each finished by another workflow role\n";
}

TEST(WorkflowIntegrationTest, SeveralWorkflowRolesShareTheWork) {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir data;
    RedisServer redis;
    const fs::path d = data.path() / "api";
    WritePack(d);
    SquallProcess::Options o;
    o.data_dir = d.string();
    o.redis_url = "unix://" + redis.socket_path();
    o.extra_args = {"--roles", "api,rules,notifier,runner", "--workers", "8"};
    SquallProcess api(o);
    SquallProcess::Options w;
    w.redis_url = o.redis_url;
    w.extra_args = {"--roles", "workflow", "--listen", "127.0.0.1:0"};
    w.data_dir = (data.path() / "w1").string();
    SquallProcess w1(w);
    w.data_dir = (data.path() / "w2").string();
    SquallProcess w2(w);
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) {
        ids.push_back(
            StartAsync(api, {"wft.lines", "file=" + (data.path() / ("o" + std::to_string(i))).string(), "n=5"})
        );
    }
    for (size_t i = 0; i < ids.size(); ++i) {
        Json wf;
        ASSERT_TRUE(WaitFor(
            [&] {
                wf = GetExecution(api, ids[i]);
                return wf.value("status", "") == "succeeded" || wf.value("status", "") == "failed";
            },
            60s
        )) << wf.dump(2);
        EXPECT_EQ(wf["status"], "succeeded") << wf.dump(2);
        EXPECT_EQ(CountLines((data.path() / ("o" + std::to_string(i))).string()), 8u);
    }
}

}  // namespace
}  // namespace squall::test
