#pragma once

#include <functional>
#include <string>
#include <vector>

#include "squall/core/kv_lookup.hpp"
#include "squall/workflows/machine.hpp"
#include "squall/workflows/spec.hpp"

/// The Orquesta conductor: a pure, deterministic state machine over one workflow's state (a JSON document the
/// caller stores). It is told that the workflow starts or that a task execution ended, and answers with the task
/// executions to launch and, once nothing is left to run, the workflow's status and result. It never does I/O:
/// the Redis driver (engine.hpp) and the conformance tests (tests/cases/workflows) feed it.
///
/// State document (docs/workflows.md): `status` (running, failing, canceling, succeeded, failed, canceled),
/// `ctxs` (context entries: the root holds input and vars; every publish adds an entry holding only what it
/// published, with its parent entries, so no context is ever copied), `tasks` (task instances by id: name,
/// context entry, status, attempt, items), `joins` (barriers waiting for inbound transitions), `seq` (task ids in
/// the order they completed), `errors`.
namespace squall::workflows {

class Conductor final : public Machine {
public:
    Conductor(const WorkflowSpec& spec, Json& state, const ConductorHost& host);

    /// Starts the workflow: input (defaults applied; a missing required input fails), vars, the start tasks.
    void Start(const Json& input, StepOutput& out) override;
    /// A task execution ended (`status`: succeeded, failed, timeout, canceled, abandoned). Stale or repeated
    /// reports (another attempt, an item already done) change nothing: a step is idempotent.
    void TaskEnded(
        const std::string& task_id,
        int item,
        int attempt,
        const std::string& execution_id,
        const std::string& status,
        const Json& result,
        StepOutput& out
    ) override;
    /// A task (or item) waits in `pending` (an inquiry): the workflow pauses until it ends.
    void TaskPending(const std::string& task_id, int item, int attempt, StepOutput& out) override;
    void TaskPaused(const std::string& task_id, int item, int attempt, StepOutput& out) override;
    void TaskResumed(const std::string& task_id, int item, int attempt, StepOutput& out) override;
    /// Cancel: no new task starts; the workflow is canceled once the running ones end.
    void Cancel(StepOutput& out) override;
    /// Pause: no new task (nor item) starts; what would have started waits. Paused once nothing runs.
    void Pause(StepOutput& out) override;
    /// Resume: what waited starts now.
    void Resume(StepOutput& out) override;

    /// Re-run from tasks (StackStorm's `re-run --tasks`): the workflow, ended, runs again from the latest instance of
    /// each of `tasks`, in the context that instance had; what else ran keeps its results. A with-items task re-runs
    /// only its items that did not succeed unless it is in `reset`. The earlier errors are dropped. An error names a
    /// task that never ran or a workflow that has not ended (nothing changes then).
    Status Rerun(const std::vector<std::string>& tasks, const std::vector<std::string>& reset, StepOutput& out);

    /// True once the workflow has a final status.
    bool Finished() const override;
    /// Task instances that are running (for recovery: re-issue their launches).
    std::vector<Launch> Running() const override;

private:
    struct Env;
    Result<Json> Eval(const Json& value, const Env& env) const;
    /// A task's input: its mapping rendered, or its input expression rendered to a mapping.
    Result<Json> EvalInput(const TaskSpec& t, const Env& env) const;
    Json ResolveCtx(int index) const;
    int AddCtx(std::vector<int> parents, Json delta);
    /// `route`: the Orquesta route the task instance runs on (0 unless a split made a new one; RouteFor).
    void Stage(const std::string& name, int ctx, const std::string& from, StepOutput& out, int route = 0);
    /// The route of task `target` reached from `from` (on `route`) by its transition `index`: Orquesta's split
    /// (a task with several inbound transitions, no join, not in a cycle) adds a new route per inbound transition.
    int RouteFor(const std::string& target, const std::string& from, size_t index, int route);
    /// The latest instance of task `name` on `route`, or on the nearest earlier route it split from, as st2's
    /// task() finds it; null when there is none.
    const Json* InstanceOn(const std::string& name, int route) const;
    void RunTask(const std::string& task_id, StepOutput& out);
    void LaunchItems(const std::string& task_id, StepOutput& out);
    void Complete(const std::string& task_id, const std::string& status, const Json& result, StepOutput& out);
    void Fail(Json error);
    void CheckEnd(StepOutput& out);
    /// True when no task execution is out: every running task (or item) waits for an answer or is a paused
    /// subworkflow; `held` (if given) is set when one is a paused subworkflow.
    bool NothingRuns(bool* held) const;
    /// Marks a task (or item) as waiting: `pending` (an inquiry; pauses the workflow) or a paused subworkflow.
    void Hold(const std::string& task_id, int item, int attempt, StepOutput& out, bool pauses_workflow);
    bool AnyPending() const;
    void ResumeAfterInquiry(StepOutput& out);
    Json TaskResult(const Json& task) const;
    /// Before a re-run from `tasks`: the joins they lead to count the branches that are not re-run as arrived.
    void PrepareJoinsForRerun(const std::vector<std::string>& tasks);

    const WorkflowSpec& spec_;
    Json& s_;
    const ConductorHost& host_;
};

}  // namespace squall::workflows
