// The generic JSON chat adapter (docs/chatops.md): any bot POSTs {command, user, channel, source} to
// /api/v1/chatops/generic with an API key (or the chatops config's generic_api_key as X-Chatops-Key) and gets the
// ack; the result is posted to the configured generic_callback_url, or returned when `?wait=SECONDS` is given and
// the execution ends in time.
#include <openssl/crypto.h>

#include <condition_variable>
#include <mutex>

#include "chatops/alias_service.hpp"
#include "chatops/notifier.hpp"
#include "http.hpp"
#include "squall/core/mask.hpp"

namespace squall::api {
namespace {

std::string Field(const Json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

/// The rendezvous of a waiting request and the notifier: whoever comes second decides where the result goes.
struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    bool gave_up = false;
    std::string text;
    Json execution;
};

}  // namespace

void RegisterChatOpsGenericRoutes(Router& r, ApiDeps& d, chatops::ChatNotifier& notifier) {
    r.Post(
        "/chatops/generic",
        [&d, &r, &notifier](const httplib::Request& req, httplib::Response& res) {
            Result<packs::ContentSnapshotPtr> snap = d.content_cache.RecheckBlocking();
            if (!snap) return SendError(res, snap.error());
            const Json config = (*snap)->Config("chatops");
            // Either an API key, or the adapter's own key (compared in constant time).
            const std::string given = req.get_header_value("X-Chatops-Key");
            const std::string key = Field(config, "generic_api_key");
            const bool key_ok = !given.empty() && given.size() == key.size() &&
                                CRYPTO_memcmp(given.data(), key.data(), key.size()) == 0;
            std::string requester = "chatops";
            if (!key_ok) {
                Result<std::string> user = r.User(req);
                if (!user) return SendError(res, user.error());
                requester = *user;
            }
            Result<size_t> wait = QueryCount(req, "wait", 0, 300);
            if (!wait) return SendError(res, wait.error());
            Result<Json> body = ParseObjectBody(req);
            if (!body) return SendError(res, body.error());
            const std::string command = Field(*body, "command");
            if (command.empty())
                return SendError(res, InvalidArgument("body: \"command\" (the chat text) is required"));
            std::vector<std::string> secrets;
            if (auto it = (*snap)->config_secrets.find("chatops"); it != (*snap)->config_secrets.end()) {
                for (const auto& k : it->second) {
                    const std::string v = Field(config, k.c_str());
                    if (!v.empty()) secrets.push_back(v);
                }
            }
            const core::SecretMasker masker(secrets);
            chatops::AliasCaller caller;
            caller.requester = requester;
            caller.user = Field(*body, "user");
            caller.allow = config.value("allow", Json());
            caller.source_channel = Field(*body, "channel");
            caller.source_context = {{"adapter", "generic"}, {"source", Field(*body, "source")}};
            Result<aliases::AliasMatch> m = chatops::IndexFor(**snap)->Match(command);
            if (!m) {
                Error e = m.error();
                e.code = ErrorCode::kInvalidArgument;
                e.message = masker.Text(e.message);
                return SendError(res, e);
            }
            Result<chatops::AliasRun> run = chatops::ExecuteAlias(d, m->alias, m->representation, command, caller);
            if (!run) return SendError(res, run.error());
            std::string ack =
                masker.Text(run->body.value("message", Json("")).is_string() ? run->body.value("message", "") : "");
            const std::string url_suffix = chatops::AckUrlSuffix(m->alias, config, run->execution_id);
            if (!url_suffix.empty()) ack = ack.empty() ? url_suffix.substr(1) : ack + url_suffix;
            Json answer = {{"ok", true}, {"text", ack}, {"execution", run->execution_id}, {"alias", m->ref}};

            chatops::ChatTarget callback{
                Field(config, "generic_callback_url"),
                "",
                {{"channel", caller.source_channel}, {"user", caller.user}, {"execution", run->execution_id}},
                ""};
            chatops::PendingResult p;
            p.execution_id = run->execution_id;
            p.alias = m->alias;
            p.target = callback;
            p.secrets = secrets;
            auto waiter = std::make_shared<Waiter>();
            if (*wait > 0) {
                p.on_done = [waiter, callback, &notifier](const std::string& text, const Json& execution) {
                    std::lock_guard lock(waiter->mu);
                    if (waiter->gave_up) {
                        if (!callback.url.empty() && !text.empty()) notifier.Post(callback, text);
                        return;
                    }
                    waiter->done = true;
                    waiter->text = text;
                    waiter->execution = execution;
                    waiter->cv.notify_all();
                };
            } else if (callback.url.empty()) {
                return SendJson(res, 201, answer);  // nobody to tell the result to
            }
            if (Status s = notifier.WatchResult(std::move(p)); !s) {
                answer["warning"] = s.error().message;
                return SendJson(res, 201, answer);
            }
            if (*wait == 0) return SendJson(res, 201, answer);
            std::unique_lock lock(waiter->mu);
            if (waiter->cv.wait_for(lock, std::chrono::seconds(*wait), [&] { return waiter->done; })) {
                answer["result"] = waiter->text;
                answer["status"] = waiter->execution.value("status", "");
                return SendJson(res, 200, answer);
            }
            waiter->gave_up = true;
            answer["result"] = nullptr;
            answer["status"] = "running";
            SendJson(res, 202, answer);
        },
        false
    );
}

}  // namespace squall::api
