// The action-chain corpus (tests/cases/chains/*.yaml): each case is a chain, the chain execution's parameters,
// datastore values, the results its task executions give (scripted per task, in call order; by default an execution
// succeeds and its result is its input), and what StackStorm's action-chain runner does with them: the tasks in the
// order they ran, the parameters each got, the chain's status, what it published and its error. The chain's state
// machine runs as the workflow role runs it, without Redis.
#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <map>

#include "squall/core/yaml_json.hpp"
#include "squall/workflows/chain.hpp"

namespace squall::workflows {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> CaseFiles() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(std::string(SQUALL_SOURCE_DIR) + "/tests/cases/chains")) {
        if (e.path().extension() == ".yaml") out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

/// Every expected key/value must be in actual (objects: subset; "~text": a substring; other values: equal).
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
        if (!e.empty() && e[0] == '~') return actual.get<std::string>().find(e.substr(1)) != std::string::npos;
    }
    return actual == expected;
}

/// The datastore of a case: `kv: {system: {k: v}, user: {k: v}}`.
class CaseKv final : public core::KeyValueLookup {
public:
    explicit CaseKv(Json values) : values_(std::move(values)) {}
    std::optional<std::string> Get(std::string_view scope, std::string_view key) const override {
        const std::string s(scope);
        const std::string k(key);
        if (!values_.contains(s) || !values_[s].contains(k)) return std::nullopt;
        const Json& v = values_[s][k];
        return v.is_string() ? v.get<std::string>() : v.dump();
    }

private:
    Json values_;
};

class ChainCase : public ::testing::TestWithParam<std::string> {};

TEST_P(ChainCase, BehavesAsStackStorm) {
    const std::string path = std::string(SQUALL_SOURCE_DIR) + "/tests/cases/chains/" + GetParam();
    auto doc = core::LoadYamlFile(path);
    ASSERT_TRUE(doc) << doc.error().message;
    const Json& c = doc->value;
    ASSERT_TRUE(c.contains("chain") && c.contains("expected")) << path << ": needs chain and expected";
    const Json& expected = c["expected"];
    auto spec = ParseChain(c["chain"].get<std::string>(), GetParam());
    if (expected.contains("parse_error")) {
        ASSERT_FALSE(spec) << "the chain should not parse";
        EXPECT_TRUE(Contains(Json(spec.error().message), expected["parse_error"])) << spec.error().message;
        return;
    }
    ASSERT_TRUE(spec) << spec.error().message;

    std::map<std::string, std::deque<Json>> scripted;  // task name → [{status, result}], in call order
    if (c.contains("results")) {
        for (const auto& [task, list] : c["results"].items()) {
            for (const auto& r : list) scripted[task].push_back(r);
        }
    }
    std::map<std::string, Json> stored;  // execution id → result
    CaseKv kv(c.value("kv", Json::object()));
    ConductorHost host;
    host.results = [&](const std::vector<std::string>& ids) {
        std::vector<Json> out;
        for (const auto& id : ids) out.push_back(stored.count(id) ? stored[id] : Json());
        return out;
    };
    host.kv = &kv;
    host.st2 = {{"execution_id", "chain1"}, {"user", "tester"}, {"pack", "examples"}};
    if (c.contains("config")) host.config = [config = c["config"]] { return config; };
    int clock = 0;
    host.now = [&clock] { return "2026-01-01T00:00:" + std::to_string(10 + clock++) + ".000000Z"; };
    Json state;
    ChainConductor chain(*spec, state, host);
    StepOutput out;
    chain.Start(c.value("parameters", Json::object()), out);
    std::deque<Launch> queue(out.launches.begin(), out.launches.end());
    Json actions = Json::array();
    int executions = 0;
    std::string final_status = out.finished ? out.status : "";
    Json final_result = out.result;
    while (!queue.empty() && final_status.empty()) {
        ASSERT_LT(executions, 1000) << "runaway chain";
        ASSERT_EQ(queue.size(), 1u) << "a chain runs one task at a time";
        Launch l = queue.front();
        queue.pop_front();
        EXPECT_EQ(l.kind, "chain");
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
            if (r.value("refused", false)) {
                // The execution service refused it (unknown action, bad parameters): no execution exists.
                StepOutput step;
                chain.TaskEnded(l.task_id, l.item, l.attempt, "", "failed", result, step);
                for (auto& x : step.launches) queue.push_back(std::move(x));
                if (step.finished) {
                    final_status = step.status;
                    final_result = step.result;
                }
                continue;
            }
        }
        stored[id] = result;
        StepOutput step;
        chain.TaskEnded(l.task_id, l.item, l.attempt, id, status, result, step);
        // A report delivered twice changes nothing.
        StepOutput again;
        chain.TaskEnded(l.task_id, l.item, l.attempt, id, status, result, again);
        EXPECT_TRUE(again.launches.empty() && !again.finished);
        for (auto& x : step.launches) queue.push_back(std::move(x));
        if (step.finished) {
            final_status = step.status;
            final_result = step.result;
        }
    }
    ASSERT_FALSE(final_status.empty()) << "the chain did not finish; state: " << state.dump(2);
    EXPECT_TRUE(chain.Finished());
    EXPECT_EQ(final_status, expected.value("status", "succeeded")) << final_result.dump(2);
    Json seq = Json::array();
    for (const auto& t : final_result["tasks"]) seq.push_back(t["name"]);
    if (expected.contains("sequence")) {
        EXPECT_EQ(seq, expected["sequence"]) << final_result.dump(2);
    }
    // StackStorm's result shape: every task with its execution, state and result.
    for (size_t i = 0; i < final_result["tasks"].size(); ++i) {
        const Json& t = final_result["tasks"][i];
        EXPECT_EQ(t["id"], t["name"]);
        EXPECT_EQ(t["liveaction_id"], t["execution_id"]);
        EXPECT_TRUE(t.contains("workflow") && t["workflow"].is_null());
        EXPECT_TRUE(t["created_at"].is_string() && t["updated_at"].is_string());
        if (t["execution_id"].is_null()) {
            // Refused at launch: no execution; the task failed with the error as its result (StackStorm's shape).
            EXPECT_EQ(t["state"], "failed");
            EXPECT_TRUE(t["result"].contains("error") && t["result"].contains("traceback")) << t.dump(2);
            continue;
        }
        EXPECT_TRUE(t["execution_id"].is_string());
        EXPECT_EQ(t["result"], stored[t["execution_id"].get<std::string>()]);
    }
    if (expected.contains("published")) {
        EXPECT_EQ(final_result.value("published", Json()), expected["published"]) << final_result.dump(2);
    }
    if (expected.contains("no_published")) {
        EXPECT_FALSE(final_result.contains("published")) << final_result.dump(2);
    }
    if (expected.contains("states")) {
        Json states = Json::array();
        for (const auto& t : final_result["tasks"]) states.push_back(t["state"]);
        EXPECT_EQ(states, expected["states"]) << final_result.dump(2);
    }
    if (expected.contains("error")) {
        ASSERT_TRUE(final_result.contains("error")) << final_result.dump(2);
        EXPECT_TRUE(Contains(final_result["error"], expected["error"])) << final_result["error"];
        // As StackStorm's runner, a top-level error comes with a traceback.
        ASSERT_TRUE(final_result.contains("traceback")) << final_result.dump(2);
        if (expected.contains("traceback")) {
            EXPECT_TRUE(Contains(final_result["traceback"], expected["traceback"])) << final_result["traceback"];
        }
    } else {
        EXPECT_FALSE(final_result.contains("error")) << final_result.dump(2);
        EXPECT_FALSE(final_result.contains("traceback")) << final_result.dump(2);
    }
    if (expected.contains("task_results")) {
        // Results by task name, for tasks that have no execution (refused at launch).
        for (const auto& t : final_result["tasks"]) {
            const std::string name = t["name"];
            if (expected["task_results"].contains(name)) {
                EXPECT_TRUE(Contains(t["result"], expected["task_results"][name])) << t.dump(2);
            }
        }
    }
    if (expected.contains("actions")) {
        ASSERT_EQ(actions.size(), expected["actions"].size()) << actions.dump(2);
        for (size_t i = 0; i < actions.size(); ++i)
            EXPECT_TRUE(Contains(actions[i], expected["actions"][i])) << actions.dump(2);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Cases,
    ChainCase,
    ::testing::ValuesIn(CaseFiles()),
    [](const ::testing::TestParamInfo<std::string>& info) {
        std::string n = info.param.substr(0, info.param.size() - 5);
        for (auto& ch : n) {
            if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        }
        return n;
    }
);

/// Cancel while a task runs: it finishes, nothing starts after it, the chain ends canceled.
TEST(ChainConductor, CancelLetsTheRunningTaskFinishAndStartsNothing) {
    auto spec =
        ParseChain("chain:\n  - {name: a, ref: core.noop, on-success: b}\n  - {name: b, ref: core.noop}\n", "c");
    ASSERT_TRUE(spec) << spec.error().message;
    ConductorHost host;
    Json state;
    ChainConductor c(*spec, state, host);
    StepOutput start;
    c.Start(Json::object(), start);
    ASSERT_EQ(start.launches.size(), 1u);
    StepOutput cancel;
    c.Cancel(cancel);
    EXPECT_FALSE(cancel.finished);
    StepOutput a;
    c.TaskEnded("a", 0, 0, "e1", "succeeded", Json::object(), a);
    EXPECT_TRUE(a.launches.empty());
    EXPECT_TRUE(a.finished);
    EXPECT_EQ(a.status, "canceled");
    ASSERT_EQ(a.result["tasks"].size(), 1u);
}

/// Pause while a task runs: the next task waits; resume starts it; recovery re-issues the task that is out.
TEST(ChainConductor, PauseHoldsTheNextTaskUntilResume) {
    auto spec = ParseChain(
        "chain:\n  - {name: a, ref: core.noop, on-success: b}\n  - {name: b, ref: core.echo, parameters: {message: "
        "\"{{ greeting }}\"}}\n",
        "c"
    );
    ASSERT_TRUE(spec) << spec.error().message;
    ConductorHost host;
    Json state;
    ChainConductor c(*spec, state, host);
    StepOutput start;
    c.Start(Json{{"greeting", "hi"}}, start);
    ASSERT_EQ(c.Running().size(), 1u);
    EXPECT_EQ(c.Running()[0].task_name, "a");
    StepOutput pause;
    c.Pause(pause);
    EXPECT_FALSE(pause.paused);  // a still runs
    StepOutput a;
    c.TaskEnded("a", 0, 0, "e1", "succeeded", Json::object(), a);
    EXPECT_TRUE(a.launches.empty());
    EXPECT_TRUE(a.paused);
    EXPECT_TRUE(c.Running().empty());
    StepOutput resume;
    c.Resume(resume);
    EXPECT_TRUE(resume.resumed);
    ASSERT_EQ(resume.launches.size(), 1u);
    EXPECT_EQ(resume.launches[0].task_name, "b");
    EXPECT_EQ(resume.launches[0].input, (Json{{"message", "hi"}}));
    // Recovery (a role that took over) re-issues the same launch: same task, position and parameters.
    auto running = c.Running();
    ASSERT_EQ(running.size(), 1u);
    EXPECT_EQ(running[0].item, resume.launches[0].item);
    EXPECT_EQ(running[0].input, resume.launches[0].input);
    StepOutput b;
    c.TaskEnded("b", 1, 0, "e2", "succeeded", Json::object(), b);
    EXPECT_TRUE(b.finished);
    EXPECT_EQ(b.status, "succeeded");
}

/// core.ask in a chain: the pending task pauses the chain; its end (the answer) resumes it by itself.
TEST(ChainConductor, APendingTaskPausesTheChainUntilItEnds) {
    auto spec = ParseChain(
        "chain:\n  - {name: ask, ref: core.ask, on-success: after}\n  - {name: after, ref: core.echo, parameters: "
        "{message: \"{{ ask.response.approve }}\"}}\n",
        "c"
    );
    ASSERT_TRUE(spec) << spec.error().message;
    ConductorHost host;
    Json state;
    ChainConductor c(*spec, state, host);
    StepOutput start;
    c.Start(Json::object(), start);
    StepOutput pending;
    c.TaskPending("ask", 0, 0, pending);
    EXPECT_TRUE(pending.pausing);
    EXPECT_TRUE(pending.paused);
    StepOutput again;
    c.TaskPending("ask", 0, 0, again);
    EXPECT_FALSE(again.pausing || again.paused);
    StepOutput answered;
    c.TaskEnded("ask", 0, 0, "e1", "succeeded", Json{{"response", {{"approve", true}}}}, answered);
    EXPECT_TRUE(answered.resumed);
    ASSERT_EQ(answered.launches.size(), 1u);
    EXPECT_EQ(answered.launches[0].input, (Json{{"message", true}}));
    StepOutput after;
    c.TaskEnded("after", 1, 0, "e2", "succeeded", Json::object(), after);
    EXPECT_TRUE(after.finished);
    EXPECT_EQ(after.status, "succeeded");
}

TEST(ChainCorpus, HasTheCases) {
    EXPECT_GE(CaseFiles().size(), 20u);
}

}  // namespace
}  // namespace squall::workflows
