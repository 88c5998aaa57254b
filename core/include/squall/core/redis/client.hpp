#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "squall/core/asio.hpp"
#include "squall/core/error.hpp"
#include "squall/core/redis/counters.hpp"
#include "squall/core/redis/endpoint.hpp"
#include "squall/core/redis/reply.hpp"

namespace squall::core {

struct RedisClientOptions {
    std::chrono::milliseconds connect_timeout{5000};
    /// Deadline of one command (or one pipeline) from the moment it is queued. Commands that block on the
    /// server (XREADGROUP BLOCK n) must use a client whose timeout is larger than n.
    std::chrono::milliseconds command_timeout{5000};
    /// Commands queued while (re)connecting or waiting for replies; past this, kResourceExhausted.
    size_t max_pending = 200000;
    /// How often the deltas of counters() are sent (at most; only while there are some).
    std::chrono::milliseconds counters_interval{1000};
    /// Load the registered scripts on each new connection (RegisterScript); off for a Sentinel's own clients.
    bool load_scripts = true;
};

/// One asynchronous Redis connection (hiredis redisAsyncContext) driven by Boost.Asio.
///
/// Threading: every public method may be called from any thread; the work is posted onto the client's own
/// strand, and callbacks run on that strand (never inline in the caller). Commands on one client are sent
/// in order and pipelined: the client does not wait for a reply before writing the next command.
/// Connection: connects lazily on the first command; when the connection drops, every pending command
/// fails with kUnavailable and the next command reconnects (with a short backoff).
/// Replies that are Redis errors (`-ERR ...`) come back as a value of type kError, not as an Error;
/// an Error means the command did not get a reply (timeout, connection, queue full).
/// Lifetime: held by shared_ptr; pending operations keep it alive. Close() fails what is pending.
class RedisClient : public std::enable_shared_from_this<RedisClient> {
public:
    using Args = std::vector<std::string>;
    using Callback = std::function<void(Result<RedisReply>)>;
    using PipelineCallback = std::function<void(Result<std::vector<RedisReply>>)>;

    static std::shared_ptr<RedisClient> Create(
        asio::io_context& io, RedisEndpoint endpoint, RedisClientOptions options = {}
    );
    ~RedisClient();
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    /// The process is stopping the Redis it talks to (a server's embedded Redis, at its shutdown): connections lost
    /// and reconnects refused from now on are expected, logged at debug instead of as warnings.
    static void ExpectRedisToStop();

    /// Lua scripts this process runs (core::Script registers each as it is built): every new connection sends SCRIPT
    /// LOAD for them before anything else, so that an EVALSHA on it never meets a Redis that lost its scripts (a
    /// restart, a failover to a replica) and is retried with the source after the commands that followed it.
    /// `known` (Script's "Redis holds it" flag) is cleared when a connection could not load the script (-LOADING
    /// while Redis reads its AOF), so that its next call sends the source, in order, instead of meeting NOSCRIPT.
    static void RegisterScript(
        std::shared_ptr<const std::string> source, std::shared_ptr<std::atomic<bool>> known = nullptr
    );

    /// Sends one command; `cb` gets its reply.
    void Command(Args args, Callback cb);
    /// Sends several commands back to back; `cb` gets all replies in order, or the first transport error.
    void Pipeline(std::vector<Args> commands, PipelineCallback cb);

    /// Runs `fn` on the client's strand, after the work already posted to it: commands sent before the call are
    /// submitted first. A long job on the strand runs in slices this way, and the connection writes what the
    /// previous slices sent (and reads replies) in between, instead of after the whole job.
    void Post(std::function<void()> fn);

    /// Blocking forms for threads that are not the io_context's (HTTP handlers, start-up, tests). They wait
    /// for the reply (bounded by command_timeout). Calling them from an io_context thread is a bug.
    Result<RedisReply> CommandBlocking(Args args);
    Result<std::vector<RedisReply>> PipelineBlocking(std::vector<Args> commands);
    /// CommandBlocking for a self-contained command of a thread that blocks anyway, written together with the other
    /// threads' (the webhooks' writes: docs/decisions.md, "Webhooks' writes go to Redis together"): the client's
    /// writer thread takes every command queued while its previous batch was out and sends them at once on its own
    /// synchronous connection. No hand-off to the io_context, no wait behind the batches other roles send on the
    /// shared connection, and one read and one wake-up of Redis per batch. Not ordered with commands of the shared
    /// connection. Falls back to CommandBlocking behind Sentinel (whose connection follows failovers and counts
    /// replicas).
    Result<RedisReply> BatchedBlocking(const Args& args);
    /// BatchedBlocking for an event loop that cannot wait (the API's webhook lane): `cb` runs once, on the writer
    /// thread, when the reply is read or the batch failed (connect or command timeout); it must be quick and must not
    /// wait for this client (hand the reply to its own loop). Behind Sentinel this is Command (`cb` on the strand).
    void BatchedAsync(Args args, std::function<void(Result<RedisReply>)> cb);

    /// Replication (docs/delivery.md, "Redis Sentinel"). Only `sentinel://` endpoints replicate as far as Squall is
    /// concerned; for the others these cost nothing: ConnectionToken() is 0 and WaitForReplica answers OK at once.
    ///
    /// A token for the connection the next command goes on (the current one, or the next one while disconnected).
    /// Read it before the writes that WaitForReplica should cover.
    uint64_t ConnectionToken() const;
    /// How many replicas the master reported online (ROLE at connect, then every second); 0 without Sentinel.
    int Replicas() const;
    /// `WAIT 1 <1 s>` on this connection, after writes sent since ConnectionToken() gave `since`: OK once one
    /// replica has every write this connection made (those included). Errors: kUnavailable when the connection
    /// changed since `since` (a failover: whether the writes reached the new master is unknown), when no replica
    /// acknowledged within a second, or when Redis is unreachable. OK without a round trip when the master reports
    /// no replica (nothing to wait for) or without Sentinel. The callback runs on the client's strand, never
    /// inline. The steps that acknowledge an event to the outside (a webhook's 2xx, starting an action, a runner
    /// forgetting a final status, an XACK after a handoff) call it, so that a failover loses nothing acknowledged.
    void WaitForReplica(uint64_t since, std::function<void(Status)> cb);
    Status WaitForReplicaBlocking(uint64_t since);

    /// Fails pending commands with kUnavailable and disconnects. Later commands reconnect.
    void Close();

    const RedisEndpoint& endpoint() const { return endpoint_; }
    /// The process's /metrics counters sent through this connection, in the background (DeferredCounters).
    DeferredCounters& counters() { return *counters_; }
    /// The endpoint's key prefix + `suffix`.
    std::string Key(std::string_view suffix) const { return endpoint_.key_prefix + std::string(suffix); }

private:
    RedisClient(asio::io_context& io, RedisEndpoint endpoint, RedisClientOptions options);
    struct Impl;
    class GroupWriter;
    std::unique_ptr<Impl> impl_;
    RedisEndpoint endpoint_;
    std::unique_ptr<DeferredCounters> counters_;  // set by Create
};

using RedisClientPtr = std::shared_ptr<RedisClient>;

}  // namespace squall::core
