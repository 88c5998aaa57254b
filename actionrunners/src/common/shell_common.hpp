#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "squall/actionrunners/runner.hpp"
#include "squall/core/process/supervisor.hpp"

/// What the process-based runners share (as StackStorm's ShellRunnerMixin): the child's environment, the
/// `timeout` parameter, script argument serialisation, the {stdout, stderr, return_code, succeeded, failed}
/// result and the handles Cancel() needs.
namespace squall::actionrunners {

/// The argv that runs `cmd` exactly as `/bin/sh -c cmd` would, without the shell, when `cmd` is a simple command of
/// plain words: optional leading `NAME=value` assignments (added to `env`, as sh exports them to the command), then
/// a program that is not a shell builtin or keyword and is found as an executable file (a path, or on `env`'s PATH:
/// absolute entries only), then arguments. Plain words hold no quoting, expansion, redirection, globbing or
/// separator characters, so the shell would pass them as they are. Empty otherwise: the caller runs the shell.
/// One process per action instead of two (dash forks the command) halves the spawn cost of commands such as
/// `/bin/true` or `curl -fsS http://host/x`.
std::vector<std::string> PlainCommandArgv(const std::string& cmd, std::map<std::string, std::string>& env);

/// The last `max_lines` lines of `text`, for error messages.
std::string Tail(const std::string& text, size_t max_lines = 10);
/// A parameter value as text: strings as they are, anything else as JSON.
std::string ParamString(const Json& v);
/// A minimal environment inherited from this process (PATH, HOME, LANG, ...).
std::map<std::string, std::string> BaseEnv();
/// BaseEnv() plus the runner parameter `env` and StackStorm's ST2_ACTION_* variables (reference §4).
std::map<std::string, std::string> ActionEnv(const RunRequest& req);
/// The `timeout` parameter in seconds, `fallback` when absent.
double TimeoutSeconds(const Json& parameters, double fallback);
std::chrono::milliseconds ToMillis(double seconds);
/// "%g" of a number of seconds.
std::string FormatSeconds(double seconds);
/// The pack's folder on disk (action JSON `pack_path`), empty when unknown.
std::string PackPath(const RunRequest& req);
/// Whether `text` contains one of the (non-empty) secret values.
bool HoldsSecret(const std::string& text, const std::vector<std::string>& secrets);

/// Shell-runner result (reference §4): {stdout, stderr, return_code, succeeded, failed} with the single
/// trailing newline of each stream dropped; `error` names `shown` (what ran, masked), the exit code and the
/// stderr tail. Status succeeded / failed / timeout / canceled.
core::ExecutionResult ShellResult(const core::ProcessOutcome& o, const std::string& shown, double timeout_s);

/// A script's arguments built from the action parameters (reference §4, StackStorm's
/// ShellScriptAction._get_script_arguments and action_db.get_args): parameters without `position` become
/// `<kwarg_op><name>=<value>` in name order (true booleans a bare `<kwarg_op><name>`, false / null / "" left
/// out; arrays and objects as JSON), followed by positional parameters ordered by `position` (strings as they
/// are, booleans 1/0, arrays comma-joined, objects as JSON, null as ""). Runner parameters (`runner_params`)
/// are not arguments. Each element is one argv entry (no shell quoting needed).
std::vector<std::string> ScriptArguments(
    const Json& action, const Json& parameters, const std::set<std::string>& runner_params, const std::string& kwarg_op
);
/// The names of a runner's parameters (keys of its schema).
std::set<std::string> ParameterNames(const Json& runner_schema);

/// Execution id → supervisor handles of its processes, for Cancel(). Thread-safe.
class RunHandles {
public:
    /// Starts tracking an execution (before its first process starts).
    void Begin(const std::string& execution_id);
    /// Records a started process. False when the execution was canceled meanwhile: cancel `h` yourself.
    bool Add(const std::string& execution_id, core::ProcessSupervisor::Handle h);
    void Remove(const std::string& execution_id, core::ProcessSupervisor::Handle h);
    /// Marks a tracked execution canceled and cancels its processes; Canceled() then says true until Forget().
    /// Unknown id: no-op.
    void CancelAll(const std::string& execution_id, core::ProcessSupervisor& supervisor);
    bool Canceled(const std::string& execution_id) const;
    void Forget(const std::string& execution_id);

private:
    mutable std::mutex mu_;
    std::multimap<std::string, core::ProcessSupervisor::Handle> handles_;
    std::map<std::string, bool> runs_;  ///< tracked execution → canceled
};

}  // namespace squall::actionrunners
