// GET /stream/v1/stream (and /api/v1/stream): the event stream as Server-Sent Events (reference §2.3,
// docs/api.md "Event stream"). Each connection is served by its HTTP worker for as long as it lasts: it waits on
// its subscriber's queue, writes what came, and a heartbeat comment when nothing came for a while.
#include "event_stream.hpp"
#include "http.hpp"

namespace squall::api {

namespace {

/// How long a worker that was woken by a message waits for more before writing: at most 20 wake-ups and
/// writes a second per client, however many events pass (200 clients watching a busy server would otherwise
/// take the CPU the engine needs), for 50 ms more delivery latency.
constexpr std::chrono::milliseconds kGather{50};
/// Messages are joined into writes of about this size.
constexpr size_t kWriteSize = 64 * 1024;

}  // namespace

void RegisterStreamRoutes(Router& r, EventHub& hub, std::chrono::seconds heartbeat) {
    Handler stream = [&hub, heartbeat](const httplib::Request& req, httplib::Response& res) {
        StreamFilter filter = StreamFilter::FromQuery(
            req.get_param_value("events"),
            req.get_param_value("action_refs"),
            req.get_param_value("execution_ids"),
            req.get_param_value("end_event"),
            req.get_param_value("end_execution_id")
        );
        StreamSubscriberPtr sub = hub.Subscribe(std::move(filter));
        res.status = 200;
        res.set_header("Cache-Control", "no-cache");
        auto started = std::make_shared<bool>(false);
        res.set_chunked_content_provider(
            "text/event-stream",
            [sub, heartbeat, started](size_t, httplib::DataSink& sink) {
                if (!*started) {
                    // Sent at once, as StackStorm's first empty message: the client sees the stream open.
                    *started = true;
                    static constexpr char kHello[] = ": connected\n\n";
                    return sink.write(kHello, sizeof(kHello) - 1);
                }
                std::vector<StreamMessagePtr> batch;
                bool end = false;
                if (!sub->Take(batch, &end, heartbeat, kGather)) {
                    if (sub->dropped()) {
                        static constexpr char kDropped[] = ": dropped: this client fell behind the event stream\n\n";
                        sink.write(kDropped, sizeof(kDropped) - 1);
                    }
                    return false;
                }
                // A few writes (one chunk, one send each, up to 64 KiB) for the whole batch, not one per message.
                // Reused: its capacity stays with the worker instead of a fresh 64 KiB block per write.
                thread_local std::string joined;
                joined.clear();
                for (const auto& m : batch) {
                    if (joined.empty() && m->text.size() >= kWriteSize) {
                        if (!sink.write(m->text.data(), m->text.size())) return false;
                        continue;
                    }
                    joined += m->text;
                    if (joined.size() >= kWriteSize) {
                        if (!sink.write(joined.data(), joined.size())) return false;
                        joined.clear();
                    }
                }
                if (!joined.empty() && !sink.write(joined.data(), joined.size())) return false;
                if (end) {
                    sink.done();
                    return true;
                }
                if (batch.empty()) {
                    static constexpr char kHeartbeat[] = ": heartbeat\n\n";
                    return sink.write(kHeartbeat, sizeof(kHeartbeat) - 1);
                }
                return true;
            },
            [&hub, sub](bool) { hub.Unsubscribe(sub); }
        );
    };
    r.GetAt("/stream/v1/stream", stream);
    r.Get("/stream", stream);
}

}  // namespace squall::api
