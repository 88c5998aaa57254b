#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "squall/core/asio.hpp"
#include "squall/core/error.hpp"

namespace squall::core {

/// What to run. Built by a runner adapter or a sensor host; the supervisor knows nothing about actions.
struct ProcessSpec {
    std::vector<std::string> argv;              ///< argv[0] is an absolute path or found on this process's PATH
    std::map<std::string, std::string> env;     ///< the child's complete environment
    std::string cwd;                            ///< empty: inherit
    std::chrono::milliseconds timeout{0};       ///< 0: no deadline
    std::optional<std::string> stdin_data;      ///< written then closed; none: stdin is /dev/null
    size_t max_output_bytes = 4 * 1024 * 1024;  ///< per stream; beyond it the capture is truncated with a marker
    std::vector<std::string> secrets;           ///< masked (SecretMasker) in captured output and lines
    bool keep_raw_stdout = false;               ///< also hand back stdout unmasked (ProcessOutcome::stdout_raw)
    /// false: nothing is captured (ProcessOutcome's stdout/stderr stay empty) and lines are delivered for as long
    /// as the process runs, each cut at max_output_bytes; for long-running processes such as sensors.
    bool capture = true;
    /// Signal the child gets when this process dies (SpawnSpec::parent_death_signal); 0: none.
    int parent_death_signal = 0;
    /// How long Cancel() waits between SIGTERM and SIGKILL.
    std::chrono::milliseconds cancel_grace{1000};
    /// Called on the supervisor's strand with the child's pid once it was started (not when spawning failed).
    std::function<void(int pid)> on_spawned;
};

/// How a process ended.
struct ProcessOutcome {
    int exit_code = 0;        ///< exit status; -N when killed by signal N (-9 on timeout, as StackStorm)
    bool timed_out = false;   ///< the deadline passed and the process group was killed
    bool canceled = false;    ///< Cancel() killed it
    std::string stdout_data;  ///< captured (masked) stdout
    /// Captured stdout before masking (ProcessSpec::keep_raw_stdout), for a runner to parse and then mask what it
    /// parsed; never stored or shown.
    std::string stdout_raw;
    std::string stderr_data;  ///< captured (masked) stderr
    bool stdout_truncated = false;
    bool stderr_truncated = false;
    std::optional<Error> spawn_error;  ///< set when the process could not be started (then nothing else is)
    std::chrono::milliseconds elapsed{0};
};

/// Spawns child processes (core::Spawn), each in its own process group, and supervises them on an io_context without
/// blocking it: stdout/stderr through non-blocking pipes read by Asio, exit through a pidfd (no SIGCHLD
/// handler, no waitpid loop), deadline through an Asio timer that SIGKILLs the whole process group.
/// A process is finished when it has been reaped and both pipes reached EOF (processes it left behind that
/// still hold the pipes are killed at the deadline).
///
/// Threading: Start/Cancel may be called from any thread (posted to the supervisor's strand); callbacks run
/// on that strand. Lifetime: the supervisor must outlive its running processes; its destructor kills them.
class ProcessSupervisor {
public:
    using Handle = uint64_t;
    /// One output line without its newline; `stream` is "stdout" or "stderr". A final partial line is
    /// delivered at EOF. Already masked.
    using LineCallback = std::function<void(std::string_view stream, std::string line)>;
    using ExitCallback = std::function<void(ProcessOutcome)>;

    /// `parent_death_signal`: what every child it starts gets when this process dies, unless its ProcessSpec names
    /// one (an action runner's children get SIGKILL: an action never outlives its runner, docs/delivery.md).
    explicit ProcessSupervisor(asio::io_context& io, int parent_death_signal = 0);
    ~ProcessSupervisor();
    ProcessSupervisor(const ProcessSupervisor&) = delete;
    ProcessSupervisor& operator=(const ProcessSupervisor&) = delete;

    /// Starts a process. `on_exit` is called exactly once (also when spawning fails).
    Handle Start(ProcessSpec spec, LineCallback on_line, ExitCallback on_exit);
    /// Kills the process group of a running process; its outcome has canceled=true. Unknown handle: no-op.
    void Cancel(Handle handle);
    /// Kills every running process group (shutdown).
    void KillAll();
    /// Number of processes not yet finished.
    size_t Running() const;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

/// `text` with the secrets masked (SecretMasker::Text).
std::string MaskSecrets(std::string text, const std::vector<std::string>& secrets);

}  // namespace squall::core
