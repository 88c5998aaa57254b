#include "http.hpp"
#include "queue_depth.hpp"

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

}  // namespace

void RegisterWebhookRoutes(Router& r, ApiDeps& d, const QueueDepth& depth) {
    r.GetWhole("/webhooks", [&d](const httplib::Request&, httplib::Response& res) {
        Result<std::vector<std::string>> urls = d.webhooks.UrlsBlocking();
        if (!urls) return SendError(res, urls.error());
        Json out = Json::array();
        for (const auto& u : *urls) out.push_back({{"type", "core.st2.webhook"}, {"parameters", {{"url", u}}}});
        SendJson(res, 200, out);
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
        // StackStorm parses form posts with parse_qs: each field is a list of values.
        Result<Json> body = sensors::IsFormContentType(req.get_header_value("Content-Type"))
                                ? sensors::ParseFormUrlEncoded(req.body)
                                : ParseBody(req);
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
        sent->instance.payload = nullptr;  // stored: answered with the body instead, and not copied to be dropped
        Json out = sent->instance.ToJson();
        out.erase("payload");
        out["payload"] = std::move(*body);
        SendJson(res, 202, out);
    });
}

}  // namespace squall::api
