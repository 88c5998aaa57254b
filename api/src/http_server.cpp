#include "http_server.hpp"

#include "webhook_lane.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <optional>

namespace squall::api {
namespace {

using SteadyClock = std::chrono::steady_clock;

/// How long one poll() waits at most, so that a stopping server is noticed by every worker quickly.
constexpr std::chrono::milliseconds kPollSlice{200};
/// Idle workers above the minimum leave after this long without a job.
constexpr std::chrono::seconds kWorkerIdleExit{30};

/// Waits for `events` on `sock` until `until`, in slices, giving up when `running` turns false. 1: ready,
/// 0: deadline or stop, -1: error or hang-up without data.
int PollUntil(socket_t sock, short events, SteadyClock::time_point until, const httplib::Server& server) {
    while (true) {
        const auto now = SteadyClock::now();
        if (now >= until || !server.is_running()) return 0;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
        pollfd p{sock, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(std::min(left, kPollSlice).count()) + 1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (n == 0) continue;
        if ((p.revents & events) != 0) return 1;
        if ((p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) return -1;
    }
}

/// A lingering close (as nginx's lingering_close): when the client is still sending — a body refused with 413 before
/// it was read — stop writing, then read and drop what comes for at most 2 s and 64 MiB before closing. Closing a
/// socket that holds unread bytes makes the kernel answer with a reset, which can destroy the response before the
/// client has read it. A connection with nothing unread closes at once.
void CloseLingering(socket_t sock, const httplib::Server& server) {
    int unread = 0;
    if (::ioctl(sock, FIONREAD, &unread) == 0 && unread > 0) {
        ::shutdown(sock, SHUT_WR);
        const auto until = SteadyClock::now() + std::chrono::seconds(2);
        constexpr size_t kMaxDrained = size_t{64} << 20;
        std::array<char, 64 * 1024> buf{};
        for (size_t drained = 0; drained < kMaxDrained && PollUntil(sock, POLLIN, until, server) == 1;) {
            const ssize_t n = ::recv(sock, buf.data(), buf.size(), 0);
            if (n <= 0) break;  // the client closed (or an error): done
            drained += static_cast<size_t>(n);
        }
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
}

std::string AddressText(const sockaddr_storage& addr, int* port) {
    char host[INET6_ADDRSTRLEN] = {0};
    if (addr.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
        ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        if (port) *port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
        ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        if (port) *port = ntohs(a->sin6_port);
    }
    return host;
}

/// httplib's Stream over a connected socket, buffered (httplib reads request lines a byte at a time), where every
/// read also stops at the current request's deadline: a client that trickles bytes cannot hold a worker past
/// it. Writes are bounded per call by the I/O timeout.
class DeadlineStream : public httplib::Stream {
public:
    DeadlineStream(socket_t sock, const HttpLimits& limits, const httplib::Server& server)
        : sock_(sock), limits_(limits), server_(server) {}

    /// Bytes read before this stream was made (the webhook lane's): read first.
    void Prime(std::string bytes) {
        primed_ = std::move(bytes);
        primed_pos_ = 0;
    }
    /// Reads from now on must be done by `deadline`.
    void SetDeadline(SteadyClock::time_point deadline) { deadline_ = deadline; }
    bool HasBuffered() const { return pos_ < end_ || primed_pos_ < primed_.size(); }
    bool AtEnd() const { return end_at_ && consumed_ >= *end_at_; }
    /// Bytes handed to httplib so far (httplib reads request lines a byte at a time and a body up to its length,
    /// so this is exactly where its parsing stands).
    uint64_t Consumed() const { return consumed_; }

    /// The request declares no body (no Content-Length, no Transfer-Encoding): reads end (0, "end of stream") at
    /// this point until the next request. httplib reads such a POST's body until the connection closes, so a
    /// keep-alive client that sent `POST` without a body waited for the read timeout and got a 400; HTTP/1.1 says
    /// its body is empty. Cleared with nullopt.
    void EndAt(std::optional<uint64_t> at) { end_at_ = at; }

    bool is_readable() const override {
        return AtEnd() || HasBuffered() || PollUntil(sock_, POLLIN, ReadLimit(), server_) == 1;
    }
    bool is_writable() const override {
        return PollUntil(sock_, POLLOUT, SteadyClock::now() + limits_.io_timeout, server_) == 1;
    }
    ssize_t read(char* ptr, size_t size) override {
        if (AtEnd()) return 0;
        if (primed_pos_ < primed_.size()) {
            size_t take = std::min(size, primed_.size() - primed_pos_);
            if (end_at_) take = std::min<uint64_t>(take, *end_at_ - consumed_);
            std::copy(primed_.data() + primed_pos_, primed_.data() + primed_pos_ + take, ptr);
            primed_pos_ += take;
            consumed_ += take;
            if (primed_pos_ == primed_.size()) std::string().swap(primed_), primed_pos_ = 0;
            return static_cast<ssize_t>(take);
        }
        if (pos_ >= end_) {
            // The bytes are usually there already (the connection's loop polled for the request's first byte): try
            // first, and poll only when nothing is (one syscall per request instead of two). Past the deadline, or
            // once the server stops, nothing more is read, as PollUntil would have it.
            if (SteadyClock::now() >= ReadLimit() || !server_.is_running()) return -1;
            ssize_t n = 0;
            do {
                n = ::recv(sock_, buf_, sizeof(buf_), MSG_DONTWAIT);
            } while (n < 0 && errno == EINTR);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (PollUntil(sock_, POLLIN, ReadLimit(), server_) != 1) return -1;
                do {
                    n = ::recv(sock_, buf_, sizeof(buf_), 0);
                } while (n < 0 && errno == EINTR);
            }
            if (n <= 0) return n;
            pos_ = 0;
            end_ = static_cast<size_t>(n);
        }
        size_t take = std::min(size, end_ - pos_);
        if (end_at_) take = std::min<uint64_t>(take, *end_at_ - consumed_);
        std::copy(buf_ + pos_, buf_ + pos_ + take, ptr);
        pos_ += take;
        consumed_ += take;
        return static_cast<ssize_t>(take);
    }
    /// The next write, if it is a response's status line and headers with a Content-Length, is held and goes out
    /// with the body in one send (httplib writes them separately: two syscalls and two TCP segments, each waking
    /// the client, per response). Flush() sends what is still held once the request is done.
    void HoldHeaders() { hold_headers_ = true; }
    bool Flush() {
        if (held_.empty()) return true;
        const bool ok = SendAll(held_.data(), held_.size());
        held_.clear();
        return ok;
    }
    ssize_t write(const char* ptr, size_t size) override {
        const std::string_view data(ptr, size);
        if (hold_headers_) {
            hold_headers_ = false;
            if (data.starts_with("HTTP/1.") && data.ends_with("\r\n\r\n") &&
                data.find("\r\nContent-Length: ") != std::string_view::npos) {
                held_.assign(data);
                return static_cast<ssize_t>(size);
            }
        }
        if (!held_.empty()) {
            if (size <= kCoalesceMax) {
                held_.append(data);
                return Flush() ? static_cast<ssize_t>(size) : -1;
            }
            if (!Flush()) return -1;
        }
        return SendAll(ptr, size) ? static_cast<ssize_t>(size) : -1;
    }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        sockaddr_storage addr{};
        socklen_t len = sizeof(addr);
        if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) ip = AddressText(addr, &port);
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        sockaddr_storage addr{};
        socklen_t len = sizeof(addr);
        if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) ip = AddressText(addr, &port);
    }
    socket_t socket() const override { return sock_; }

private:
    SteadyClock::time_point ReadLimit() const { return std::min(deadline_, SteadyClock::now() + limits_.io_timeout); }

    /// Sends everything, or fails when a send errs or makes no progress within the I/O timeout. Tries the send
    /// first and polls only when the socket buffer is full (the usual small response needs no poll).
    bool SendAll(const char* ptr, size_t size) {
        while (size > 0) {
            const ssize_t n = ::send(sock_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                ptr += n;
                size -= static_cast<size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && is_writable()) continue;
            return false;
        }
        return true;
    }

    /// A body up to this size is copied behind its held headers; a larger one follows them in its own send.
    static constexpr size_t kCoalesceMax = 16 * 1024;

    socket_t sock_;
    const HttpLimits& limits_;
    const httplib::Server& server_;
    SteadyClock::time_point deadline_ = SteadyClock::time_point::max();
    std::string primed_;
    size_t primed_pos_ = 0;
    char buf_[4096] = {0};
    size_t pos_ = 0;
    size_t end_ = 0;
    uint64_t consumed_ = 0;
    std::optional<uint64_t> end_at_;
    bool hold_headers_ = false;
    std::string held_;
};

/// Where the current request ends. httplib keeps a connection open after answering a request whose body it has not
/// read to its end — 400/414/416 answered before the body, a body refused by a handler or the pre-routing handler,
/// a GET with a body (httplib reads bodies of POST, PUT, PATCH and DELETE only), a Content-Length it reads as 0
/// ("abc") or the first of two — and parses the body's bytes as the next request: request smuggling. A
/// connection is kept only when the request's length is unambiguous and exactly that many bytes were read.
struct RequestFraming {
    bool headers_read = false;  ///< process_request got past the request line and headers (setup callback ran)
    bool length_known = false;  ///< one valid Content-Length, or none and no Transfer-Encoding
    uint64_t length = 0;
    uint64_t body_start = 0;  ///< DeadlineStream::Consumed() at the end of the headers
    bool must_close = false;  ///< the answer says Connection: close (a refusal of the request's framing)
    const DeadlineStream* stream = nullptr;

    void Read(const httplib::Request& req, DeadlineStream& s) {
        headers_read = true;
        stream = &s;
        body_start = s.Consumed();
        // Chunked: whether it was read to its end cannot be told from here; such a connection is closed.
        if (req.has_header("Transfer-Encoding")) return;
        const size_t count = req.get_header_value_count("Content-Length");
        if (count == 0) {
            length_known = true;
            s.EndAt(body_start);  // no body: a POST's is empty, not "until the connection closes"
            return;
        }
        const std::string& v = req.get_header_value("Content-Length");
        if (count != 1 || v.empty() || v.size() > 18 ||
            !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return;
        }
        length = std::stoull(v);
        length_known = true;
    }
    /// The connection may serve another request.
    bool Complete() const {
        return headers_read && length_known && !must_close && stream != nullptr &&
               stream->Consumed() - body_start == length;
    }
};

/// The request being served on this worker thread (a connection is served on one thread from start to end).
thread_local RequestFraming* current_framing = nullptr;

/// The answer to a connection over a limit: sent without waiting (the socket buffer of a fresh connection has
/// room), then the connection is closed.
void Refuse(socket_t sock) {
    const std::string body = R"({"faultstring": "too many connections; retry shortly", "code": "UNAVAILABLE"})";
    const std::string text =
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    (void)::send(sock, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

// --- ElasticTaskQueue ---------------------------------------------------------------------------------------

ElasticTaskQueue::ElasticTaskQueue(size_t min_threads, size_t max_threads, std::function<bool()> run_here)
    : min_threads_(std::max<size_t>(1, min_threads)),
      max_threads_(std::max(min_threads_, max_threads)),
      run_here_(std::move(run_here)) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < min_threads_; ++i) threads_.emplace_back([this] { Work(); });
}

ElasticTaskQueue::~ElasticTaskQueue() {
    shutdown();
}

void ElasticTaskQueue::enqueue(std::function<void()> fn) {
    if (run_here_ && run_here_()) return fn();
    std::unique_lock lock(mu_);
    if (stopping_) {
        lock.unlock();
        fn();  // the server is stopping: the connection is closed at once, on this thread
        return;
    }
    // Join the workers that left after idling (they are past their last touch of the queue).
    for (auto id : exited_) {
        auto it =
            std::find_if(threads_.begin(), threads_.end(), [&](const std::thread& t) { return t.get_id() == id; });
        if (it != threads_.end()) {
            it->join();
            threads_.erase(it);
        }
    }
    exited_.clear();
    jobs_.push_back(std::move(fn));
    if (idle_ < jobs_.size() && threads_.size() < max_threads_) threads_.emplace_back([this] { Work(); });
    lock.unlock();
    cv_.notify_one();
}

void ElasticTaskQueue::shutdown() {
    std::list<std::thread> threads;
    {
        std::lock_guard lock(mu_);
        if (stopping_ && threads_.empty()) return;
        stopping_ = true;
        threads.swap(threads_);
    }
    cv_.notify_all();
    for (auto& t : threads) t.join();
}

void ElasticTaskQueue::Work() {
    pthread_setname_np(pthread_self(), "squall-http");  // per-thread figures in top -H and perf
    std::unique_lock lock(mu_);
    while (true) {
        ++idle_;
        const bool got = cv_.wait_for(lock, kWorkerIdleExit, [&] { return stopping_ || !jobs_.empty(); });
        --idle_;
        if (stopping_ && jobs_.empty()) return;
        if (!got) {
            // Idle for a while: leave if there are more workers than the minimum.
            if (threads_.size() - exited_.size() > min_threads_) {
                exited_.push_back(std::this_thread::get_id());
                return;
            }
            continue;
        }
        std::function<void()> fn = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        fn();
        lock.lock();
    }
}

// --- HttpServer ---------------------------------------------------------------------------------------------

HttpServer::HttpServer(HttpLimits limits) : limits_(limits) {
    const size_t min_threads = limits_.min_threads;
    // A few workers over the connection limit, so that a refused connection always finds one to be refused by.
    const size_t max_threads = limits_.max_connections + 16;
    // With the webhook lane, a new connection is admitted and handed to the lane on the accept thread: a burst of
    // connections starts no worker threads.
    new_task_queue = [this, min_threads, max_threads] {
        return new ElasticTaskQueue(min_threads, max_threads, [this] { return lane_ != nullptr && is_running(); });
    };
    // A connection the webhook lane gives back is already admitted: its worker is always there.
    handed_back_ = std::make_unique<ElasticTaskQueue>(1, max_threads);
    // The Keep-Alive header says what this server does (httplib's defaults are 5 requests and 5 s).
    keep_alive_max_count_ = limits_.keep_alive_max;
    keep_alive_timeout_sec_ =
        static_cast<time_t>(std::chrono::ceil<std::chrono::seconds>(limits_.keep_alive_idle).count());
    // Runs as the response's headers are written, after the body was (or was not) read: a connection that
    // process_and_close_socket is going to close says so instead of promising Keep-Alive.
    set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
        if (current_framing != nullptr && res.get_header_value("Connection") == "close") {
            current_framing->must_close = true;  // a refusal of the request itself (Server: pre-routing handler)
        }
        if (current_framing != nullptr && !current_framing->Complete()) {
            res.headers.erase("Keep-Alive");
            if (!res.has_header("Connection")) res.set_header("Connection", "close");
        }
    });
}

size_t HttpServer::OpenConnections() {
    std::lock_guard lock(mu_);
    return open_;
}

bool HttpServer::SetListenBacklog(int backlog) {
    // listen() on a listening socket only changes its backlog.
    return ::listen(svr_sock_, backlog) == 0;
}

bool HttpServer::Admit(const std::string& client) {
    std::lock_guard lock(mu_);
    if (open_ >= limits_.max_connections) return false;
    size_t& mine = per_client_[client];
    if (mine >= limits_.max_connections_per_client) {
        if (mine == 0) per_client_.erase(client);
        return false;
    }
    ++mine;
    ++open_;
    return true;
}

void HttpServer::Release(const std::string& client) {
    std::lock_guard lock(mu_);
    --open_;
    auto it = per_client_.find(client);
    if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
}

bool HttpServer::process_and_close_socket(socket_t sock) {
    int yes = 1;  // a response's writes go out at once (without it Nagle held the second write ~40 ms)
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    std::string client;
    {
        sockaddr_storage addr{};
        socklen_t len = sizeof(addr);
        if (::getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &len) == 0) client = AddressText(addr, nullptr);
    }
    if (!Admit(client)) {
        Refuse(sock);
        ::shutdown(sock, SHUT_RDWR);
        ::close(sock);
        return false;
    }
    if (lane_ != nullptr && is_running()) {
        lane_->Adopt(sock, std::move(client));
        return true;
    }
    return Serve(sock, client, {}, 0, SteadyClock::time_point::min());
}

void HttpServer::ServeHandedBack(
    socket_t sock, std::string client, std::string buffered, size_t served, SteadyClock::time_point deadline
) {
    handed_back_->enqueue([this, sock, client = std::move(client), buffered = std::move(buffered), served, deadline] {
        Serve(sock, client, buffered, served, deadline);
    });
}

void HttpServer::StopHandBacks() {
    handed_back_->shutdown();
}

bool HttpServer::Serve(
    socket_t sock,
    const std::string& client,
    std::string buffered,
    size_t served0,
    SteadyClock::time_point first_deadline
) {
    DeadlineStream stream(sock, limits_, *this);
    stream.Prime(std::move(buffered));
    bool ok = true;
    for (size_t served = served0; served < limits_.keep_alive_max && is_running(); ++served) {
        // Wait for the first byte of the next request: the header deadline for the first request, the keep-alive
        // idle limit after that.
        const auto wait = served == 0 ? limits_.header_timeout : limits_.keep_alive_idle;
        if (!stream.HasBuffered() && PollUntil(sock, POLLIN, SteadyClock::now() + wait, *this) != 1) break;
        // A request the lane began reading keeps the deadline it had there.
        stream.SetDeadline(
            served == served0 && first_deadline != SteadyClock::time_point::min()
                ? first_deadline
                : SteadyClock::now() + limits_.header_timeout
        );
        bool connection_closed = false;
        RequestFraming framing;
        current_framing = &framing;
        stream.EndAt(std::nullopt);
        stream.HoldHeaders();
        ok = process_request(
            stream,
            served + 1 == limits_.keep_alive_max,
            connection_closed,
            [&](httplib::Request& req) {
                framing.Read(req, stream);
                stream.SetDeadline(SteadyClock::now() + limits_.body_timeout);
            }
        );
        current_framing = nullptr;
        if (!stream.Flush()) ok = false;
        // Bytes of this request left unread would be parsed as the next request: close (lingering) instead.
        if (!ok || connection_closed || !framing.Complete()) break;
        // Answered, and nothing more has come: the lane waits for the next request (no thread per idle connection).
        if (lane_ != nullptr && !stream.HasBuffered() && served + 1 < limits_.keep_alive_max && is_running()) {
            lane_->Adopt(sock, client, served + 1);
            return ok;
        }
    }
    CloseLingering(sock, *this);
    Release(client);
    return ok;
}

}  // namespace squall::api
