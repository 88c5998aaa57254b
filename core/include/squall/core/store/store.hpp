#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"

/// How Squall's state sits in Redis: key names and the Lua-scripted atomic steps shared by every role.
/// Each step that must not be half-done (create an execution and enqueue it; move a status) is one script.
namespace squall::core {

/// Key names under the endpoint's prefix.
class Keys {
public:
    explicit Keys(std::string prefix) : p_(std::move(prefix)) {}
    std::string Execution(const std::string& id) const { return p_ + "exec:" + id; }
    std::string Executions() const { return p_ + "executions"; }
    std::string ExecutionsByAction(const std::string& ref) const { return p_ + "executions:action:" + ref; }
    std::string ExecutionsByStatusPrefix() const { return p_ + "executions:status:"; }
    std::string ExecutionsByStatus(const std::string& s) const { return ExecutionsByStatusPrefix() + s; }
    std::string Output(const std::string& id) const { return p_ + "out:" + id; }
    std::string ExecutionStream(const std::string& pool) const { return p_ + "stream:executions:" + pool; }
    std::string TriggerStream() const { return p_ + "stream:triggers"; }
    std::string TriggerInstance(const std::string& id) const { return p_ + "ti:" + id; }
    std::string TriggerInstances() const { return p_ + "triggerinstances"; }
    std::string Enforcement(const std::string& id) const { return p_ + "enf:" + id; }
    std::string Enforcements() const { return p_ + "enforcements"; }
    std::string Dedupe(const std::string& key) const { return p_ + "dedupe:" + key; }
    std::string Actions() const { return p_ + "actions"; }
    std::string Rules() const { return p_ + "rules"; }
    std::string Packs() const { return p_ + "packs"; }
    std::string ContentVersion() const { return p_ + "content:version"; }
    std::string ApiKeys() const { return p_ + "apikeys"; }
    /// Hash pack ref → JSON of the pack's validated config (defaults applied, values in clear).
    std::string Configs() const { return p_ + "configs"; }
    /// Hash pack ref → JSON list of the dotted keys of the pack's config that are secret (mask them in output).
    std::string ConfigSecrets() const { return p_ + "configs:secrets"; }
    std::string RunnerAlive(const std::string& consumer) const { return p_ + "runner:alive:" + consumer; }
    /// Datastore (kv_store.hpp): one JSON record per pair ("system:<name>" / "user:<user>:<name>"), the index
    /// of members and the change counter.
    std::string KvPair(const std::string& member) const { return p_ + "kv:" + member; }
    std::string KvIndex() const { return p_ + "kv:index"; }
    std::string KvVersion() const { return p_ + "kv:version"; }
    std::string Prefix() const { return p_; }
    const std::string& prefix() const { return p_; }

private:
    std::string p_;
};

/// A Lua script sent with EVALSHA, falling back to EVAL when the server does not know it yet.
class Script {
public:
    explicit Script(std::string source);
    void Run(
        RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args, RedisClient::Callback cb
    ) const;
    Result<RedisReply> RunBlocking(RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args)
        const;

private:
    RedisClient::Args Build(
        const char* verb,
        const std::string& script_or_sha,
        std::vector<std::string>& keys,
        std::vector<std::string>& args
    ) const;
    std::string source_;
    std::string sha_;
};

/// Everything needed to create one execution.
struct NewExecution {
    ExecutionRequest request;      ///< what the runner gets (parameters in clear)
    Json action = Json::object();  ///< action snapshot for the stored record
    Json masked_parameters = Json::object();
    std::string pool = "default";
    Json trigger_instance;   ///< snapshot when created by a rule (null otherwise)
    Json rule;               ///< snapshot when created by a rule (null otherwise)
    std::string dedupe_key;  ///< non-empty: creating twice with the same key returns the first id
};

/// Fields written by a status transition besides status and log.
using FieldMap = std::vector<std::pair<std::string, std::string>>;

/// Executions: create+enqueue atomically, status transitions with allowed source statuses, reads.
class ExecutionStore {
public:
    explicit ExecutionStore(RedisClientPtr client);

    /// Stores the record (status scheduled, log requested→scheduled), indexes it and XADDs the request to
    /// the pool's stream, all in one script. Calls back with the execution id (the existing one when the
    /// dedupe key was seen before).
    void Create(const NewExecution& e, std::function<void(Result<std::string>)> cb);
    Result<std::string> CreateBlocking(const NewExecution& e);

    /// Moves `id` to `to` if its current status is one of `from`; appends {timestamp, status} to its log and
    /// sets `fields`. Calls back with true when applied, false when the status was not in `from` (another
    /// process got there first: the caller must not act), error when the execution does not exist.
    void Transition(
        const std::string& id,
        const std::string& to,
        const std::vector<std::string>& from,
        FieldMap fields,
        std::function<void(Result<bool>)> cb
    );
    Result<bool> TransitionBlocking(
        const std::string& id, const std::string& to, const std::vector<std::string>& from, FieldMap fields
    );

    /// The execution as the API shows it, or kNotFound.
    Result<Json> GetBlocking(const std::string& id);
    /// Newest first; filters are optional (empty = any). Sets `total`.
    Result<std::vector<Json>> ListBlocking(
        const std::string& action, const std::string& status, size_t offset, size_t limit, size_t* total
    );
    /// Output lines [{output_type, data, timestamp}] stored for `id`.
    Result<std::vector<Json>> OutputBlocking(const std::string& id);
    /// RPUSH of output lines (fire and forget; errors are logged).
    void AppendOutput(const std::string& id, const std::vector<std::string>& json_lines);

    const Keys& keys() const { return keys_; }
    RedisClient& client() { return *client_; }

    /// Builds the API JSON of an execution from its hash fields.
    static Json FromHash(const RedisReply& hgetall);

private:
    RedisClientPtr client_;
    Keys keys_;
};

/// Trigger instances and rule enforcements.
class TriggerStore {
public:
    explicit TriggerStore(RedisClientPtr client);
    /// Stores the instance and XADDs it onto the triggers stream in one script.
    void Emit(const TriggerInstance& ti, std::function<void(Result<std::string>)> cb);
    Result<std::string> EmitBlocking(const TriggerInstance& ti);
    /// Sets the stored instance's status (pipelined; fire and forget with logging).
    RedisClient::Args SetStatusCommand(const std::string& id, const std::string& status) const;
    Result<Json> GetBlocking(const std::string& id);
    Result<std::vector<Json>> ListBlocking(size_t offset, size_t limit, size_t* total);

    /// Rule enforcement: {id, rule:{ref,id}, trigger_instance_id, execution_id?, failure_reason?, status,
    /// enforced_at}. Returns the commands that store it (to be pipelined by the caller).
    std::vector<RedisClient::Args> EnforcementCommands(const Json& enforcement) const;
    Result<std::vector<Json>> ListEnforcementsBlocking(
        const std::string& trigger_instance, size_t offset, size_t limit, size_t* total
    );

    const Keys& keys() const { return keys_; }

private:
    RedisClientPtr client_;
    Keys keys_;
};

/// Reads a JSON list of object ids out of a sorted set, newest first, then fetches each object's value with
/// `fetch` commands in one pipeline. Shared by the list endpoints.
Result<std::vector<RedisReply>> ZPageBlocking(
    RedisClient& client,
    const std::string& zset,
    size_t offset,
    size_t limit,
    size_t* total,
    const std::function<RedisClient::Args(const std::string&)>& fetch
);

}  // namespace squall::core
