#include "embedded_redis.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "squall/core/log.hpp"
#include "squall/core/process/spawn.hpp"

namespace squall::app {

namespace {
constexpr size_t kMaxRestartsPerMinute = 5;
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
    if (Status st = Spawn(); !st) return st;
    // Started, Redis creates its socket a few milliseconds later: the roles' first connections wait for it here (the
    // server's start, on its main thread) instead of failing once and logging a warning. A Redis that does not come
    // up is reported by the connections, as before.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!std::filesystem::exists(Endpoint().unix_path, ec) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return {};
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
        // AOF rewrites (a forked child serializing the whole dataset) when the log has grown 4× past its last
        // rewrite, not 1× (Redis's default): an automation record is written, updated twice and then only read,
        // so a rewrite frees little, and at 100 % it cost the machine about as much CPU again as Redis's own
        // work while the record grows (docs/decisions.md "AOF rewrites of the embedded Redis").
        "--auto-aof-rewrite-percentage",
        "400",
        "--auto-aof-rewrite-min-size",
        "256mb",
        // An execution record is a hash of ~20 fields, some over Redis's 64-byte limit for the compact listpack
        // encoding (the action, context, trigger instance): each record became a hash table, 20 allocations and a
        // dict resized as it grew. At 1 KB typical records stay listpacks (docs/decisions.md, same entry).
        "--hash-max-listpack-value",
        "1024",
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
    core::SpawnSpec spec;
    spec.argv = std::move(args);
    spec.capture_output = false;  // it writes its log file; early errors go to the server's stderr
    // If the server dies without stopping it (a crash, SIGKILL), Redis gets SIGTERM and saves its AOF, instead of
    // living on and racing the next server's Redis for the same files.
    spec.parent_death_signal = SIGTERM;
    // Redis holds the data-dir lock too, until it is gone.
    if (lock_fd_ >= 0) spec.inherit_fds = {lock_fd_};
    // Own process group (core::Spawn): a Ctrl-C in the terminal reaches the server, which then stops Redis in order.
    Result<core::SpawnedChild> child = core::Spawn(spec);
    if (!child) {
        return Unavailable(
            "cannot start the embedded Redis (" + binary_ + "): " + child.error().message +
            "; install redis-server or pass --redis URL"
        );
    }
    const pid_t pid = child->pid;
    pid_ = pid;
    pidfd_ = std::make_unique<asio::posix::stream_descriptor>(io_, child->pidfd.Release());
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
