// The workflow conformance corpus (tests/cases/workflows/*.yaml): each case is a workflow, its input, the results
// its task executions give (scripted per task, in call order; by default an execution succeeds and its result is
// its input), and what Orquesta does with them: the order tasks complete in, the workflow's status, output and
// errors. The conductor runs them as the engine does, without Redis: launches are run first in, first out.
#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <map>
#include <set>

#include "files.hpp"
#include "squall/core/yaml_json.hpp"
#include "squall/workflows/conductor.hpp"

namespace squall::workflows {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> CaseFiles() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(std::string(SQUALL_SOURCE_DIR) + "/tests/cases/workflows")) {
        if (e.path().extension() == ".yaml") out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

/// Every expected key/value must be in actual (objects: subset; other values: equal).
bool Contains(const Json& actual, const Json& expected) {
    if (expected.is_object()) {
        if (!actual.is_object()) return false;
        for (const auto& [k, v] : expected.items()) {
            if (!actual.contains(k) || !Contains(actual[k], v)) return false;
        }
        return true;
    }
    if (expected.is_string() && actual.is_string()) {
        const std::string e = expected;
        // "~text": a substring of the actual message.
        if (!e.empty() && e[0] == '~') return actual.get<std::string>().find(e.substr(1)) != std::string::npos;
    }
    return actual == expected;
}

class WorkflowCase : public ::testing::TestWithParam<std::string> {};

TEST_P(WorkflowCase, BehavesAsOrquesta) {
    const std::string path = std::string(SQUALL_SOURCE_DIR) + "/tests/cases/workflows/" + GetParam();
    auto doc = core::LoadYamlFile(path);
    ASSERT_TRUE(doc) << doc.error().message;
    const Json& c = doc->value;
    ASSERT_TRUE(c.contains("workflow") && c.contains("expected")) << path << ": needs workflow and expected";
    const Json& expected = c["expected"];
    auto spec = ParseWorkflow(c["workflow"].get<std::string>(), GetParam());
    if (expected.contains("parse_error")) {
        ASSERT_FALSE(spec) << "the workflow should not parse";
        EXPECT_TRUE(Contains(Json(spec.error().message), expected["parse_error"])) << spec.error().message;
        return;
    }
    ASSERT_TRUE(spec) << spec.error().message;
    if (expected.contains("inspect")) {
        auto problems = Inspect(*spec);
        Json got = Json::array();
        for (const auto& p : problems) got.push_back(p.ToJson());
        ASSERT_EQ(got.size(), expected["inspect"].size()) << got.dump(2);
        for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(Contains(got[i], expected["inspect"][i])) << got.dump(2);
        if (!expected.contains("status")) return;
    }

    // Scripted results: task name → [{status, result}], consumed in call order.
    std::map<std::string, std::deque<Json>> scripted;
    if (c.contains("results")) {
        for (const auto& [task, list] : c["results"].items()) {
            for (const auto& r : list) scripted[task].push_back(r);
        }
    }
    std::map<std::string, Json> stored;  // execution id → result
    ConductorHost host;
    host.results = [&](const std::vector<std::string>& ids) {
        std::vector<Json> out;
        for (const auto& id : ids) out.push_back(stored.count(id) ? stored[id] : Json());
        return out;
    };
    host.st2 = {{"action_execution_id", "wf1"}, {"user", "tester"}};
    Json state;
    Conductor conductor(*spec, state, host);
    StepOutput out;
    conductor.Start(c.value("input", Json::object()), out);
    std::deque<Launch> queue(out.launches.begin(), out.launches.end());
    Json actions = Json::array();
    int executions = 0;
    Json final_result;
    std::string final_status = out.finished ? out.status : "";
    if (out.finished) final_result = out.result;
    while (!queue.empty() && final_status.empty()) {
        ASSERT_LT(executions, 5000) << "runaway workflow";
        Launch l = queue.front();
        queue.pop_front();
        const std::string id = "e" + std::to_string(++executions);
        actions.push_back({{"task", l.task_name}, {"action", l.action}, {"input", l.input}});
        std::string status = "succeeded";
        Json result = l.input;
        auto& script = scripted[l.task_name];
        if (!script.empty()) {
            Json r = script.front();
            script.pop_front();
            status = r.value("status", "succeeded");
            if (r.contains("result")) result = r["result"];
        }
        stored[id] = result;
        StepOutput step;
        conductor.TaskEnded(l.task_id, l.item, l.attempt, id, status, result, step);
        for (auto& x : step.launches) queue.push_back(std::move(x));
        if (step.finished) {
            final_status = step.status;
            final_result = step.result;
        }
    }
    ASSERT_FALSE(final_status.empty()) << "the workflow did not finish; state: " << state.dump(2);
    Json seq = Json::array();
    for (const auto& id : state["seq"]) seq.push_back(state["tasks"][id.get<std::string>()]["name"]);
    if (expected.contains("sequence")) {
        EXPECT_EQ(seq, expected["sequence"]) << "state: " << state.dump(2);
    }
    EXPECT_EQ(final_status, expected.value("status", "succeeded")) << final_result.dump(2);
    if (expected.contains("output")) {
        EXPECT_EQ(final_result.value("output", Json()), expected["output"]) << final_result.dump(2);
    }
    if (expected.contains("errors")) {
        const Json errors = final_result.value("errors", Json::array());
        ASSERT_EQ(errors.size(), expected["errors"].size()) << errors.dump(2);
        for (size_t i = 0; i < errors.size(); ++i)
            EXPECT_TRUE(Contains(errors[i], expected["errors"][i])) << errors.dump(2);
    } else if (expected.value("status", "succeeded") == "succeeded") {
        EXPECT_FALSE(final_result.contains("errors")) << final_result.dump(2);
    }
    if (expected.contains("actions")) {
        ASSERT_EQ(actions.size(), expected["actions"].size()) << actions.dump(2);
        for (size_t i = 0; i < actions.size(); ++i)
            EXPECT_TRUE(Contains(actions[i], expected["actions"][i])) << actions.dump(2);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Cases,
    WorkflowCase,
    ::testing::ValuesIn(CaseFiles()),
    [](const ::testing::TestParamInfo<std::string>& info) {
        std::string n = info.param.substr(0, info.param.size() - 5);
        for (auto& ch : n) {
            if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        }
        return n;
    }
);

TEST(WorkflowConductor, PauseHoldsNewTasksAndItemsBackUntilResume) {
    auto spec = ParseWorkflow(
        R"(version: 1.0
tasks:
  t1:
    action: core.noop
    next:
      - do: t2
  t2:
    with:
      items: "{{ [1, 2, 3] }}"
      concurrency: 1
    action: core.echo message="{{ item() }}"
)",
        "pause.yaml"
    );
    ASSERT_TRUE(spec) << spec.error().message;
    ConductorHost host;
    Json state;
    Conductor c(*spec, state, host);
    StepOutput start;
    c.Start(Json::object(), start);
    ASSERT_EQ(start.launches.size(), 1u);
    StepOutput pause;
    c.Pause(pause);
    EXPECT_FALSE(pause.paused);  // t1 still runs
    StepOutput t1;
    c.TaskEnded("t1", -1, 0, "e1", "succeeded", Json::object(), t1);
    EXPECT_TRUE(t1.launches.empty());  // t2 waits
    EXPECT_TRUE(t1.paused);
    StepOutput resume;
    c.Resume(resume);
    EXPECT_TRUE(resume.resumed);
    ASSERT_EQ(resume.launches.size(), 1u);
    EXPECT_EQ(resume.launches[0].task_name, "t2");
    StepOutput pause2;
    c.Pause(pause2);
    StepOutput item0;
    c.TaskEnded("t2", 0, 0, "e2", "succeeded", Json::object(), item0);
    EXPECT_TRUE(item0.launches.empty());  // the next item waits
    EXPECT_TRUE(item0.paused);
    EXPECT_FALSE(item0.finished);
    StepOutput resume2;
    c.Resume(resume2);
    ASSERT_EQ(resume2.launches.size(), 1u);
    EXPECT_EQ(resume2.launches[0].item, 1);
    StepOutput item1;
    c.TaskEnded("t2", 1, 0, "e3", "succeeded", Json::object(), item1);
    ASSERT_EQ(item1.launches.size(), 1u);
    StepOutput item2;
    c.TaskEnded("t2", 2, 0, "e4", "succeeded", Json::object(), item2);
    EXPECT_TRUE(item2.finished);
    EXPECT_EQ(item2.status, "succeeded");
}

/// core.ask: a task waiting in `pending` pauses the workflow once nothing else runs; what would start waits; the
/// answer (the task's end) resumes it by itself.
TEST(WorkflowConductor, APendingTaskPausesTheWorkflowUntilItEnds) {
    auto spec = ParseWorkflow(
        R"(version: 1.0
tasks:
  ask:
    action: core.ask
    next:
      - when: "{{ succeeded() }}"
        publish: approved="{{ result().response.approve }}"
        do: after
  slow:
    action: core.noop
    next:
      - do: after2
  after:
    action: core.echo message="{{ ctx('approved') }}"
  after2:
    action: core.noop
output:
  - approved: "{{ ctx('approved') }}"
)",
        "ask.yaml"
    );
    ASSERT_TRUE(spec) << spec.error().message;
    ConductorHost host;
    Json state;
    Conductor c(*spec, state, host);
    StepOutput start;
    c.Start(Json::object(), start);
    ASSERT_EQ(start.launches.size(), 2u);
    StepOutput pending;
    c.TaskPending("ask", -1, 0, pending);
    EXPECT_TRUE(pending.pausing);
    EXPECT_FALSE(pending.paused);  // slow still runs
    StepOutput again;
    c.TaskPending("ask", -1, 0, again);  // a repeated report changes nothing
    EXPECT_FALSE(again.pausing || again.paused);
    StepOutput slow;
    c.TaskEnded("slow", -1, 0, "e2", "succeeded", Json::object(), slow);
    EXPECT_TRUE(slow.launches.empty());  // after2 waits
    EXPECT_TRUE(slow.paused);
    EXPECT_TRUE(c.Running().size() == 1u && c.Running()[0].task_name == "ask");
    StepOutput answered;
    c.TaskEnded("ask", -1, 0, "e1", "succeeded", Json{{"response", {{"approve", true}}}}, answered);
    EXPECT_TRUE(answered.resumed);
    ASSERT_EQ(answered.launches.size(), 2u);
    EXPECT_EQ(answered.launches[0].task_name, "after2");  // what waited, then what the answer leads to
    EXPECT_EQ(answered.launches[1].task_name, "after");
    EXPECT_EQ(answered.launches[1].input, (Json{{"message", true}}));
    StepOutput a2;
    c.TaskEnded("after2", -1, 0, "e3", "succeeded", Json::object(), a2);
    StepOutput a1;
    c.TaskEnded("after", -1, 0, "e4", "succeeded", Json::object(), a1);
    EXPECT_TRUE(a1.finished);
    EXPECT_EQ(a1.status, "succeeded");
    EXPECT_EQ(a1.result["output"]["approved"], true);
}

/// A cancel does not wait for an answer: a workflow whose only running task waits in `pending` ends canceled.
TEST(WorkflowConductor, CancelDoesNotWaitForAPendingInquiry) {
    auto spec = ParseWorkflow("version: 1.0\ntasks:\n  ask:\n    action: core.ask\n", "ask.yaml");
    ASSERT_TRUE(spec) << spec.error().message;
    ConductorHost host;
    Json state;
    Conductor c(*spec, state, host);
    StepOutput start;
    c.Start(Json::object(), start);
    StepOutput pending;
    c.TaskPending("ask", -1, 0, pending);
    EXPECT_TRUE(pending.paused);
    StepOutput cancel;
    c.Cancel(cancel);
    EXPECT_TRUE(cancel.finished);
    EXPECT_EQ(cancel.status, "canceled");
}

/// A canceled workflow whose output cannot render (it reads a task that never ran) has output null, not {}
/// (Orquesta's get_workflow_output() is None when no output rendered), and stays canceled; one without output too.
TEST(WorkflowConductor, CanceledWorkflowWithoutRenderedOutputHasNullOutput) {
    for (const std::string output : {"output:\n  - t2: <% task(t2).result %>\n", ""}) {
        auto spec = ParseWorkflow(
            "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n    next:\n      - do: t2\n  t2:\n    action: "
            "core.noop\n" +
                output,
            "cancel.yaml"
        );
        ASSERT_TRUE(spec) << spec.error().message;
        ConductorHost host;
        Json state;
        Conductor c(*spec, state, host);
        StepOutput start;
        c.Start(Json::object(), start);
        StepOutput cancel;
        c.Cancel(cancel);
        EXPECT_FALSE(cancel.finished);  // t1 still runs
        StepOutput t1;
        c.TaskEnded("t1", -1, 0, "e1", "succeeded", Json::object(), t1);
        ASSERT_TRUE(t1.finished);
        EXPECT_TRUE(t1.launches.empty());
        EXPECT_EQ(t1.status, "canceled");
        ASSERT_TRUE(t1.result.contains("output")) << t1.result.dump();
        EXPECT_TRUE(t1.result["output"].is_null()) << t1.result.dump();
    }
}

/// A pending item of a with-items task: the other items finish, then the workflow is paused until the item ends.
TEST(WorkflowConductor, APendingItemPausesTheWorkflowUntilItEnds) {
    auto spec = ParseWorkflow(
        R"(version: 1.0
tasks:
  asks:
    with:
      items: "{{ [1, 2, 3] }}"
      concurrency: 2
    action: core.ask
)",
        "asks.yaml"
    );
    ASSERT_TRUE(spec) << spec.error().message;
    ConductorHost host;
    Json state;
    Conductor c(*spec, state, host);
    StepOutput start;
    c.Start(Json::object(), start);
    ASSERT_EQ(start.launches.size(), 2u);
    StepOutput p0;
    c.TaskPending("asks", 0, 0, p0);
    EXPECT_TRUE(p0.pausing);
    EXPECT_FALSE(p0.paused);
    StepOutput i1;
    c.TaskEnded("asks", 1, 0, "e2", "succeeded", Json::object(), i1);
    EXPECT_TRUE(i1.launches.empty());  // item 2 waits while the workflow pauses
    EXPECT_TRUE(i1.paused);
    StepOutput i0;
    c.TaskEnded("asks", 0, 0, "e1", "succeeded", Json::object(), i0);
    EXPECT_TRUE(i0.resumed);
    ASSERT_EQ(i0.launches.size(), 1u);
    EXPECT_EQ(i0.launches[0].item, 2);
    StepOutput i2;
    c.TaskEnded("asks", 2, 0, "e3", "succeeded", Json::object(), i2);
    EXPECT_TRUE(i2.finished);
    EXPECT_EQ(i2.status, "succeeded");
}

/// A pause cascades down: the workflow is paused once its subworkflow task reports itself paused; resume runs on.
TEST(WorkflowConductor, APausedSubworkflowLetsItsParentPause) {
    auto spec = ParseWorkflow(
        R"(version: 1.0
tasks:
  sub:
    action: examples.subworkflow
    next:
      - do: after
  after:
    action: core.noop
)",
        "sub.yaml"
    );
    ASSERT_TRUE(spec) << spec.error().message;
    ConductorHost host;
    Json state;
    Conductor c(*spec, state, host);
    StepOutput start;
    c.Start(Json::object(), start);
    StepOutput pause;
    c.Pause(pause);
    EXPECT_FALSE(pause.paused);  // the subworkflow still runs
    StepOutput held;
    c.TaskPaused("sub", -1, 0, held);
    EXPECT_TRUE(held.paused);
    EXPECT_FALSE(held.pausing);  // its own pause, not a new one
    StepOutput resume;
    c.Resume(resume);
    EXPECT_TRUE(resume.resumed);
    EXPECT_TRUE(resume.launches.empty());  // the subworkflow is resumed, not launched again
    StepOutput pause2;
    c.Pause(pause2);
    EXPECT_FALSE(pause2.paused);  // resumed with its parent: it runs again until it reports paused
    StepOutput resume2;
    c.Resume(resume2);
    StepOutput done;
    c.TaskEnded("sub", -1, 0, "e1", "succeeded", Json::object(), done);
    ASSERT_EQ(done.launches.size(), 1u);
    EXPECT_EQ(done.launches[0].task_name, "after");
}

/// Subworkflows paused on their own (not by this workflow): it keeps running while another task runs, is paused once
/// every active task is a paused subworkflow, and the resume of one of them resumes it quietly (its other paused
/// subworkflows stay paused); with only paused subworkflows left it pauses again. As Orquesta's conductor.
TEST(WorkflowConductor, SubworkflowsPausedOnTheirOwnPauseTheWorkflowOnceNothingElseRuns) {
    auto spec = ParseWorkflow(
        R"(version: 1.0
tasks:
  one:
    action: examples.subworkflow
    next:
      - do: last
  two:
    action: examples.subworkflow
    next:
      - do: last
  last:
    join: all
    action: core.noop
)",
        "subs.yaml"
    );
    ASSERT_TRUE(spec) << spec.error().message;
    ConductorHost host;
    Json state;
    Conductor c(*spec, state, host);
    StepOutput start;
    c.Start(Json::object(), start);
    ASSERT_EQ(start.launches.size(), 2u);
    StepOutput p1;
    c.TaskPaused("one", -1, 0, p1);
    EXPECT_FALSE(p1.paused);  // `two` still runs
    EXPECT_EQ(state["status"], "running");
    StepOutput p2;
    c.TaskPaused("two", -1, 0, p2);
    EXPECT_TRUE(p2.pausing);  // running → pausing → paused: nothing runs
    EXPECT_TRUE(p2.paused);
    EXPECT_EQ(state["status"], "paused");
    StepOutput r1;
    c.TaskResumed("one", -1, 0, r1);
    EXPECT_TRUE(r1.resumed);
    EXPECT_TRUE(r1.launches.empty());
    EXPECT_EQ(state["status"], "running");
    EXPECT_TRUE(state.value("quiet_resume", false));  // the engine does not resume `two` with it
    StepOutput e1;
    c.TaskEnded("one", -1, 0, "e1", "succeeded", Json::object(), e1);
    EXPECT_TRUE(e1.launches.empty());  // `last` waits for `two`
    EXPECT_TRUE(e1.paused);            // only the paused `two` is left
    EXPECT_EQ(state["status"], "paused");
    StepOutput r2;
    c.Resume(r2);  // the workflow's own resume (it cascades to `two`)
    EXPECT_TRUE(r2.resumed);
    EXPECT_FALSE(state.contains("quiet_resume"));
    StepOutput e2;
    c.TaskEnded("two", -1, 0, "e2", "succeeded", Json::object(), e2);
    ASSERT_EQ(e2.launches.size(), 1u);
    EXPECT_EQ(e2.launches[0].task_name, "last");
}

/// Drives a conductor with every launch succeeding unless `fail` names its task (and item), returning the launches.
struct Driver {
    Conductor& c;
    std::map<std::string, Json>& stored;
    std::vector<Launch> launched;
    StepOutput end;
    int ids = 0;
    void Run(std::vector<Launch> queue, const std::set<std::string>& fail) {
        while (!queue.empty()) {
            Launch l = queue.front();
            queue.erase(queue.begin());
            launched.push_back(l);
            const std::string key = l.task_name + (l.item >= 0 ? "/" + std::to_string(l.item) : "");
            const std::string id = "e" + std::to_string(++ids);
            stored[id] = {{"key", key}};
            StepOutput out;
            c.TaskEnded(l.task_id, l.item, l.attempt, id, fail.count(key) ? "failed" : "succeeded", stored[id], out);
            for (auto& x : out.launches) queue.push_back(std::move(x));
            if (out.finished) end = out;
        }
    }
};

/// Re-run from tasks: only the chosen task runs again (in its context), then what follows it; the rest keeps its
/// results; a with-items task re-runs only its failed items unless reset.
TEST(WorkflowConductor, ReRunFromTasks) {
    auto spec = ParseWorkflow(
        R"(version: 1.0
input:
  - who: world
tasks:
  t1:
    action: core.noop
    next:
      - publish: greeting="hello {{ ctx('who') }}"
        do: t2
  t2:
    action: core.echo message="{{ ctx('greeting') }}"
    next:
      - when: "{{ succeeded() }}"
        do: fan
  fan:
    with: x in {{ ['a', 'b', 'c'] }}
    action: core.echo message="{{ item('x') }}"
output:
  - results: "{{ task('fan').result['items'] | map(attribute='result') | list }}"
)",
        "rerun.yaml"
    );
    ASSERT_TRUE(spec) << spec.error().message;
    std::map<std::string, Json> stored;
    ConductorHost host;
    host.results = [&stored](const std::vector<std::string>& ids) {
        std::vector<Json> out;
        for (const auto& id : ids) out.push_back(stored.count(id) ? stored[id] : Json());
        return out;
    };
    Json state;
    Conductor c(*spec, state, host);
    Driver d{c, stored, {}, {}, 0};
    StepOutput start;
    c.Start(Json::object(), start);
    StepOutput refused;
    EXPECT_FALSE(c.Rerun({"t2"}, {}, refused));  // not ended yet
    auto run = [&](std::vector<Launch> queue, std::set<std::string> fail) {
        d.launched.clear();
        d.end = StepOutput();
        d.Run(std::move(queue), fail);
    };
    run(start.launches, {"t2"});
    ASSERT_TRUE(d.end.finished);
    EXPECT_EQ(d.end.status, "failed");

    // t2 again: it renders in the context it had (t1's publish), then fan runs; t1 does not.
    StepOutput r1;
    ASSERT_TRUE(c.Rerun({"t2"}, {}, r1));
    ASSERT_EQ(r1.launches.size(), 1u);
    EXPECT_EQ(r1.launches[0].task_name, "t2");
    EXPECT_EQ(r1.launches[0].attempt, 1);
    EXPECT_EQ(r1.launches[0].input, (Json{{"message", "hello world"}}));
    run(r1.launches, {"fan/1"});
    EXPECT_EQ(d.launched.size(), 4u);
    EXPECT_EQ(d.end.status, "failed");

    // fan without reset: only item 1 runs again; the result keeps the other items' executions.
    StepOutput r2;
    ASSERT_TRUE(c.Rerun({"fan"}, {}, r2));
    ASSERT_EQ(r2.launches.size(), 1u);
    EXPECT_EQ(r2.launches[0].item, 1);
    run(r2.launches, {});
    EXPECT_EQ(d.end.status, "succeeded") << d.end.result.dump(2);
    EXPECT_EQ(d.end.result["output"]["results"], (Json{{{"key", "fan/0"}}, {{"key", "fan/1"}}, {{"key", "fan/2"}}}))
        << d.end.result.dump(2);
    EXPECT_FALSE(d.end.result.contains("errors"));

    // fan reset: every item runs again.
    StepOutput r3;
    ASSERT_TRUE(c.Rerun({"fan"}, {"fan"}, r3));
    EXPECT_EQ(r3.launches.size(), 3u);
    run(r3.launches, {});
    EXPECT_EQ(d.end.status, "succeeded");

    StepOutput bad;
    auto unknown = c.Rerun({"nope"}, {}, bad);
    ASSERT_FALSE(unknown);
    EXPECT_NE(unknown.error().message.find("task \"nope\" is not in the workflow"), std::string::npos);
    EXPECT_TRUE(c.Finished());  // a refused re-run changes nothing
}

/// Re-run of one branch of a join that had fired: the branch that is not re-run counts as arrived (with what it
/// published), so the join runs again once the re-run branch arrives.
TEST(WorkflowConductor, ReRunOfOneBranchFiresTheJoinWithTheKeptBranch) {
    auto spec = ParseWorkflow(
        R"(version: 1.0
tasks:
  a:
    action: core.noop
    next:
      - do: [b, c]
  b:
    action: core.noop
    next:
      - when: "{{ succeeded() }}"
        publish: from_b=b1
        do: j
  c:
    action: core.noop
    next:
      - when: "{{ succeeded() }}"
        publish: from_c=c1
        do: j
  j:
    join: all
    action: core.echo message="{{ ctx('from_b') }}+{{ ctx('from_c') }}"
output:
  - j: "{{ task('j').result }}"
)",
        "rerun_join.yaml"
    );
    ASSERT_TRUE(spec) << spec.error().message;
    std::map<std::string, Json> stored;
    ConductorHost host;
    host.results = [&stored](const std::vector<std::string>& ids) {
        std::vector<Json> out;
        for (const auto& id : ids) out.push_back(stored.count(id) ? stored[id] : Json());
        return out;
    };
    Json state;
    Conductor c(*spec, state, host);
    Driver d{c, stored, {}, {}, 0};
    StepOutput start;
    c.Start(Json::object(), start);
    d.Run(start.launches, {"j"});
    ASSERT_TRUE(d.end.finished);
    EXPECT_EQ(d.end.status, "failed");
    ASSERT_EQ(d.launched.back().task_name, "j");
    EXPECT_EQ(d.launched.back().input, (Json{{"message", "b1+c1"}}));

    // b again: c is not re-run, yet j runs once b arrives, with what c published.
    StepOutput r;
    ASSERT_TRUE(c.Rerun({"b"}, {}, r));
    ASSERT_EQ(r.launches.size(), 1u);
    EXPECT_EQ(r.launches[0].task_name, "b");
    d.launched.clear();
    d.end = StepOutput();
    d.Run(r.launches, {});
    ASSERT_EQ(d.launched.size(), 2u);
    EXPECT_EQ(d.launched[1].task_name, "j");
    EXPECT_EQ(d.launched[1].input, (Json{{"message", "b1+c1"}}));
    ASSERT_TRUE(d.end.finished) << state.dump(2);
    EXPECT_EQ(d.end.status, "succeeded") << d.end.result.dump(2);

    // Both branches again: j waits for both (neither counts as arrived), then runs once.
    StepOutput both;
    ASSERT_TRUE(c.Rerun({"b", "c"}, {}, both));
    EXPECT_EQ(both.launches.size(), 2u);
    d.launched.clear();
    d.end = StepOutput();
    d.Run(both.launches, {});
    ASSERT_EQ(d.launched.size(), 3u);
    EXPECT_EQ(d.launched[2].task_name, "j");
    EXPECT_EQ(d.end.status, "succeeded");
}

TEST(WorkflowCorpus, HasSixtyCases) {
    EXPECT_GE(CaseFiles().size(), 60u);
}

}  // namespace
}  // namespace squall::workflows
