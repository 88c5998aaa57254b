#pragma once

// cpp-httplib serves each connection on a worker thread for as long as the connection lives, and its reads time
// out per recv(), not per request: eight clients sending a header line every few seconds ("slowloris") held all
// eight workers and nothing else was answered. This server keeps httplib's request parsing and routing
// (Server::process_request) and owns the connection loop around it:
//   - a deadline for the whole request line and headers, then one for the body, whatever the pace of bytes;
//   - an idle limit between keep-alive requests, and at most `keep_alive_max` requests per connection;
//   - at most `max_connections` connections in total and `max_connections_per_client` from one address: an
//     extra connection is answered 503 with Retry-After at once and closed;
//   - an elastic worker pool (ElasticTaskQueue): `min_threads` always there, more started on demand up to the
//     connection limit, so that slow clients never queue a fast one behind them.

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace squall::api {

class WebhookLane;

/// Connection limits and deadlines of HttpServer.
struct HttpLimits {
    std::chrono::milliseconds header_timeout{10000};  ///< first byte → end of headers
    std::chrono::milliseconds body_timeout{60000};    ///< end of headers → end of body
    std::chrono::milliseconds keep_alive_idle{5000};  ///< between requests on one connection
    std::chrono::milliseconds io_timeout{10000};      ///< one read or write making no progress
    size_t keep_alive_max = 100;                      ///< requests per connection
    size_t max_connections = 1000;                    ///< in total
    size_t max_connections_per_client = 256;          ///< from one remote address
    size_t min_threads = 8;                           ///< workers kept when idle
};

/// A thread pool that grows with demand up to `max_threads` and shrinks back to `min_threads` after a spell of
/// idleness. Jobs are never refused: past `max_threads` they wait in the queue (the connection limit of
/// HttpServer keeps that short, since a refused connection takes a worker for microseconds).
class ElasticTaskQueue : public httplib::TaskQueue {
public:
    /// `run_here`, when given and true for a job, has the job run on the enqueuing thread (the accept loop's, while
    /// the webhook lane takes connections: admitting one and handing it over takes microseconds).
    ElasticTaskQueue(size_t min_threads, size_t max_threads, std::function<bool()> run_here = nullptr);
    ~ElasticTaskQueue() override;
    void enqueue(std::function<void()> fn) override;
    void shutdown() override;

private:
    void Work();
    const size_t min_threads_;
    const size_t max_threads_;
    const std::function<bool()> run_here_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    std::list<std::thread> threads_;
    std::vector<std::thread::id> exited_;  ///< workers that left after idling, to be joined
    size_t idle_ = 0;
    bool stopping_ = false;
};

/// httplib::Server with the connection loop above. Thread-safe as httplib::Server is.
class HttpServer : public httplib::Server {
public:
    explicit HttpServer(HttpLimits limits);
    const HttpLimits& limits() const { return limits_; }
    /// Connections open now (for tests and logs).
    size_t OpenConnections();
    /// Raises the listen backlog of the bound socket (httplib listens with a backlog of 5, so a burst of
    /// connections waited for SYN retransmits of 1 s and more). Call after binding, before serving.
    bool SetListenBacklog(int backlog);

    /// Connections admitted from now on go to `lane` (webhook_lane.hpp; null: none), which gives back through
    /// ServeHandedBack what it does not serve. Set before serving; the lane is stopped after this server.
    void SetLane(WebhookLane* lane) { lane_ = lane; }
    /// Serves a connection the lane gave back, on a worker of its own pool: `buffered` is read first, `served`
    /// requests count against keep_alive_max, and the first request keeps its header `deadline`.
    void ServeHandedBack(
        socket_t sock,
        std::string client,
        std::string buffered,
        size_t served,
        std::chrono::steady_clock::time_point deadline
    );
    /// Counts out a connection the lane closed.
    void Release(const std::string& client);
    /// Joins the workers of handed-back connections (after stop()).
    void StopHandBacks();

private:
    bool process_and_close_socket(socket_t sock) override;
    /// The connection loop: serves requests until the connection ends, then closes it and counts it out.
    bool Serve(
        socket_t sock,
        const std::string& client,
        std::string buffered,
        size_t served,
        std::chrono::steady_clock::time_point first_deadline
    );
    /// Counts the connection in; false (and counts nothing) when a limit is reached.
    bool Admit(const std::string& client);

    HttpLimits limits_;
    std::mutex mu_;
    size_t open_ = 0;
    std::map<std::string, size_t> per_client_;
    WebhookLane* lane_ = nullptr;
    std::unique_ptr<ElasticTaskQueue> handed_back_;  ///< workers for connections the lane gave back
};

}  // namespace squall::api
