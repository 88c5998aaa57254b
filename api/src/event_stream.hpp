#pragma once

// The event stream of the API (GET /stream/v1/stream, docs/api.md "Event stream"): Server-Sent Events with
// StackStorm's event names, fed by the execution event stream. One reader thread per API process reads
// `{x}stream:execution-events` (XREAD BLOCK on its own connection) and fans each event out to the subscribers
// whose filters want it. The same XREAD reads `{x}stream:announcements` (the announcement runner's
// `st2.announcement__<route>` events, docs/chatops.md); while no subscriber wants execution events, only that
// small stream is read. Each subscriber has a bounded queue; one that falls behind by more than the bound is
// dropped (its connection ends), so a slow client never holds back the reader, the others or the engine.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "squall/core/redis/client.hpp"
#include "squall/executions/events.hpp"
#include "squall/executions/store.hpp"

namespace squall::api {

/// The query of one stream request (StackStorm's names).
struct StreamFilter {
    std::vector<std::string> events;  ///< event names or fnmatch globs (`st2.execution__*`); empty: all
    std::set<std::string> action_refs;
    std::set<std::string> execution_ids;
    std::string end_event;         ///< with end_execution_id: the stream ends after this event of that
    std::string end_execution_id;  ///< execution in a completed status

    /// Parses `events`, `action_refs`, `execution_ids` (comma-separated), `end_event`, `end_execution_id`.
    static StreamFilter FromQuery(
        const std::string& events,
        const std::string& action_refs,
        const std::string& execution_ids,
        const std::string& end_event,
        const std::string& end_execution_id
    );
    bool WantsEvent(const std::string& name) const;
    /// True when a message with these attributes passes the filters or is the end event.
    bool Wants(
        const std::string& name,
        const std::string& execution_id,
        const std::string& action_ref,
        const std::string& status
    ) const;
    /// True when some execution event (st2.execution*, st2.liveaction*) passes the `events` filter.
    bool WantsExecutionEvents() const;
};

/// One SSE message, formatted once and shared by every subscriber that gets it.
struct StreamMessage {
    std::string name;          ///< event name
    std::string execution_id;  ///< the execution it is about
    std::string action_ref;
    std::string status;  ///< execution/liveaction events: the status the event reports
    std::string text;    ///< "event: <name>\ndata: <json>\n\n"
    /// Announcements only: the stream entry's id (unique, for exactly-once handling) and the data as JSON.
    std::string entry_id;
    core::Json data;
};
using StreamMessagePtr = std::shared_ptr<const StreamMessage>;

/// Limits of EventHub.
struct EventHubOptions {
    /// Per subscriber; past it the subscriber is dropped. An output entry holds up to 1,000 lines, each its own
    /// message, and one read (`batch` entries) is handed over at once: a whole read of output entries must fit
    /// before the client's connection had a chance to write any (4,000 dropped every `tail` of an action that
    /// printed 4,000 lines at once). The byte limit below bounds the memory.
    size_t max_queued_messages = 70000;
    /// Per subscriber; past it the subscriber is dropped. It must hold a few final execution updates, each of
    /// which carries a whole result (up to 4 MiB of stdout): a client that keeps up can still be a few of them
    /// behind when executions finish together on a loaded machine. Messages are shared by all subscribers, so
    /// what clients pin together is the messages of the slowest one's lag, at most this per client.
    size_t max_queued_bytes = 16 * 1024 * 1024;
    std::chrono::milliseconds block{1000};         ///< XREAD BLOCK
    std::chrono::milliseconds idle_refresh{1000};  ///< how old the read position may be when nobody listens
    /// Entries per XREAD: one pipelined read of the executions they are about and one hand-over to each
    /// subscriber per batch. An output entry holds up to 1000 lines, so a batch stays within some MB, read well
    /// within the reader connection's command timeout.
    size_t batch = 64;
    /// The executions' event listeners flag (executions::Keys::EventListeners): set with this TTL when a subscriber
    /// that wants execution events comes, and again every `listeners_refresh` while one is there. The scripts
    /// append execution events only while it exists.
    std::chrono::milliseconds listeners_ttl{30000};
    std::chrono::milliseconds listeners_refresh{10000};
};

/// One connected client. Thread-safe: the hub pushes, the HTTP worker serving the client pops.
class StreamSubscriber {
public:
    explicit StreamSubscriber(StreamFilter filter) : filter_(std::move(filter)) {}
    const StreamFilter& filter() const { return filter_; }

    /// Waits up to `wait` for messages; moves them into `out`. Returns false once the subscriber is closed
    /// (dropped, ended or the hub stopping) and nothing is left to send. `*end` is set when the last message
    /// taken is the end event (the stream must finish after sending it). Once a message is there, what comes
    /// in the next `gather` is taken with it: one wake-up and one write per client for many events.
    bool Take(
        std::vector<StreamMessagePtr>& out,
        bool* end,
        std::chrono::milliseconds wait,
        std::chrono::milliseconds gather = std::chrono::milliseconds(0)
    );
    /// True when the subscriber fell behind and was dropped.
    bool dropped() const;

    /// Called by the hub's reader (never blocks): queues `m` if the filter wants it; drops the subscriber (its
    /// queue emptied, Take reports the end) when the queue would go over a limit.
    void Offer(const StreamMessagePtr& m, const EventHubOptions& limits);
    /// Offer of a whole batch under one lock, with at most one wake-up.
    void Offer(const std::vector<StreamMessagePtr>& batch, const EventHubOptions& limits);
    /// Ends the subscription (the hub stopping): Take returns false once the queue is empty.
    void Close();

private:
    /// With mu_ held: queues `m` or drops the subscriber; true when something changed that Take waits for.
    bool OfferLocked(const StreamMessage& m, const StreamMessagePtr& ptr, const EventHubOptions& limits);

    const StreamFilter filter_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<StreamMessagePtr> queue_;
    size_t bytes_ = 0;
    bool closed_ = false;
    bool dropped_ = false;
    bool end_queued_ = false;
};
using StreamSubscriberPtr = std::shared_ptr<StreamSubscriber>;

/// The one reader of the execution event stream in an API process, and its subscribers.
class EventHub {
public:
    /// `reader` is a connection of its own (XREAD BLOCK holds it); `store` reads the executions events are about.
    EventHub(core::RedisClientPtr reader, executions::ExecutionStore& store, EventHubOptions options = {});
    ~EventHub();
    void Start();
    /// Closes every subscriber and joins the reader thread.
    void Stop();

    StreamSubscriberPtr Subscribe(StreamFilter filter);
    void Unsubscribe(const StreamSubscriberPtr& s);
    size_t SubscriberCount();

private:
    void Run();
    /// The id of the newest entry of `stream` ("0-0" when empty), or an error.
    Result<std::string> LastIdBlocking(const std::string& stream);
    /// Refreshes the read positions nobody needs yet: the execution events' when no subscriber wants them (or
    /// there is none), the announcements' when there is no subscriber.
    void RefreshIdlePositions();
    /// Announcement messages of announcement stream entries; moves last_announcement_id_.
    void AddAnnouncements(const core::RedisReply& entries, std::vector<StreamMessagePtr>& out);
    /// Turns a batch of events into the messages some subscriber of `subs` wants (reads the executions they are
    /// about in one pipeline; a message nobody wants is neither read for nor formatted).
    std::vector<StreamMessagePtr> Messages(
        const std::vector<executions::ExecutionEvent>& events, const std::vector<StreamSubscriberPtr>& subs
    );
    bool WaitForStop(std::chrono::milliseconds d);
    /// Sets the event listeners flag (with its TTL) unless it was set less than listeners_refresh ago (`force`:
    /// whenever). False when Redis did not take it (then it is set again at the next call).
    bool MarkListening(bool force);
    /// The flag may be gone (a read failed: Redis restarted or failed over): the next MarkListening sets it.
    void MarkLost();
    /// A subscriber that ends with an execution's end, when the execution has ended already: gets its final update
    /// from the record.
    void OfferEndIfEnded(const StreamSubscriberPtr& s);

    core::RedisClientPtr reader_;
    executions::ExecutionStore& store_;
    const EventHubOptions options_;
    static constexpr size_t kMaxKnownExecutions = 10000;
    /// Reader thread only: execution id → (action ref, runner type) for output events, until it completes.
    std::map<std::string, std::pair<std::string, std::string>> known_;
    /// Reader thread only (and Start before it): the id of the last entry read, of each stream.
    std::string last_id_;
    std::string last_announcement_id_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<StreamSubscriberPtr> subscribers_;
    bool stopping_ = false;
    std::mutex mark_mu_;
    std::chrono::steady_clock::time_point marked_{};  ///< when the flag was last set (mark_mu_)
    std::thread thread_;
};

}  // namespace squall::api
