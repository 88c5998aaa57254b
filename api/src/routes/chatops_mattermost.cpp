// The Mattermost adapter (docs/chatops.md): POST /api/v1/chatops/mattermost takes outgoing-webhook deliveries (form
// or JSON). Mattermost signs nothing: the delivery's `token` must equal the chatops config's mattermost_token
// (compared in constant time). The ack is the answer; the result is posted to the incoming webhook mattermost_url.
#include <openssl/crypto.h>

#include "chatops/alias_service.hpp"
#include "chatops/notifier.hpp"
#include "chatops/slack.hpp"
#include "http.hpp"
#include "squall/core/input.hpp"
#include "squall/core/mask.hpp"

namespace squall::api {
namespace {

std::string Field(const Json& j, const std::string& key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

void RegisterChatOpsMattermostRoutes(Router& r, ApiDeps& d, chatops::ChatNotifier& notifier) {
    r.PostRaw(
        "/chatops/mattermost",
        [&d, &notifier](const httplib::Request& req, httplib::Response& res) {
            Result<packs::ContentSnapshotPtr> snap = d.content_cache.RecheckBlocking();
            if (!snap) return SendError(res, snap.error());
            const Json config = (*snap)->Config("chatops");
            const std::string token = Field(config, "mattermost_token");
            if (token.empty()) {
                return SendError(
                    res,
                    Error(
                        ErrorCode::kPermissionDenied,
                        "chatops: mattermost_token is not set (squall pack config chatops mattermost_token=...)"
                    )
                );
            }
            Json fields = Json::object();
            const size_t first = req.body.find_first_not_of(" \t\r\n");
            if (first != std::string::npos && req.body[first] == '{') {
                Result<Json> body = core::ParseJsonLimited(req.body, "body");
                if (!body || !body->is_object()) return SendError(res, InvalidArgument("body: not a JSON object"));
                fields = std::move(*body);
            } else {
                for (auto& [k, v] : chatops::ParseForm(req.body)) fields[k] = v;
            }
            const std::string given = Field(fields, "token");
            if (given.size() != token.size() || CRYPTO_memcmp(given.data(), token.data(), token.size()) != 0)
                return SendError(res, Error(ErrorCode::kUnauthenticated, "token: not this chatops' Mattermost token"));

            std::vector<std::string> secrets;
            if (auto it = (*snap)->config_secrets.find("chatops"); it != (*snap)->config_secrets.end()) {
                for (const auto& k : it->second) {
                    const std::string v = Field(config, k);
                    if (!v.empty()) secrets.push_back(v);
                }
            }
            const core::SecretMasker masker(secrets);
            std::string text = Field(fields, "text");
            const std::string trigger = Field(fields, "trigger_word");
            if (!trigger.empty() && text.rfind(trigger, 0) == 0) text.erase(0, trigger.size());
            const std::string command = chatops::CommandText(text);
            chatops::AliasCaller caller;
            caller.requester = "chatops";
            caller.user = Field(fields, "user_name");
            caller.user_id = Field(fields, "user_id");
            caller.allow = config.value("allow", Json());
            caller.source_channel = Field(fields, "channel_name");
            caller.source_context = {
                {"adapter", "mattermost"},
                {"team_id", Field(fields, "team_id")},
                {"channel_id", Field(fields, "channel_id")},
                {"post_id", Field(fields, "post_id")}};
            auto answer = [&res](const std::string& t) {
                SendJson(res, 200, {{"response_type", "comment"}, {"text", t}});
            };
            if (command.empty()) return answer("Nothing to run: type a command after the trigger word.");
            Result<aliases::AliasMatch> m = chatops::IndexFor(**snap)->Match(command);
            if (!m) return answer("Sorry, I cannot run that: " + masker.Text(m.error().message));
            Result<chatops::AliasRun> run = chatops::ExecuteAlias(d, m->alias, m->representation, command, caller);
            if (!run) return answer("Sorry, " + m->ref + " did not start: " + masker.Text(run.error().message));
            const std::string url = Field(config, "mattermost_url");
            if (!url.empty()) {
                chatops::PendingResult p;
                p.execution_id = run->execution_id;
                p.alias = m->alias;
                p.target = {url, "", {{"channel", caller.source_channel}}, ""};
                p.secrets = secrets;
                if (Status s = notifier.WatchResult(std::move(p)); !s)
                    notifier.Post({url, "", {{"channel", caller.source_channel}}, ""}, s.error().message);
            }
            const Json ack = m->alias.value("ack", Json::object());
            if (ack.is_object() && !core::BoolOr(ack, "enabled", true)) return answer("");
            answer(masker.Text(
                (run->body.contains("message") && run->body["message"].is_string()
                     ? run->body["message"].get<std::string>()
                     : "Running " + m->alias.value("action_ref", "") + " (execution " + run->execution_id + ").") +
                chatops::AckUrlSuffix(m->alias, config, run->execution_id)
            ));
        },
        false
    );
}

}  // namespace squall::api
