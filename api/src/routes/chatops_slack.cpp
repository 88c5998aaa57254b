// The Slack adapter (SPEC §9, docs/chatops.md): POST /api/v1/chatops/slack takes slash commands and Events API
// deliveries, signed with the chatops pack's slack_signing_secret. A command is matched against the action aliases
// and run through ExecutionService; the ack is the answer (slash commands) or a chat.postMessage (events), and the
// result is posted when the execution ends (ChatNotifier).
#include "chatops/alias_service.hpp"
#include "chatops/notifier.hpp"
#include "chatops/slack.hpp"
#include "http.hpp"
#include "squall/core/input.hpp"
#include "squall/core/mask.hpp"

namespace squall::api {
namespace {

using chatops::ChatNotifier;
using chatops::ChatTarget;

/// What a chat command came to: the text to answer with and the execution it started (empty: none).
struct CommandOutcome {
    bool ran = false;
    std::string text;
    std::string execution_id;
    Json alias;
};

std::string Str(const Json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

/// The values of the chatops config's secret keys, to mask in what is posted.
std::vector<std::string> Secrets(const packs::ContentSnapshot& snap, const Json& config) {
    std::vector<std::string> out;
    auto it = snap.config_secrets.find("chatops");
    if (it == snap.config_secrets.end()) return out;
    for (const auto& key : it->second) {
        auto found = config.find(key);
        if (found != config.end() && found->is_string() && !found->get<std::string>().empty())
            out.push_back(found->get<std::string>());
    }
    return out;
}

CommandOutcome RunCommand(
    ApiDeps& d,
    const packs::ContentSnapshot& snap,
    const std::string& command,
    const chatops::AliasCaller& caller,
    const core::SecretMasker& masker
) {
    CommandOutcome out;
    if (command.empty()) {
        out.text = "Nothing to run: type a command (the action aliases' formats; GET /api/v1/actionalias/help).";
        return out;
    }
    Result<aliases::AliasMatch> m = chatops::IndexFor(snap)->Match(command);
    if (!m) {
        out.text = "Sorry, I cannot run that: " + masker.Text(m.error().message);
        return out;
    }
    Result<chatops::AliasRun> run = chatops::ExecuteAlias(d, m->alias, m->representation, command, caller);
    if (!run) {
        out.text = "Sorry, " + m->ref + " did not start: " + masker.Text(run.error().message);
        return out;
    }
    out.ran = true;
    out.execution_id = run->execution_id;
    out.alias = m->alias;
    const Json ack = m->alias.value("ack", Json::object());
    if (ack.is_object() && !core::BoolOr(ack, "enabled", true)) return out;
    if (run->body.contains("message") && run->body["message"].is_string()) {
        out.text = run->body["message"].get<std::string>();
    } else {
        out.text = "Running " + m->alias.value("action_ref", "") + " for " + caller.user + " (execution " +
                   run->execution_id + ").";
    }
    out.text = masker.Text(out.text + chatops::AckUrlSuffix(m->alias, snap.Config("chatops"), run->execution_id));
    return out;
}

void Watch(
    ChatNotifier& notifier,
    const CommandOutcome& o,
    const ChatTarget& target,
    const std::vector<std::string>& secrets,
    const Json& config
) {
    if (!o.ran || target.url.empty()) return;
    chatops::PendingResult p;
    p.execution_id = o.execution_id;
    p.alias = o.alias;
    p.target = target;
    p.secrets = secrets;
    const Json timeout = config.value("result_timeout", Json(3600));
    if (timeout.is_number_integer() && timeout.get<int64_t>() > 0)
        p.timeout = std::chrono::seconds(timeout.get<int64_t>());
    if (Status s = notifier.WatchResult(std::move(p)); !s)
        notifier.Post(
            target, "The result of execution " + o.execution_id + " will not be posted: " + s.error().message
        );
}

}  // namespace

void RegisterChatOpsSlackRoutes(Router& r, ApiDeps& d, ChatNotifier& notifier) {
    r.PostRaw(
        "/chatops/slack",
        [&d, &notifier](const httplib::Request& req, httplib::Response& res) {
            // The config as of now: a secret changed a moment ago is the one that counts.
            Result<packs::ContentSnapshotPtr> snap = d.content_cache.RecheckBlocking();
            if (!snap) return SendError(res, snap.error());
            const Json config = (*snap)->Config("chatops");
            const std::string secret = Str(config, "slack_signing_secret");
            if (secret.empty()) {
                return SendError(
                    res,
                    Error(
                        ErrorCode::kPermissionDenied,
                        "chatops: slack_signing_secret is not set (squall pack config chatops slack_signing_secret=...)"
                    )
                );
            }
            const int64_t now =
                std::chrono::duration_cast<std::chrono::seconds>(d.clock.Now().time_since_epoch()).count();
            if (Status v = chatops::VerifySlackSignature(
                    secret,
                    req.get_header_value("X-Slack-Request-Timestamp"),
                    req.get_header_value("X-Slack-Signature"),
                    req.body,
                    now
                );
                !v) {
                return SendError(res, v.error());
            }
            const std::vector<std::string> secrets = Secrets(**snap, config);
            const core::SecretMasker masker(secrets);
            const size_t first = req.body.find_first_not_of(" \t\r\n");
            const bool is_json = first != std::string::npos && req.body[first] == '{';

            if (!is_json) {  // a slash command
                std::map<std::string, std::string> form = chatops::ParseForm(req.body);
                chatops::AliasCaller caller;
                caller.requester = "chatops";
                caller.user = !form["user_name"].empty() ? form["user_name"] : form["user_id"];
                caller.user_id = form["user_id"];
                caller.allow = config.value("allow", Json());
                caller.source_channel = form["channel_id"];
                caller.source_context = {
                    {"adapter", "slack"},
                    {"team_id", form["team_id"]},
                    {"user_id", form["user_id"]},
                    {"command", form["command"]}};
                const std::string command = chatops::CommandText(form["text"]);
                CommandOutcome o = RunCommand(d, **snap, command, caller, masker);
                ChatTarget target{form["response_url"], "", {{"response_type", "in_channel"}}, ""};
                Watch(notifier, o, target, secrets, config);
                return SendJson(res, 200, {{"response_type", o.ran ? "in_channel" : "ephemeral"}, {"text", o.text}});
            }

            Result<Json> body = core::ParseJsonLimited(req.body, "body");
            if (!body || !body->is_object()) return SendError(res, InvalidArgument("body: not a JSON object"));
            const std::string type = Str(*body, "type");
            if (type == "url_verification") return SendJson(res, 200, {{"challenge", Str(*body, "challenge")}});
            if (type != "event_callback" || !(*body)["event"].is_object())
                return SendJson(res, 200, {{"ok", true}, {"ignored", "not an event_callback"}});
            // Slack retries a delivery it thinks was not acknowledged: one event_id runs once (in every process).
            const std::string event_id = Str(*body, "event_id");
            if (!event_id.empty()) {
                Result<core::RedisReply> first_time = d.redis->CommandBlocking(
                    {"SET", d.redis->Key("chatops:slack:event:" + event_id), "1", "NX", "EX", "86400"}
                );
                if (!first_time) return SendError(res, first_time.error());
                if (first_time->IsNil())
                    return SendJson(
                        res, 200, {{"ok", true}, {"ignored", "event " + event_id + " was handled already"}}
                    );
            }
            const Json& ev = (*body)["event"];
            const std::string user = Str(ev, "user");
            const std::string bot_user = Str(config, "slack_bot_user_id");
            if (ev.contains("bot_id") || ev.contains("subtype") || user.empty() ||
                (!bot_user.empty() && user == bot_user))
                return SendJson(res, 200, {{"ok", true}, {"ignored", "a bot's message or an edit"}});
            const std::string text = Str(ev, "text");
            const std::string ev_type = Str(ev, "type");
            const size_t first_char = text.find_first_not_of(' ');
            const bool bang = first_char != std::string::npos && text[first_char] == '!';
            // Mentions arrive as app_mention; in channels a plain message is a command only with the ! prefix.
            const bool addressed =
                ev_type == "app_mention" || (ev_type == "message" && (Str(ev, "channel_type") == "im" || bang));
            if (!addressed) return SendJson(res, 200, {{"ok", true}, {"ignored", "not addressed to the bot"}});
            chatops::AliasCaller caller;
            caller.requester = "chatops";
            caller.user = user;
            caller.user_id = user;
            caller.allow = config.value("allow", Json());
            caller.source_channel = Str(ev, "channel");
            caller.source_context = {{"adapter", "slack"}, {"team_id", Str(*body, "team_id")}, {"event_id", event_id}};
            CommandOutcome o = RunCommand(d, **snap, chatops::CommandText(text), caller, masker);
            std::string api = Str(config, "slack_api_url");
            while (!api.empty() && api.back() == '/') api.pop_back();
            ChatTarget target{
                api + "/chat.postMessage",
                Str(config, "slack_bot_token"),
                {{"channel", caller.source_channel}},
                "slack_bot_token"};
            if (!o.text.empty()) notifier.Post(target, o.text);
            Watch(notifier, o, target, secrets, config);
            SendJson(res, 200, {{"ok", true}, {"execution", o.execution_id}});
        },
        false
    );
}

}  // namespace squall::api
