#include "redis_server.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;  // NOLINT: POSIX

namespace squall::test {
namespace {

constexpr std::chrono::seconds kStartDeadline{10};

std::string FindRedisServer() {
    const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): tests set no env vars
    std::stringstream dirs(path != nullptr ? path : "");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        if (dir.empty()) {
            continue;
        }
        std::string candidate = dir + "/redis-server";
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    if (::access("/usr/bin/redis-server", X_OK) == 0) {
        return "/usr/bin/redis-server";
    }
    throw std::runtime_error("redis-server not found on PATH nor in /usr/bin");
}

}  // namespace

RedisServer::RedisServer() : RedisServer(Options{}) {}

RedisServer::RedisServer(Options options)
    : options_(options), socket_path_((dir_.path() / "redis.sock").string()), binary_(FindRedisServer()) {
    Start();
}

RedisServer::~RedisServer() {
    Kill();
}

core::RedisEndpoint RedisServer::Endpoint(std::string prefix_hint) const {
    core::RedisEndpoint ep;
    ep.unix_path = socket_path_;
    ep.db = 0;
    ep.key_prefix = "t" + std::to_string(counter_.fetch_add(1) + 1) + "_" + prefix_hint + ":";
    return ep;
}

void RedisServer::Start() {
    std::filesystem::remove(socket_path_);
    const std::string dir = dir_.path().string();
    const std::string logfile = dir + "/redis.log";
    std::vector<std::string> args = {
        binary_, "--port",       "0",  "--unixsocket", socket_path_, "--unixsocketperm",
        "700",   "--dir",        dir,  "--logfile",    logfile,      "--save",
        "",      "--appendonly", "no", "--daemonize",  "no",         "--enable-debug-command",
        "yes",
    };
    if (options_.aof_always) {
        args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "always"});
    }
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, binary_.c_str(), nullptr, nullptr, argv.data(), environ);
    if (rc != 0) {
        throw std::runtime_error("posix_spawn " + binary_ + " failed: " + std::to_string(rc));
    }
    pid_ = pid;
    auto until = std::chrono::steady_clock::now() + kStartDeadline;
    while (!Ping()) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            std::ifstream log(logfile);
            std::stringstream text;
            text << log.rdbuf();
            throw std::runtime_error("redis-server exited during start-up; log:\n" + text.str());
        }
        if (std::chrono::steady_clock::now() > until) {
            Kill();
            throw std::runtime_error("redis-server did not answer PING within 10 s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

bool RedisServer::Ping() const {
    // A raw RESP round trip, so that test support does not need hiredis.
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    timeval tv{0, 200 * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof(addr.sun_path)) {
        ::close(fd);
        return false;
    }
    std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
    bool ok = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
        constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
        constexpr std::string_view kPong = "+PONG\r\n";
        if (::send(fd, kPing.data(), kPing.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(kPing.size())) {
            std::string got;
            char buf[16];
            while (got.size() < kPong.size()) {
                ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
                if (n <= 0) {
                    break;
                }
                got.append(buf, static_cast<size_t>(n));
            }
            ok = got == kPong;
        }
    }
    ::close(fd);
    return ok;
}

void RedisServer::Kill() {
    if (pid_ <= 0) {
        return;
    }
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
}

void RedisServer::Restart() {
    Kill();
    Start();
}

}  // namespace squall::test
