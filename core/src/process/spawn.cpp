#include "squall/core/process/spawn.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

extern char** environ;  // NOLINT: POSIX process environment, passed on when a spec has none of its own

namespace squall::core {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
        Reset();
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

void UniqueFd::Reset() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

std::string ErrnoText(int err) {
    std::array<char, 128> buffer{};
    return strerror_r(err, buffer.data(), buffer.size());  // GNU strerror_r: thread-safe, returns the text
}

std::string FindExecutable(const std::string& name) {
    if (name.empty()) return {};
    if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : std::string();
    const char* env = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): nobody sets PATH after start-up
    const std::string dirs = env ? env : "/usr/local/bin:/usr/bin:/bin";
    size_t from = 0;
    while (from <= dirs.size()) {
        size_t to = dirs.find(':', from);
        if (to == std::string::npos) to = dirs.size();
        const std::string dir = to > from ? dirs.substr(from, to - from) : ".";
        const std::string candidate = dir + "/" + name;
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
            return candidate;
        from = to + 1;
    }
    return {};
}

namespace {

/// Both ends of a pipe, created close-on-exec so that no other child inherits them.
struct Pipe {
    UniqueFd read_end;
    UniqueFd write_end;
};

Result<Pipe> MakePipe() {
    int fds[2] = {-1, -1};
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        int err = errno;
        ErrorCode code = (err == EMFILE || err == ENFILE) ? ErrorCode::kResourceExhausted : ErrorCode::kInternal;
        return Error(code, "cannot create a pipe for the child process", ErrnoText(err));
    }
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

bool SetNonBlocking(int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

bool IsDirectory(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool HasNul(const std::string& s) {
    return s.find('\0') != std::string::npos;
}

/// Turns a spawn error into an Error that names what was wrong.
Error SpawnError(int err, const SpawnSpec& spec) {
    const std::string& program = spec.argv.front();
    // posix_spawn reports the chdir file action and the exec with the same errno values; tell them apart by
    // looking at the directory (only on this failure path).
    bool bad_cwd = !spec.cwd.empty() && !IsDirectory(spec.cwd);
    switch (err) {
        case ENOENT:
        case ENOTDIR:
            if (bad_cwd) {
                return InvalidArgument("working directory '" + spec.cwd + "' does not exist or is not a directory");
            }
            return InvalidArgument("executable '" + program + "' not found");
        case EACCES:
        case EPERM:
            if (bad_cwd) {
                return InvalidArgument("working directory '" + spec.cwd + "' is not accessible");
            }
            return InvalidArgument("permission denied executing '" + program + "'");
        case ENOEXEC:
            return InvalidArgument("'" + program + "' is not an executable file format");
        case E2BIG:
            return InvalidArgument("argument list or environment of '" + program + "' is too long");
        case EMFILE:
        case ENFILE:
        case EAGAIN:
        case ENOMEM:
            return Error(
                ErrorCode::kResourceExhausted, "cannot start '" + program + "': out of resources", ErrnoText(err)
            );
        default:
            return Internal("cannot start '" + program + "'", ErrnoText(err));
    }
}

/// RAII for the posix_spawn attribute objects.
struct SpawnAttributes {
    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attr{};
    SpawnAttributes() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    ~SpawnAttributes() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
    SpawnAttributes(const SpawnAttributes&) = delete;
    SpawnAttributes& operator=(const SpawnAttributes&) = delete;
};

/// The child's descriptors 0-2 as the parent prepared them: -1 means "leave as is".
struct ChildStdio {
    int in = -1;  ///< -1: /dev/null
    int out = -1;
    int err = -1;
};

/// posix_spawnp: the fast path (no page-table copy of a large, threaded server).
int SpawnWithPosixSpawn(const SpawnSpec& spec, const ChildStdio& io, char* const* argv, char* const* envp, pid_t* pid) {
    SpawnAttributes sa;
    // Own process group (pgid = pid) so that a timeout or cancel can kill everything the child started; empty
    // signal mask and default dispositions for every signal, so that e.g. an ignored SIGPIPE in this process does
    // not leak into the child.
    sigset_t empty_mask;
    sigemptyset(&empty_mask);
    sigset_t all_signals;
    sigfillset(&all_signals);
    posix_spawnattr_setflags(
        &sa.attr, static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
    );
    posix_spawnattr_setpgroup(&sa.attr, 0);
    posix_spawnattr_setsigmask(&sa.attr, &empty_mask);
    posix_spawnattr_setsigdefault(&sa.attr, &all_signals);
    if (io.in >= 0) {
        posix_spawn_file_actions_adddup2(&sa.actions, io.in, STDIN_FILENO);
    } else {
        posix_spawn_file_actions_addopen(&sa.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    }
    if (io.out >= 0) posix_spawn_file_actions_adddup2(&sa.actions, io.out, STDOUT_FILENO);
    if (io.err >= 0) posix_spawn_file_actions_adddup2(&sa.actions, io.err, STDERR_FILENO);
    if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&sa.actions, spec.cwd.c_str());
    // Descriptors of this process that lack O_CLOEXEC (opened by libraries) must not leak into children.
    posix_spawn_file_actions_addclosefrom_np(&sa.actions, STDERR_FILENO + 1);
    // posix_spawnp searches this process's PATH (not the child's environment) when argv[0] has no slash.
    return posix_spawnp(pid, argv[0], &sa.actions, &sa.attr, argv, envp);
}

/// What the child of SpawnWithClone needs, prepared before the clone: until it execs, the child runs in this
/// process's memory on a stack of its own, so it makes system calls only (no allocation, no lock, no return).
struct CloneChildArgs {
    pid_t parent = -1;
    int death_signal = 0;
    const char* cwd = nullptr;
    const char* path = nullptr;
    char* const* argv = nullptr;
    char* const* envp = nullptr;
    ChildStdio io;
    const int* keep = nullptr;
    size_t keep_count = 0;
    int err = 0;  ///< set by a child that failed; read once clone returned (the child has exec'd or exited)
};

/// The child of SpawnWithClone makes raw system calls only: a libc wrapper that a sanitizer intercepts would record
/// state (signal handlers, descriptors) in memory this child shares with the parent, and no sanitizer instruments it.
#define SQUALL_CLONE_CHILD __attribute__((no_sanitize("address", "thread", "undefined")))

[[noreturn]] SQUALL_CLONE_CHILD void ChildFail(CloneChildArgs* a, long err) {
    a->err = static_cast<int>(err);
    ::syscall(SYS_exit_group, 127);
    __builtin_unreachable();
}

SQUALL_CLONE_CHILD int CloneChild(void* arg) {
    auto* a = static_cast<CloneChildArgs*>(arg);
    ::syscall(SYS_setpgid, 0, 0);
    if (a->death_signal != 0) {
        ::syscall(SYS_prctl, PR_SET_PDEATHSIG, a->death_signal, 0, 0, 0);
        if (::syscall(SYS_getppid) != a->parent) ::syscall(SYS_exit_group, 1);  // the parent died before prctl
    }
    // Default dispositions (a handler of this process must not run in the child), then an empty mask: the parent
    // blocked every signal around the clone. The kernel's struct sigaction, all zero: SIG_DFL, no flags, no mask.
    struct {
        unsigned long handler;
        unsigned long flags;
        unsigned long restorer;
        uint64_t mask;
    } dfl{};
    for (int s = 1; s <= 64; ++s)
        ::syscall(SYS_rt_sigaction, s, &dfl, nullptr, sizeof dfl.mask);  // fails for KILL/STOP
    long in = a->io.in;
    if (in < 0 && (in = ::syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        ChildFail(a, errno);
    }
    const std::pair<long, long> stdio[] = {{in, STDIN_FILENO}, {a->io.out, STDOUT_FILENO}, {a->io.err, STDERR_FILENO}};
    for (const auto& [from, to] : stdio) {
        if (from < 0) continue;
        // dup3 refuses equal descriptors; one of ours already there (this process had it closed) is close-on-exec.
        const long done = from != to ? ::syscall(SYS_dup3, from, to, 0) : ::syscall(SYS_fcntl, to, F_SETFD, 0);
        if (done < 0) ChildFail(a, errno);
    }
    if (a->cwd != nullptr && ::syscall(SYS_chdir, a->cwd) != 0) ChildFail(a, errno);
    // Every descriptor above stderr closes at exec, but the ones the child is to keep.
    ::syscall(SYS_close_range, STDERR_FILENO + 1, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
    for (size_t i = 0; i < a->keep_count; ++i) {
        if (::syscall(SYS_fcntl, a->keep[i], F_SETFD, 0) != 0) ChildFail(a, errno);
    }
    const uint64_t empty_mask = 0;
    ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty_mask, nullptr, sizeof empty_mask);
    ::syscall(SYS_execve, a->path, a->argv, a->envp);
    ChildFail(a, errno);
}

#undef SQUALL_CLONE_CHILD

/// The child's stack while it shares this process's memory (before its exec): one per spawning thread, which the
/// clone suspends until then. Reused, so that a spawn maps and unmaps nothing (an unmap stops every CPU this
/// process runs on to flush its TLB).
constexpr size_t kCloneStackBytes = size_t{64} * 1024;

/// What posix_spawn cannot do (a parent-death signal, inherited descriptors), as cheaply: clone with CLONE_VM |
/// CLONE_VFORK, as glibc's posix_spawn itself does (no copy of this process's page tables, which fork makes), the
/// child doing what its file actions would, plus prctl(PR_SET_PDEATHSIG) and the descriptors it keeps. Every
/// signal is blocked in this thread around the clone, so that no handler runs in the child on shared memory. A
/// parent-death signal follows the thread that spawned: the supervisor's are io threads, which live as long as the
/// process.
int SpawnWithClone(
    const SpawnSpec& spec, const ChildStdio& io, const char* path, char* const* argv, char* const* envp, pid_t* pid
) {
    thread_local std::unique_ptr<char[]> stack;
    if (!stack) stack = std::make_unique<char[]>(kCloneStackBytes);
    CloneChildArgs args;
    args.parent = static_cast<pid_t>(::syscall(SYS_getpid));  // also binds syscall() before the child calls it
    args.death_signal = spec.parent_death_signal;
    args.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
    args.path = path;
    args.argv = argv;
    args.envp = envp;
    args.io = io;
    args.keep = spec.inherit_fds.data();
    args.keep_count = spec.inherit_fds.size();
    sigset_t all_signals;
    sigfillset(&all_signals);
    sigset_t old_mask;
    pthread_sigmask(SIG_BLOCK, &all_signals, &old_mask);
    const pid_t child = ::clone(&CloneChild, stack.get() + kCloneStackBytes, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    const int clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    if (child < 0) return clone_errno;
    if (args.err != 0) {
        while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
        }
        return args.err;
    }
    *pid = child;
    return 0;
}

}  // namespace

Result<SpawnedChild> Spawn(const SpawnSpec& spec) {
    if (spec.argv.empty() || spec.argv.front().empty()) return InvalidArgument("process spec has an empty argv");
    for (const auto& arg : spec.argv) {
        if (HasNul(arg)) return InvalidArgument("argument of '" + spec.argv.front() + "' contains a NUL byte");
    }
    std::vector<std::string> env_strings;
    if (spec.env) {
        env_strings.reserve(spec.env->size());
        for (const auto& [key, value] : *spec.env) {
            if (key.empty() || key.find('=') != std::string::npos || HasNul(key) || HasNul(value)) {
                return InvalidArgument("invalid environment variable name '" + key + "'");
            }
            env_strings.push_back(key + "=" + value);
        }
    }
    if (HasNul(spec.cwd)) return InvalidArgument("working directory contains a NUL byte");
    const bool use_clone = spec.parent_death_signal != 0 || !spec.inherit_fds.empty();
    std::string path;
    if (use_clone) {
        // execve does not search PATH; look now, before the clone.
        path = FindExecutable(spec.argv.front());
        if (path.empty()) return SpawnError(ENOENT, spec);
    }

    std::optional<Pipe> stdin_pipe;
    std::optional<Pipe> stdout_pipe;
    std::optional<Pipe> stderr_pipe;
    for (auto [wanted, pipe] :
         {std::pair{spec.stdin_pipe, &stdin_pipe},
          std::pair{spec.capture_output, &stdout_pipe},
          std::pair{spec.capture_output, &stderr_pipe}}) {
        if (!wanted) continue;
        auto made = MakePipe();
        if (!made) return std::move(made).error();
        *pipe = std::move(*made);
    }
    ChildStdio io;
    if (stdin_pipe) io.in = stdin_pipe->read_end.Get();
    if (stdout_pipe) io.out = stdout_pipe->write_end.Get();
    if (stderr_pipe) io.err = stderr_pipe->write_end.Get();

    std::vector<char*> argv;
    argv.reserve(spec.argv.size() + 1);
    for (const auto& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));  // exec does not modify them
    argv.push_back(nullptr);
    std::vector<char*> envp;
    if (spec.env) {
        envp.reserve(env_strings.size() + 1);
        for (auto& entry : env_strings) envp.push_back(entry.data());
        envp.push_back(nullptr);
    }
    char* const* env = spec.env ? envp.data() : environ;

    pid_t pid = -1;
    const int rc = use_clone ? SpawnWithClone(spec, io, path.c_str(), argv.data(), env, &pid)
                             : SpawnWithPosixSpawn(spec, io, argv.data(), env, &pid);
    if (rc != 0) return SpawnError(rc, spec);

    SpawnedChild child;
    child.pid = pid;
    // A pidfd refers to this very process even after it exited and until it is reaped, so there is no race with the
    // child exiting before we open it.
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
        int err = errno;
        ::kill(-pid, SIGKILL);
        // Rare failure path: the child was just SIGKILLed, so this wait is short.
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        return Internal("cannot supervise '" + spec.argv.front() + "': pidfd_open failed", ErrnoText(err));
    }
    child.pidfd = UniqueFd(pidfd);
    if (stdin_pipe) {
        child.stdin_fd = std::move(stdin_pipe->write_end);
        SetNonBlocking(child.stdin_fd.Get());
    }
    if (stdout_pipe) {
        child.stdout_fd = std::move(stdout_pipe->read_end);
        SetNonBlocking(child.stdout_fd.Get());
    }
    if (stderr_pipe) {
        child.stderr_fd = std::move(stderr_pipe->read_end);
        SetNonBlocking(child.stderr_fd.Get());
    }
    return child;  // the child's ends of the pipes close here
}

}  // namespace squall::core
