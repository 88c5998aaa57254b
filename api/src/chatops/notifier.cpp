#include "chatops/notifier.hpp"

#include <httplib.h>

#include <algorithm>

#include "squall/core/id.hpp"
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

std::string Str(const Json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t UnixNow() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// The execution id of a watch key "<execution id>/<n>".
std::string ExecutionOfKey(const std::string& key) {
    return key.substr(0, key.find('/'));
}

}  // namespace

std::vector<std::string> ConfigSecrets(const packs::ContentSnapshot& snap) {
    std::vector<std::string> out;
    auto it = snap.config_secrets.find("chatops");
    if (it == snap.config_secrets.end()) return out;
    const Json config = snap.Config("chatops");
    for (const auto& key : it->second) {
        const std::string v = Str(config, key.c_str());
        if (!v.empty()) out.push_back(v);
    }
    return out;
}

std::vector<ChatTarget> AnnouncementTargets(const Json& config, const Json& payload) {
    std::vector<ChatTarget> out;
    const Json context = payload.value("context", Json::object());
    const std::string adapter = context.is_object() ? Str(context, "adapter") : "";
    const Json extra = payload.value("extra", Json::object());
    const std::string channel = Str(payload, "channel");
    const std::string user = Str(payload, "user");
    const bool whisper = payload.value("whisper", Json(false)) == Json(true) && !user.empty();
    auto extra_for = [&](const char* name, Json body) {
        if (extra.is_object() && extra.contains(name) && extra[name].is_object()) body.update(extra[name]);
        return body;
    };
    // As hubot's adapters: a whisper goes to the user directly (Slack: a DM, channel = the user's id; Mattermost:
    // "@user"), anything else to the channel.
    if ((adapter.empty() || adapter == "slack") && !Str(config, "slack_bot_token").empty()) {
        std::string api = Str(config, "slack_api_url");
        while (!api.empty() && api.back() == '/') api.pop_back();
        out.push_back(
            {api + "/chat.postMessage",
             Str(config, "slack_bot_token"),
             extra_for("slack", {{"channel", whisper ? user : channel}}),
             "slack_bot_token"}
        );
    }
    if ((adapter.empty() || adapter == "mattermost") && !Str(config, "mattermost_url").empty()) {
        out.push_back(
            {Str(config, "mattermost_url"),
             "",
             extra_for("mattermost", {{"channel", whisper ? "@" + user : channel}}),
             ""}
        );
    }
    if ((adapter.empty() || adapter == "generic") && !Str(config, "generic_callback_url").empty()) {
        Json body = {{"channel", channel}, {"user", user}, {"whisper", whisper}, {"route", "chatops"}};
        if (payload.contains("execution_id")) body["execution"] = payload["execution_id"];
        out.push_back({Str(config, "generic_callback_url"), "", extra_for("generic", body), ""});
    }
    return out;
}

std::string AnnouncementText(const Json& payload) {
    std::string text;
    const Json& message = payload.contains("message") ? payload["message"] : Json();
    if (message.is_string()) {
        text = message.get<std::string>();
    } else if (!message.is_null()) {
        text = message.dump();  // core.announcement's message is an object
    }
    const std::string user = Str(payload, "user");
    const bool whisper = payload.value("whisper", Json(false)) == Json(true);
    if (!user.empty() && !whisper) text = "@" + user + ": " + text;
    return text;
}

std::string FormatResult(const Json& alias, const Json& execution, const std::vector<std::string>& secrets) {
    const Json result = alias.value("result", Json::object());
    if (result.is_object() && !core::BoolOr(result, "enabled", true)) return "";
    const std::string status = execution.value("status", "");
    std::string text;
    const bool has_format = result.is_object() && result.contains("format") && result["format"].is_string();
    // StackStorm's Jinja environment for aliases: trim_blocks and lstrip_blocks (multi-line formats in packs rely on
    // them), undefined values print empty.
    core::RenderOptions options;
    options.stackstorm_whitespace = true;
    Result<std::string> rendered = core::RenderString(
        has_format ? result["format"].get<std::string>() : std::string(kDefaultResult),
        Json{{"execution", execution}},
        options
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

ChatNotifier::ChatNotifier(EventHub* hub, ApiDeps& deps, NotifierOptions options)
    : hub_(hub), deps_(deps), options_(options) {}

ChatNotifier::~ChatNotifier() {
    Stop();
}

void ChatNotifier::Start() {
    if (hub_) {
        watcher_ = std::thread([this] { WatchLoop(); });
        announcer_ = std::thread([this] { AnnounceLoop(); });
    }
    poster_ = std::thread([this] { PostLoop(); });
}

void ChatNotifier::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    if (announcer_.joinable()) announcer_.join();
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

Result<std::string> ChatNotifier::Persist(const PendingResult& p) {
    // Only what can be posted from another process: a URL (the token by its config key; the secrets to mask are
    // read from the config when it is posted).
    if (p.target.url.empty() || (!p.target.bearer.empty() && p.target.bearer_key.empty())) return std::string();
    auto& redis = *deps_.redis;
    const std::string index = redis.Key("chatops:watching");
    const int64_t now = UnixNow();
    Result<std::vector<core::RedisReply>> count =
        redis.PipelineBlocking({{"ZREMRANGEBYSCORE", index, "-inf", std::to_string(now)}, {"ZCARD", index}});
    if (!count) return count.error();
    if (static_cast<size_t>((*count)[1].integer) >= options_.max_pending)
        return Error(ErrorCode::kResourceExhausted, "too many chat commands are waiting for their results");
    const std::string key = p.execution_id + "/" + core::NewId();
    const Json record = {
        {"alias", p.alias}, {"url", p.target.url}, {"body", p.target.body}, {"bearer_key", p.target.bearer_key}};
    const int64_t ttl = std::max<int64_t>(1, p.timeout.count());
    Result<std::vector<core::RedisReply>> stored = redis.PipelineBlocking(
        {{"SET", redis.Key("chatops:watch:" + key), record.dump(), "EX", std::to_string(ttl + 60)},
         {"ZADD", index, std::to_string(now + ttl), key}}
    );
    if (!stored) return stored.error();
    for (const auto& r : *stored) {
        if (r.IsError()) return Internal("redis: " + r.str);
    }
    return key;
}

Status ChatNotifier::WatchResult(PendingResult p) {
    if (!hub_) return Unavailable("no execution event stream in this process: results cannot be posted");
    const std::string id = p.execution_id;
    {
        std::lock_guard lock(mu_);
        if (pending_.size() >= options_.max_pending)
            return Error(ErrorCode::kResourceExhausted, "too many chat commands are waiting for their results");
    }
    Result<std::string> key = Persist(p);
    if (!key) {
        if (key.error().code == ErrorCode::kResourceExhausted) return key.error();
        // Redis failed: watched by this process only (a restart of it loses the post).
        core::Logger("chatops")->warn(
            "chatops: cannot keep the watch of execution {} in Redis: {}", id, key.error().message
        );
        key = std::string();
    }
    {
        std::lock_guard lock(mu_);
        const auto deadline = std::chrono::steady_clock::now() + p.timeout;
        pending_.emplace(id, Watch{*key, std::move(p), deadline});
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

Result<std::optional<PendingResult>> ChatNotifier::TakeFromRedis(const std::string& key, bool want_details) {
    auto& redis = *deps_.redis;
    const std::string record_key = redis.Key("chatops:watch:" + key);
    Result<std::vector<core::RedisReply>> r =
        redis.PipelineBlocking({{"GET", record_key}, {"DEL", record_key}, {"ZREM", redis.Key("chatops:watching"), key}}
        );
    if (!r) return r.error();
    // Two processes may both read it; only the one whose DEL removed it posts.
    if ((*r)[1].IsError() || (*r)[1].integer != 1) return std::optional<PendingResult>();
    PendingResult p;
    p.execution_id = ExecutionOfKey(key);
    if (!want_details) return std::optional<PendingResult>(std::move(p));
    Json record = Json::parse((*r)[0].str, nullptr, false);
    if (!record.is_object()) return Internal("the watch of " + key + " is not JSON");
    p.alias = record.value("alias", Json::object());
    p.target.url = Str(record, "url");
    p.target.body = record.value("body", Json::object());
    p.target.bearer_key = Str(record, "bearer_key");
    Result<packs::ContentSnapshotPtr> snap = deps_.content_cache.GetBlocking();
    if (!snap) return snap.error();
    if (!p.target.bearer_key.empty()) p.target.bearer = Str((*snap)->Config("chatops"), p.target.bearer_key.c_str());
    p.secrets = ConfigSecrets(**snap);
    return std::optional<PendingResult>(std::move(p));
}

void ChatNotifier::Deliver(PendingResult& p, const Json& execution) {
    const std::string text = FormatResult(p.alias, execution, p.secrets);
    if (p.on_done) {
        p.on_done(text, execution);
    } else if (!text.empty()) {
        Post(p.target, text);
    }
}

void ChatNotifier::CompleteIfEnded(const std::string& id, const Json* execution) {
    Json record;
    if (execution) {
        record = *execution;
    } else {
        Result<Json> got = deps_.executions.GetBlocking(id);
        if (!got) return;  // looked at again on its event, or at the next catch-up
        record = std::move(*got);
    }
    if (!core::status::IsCompleted(record.value("status", ""))) return;
    std::vector<Watch> taken;
    {
        std::lock_guard lock(mu_);
        auto [first, last] = pending_.equal_range(id);
        for (auto it = first; it != last; ++it) taken.push_back(std::move(it->second));
        pending_.erase(first, last);  // another path of this process finds nothing now
    }
    // This process's own watches first: of two copies of one watch (its own and one adopted from Redis meanwhile),
    // the own one, which may have a waiting request, is the one that posts.
    std::stable_partition(taken.begin(), taken.end(), [](const Watch& w) { return w.local.has_value(); });
    for (Watch& w : taken) {
        std::optional<PendingResult> p = std::move(w.local);
        if (!w.key.empty()) {
            Result<std::optional<PendingResult>> from_redis = TakeFromRedis(w.key, !p.has_value());
            if (!from_redis) {
                // Redis failed: put it back; the next catch-up tries again.
                core::Logger("chatops")->warn(
                    "chatops: cannot take the watch of execution {}: {}", id, from_redis.error().message
                );
                std::lock_guard lock(mu_);
                w.local = std::move(p);
                pending_.emplace(id, std::move(w));
                continue;
            }
            if (!from_redis->has_value()) continue;  // another process posted it (or it expired)
            if (!p) p = std::move(*from_redis);
        }
        if (p) Deliver(*p, record);
    }
}

void ChatNotifier::Adopt() {
    auto& redis = *deps_.redis;
    const std::string index = redis.Key("chatops:watching");
    const int64_t now = UnixNow();
    Result<std::vector<core::RedisReply>> r = redis.PipelineBlocking(
        {{"ZREMRANGEBYSCORE", index, "-inf", std::to_string(now)},
         {"ZRANGEBYSCORE",
          index,
          "(" + std::to_string(now),
          "+inf",
          "WITHSCORES",
          "LIMIT",
          "0",
          std::to_string(options_.max_pending)}}
    );
    if (!r || (*r)[1].IsError()) return;  // looked up again at the next interval
    const auto& rows = (*r)[1].elements;
    size_t adopted = 0;
    std::lock_guard lock(mu_);
    for (size_t i = 0; i + 1 < rows.size(); i += 2) {
        const std::string& key = rows[i].str;
        const std::string id = ExecutionOfKey(key);
        bool held = false;
        auto [first, last] = pending_.equal_range(id);
        for (auto it = first; it != last; ++it) held = held || it->second.key == key;
        if (held || pending_.size() >= options_.max_pending) continue;
        const int64_t left = std::max<int64_t>(0, std::atoll(rows[i + 1].str.c_str()) - now);
        pending_.emplace(id, Watch{key, std::nullopt, std::chrono::steady_clock::now() + std::chrono::seconds(left)});
        ++adopted;
    }
    if (adopted) core::Logger("chatops")->info("chatops: watching {} executions kept in Redis", adopted);
}

void ChatNotifier::CatchUp() {
    std::vector<std::string> ids;
    {
        std::lock_guard lock(mu_);
        const auto now = std::chrono::steady_clock::now();
        for (auto it = pending_.begin(); it != pending_.end();) {
            if (it->second.deadline < now) {
                core::Logger("chatops")->warn(
                    "chatops: execution {} did not end in time; its result will not be posted", it->first
                );
                it = pending_.erase(it);  // its Redis copy expires by itself
            } else {
                if (ids.empty() || ids.back() != it->first) ids.push_back(it->first);
                ++it;
            }
        }
    }
    for (const auto& id : ids) CompleteIfEnded(id, nullptr);
}

void ChatNotifier::WatchLoop() {
    StreamSubscriberPtr sub;
    auto last_sweep = std::chrono::steady_clock::now();
    auto last_adopt = std::chrono::steady_clock::now();
    Adopt();  // what a previous run of this process (or another one) left watched
    while (true) {
        bool idle = false;
        {
            std::lock_guard lock(mu_);
            if (stopping_) break;
            idle = pending_.empty();
        }
        if (std::chrono::steady_clock::now() - last_adopt > options_.adopt_interval) {
            last_adopt = std::chrono::steady_clock::now();
            Adopt();
            continue;
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
            cv_.wait_for(lock, options_.adopt_interval, [this] { return stopping_ || !pending_.empty(); });
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

void ChatNotifier::HandleAnnouncement(const StreamMessage& m) {
    auto log = core::Logger("chatops");
    // Every API process sees each announcement; one posts it.
    Result<core::RedisReply> first = deps_.redis->CommandBlocking(
        {"SET", deps_.redis->Key("chatops:announcement:" + m.entry_id), "1", "NX", "EX", "86400"}
    );
    if (!first || first->IsError()) {
        log->warn("chatops: cannot claim announcement {}; not posted", m.entry_id);
        return;
    }
    if (first->IsNil()) return;
    const Json payload = m.data.value("payload", Json::object());
    if (!payload.is_object()) return;
    Result<packs::ContentSnapshotPtr> snap = deps_.content_cache.GetBlocking();
    if (!snap) {
        log->warn("chatops: cannot read the chatops config; announcement {} not posted", m.entry_id);
        return;
    }
    const std::vector<ChatTarget> targets = AnnouncementTargets((*snap)->Config("chatops"), payload);
    if (targets.empty()) {
        log->warn(
            "chatops: announcement {} for channel \"{}\" not posted: no chat adapter is configured for it",
            m.entry_id,
            Str(payload, "channel")
        );
        return;
    }
    const std::vector<std::string> secrets = ConfigSecrets(**snap);
    const std::string execution_id = Str(payload, "execution_id");
    if (!payload.contains("message") && !execution_id.empty()) {
        // chatops.post_result: the execution's result as its alias would post it, now or when it ends.
        Result<Json> execution = deps_.executions.GetBlocking(execution_id);
        if (!execution) {
            log->warn("chatops: post_result: execution {} not found", execution_id);
            return;
        }
        const std::string alias_ref = (*execution).value("context", Json::object()).value("action_alias_ref", "");
        auto alias = (*snap)->aliases.find(alias_ref);
        for (const ChatTarget& t : targets) {
            PendingResult p;
            p.execution_id = execution_id;
            p.alias = alias != (*snap)->aliases.end() ? alias->second : Json::object();
            p.target = t;
            p.secrets = secrets;
            if (core::status::IsCompleted((*execution).value("status", ""))) {
                Deliver(p, *execution);
            } else if (Status s = WatchResult(std::move(p)); !s) {
                log->warn("chatops: post_result: {}", s.error().message);
            }
        }
        return;
    }
    const std::string text = core::SecretMasker(secrets).Text(AnnouncementText(payload));
    for (const ChatTarget& t : targets) Post(t, text);
}

void ChatNotifier::AnnounceLoop() {
    StreamSubscriberPtr sub;
    while (true) {
        {
            std::lock_guard lock(mu_);
            if (stopping_) break;
        }
        if (!sub) {
            // Announcements only: the hub reads just the small announcement stream for this subscriber.
            StreamFilter filter;
            filter.events = {"st2.announcement__chatops"};
            sub = hub_->Subscribe(filter);
        }
        std::vector<StreamMessagePtr> messages;
        bool end = false;
        const bool alive = sub->Take(messages, &end, std::chrono::milliseconds(250));
        for (const auto& m : messages) HandleAnnouncement(*m);
        if (!alive) {
            hub_->Unsubscribe(sub);
            sub = nullptr;
            std::unique_lock lock(mu_);
            cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_; });
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
