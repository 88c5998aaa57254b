// N Server-Sent Events clients of GET /stream/v1/stream in one process (epoll), for bench/webhook_load.sh
// (SSE_CLIENTS=N): how much the event stream's fan-out costs the engine, and how late events reach clients.
//
//   squall_sse_clients HOST PORT N [QUERY]     (the API key from $SQUALL_API_KEY)
//
// Prints "connected N" once every client got the stream's first message, then reads until SIGINT/SIGTERM and
// prints, per run: events received (all clients), clients dropped by the server (": dropped") or closed, and the
// delivery latency of final execution updates: the time a client read `st2.execution__update` with an
// `end_timestamp` minus that timestamp (the moment the final status was stored, from the server's clock; same
// machine). Clients only scan for message boundaries and those two fields, so they cost little CPU.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::atomic<bool> g_stop{false};  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables): signal flag

struct Client {
    int fd = -1;
    std::string buffer;  ///< bytes not yet split into messages
    bool connected = false;
    bool dropped = false;
    bool closed = false;
    uint64_t events = 0;
};

/// Microseconds since the epoch of "YYYY-MM-DDTHH:MM:SS.ffffffZ"; -1 when it does not parse.
int64_t IsoMicros(std::string_view s) {
    if (s.size() < 20) return -1;
    std::tm tm{};
    tm.tm_year = std::atoi(std::string(s.substr(0, 4)).c_str()) - 1900;
    tm.tm_mon = std::atoi(std::string(s.substr(5, 2)).c_str()) - 1;
    tm.tm_mday = std::atoi(std::string(s.substr(8, 2)).c_str());
    tm.tm_hour = std::atoi(std::string(s.substr(11, 2)).c_str());
    tm.tm_min = std::atoi(std::string(s.substr(14, 2)).c_str());
    tm.tm_sec = std::atoi(std::string(s.substr(17, 2)).c_str());
    int64_t micros = static_cast<int64_t>(timegm(&tm)) * 1000000;
    if (s.size() > 20 && s[19] == '.') {
        int64_t frac = 0;
        int digits = 0;
        for (size_t i = 20; i < s.size() && s[i] >= '0' && s[i] <= '9' && digits < 6; ++i, ++digits)
            frac = frac * 10 + (s[i] - '0');
        while (digits++ < 6) frac *= 10;
        micros += frac;
    }
    return micros;
}

int64_t NowMicros() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Splits complete messages ("...\n\n") off the client's buffer; records latency samples.
void Consume(Client& c, std::vector<int64_t>& latencies) {
    size_t start = 0;
    for (;;) {
        const size_t end = c.buffer.find("\n\n", start);
        if (end == std::string::npos) break;
        const std::string_view msg(c.buffer.data() + start, end - start);
        start = end + 2;
        if (msg.find(": connected") != std::string_view::npos) c.connected = true;
        if (msg.find(": dropped") != std::string_view::npos) c.dropped = true;
        const size_t ev = msg.find("event: ");
        if (ev == std::string_view::npos) continue;
        ++c.events;
        if (msg.compare(ev + 7, 21, "st2.execution__update") != 0) continue;
        static constexpr std::string_view kEnd = "\"end_timestamp\":\"";
        const size_t at = msg.find(kEnd);
        if (at == std::string_view::npos) continue;
        const int64_t stored = IsoMicros(msg.substr(at + kEnd.size(), 27));
        if (stored > 0) latencies.push_back(NowMicros() - stored);
    }
    c.buffer.erase(0, start);
}

int Connect(const char* host, int port, const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, host, &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        ::close(fd);
        return -1;
    }
    if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s HOST PORT N [QUERY]\n", argv[0]);
        return 2;
    }
    const char* host = argv[1];
    const int port = std::atoi(argv[2]);
    const int n = std::atoi(argv[3]);
    const std::string query = argc > 4 ? std::string("?") + argv[4] : "";
    const char* key = std::getenv("SQUALL_API_KEY");  // NOLINT(concurrency-mt-unsafe): before any thread
    const std::string request = "GET /stream/v1/stream" + query + " HTTP/1.1\r\nHost: " + host +
                                "\r\nAccept: text/event-stream\r\nSt2-Api-Key: " + (key ? key : "") + "\r\n\r\n";
    std::signal(SIGINT, [](int) { g_stop = true; });
    std::signal(SIGTERM, [](int) { g_stop = true; });
    std::signal(SIGPIPE, SIG_IGN);

    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    std::vector<Client> clients(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        clients[i].fd = Connect(host, port, request);
        if (clients[i].fd < 0) {
            std::fprintf(stderr, "client %d: cannot connect: %s\n", i, std::strerror(errno));
            return 1;
        }
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.u32 = static_cast<uint32_t>(i);
        ::epoll_ctl(ep, EPOLL_CTL_ADD, clients[i].fd, &e);
    }
    std::vector<int64_t> latencies;
    bool announced = false;
    std::vector<epoll_event> ready(256);
    std::vector<char> chunk(1 << 16);
    while (!g_stop) {
        const int k = ::epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), 200);
        for (int i = 0; i < k; ++i) {
            Client& c = clients[ready[i].data.u32];
            const ssize_t got = ::read(c.fd, chunk.data(), chunk.size());
            if (got <= 0) {
                c.closed = true;
                ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
                continue;
            }
            c.buffer.append(chunk.data(), static_cast<size_t>(got));
            Consume(c, latencies);
        }
        if (!announced && std::all_of(clients.begin(), clients.end(), [](const Client& c) { return c.connected; })) {
            announced = true;
            std::printf("connected %d\n", n);
            std::fflush(stdout);
        }
    }
    uint64_t events = 0;
    int dropped = 0;
    int closed = 0;
    for (const auto& c : clients) {
        events += c.events;
        dropped += c.dropped ? 1 : 0;
        closed += c.closed ? 1 : 0;
    }
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) {
        if (latencies.empty()) return 0.0;
        return static_cast<double>(latencies[std::min(latencies.size() - 1, static_cast<size_t>(p * latencies.size()))]
               ) /
               1000.0;
    };
    std::printf(
        "sse clients:         %d, %llu events received, %d dropped by the server, %d closed\n",
        n,
        static_cast<unsigned long long>(events),
        dropped,
        closed
    );
    std::printf(
        "event delivery:      p50 %.1f ms, p99 %.1f ms, max %.1f ms (%zu final updates)\n",
        pct(0.50),
        pct(0.99),
        latencies.empty() ? 0.0 : static_cast<double>(latencies.back()) / 1000.0,
        latencies.size()
    );
    for (auto& c : clients) ::close(c.fd);
    return 0;
}
