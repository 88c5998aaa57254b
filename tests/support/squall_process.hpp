#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "temp_dir.hpp"

namespace squall::test {

/// The result of running the `squall` CLI.
struct CliResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

/// Runs the built `squall` binary as `squall server` on 127.0.0.1 with a free port (--listen 127.0.0.1:0; the
/// port is read from the banner), its output captured to files. Integration tests drive it over real HTTP.
class SquallProcess {
public:
    struct Options {
        std::string data_dir;                 ///< required
        std::string redis_url;                ///< empty: embedded Redis
        std::vector<std::string> extra_args;  ///< more flags
    };
    /// Starts the server and waits (up to 30 s) until it prints its API URL; throws std::runtime_error with the
    /// captured output otherwise.
    explicit SquallProcess(Options options);
    ~SquallProcess();
    SquallProcess(const SquallProcess&) = delete;
    SquallProcess& operator=(const SquallProcess&) = delete;

    /// SIGTERM, then waits up to `deadline`; returns the exit code (or -1 if it had to be killed).
    int Stop(std::chrono::seconds deadline = std::chrono::seconds(30));
    /// SIGKILL, no clean shutdown.
    void Kill();
    bool Running() const { return pid_ > 0; }

    const std::string& api_url() const { return api_url_; }  ///< http://127.0.0.1:PORT/api/v1
    const std::string& host() const { return host_; }
    int port() const { return port_; }
    std::string api_key() const;  ///< DATA/admin-api-key
    std::string Output() const;   ///< what the server printed so far (stdout + stderr)
    pid_t pid() const { return pid_; }

    /// Runs `squall <args>` with SQUALL_API_URL/SQUALL_API_KEY set for this server; waits up to `deadline`.
    CliResult Cli(const std::vector<std::string>& args, std::chrono::seconds deadline = std::chrono::seconds(60)) const;

    /// Path of the built binary.
    static std::string Binary();
    /// Runs the binary with `args` and `env` additions; waits up to `deadline` (then SIGKILL, exit_code -1).
    static CliResult RunBinary(
        const std::vector<std::string>& args,
        const std::map<std::string, std::string>& env,
        std::chrono::seconds deadline
    );

private:
    Options options_;
    TempDir logs_;
    pid_t pid_ = -1;
    std::string api_url_;
    std::string host_ = "127.0.0.1";
    int port_ = 0;
};

}  // namespace squall::test
