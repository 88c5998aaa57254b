#pragma once

#include <functional>
#include <string>
#include <vector>

#include "squall/core/kv_lookup.hpp"
#include "squall/core/model/model.hpp"

/// What the `workflow` role drives (engine.hpp): a pure state machine over one workflow's state document, told that
/// the workflow starts, that one of its task executions ended, or that it is canceled, paused or resumed, and
/// answering with the task executions to launch and, at the end, the status and result. Two kinds implement it:
/// Orquesta workflows (conductor.hpp) and action-chains (chain.hpp). Neither does I/O.
namespace squall::workflows {

using core::Json;

/// A task execution to create.
struct Launch {
    std::string task_id;  ///< task instance id (the task name, or name__N for later instances)
    std::string task_name;
    int item = -1;    ///< with-items: the item's index; chains: the task's position in the run; -1 otherwise
    int attempt = 0;  ///< retries so far (part of the idempotency key)
    std::string action;
    Json input = Json::object();
    double delay = 0;               ///< seconds to wait before running (task `delay`, retry `delay`)
    std::string kind = "orquesta";  ///< the key of the task's execution context (`orquesta` or `chain`)
};

/// What one step produced.
struct StepOutput {
    std::vector<Launch> launches;
    bool finished = false;
    bool pausing = false;  ///< a task waits for an answer (an inquiry): the workflow pauses by itself
    bool paused = false;   ///< a pause asked for has taken effect: nothing runs any more
    bool resumed = false;  ///< a paused workflow runs again (resumed, or the inquiry it waited on was answered)
    std::string status;    ///< the workflow's final status (finished only)
    Json result;           ///< Orquesta: {output, errors}; chains: {tasks, published[, error]}
};

/// What a machine needs from outside: stored task results, the datastore, the time.
struct ConductorHost {
    /// Results of finished executions, in the order asked (null for an empty or unknown id).
    std::function<std::vector<Json>(const std::vector<std::string>& execution_ids)> results;
    const core::KeyValueLookup* kv = nullptr;
    /// Orquesta: ctx().st2 (action_execution_id, api_url, user, pack...). Chains: action_context.parent (the
    /// chain's execution id and context).
    Json st2 = Json::object();
    /// ISO-8601 UTC now (chains record when each task started and ended); null: "".
    std::function<std::string()> now;
    /// Chains: `config_context`, the config of the chain's pack (rendered), for task parameters; null: {}.
    std::function<Json()> config;
};

/// One workflow's state machine (see the namespace comment). Steps are idempotent: a repeated or stale report
/// changes nothing.
class Machine {
public:
    virtual ~Machine() = default;
    /// Starts the workflow with the execution's parameters.
    virtual void Start(const Json& input, StepOutput& out) = 0;
    /// A task execution ended (`status`: succeeded, failed, timeout, canceled, abandoned). `execution_id` empty:
    /// the execution could not be created (`result.error` says why).
    virtual void TaskEnded(
        const std::string& task_id,
        int item,
        int attempt,
        const std::string& execution_id,
        const std::string& status,
        const Json& result,
        StepOutput& out
    ) = 0;
    /// A task execution waits for an answer (`pending`: an inquiry, core.ask). The workflow pauses (`pausing`, then
    /// `paused` once nothing else runs) until the task ends; then it resumes by itself, as StackStorm's does when
    /// the inquiry is answered.
    virtual void TaskPending(const std::string& task_id, int item, int attempt, StepOutput& out) = 0;
    /// A task execution that is itself a workflow was paused (a pause cascading down, or its own): it runs nothing,
    /// so a pausing workflow counts it as stopped. A running workflow whose every active task is such a paused
    /// subworkflow is paused too (Orquesta; an action-chain, whose one task it is, at once), as StackStorm's are.
    virtual void TaskPaused(const std::string& task_id, int item, int attempt, StepOutput& out) = 0;
    /// A task execution that is itself a workflow runs again after a pause (it resumed, e.g. its inquiry was
    /// answered): it no longer counts as paused or pending, and an Orquesta workflow that paused only because of it
    /// (an inquiry inside the subworkflow, or its subworkflows paused) resumes by itself, as StackStorm resumes the
    /// parents of a resumed task. An action-chain paused with its subworkflow waits for its own resume, as
    /// StackStorm's chain runner does.
    virtual void TaskResumed(const std::string& task_id, int item, int attempt, StepOutput& out) = 0;
    /// Cancel: no new task starts; the workflow is canceled once the running ones end.
    virtual void Cancel(StepOutput& out) = 0;
    /// Pause: no new task starts; what would have started waits. Paused once nothing runs.
    virtual void Pause(StepOutput& out) = 0;
    /// Resume: what waited starts now.
    virtual void Resume(StepOutput& out) = 0;
    /// True once the workflow has a final status.
    virtual bool Finished() const = 0;
    /// The task executions that are out (for recovery: re-issue their launches, which are idempotent).
    virtual std::vector<Launch> Running() const = 0;
};

}  // namespace squall::workflows
