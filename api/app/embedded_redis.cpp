#include "embedded_redis.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "squall/core/log.hpp"

extern char** environ;  // NOLINT: POSIX process environment passed to the child as is

namespace squall::app {

namespace {
constexpr size_t kMaxRestartsPerMinute = 5;

/// `name` itself when it holds a '/', else the first executable `name` on PATH; empty when there is none.
std::string FindExecutable(const std::string& name) {
    if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : std::string();
    const char* env = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): read once at spawn
    const std::string dirs = env ? env : "/usr/local/bin:/usr/bin:/bin";
    size_t from = 0;
    while (from <= dirs.size()) {
        size_t to = dirs.find(':', from);
        if (to == std::string::npos) to = dirs.size();
        const std::string dir = to > from ? dirs.substr(from, to - from) : ".";
        const std::string candidate = dir + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        from = to + 1;
    }
    return {};
}
}  // namespace

EmbeddedRedis::EmbeddedRedis(
    asio::io_context& io, std::string redis_dir, std::string binary, std::function<void(Error)> on_fatal
)
    : io_(io), dir_(std::move(redis_dir)), binary_(std::move(binary)), on_fatal_(std::move(on_fatal)) {}

EmbeddedRedis::~EmbeddedRedis() {
    StopBlocking();
    pidfd_.reset();  // after the io_context stopped running (the composition root's order)
}

core::RedisEndpoint EmbeddedRedis::Endpoint() const {
    core::RedisEndpoint ep;
    ep.unix_path = dir_ + "/redis.sock";
    return ep;
}

Status EmbeddedRedis::Start() {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return Unavailable("cannot create " + dir_ + ": " + ec.message());
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all, ec);
    if (Endpoint().unix_path.size() >= 100) {
        return InvalidArgument(
            "the data dir path is too long for a unix socket (" + Endpoint().unix_path +
            "); use a shorter --data-dir or an external --redis"
        );
    }
    return Spawn();
}

Status EmbeddedRedis::Spawn() {
    const std::string sock = Endpoint().unix_path;
    std::filesystem::remove(sock);
    std::vector<std::string> args = {
        binary_,
        "--port",
        "0",
        "--unixsocket",
        sock,
        "--unixsocketperm",
        "700",
        "--dir",
        dir_,
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        "--daemonize",
        "no",
        "--logfile",
        dir_ + "/redis.log",
        "--pidfile",
        "",
        "--protected-mode",
        "yes"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string path = FindExecutable(binary_);
    if (path.empty()) {
        return Unavailable(
            "cannot start the embedded Redis (" + binary_ + "): " + std::strerror(ENOENT) +
            "; install redis-server or pass --redis URL"
        );
    }
    const pid_t parent = getpid();
    const int lock_fd = lock_fd_;
    const pid_t pid = fork();
    if (pid < 0) return Unavailable(std::string("cannot start the embedded Redis: fork: ") + std::strerror(errno));
    if (pid == 0) {
        // The child: only async-signal-safe calls until exec.
        // Own process group: a Ctrl-C in the terminal reaches the server, which then stops Redis in order.
        setpgid(0, 0);
        // If the server dies without stopping it (a crash, SIGKILL), Redis gets SIGTERM and saves its AOF,
        // instead of living on and racing the next server's Redis for the same files.
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(1);                 // the server died before prctl took effect
        if (lock_fd >= 0 && dup(lock_fd) < 0) _exit(126);  // dup() clears close-on-exec: Redis holds the lock too
        execve(path.c_str(), argv.data(), environ);
        _exit(127);
    }
    pid_ = pid;
    const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return Internal("pidfd_open failed for the embedded Redis");
    pidfd_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
    core::Log(
        *core::Logger("server"),
        spdlog::level::info,
        "embedded redis started",
        {{"pid", std::to_string(pid)}, {"socket", sock}}
    );
    Watch();
    return {};
}

void EmbeddedRedis::Watch() {
    pidfd_->async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
        if (ec || stopping_) return;
        int status = 0;
        waitpid(pid_, &status, WNOHANG);
        pid_ = -1;
        pidfd_.reset();
        const std::string how = WIFEXITED(status) ? "exited with code " + std::to_string(WEXITSTATUS(status))
                                                  : "was killed by signal " + std::to_string(WTERMSIG(status));
        core::Log(
            *core::Logger("server"),
            spdlog::level::err,
            "embedded redis died; restarting",
            {{"how", how}, {"log", dir_ + "/redis.log"}}
        );
        const auto now = std::chrono::steady_clock::now();
        restarts_.push_back(now);
        while (!restarts_.empty() && now - restarts_.front() > std::chrono::minutes(1))
            restarts_.erase(restarts_.begin());
        if (restarts_.size() > kMaxRestartsPerMinute) {
            return on_fatal_(Unavailable("the embedded Redis " + how + " and keeps dying (see " + dir_ + "/redis.log)")
            );
        }
        if (Status st = Spawn(); !st) on_fatal_(st.error());
    });
}

void EmbeddedRedis::StopBlocking() {
    stopping_ = true;
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 1000; ++i) {  // up to 10 s for Redis to flush and exit
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        pid_ = -1;
    }
}

}  // namespace squall::app
