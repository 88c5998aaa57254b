#include "http.hpp"
#include "queue_depth.hpp"
#include "webhook_lane.hpp"

#include <algorithm>
#include <cctype>

#include "squall/core/input.hpp"

namespace squall::api {
namespace {

/// A header name as StackStorm's payloads spell it (webob's EnvironHeaders: Python's str.title() of the name):
/// `x-github-event` and `X-GitHub-Event` both become `X-Github-Event`, so that rules written for StackStorm
/// (`trigger.headers['X-Github-Event']`) find it whatever the sender's case.
std::string TitleCase(std::string name) {
    bool after_letter = false;
    for (char& c : name) {
        const auto u = static_cast<unsigned char>(c);
        const bool letter = std::isalpha(u) != 0;
        if (letter) c = static_cast<char>(after_letter ? std::tolower(u) : std::toupper(u));
        after_letter = letter;
    }
    return name;
}

/// Request headers as a JSON object, without credentials (StackStorm strips auth headers from payloads).
Json HeadersJson(const httplib::Request& req) {
    Json h = Json::object();
    for (const auto& [k, v] : req.headers) {
        std::string lower = k;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) {
            return static_cast<char>(std::tolower(c));
        });
        if (lower == "st2-api-key" || lower == "x-auth-token" || lower == "authorization" || lower == "cookie")
            continue;
        if (lower == "remote_addr" || lower == "remote_port" || lower == "local_addr" || lower == "local_port")
            continue;
        // Header values are ISO-8859-1 by HTTP's history and real senders still send it: a value that is not
        // UTF-8 is read as Latin-1, so that the payload is valid JSON text.
        h[TitleCase(core::Utf8OrLatin1(k))] = core::Utf8OrLatin1(v);
    }
    return h;
}

/// Back-pressure: while more work waits in Redis than the bound allows, a webhook is refused at once (429 with
/// Retry-After) rather than accepted into a queue that only grows; senders retry, as they do on any 429.
bool RefusedForDepth(const QueueDepth& depth, httplib::Response& res) {
    if (!depth.Over()) return false;
    res.set_header("Retry-After", "1");
    SendJson(
        res,
        429,
        {{"faultstring",
          "too much work is waiting (" + std::to_string(depth.total()) + " queued, max_queue_depth " +
              std::to_string(depth.max_depth()) + "); retry later"},
         {"code", "RESOURCE_EXHAUSTED"}}
    );
    return true;
}

/// A webhook's body as StackStorm reads it: a form post with parse_qs (each field a list of values), anything else
/// as JSON.
Result<Json> WebhookBody(const httplib::Request& req) {
    return sensors::IsFormContentType(req.get_header_value("Content-Type")) ? sensors::ParseFormUrlEncoded(req.body)
                                                                            : ParseBody(req);
}

/// 202: the stored instance, with the body it was given as its payload (stored: answered with the body instead of
/// the payload, which is not copied to be dropped).
void SendAccepted(httplib::Response& res, core::TriggerInstance instance, Json body) {
    instance.payload = nullptr;
    Json out = instance.ToJson();
    out.erase("payload");
    out["payload"] = std::move(body);
    SendJson(res, 202, out);
}

}  // namespace

namespace {

LaneStep LaneWebhook(
    Router& r, ApiDeps& d, const QueueDepth& depth, const httplib::Request& req, httplib::Response& res, LaneReply reply
) {
    const std::string url(WebhookLane::WebhookUrl(req.path));
    // The thread path's, as they wait for Redis: GitHub's signed route and the generic hook, a delivery with a key
    // (claimed in Redis first), a credential that is not a cached API key. Decided before anything is done.
    if (url == "github" || url == "st2" || req.has_header("Idempotency-Key") || !r.auth().HasCachedKey(req)) {
        return LaneStep::kDeclined;
    }
    // From here as the route below, in its order.
    if (RefusedForDepth(depth, res)) return LaneStep::kAnswered;
    if (Status st = core::CheckWebhookUrl("url", url); !st) {
        SendError(res, st.error());
        return LaneStep::kAnswered;
    }
    Result<Json> body = WebhookBody(req);
    if (!body) {
        SendError(res, body.error());
        return LaneStep::kAnswered;
    }
    const std::string trace_tag = core::Utf8OrLatin1(req.get_header_value("St2-Trace-Tag"));
    std::optional<Result<core::TriggerInstance>> ti = d.webhooks.PrepareNow(url, HeadersJson(req), *body, trace_tag);
    if (!ti) return LaneStep::kDeclined;
    if (!*ti) {
        SendError(res, ti->error());
        return LaneStep::kAnswered;
    }
    d.webhooks.EmitPrepared(
        std::move(**ti),
        [reply = std::move(reply), body = std::make_shared<Json>(std::move(*body))](Result<sensors::Dispatched> sent) {
            // On the Redis writer's thread: the answer is made on the lane's loop.
            auto held = std::make_shared<Result<sensors::Dispatched>>(std::move(sent));
            reply([held, body](httplib::Response& res) {
                Guarded(res, [&] {
                    if (!*held) return SendError(res, held->error());
                    SendAccepted(res, std::move((*held)->instance), std::move(*body));
                });
            });
        }
    );
    return LaneStep::kPending;
}

}  // namespace

LaneHandler WebhookLaneHandler(Router& r, ApiDeps& d, const QueueDepth& depth) {
    return [&r, &d, &depth](const httplib::Request& req, httplib::Response& res, LaneReply reply) {
        LaneStep step = LaneStep::kAnswered;
        Guarded(res, [&] { step = LaneWebhook(r, d, depth, req, res, std::move(reply)); });
        return step;
    };
}

void RegisterWebhookRoutes(Router& r, ApiDeps& d, const QueueDepth& depth) {
    r.GetWhole("/webhooks", [&d](const httplib::Request&, httplib::Response& res) {
        Result<std::vector<std::string>> urls = d.webhooks.UrlsBlocking();
        if (!urls) return SendError(res, urls.error());
        Json out = Json::array();
        for (const auto& u : *urls) out.push_back({{"type", "core.st2.webhook"}, {"parameters", {{"url", u}}}});
        SendJson(res, 200, out);
    });
    // `st2 webhook get <url>`: StackStorm's get_one, the hook's trigger.
    r.GetWhole(R"(/webhooks/(.+))", [&d](const httplib::Request& req, httplib::Response& res) {
        const std::string url = req.matches[1];
        Result<std::vector<std::string>> urls = d.webhooks.UrlsBlocking();
        if (!urls) return SendError(res, urls.error());
        if (std::find(urls->begin(), urls->end(), url) == urls->end())
            return SendError(res, NotFound("webhook \"" + url + "\" not found (no rule uses it)"));
        SendJson(res, 200, {{"type", "core.st2.webhook"}, {"parameters", {{"url", url}}}});
    });
    // GitHub signs its deliveries instead of sending an API key: the signature is the authentication (SPEC §3.2).
    // PostRaw: GitHub's form posts (payload=<json>) are larger than cpp-httplib's own form limit; its routes are
    // matched before the generic one below, which would take "github" for a url.
    r.PostRaw(
        "/webhooks/github",
        [&d, &depth](const httplib::Request& req, httplib::Response& res) {
            if (RefusedForDepth(depth, res)) return;
            sensors::GitHubWebhook::Request gh;
            gh.body = req.body;
            gh.content_type = req.get_header_value("Content-Type");
            gh.event = req.get_header_value("X-GitHub-Event");
            gh.delivery = req.get_header_value("X-GitHub-Delivery");
            gh.signature = req.get_header_value("X-Hub-Signature-256");
            gh.headers = HeadersJson(req);
            Result<sensors::GitHubWebhook::Answer> answer = sensors::GitHubWebhook(d.webhooks).HandleBlocking(gh);
            if (!answer) return SendError(res, answer.error());
            SendJson(res, answer->status, answer->body);
        },
        /*needs_auth=*/false
    );
    r.Post(R"(/webhooks/(.+))", [&d, &depth](const httplib::Request& req, httplib::Response& res) {
        if (RefusedForDepth(depth, res)) return;
        const std::string url = req.matches[1];
        if (Status st = core::CheckWebhookUrl("url", url); !st) return SendError(res, st.error());
        Result<Json> body = WebhookBody(req);
        if (!body) return SendError(res, body.error());
        const std::string trace_tag = core::Utf8OrLatin1(req.get_header_value("St2-Trace-Tag"));
        const std::string key = req.get_header_value("Idempotency-Key");
        Result<sensors::Dispatched> sent =
            url == "st2" ? d.webhooks.DispatchGenericBlocking(*body, trace_tag, key)
                         : d.webhooks.DispatchBlocking(url, HeadersJson(req), *body, trace_tag, key);
        if (!sent) return SendError(res, sent.error());
        if (sent->duplicate) {
            return SendJson(
                res, 200, {{"duplicate", true}, {"id", sent->instance.id}, {"trigger", sent->instance.trigger}}
            );
        }
        // The generic hook's instance holds the envelope's `payload`, and so does its answer.
        Json payload = url == "st2" ? body->value("payload", Json::object()) : std::move(*body);
        SendAccepted(res, std::move(sent->instance), std::move(payload));
    });
}

}  // namespace squall::api
