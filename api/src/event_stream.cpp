#include "event_stream.hpp"

#include <fnmatch.h>

#include <map>

#include "http.hpp"
#include "squall/core/log.hpp"

namespace squall::api {
namespace {

using core::Json;

StreamMessagePtr MakeMessage(
    const std::string& name,
    const std::string& execution_id,
    const std::string& action,
    const std::string& status,
    const Json& data
) {
    auto m = std::make_shared<StreamMessage>();
    m->name = name;
    m->execution_id = execution_id;
    m->action_ref = action;
    m->status = status;
    // JSON text has no raw newline, so one data line carries it.
    m->text = "event: " + name + "\ndata: " + data.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
    return m;
}

/// StackStorm's LiveAction view of an execution.
Json LiveAction(const Json& execution) {
    Json la = execution.value("liveaction", Json::object());
    for (const char* k : {"status", "result", "context", "start_timestamp", "end_timestamp"}) {
        if (execution.contains(k)) la[k] = execution[k];
    }
    return la;
}

}  // namespace

// --- StreamFilter ---------------------------------------------------------------------------------------------

StreamFilter StreamFilter::FromQuery(
    const std::string& events,
    const std::string& action_refs,
    const std::string& execution_ids,
    const std::string& end_event,
    const std::string& end_execution_id
) {
    StreamFilter f;
    f.events = SplitList(events);
    for (auto& a : SplitList(action_refs)) f.action_refs.insert(std::move(a));
    for (auto& e : SplitList(execution_ids)) f.execution_ids.insert(std::move(e));
    f.end_event = end_event;
    f.end_execution_id = end_execution_id;
    return f;
}

bool StreamFilter::WantsEvent(const std::string& name) const {
    if (events.empty()) return true;
    for (const auto& pattern : events) {
        if (pattern == name) return true;
        // fnmatch only for globs: the hub asks this of every subscriber for every event.
        if (pattern.find_first_of("*?[") != std::string::npos && ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0)
            return true;
    }
    return false;
}

bool StreamFilter::WantsExecutionEvents() const {
    // A stream that ends with an execution's event needs that event, whatever else it wants.
    if (!end_execution_id.empty() &&
        (end_event.rfind("st2.execution", 0) == 0 || end_event.rfind("st2.liveaction", 0) == 0))
        return true;
    for (const char* name :
         {"st2.execution__create",
          "st2.execution__update",
          "st2.execution.output__create",
          "st2.liveaction__create",
          "st2.liveaction__update"}) {
        if (WantsEvent(name)) return true;
    }
    return false;
}

bool StreamFilter::Wants(
    const std::string& name, const std::string& execution_id, const std::string& action_ref, const std::string& status
) const {
    const bool is_end = !end_event.empty() && name == end_event && execution_id == end_execution_id &&
                        core::status::IsCompleted(status);
    return is_end || (WantsEvent(name) && (action_refs.empty() || action_refs.count(action_ref)) &&
                      (execution_ids.empty() || execution_ids.count(execution_id)));
}

// --- StreamSubscriber -----------------------------------------------------------------------------------------

bool StreamSubscriber::OfferLocked(const StreamMessage& m, const StreamMessagePtr& ptr, const EventHubOptions& limits) {
    // As StackStorm's listener: the end is decided before the filters, the end event is sent only if they want it.
    const bool is_end = !filter_.end_event.empty() && m.name == filter_.end_event &&
                        m.execution_id == filter_.end_execution_id && core::status::IsCompleted(m.status);
    const bool wanted = filter_.WantsEvent(m.name) &&
                        (filter_.action_refs.empty() || filter_.action_refs.count(m.action_ref)) &&
                        (filter_.execution_ids.empty() || filter_.execution_ids.count(m.execution_id));
    if (!wanted && !is_end) return false;
    if (closed_ || end_queued_) return false;
    if (wanted) {
        // A message into an empty queue is always taken, however large: the client is not behind.
        if (queue_.size() >= limits.max_queued_messages ||
            (!queue_.empty() && bytes_ + m.text.size() > limits.max_queued_bytes)) {
            // Fallen behind: dropped rather than buffered without bound or waited for.
            dropped_ = true;
            closed_ = true;
            queue_.clear();
            bytes_ = 0;
            return true;
        }
        queue_.push_back(ptr);
        bytes_ += m.text.size();
    }
    if (is_end) end_queued_ = true;
    return true;
}

void StreamSubscriber::Offer(const StreamMessagePtr& m, const EventHubOptions& limits) {
    bool changed = false;
    {
        std::lock_guard lock(mu_);
        changed = OfferLocked(*m, m, limits);
    }
    if (changed) cv_.notify_all();
}

void StreamSubscriber::Offer(const std::vector<StreamMessagePtr>& batch, const EventHubOptions& limits) {
    bool changed = false;
    {
        std::lock_guard lock(mu_);
        for (const auto& m : batch) {
            if (OfferLocked(*m, m, limits)) changed = true;
            if (closed_ || end_queued_) break;
        }
    }
    if (changed) cv_.notify_all();
}

void StreamSubscriber::Close() {
    {
        std::lock_guard lock(mu_);
        closed_ = true;
    }
    cv_.notify_all();
}

bool StreamSubscriber::dropped() const {
    std::lock_guard lock(mu_);
    return dropped_;
}

bool StreamSubscriber::Take(
    std::vector<StreamMessagePtr>& out, bool* end, std::chrono::milliseconds wait, std::chrono::milliseconds gather
) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return closed_ || end_queued_ || !queue_.empty(); });
    if (gather.count() > 0 && !queue_.empty() && !closed_ && !end_queued_) {
        // Not waiting on cv_ meanwhile: the hub's offers in this pause cost it no wake-up call.
        lock.unlock();
        std::this_thread::sleep_for(gather);
        lock.lock();
    }
    while (!queue_.empty()) {
        out.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
    bytes_ = 0;
    *end = end_queued_;
    return !(closed_ && out.empty());
}

// --- EventHub -------------------------------------------------------------------------------------------------

EventHub::EventHub(core::RedisClientPtr reader, executions::ExecutionStore& store, EventHubOptions options)
    : reader_(std::move(reader)), store_(store), options_(options) {}

EventHub::~EventHub() {
    Stop();
}

void EventHub::Start() {
    // The read positions are fixed now, before any client can subscribe: an event that happens after a client
    // subscribed is always read. (Without Redis at start, the reader fixes them at its first successful read.)
    Result<std::string> id = LastIdBlocking(store_.keys().Events());
    Result<std::string> announcement = LastIdBlocking(store_.keys().Announcements());
    if (id && announcement) {
        last_id_ = *id;
        last_announcement_id_ = *announcement;
    }
    thread_ = std::thread([this] { Run(); });
}

void EventHub::Stop() {
    std::vector<StreamSubscriberPtr> subs;
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        subs = subscribers_;
    }
    cv_.notify_all();
    for (auto& s : subs) s->Close();
    if (thread_.joinable()) thread_.join();
}

StreamSubscriberPtr EventHub::Subscribe(StreamFilter filter) {
    // The scripts write execution events only while the flag is there: set it once the subscriber is registered, so
    // that every change from then on is in the stream and read for it (set first, an idle reader could move its
    // position past an event written before the subscriber was there). If Redis does not take it now, the reader sets
    // it before its next read, and the changes in between are not sent.
    const bool wants_execution_events = filter.WantsExecutionEvents();
    auto s = std::make_shared<StreamSubscriber>(std::move(filter));
    {
        std::lock_guard lock(mu_);
        if (stopping_) {
            s->Close();
            return s;
        }
        subscribers_.push_back(s);
    }
    if (wants_execution_events) MarkListening(true);
    cv_.notify_all();
    OfferEndIfEnded(s);
    return s;
}

void EventHub::OfferEndIfEnded(const StreamSubscriberPtr& s) {
    // `st2 run --tail` subscribes once the execution is created, `st2 execution tail` once it has read it: an
    // action that ended in between left its end event before this subscriber came (or none, nobody listening
    // then). Its record says so: the end is sent from it, and the stream ends. An end that comes through the stream
    // as well finds the stream ended.
    const StreamFilter& f = s->filter();
    if (f.end_execution_id.empty() || !f.WantsExecutionEvents()) return;
    Result<Json> record = store_.GetBlocking(f.end_execution_id);
    if (!record) return;
    const std::string status = record->value("status", "");
    if (!core::status::IsCompleted(status)) return;
    const std::string action = (*record)["action"].value("ref", "");
    s->Offer(
        std::vector<StreamMessagePtr>{
            MakeMessage("st2.execution__update", f.end_execution_id, action, status, *record),
            MakeMessage("st2.liveaction__update", f.end_execution_id, action, status, LiveAction(*record))},
        options_
    );
}

void EventHub::Unsubscribe(const StreamSubscriberPtr& s) {
    std::lock_guard lock(mu_);
    subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), s), subscribers_.end());
}

size_t EventHub::SubscriberCount() {
    std::lock_guard lock(mu_);
    return subscribers_.size();
}

bool EventHub::WaitForStop(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [&] { return stopping_; });
    return stopping_;
}

bool EventHub::MarkListening(bool force) {
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(mark_mu_);
        if (!force && marked_ != std::chrono::steady_clock::time_point{} && now - marked_ < options_.listeners_refresh)
            return true;
    }
    Result<core::RedisReply> r = store_.client().CommandBlocking(
        {"SET", store_.keys().EventListeners(), "1", "PX", std::to_string(options_.listeners_ttl.count())}
    );
    std::lock_guard lock(mark_mu_);
    // Not taken: set again before the next read, not listeners_refresh later.
    marked_ = r && !r->IsError() ? now : std::chrono::steady_clock::time_point{};
    return r && !r->IsError();
}

void EventHub::MarkLost() {
    std::lock_guard lock(mark_mu_);
    marked_ = {};
}

Result<std::string> EventHub::LastIdBlocking(const std::string& stream) {
    Result<core::RedisReply> r = reader_->CommandBlocking({"XREVRANGE", stream, "+", "-", "COUNT", "1"});
    if (!r) return r.error();
    if (r->IsError()) return Internal("redis: " + r->str);
    if (r->elements.empty() || r->elements[0].elements.empty()) return std::string("0-0");
    return r->elements[0].elements[0].str;
}

namespace {

bool AnyWants(
    const std::vector<StreamSubscriberPtr>& subs,
    const std::string& name,
    const std::string& execution_id,
    const std::string& action_ref,
    const std::string& status
) {
    for (const auto& s : subs) {
        if (s->filter().Wants(name, execution_id, action_ref, status)) return true;
    }
    return false;
}

}  // namespace

std::vector<StreamMessagePtr> EventHub::Messages(
    const std::vector<executions::ExecutionEvent>& events, const std::vector<StreamSubscriberPtr>& subs
) {
    // What some subscriber wants of each event, decided on the event's own action ref (the record's, when it is
    // read, is the same): nothing is read or formatted for a message nobody gets.
    enum : uint8_t { kExecution = 1, kLiveAction = 2 };
    std::vector<uint8_t> wanted(events.size(), 0);
    for (size_t i = 0; i < events.size(); ++i) {
        const auto& e = events[i];
        if (e.kind == executions::event_kind::kOutput) {
            if (AnyWants(subs, "st2.execution.output__create", e.execution_id, e.action, "")) wanted[i] = kExecution;
            continue;
        }
        const std::string suffix = e.kind == executions::event_kind::kCreate ? "__create" : "__update";
        if (AnyWants(subs, "st2.execution" + suffix, e.execution_id, e.action, e.to)) wanted[i] |= kExecution;
        if (AnyWants(subs, "st2.liveaction" + suffix, e.execution_id, e.action, e.to)) wanted[i] |= kLiveAction;
    }
    // Executions that wanted create/status events are about, read once per batch in one pipeline (and those
    // wanted output events are about when their action and runner are not known yet). A record read now may be
    // newer than the event: the event's own status is what the message reports.
    std::map<std::string, Json> records;
    for (size_t i = 0; i < events.size(); ++i) {
        const auto& e = events[i];
        if (!wanted[i]) {
            if (e.kind != executions::event_kind::kOutput && core::status::IsCompleted(e.to))
                known_.erase(e.execution_id);
            continue;
        }
        if (e.kind != executions::event_kind::kOutput || !known_.count(e.execution_id))
            records.emplace(e.execution_id, Json());
    }
    if (!records.empty()) {
        std::vector<core::RedisClient::Args> reads;
        for (const auto& [id, unused] : records) reads.push_back({"HGETALL", store_.keys().Execution(id)});
        Result<std::vector<core::RedisReply>> rows = store_.client().PipelineBlocking(std::move(reads));
        if (rows) {
            size_t i = 0;
            for (auto& [id, record] : records) {
                const core::RedisReply& row = (*rows)[i++];
                if (row.IsError() || row.elements.empty()) continue;
                record = executions::ExecutionStore::FromHash(row);
                // Bounded: forgetting costs one read of the record at its next output event.
                if (known_.size() >= kMaxKnownExecutions) known_.clear();
                known_[id] = {record["action"].value("ref", ""), record["runner"].value("name", "")};
            }
        }
    }
    std::vector<StreamMessagePtr> out;
    for (size_t i = 0; i < events.size(); ++i) {
        const auto& e = events[i];
        if (!wanted[i]) continue;
        if (e.kind == executions::event_kind::kOutput) {
            auto info = known_.find(e.execution_id);
            const std::string action = info != known_.end() ? info->second.first : e.action;
            const std::string runner = info != known_.end() ? info->second.second : "";
            if (!e.lines.is_array()) continue;
            for (const auto& line : e.lines) {
                Json data = {
                    {"execution_id", e.execution_id},
                    {"action_ref", action},
                    {"runner_ref", runner},
                    {"timestamp", line.value("timestamp", e.at)},
                    {"output_type", line.value("output_type", "stdout")},
                    {"data", line.value("data", "")}};
                out.push_back(MakeMessage("st2.execution.output__create", e.execution_id, action, "", data));
            }
            continue;
        }
        const std::string suffix = e.kind == executions::event_kind::kCreate ? "__create" : "__update";
        Json execution = records[e.execution_id];
        if (execution.is_null()) {
            // Expired or unreadable: what the event itself says.
            execution = {{"id", e.execution_id}, {"action", {{"ref", e.action}}}};
            if (!e.parent.empty()) execution["parent"] = e.parent;
        }
        execution["status"] = e.to;
        if (execution.contains("liveaction")) execution["liveaction"]["status"] = e.to;
        const std::string action = execution["action"].value("ref", e.action);
        if (wanted[i] & kExecution)
            out.push_back(MakeMessage("st2.execution" + suffix, e.execution_id, action, e.to, execution));
        if (wanted[i] & kLiveAction)
            out.push_back(MakeMessage("st2.liveaction" + suffix, e.execution_id, action, e.to, LiveAction(execution)));
        if (core::status::IsCompleted(e.to)) known_.erase(e.execution_id);
    }
    return out;
}

namespace {

bool AnyWantsExecutionEvents(const std::vector<StreamSubscriberPtr>& subs) {
    for (const auto& s : subs) {
        if (s->filter().WantsExecutionEvents()) return true;
    }
    return false;
}

}  // namespace

void EventHub::RefreshIdlePositions() {
    // A position moves only if, once it is read, still nobody wants that stream: a client that subscribed
    // meanwhile gets every event from before it came.
    Result<std::string> id = LastIdBlocking(store_.keys().Events());
    Result<std::string> announcement = LastIdBlocking(store_.keys().Announcements());
    std::lock_guard lock(mu_);
    const bool positions_unset = last_id_.empty() || last_announcement_id_.empty();
    if (positions_unset) {
        if (id && announcement) {
            last_id_ = *id;
            last_announcement_id_ = *announcement;
        }
        return;
    }
    if (id && !AnyWantsExecutionEvents(subscribers_)) last_id_ = *id;
    if (announcement && subscribers_.empty()) last_announcement_id_ = *announcement;
}

void EventHub::AddAnnouncements(const core::RedisReply& entries, std::vector<StreamMessagePtr>& out) {
    for (const auto& entry : entries.elements) {
        if (entry.elements.size() < 2) continue;
        last_announcement_id_ = entry.elements[0].str;
        const auto& fields = entry.elements[1].elements;
        for (size_t i = 0; i + 1 < fields.size(); i += 2) {
            if (fields[i].str != "d") continue;
            Json a = Json::parse(fields[i + 1].str, nullptr, false);
            if (!a.is_object() || !a.contains("route") || !a["route"].is_string()) continue;
            // StackStorm's body: {payload, trace_context}; like its listener, no execution id or action ref, so
            // the action_refs and execution_ids filters leave announcements out.
            Json data = {{"payload", a.value("payload", Json())}, {"trace_context", a.value("trace_context", Json())}};
            auto m = std::const_pointer_cast<StreamMessage>(
                MakeMessage("st2.announcement__" + a["route"].get<std::string>(), "", "", "", data)
            );
            m->entry_id = entry.elements[0].str;
            m->data = std::move(data);
            out.push_back(std::move(m));
        }
    }
}

void EventHub::Run() {
    auto log = core::Logger("api");
    std::string& last_id = last_id_;
    bool failing = false;
    while (true) {
        std::vector<StreamSubscriberPtr> subs;
        {
            std::unique_lock lock(mu_);
            if (stopping_) return;
            subs = subscribers_;
        }
        if (subs.empty() || last_id.empty() || last_announcement_id_.empty()) {
            // Nobody listens: keep only the read positions fresh (O(1) reads once a second) instead of reading
            // every event.
            RefreshIdlePositions();
            std::unique_lock lock(mu_);
            if (subscribers_.empty() || last_id.empty() || last_announcement_id_.empty()) {
                cv_.wait_for(lock, options_.idle_refresh, [&] { return stopping_ || !subscribers_.empty(); });
            }
            continue;
        }
        // Execution events are read only while a subscriber wants them; the announcements (a small stream) while
        // anyone listens. Both in one XREAD (the keys share the {x} slot).
        const bool executions = AnyWantsExecutionEvents(subs);
        if (!executions) RefreshIdlePositions();
        if (executions) MarkListening(false);  // kept while someone listens (it expires listeners_ttl after)
        core::RedisClient::Args xread = {
            "XREAD",
            "COUNT",
            std::to_string(options_.batch),
            "BLOCK",
            std::to_string(options_.block.count()),
            "STREAMS"};
        if (executions) xread.push_back(store_.keys().Events());
        xread.push_back(store_.keys().Announcements());
        if (executions) xread.push_back(last_id);
        xread.push_back(last_announcement_id_);
        Result<core::RedisReply> r = reader_->CommandBlocking(std::move(xread));
        if (!r || r->IsError()) {
            // Redis restarted or failed over may have lost the flag with its last writes: set it again before the
            // next read.
            MarkLost();
            // One line per outage, not one per retry.
            if (!failing) {
                core::Log(
                    *log,
                    spdlog::level::warn,
                    "event stream read failed; retrying",
                    {{"error", r ? r->str : r.error().message}}
                );
            }
            failing = true;
            if (WaitForStop(std::chrono::milliseconds(500))) return;
            continue;
        }
        failing = false;
        if (r->IsNil() || r->elements.empty()) continue;
        std::vector<executions::ExecutionEvent> events;
        std::vector<StreamMessagePtr> announcements;
        for (const auto& stream : r->elements) {
            if (stream.elements.size() < 2) continue;
            if (stream.elements[0].str == store_.keys().Announcements()) {
                AddAnnouncements(stream.elements[1], announcements);
                continue;
            }
            for (const auto& entry : stream.elements[1].elements) {
                if (entry.elements.size() < 2) continue;
                last_id = entry.elements[0].str;
                const auto& fields = entry.elements[1].elements;
                for (size_t i = 0; i + 1 < fields.size(); i += 2) {
                    if (fields[i].str != "d") continue;
                    Result<executions::ExecutionEvent> e = executions::ExecutionEvent::Parse(fields[i + 1].str);
                    if (e) events.push_back(std::move(*e));
                }
            }
        }
        // The subscribers now, not those before the read: one that came while it blocked gets this batch too.
        {
            std::lock_guard lock(mu_);
            subs = subscribers_;
        }
        std::vector<StreamMessagePtr> messages;
        if (!events.empty()) messages = Messages(events, subs);
        messages.insert(messages.end(), announcements.begin(), announcements.end());
        if (messages.empty()) continue;
        // The whole batch to each subscriber at once: one lock and at most one wake-up per client per batch.
        for (const auto& s : subs) s->Offer(messages, options_);
    }
}

}  // namespace squall::api
