#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "squall/core/asio.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/redis/client.hpp"

namespace squall::core {

/// One entry read from a stream: its id and the value of its single field `d` (a JSON document in the
/// stream schema of core/model).
struct StreamMessage {
    std::string id;
    std::string body;
};

struct StreamConsumerOptions {
    std::string stream;                     ///< full key, prefix included
    std::string group;                      ///< consumer group, created (MKSTREAM) if missing
    std::string consumer;                   ///< this process's name in the group, e.g. "<host>-<pid>-rules"
    size_t batch = 256;                     ///< COUNT of one XREADGROUP
    std::chrono::milliseconds block{1000};  ///< BLOCK of one XREADGROUP
    /// Entries pending longer than this in another (dead) consumer are claimed with XAUTOCLAIM on start
    /// and then every `reclaim_interval`.
    std::chrono::milliseconds reclaim_min_idle{30000};
    std::chrono::milliseconds reclaim_interval{10000};
    /// Acknowledged entries are also deleted (XDEL): each stream has one consumer group per purpose and
    /// an acknowledged entry is never read again. Streams read by several groups (the execution event stream)
    /// set this to false and are trimmed with TrimStream.
    bool delete_on_ack = true;
    /// An entry delivered more than this many times (its handler failed, threw, or its process died while
    /// handling it) is not handed to the handler again: it moves to `dead_letters` with the reason, and the
    /// rest of its batch goes on. 0 disables the bound.
    int64_t max_deliveries = 5;
    /// The dead-letter stream (full key, Keys::DeadLetters()); empty: "<stream>:deadletters".
    std::string dead_letters;
    /// Stamps dead letters (borrowed; null: the system clock).
    const Clock* clock = nullptr;
};

/// One dead letter, as stored in a dead-letter stream (field `d`, JSON) and shown by the API.
/// {stream, group, id, body, deliveries, consumer, reason, at}

/// A consumer-group reader (XREADGROUP/XACK/XAUTOCLAIM) with at-least-once delivery.
///
/// It reads a batch, hands it to the handler, and reads the next batch only after the handler has called
/// `done` (natural back-pressure, bounded memory). `done(ids)` acknowledges exactly those ids: call it only
/// once their work has durably passed to the next stage; ids not acknowledged stay pending and are
/// reclaimed later (by this or another consumer). `capacity` (optional) caps the next batch size; when it
/// returns 0 the consumer waits until NotifyCapacity() is called.
///
/// Threading: the handler is called on the io_context; it must not block. `done` may be called from any
/// thread, once per batch. The XREADGROUP BLOCK runs on its own connection.
class StreamConsumer : public std::enable_shared_from_this<StreamConsumer> {
public:
    using Done = std::function<void(std::vector<std::string> ack_ids)>;
    using Handler = std::function<void(std::vector<StreamMessage> batch, Done done)>;

    /// `commands` is a shared client for XACK/XAUTOCLAIM; the consumer opens its own connection to
    /// `commands->endpoint()` for XREADGROUP BLOCK.
    static std::shared_ptr<StreamConsumer> Create(
        asio::io_context& io,
        RedisClientPtr commands,
        StreamConsumerOptions options,
        Handler handler,
        std::function<size_t()> capacity = nullptr
    );
    ~StreamConsumer();

    /// Creates the group if needed, reclaims stale entries, then loops. Errors (Redis down) are logged and
    /// retried with backoff; the loop never exits on its own.
    void Start();
    /// Stops reading; `on_stopped` runs once the current batch (if any) has been acknowledged or dropped.
    void Stop(std::function<void()> on_stopped = nullptr);
    /// Wakes a consumer that is waiting because capacity() returned 0.
    void NotifyCapacity();

private:
    StreamConsumer(
        asio::io_context& io,
        RedisClientPtr commands,
        StreamConsumerOptions options,
        Handler handler,
        std::function<size_t()> capacity
    );
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

using StreamConsumerPtr = std::shared_ptr<StreamConsumer>;

/// A handler that forwards batches to `owner->HandleBatch(batch, done)` while the owner lives and leaves them
/// pending otherwise, so that a consumer never keeps its owner alive.
template <typename Owner>
StreamConsumer::Handler ForwardBatchesTo(std::weak_ptr<Owner> owner) {
    return [owner = std::move(owner)](std::vector<StreamMessage> batch, StreamConsumer::Done done) {
        if (auto self = owner.lock()) {
            self->HandleBatch(std::move(batch), std::move(done));
        } else {
            done({});
        }
    };
}

/// Trims `stream` once it holds more than `max_len` entries, but never past an entry that a consumer group has
/// not read or acknowledged: it removes the entries every group is done with (XTRIM MINID), or, with no group,
/// the oldest beyond `max_len`. Calls back with the number of entries removed.
void TrimStream(
    RedisClient& client, const std::string& stream, size_t max_len, std::function<void(Result<int64_t>)> cb
);

/// XADD <stream> * d <body>, as a command for RedisClient::Command/Pipeline.
RedisClient::Args XAddCommand(const std::string& stream, const std::string& body);

}  // namespace squall::core
