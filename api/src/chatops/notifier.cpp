#include "chatops/notifier.hpp"

#include <httplib.h>

#include "squall/core/log.hpp"
#include "squall/core/mask.hpp"
#include "squall/templates/template.hpp"

namespace squall::api::chatops {
namespace {

constexpr const char* kDefaultResult =
    "{% if execution.result.stdout is defined and execution.result.stdout %}{{ execution.result.stdout }}"
    "{% elif execution.result.stderr is defined and execution.result.stderr %}{{ execution.result.stderr }}"
    "{% else %}{{ execution.result }}{% endif %}";

/// "http://host:port" and "/path?query" of a URL; false when it is not http(s).
bool SplitUrl(const std::string& url, std::string* origin, std::string* path) {
    const size_t scheme = url.find("://");
    if (scheme == std::string::npos) return false;
    const std::string s = url.substr(0, scheme);
    if (s != "http" && s != "https") return false;
    const size_t slash = url.find('/', scheme + 3);
    *origin = url.substr(0, slash);
    *path = slash == std::string::npos ? "/" : url.substr(slash);
    return true;
}

}  // namespace

std::string FormatResult(const Json& alias, const Json& execution, const std::vector<std::string>& secrets) {
    const Json result = alias.value("result", Json::object());
    if (result.is_object() && !core::BoolOr(result, "enabled", true)) return "";
    const std::string status = execution.value("status", "");
    std::string text;
    const bool has_format = result.is_object() && result.contains("format") && result["format"].is_string();
    Result<std::string> rendered = core::RenderString(
        has_format ? result["format"].get<std::string>() : std::string(kDefaultResult), Json{{"execution", execution}}
    );
    if (rendered) {
        text = *rendered;
    } else {
        text = "Cannot render \"format\" in field \"result\" for alias. " + rendered.error().message;
    }
    // StackStorm splits plain text from an attachment with {~}; chat text gets both parts.
    for (size_t p; (p = text.find("{~}")) != std::string::npos;) text.replace(p, 3, "\n");
    if (!has_format) {
        text = "Execution " + execution.value("id", "") + " " + status + (text.empty() ? "." : ":\n" + text);
    }
    return core::SecretMasker(secrets).Text(text);
}

ChatNotifier::ChatNotifier(EventHub* hub, executions::ExecutionStore& store, NotifierOptions options)
    : hub_(hub), store_(store), options_(options) {}

ChatNotifier::~ChatNotifier() {
    Stop();
}

void ChatNotifier::Start() {
    if (hub_) watcher_ = std::thread([this] { WatchLoop(); });
    poster_ = std::thread([this] { PostLoop(); });
}

void ChatNotifier::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    if (poster_.joinable()) poster_.join();
}

bool ChatNotifier::Post(const ChatTarget& target, const std::string& text) {
    {
        std::lock_guard lock(mu_);
        if (stopping_ || posts_.size() >= options_.max_posts) {
            core::Logger("chatops")->warn(
                "chatops: the post queue is full ({} posts); an answer was dropped", posts_.size()
            );
            return false;
        }
        posts_.emplace_back(target, text);
    }
    cv_.notify_all();
    return true;
}

Status ChatNotifier::WatchResult(PendingResult p) {
    if (!hub_) return Unavailable("no execution event stream in this process: results cannot be posted");
    const std::string id = p.execution_id;
    {
        std::lock_guard lock(mu_);
        if (pending_.size() >= options_.max_pending)
            return Error(ErrorCode::kResourceExhausted, "too many chat commands are waiting for their results");
        const auto deadline = std::chrono::steady_clock::now() + p.timeout;
        pending_[id] = {std::move(p), deadline};
    }
    cv_.notify_all();  // an idle watch loop subscribes now
    // It may have ended before it was watched (a fast action): look once now.
    CompleteIfEnded(id, nullptr);
    return {};
}

size_t ChatNotifier::posted() const {
    std::lock_guard lock(mu_);
    return posted_;
}

size_t ChatNotifier::pending() const {
    std::lock_guard lock(mu_);
    return pending_.size();
}

void ChatNotifier::CompleteIfEnded(const std::string& id, const Json* execution) {
    Json record;
    if (execution) {
        record = *execution;
    } else {
        Result<Json> got = store_.GetBlocking(id);
        if (!got) return;  // looked at again on its event, or at the next catch-up
        record = std::move(*got);
    }
    if (!core::status::IsCompleted(record.value("status", ""))) return;
    PendingResult p;
    {
        std::lock_guard lock(mu_);
        auto it = pending_.find(id);
        if (it == pending_.end()) return;  // another path posted it
        p = std::move(it->second.first);
        pending_.erase(it);
    }
    const std::string text = FormatResult(p.alias, record, p.secrets);
    if (p.on_done) {
        p.on_done(text, record);
    } else if (!text.empty()) {
        Post(p.target, text);
    }
}

void ChatNotifier::CatchUp() {
    std::vector<std::string> ids;
    {
        std::lock_guard lock(mu_);
        const auto now = std::chrono::steady_clock::now();
        for (auto it = pending_.begin(); it != pending_.end();) {
            if (it->second.second < now) {
                core::Logger("chatops")->warn(
                    "chatops: execution {} did not end in time; its result will not be posted", it->first
                );
                it = pending_.erase(it);
            } else {
                ids.push_back(it->first);
                ++it;
            }
        }
    }
    for (const auto& id : ids) CompleteIfEnded(id, nullptr);
}

void ChatNotifier::WatchLoop() {
    StreamSubscriberPtr sub;
    auto last_sweep = std::chrono::steady_clock::now();
    while (true) {
        bool idle = false;
        {
            std::lock_guard lock(mu_);
            if (stopping_) break;
            idle = pending_.empty();
        }
        if (idle) {
            // Nothing is watched: hold no subscription, so that the event hub, which reads the execution event
            // stream only while someone listens, costs the hot path nothing. A watched command wakes us; what ends
            // before the subscription is in place is found by CatchUp below.
            if (sub) {
                hub_->Unsubscribe(sub);
                sub = nullptr;
            }
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
            continue;
        }
        if (!sub) {
            StreamFilter filter;
            filter.events = {"st2.execution__update"};
            sub = hub_->Subscribe(filter);
            CatchUp();  // what ended while nobody listened
        }
        std::vector<StreamMessagePtr> messages;
        bool end = false;
        const bool alive = sub->Take(messages, &end, std::chrono::milliseconds(250));
        for (const auto& m : messages) {
            if (!core::status::IsCompleted(m->status)) continue;
            bool watched = false;
            {
                std::lock_guard lock(mu_);
                watched = pending_.contains(m->execution_id);
            }
            if (watched) CompleteIfEnded(m->execution_id, nullptr);
        }
        if (!alive) {  // dropped (fell behind) or the hub stopping: subscribe again and catch up
            hub_->Unsubscribe(sub);
            sub = nullptr;
            std::unique_lock lock(mu_);
            cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_; });
        }
        if (std::chrono::steady_clock::now() - last_sweep > std::chrono::seconds(30)) {
            last_sweep = std::chrono::steady_clock::now();
            CatchUp();
        }
    }
    if (sub) hub_->Unsubscribe(sub);
}

void ChatNotifier::PostLoop() {
    while (true) {
        std::pair<ChatTarget, std::string> job;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !posts_.empty(); });
            if (posts_.empty()) return;  // stopping with nothing left
            if (stopping_ && posts_.empty()) return;
            job = std::move(posts_.front());
            posts_.pop_front();
        }
        std::string origin, path;
        if (!SplitUrl(job.first.url, &origin, &path)) {
            core::Logger("chatops")->warn("chatops: cannot post an answer: the target is not an http(s) URL");
            continue;
        }
        httplib::Client client(origin);
        client.set_connection_timeout(options_.post_timeout);
        client.set_read_timeout(options_.post_timeout);
        client.set_write_timeout(options_.post_timeout);
        httplib::Headers headers;
        if (!job.first.bearer.empty()) headers.emplace("Authorization", "Bearer " + job.first.bearer);
        Json body = job.first.body;
        body["text"] = job.second;
        httplib::Result r = client.Post(path, headers, body.dump(), "application/json; charset=utf-8");
        if (!r || r->status / 100 != 2) {
            // The URL may carry a token (Slack's response_url): only its origin is logged.
            core::Logger("chatops")->warn(
                "chatops: posting an answer to {} failed: {}",
                origin,
                r ? "HTTP " + std::to_string(r->status) : httplib::to_string(r.error())
            );
        }
        std::lock_guard lock(mu_);
        ++posted_;
    }
}

}  // namespace squall::api::chatops
