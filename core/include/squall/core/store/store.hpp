#pragma once

#include <atomic>

#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "squall/core/clock.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"

/// How Squall's state sits in Redis: key names and the Lua-scripted atomic steps shared by every role.
/// Each step that must not be half-done is one script. Executions have their own keys and store in the
/// executions component (packs/executions).
namespace squall::core {

struct PurgeStep;
struct PurgeCursor;

/// Key names under the endpoint's prefix for what core owns (trigger instances, the datastore, dead letters).
/// Other components name their own keys: packs::ContentKeys, executions::Keys, rules::EnforcementKeys,
/// actionrunners::RunnerKeys, the API's `apikeys`.
class Keys {
public:
    explicit Keys(std::string prefix) : p_(std::move(prefix)) {}
    /// The trigger family shares the `{ti}` hash tag (one slot: the emit, webhook claim and purge scripts touch
    /// several of its keys; docs/delivery.md "Key layout and Redis Cluster").
    std::string TriggerStream() const { return p_ + "{ti}stream:triggers"; }
    std::string TriggerInstance(const std::string& id) const { return p_ + "{ti}ti:" + id; }
    std::string TriggerInstances() const { return p_ + "{ti}triggerinstances"; }
    /// Prefix of the trigger family's names, hash tag included (scripts derive `ti:<id>` from it).
    std::string TriggerTaggedPrefix() const { return p_ + "{ti}"; }
    /// Trigger counters for GET /metrics (hash): `received:<type>` (stored by Emit), `dispatched:<type>` (processed
    /// by the rules engine), `rejected:<type>` (a payload its type's schema refused, or a type nothing declares).
    /// Counted in memory and flushed once a second (TriggerStore::Count).
    std::string TriggerMetrics() const { return p_ + "metrics:triggers"; }
    /// Entries that no consumer could handle (StreamConsumerOptions::dead_letters), for every stream.
    std::string DeadLetters() const { return p_ + "stream:deadletters"; }
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

/// A Lua script sent with EVALSHA, falling back to EVAL when the server does not know it yet. The asynchronous forms
/// send EVAL with the source until a call has succeeded (and again after a NOSCRIPT): a NOSCRIPT retry is sent after
/// the commands that followed the call, so that the first calls of a process would otherwise run after later
/// commands of the same connection (an execution's first output after its final status: docs/executions.md). Each
/// script registers itself with RedisClient::RegisterScript, so that a new connection (to a Redis that restarted, or
/// was promoted) loads it before anything else.
class Script {
public:
    explicit Script(std::string source);
    void Run(
        RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args, RedisClient::Callback cb
    ) const;
    Result<RedisReply> RunBlocking(RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args)
        const;
    /// RunBlocking, written together with other threads' commands (RedisClient::BatchedBlocking).
    Result<RedisReply> RunBatched(RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args)
        const;
    /// RunBatched for an event loop (RedisClient::BatchedAsync): `cb` runs on the client's writer thread.
    void RunBatchedAsync(
        RedisClient& client, std::vector<std::string> keys, std::vector<std::string> args, RedisClient::Callback cb
    ) const;

private:
    RedisClient::Args Build(
        const char* verb,
        const std::string& script_or_sha,
        std::vector<std::string>& keys,
        std::vector<std::string>& args
    ) const;
    std::shared_ptr<const std::string> source_;  ///< shared with the calls waiting for a reply (a NOSCRIPT retry)
    std::string sha_;
    /// Whether Redis is known to hold the script: a call succeeded since the last NOSCRIPT. Shared with the calls.
    std::shared_ptr<std::atomic<bool>> known_ = std::make_shared<std::atomic<bool>>(false);
};

/// Trigger instances.
class TriggerStore {
public:
    /// `clock` (borrowed) stamps stored times.
    TriggerStore(RedisClientPtr client, const Clock& clock);
    /// Stores the instance and XADDs it onto the triggers stream in one script.
    void Emit(const TriggerInstance& ti, std::function<void(Result<std::string>)> cb);
    Result<std::string> EmitBlocking(const TriggerInstance& ti);
    /// Emit written with other threads' commands (RedisClient::BatchedAsync): `cb` runs on the client's writer
    /// thread (the API's webhook lane hands it back to its own loop).
    void EmitBatched(const TriggerInstance& ti, std::function<void(Result<std::string>)> cb);
    /// Sets the stored instance's status (pipelined; fire and forget with logging) and, when not empty, the ids of
    /// the rule enforcements it caused (field `enforcements`, comma-separated; not shown by the API): the rules
    /// engine's index of enforcements by trigger instance, written with the status it writes anyway.
    RedisClient::Args SetStatusCommand(
        const std::string& id, const std::string& status, const std::vector<std::string>& enforcements = {}
    ) const;
    /// The field of the instance's record that SetStatusCommand's enforcement ids go to.
    static constexpr const char* kEnforcementsField = "enforcements";
    /// Adds `n` to one trigger counter (Keys::TriggerMetrics; `what` is dispatched or rejected; Emit counts
    /// received itself): in memory, sent with the client's next counters flush (RedisClient::counters()).
    void Count(const std::string& what, const std::string& trigger, int64_t n = 1);
    Result<Json> GetBlocking(const std::string& id);
    Result<std::vector<Json>> ListBlocking(size_t offset, size_t limit, size_t* total);
    /// Retention (retention.hpp): removes up to `batch` instances created before `cutoff_us`, oldest first.
    void Purge(int64_t cutoff_us, const PurgeCursor& from, size_t batch, std::function<void(Result<PurgeStep>)> done);

    const Keys& keys() const { return keys_; }
    const Clock& clock() const { return clock_; }
    /// The connection the instances are written on (RedisClient::WaitForReplica covers its writes).
    RedisClient& client() const { return *client_; }

private:
    RedisClientPtr client_;
    const Clock& clock_;
    Keys keys_;
};

/// Runs an asynchronous operation that reports through a `Result<T>` callback and waits for it: the blocking
/// forms of the stores. Never call it from an io_context thread (the callback could need that thread).
template <typename T>
Result<T> WaitForCallback(const std::function<void(std::function<void(Result<T>)>)>& start) {
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    start([promise](Result<T> r) { promise->set_value(std::move(r)); });
    return future.get();
}

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
