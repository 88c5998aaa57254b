#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "squall/core/clock.hpp"
#include "squall/core/store/kv_store.hpp"
#include "squall/executions/store.hpp"
#include "squall/packs/content_cache.hpp"
#include "squall/packs/content_store.hpp"

/// The one way an execution comes to exist, and the one way one is canceled, re-run, paused or resumed
/// (docs/executions.md). The rules enforcer, the API, pack management, re-runs and every later caller (workflow
/// tasks, aliases, typed operations) go through ExecutionService.
namespace squall::executions {

/// What a caller asks for.
struct ExecutionSpec {
    std::string action_ref;
    /// Parameter values as the caller gives them. Strings may be templates: they are rendered as StackStorm
    /// renders live parameters and rule parameters, with `config_context`, `action_context`, `st2kv` and
    /// `render_context` in scope.
    Json parameters = Json::object();
    /// Extra names visible to the parameter templates (the enforcer: `trigger`).
    Json render_context = Json::object();
    /// API live parameters see each other by name (`cmd="{{ host }}"`), as st2 run's; rule parameters do not.
    bool parameters_see_each_other = false;
    /// Who asks (the authenticated API user, "squall" for rules): context.user, st2kv.user.* scope.
    std::string user = "squall";
    /// The authenticated identity behind the request (context.api_user); empty for internal callers.
    std::string api_user;
    /// More execution context (rule, trigger_instance, trace_context, parent, re_run, ...). `user` and
    /// `api_user` are always the ones above: a caller cannot forge who ran an execution through it.
    Json context = Json::object();
    /// Non-empty: requesting twice with the same key creates one execution (e.g. trigger instance + rule): the
    /// execution's id is KeyedExecutionId(idempotency_key, id_time_of).
    std::string idempotency_key;
    /// With an idempotency key: the id (the trigger instance's, the workflow's) whose time the execution's id
    /// begins with, so that ids stay in time order.
    std::string id_time_of;
    std::string parent;     ///< parent execution id (workflow task)
    Json trigger_instance;  ///< snapshot for the record, when a rule asks
    Json rule;              ///< snapshot for the record, when a rule asks
    /// Values the caller knows to be secret (a workflow's decrypted datastore values and secret inputs, rendered
    /// into a task's input): masked in the stored parameters, the output and the result, as a secret parameter is.
    std::vector<std::string> masked_values;
    /// The request's own `notify` (POST /executions `notify`: on-complete / on-success / on-failure), taken when the
    /// action has none, as StackStorm's create_request: the record's action snapshot carries it to the notifier.
    Json notify;
};

/// Result of a cancel request.
struct CancelOutcome {
    std::string previous;  ///< status before the request
    std::string status;    ///< canceled (at once) or canceling (its runner was told)
};

class ExecutionService {
public:
    /// `content` (may be null) gives the blocking forms their snapshot; `kv` (may be null) is the datastore
    /// snapshot that `st2kv` reads (the async form expects the caller to have refreshed it). `pausable_runners`:
    /// runner types that implement pause/resume.
    ExecutionService(
        ExecutionStore& store,
        packs::ContentCache* content,
        core::KvCache* kv,
        std::set<std::string> pausable_runners = {}
    );

    /// Pure: looks the action up, refuses a disabled one, builds the effective schema and config_context,
    /// renders the parameters, resolves and validates them, masks secrets. Errors name the parameter or the
    /// template position (kInvalidArgument / kNotFound).
    /// A refusal masks the secrets the render revealed (datastore values `decrypt_kv` gave, the pack config's secrets).
    Result<NewExecution> Prepare(const ExecutionSpec& spec, const packs::ContentSnapshot& content) const;

    /// Prepare + create (asynchronous; `cb` on the Redis client's strand). `refused` gets what Prepare refused
    /// (a user error: record it, do not retry); `cb` gets the id or a Redis failure (retry).
    void Request(
        const ExecutionSpec& spec,
        const packs::ContentSnapshot& content,
        std::function<void(Error refused)> refused,
        std::function<void(Result<std::string>)> cb
    );
    /// The blocking form for HTTP handlers: refreshes the datastore snapshot, reads the content snapshot.
    Result<std::string> RequestBlocking(const ExecutionSpec& spec);

    /// Cancels `id`: a queued (or paused, or pending) execution is canceled at once; a running one goes to
    /// `canceling` and its runner process is told (it kills the process group: SIGTERM, then SIGKILL after a
    /// grace) and stores `canceled`. kFailedPrecondition when it has already ended.
    Result<CancelOutcome> CancelBlocking(const std::string& id);
    /// A new execution of the same action with the original parameters, `overrides` applied, and
    /// `context.re_run.ref` = `id`. Secret parameters the caller gave the first time are not stored in clear:
    /// they must be given again (the error names them).
    /// `from_tasks` (an Orquesta workflow only): `{tasks: [names], reset: [names]}` — the new execution continues
    /// the original workflow from those tasks (docs/workflows.md); its context carries them in `re_run`.
    Result<std::string> ReRunBlocking(
        const std::string& id, const Json& overrides, const std::string& user, const Json& from_tasks = Json()
    );
    /// Asks a running execution to pause / a paused one to resume (runners in `pausable_runners` only).
    Result<std::string> PauseBlocking(const std::string& id);
    Result<std::string> ResumeBlocking(const std::string& id);

    /// The result of an action of `runner_type` known without running it (the noop runner's), nullopt otherwise.
    using KnownResult = std::function<
        std::optional<core::ExecutionResult>(const std::string& runner_type, const std::string& action_ref)>;
    /// With `known` set, Prepare settles an execution whose result it gives (NewExecution::settled): created ended,
    /// nothing queued for a runner. Only a top-level execution (no parent: a workflow task ends through the
    /// workflow's events) of the default pool (a named pool's runner takes its work) with no policy (a concurrency
    /// slot counts claims; a retry keeps the request). `settled_by` (this process's name) is stored as the runner of
    /// what it settles. Set before the service is used.
    void SetKnownResults(KnownResult known, std::string settled_by) {
        known_ = std::move(known);
        settled_by_ = std::move(settled_by);
    }

    ExecutionStore& store() { return store_; }

private:
    /// Prepare, leaving in *secrets what its refusal must not show.
    Result<NewExecution> PrepareRevealing(
        const ExecutionSpec& spec, const packs::ContentSnapshot& content, std::vector<std::string>* secrets
    ) const;
    Result<std::string> SignalBlocking(
        const std::string& id, const std::string& to, const std::vector<std::string>& from, const std::string& verb
    );
    ExecutionStore& store_;
    packs::ContentCache* content_;
    core::KvCache* kv_;
    std::set<std::string> pausable_;
    KnownResult known_;
    std::string settled_by_;
};

}  // namespace squall::executions
