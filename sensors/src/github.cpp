// The GitHub webhook (SPEC §3.2). The signature is checked on the raw bytes before anything is parsed, so an
// unauthenticated sender cannot make the server parse 25 MB of JSON.
#include <algorithm>
#include <cctype>
#include <optional>

#include "squall/core/id.hpp"
#include "squall/core/input.hpp"
#include "squall/sensors/sensor.hpp"

namespace squall::sensors {
namespace {

/// An X-GitHub-Event value that can be part of a trigger ref: GitHub's event names are lowercase words joined
/// by `_`.
bool IsEventName(const std::string& event) {
    if (event.empty() || event.size() > 64) return false;
    return std::all_of(event.begin(), event.end(), [](unsigned char c) {
        return (std::islower(c) != 0) || (std::isdigit(c) != 0) || c == '_';
    });
}

}  // namespace

bool GitHubWebhook::SignatureMatches(std::string_view secret, std::string_view body, std::string_view header) {
    constexpr std::string_view kPrefix = "sha256=";
    if (header.substr(0, kPrefix.size()) != kPrefix) return false;
    std::optional<core::Sha256Digest> given = core::ParseSha256Hex(header.substr(kPrefix.size()));
    return given && core::HmacSha256Equals(secret, body, *given);
}

Result<GitHubWebhook::Answer> GitHubWebhook::HandleBlocking(const Request& request) {
    SensorContext& ctx = webhooks_.context();
    // The config as of now (one version check): a secret changed a moment ago (PUT /configs/github) is the one
    // that counts, and a rotated-out one stops working at once.
    Result<packs::ContentSnapshotPtr> snap = ctx.content.RecheckBlocking();
    if (!snap) return snap.error();
    const Json config = (*snap)->Config("github");
    const Json secret = config.is_object() ? config.value("webhook_secret", Json()) : Json();
    if (!secret.is_string() || secret.get<std::string>().empty()) {
        return Error(
            ErrorCode::kUnauthenticated,
            "the github pack has no webhook_secret in its config (DATA/configs/github.yaml): deliveries cannot be "
            "verified and are refused"
        );
    }
    if (request.signature.empty()) {
        return Error(ErrorCode::kUnauthenticated, "header X-Hub-Signature-256 is missing");
    }
    if (request.signature.rfind("sha256=", 0) != 0) {
        return Error(
            ErrorCode::kUnauthenticated,
            "header X-Hub-Signature-256: expected \"sha256=<hex HMAC-SHA256>\" (no other algorithm is accepted)"
        );
    }
    if (!SignatureMatches(secret.get_ref<const std::string&>(), request.body, request.signature)) {
        return Error(ErrorCode::kUnauthenticated, "header X-Hub-Signature-256: the signature does not match the body");
    }
    if (!IsEventName(request.event)) {
        return InvalidArgument(
            request.event.empty()
                ? std::string("header X-GitHub-Event is missing")
                : "header X-GitHub-Event: \"" + core::Utf8OrLatin1(request.event) + "\" is not an event name"
        );
    }
    if (request.delivery.empty()) return InvalidArgument("header X-GitHub-Delivery is missing");
    if (request.delivery.size() > core::kMaxNameLength || !core::IsValidUtf8(request.delivery)) {
        return InvalidArgument("header X-GitHub-Delivery: at most 255 bytes of UTF-8");
    }

    core::JsonLimits limits;
    limits.max_bytes = kMaxBodyBytes;
    Result<Json> body = Json::object();
    if (IsFormContentType(request.content_type)) {
        // A hook configured with content type "application/x-www-form-urlencoded" sends payload=<json>.
        Result<Json> form = ParseFormUrlEncoded(request.body);
        if (!form) return form.error();
        if (!form->contains("payload")) return InvalidArgument("request body: the form has no \"payload\" field");
        body = core::ParseJsonLimited((*form)["payload"][0].get<std::string>(), "request body: payload", limits);
    } else {
        body = core::ParseJsonLimited(request.body, "request body", limits);
    }
    if (!body) return body.error();

    core::TriggerInstance ti;
    const std::string own_type = "github." + request.event;
    ti.trigger = (*snap)->trigger_types.count(own_type) ? own_type : "github.event";
    ti.payload = {
        {"event", request.event},
        {"delivery", request.delivery},
        {"headers", request.headers},
        {"body", std::move(*body)},
    };
    Result<Dispatched> sent = webhooks_.EmitBlocking(std::move(ti), "github", request.delivery, kGitHubDeliveryTtl);
    if (!sent) return sent.error();
    Answer answer;
    answer.body = {{"id", sent->instance.id}, {"trigger", sent->instance.trigger}, {"delivery", request.delivery}};
    if (sent->duplicate) {
        answer.status = 200;
        answer.body["duplicate"] = true;
        return answer;
    }
    answer.body["event"] = request.event;
    answer.body["occurrence_time"] = sent->instance.occurrence_time;
    answer.status = request.event == "ping" ? 200 : 202;
    return answer;
}

}  // namespace squall::sensors
