#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.hpp"

namespace squall::test {

/// A unix-socket proxy in front of a redis-server that cuts the connection (both ways, at once) carrying the first
/// command whose bytes contain `cut_at`, before forwarding it (or, `after`, once it is forwarded and answered, the
/// answer dropped): the client sees its connection lost mid-command, as at a failover or a restart of Redis; later
/// connections and commands pass through.
class CuttingProxy {
public:
    CuttingProxy(std::string server_socket, std::string cut_at, bool after = false)
        : server_socket_(std::move(server_socket)),
          cut_at_(std::move(cut_at)),
          after_(after),
          path_((dir_.path() / "proxy.sock").string()) {
        listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr = Address(path_);
        if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
            ::listen(listen_fd_, 16) != 0)
            throw std::runtime_error("proxy: cannot listen on " + path_);
        accept_thread_ = std::thread([this] { AcceptLoop(); });
    }
    ~CuttingProxy() {
        stop_ = true;
        accept_thread_.join();
        std::lock_guard lock(mu_);
        for (auto& t : pipes_) t.join();
        ::close(listen_fd_);
    }
    CuttingProxy(const CuttingProxy&) = delete;
    CuttingProxy& operator=(const CuttingProxy&) = delete;

    const std::string& path() const { return path_; }
    bool cut() const { return cut_.load(); }

private:
    static sockaddr_un Address(const std::string& path) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
        return addr;
    }

    void AcceptLoop() {
        while (!stop_) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int client = ::accept(listen_fd_, nullptr, nullptr);
            if (client < 0) continue;
            const int server = ::socket(AF_UNIX, SOCK_STREAM, 0);
            sockaddr_un addr = Address(server_socket_);
            if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
                ::close(client);
                if (server >= 0) ::close(server);
                continue;
            }
            std::lock_guard lock(mu_);
            pipes_.emplace_back([this, client, server] { Pump(client, server); });
        }
    }

    // Copies bytes both ways until either side closes, the proxy stops, or the cut.
    void Pump(int client, int server) {
        std::string recent;  // the client's last bytes: `cut_at` may straddle two reads
        char buf[16384];
        bool cutting = false;  // `after`: the command is forwarded; its answer is awaited, then dropped
        while (!stop_) {
            pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
            if (::poll(p, 2, 50) <= 0) continue;
            if (p[0].revents && !cutting) {
                const ssize_t n = ::read(client, buf, sizeof(buf));
                if (n <= 0) break;
                recent.append(buf, static_cast<size_t>(n));
                if (!cut_ && recent.find(cut_at_) != std::string::npos && !cut_.exchange(true)) {
                    if (!after_) break;
                    cutting = true;
                }
                if (recent.size() > 4 * cut_at_.size()) recent.erase(0, recent.size() - cut_at_.size());
                if (::send(server, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
            }
            if (p[1].revents) {
                const ssize_t n = ::read(server, buf, sizeof(buf));
                if (cutting) break;  // the command was applied; its answer never reaches the client
                if (n <= 0 || ::send(client, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
            }
        }
        ::close(client);
        ::close(server);
    }

    TempDir dir_;
    std::string server_socket_;
    std::string cut_at_;
    bool after_ = false;
    std::string path_;
    int listen_fd_ = -1;
    std::atomic<bool> stop_{false};
    std::atomic<bool> cut_{false};
    std::thread accept_thread_;
    std::mutex mu_;
    std::vector<std::thread> pipes_;  // guarded by mu_
};

}  // namespace squall::test
