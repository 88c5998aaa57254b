#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/store/kv_store.hpp"
#include "squall/core/store/store.hpp"
#include "squall/packs/content_cache.hpp"
#include "squall/sensors/payload.hpp"

namespace squall::sensors {

using core::Json;

/// A source of trigger instances. Built-in sensors live in this library; external sensor processes arrive
/// later. Start/Stop are called from the composition root.
class Sensor {
public:
    virtual ~Sensor() = default;
    virtual std::string Name() const = 0;
    virtual void Start() = 0;
    virtual void Stop() = 0;
};
using SensorPtr = std::unique_ptr<Sensor>;

/// What a sensor gets to emit trigger instances and read registered content.
struct SensorContext {
    core::TriggerStore& triggers;
    packs::ContentCache& content;
    /// For what sensors keep in Redis themselves (delivery dedupe, timer leases). Required by the webhook and
    /// timer sensors.
    core::RedisClientPtr redis = nullptr;
    /// Names this process (host-pid) in leases.
    std::string instance;
    /// The datastore the pack configs handed to sensor processes render with (`{{ st2kv.system.x }}`); null: the
    /// configs are handed over as stored.
    core::KvCache* kv = nullptr;
};

/// Sensors by name. Built-ins are registered by RegisterBuiltinSensors; a duplicate name fails.
class SensorRegistry {
public:
    using Factory = std::function<SensorPtr(SensorContext&)>;
    Status Register(const std::string& name, Factory factory);
    /// Creates every registered sensor.
    std::vector<SensorPtr> CreateAll(SensorContext& ctx) const;
    Result<SensorPtr> Create(const std::string& name, SensorContext& ctx) const;

private:
    std::map<std::string, Factory> factories_;
};

void RegisterBuiltinSensors(SensorRegistry& registry);

/// The outcome of a webhook delivery.
struct Dispatched {
    core::TriggerInstance instance;
    /// The delivery was seen before (same X-GitHub-Delivery or Idempotency-Key): nothing was created and
    /// `instance` holds only the id.
    bool duplicate = false;
};

/// How long a delivery id is remembered (docs/sensors.md): GitHub's X-GitHub-Delivery for 7 days (SPEC §3.2),
/// a webhook's Idempotency-Key for 24 hours.
inline constexpr std::chrono::seconds kGitHubDeliveryTtl{7 * 24 * 3600};
inline constexpr std::chrono::seconds kIdempotencyKeyTtl{24 * 3600};

/// The webhook sensor (SPEC §3.1): turns `POST /api/v1/webhooks/<url>` into a `core.st2.webhook` trigger instance
/// with payload {headers, headers_lower, body}, and `POST /api/v1/webhooks/st2` {trigger, payload} into an
/// instance of any trigger type. Payloads are checked against their trigger type's payload_schema first. An
/// `idempotency_key` (the Idempotency-Key header) makes a repeated delivery a no-op. The api route hands requests
/// to it. Blocking (called on HTTP threads); thread-safe.
class WebhookSensor final : public Sensor {
public:
    explicit WebhookSensor(SensorContext& ctx);
    std::string Name() const override { return "webhook"; }
    void Start() override {}
    void Stop() override {}

    /// kNotFound when no enabled rule listens on `url`; kInvalidArgument naming the field of an invalid payload.
    Result<Dispatched> DispatchBlocking(
        const std::string& url,
        const Json& headers,
        const Json& body,
        const std::string& trace_tag,
        const std::string& idempotency_key = ""
    );
    /// DispatchBlocking's first half for an event loop (the API's webhook lane), from what is in memory: the
    /// instance to store (validated, with its id and occurrence time), or the error to answer. nullopt when that
    /// would need Redis (the content snapshot is due a check, or `url` is not in it and must be looked up again) or
    /// a replica's acknowledgement (Sentinel): DispatchBlocking then handles the delivery. Never waits.
    std::optional<Result<core::TriggerInstance>> PrepareNow(
        const std::string& url, const Json& headers, const Json& body, const std::string& trace_tag
    );
    /// The second half: stores what PrepareNow gave. `done` runs on the Redis client's writer thread
    /// (RedisClient::BatchedAsync) with the instance, its payload left out.
    void EmitPrepared(core::TriggerInstance ti, std::function<void(Result<Dispatched>)> done);
    /// The generic hook: body {trigger, payload}.
    Result<Dispatched> DispatchGenericBlocking(
        const Json& body, const std::string& trace_tag, const std::string& idempotency_key = ""
    );
    /// Webhook urls that some enabled rule listens on; `recheck` looks past the content cache's age.
    Result<std::vector<std::string>> UrlsBlocking(bool recheck = false);

    /// Validates `ti`'s payload, then stores it with `NewId()` or, for a delivery with a key, with an id derived
    /// from (`scope`, `key`) once only. Shared by the GitHub hook.
    Result<Dispatched> EmitBlocking(
        core::TriggerInstance ti, const std::string& scope, const std::string& key, std::chrono::seconds ttl
    );
    PayloadValidator& validator() { return validator_; }
    SensorContext& context() { return ctx_; }

private:
    using UrlSet = std::shared_ptr<const std::vector<std::string>>;
    /// The sorted urls of `snap`'s enabled webhook rules, built once per content snapshot (not per request).
    UrlSet UrlsOf(const packs::ContentSnapshotPtr& snap);
    /// The `core.st2.webhook` instance of a delivery to `url` (no id or time yet).
    static core::TriggerInstance WebhookInstance(
        const std::string& url, const Json& headers, const Json& body, const std::string& trace_tag
    );
    /// Checks `ti`'s payload against its type's schema in `snap` (counting a refusal) and stamps its occurrence time.
    Status Admit(const packs::ContentSnapshot& snap, core::TriggerInstance& ti);

    SensorContext& ctx_;
    PayloadValidator validator_;
    std::unique_ptr<DeliveryDedupe> dedupe_;
    std::mutex urls_mu_;
    packs::ContentSnapshotPtr urls_of_;  ///< the snapshot urls_ was built from (held, so its address is not reused)
    UrlSet urls_;
};

/// The GitHub webhook (SPEC §3.2): `POST /api/v1/webhooks/github`. Verifies `X-Hub-Signature-256` (HMAC-SHA256
/// over the raw body with the `github` pack config's `webhook_secret`, compared in constant time), then emits
/// `github.<X-GitHub-Event>` (or `github.event` for an event without its own trigger type) with payload {event,
/// delivery, headers, body}, once per X-GitHub-Delivery. Blocking; thread-safe.
class GitHubWebhook {
public:
    /// GitHub's largest delivery; the route accepts bodies up to this size (others are 413).
    static constexpr size_t kMaxBodyBytes = 25 * 1024 * 1024;

    struct Request {
        std::string_view body;     ///< raw bytes, as signed
        std::string content_type;  ///< application/json or application/x-www-form-urlencoded (payload=<json>)
        std::string event;         ///< X-GitHub-Event
        std::string delivery;      ///< X-GitHub-Delivery
        std::string signature;     ///< X-Hub-Signature-256
        Json headers;              ///< without credentials
    };
    /// The HTTP status (200 for ping and duplicates, 202 otherwise) and JSON body of the answer.
    struct Answer {
        int status = 202;
        Json body;
    };

    explicit GitHubWebhook(WebhookSensor& webhooks) : webhooks_(webhooks) {}
    /// kUnauthenticated (401) for a missing, malformed or wrong signature, or when no secret is configured;
    /// kInvalidArgument (400) for missing headers, a body that is not JSON or a payload its schema refuses.
    Result<Answer> HandleBlocking(const Request& request);

    /// True when `header` is "sha256=" + the hex HMAC-SHA256 of `body` under `secret`; constant-time in the
    /// digest (CRYPTO_memcmp). Any other algorithm prefix is refused.
    static bool SignatureMatches(std::string_view secret, std::string_view body, std::string_view header);

private:
    WebhookSensor& webhooks_;
};

}  // namespace squall::sensors
