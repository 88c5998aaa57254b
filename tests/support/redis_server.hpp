#pragma once

#include <sys/types.h>

#include <atomic>
#include <string>

#include "squall/core/redis/endpoint.hpp"
#include "temp_dir.hpp"

namespace squall::test {

/// A private redis-server for one test (STYLE.md convention 10): started on a unix socket in a fresh temp
/// dir, without persistence (unless Options::aof_always), and killed (temp dir removed) by the destructor. The
/// constructor returns once the server answers PING and throws std::runtime_error when it cannot start.
class RedisServer {
public:
    struct Options {
        /// Persist with AOF and fsync every write (`appendfsync always`): what a Kill() + Restart() keeps is
        /// everything the server acknowledged (the chaos test's Redis restart).
        bool aof_always = false;
    };
    RedisServer();
    explicit RedisServer(Options options);
    ~RedisServer();
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    /// An endpoint for this server with a key prefix unique per call: "t<counter>_<hint>:".
    core::RedisEndpoint Endpoint(std::string prefix_hint = "") const;
    /// The unix socket the server listens on.
    const std::string& socket_path() const { return socket_path_; }

    /// SIGKILLs the server (no clean shutdown; clients see the connection drop). Idempotent.
    void Kill();
    /// Starts the server again on the same socket (after Kill(); kills it first otherwise) and waits for PING.
    void Restart();

private:
    void Start();
    bool Ping() const;

    Options options_;
    TempDir dir_;
    std::string socket_path_;
    std::string binary_;
    pid_t pid_ = -1;
    mutable std::atomic<int> counter_{0};
};

}  // namespace squall::test
