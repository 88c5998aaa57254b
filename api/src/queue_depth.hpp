#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "squall/core/redis/client.hpp"

namespace squall::api {

/// Back-pressure (docs/delivery.md "Back-pressure"): how much work waits in Redis — the entries of the trigger stream
/// and of the execution request streams (entries are deleted once acknowledged, so a stream's length is its work not
/// yet done). Refreshed every `interval` by a thread of its own (one pipelined round trip of XLENs), so that a webhook
/// reads a number, never Redis. The request streams are those of `default`, `workflow` and each pool a live runner
/// serves (core::ListServiceMembersBlocking, re-read every 2 s).
/// Threading: the readers are lock-free (atomics) and may be called from any thread.
class QueueDepth {
public:
    QueueDepth(core::RedisClientPtr redis, int64_t max_depth, std::chrono::milliseconds interval);
    ~QueueDepth();
    QueueDepth(const QueueDepth&) = delete;
    QueueDepth& operator=(const QueueDepth&) = delete;

    void Start();
    void Stop();

    int64_t triggers() const { return triggers_.load(std::memory_order_relaxed); }
    int64_t executions() const { return executions_.load(std::memory_order_relaxed); }
    int64_t total() const { return triggers() + executions(); }
    /// 0: no bound.
    int64_t max_depth() const { return max_; }
    /// Whether new work should be refused (the bound is set and the last reading exceeded it).
    bool Over() const { return max_ > 0 && total() > max_; }

private:
    void Refresh();

    core::RedisClientPtr redis_;
    int64_t max_;
    std::chrono::milliseconds interval_;
    std::atomic<int64_t> triggers_{0};
    std::atomic<int64_t> executions_{0};
    std::vector<std::string> streams_;  // request streams (owned by the thread)
    std::chrono::steady_clock::time_point pools_read_{};
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;  // guarded by mu_
    std::thread thread_;
};

}  // namespace squall::api
