#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "squall/core/error.hpp"

/// Starting child processes: the one spawn path of Squall. Action processes (ProcessSupervisor), the embedded
/// Redis and sensor processes all start here, so every child gets the same hygiene: its own process group, an
/// empty signal mask and default signal dispositions, no descriptor of ours it was not given, and a pidfd the
/// caller can wait on from an event loop.
namespace squall::core {

/// Owns one file descriptor.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { Reset(); }

    int Get() const { return fd_; }
    int Release() { return std::exchange(fd_, -1); }
    void Reset();

private:
    int fd_ = -1;
};

struct SpawnSpec {
    /// argv[0] is a path or a name searched on this process's PATH.
    std::vector<std::string> argv;
    /// The child's complete environment; none: this process's environment.
    std::optional<std::map<std::string, std::string>> env;
    std::string cwd;  ///< empty: inherit
    /// stdin: a pipe whose write end is returned (non-blocking), or /dev/null.
    bool stdin_pipe = false;
    /// stdout/stderr: pipes whose read ends are returned (non-blocking), or this process's own descriptors.
    bool capture_output = true;
    /// Signal the child gets when this process dies (PR_SET_PDEATHSIG), so that it cannot outlive a crashed or
    /// SIGKILLed parent; 0: none. Takes the clone path (posix_spawn cannot set it). It follows the spawning thread:
    /// the child gets it when that thread ends, so spawn from threads that live as long as the process.
    int parent_death_signal = 0;
    /// Descriptors of this process the child keeps, at the same numbers (e.g. a lock it must hold too). Every other
    /// descriptor above stderr is closed in the child. Takes the clone path.
    std::vector<int> inherit_fds;
};

/// A started child: its pid (also its process group id) and our ends of its pipes.
struct SpawnedChild {
    pid_t pid = -1;
    UniqueFd pidfd;     ///< readable once the child exited (it stays a zombie until reaped)
    UniqueFd stdin_fd;  ///< -1 unless SpawnSpec::stdin_pipe
    UniqueFd stdout_fd;
    UniqueFd stderr_fd;
};

/// Starts the child in its own process group. Never blocks for long: posix_spawn (vfork-based in glibc), or a clone
/// with CLONE_VM | CLONE_VFORK making system calls only until its exec when the spec needs what posix_spawn cannot
/// do. An error
/// names what was wrong: the executable, the working directory, the environment, or resources.
Result<SpawnedChild> Spawn(const SpawnSpec& spec);

/// `name` itself when it holds a '/' and is executable, else the first executable `name` on this process's PATH;
/// empty when there is none.
std::string FindExecutable(const std::string& name);

/// strerror for `err`, thread-safe.
std::string ErrnoText(int err);

}  // namespace squall::core
