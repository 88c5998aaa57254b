#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "squall/core/asio.hpp"
#include "squall/core/error.hpp"

namespace squall::core {

class RedisClient;

/// Counters kept in Redis hashes (GET /metrics reads them), counted in memory by the process that does the work and
/// sent in the background: what was added during one interval (1 s by default) goes to Redis in one pipeline of
/// HINCRBYs, one per non-zero (hash, field), so that the counted work pays a map update instead of a Redis
/// command. A flush that gets no reply, or an error reply, keeps its deltas for the next one. Redis lags by at most
/// one interval (plus the flush's round trip); FlushBlocking sends at once (a clean shutdown, tests).
///
/// Owned by its RedisClient (RedisClient::counters()), whose connection it uses; deltas not flushed when the client
/// goes are lost. Thread-safe: Add may be called from any thread, including the io_context's.
class DeferredCounters {
public:
    /// Orders (hash, field) keys and finds them by string views: counting an existing pair allocates nothing.
    struct KeyLess {
        using is_transparent = void;
        template <class A, class B>
        bool operator()(const A& a, const B& b) const {
            const std::string_view a1 = a.first, b1 = b.first;
            if (a1 != b1) return a1 < b1;
            return std::string_view(a.second) < std::string_view(b.second);
        }
    };
    /// (hash, field) → delta.
    using Deltas = std::map<std::pair<std::string, std::string>, int64_t, KeyLess>;

    DeferredCounters(asio::io_context& io, std::weak_ptr<RedisClient> client, std::chrono::milliseconds interval);
    ~DeferredCounters();
    DeferredCounters(const DeferredCounters&) = delete;
    DeferredCounters& operator=(const DeferredCounters&) = delete;

    /// Adds `n` to `field` of hash `hash` (a full key); sent with the next flush, at most one interval from now.
    void Add(std::string_view hash, std::string_view field, int64_t n = 1);
    /// Several deltas under one lock (e.g. the buckets of one histogram sample).
    void Add(const Deltas& deltas);
    /// Sends what is pending now and waits for the reply. Not from an io_context thread. On failure the deltas are
    /// kept (and the background flush retries them).
    Status FlushBlocking();
    /// The (hash, field) pairs with a delta not sent yet.
    size_t pending() const;

private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace squall::core
