#pragma once

#include <functional>
#include <memory>
#include <string>

#include "squall/core/asio.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/core/store/kv_store.hpp"
#include "squall/executions/service.hpp"

/// The `workflow` role: runs Orquesta workflows and action-chains durably in Redis (docs/workflows.md).
///
/// - Starts a workflow from its request on `{x}stream:executions:workflow` (the execution service routes
///   `runner_type: orquesta` there): claims it (`scheduled → running`), reads its `entry_point`, stores the state.
/// - Advances it on the execution event stream (group `workflow`): when a task execution (an execution whose
///   parent is the workflow) ends, the conductor decides what comes next. The new state is written by one script
///   that checks the state's version and acknowledges the event, so a step happens once: a redelivered event finds
///   the step done, a concurrent one (another role) retries on the new state.
/// - Every task execution is created through ExecutionService with the idempotency key
///   `wf:<workflow>:<task instance>:<item>:<attempt>`: creating it again after a crash creates nothing.
/// - A role that starts (and every 30 s) re-issues the launches of workflows whose state stopped moving, so a
///   process killed between storing a step and creating its task executions loses nothing.
/// Several roles share the work through the consumer groups. Blocking Redis calls run on the role's own threads,
/// never on the event loop.
namespace squall::workflows {

struct WorkflowEngineOptions {
    std::string consumer_name;  ///< this process's name in the groups
    size_t threads = 2;
    std::string api_url;  ///< ctx().st2.api_url
    core::KvCache* kv = nullptr;
    /// Registered content: the config of a chain's pack (`config_context` in its task parameters); may be null.
    packs::ContentCache* content = nullptr;
    std::chrono::milliseconds reclaim_min_idle{5000};
    std::chrono::milliseconds recovery_interval{30000};
};

class WorkflowEngine {
public:
    WorkflowEngine(
        asio::io_context& io,
        core::RedisClientPtr redis,
        executions::ExecutionService& service,
        WorkflowEngineOptions options
    );
    ~WorkflowEngine();
    void Start();
    void Stop(std::function<void()> on_stopped);

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace squall::workflows
