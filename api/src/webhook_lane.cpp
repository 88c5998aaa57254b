#include "webhook_lane.hpp"

#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <unordered_map>
#include <vector>

#include "metrics.hpp"
#include "squall/core/asio.hpp"
#include "squall/core/log.hpp"

namespace squall::api {
namespace {

using SteadyClock = std::chrono::steady_clock;

/// How often deadlines are checked (one timer for every connection, not one per request).
constexpr std::chrono::milliseconds kSweep{100};
/// A request whose bytes are not all there after this long goes to the thread path, which waits for the rest
/// within the request's own deadlines (the lane waits only for requests that arrive at once).
constexpr std::chrono::milliseconds kPatience{1000};
/// Request line and headers: more than this goes to the thread path (which answers what httplib answers).
constexpr size_t kMaxHeaderBytes = 8192;
constexpr size_t kMaxHeaders = 100;
/// A closing connection's unread bytes dropped at most (as the thread path's lingering close).
constexpr size_t kMaxDrained = size_t{64} << 20;
/// Longer paths are refused (414) by the thread path's pre-routing handler.
constexpr size_t kMaxPath = 2048;

/// The reason phrases of the statuses a webhook is answered with (httplib's wording).
const char* Reason(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 202:
            return "Accepted";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 409:
            return "Conflict";
        case 413:
            return "Payload Too Large";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return status < 400 ? "OK" : status < 500 ? "Bad Request" : "Internal Server Error";
    }
}

bool IsToken(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

/// Whether the start of a request may still be one the lane reads: a request line not yet whole, or a webhook's, and
/// no line ended by a bare LF. Otherwise the thread path answers it at once rather than after the lane's wait.
bool MayBeWebhook(std::string_view in) {
    for (size_t at = in.find('\n'); at != std::string_view::npos; at = in.find('\n', at + 1)) {
        if (at == 0 || in[at - 1] != '\r') return false;
    }
    const size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) return in.size() <= 5 + kMaxPath + 9;
    const std::string_view line = in.substr(0, eol);
    return line.starts_with("POST ") && line.ends_with(" HTTP/1.1") &&
           !WebhookLane::WebhookUrl(line.substr(5, line.size() - 5 - 9)).empty();
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && EqualsNoCase(text.substr(0, prefix.size()), prefix);
}

/// The answer to a handler that threw (as Router::Wrap's exception boundary answers).
httplib::Response Failed(const std::exception& e) {
    core::Log(*core::Logger("api"), spdlog::level::err, "webhook handler failed", {{"error", e.what()}});
    httplib::Response res;
    res.status = 500;
    res.set_content(R"({"faultstring":"internal error","code":"INTERNAL"})", "application/json");
    return res;
}

/// A request the lane reads: `POST <webhook path> HTTP/1.1`, headers the thread path would read the same way, one
/// Content-Length of digits. Anything else: false (the thread path serves it).
bool ParseHead(std::string_view head, httplib::Request& req, size_t* length, bool* close) {
    const size_t eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    if (!line.starts_with("POST ") || !line.ends_with(" HTTP/1.1")) return false;
    const std::string_view target = line.substr(5, line.size() - 5 - 9);
    // Visible ASCII only: httplib ends a line at a bare LF and trims tabs, so other bytes could frame differently.
    if (target.size() > kMaxPath || WebhookLane::WebhookUrl(target).empty() ||
        !std::all_of(target.begin(), target.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
        return false;
    }
    req.method = "POST";
    req.version = "HTTP/1.1";
    req.target = std::string(target);
    req.path = req.target;
    size_t lengths = 0;
    std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
    while (!rest.empty()) {
        const size_t end = rest.find("\r\n");
        const std::string_view h = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
        if (h.empty()) break;
        const size_t colon = h.find(':');
        if (colon == 0 || colon == std::string_view::npos || req.headers.size() >= kMaxHeaders) return false;
        const std::string_view name = h.substr(0, colon);
        if (!std::all_of(name.begin(), name.end(), IsToken)) return false;
        std::string_view value = h.substr(colon + 1);
        // A bare CR or LF (httplib ends a line at LF), or NUL: the thread path refuses or splits such a line. A `%`:
        // httplib percent-decodes header values (`%0D` becomes a CR it then refuses).
        if (value.find_first_of(std::string_view("\r\n\0%", 4)) != std::string_view::npos) return false;
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        if (value.empty()) return false;  // httplib drops such a header
        if (EqualsNoCase(name, "Content-Length")) {
            if (++lengths > 1 || value.empty() || value.size() > 18 ||
                !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
                return false;
            }
            *length = std::stoull(std::string(value));
        } else if (EqualsNoCase(name, "Transfer-Encoding") || EqualsNoCase(name, "Expect") || EqualsNoCase(name, "Range")) {
            return false;  // framing and ranges are the thread path's (416 for a range it cannot read)
        } else if (EqualsNoCase(name, "Content-Type") &&
                   (StartsWithNoCase(value, "application/x-www-form-urlencoded") ||
                    StartsWithNoCase(value, "multipart/"))) {
            return false;  // httplib reads form bodies into the request's parameters (and refuses them over 8 KiB)
        } else if (EqualsNoCase(name, "Connection") && !req.has_header("Connection")) {
            *close = value == "close";  // as httplib reads it: the first one, compared exactly
        }
        req.headers.emplace(std::string(name), std::string(value));
    }
    return lengths == 1;
}

}  // namespace

std::string_view WebhookLane::WebhookUrl(std::string_view path) {
    for (const std::string_view prefix : {"/api/v1/webhooks/", "/v1/webhooks/"}) {
        if (path.starts_with(prefix)) {
            const std::string_view url = path.substr(prefix.size());
            if (url.find_first_of("?#% ") != std::string_view::npos) return {};
            return url;
        }
    }
    return {};
}

/// A connection of the lane. Touched on the loop only.
struct Conn {
    Conn(asio::io_context& io, int fd, std::string client) : sd(io, fd), client(std::move(client)) {}
    asio::posix::stream_descriptor sd;
    std::string client;
    std::string in;  ///< read, not yet served
    size_t served = 0;
    SteadyClock::time_point idle_until;      ///< no request: closed after this
    SteadyClock::time_point request_began;   ///< the first byte of the request in `in`
    SteadyClock::time_point request_limit;   ///< its header deadline (what the thread path would allow)
    SteadyClock::time_point write_until;     ///< an answer being written: closed when no progress by then
    SteadyClock::time_point answer_started;  ///< for the route's metrics
    bool request_started = false;
    bool busy = false;       ///< a request is being answered (its reply pending or being written)
    bool writing = false;    ///< waiting for room to write
    bool reading = false;    ///< a wait for bytes is out
    bool peer_done = false;  ///< the client shut its side: answer what is there, then close
    bool close_after = false;
    bool gone = false;
    bool draining = false;  ///< closing: its write side is shut, what the client still sends is read and dropped
    SteadyClock::time_point drain_until;
    size_t drained = 0;
    std::string out;
    size_t out_pos = 0;
};

struct WebhookLane::Core {
    Core(HttpLimits l, LaneHandler h, std::string label, HandBack back, Release rel)
        : limits(l),
          handler(std::move(h)),
          metrics_label(std::move(label)),
          hand_back(std::move(back)),
          release(std::move(rel)),
          sweep(io),
          work(asio::make_work_guard(io)) {}

    asio::io_context io;
    const HttpLimits limits;
    const LaneHandler handler;
    const std::string metrics_label;
    const HandBack hand_back;
    const Release release;
    asio::steady_timer sweep;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::unordered_map<Conn*, std::shared_ptr<Conn>> conns;
    std::atomic<size_t> count{0};
    bool stopped = false;  ///< stopping: no new request is read; answers under way are finished, then the loop ends
    SteadyClock::time_point stop_limit;

    void Adopt(int fd, std::string client, size_t served) {
        if (stopped) {
            ::close(fd);
            release(client);
            return;
        }
        std::shared_ptr<Conn> c;
        try {
            c = std::make_shared<Conn>(io, fd, client);
        } catch (const std::exception& e) {
            core::Log(
                *core::Logger("api"),
                spdlog::level::err,
                "webhook lane: cannot take a connection",
                {{"error", e.what()}}
            );
            ::close(fd);
            release(client);
            return;
        }
        c->served = served;
        c->idle_until = SteadyClock::now() + (served == 0 ? limits.header_timeout : limits.keep_alive_idle);
        conns.emplace(c.get(), c);
        count = conns.size();
        Read(c);
    }

    void Arm(const std::shared_ptr<Conn>& c) {
        if (c->reading || c->gone) return;
        c->reading = true;
        c->sd.async_wait(asio::posix::descriptor_base::wait_read, [this, c](const boost::system::error_code& ec) {
            c->reading = false;
            if (ec || c->gone) return;
            Read(c);
        });
    }

    /// Reads what the socket holds, then serves it.
    void Read(const std::shared_ptr<Conn>& c) {
        char buf[16 * 1024];
        if (c->draining) {
            for (int i = 0; i < 16; ++i) {
                const ssize_t n = ::recv(c->sd.native_handle(), buf, sizeof(buf), MSG_DONTWAIT);
                if (n > 0 && (c->drained += static_cast<size_t>(n)) <= kMaxDrained) continue;
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Arm(c);
                return Close(c);  // the client closed too, an error, or too much: done
            }
            // A client that keeps sending does not hold the loop: the rest on a later turn.
            asio::post(io, [this, c] {
                if (!c->gone) Read(c);
            });
            return;
        }
        while (!c->peer_done && c->in.size() <= kMaxHeaderBytes + kMaxBody) {
            const ssize_t n = ::recv(c->sd.native_handle(), buf, sizeof(buf), MSG_DONTWAIT);
            if (n > 0) {
                if (c->in.empty() && !c->busy) {
                    c->request_started = true;
                    c->request_began = SteadyClock::now();
                    c->request_limit = c->request_began + limits.header_timeout;
                }
                c->in.append(buf, static_cast<size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            // The client closed its side (or reset the connection): what it sent before is still served, as the
            // thread path does; an answer that cannot be written then closes the connection.
            c->peer_done = true;
            break;
        }
        Serve(c);
    }

    /// Serves the request at the front of `in` when it is whole; waits for more bytes otherwise.
    void Serve(const std::shared_ptr<Conn>& c) {
        if (c->gone || c->busy) return;
        if (stopped) return Finish(c);
        if (c->in.empty()) {
            if (c->peer_done) return Close(c);
            return Arm(c);
        }
        const size_t head_end = c->in.find("\r\n\r\n");
        if (head_end == std::string::npos) {
            if (c->in.size() > kMaxHeaderBytes || c->peer_done || !MayBeWebhook(c->in)) return GiveBack(c);
            return Arm(c);
        }
        auto req = std::make_unique<httplib::Request>();
        size_t length = 0;
        bool close = false;
        if (head_end + 4 > kMaxHeaderBytes ||
            !ParseHead(std::string_view(c->in).substr(0, head_end + 2), *req, &length, &close) || length > kMaxBody) {
            return GiveBack(c);
        }
        if (c->in.size() < head_end + 4 + length) {
            if (c->peer_done) return GiveBack(c);
            return Arm(c);
        }
        req->body.assign(c->in, head_end + 4, length);
        req->remote_addr = c->client;
        c->busy = true;
        c->answer_started = SteadyClock::now();
        c->close_after = close;
        httplib::Response res;
        LaneStep step = LaneStep::kDeclined;
        try {
            // Weak: a reply that comes after the lane is gone (held by the Redis writer) touches nothing of it.
            auto weak_conn = std::weak_ptr<Conn>(c);
            step = handler(*req, res, [this, weak_conn, weak = std::weak_ptr<Core>(Self())](LaneFill fill) {
                if (auto core = weak.lock()) {
                    asio::post(core->io, [this, weak_conn, fill = std::move(fill)] {
                        std::shared_ptr<Conn> c = weak_conn.lock();
                        if (!c) return;
                        httplib::Response r;
                        try {
                            fill(r);
                        } catch (const std::exception& e) {
                            r = Failed(e);
                        }
                        Answer(c, std::move(r));
                    });
                }
            });
        } catch (const std::exception& e) {
            res = Failed(e);
            step = LaneStep::kAnswered;
        }
        if (step == LaneStep::kDeclined) {
            c->busy = false;
            c->close_after = false;
            return GiveBack(c);
        }
        c->in.erase(0, head_end + 4 + length);
        if (step == LaneStep::kAnswered) Answer(c, std::move(res));
    }

    void Answer(const std::shared_ptr<Conn>& c, httplib::Response res) {
        if (c->gone) return;
        const int status = res.status < 0 ? 200 : res.status;
        HttpMetrics::Instance().Observe("POST", metrics_label, status, SteadyClock::now() - c->answer_started);
        ++c->served;
        if (c->served >= limits.keep_alive_max || stopped) c->close_after = true;
        res.set_header("Content-Length", std::to_string(res.body.size()));
        if (c->close_after) {
            res.set_header("Connection", "close");
        } else {
            res.set_header(
                "Keep-Alive",
                "timeout=" + std::to_string(std::chrono::ceil<std::chrono::seconds>(limits.keep_alive_idle).count()) +
                    ", max=" + std::to_string(limits.keep_alive_max)
            );
        }
        std::string& out = c->out;
        out.clear();
        out += "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) + "\r\n";
        for (const auto& [k, v] : res.headers) {
            out += k;
            out += ": ";
            out += v;
            out += "\r\n";
        }
        out += "\r\n";
        out += res.body;
        c->out_pos = 0;
        c->write_until = SteadyClock::now() + limits.io_timeout;
        Write(c);
    }

    void Write(const std::shared_ptr<Conn>& c) {
        c->writing = false;
        while (c->out_pos < c->out.size()) {
            const ssize_t n = ::send(
                c->sd.native_handle(),
                c->out.data() + c->out_pos,
                c->out.size() - c->out_pos,
                MSG_DONTWAIT | MSG_NOSIGNAL
            );
            if (n > 0) {
                c->out_pos += static_cast<size_t>(n);
                c->write_until = SteadyClock::now() + limits.io_timeout;  // no progress within it: closed
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                c->writing = true;
                c->sd.async_wait(
                    asio::posix::descriptor_base::wait_write,
                    [this, c](const boost::system::error_code& ec) {
                        if (ec || c->gone) return;
                        Write(c);
                    }
                );
                return;
            }
            return Close(c);
        }
        c->out.clear();
        c->busy = false;
        if (c->close_after) return Finish(c);
        const auto now = SteadyClock::now();
        c->idle_until = now + limits.keep_alive_idle;
        c->request_started = !c->in.empty();
        if (c->request_started) {
            c->request_began = now;
            c->request_limit = now + limits.header_timeout;
        }
        // What came meanwhile (or a wait for it): posted, not called, so that answers given at once to pipelined
        // requests do not nest on the stack.
        asio::post(io, [this, c] {
            if (c->gone) return;
            if (c->peer_done) return Serve(c);
            Read(c);
        });
    }

    /// Closes after an answer. Unread bytes (a request pipelined after `Connection: close`) would make the kernel
    /// answer with a reset that can destroy the answer before the client reads it: the write side is shut and what
    /// comes is read and dropped for at most 2 s first, as the thread path's lingering close does.
    void Finish(const std::shared_ptr<Conn>& c) {
        if (c->gone) return;
        int unread = 0;
        const bool pending = !c->in.empty() || (::ioctl(c->sd.native_handle(), FIONREAD, &unread) == 0 && unread > 0);
        if (!pending || c->peer_done) return Close(c);
        c->in.clear();
        c->draining = true;
        c->drain_until = SteadyClock::now() + std::chrono::seconds(2);
        ::shutdown(c->sd.native_handle(), SHUT_WR);
        Read(c);
    }

    void Forget(const std::shared_ptr<Conn>& c) {
        c->gone = true;
        conns.erase(c.get());
        count = conns.size();
        if (stopped && conns.empty()) End();
    }

    /// Closes a connection (its client gets no answer to a request not yet answered).
    void Close(const std::shared_ptr<Conn>& c) {
        if (c->gone) return;
        Forget(c);
        boost::system::error_code ignored;
        ::shutdown(c->sd.native_handle(), SHUT_RDWR);
        c->sd.close(ignored);
        release(c->client);
    }

    /// The thread path takes the connection, with the bytes read so far.
    void GiveBack(const std::shared_ptr<Conn>& c) {
        if (c->gone) return;
        Forget(c);
        boost::system::error_code ignored;
        c->sd.cancel(ignored);
        const int fd = c->sd.release();
        const auto deadline = c->request_started ? c->request_limit : SteadyClock::now() + limits.header_timeout;
        hand_back(fd, std::move(c->client), std::move(c->in), c->served, deadline);
    }

    void Sweep() {
        sweep.expires_after(kSweep);
        sweep.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;
            const auto now = SteadyClock::now();
            std::vector<std::shared_ptr<Conn>> expired;
            for (const auto& [p, c] : conns) {
                if (Late(*c, now)) expired.push_back(c);
            }
            for (const auto& c : expired) {
                // A request still coming in goes to the thread path, which holds it to its deadlines; an idle
                // connection, a stalled answer, a drained one or one that outlived a stop is closed.
                if (!stopped && !c->busy && !c->draining && c->request_started) {
                    HttpMetrics::Instance().CountSlowLaneRequest();
                    GiveBack(c);
                } else {
                    Close(c);
                }
            }
            Sweep();
        });
    }

    bool Late(const Conn& c, SteadyClock::time_point now) const {
        if (stopped && now >= stop_limit) return true;
        if (c.draining) return now >= c.drain_until;
        if (c.busy) return c.writing && now >= c.write_until;
        if (c.request_started) return now - c.request_began >= kPatience || now >= c.request_limit;
        return now >= c.idle_until;
    }

    /// Stops reading requests. Idle connections close now; an answer under way (its write may already be stored)
    /// is still sent, with Connection: close, until `grace` has passed; then the loop ends.
    void StopAll(std::chrono::milliseconds grace) {
        stopped = true;
        stop_limit = SteadyClock::now() + grace;
        std::vector<std::shared_ptr<Conn>> idle;
        for (const auto& [p, c] : conns) {
            if (!c->busy) idle.push_back(c);
        }
        for (const auto& c : idle) Close(c);
        if (conns.empty()) End();
    }

    void End() {
        sweep.cancel();
        work.reset();
    }

    /// The shared pointer to this core (set by WebhookLane).
    std::shared_ptr<Core> Self() { return self.lock(); }
    std::weak_ptr<Core> self;
};

WebhookLane::WebhookLane(
    HttpLimits limits, LaneHandler handler, std::string metrics_label, HandBack hand_back, Release release
)
    : core_(std::make_shared<Core>(
          limits, std::move(handler), std::move(metrics_label), std::move(hand_back), std::move(release)
      )) {
    core_->self = core_;
}

WebhookLane::~WebhookLane() {
    Stop();
}

void WebhookLane::Start() {
    std::lock_guard lock(mu_);
    if (thread_.joinable() || stopping_) return;
    core_->Sweep();
    thread_ = std::thread([core = core_] {
        pthread_setname_np(pthread_self(), "squall-hlane");  // per-thread figures in top -H and perf
        while (true) {
            try {
                core->io.run();
                return;
            } catch (const std::exception& e) {
                core::Log(
                    *core::Logger("api"), spdlog::level::err, "webhook lane: a handler threw", {{"error", e.what()}}
                );
            }
        }
    });
}

void WebhookLane::Stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        stopping_ = true;
        // Adopt posts nothing from now on: the loop ends once StopAll has finished what was under way.
        asio::post(core_->io, [core = core_.get()] {
            core->StopAll(std::chrono::milliseconds(5000) + core->limits.io_timeout);
        });
    }
    if (thread_.joinable()) thread_.join();
}

void WebhookLane::Adopt(int fd, std::string client, size_t served) {
    std::lock_guard lock(mu_);
    if (stopping_ || !thread_.joinable()) {
        ::close(fd);
        core_->release(client);
        return;
    }
    asio::post(core_->io, [core = core_.get(), fd, client = std::move(client), served]() mutable {
        core->Adopt(fd, std::move(client), served);
    });
}

size_t WebhookLane::Connections() {
    return core_->count.load();
}

}  // namespace squall::api
