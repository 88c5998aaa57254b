#include "squall/core/process/supervisor.hpp"

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "squall/core/mask.hpp"
#include "squall/core/process/spawn.hpp"

namespace squall::core {

namespace {

constexpr size_t kReadChunkBytes = size_t{16} * 1024;
/// How long to wait for the pipes to reach EOF after the group was SIGKILLed. Only a process that left the group
/// (setsid) can keep them open that long; then we close our ends and finish anyway.
constexpr std::chrono::seconds kKillGrace{2};
/// Longer deadlines are clamped so that steady_clock arithmetic cannot overflow (milliseconds::max() means "never").
constexpr std::chrono::hours kMaxTimeout{24 * 365 * 10};

/// write(2) that returns EPIPE instead of raising SIGPIPE in this process, without touching the process-wide
/// disposition: block SIGPIPE in this thread, and consume the thread-directed SIGPIPE the write raised.
ssize_t WriteWithoutSigpipe(int fd, const char* data, size_t size) {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t old_mask;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    ssize_t n = ::write(fd, data, size);
    int err = errno;
    if (n < 0 && err == EPIPE && !was_pending) {
        timespec zero{};
        while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    errno = err;
    return n;
}

std::string TruncationMarker(size_t limit) {
    return "[... output truncated after " + std::to_string(limit) + " bytes ...]";
}

}  // namespace

std::string MaskSecrets(std::string text, const std::vector<std::string>& secrets) {
    return SecretMasker(secrets).Text(std::move(text));
}

/// Shared state of the supervisor. Held by every running Process (and so by every pending handler), which keeps it
/// alive after ~ProcessSupervisor until the last handler ran or the io_context was destroyed.
struct ProcessSupervisor::Impl : std::enable_shared_from_this<ProcessSupervisor::Impl> {
    using Strand = asio::strand<asio::io_context::executor_type>;
    class Process;

    Impl(asio::io_context& io, int death_signal) : strand(asio::make_strand(io)), parent_death_signal(death_signal) {}

    void DoStart(Handle handle, ProcessSpec spec, LineCallback on_line, ExitCallback on_exit);
    void DoCancel(Handle handle);
    void DoKillAll();

    Strand strand;
    const int parent_death_signal;  ///< for specs that name none
    std::atomic<Handle> next_handle{1};
    std::atomic<size_t> running{0};

    /// Strand only. Weak: a Process is owned by its pending handlers, so that destroying the io_context (which
    /// destroys them) also destroys the Process and its descriptors while Asio's services still exist.
    std::unordered_map<Handle, std::weak_ptr<Process>> processes;

    /// Process groups whose leader is not reaped yet, for the destructor, which may run on any thread. A leader is
    /// reaped (and its pgid becomes reusable) only while holding this mutex, so the destructor never signals a
    /// recycled group.
    std::mutex groups_mutex;
    std::unordered_map<Handle, pid_t> live_groups;  // guarded by groups_mutex
    bool shut_down = false;                         // guarded by groups_mutex
    std::atomic<bool> callbacks_disabled{false};    // set by ~ProcessSupervisor: nobody is left to call
};

/// One supervised child. All members are used on the strand only.
///
/// Invariant: until Finish(), at least one asynchronous operation is pending (a pipe read, the pidfd wait or the
/// timer), and each holds a shared_ptr to this object.
///
/// The leader is not reaped when it exits (waitid with WNOWAIT): as a zombie it keeps its pid and pgid reserved, so
/// that killing the group later (deadline, cancel) cannot hit a recycled process group. It is reaped in Finish().
class ProcessSupervisor::Impl::Process : public std::enable_shared_from_this<ProcessSupervisor::Impl::Process> {
public:
    Process(
        std::shared_ptr<Impl> impl,
        Handle handle,
        ProcessSpec spec,
        LineCallback on_line,
        ExitCallback on_exit,
        SpawnedChild child,
        std::chrono::steady_clock::time_point started
    )
        : impl_(std::move(impl)),
          handle_(handle),
          pid_(child.pid),
          masker_(spec.secrets),
          keep_raw_stdout_(spec.keep_raw_stdout),
          limit_(spec.max_output_bytes),
          capture_(spec.capture),
          cancel_grace_(spec.cancel_grace),
          timeout_(spec.timeout),
          stdin_data_(std::move(spec.stdin_data)),
          on_line_(std::move(on_line)),
          on_exit_(std::move(on_exit)),
          started_(started),
          pidfd_(impl_->strand, child.pidfd.Release()),
          out_(impl_->strand, child.stdout_fd.Release(), "stdout"),
          err_(impl_->strand, child.stderr_fd.Release(), "stderr"),
          timer_(impl_->strand),
          cancel_timer_(impl_->strand) {
        if (child.stdin_fd.Get() >= 0) {
            stdin_.emplace(impl_->strand, child.stdin_fd.Release());
        }
    }

    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    /// Only reached without Finish() when the io_context was destroyed with this process still running.
    ~Process() {
        if (!reaped_) {
            std::lock_guard lock(impl_->groups_mutex);
            ::kill(-pid_, SIGKILL);
            ::waitpid(pid_, nullptr, WNOHANG);
            impl_->live_groups.erase(handle_);
        }
    }

    void Begin() {
        ReadMore(out_);
        ReadMore(err_);
        WaitForExit();
        if (timeout_.count() > 0) {
            timer_.expires_after(std::min<std::chrono::milliseconds>(timeout_, kMaxTimeout));
            timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
                if (ec || self->finished_) {
                    return;
                }
                self->timed_out_ = true;
                self->KillGroup();
            });
        }
        if (stdin_) {
            WriteStdin();
        }
    }

    /// Cancel() and KillAll().
    /// KillAll(): SIGKILL to the whole group at once (the supervisor is going away).
    void Kill() {
        if (finished_ || timed_out_) {
            return;
        }
        canceled_ = true;
        KillGroup();
    }

    /// SIGTERM to the whole group, so that the action can clean up; SIGKILL after cancel_grace_ if it is still
    /// there (the leader is not reaped before Finish, so the pgid cannot have been recycled).
    void Cancel() {
        if (finished_ || timed_out_ || canceled_) {
            return;
        }
        canceled_ = true;
        if (!reaped_) {
            ::kill(-pid_, SIGTERM);
        }
        cancel_timer_.expires_after(cancel_grace_);
        cancel_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec || self->finished_) {
                return;
            }
            self->KillGroup();
        });
    }

private:
    struct OutputStream {
        OutputStream(const Strand& strand, int fd, std::string_view stream_name)
            : descriptor(strand, fd), name(stream_name), buffer(kReadChunkBytes) {}
        asio::posix::stream_descriptor descriptor;
        std::string_view name;
        std::vector<char> buffer;
        std::string capture;  ///< raw bytes, at most limit_
        std::string partial;  ///< the current line, not yet terminated
        bool truncated = false;
        bool eof = false;
    };

    void ReadMore(OutputStream& stream) {
        stream.descriptor.async_read_some(
            asio::buffer(stream.buffer),
            [self = shared_from_this(), &stream](const boost::system::error_code& ec, size_t n) {
                self->OnRead(stream, ec, n);
            }
        );
    }

    void OnRead(OutputStream& stream, const boost::system::error_code& ec, size_t n) {
        if (n > 0) {
            Consume(stream, std::string_view(stream.buffer.data(), n));
        }
        if (ec) {
            // EOF, or operation_aborted when KillGroup's grace period closed the pipe.
            stream.eof = true;
            if (!stream.truncated && !stream.partial.empty()) {
                EmitLine(stream, masker_.Text(std::move(stream.partial)));
                stream.partial.clear();
            }
            boost::system::error_code ignored;
            stream.descriptor.close(ignored);
            MaybeFinish();
            return;
        }
        ReadMore(stream);
    }

    /// Captures up to limit_ bytes and delivers them as lines; the rest is read and dropped.
    void Consume(OutputStream& stream, std::string_view data) {
        if (!capture_) {
            return ConsumeLines(stream, data);
        }
        size_t room = limit_ > stream.capture.size() ? limit_ - stream.capture.size() : 0;
        std::string_view kept = data.substr(0, std::min(room, data.size()));
        if (!kept.empty()) {
            stream.capture.append(kept);
            size_t pos = 0;
            for (size_t nl = kept.find('\n'); nl != std::string_view::npos; nl = kept.find('\n', pos)) {
                stream.partial.append(kept.substr(pos, nl - pos));
                EmitLine(stream, masker_.Text(std::move(stream.partial)));
                stream.partial.clear();
                pos = nl + 1;
            }
            stream.partial.append(kept.substr(pos));
        }
        if (kept.size() < data.size() && !stream.truncated) {
            stream.truncated = true;
            if (!stream.partial.empty()) {
                EmitLine(stream, masker_.CutOff(std::move(stream.partial)));
                stream.partial.clear();
            }
            EmitLine(stream, TruncationMarker(limit_));
        }
    }

    /// Without capture: every line is delivered, cut at limit_ (the rest of a longer line is dropped).
    void ConsumeLines(OutputStream& stream, std::string_view data) {
        size_t pos = 0;
        while (pos < data.size()) {
            const size_t nl = data.find('\n', pos);
            const std::string_view piece =
                data.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
            if (!stream.truncated) {
                const size_t room = limit_ > stream.partial.size() ? limit_ - stream.partial.size() : 0;
                stream.partial.append(piece.substr(0, std::min(room, piece.size())));
                if (piece.size() > room) {
                    stream.truncated = true;  // until the end of this line
                    EmitLine(stream, masker_.CutOff(std::move(stream.partial)));
                    stream.partial.clear();
                }
            }
            if (nl == std::string_view::npos) break;
            if (!stream.truncated) EmitLine(stream, masker_.Text(std::move(stream.partial)));
            stream.partial.clear();
            stream.truncated = false;
            pos = nl + 1;
        }
    }

    void EmitLine(const OutputStream& stream, std::string line) {
        if (on_line_ && !impl_->callbacks_disabled.load()) {
            on_line_(stream.name, std::move(line));
        }
    }

    void WaitForExit() {
        pidfd_.async_wait(
            asio::posix::stream_descriptor::wait_read,
            [self = shared_from_this()](const boost::system::error_code& ec) { self->OnPidfdReadable(ec); }
        );
    }

    void OnPidfdReadable(const boost::system::error_code& ec) {
        if (ec == asio::error::operation_aborted || finished_) {
            return;
        }
        siginfo_t info{};
        int rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
        if (rc < 0 && errno == EINTR) {
            WaitForExit();
            return;
        }
        if (rc < 0) {
            // ECHILD: something else in this process reaped our child (SIGCHLD set to SIG_IGN, or a waitpid(-1)
            // loop). The status is lost and the pgid may be recycled, so never signal it again.
            exit_code_ = -1;
            reaped_ = true;
            std::lock_guard lock(impl_->groups_mutex);
            impl_->live_groups.erase(handle_);
        } else if (info.si_pid == 0) {
            WaitForExit();  // spurious wake-up
            return;
        } else {
            exit_code_ = info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
        }
        leader_exited_ = true;
        boost::system::error_code ignored;
        pidfd_.close(ignored);
        MaybeFinish();
    }

    /// SIGKILLs the whole group (the zombie leader keeps the pgid valid), then gives the pipes kKillGrace to reach
    /// EOF before closing them: only a process that escaped the group can hold them that long.
    void KillGroup() {
        if (finished_) {
            return;
        }
        if (!reaped_) {
            ::kill(-pid_, SIGKILL);
        }
        if (grace_armed_) {
            return;
        }
        grace_armed_ = true;
        timer_.expires_after(kKillGrace);  // cancels a pending deadline wait
        timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec || self->finished_) {
                return;
            }
            boost::system::error_code ignored;
            self->out_.descriptor.cancel(ignored);
            self->err_.descriptor.cancel(ignored);
        });
    }

    void WriteStdin() {
        if (finished_ || !stdin_) {
            return;
        }
        const std::string& data = *stdin_data_;
        while (stdin_written_ < data.size()) {
            ssize_t n = WriteWithoutSigpipe(
                stdin_->native_handle(), data.data() + stdin_written_, data.size() - stdin_written_
            );
            if (n > 0) {
                stdin_written_ += static_cast<size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                stdin_->async_wait(
                    asio::posix::stream_descriptor::wait_write,
                    [self = shared_from_this()](const boost::system::error_code& ec) {
                        if (ec) {
                            self->CloseStdin();
                            return;
                        }
                        self->WriteStdin();
                    }
                );
                return;
            }
            break;  // EPIPE: the child closed its stdin; the rest is dropped
        }
        CloseStdin();
    }

    void CloseStdin() {
        if (stdin_) {
            boost::system::error_code ignored;
            stdin_->close(ignored);
            stdin_.reset();
        }
        stdin_data_.reset();
    }

    void MaybeFinish() {
        if (!finished_ && leader_exited_ && out_.eof && err_.eof) {
            Finish();
        }
    }

    void Finish() {
        finished_ = true;
        boost::system::error_code ignored;
        timer_.cancel(ignored);
        cancel_timer_.cancel(ignored);
        CloseStdin();
        {
            std::lock_guard lock(impl_->groups_mutex);
            if (!reaped_) {
                // The leader is a zombie (waitid reported it), so this does not wait.
                while (::waitpid(pid_, nullptr, WNOHANG) < 0 && errno == EINTR) {
                }
                reaped_ = true;
            }
            impl_->live_groups.erase(handle_);
        }

        ProcessOutcome outcome;
        outcome.exit_code = timed_out_ ? -SIGKILL : exit_code_;
        outcome.timed_out = timed_out_;
        outcome.canceled = canceled_;
        if (keep_raw_stdout_) outcome.stdout_raw = out_.capture;
        outcome.stdout_data = FinalCapture(out_);
        outcome.stderr_data = FinalCapture(err_);
        outcome.stdout_truncated = capture_ && out_.truncated;
        outcome.stderr_truncated = capture_ && err_.truncated;
        outcome.elapsed =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);

        impl_->processes.erase(handle_);
        impl_->running.fetch_sub(1);
        ExitCallback on_exit = std::move(on_exit_);
        on_exit_ = nullptr;
        on_line_ = nullptr;
        if (on_exit && !impl_->callbacks_disabled.load()) {
            on_exit(std::move(outcome));
        }
    }

    std::string FinalCapture(OutputStream& stream) {
        if (!capture_ || !stream.truncated) {
            return masker_.Text(std::move(stream.capture));
        }
        return masker_.CutOff(std::move(stream.capture)) + "\n" + TruncationMarker(limit_);
    }

    std::shared_ptr<Impl> impl_;
    Handle handle_;
    pid_t pid_;
    SecretMasker masker_;
    bool keep_raw_stdout_;
    size_t limit_;
    bool capture_;
    std::chrono::milliseconds cancel_grace_;
    std::chrono::milliseconds timeout_;
    std::optional<std::string> stdin_data_;
    size_t stdin_written_ = 0;
    LineCallback on_line_;
    ExitCallback on_exit_;
    std::chrono::steady_clock::time_point started_;

    asio::posix::stream_descriptor pidfd_;
    OutputStream out_;
    OutputStream err_;
    std::optional<asio::posix::stream_descriptor> stdin_;
    asio::steady_timer timer_;
    asio::steady_timer cancel_timer_;

    int exit_code_ = 0;
    bool leader_exited_ = false;
    bool reaped_ = false;
    bool timed_out_ = false;
    bool canceled_ = false;
    bool grace_armed_ = false;
    bool finished_ = false;
};

void ProcessSupervisor::Impl::DoStart(Handle handle, ProcessSpec spec, LineCallback on_line, ExitCallback on_exit) {
    auto started = std::chrono::steady_clock::now();
    SpawnSpec how;
    how.argv = spec.argv;
    how.env = spec.env;
    how.cwd = spec.cwd;
    how.stdin_pipe = spec.stdin_data.has_value();
    how.parent_death_signal = spec.parent_death_signal != 0 ? spec.parent_death_signal : parent_death_signal;
    auto spawned = Spawn(how);
    if (!spawned) {
        ProcessOutcome outcome;
        outcome.spawn_error = std::move(spawned).error();
        running.fetch_sub(1);
        if (on_exit && !callbacks_disabled.load()) {
            on_exit(std::move(outcome));
        }
        return;
    }
    pid_t pid = spawned->pid;
    std::function<void(int)> on_spawned = std::move(spec.on_spawned);
    auto process = std::make_shared<Process>(
        shared_from_this(),
        handle,
        std::move(spec),
        std::move(on_line),
        std::move(on_exit),
        std::move(*spawned),
        started
    );
    {
        std::lock_guard lock(groups_mutex);
        live_groups.emplace(handle, pid);
        if (shut_down) {
            // ~ProcessSupervisor ran while we were spawning: it could not see this group.
            ::kill(-pid, SIGKILL);
        }
    }
    processes.emplace(handle, process);
    if (on_spawned && !callbacks_disabled.load()) {
        on_spawned(pid);
    }
    process->Begin();
}

void ProcessSupervisor::Impl::DoCancel(Handle handle) {
    auto it = processes.find(handle);
    if (it == processes.end()) {
        return;
    }
    if (auto process = it->second.lock()) {
        process->Cancel();
    }
}

void ProcessSupervisor::Impl::DoKillAll() {
    // Cancel() never removes entries synchronously (Finish runs from a later handler), so iterating is safe.
    for (auto& [handle, weak] : processes) {
        if (auto process = weak.lock()) {
            process->Kill();
        }
    }
}

ProcessSupervisor::ProcessSupervisor(asio::io_context& io, int parent_death_signal)
    : impl_(std::make_shared<Impl>(io, parent_death_signal)) {}

ProcessSupervisor::~ProcessSupervisor() {
    impl_->callbacks_disabled.store(true);
    std::lock_guard lock(impl_->groups_mutex);
    impl_->shut_down = true;
    for (const auto& [handle, pid] : impl_->live_groups) {
        ::kill(-pid, SIGKILL);
    }
}

ProcessSupervisor::Handle ProcessSupervisor::Start(ProcessSpec spec, LineCallback on_line, ExitCallback on_exit) {
    Handle handle = impl_->next_handle.fetch_add(1);
    impl_->running.fetch_add(1);
    asio::post(
        impl_->strand,
        [impl = impl_, handle, spec = std::move(spec), on_line = std::move(on_line), on_exit = std::move(on_exit)](
        ) mutable { impl->DoStart(handle, std::move(spec), std::move(on_line), std::move(on_exit)); }
    );
    return handle;
}

void ProcessSupervisor::Cancel(Handle handle) {
    asio::post(impl_->strand, [impl = impl_, handle] { impl->DoCancel(handle); });
}

void ProcessSupervisor::KillAll() {
    asio::post(impl_->strand, [impl = impl_] { impl->DoKillAll(); });
}

size_t ProcessSupervisor::Running() const {
    return impl_->running.load();
}

}  // namespace squall::core
