#include "squall/core/process/spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace squall::core {
namespace {

/// Everything the child wrote to `fd` until EOF (the descriptor is non-blocking).
std::string ReadAll(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 10000) <= 0) break;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<size_t>(n));
        } else if (n == 0 || errno != EAGAIN) {
            break;
        }
    }
    return out;
}

/// Reaps the child and returns its exit code (-signal when killed).
int Reap(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST(SpawnTest, RunsInItsOwnProcessGroupWithItsOwnEnvironmentAndCapturesOutput) {
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", "printf '%s' \"$ONLY\"; printf err >&2; exit 3"};
    spec.env = std::map<std::string, std::string>{{"ONLY", "this"}, {"PATH", "/usr/bin:/bin"}};
    Result<SpawnedChild> child = Spawn(spec);
    ASSERT_TRUE(child) << child.error().message;
    EXPECT_EQ(::getpgid(child->pid), child->pid);
    EXPECT_EQ(ReadAll(child->stdout_fd.Get()), "this");
    EXPECT_EQ(ReadAll(child->stderr_fd.Get()), "err");
    pollfd p{child->pidfd.Get(), POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 10000), 1);  // the pidfd tells that it exited
    EXPECT_EQ(Reap(child->pid), 3);
}

TEST(SpawnTest, WithoutAnEnvironmentTheChildInheritsThisProcesssOne) {
    ::setenv("SQUALL_SPAWN_TEST", "inherited", 1);  // NOLINT(concurrency-mt-unsafe): no other thread runs here
    SpawnSpec spec;
    spec.argv = {"sh", "-c", "printf '%s' \"$SQUALL_SPAWN_TEST\""};  // found on PATH
    Result<SpawnedChild> child = Spawn(spec);
    ASSERT_TRUE(child) << child.error().message;
    EXPECT_EQ(ReadAll(child->stdout_fd.Get()), "inherited");
    EXPECT_EQ(Reap(child->pid), 0);
}

TEST(SpawnTest, TheClonePathKeepsExactlyTheDescriptorsItIsGiven) {
    test::TempDir dir;
    const std::string kept_path = (dir.path() / "kept").string();
    const std::string leaked_path = (dir.path() / "leaked").string();
    const int kept = ::open(kept_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    const int not_cloexec = ::open(leaked_path.c_str(), O_WRONLY | O_CREAT, 0600);  // as a careless library would
    ASSERT_GE(kept, 0);
    ASSERT_GE(not_cloexec, 0);
    SpawnSpec spec;
    spec.argv = {
        "/bin/sh",
        "-c",
        "echo kept >&" + std::to_string(kept) + " && { echo leaked >&" + std::to_string(not_cloexec) +
            "; } 2>/dev/null; echo done"};
    spec.inherit_fds = {kept};
    spec.parent_death_signal = SIGTERM;
    Result<SpawnedChild> child = Spawn(spec);
    ASSERT_TRUE(child) << child.error().message;
    EXPECT_EQ(::getpgid(child->pid), child->pid);
    EXPECT_EQ(ReadAll(child->stdout_fd.Get()), "done\n");
    EXPECT_EQ(Reap(child->pid), 0);
    ::close(kept);
    ::close(not_cloexec);
    EXPECT_EQ(ReadFile(kept_path), "kept\n");
    EXPECT_EQ(ReadFile(leaked_path), "");
}

TEST(SpawnTest, AChildWithAParentDeathSignalDiesWithItsParent) {
    // An intermediate process spawns the child and exits at once, as a crashed server would.
    int report[2];
    ASSERT_EQ(::pipe(report), 0);
    const pid_t parent = ::fork();
    ASSERT_GE(parent, 0);
    if (parent == 0) {
        ::close(report[0]);
        SpawnSpec spec;
        spec.argv = {"sleep", "60"};
        spec.parent_death_signal = SIGTERM;
        spec.capture_output = false;
        Result<SpawnedChild> child = Spawn(spec);
        const pid_t pid = child ? child->pid : -1;
        (void)!::write(report[1], &pid, sizeof pid);
        ::_exit(0);
    }
    ::close(report[1]);
    pid_t grandchild = -1;
    ASSERT_EQ(::read(report[0], &grandchild, sizeof grandchild), static_cast<ssize_t>(sizeof grandchild));
    ::close(report[0]);
    EXPECT_EQ(Reap(parent), 0);
    ASSERT_GT(grandchild, 0);
    // It was re-parented when its parent died and got SIGTERM: it is gone (reaped by init) or a zombie.
    auto alive = [grandchild] {
        std::string stat = ReadFile("/proc/" + std::to_string(grandchild) + "/stat");
        return !stat.empty() && stat.find(") Z ") == std::string::npos;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (alive() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_FALSE(alive()) << "sleep " << grandchild << " outlived its parent";
    if (alive()) ::kill(grandchild, SIGKILL);
}

TEST(SpawnTest, ErrorsNameTheExecutableOrTheDirectory) {
    for (bool fork_path : {false, true}) {
        SpawnSpec spec;
        spec.argv = {"no-such-program-squall"};
        spec.parent_death_signal = fork_path ? SIGTERM : 0;
        Result<SpawnedChild> missing = Spawn(spec);
        ASSERT_FALSE(missing);
        EXPECT_EQ(missing.error().message, "executable 'no-such-program-squall' not found") << fork_path;

        spec.argv = {"/bin/true"};
        spec.cwd = "/no/such/dir";
        Result<SpawnedChild> bad_cwd = Spawn(spec);
        ASSERT_FALSE(bad_cwd);
        EXPECT_EQ(bad_cwd.error().message, "working directory '/no/such/dir' does not exist or is not a directory")
            << fork_path;
    }
    SpawnSpec empty;
    EXPECT_FALSE(Spawn(empty));
    SpawnSpec bad_env;
    bad_env.argv = {"/bin/true"};
    bad_env.env = std::map<std::string, std::string>{{"A=B", "c"}};
    Result<SpawnedChild> r = Spawn(bad_env);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "invalid environment variable name 'A=B'");
}

}  // namespace
}  // namespace squall::core
