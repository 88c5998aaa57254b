#include "squall/core/process/supervisor.hpp"
#include "wait.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace squall::core {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kWaitLimit = 20s;  // generous: ASan builds on a shared 2-core machine

/// What one supervised process reported.
struct ProcRun {
    ProcessSupervisor::Handle handle = 0;
    std::vector<std::pair<std::string, std::string>> lines;  ///< (stream, line)
    std::optional<ProcessOutcome> outcome;

    std::vector<std::string> Lines(std::string_view stream) const {
        std::vector<std::string> result;
        for (const auto& [s, line] : lines) {
            if (s == stream) {
                result.push_back(line);
            }
        }
        return result;
    }
};

ProcessSpec Shell(const std::string& script) {
    ProcessSpec spec;
    spec.argv = {"/bin/sh", "-c", script};
    spec.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}};
    return spec;
}

/// Reaps members of `pgid` that were re-parented to this process (it is a child subreaper, see SetUp) and reports
/// whether the group is empty. Call only after the outcome arrived: the supervisor has reaped the leader by then.
bool GroupGone(pid_t pgid) {
    while (::waitpid(-pgid, nullptr, WNOHANG) > 0) {
    }
    return ::kill(-pgid, 0) == -1 && errno == ESRCH;
}

/// Waits (polling, with a deadline) until the process group is gone. SIGKILL is delivered asynchronously, and
/// killed orphans must be reaped before kill(-pgid, 0) reports ESRCH.
bool WaitGroupGone(pid_t pgid, std::chrono::milliseconds limit = 5000ms) {
    return squall::test::WaitFor([&] { return GroupGone(pgid); }, limit);
}

class ProcessSupervisorTest : public ::testing::Test {
protected:
    void SetUp() override {
        // This container's PID 1 does not reap orphans; become the reaper of our descendants so that killed
        // grandchildren can be reaped by GroupGone() and the group really disappears.
        ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    }

    /// Runs the io_context on this thread until `done` holds or the limit passes.
    bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = kWaitLimit) {
        auto deadline = Clock::now() + limit;
        while (!done()) {
            if (Clock::now() >= deadline) {
                return false;
            }
            io_.run_one_until(deadline);
        }
        return true;
    }

    std::shared_ptr<ProcRun> Start(ProcessSpec spec, ProcessSupervisor& supervisor) {
        auto run = std::make_shared<ProcRun>();
        run->handle = supervisor.Start(
            std::move(spec),
            [run](std::string_view stream, std::string line) { run->lines.emplace_back(stream, std::move(line)); },
            [run](ProcessOutcome outcome) {
                ASSERT_FALSE(run->outcome.has_value()) << "on_exit called twice";
                run->outcome = std::move(outcome);
            }
        );
        return run;
    }
    std::shared_ptr<ProcRun> Start(ProcessSpec spec) { return Start(std::move(spec), supervisor_); }

    /// Starts and waits for the outcome.
    std::shared_ptr<ProcRun> RunToEnd(ProcessSpec spec) {
        auto run = Start(std::move(spec));
        EXPECT_TRUE(RunUntil([&] { return run->outcome.has_value(); })) << "process did not finish in time";
        return run;
    }

    /// Runs until the first line arrives and returns it as a pid (the scripts start with `echo $$`).
    pid_t WaitForPid(const ProcRun& run) {
        EXPECT_TRUE(RunUntil([&] { return !run.lines.empty() || run.outcome.has_value(); }));
        if (run.lines.empty()) {
            return -1;
        }
        return static_cast<pid_t>(std::stoi(run.lines.front().second));
    }

    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
    ProcessSupervisor supervisor_{io_};
};

TEST_F(ProcessSupervisorTest, EchoToStdout) {
    ProcessSpec spec;
    spec.argv = {"/bin/echo", "hello world"};
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    const auto& outcome = *run->outcome;
    EXPECT_FALSE(outcome.spawn_error);
    EXPECT_EQ(outcome.exit_code, 0);
    EXPECT_EQ(outcome.stdout_data, "hello world\n");
    EXPECT_EQ(outcome.stderr_data, "");
    EXPECT_FALSE(outcome.timed_out);
    EXPECT_FALSE(outcome.canceled);
    EXPECT_FALSE(outcome.stdout_truncated);
    EXPECT_EQ(run->Lines("stdout"), std::vector<std::string>{"hello world"});
    EXPECT_TRUE(run->Lines("stderr").empty());
    EXPECT_EQ(supervisor_.Running(), 0U);
}

TEST_F(ProcessSupervisorTest, LeaderIsReaped) {
    auto run = RunToEnd(Shell("echo $$"));
    ASSERT_TRUE(run->outcome);
    ASSERT_FALSE(run->lines.empty());
    pid_t pid = std::stoi(run->lines.front().second);
    // Already reaped by the supervisor: no zombie is left behind.
    EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
}

TEST_F(ProcessSupervisorTest, NoDescriptorsLeakIntoChildOrParent) {
    auto count_fds = [] {
        return std::distance(
            std::filesystem::directory_iterator("/proc/self/fd"), std::filesystem::directory_iterator{}
        );
    };
    // The first run creates the io_context's reactor descriptors; count after it.
    ASSERT_TRUE(RunToEnd(Shell("true"))->outcome);
    auto before = count_fds();
    // A descriptor of this process without O_CLOEXEC must not reach the child.
    int leaky = ::fcntl(STDERR_FILENO, F_DUPFD, 100);
    ASSERT_GE(leaky, 100);
    ProcessSpec spec;
    spec.argv = {"/bin/ls", "/proc/self/fd"};
    spec.stdin_data = "unused";
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    EXPECT_EQ(run->outcome->exit_code, 0);
    // 0, 1, 2 and the directory ls itself opened.
    auto fds = run->Lines("stdout");
    EXPECT_LE(fds.size(), 4U) << run->outcome->stdout_data;
    for (const auto& fd : fds) {
        EXPECT_NE(fd, std::to_string(leaky));
    }
    for (int i = 0; i < 20; ++i) {
        auto other = RunToEnd(Shell("echo x; echo y >&2"));
        ASSERT_TRUE(other->outcome);
    }
    ::close(leaky);
    EXPECT_EQ(count_fds(), before);
}

TEST_F(ProcessSupervisorTest, ChildGetsEmptySignalMaskAndDefaultDispositions) {
    // posix_spawn would pass on this thread's mask and ignored signals; the supervisor resets both.
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigset_t old_mask;
    ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction old_action {};
    ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &old_action), 0);

    ProcessSpec spec;
    spec.argv = {"/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"};
    auto run = RunToEnd(std::move(spec));

    ::sigaction(SIGPIPE, &old_action, nullptr);
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    ASSERT_TRUE(run->outcome);
    auto lines = run->Lines("stdout");
    ASSERT_EQ(lines.size(), 2U) << run->outcome->stdout_data;
    EXPECT_EQ(lines[0], "SigBlk:\t0000000000000000");
    ASSERT_EQ(lines[1].rfind("SigIgn:\t", 0), 0U);
    // glibc's posix_spawn always leaves its two internal signals (32 and 33) ignored; nothing else may be.
    uint64_t ignored = std::stoull(lines[1].substr(8), nullptr, 16);
    EXPECT_EQ(ignored & ~((uint64_t{1} << 31) | (uint64_t{1} << 32)), 0U) << lines[1];
}

TEST_F(ProcessSupervisorTest, FindsProgramOnPath) {
    ProcessSpec spec;
    spec.argv = {"echo", "via path"};
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    EXPECT_FALSE(run->outcome->spawn_error);
    EXPECT_EQ(run->outcome->stdout_data, "via path\n");
}

TEST_F(ProcessSupervisorTest, StderrIsCapturedSeparately) {
    auto run = RunToEnd(Shell("echo out; echo err >&2; echo out2"));
    ASSERT_TRUE(run->outcome);
    EXPECT_EQ(run->outcome->stdout_data, "out\nout2\n");
    EXPECT_EQ(run->outcome->stderr_data, "err\n");
    EXPECT_EQ(run->Lines("stdout"), (std::vector<std::string>{"out", "out2"}));
    EXPECT_EQ(run->Lines("stderr"), std::vector<std::string>{"err"});
}

TEST_F(ProcessSupervisorTest, ExitCode) {
    auto run = RunToEnd(Shell("exit 3"));
    ASSERT_TRUE(run->outcome);
    EXPECT_EQ(run->outcome->exit_code, 3);
    EXPECT_FALSE(run->outcome->timed_out);
}

TEST_F(ProcessSupervisorTest, KilledBySignalGivesNegativeSignalNumber) {
    auto run = RunToEnd(Shell("kill -TERM $$"));
    ASSERT_TRUE(run->outcome);
    EXPECT_EQ(run->outcome->exit_code, -SIGTERM);
}

TEST_F(ProcessSupervisorTest, EnvAndCwdAreHonoured) {
    auto dir = std::filesystem::temp_directory_path() / ("squall_ps_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto canonical = std::filesystem::canonical(dir).string();

    ProcessSpec spec;
    spec.argv = {"/bin/sh", "-c", "echo \"foo=$FOO\"; echo \"home=${HOME-unset}\"; pwd -P"};
    spec.env = {{"FOO", "bar baz"}};
    spec.cwd = dir.string();
    auto run = RunToEnd(std::move(spec));
    std::filesystem::remove_all(dir);
    ASSERT_TRUE(run->outcome);
    EXPECT_FALSE(run->outcome->spawn_error);
    // The environment is exactly spec.env: nothing is inherited from this process.
    EXPECT_EQ(run->outcome->stdout_data, "foo=bar baz\nhome=unset\n" + canonical + "\n");
}

TEST_F(ProcessSupervisorTest, StdinDataReachesCat) {
    ProcessSpec spec;
    spec.argv = {"/bin/cat"};
    spec.stdin_data = "line1\nline2\n";
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    EXPECT_EQ(run->outcome->exit_code, 0);
    EXPECT_EQ(run->outcome->stdout_data, "line1\nline2\n");
}

TEST_F(ProcessSupervisorTest, LargeStdinIsWrittenAsynchronously) {
    // Far more than a pipe buffer (64 KiB): the writer must wait for the child to read.
    std::string data;
    for (int i = 0; i < 50000; ++i) {
        data += "line " + std::to_string(i) + "\n";
    }
    ProcessSpec spec;
    spec.argv = {"/bin/cat"};
    spec.stdin_data = data;
    spec.max_output_bytes = data.size() + 1;
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    EXPECT_EQ(run->outcome->exit_code, 0);
    EXPECT_EQ(run->outcome->stdout_data.size(), data.size());
    EXPECT_TRUE(run->outcome->stdout_data == data);
    EXPECT_EQ(run->Lines("stdout").size(), 50000U);
}

TEST_F(ProcessSupervisorTest, StdinIgnoredByChildDoesNotRaiseSigpipe) {
    // `true` exits without reading: the write fails with EPIPE, which must not kill this test process.
    ProcessSpec spec;
    spec.argv = {"/bin/true"};
    spec.stdin_data = std::string(1 << 20, 'x');
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    EXPECT_EQ(run->outcome->exit_code, 0);
}

TEST_F(ProcessSupervisorTest, StdinIsDevNullByDefault) {
    ProcessSpec spec;
    spec.argv = {"/bin/cat"};
    spec.timeout = 10s;
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    EXPECT_EQ(run->outcome->exit_code, 0);
    EXPECT_FALSE(run->outcome->timed_out);
    EXPECT_EQ(run->outcome->stdout_data, "");
}

TEST_F(ProcessSupervisorTest, LinesArriveInOrderWithFinalPartialLine) {
    auto run = RunToEnd(Shell("printf 'a\\nb\\n'; printf 'x\\n' >&2; printf 'c\\n\\nd'; printf 'tail' >&2"));
    ASSERT_TRUE(run->outcome);
    EXPECT_EQ(run->outcome->stdout_data, "a\nb\nc\n\nd");
    EXPECT_EQ(run->outcome->stderr_data, "x\ntail");
    EXPECT_EQ(run->Lines("stdout"), (std::vector<std::string>{"a", "b", "c", "", "d"}));
    EXPECT_EQ(run->Lines("stderr"), (std::vector<std::string>{"x", "tail"}));
}

TEST_F(ProcessSupervisorTest, TimeoutKillsProcessGroup) {
    auto spec = Shell("echo $$; sleep 5");
    spec.timeout = 300ms;
    auto begin = Clock::now();
    auto run = RunToEnd(std::move(spec));
    auto took = Clock::now() - begin;
    ASSERT_TRUE(run->outcome);
    EXPECT_TRUE(run->outcome->timed_out);
    EXPECT_FALSE(run->outcome->canceled);
    EXPECT_EQ(run->outcome->exit_code, -9);
    EXPECT_GE(run->outcome->elapsed, 250ms);
    EXPECT_LT(run->outcome->elapsed, 2000ms);
    EXPECT_LT(took, 2s);
    ASSERT_FALSE(run->lines.empty());
    pid_t pgid = std::stoi(run->lines.front().second);
    EXPECT_TRUE(WaitGroupGone(pgid));
}

TEST_F(ProcessSupervisorTest, TimeoutKillsBackgroundedGrandchild) {
    auto spec = Shell("echo $$; sleep 30 & sleep 30");
    spec.timeout = 300ms;
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    EXPECT_TRUE(run->outcome->timed_out);
    EXPECT_EQ(run->outcome->exit_code, -9);
    EXPECT_LT(run->outcome->elapsed, 2000ms);
    ASSERT_FALSE(run->lines.empty());
    pid_t pgid = std::stoi(run->lines.front().second);
    EXPECT_TRUE(WaitGroupGone(pgid)) << "a process of group " << pgid << " survived";
}

TEST_F(ProcessSupervisorTest, LeaderExitsButBackgroundChildHoldsStdoutUntilDeadline) {
    auto spec = Shell("echo $$; sleep 30 &");
    spec.timeout = 500ms;
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    // The leader exited at once, but the pipe stayed open: the supervisor waited for the deadline, then killed.
    EXPECT_TRUE(run->outcome->timed_out);
    EXPECT_EQ(run->outcome->exit_code, -9);
    EXPECT_GE(run->outcome->elapsed, 450ms);
    EXPECT_LT(run->outcome->elapsed, 3000ms);
    ASSERT_FALSE(run->lines.empty());
    pid_t pgid = std::stoi(run->lines.front().second);
    EXPECT_EQ(run->outcome->stdout_data, std::to_string(pgid) + "\n");
    EXPECT_TRUE(WaitGroupGone(pgid));
}

TEST_F(ProcessSupervisorTest, BackgroundChildWithoutPipesIsLeftAlone) {
    // Documented behaviour (as st2): once the leader exited and the pipes closed, the process is finished; a
    // daemonised descendant that let go of the pipes is not killed.
    auto spec = Shell("echo $$; sleep 30 >/dev/null 2>&1 &");
    spec.timeout = 10s;
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    EXPECT_FALSE(run->outcome->timed_out);
    EXPECT_EQ(run->outcome->exit_code, 0);
    EXPECT_LT(run->outcome->elapsed, 5000ms);
    ASSERT_FALSE(run->lines.empty());
    pid_t pgid = std::stoi(run->lines.front().second);
    EXPECT_FALSE(GroupGone(pgid));
    ::kill(-pgid, SIGKILL);
    EXPECT_TRUE(WaitGroupGone(pgid));
}

TEST_F(ProcessSupervisorTest, CancelKillsGroup) {
    auto run = std::make_shared<ProcRun>();
    run->handle = supervisor_.Start(
        Shell("echo $$; sleep 30 & sleep 30"),
        [this, run](std::string_view stream, std::string line) {
            run->lines.emplace_back(stream, std::move(line));
            supervisor_.Cancel(run->handle);  // from a callback, on the strand
        },
        [run](ProcessOutcome outcome) { run->outcome = std::move(outcome); }
    );
    ASSERT_TRUE(RunUntil([&] { return run->outcome.has_value(); }));
    EXPECT_TRUE(run->outcome->canceled);
    EXPECT_FALSE(run->outcome->timed_out);
    EXPECT_EQ(run->outcome->exit_code, -15) << "SIGTERM first: the action may clean up";
    EXPECT_LT(run->outcome->elapsed, 2000ms);
    ASSERT_FALSE(run->lines.empty());
    EXPECT_TRUE(WaitGroupGone(std::stoi(run->lines.front().second)));
}

TEST_F(ProcessSupervisorTest, CancelKillsAGroupThatIgnoresSigtermAfterTheGrace) {
    auto run = std::make_shared<ProcRun>();
    run->handle = supervisor_.Start(
        Shell("trap '' TERM; echo $$; sleep 30; echo survived"),
        [this, run](std::string_view stream, std::string line) {
            run->lines.emplace_back(stream, std::move(line));
            supervisor_.Cancel(run->handle);
        },
        [run](ProcessOutcome outcome) { run->outcome = std::move(outcome); }
    );
    ASSERT_TRUE(RunUntil([&] { return run->outcome.has_value(); }));
    EXPECT_TRUE(run->outcome->canceled);
    EXPECT_EQ(run->outcome->exit_code, -9);
    EXPECT_GE(run->outcome->elapsed, 900ms) << "SIGKILL only after the grace";
    EXPECT_LT(run->outcome->elapsed, 3000ms);
    EXPECT_TRUE(WaitGroupGone(std::stoi(run->lines.front().second)));
}

TEST_F(ProcessSupervisorTest, CancelRightAfterStart) {
    ProcessSpec spec;
    spec.argv = {"/bin/sleep", "30"};
    auto run = Start(std::move(spec));
    supervisor_.Cancel(run->handle);
    ASSERT_TRUE(RunUntil([&] { return run->outcome.has_value(); }));
    EXPECT_TRUE(run->outcome->canceled);
    EXPECT_EQ(run->outcome->exit_code, -15);
}

TEST_F(ProcessSupervisorTest, CancelUnknownHandleIsNoop) {
    supervisor_.Cancel(123456);
    auto run = RunToEnd(Shell("echo ok"));
    ASSERT_TRUE(run->outcome);
    EXPECT_FALSE(run->outcome->canceled);
    EXPECT_EQ(run->outcome->stdout_data, "ok\n");
}

TEST_F(ProcessSupervisorTest, KillAllKillsEverything) {
    std::vector<std::shared_ptr<ProcRun>> runs;
    runs.reserve(5);
    for (int i = 0; i < 5; ++i) {
        runs.push_back(Start(Shell("echo $$; sleep 30")));
    }
    ASSERT_TRUE(RunUntil([&] {
        for (const auto& run : runs) {
            if (run->lines.empty()) {
                return false;
            }
        }
        return true;
    }));
    EXPECT_EQ(supervisor_.Running(), 5U);
    supervisor_.KillAll();
    ASSERT_TRUE(RunUntil([&] { return supervisor_.Running() == 0; }));
    for (const auto& run : runs) {
        ASSERT_TRUE(run->outcome);
        EXPECT_TRUE(run->outcome->canceled);
        EXPECT_EQ(run->outcome->exit_code, -9);
        EXPECT_TRUE(WaitGroupGone(std::stoi(run->lines.front().second)));
    }
}

TEST_F(ProcessSupervisorTest, MissingExecutableIsSpawnError) {
    ProcessSpec spec;
    spec.argv = {"/nonexistent/squall-prog", "arg"};
    auto run = Start(std::move(spec));
    EXPECT_FALSE(run->outcome.has_value()) << "on_exit must be posted, not called inside Start";
    ASSERT_TRUE(RunUntil([&] { return run->outcome.has_value(); }));
    ASSERT_TRUE(run->outcome->spawn_error);
    EXPECT_EQ(run->outcome->spawn_error->code, ErrorCode::kInvalidArgument);
    EXPECT_NE(run->outcome->spawn_error->message.find("/nonexistent/squall-prog"), std::string::npos)
        << run->outcome->spawn_error->message;
    EXPECT_TRUE(run->lines.empty());
    EXPECT_EQ(supervisor_.Running(), 0U);
}

TEST_F(ProcessSupervisorTest, ProgramNotOnPathIsSpawnError) {
    ProcessSpec spec;
    spec.argv = {"squall-no-such-program-xyz"};
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    ASSERT_TRUE(run->outcome->spawn_error);
    EXPECT_EQ(run->outcome->spawn_error->code, ErrorCode::kInvalidArgument);
    EXPECT_NE(run->outcome->spawn_error->message.find("squall-no-such-program-xyz"), std::string::npos);
}

TEST_F(ProcessSupervisorTest, MissingCwdIsSpawnError) {
    ProcessSpec spec;
    spec.argv = {"/bin/true"};
    spec.cwd = "/nonexistent/squall-dir";
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    ASSERT_TRUE(run->outcome->spawn_error);
    EXPECT_EQ(run->outcome->spawn_error->code, ErrorCode::kInvalidArgument);
    EXPECT_NE(run->outcome->spawn_error->message.find("/nonexistent/squall-dir"), std::string::npos)
        << run->outcome->spawn_error->message;
}

TEST_F(ProcessSupervisorTest, EmptyArgvIsSpawnError) {
    auto run = RunToEnd(ProcessSpec{});
    ASSERT_TRUE(run->outcome);
    ASSERT_TRUE(run->outcome->spawn_error);
    EXPECT_EQ(run->outcome->spawn_error->code, ErrorCode::kInvalidArgument);
}

TEST_F(ProcessSupervisorTest, LargeOutputIsTruncatedAndProcessStillFinishes) {
    auto spec = Shell("head -c 300000 /dev/zero | tr '\\000' a; echo; echo done >&2");
    spec.max_output_bytes = 1000;
    spec.timeout = 15s;
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    EXPECT_EQ(run->outcome->exit_code, 0);
    EXPECT_FALSE(run->outcome->timed_out);
    EXPECT_TRUE(run->outcome->stdout_truncated);
    EXPECT_FALSE(run->outcome->stderr_truncated);
    EXPECT_EQ(run->outcome->stdout_data, std::string(1000, 'a') + "\n[... output truncated after 1000 bytes ...]");
    EXPECT_EQ(run->outcome->stderr_data, "done\n");
    EXPECT_EQ(
        run->Lines("stdout"),
        (std::vector<std::string>{std::string(1000, 'a'), "[... output truncated after 1000 bytes ...]"})
    );
}

TEST_F(ProcessSupervisorTest, SecretsAreMaskedInCapturesAndLines) {
    auto spec = Shell("echo 'token=hunter2 and hunter2'; echo 'err hunter2' >&2; printf 'last hunter2'");
    spec.secrets = {"hunter2", ""};
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    EXPECT_EQ(run->outcome->stdout_data, "token=******** and ********\nlast ********");
    EXPECT_EQ(run->outcome->stderr_data, "err ********\n");
    EXPECT_EQ(run->Lines("stdout"), (std::vector<std::string>{"token=******** and ********", "last ********"}));
    EXPECT_EQ(run->Lines("stderr"), std::vector<std::string>{"err ********"});
}

TEST_F(ProcessSupervisorTest, SecretStraddlingReadChunksIsMasked) {
    // The reader uses 16 KiB chunks: put the secret across the first boundary, and let the pipe split it anywhere.
    std::string filler(16 * 1024 - 3, 'x');
    auto spec = Shell("printf '%s' '" + filler + "'; printf 'hunter2\\n'; printf '%s' '" + filler + "hunter2'");
    spec.secrets = {"hunter2"};
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    EXPECT_EQ(run->outcome->stdout_data, filler + "********\n" + filler + "********");
    EXPECT_EQ(run->Lines("stdout"), (std::vector<std::string>{filler + "********", filler + "********"}));
}

TEST_F(ProcessSupervisorTest, SecretCutByTruncationIsMasked) {
    auto spec = Shell("echo 'abcdhunter2 more'");
    spec.secrets = {"hunter2"};
    spec.max_output_bytes = 8;  // keeps "abcdhunt"
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome);
    EXPECT_TRUE(run->outcome->stdout_truncated);
    EXPECT_EQ(run->outcome->stdout_data, "abcd********\n[... output truncated after 8 bytes ...]");
    EXPECT_EQ(
        run->Lines("stdout"), (std::vector<std::string>{"abcd********", "[... output truncated after 8 bytes ...]"})
    );
}

TEST(MaskSecretsTest, MasksEveryOccurrenceLongestFirst) {
    EXPECT_EQ(MaskSecrets("a pass b password c", {"pass", "password"}), "a ******** b ******** c");
    EXPECT_EQ(MaskSecrets("nothing here", {}), "nothing here");
    EXPECT_EQ(MaskSecrets("abc", {""}), "abc");
    EXPECT_EQ(MaskSecrets("abcdabcd", {"abcd"}), "****************");
    // Shorter than 4 bytes: only a whole text is masked, never the inside of other words.
    EXPECT_EQ(MaskSecrets("aaaa", {"aa"}), "aaaa");
    EXPECT_EQ(MaskSecrets("aa", {"aa"}), "********");
    EXPECT_EQ(MaskSecrets("token is true", {"true"}), "token is ********");
    // As JSON gives it inside a string.
    EXPECT_EQ(MaskSecrets(R"({"t": "Q\"LEAK"})", {"Q\"LEAK"}), R"({"t": "********"})");
    EXPECT_EQ(MaskSecrets(R"({"t": "p\u00e4ss"})", {"p\u00e4ss"}), R"({"t": "********"})");
    EXPECT_EQ(MaskSecrets("", {"x"}), "");
}

TEST_F(ProcessSupervisorTest, ManyConcurrentProcessesFromOtherThreads) {
    // The io_context runs on two threads; Start is called from this one.
    std::vector<std::thread> threads;
    threads.reserve(2);
    for (int i = 0; i < 2; ++i) {
        threads.emplace_back([this] { io_.run(); });
    }
    constexpr int kCount = 200;
    std::mutex mutex;
    std::condition_variable cv;
    int finished = 0;
    int ok = 0;
    auto begin = Clock::now();
    for (int i = 0; i < kCount; ++i) {
        ProcessSpec spec;
        spec.argv = {"/bin/true"};
        spec.timeout = 30s;
        supervisor_.Start(std::move(spec), nullptr, [&](const ProcessOutcome& outcome) {
            std::lock_guard lock(mutex);
            ++finished;
            if (!outcome.spawn_error && outcome.exit_code == 0) {
                ++ok;
            }
            cv.notify_all();
        });
    }
    {
        std::unique_lock lock(mutex);
        EXPECT_TRUE(cv.wait_until(lock, Clock::now() + 60s, [&] { return finished == kCount; }));
        EXPECT_EQ(ok, kCount);
    }
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin);
    EXPECT_EQ(supervisor_.Running(), 0U);
    work_.reset();
    io_.stop();
    for (auto& thread : threads) {
        thread.join();
    }
    RecordProperty("elapsed_ms", static_cast<int>(took.count()));
}

TEST_F(ProcessSupervisorTest, DestructorKillsRunningGroups) {
    auto supervisor = std::make_unique<ProcessSupervisor>(io_);
    auto run = Start(Shell("echo $$; sleep 30 & sleep 30"), *supervisor);
    pid_t pgid = WaitForPid(*run);
    ASSERT_GT(pgid, 0);
    supervisor.reset();
    EXPECT_TRUE(WaitGroupGone(pgid));
    // Pending handlers still run (and reap the leader) but report nothing.
    io_.poll();
    EXPECT_FALSE(run->outcome.has_value());
}

}  // namespace
}  // namespace squall::core

namespace squall::core {
namespace {

// A long-running child (a sensor): without capture every line is delivered however much it writes in total, a line
// longer than max_output_bytes is cut, nothing is kept in the outcome; on_spawned reports the pid; Cancel gives the
// chosen grace between SIGTERM and SIGKILL.
TEST_F(ProcessSupervisorTest, WithoutCaptureEveryLineIsDeliveredAndLongLinesAreCut) {
    ProcessSpec spec = Shell(
        "i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; "
        "printf '%0200d\\n' 0; echo after"
    );
    spec.capture = false;
    spec.max_output_bytes = 100;  // far less than the 300 lines together
    int spawned = 0;
    spec.on_spawned = [&spawned](int pid) { spawned = pid; };
    auto run = RunToEnd(std::move(spec));
    ASSERT_TRUE(run->outcome.has_value());
    EXPECT_GT(spawned, 0);
    const std::vector<std::string> out = run->Lines("stdout");
    ASSERT_EQ(out.size(), 302u);
    EXPECT_EQ(out[0], "line-0-xxxxxxxxxxxxxxxxxxxxxxxx");
    EXPECT_EQ(out[299], "line-299-xxxxxxxxxxxxxxxxxxxxxxxx");
    EXPECT_EQ(out[300].size(), 100u);  // the 200-byte line, cut
    EXPECT_EQ(out[301], "after");
    EXPECT_TRUE(run->outcome->stdout_data.empty());
    EXPECT_FALSE(run->outcome->stdout_truncated);
}

TEST_F(ProcessSupervisorTest, CancelWaitsTheChosenGraceBeforeSigkill) {
    ProcessSpec spec = Shell("trap '' TERM; echo $$; while :; do sleep 0.05; done");
    spec.capture = false;
    spec.cancel_grace = 300ms;
    auto run = Start(std::move(spec));
    ASSERT_GT(WaitForPid(*run), 0);
    const auto before = Clock::now();
    supervisor_.Cancel(run->handle);
    ASSERT_TRUE(RunUntil([&] { return run->outcome.has_value(); }));
    EXPECT_GE(Clock::now() - before, 250ms);
    EXPECT_EQ(run->outcome->exit_code, -SIGKILL);
    EXPECT_TRUE(run->outcome->canceled);
}

}  // namespace
}  // namespace squall::core
