#pragma once

// The webhook lane: webhook senders' connections served by one event loop instead of a thread each
// (docs/decisions.md, "Webhooks on an event loop"). HttpServer admits every connection as before and hands it to the
// lane, which reads requests with non-blocking calls and answers `POST /api/v1/webhooks/<url>` itself: the handler
// checks and builds the trigger instance from what is in memory, its write goes to Redis with other requests'
// (RedisClient::BatchedAsync) and the answer is sent when the reply comes back. No thread sleeps per request, and an
// idle keep-alive connection costs no thread.
//
// Everything else goes back to the thread path (HttpServer) with the bytes read so far, before anything was done
// about it: other routes and methods, HTTP/1.0, chunked or missing Content-Length, Expect, a query string or a
// percent-encoded path, headers the thread path would refuse or read differently, a body over kMaxBody, a request
// that trickles in, and whatever the handler declines (a credential or content snapshot that would need Redis, an
// Idempotency-Key). The thread path then answers it exactly as before, deadlines included.

#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "http_server.hpp"

namespace squall::api {

/// What a lane handler did with a request.
enum class LaneStep {
    kDeclined,  ///< nothing: the thread path serves the request
    kAnswered,  ///< the answer is in `res`
    kPending,   ///< `reply` is called once, from any thread, with the answer
};
/// Fills in an answer, on the lane's loop.
using LaneFill = std::function<void(httplib::Response&)>;
/// Hands the lane what fills in the answer (from any thread: the work is done on the loop, not the caller's).
using LaneReply = std::function<void(LaneFill)>;
/// Runs on the lane's loop: must not wait (no blocking Redis call, no lock held for long).
using LaneHandler = std::function<LaneStep(const httplib::Request& req, httplib::Response& res, LaneReply reply)>;

class WebhookLane {
public:
    using SteadyTime = std::chrono::steady_clock::time_point;
    /// Gives a connection back to the thread path: its socket, its client's address, the bytes read and not yet
    /// served, the requests served on it so far, and the header deadline of the request those bytes begin.
    using HandBack =
        std::function<void(int fd, std::string client, std::string buffered, size_t served, SteadyTime deadline)>;
    /// A connection the lane closed (HttpServer counts it out).
    using Release = std::function<void(const std::string& client)>;

    /// Bodies up to this size are read by the lane (it parses them on its loop); larger ones go to the thread path.
    static constexpr size_t kMaxBody = 64 * 1024;

    /// `metrics_label`: the route label its answers are counted under (HttpMetrics).
    WebhookLane(HttpLimits limits, LaneHandler handler, std::string metrics_label, HandBack hand_back, Release release);
    ~WebhookLane();
    WebhookLane(const WebhookLane&) = delete;
    WebhookLane& operator=(const WebhookLane&) = delete;

    void Start();
    /// Stops reading requests: idle connections close at once, answers under way are still sent (for at most 5 s
    /// plus the I/O timeout), then the thread is joined. Connections adopted after this are closed.
    void Stop();
    /// Takes over an admitted connection (any thread) on which `served` requests were answered: a new one, or one
    /// the thread path answered a request on and has nothing more of.
    void Adopt(int fd, std::string client, size_t served = 0);
    /// Connections the lane holds now (for tests).
    size_t Connections();

    /// The url of a `POST` to `path` that the lane reads (`/api/v1/webhooks/<url>` or `/v1/webhooks/<url>`, nothing
    /// percent-encoded and no query); empty for any other path.
    static std::string_view WebhookUrl(std::string_view path);

private:
    struct Core;
    std::shared_ptr<Core> core_;
    std::mutex mu_;
    bool stopping_ = false;  ///< under mu_: Adopt closes what it is given
    std::thread thread_;
};

}  // namespace squall::api
