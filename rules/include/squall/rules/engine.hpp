#pragma once

#include <functional>
#include <memory>
#include <string>

#include "squall/core/asio.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/core/redis/stream.hpp"
#include "squall/core/store/kv_store.hpp"
#include "squall/core/store/store.hpp"
#include "squall/executions/service.hpp"
#include "squall/packs/content_store.hpp"
#include "squall/packs/loader.hpp"
#include "squall/rules/enforcements.hpp"
#include "squall/rules/matcher.hpp"

namespace squall::rules {

/// Turns a match into an execution request through the execution service (which renders the rule's action
/// parameters with the trigger payload, resolves them against the action's schema and creates the execution,
/// deduplicated by trigger instance and rule, so a redelivered trigger instance never runs an action twice) and
/// records the rule enforcement with its outcome. Asynchronous; callbacks on the Redis client's strand.
class Enforcer {
public:
    /// Both borrowed. The service's datastore snapshot (`st2kv.*`) must have been refreshed by the caller.
    Enforcer(executions::ExecutionService& executions, EnforcementStore& enforcements);

    /// `cb` gets an error only when Redis failed (the trigger instance must then be retried); a rule whose
    /// parameters do not render or validate is a failed enforcement, recorded, and not an error. `id` is the
    /// enforcement's: EnforcementStore::IdOf(ti.id, the rule's ref) (the caller lists it with the instance).
    void Enforce(
        const CompiledRule& rule,
        const core::TriggerInstance& ti,
        const std::string& id,
        const packs::ContentSnapshot& content,
        std::function<void(Status)> cb
    );

private:
    void Record(const Json& enforcement, std::function<void(Status)> cb);
    executions::ExecutionService& executions_;
    EnforcementStore& enforcements_;
};

/// The rules role: consumes the triggers stream in batches, matches each trigger instance, enforces the
/// matches, marks the instance processed, and only then acknowledges it. Keeps a compiled rule set that it
/// refreshes when the content version changes.
class RulesEngine {
public:
    /// `kv` (borrowed, may be null): the datastore snapshot, refreshed before each batch like the rule set.
    /// `clock` (borrowed) stamps enforcements and executions.
    RulesEngine(
        asio::io_context& io,
        core::RedisClientPtr client,
        const OperatorRegistry& operators,
        std::string consumer_name,
        core::KvCache* kv,
        const core::Clock& clock
    );
    ~RulesEngine();
    /// Executions whose result is known without running are created settled (ExecutionService::SetKnownResults), with
    /// the engine's consumer name as their runner. Before Start.
    void SetKnownResults(executions::ExecutionService::KnownResult known);
    void Start();
    void Stop(std::function<void()> on_stopped);

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

/// The pack loader's rule check (packs::PackLoaderOptions::check_rule): compiles the rule's criteria against
/// `operators` (which must outlive the check), so that install and registration reject what the engine could not
/// run, with the rule file's line and column.
packs::RuleCheck MakeRuleCheck(const OperatorRegistry& operators);

}  // namespace squall::rules
