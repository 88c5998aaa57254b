#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "squall/core/asio.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/packs/content.hpp"
#include "squall/packs/loader.hpp"

namespace squall::core {
class ProcessSupervisor;
}  // namespace squall::core

namespace squall::actionrunners {

using core::Json;

/// One run, immutable (no objects filled in after construction).
struct RunRequest {
    std::string execution_id;
    std::string action_ref;
    Json action = Json::object();            ///< action metadata snapshot
    Json parameters = Json::object();        ///< runner + action parameters, in clear
    std::vector<std::string> secret_values;  ///< values to mask in everything the run produces
    Json context = Json::object();
    std::string api_url;  ///< for ST2_ACTION_API_URL
    /// ST2_ACTION_AUTH_TOKEN: a token for api_url valid while this execution runs (core::MintActionToken); masked
    std::string auth_token;
    Json config = Json::object();  ///< the action's pack config (Keys::Configs), values in clear
};

/// How a runner reports back. Both may be called from the runner's strand; `on_done` exactly once.
struct RunCallbacks {
    std::function<void(std::string_view stream, std::string line)> on_output;
    std::function<void(core::ExecutionResult)> on_done;
};

/// A runner: a small adapter that builds what to run and interprets the result.
class Runner {
public:
    virtual ~Runner() = default;
    virtual void Run(const RunRequest& request, RunCallbacks callbacks) = 0;
    /// Cancels a run started by this runner; its on_done then reports `canceled`. Unknown id: no-op.
    virtual void Cancel(const std::string& execution_id) = 0;
    /// False for a runner that runs nothing of the action's (core.noop): the container then does not read the pack
    /// config, whose values the run would neither use nor print (they are also what output is masked against).
    virtual bool UsesPackConfig() const { return true; }
    /// The result of a run known without running anything (core.noop; a runner type not supported yet), or none.
    /// The container then stores the claim and this result in one step (ExecutionStore::TransitionVia) instead of
    /// a claim, a run and an end: the record, its log and its events are those a run would leave.
    virtual std::optional<core::ExecutionResult> ResultWithoutRunning(const std::string& /*action_ref*/) const {
        return std::nullopt;
    }
};
using RunnerPtr = std::unique_ptr<Runner>;

/// What runners may use; owned by the container.
struct RunnerServices {
    asio::io_context& io;
    core::ProcessSupervisor& supervisor;
    core::RedisClientPtr redis;           ///< the container's client (async; never block the loop on it)
    std::string data_dir;                 ///< DATA (packs/, configs/, keys/)
    packs::RuleCheck check_rule;          ///< for the pack manager's validation (rules::MakeRuleCheck); may be empty
    const core::Clock* clock = nullptr;   ///< stamps stored times (null: core::SystemClock())
    packs::WorkflowCheck check_workflow;  ///< for the pack manager's validation (workflows::MakeWorkflowCheck)
};

/// A runner type: its name, its typed parameter schema (with secret flags, as StackStorm's runner.yaml),
/// and how to make one.
struct RunnerFactory {
    packs::RunnerTypeInfo info;
    std::function<RunnerPtr(RunnerServices&)> create;
    /// Set for a runner whose every run's result is known without running anything (noop): what the execution
    /// service settles an execution with at its creation (ExecutionService::SetKnownResults).
    std::function<core::ExecutionResult(const std::string& action_ref)> known_result;
};

/// Runner types by name. Registering a name twice fails ("Double registration", at start-up).
class RunnerRegistry {
public:
    Status Register(RunnerFactory factory);
    const RunnerFactory* Find(const std::string& name) const;
    std::vector<packs::RunnerTypeInfo> Infos() const;
    /// The known result (RunnerFactory::known_result) of an action of `runner_type`, nullopt when there is none.
    std::optional<core::ExecutionResult> KnownResult(const std::string& runner_type, const std::string& action_ref)
        const;

private:
    std::map<std::string, RunnerFactory> factories_;
};

/// Registers the built-in runners (local/remote shell, python-script, http-request, noop, inquirer, ...).
void RegisterBuiltinRunners(RunnerRegistry& registry);

}  // namespace squall::actionrunners
