#pragma once

#include <string>
#include <utility>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/core/yaml_json.hpp"
#include "squall/workflows/machine.hpp"

/// StackStorm's action-chain (`runner_type: action-chain`, reference §6): a `chain` of tasks run one after the
/// other, each an action with Jinja-rendered `parameters`, going on to its `on-success` or `on-failure` task;
/// `publish` adds variables for the rest of the chain; `vars` are rendered at the start; `default` names the first
/// task. Driven by the `workflow` role like an Orquesta workflow (docs/workflows.md): every task is a child
/// execution and the chain advances when the task's end reaches the workflow event stream.
namespace squall::workflows {

/// One task of a chain.
struct ChainNode {
    std::string name;
    std::string ref;                                    ///< the action
    Json parameters = Json::object();                   ///< `parameters` (or StackStorm's old `params`)
    std::string on_success;                             ///< empty: the chain ends there
    std::string on_failure;                             ///< empty: the chain ends there
    std::vector<std::pair<std::string, Json>> publish;  ///< name → template
    int line = 0;
};

/// A parsed chain.
struct ChainSpec {
    std::string file;
    std::vector<ChainNode> chain;
    std::string default_node;  ///< `default`, or the first task no other task goes on to, or the first task
    std::vector<std::pair<std::string, Json>> vars;
    core::YamlDocument doc;

    const ChainNode* Find(const std::string& name) const;
};

/// Parses and checks a chain as StackStorm's runner does before it runs one: `chain` is a non-empty list of tasks
/// with `name` and `ref`; `on-success`, `on-failure` and `default` name tasks of the chain (a Jinja name is left
/// for run time). Errors are "file:line:col: chain[1].on-success: ...".
Result<ChainSpec> ParseChain(const std::string& text, const std::string& file);

/// The chain's state machine. State document: `status` (running, canceling, pausing, paused, then succeeded,
/// failed, timeout or canceled), `chain_status` (what the chain ends with: the status of the last task that ran),
/// `vars` (vars and everything published), `published`, `tasks` (the tasks that ran: name, execution id, start,
/// end, state; no results — they stay in the execution records), `current` (the task execution out, with its
/// rendered parameters for recovery), `seq` (tasks launched so far), `error` (a chain-level error).
///
/// Rendering as StackStorm's runner: task parameters see the chain's parameters, every earlier task's result by
/// task name and under `__results`, `vars` and published values, `action_context.parent` (the chain's execution id,
/// user, pack...) and `st2kv`; publish sees the same plus the task's own result. Undefined names are errors.
class ChainConductor final : public Machine {
public:
    ChainConductor(const ChainSpec& spec, Json& state, const ConductorHost& host);

    /// `input`: the chain execution's parameters, with the runner's (`display_published`: the result carries
    /// `published`, default true; `skip_notify`), which the templates do not see.
    void Start(const Json& input, StepOutput& out) override;
    void TaskEnded(
        const std::string& task_id,
        int item,
        int attempt,
        const std::string& execution_id,
        const std::string& status,
        const Json& result,
        StepOutput& out
    ) override;
    void TaskPending(const std::string& task_id, int item, int attempt, StepOutput& out) override;
    void TaskPaused(const std::string& task_id, int item, int attempt, StepOutput& out) override;
    void TaskResumed(const std::string& task_id, int item, int attempt, StepOutput& out) override;
    void Cancel(StepOutput& out) override;
    void Pause(StepOutput& out) override;
    void Resume(StepOutput& out) override;
    bool Finished() const override;
    std::vector<Launch> Running() const override;

private:
    Json Context(const std::string& ending_task, const Json& ending_result) const;
    /// Renders and launches task `name`; `ended`/`ended_result`: the task that just ended, whose result came with
    /// its event.
    void RunNode(
        const std::string& name, StepOutput& out, const std::string& ended = "", const Json& ended_result = Json()
    );
    void End(const std::string& status, StepOutput& out);
    /// Ends the chain failed with a top-level `error` and, as StackStorm's runner gives one, a `traceback` (which
    /// step of the chain failed and how: `exception` is the name StackStorm's runner gives that kind of failure).
    void EndWithError(
        const std::string& message,
        StepOutput& out,
        const std::string& exception = "ActionRunnerException",
        const std::string& task = ""
    );
    std::string Now() const;

    const ChainSpec& spec_;
    Json& s_;
    const ConductorHost& host_;
};

}  // namespace squall::workflows
