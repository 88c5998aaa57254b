#pragma once

// Posting ChatOps answers (docs/chatops.md): acks of Events API commands; when an alias execution ends, its result
// formatted with the alias's `result.format`; and the announcements of route `chatops` (chatops.post_message,
// chatops.post_result). Executions are watched through the API's EventHub (subscribed only while something is
// watched: no polling, no extra Redis connection). Watches whose answer goes to a URL are also kept in Redis
// (`chatops:watch:*`, bounded, with expiry), so that a restarted or another API process posts the result, once.
// Three threads: the watcher, which takes execution events and renders; the announcer, which takes announcements;
// and the poster, which makes the HTTP calls (5 s timeouts) from a bounded queue, so a slow chat server never holds
// back the event stream.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "event_stream.hpp"
#include "squall/api/server.hpp"
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
    /// The chatops config key `bearer` comes from: a watch kept in Redis stores this name, never the token.
    std::string bearer_key;
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
    size_t max_pending = 10000;  ///< executions watched at once (here and in Redis); past it no result is promised
    size_t max_posts = 1000;     ///< queued posts; past it a post is dropped (and logged)
    std::chrono::seconds post_timeout{5};
    std::chrono::seconds adopt_interval{30};  ///< how often watches kept in Redis by other processes are looked up
};

class ChatNotifier {
public:
    /// `hub` may be null (no event stream): results and announcements are then not posted.
    ChatNotifier(EventHub* hub, ApiDeps& deps, NotifierOptions options = {});
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
    /// One watch. `local` is empty for a watch adopted from Redis (its details are read when it is taken).
    struct Watch {
        std::string key;  ///< "<execution id>/<n>": the member of the Redis index, empty when not kept there
        std::optional<PendingResult> local;
        std::chrono::steady_clock::time_point deadline;
    };

    void WatchLoop();
    void AnnounceLoop();
    void PostLoop();
    /// Takes the execution's watches (so only one caller, in any process, posts each) and posts their results if
    /// it has ended.
    void CompleteIfEnded(const std::string& id, const Json* execution);
    /// Posts one taken watch's result.
    void Deliver(PendingResult& p, const Json& execution);
    void CatchUp();
    /// Loads the watches kept in Redis that this process does not hold (a restart, another process's commands).
    void Adopt();
    /// Keeps `p` in Redis; returns its key, empty when it cannot be kept (memory only).
    Result<std::string> Persist(const PendingResult& p);
    /// An adopted watch's details, read back from Redis (GET + DEL: only the caller that deletes it posts).
    /// nullopt: another process took it (or it expired).
    Result<std::optional<PendingResult>> TakeFromRedis(const std::string& key, bool want_details);
    void HandleAnnouncement(const StreamMessage& m);

    EventHub* hub_;
    ApiDeps& deps_;
    const NotifierOptions options_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::multimap<std::string, Watch> pending_;  ///< by execution id
    std::deque<std::pair<ChatTarget, std::string>> posts_;
    size_t posted_ = 0;
    std::thread watcher_;
    std::thread announcer_;
    std::thread poster_;
};

/// The text of an ended alias execution: the alias's `result.format` (Jinja over `execution`), or a summary when
/// it has none; secrets masked. Empty when the alias turns results off (`result.enabled: false`).
std::string FormatResult(const Json& alias, const Json& execution, const std::vector<std::string>& secrets);

/// The values of the chatops config's secret keys (masked in everything posted to a chat).
std::vector<std::string> ConfigSecrets(const packs::ContentSnapshot& snap);

/// Where an announcement of route `chatops` goes ({message | execution_id, channel, user, whisper, context,
/// extra}): through the adapter `context.adapter` names, or every configured one (Slack chat.postMessage, the
/// Mattermost incoming webhook, the generic callback URL); `whisper` with a `user` goes to that user directly.
std::vector<ChatTarget> AnnouncementTargets(const Json& config, const Json& payload);
/// The text of a post_message announcement: `message`, addressed to `user` ("@user: message") unless whispered.
std::string AnnouncementText(const Json& payload);

}  // namespace squall::api::chatops
