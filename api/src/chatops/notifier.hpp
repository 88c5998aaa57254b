#pragma once

// Posting ChatOps answers (docs/chatops.md): acks of Events API commands and, when an alias execution ends, its
// result formatted with the alias's `result.format`. Executions are watched through the API's EventHub (one
// subscriber for every alias execution this process started: no polling, no extra Redis connection). Two
// threads: the watcher, which only takes events and renders, and the poster, which makes the HTTP calls (5 s
// timeouts) from a bounded queue, so a slow chat server never holds back the event stream.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "event_stream.hpp"
#include "squall/core/model/model.hpp"
#include "squall/executions/store.hpp"

namespace squall::api::chatops {

using core::Json;

/// Where a chat answer goes: an HTTP POST of `body` + {"text": ...} to `url`, with `Authorization: Bearer` when
/// `bearer` is set (Slack's bot token).
struct ChatTarget {
    std::string url;
    std::string bearer;
    Json body = Json::object();
};

/// An execution whose result is to be posted when it ends.
struct PendingResult {
    std::string execution_id;
    Json alias;  ///< the alias (its `result` says whether and how)
    ChatTarget target;
    std::vector<std::string> secrets;  ///< masked in the posted text (the chatops config's secrets)
    std::chrono::seconds timeout{3600};
    /// Set: called (on the watcher thread; it must not block) with the formatted text and the execution record
    /// instead of posting to `target`.
    std::function<void(const std::string& text, const Json& execution)> on_done;
};

struct NotifierOptions {
    size_t max_pending = 10000;  ///< executions watched at once; past it no result is promised
    size_t max_posts = 1000;     ///< queued posts; past it a post is dropped (and logged)
    std::chrono::seconds post_timeout{5};
};

class ChatNotifier {
public:
    /// `hub` may be null (no event stream): results are then not posted.
    ChatNotifier(EventHub* hub, executions::ExecutionStore& store, NotifierOptions options = {});
    ~ChatNotifier();
    void Start();
    void Stop();

    /// Queues `text` for `target`; false (logged) when the queue is full or the notifier is stopped.
    bool Post(const ChatTarget& target, const std::string& text);
    /// Posts the result of `p.execution_id` when it ends (at once when it already has). kResourceExhausted past
    /// max_pending; kUnavailable without an event stream.
    Status WatchResult(PendingResult p);

    /// Counters for tests and logs.
    size_t posted() const;
    size_t pending() const;

private:
    void WatchLoop();
    void PostLoop();
    /// Takes the execution's pending entry (so only one caller posts it) and posts its result if it has ended.
    void CompleteIfEnded(const std::string& id, const Json* execution);
    void CatchUp();

    EventHub* hub_;
    executions::ExecutionStore& store_;
    const NotifierOptions options_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::map<std::string, std::pair<PendingResult, std::chrono::steady_clock::time_point>> pending_;
    std::deque<std::pair<ChatTarget, std::string>> posts_;
    size_t posted_ = 0;
    std::thread watcher_;
    std::thread poster_;
};

/// The text of an ended alias execution: the alias's `result.format` (Jinja over `execution`), or a summary when
/// it has none; secrets masked. Empty when the alias turns results off (`result.enabled: false`).
std::string FormatResult(const Json& alias, const Json& execution, const std::vector<std::string>& secrets);

}  // namespace squall::api::chatops
