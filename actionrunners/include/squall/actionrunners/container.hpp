#pragma once

#include <functional>
#include <memory>
#include <string>

#include "squall/actionrunners/runner.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/executions/store.hpp"

namespace squall::core {
class KvCache;
}

namespace squall::actionrunners {

/// Keys the runner role owns (docs/architecture.md): `runner:alive:<consumer>`, a liveness key each runner process
/// renews every few seconds (PX), so that the reaper can tell a dead runner from a busy one.
class RunnerKeys {
public:
    explicit RunnerKeys(std::string prefix) : p_(std::move(prefix)) {}
    std::string Alive(const std::string& consumer) const { return p_ + "runner:alive:" + consumer; }
    /// action.retry's keys (executions::Keys::RetryDue, RetryRequest).
    std::string RetryDue() const { return executions::Keys(p_).RetryDue(); }
    std::string RetryRequest(const std::string& id) const { return executions::Keys(p_).RetryRequest(id); }

private:
    std::string p_;
};

struct RunnerContainerOptions {
    std::string pool = "default";
    size_t workers = 32;        ///< concurrent executions
    std::string consumer_name;  ///< unique per process, e.g. "<host>-<pid>-runner"
    std::string api_url;
    /// Signs each run's RunRequest::auth_token (core::MintActionToken); empty: actions get no token.
    std::string action_token_key;
    /// The longest an action token lives (StackStorm's service_token_ttl); it dies earlier with its execution.
    std::chrono::seconds action_token_ttl{86400};
    std::string data_dir;                 ///< RunnerServices::data_dir
    packs::RuleCheck check_rule;          ///< RunnerServices::check_rule
    packs::WorkflowCheck check_workflow;  ///< RunnerServices::check_workflow
    core::KvCache* kv = nullptr;  ///< renders `{{ st2kv... }}` pack config values before a run (null: kept as text)
};

/// The runner role: consumes the pool's executions stream, claims each execution by moving it to `running`
/// (an idempotent transition: a redelivered request for an execution that already left `scheduled` is only
/// acknowledged), acknowledges the request once the claim is stored, runs it, stores the result. Its control
/// stream (executions::Keys::Control) carries cancel requests for the executions it runs. Keeps a
/// liveness key alive so that the reaper can mark the executions of a dead runner `abandoned`.
class RunnerContainer {
public:
    /// `clock` (borrowed) stamps output lines and results.
    RunnerContainer(
        asio::io_context& io,
        core::RedisClientPtr client,
        const RunnerRegistry& registry,
        RunnerContainerOptions options,
        const core::Clock& clock
    );
    ~RunnerContainer();
    void Start();
    /// Stops taking work; in-flight executions get `grace` to finish, then are canceled and marked abandoned.
    void Stop(std::chrono::milliseconds grace, std::function<void()> on_stopped);
    /// Cancels a running execution of this process (no-op when it is not here).
    void Cancel(const std::string& execution_id);
    size_t Running() const;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

/// The gc role's reaper: every `interval`, executions in `running` whose runner's liveness key has expired
/// become `abandoned` with a result saying which runner died.
class Reaper {
public:
    Reaper(
        asio::io_context& io, core::RedisClientPtr client, std::chrono::milliseconds interval, const core::Clock& clock
    );
    ~Reaper();
    /// `expire_inquiries`: also time out inquiries left unanswered past their ttl (ServerConfig::purge_inquiries).
    void Start(bool expire_inquiries = true);
    void Stop();

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace squall::actionrunners
