#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "squall/core/asio.hpp"
#include "squall/core/error.hpp"
#include "squall/core/redis/endpoint.hpp"

namespace squall::app {

/// The embedded Redis (SPEC §1): a `redis-server` child bound only to a unix socket in DATA/redis, with AOF
/// (appendfsync everysec). Supervised through a pidfd on the io_context: if it dies it is restarted (at most
/// 5 times a minute); past that `on_fatal` is called so that the server exits non-zero instead of hanging.
class EmbeddedRedis {
public:
    EmbeddedRedis(asio::io_context& io, std::string redis_dir, std::string binary, std::function<void(Error)> on_fatal);
    ~EmbeddedRedis();
    /// Spawns the child. The socket may take a moment to accept connections; callers PING until it answers.
    Status Start();
    /// SIGTERM (Redis flushes the AOF), waits up to 10 s, then SIGKILL.
    void StopBlocking();
    core::RedisEndpoint Endpoint() const;
    /// A descriptor (the data-dir lock) that redis-server inherits, so that the lock stays held until both the
    /// server and its Redis are gone: a server that crashed leaves Redis saving its AOF for a moment, and the
    /// next server must not start a second Redis on the same files meanwhile. Call before Start().
    void InheritLock(int fd) { lock_fd_ = fd; }

private:
    Status Spawn();
    void Watch();
    asio::io_context& io_;
    std::string dir_;
    std::string binary_;
    std::function<void(Error)> on_fatal_;
    pid_t pid_ = -1;
    int lock_fd_ = -1;
    std::unique_ptr<asio::posix::stream_descriptor> pidfd_;
    std::vector<std::chrono::steady_clock::time_point> restarts_;
    std::atomic<bool> stopping_{false};  // set by StopBlocking (main thread), read by Watch (io thread)
};

}  // namespace squall::app
