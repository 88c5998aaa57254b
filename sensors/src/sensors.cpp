#include <algorithm>
#include <chrono>

#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/core/input.hpp"
#include "squall/sensors/sensor.hpp"
#include "squall/sensors/timers.hpp"

namespace squall::sensors {

Status SensorRegistry::Register(const std::string& name, Factory factory) {
    if (factories_.count(name)) return Error(ErrorCode::kAlreadyExists, "sensor \"" + name + "\" registered twice");
    factories_[name] = std::move(factory);
    return {};
}

std::vector<SensorPtr> SensorRegistry::CreateAll(SensorContext& ctx) const {
    std::vector<SensorPtr> out;
    for (const auto& [name, f] : factories_) out.push_back(f(ctx));
    return out;
}

Result<SensorPtr> SensorRegistry::Create(const std::string& name, SensorContext& ctx) const {
    auto it = factories_.find(name);
    if (it == factories_.end()) return NotFound("sensor \"" + name + "\" is not registered");
    return it->second(ctx);
}

void RegisterBuiltinSensors(SensorRegistry& registry) {
    Status st = registry.Register("webhook", [](SensorContext& ctx) { return std::make_unique<WebhookSensor>(ctx); });
    if (!st) throw Exception(st.error());  // a bug: built-ins register once
    st = registry.Register("timers", [](SensorContext& ctx) { return std::make_unique<TimerSensor>(ctx); });
    if (!st) throw Exception(st.error());
}

WebhookSensor::WebhookSensor(SensorContext& ctx)
    : ctx_(ctx), dedupe_(ctx.redis ? std::make_unique<DeliveryDedupe>(ctx.redis) : nullptr) {}

Result<Dispatched> WebhookSensor::EmitBlocking(
    core::TriggerInstance ti, const std::string& scope, const std::string& key, std::chrono::seconds ttl
) {
    if (key.size() > core::kMaxNameLength || !core::IsValidUtf8(key)) {
        return InvalidArgument("Idempotency-Key: at most 255 bytes of UTF-8");
    }
    Result<packs::ContentSnapshotPtr> snap = ctx_.content.GetBlocking();
    // A trigger type registered a moment ago may not be in the cached snapshot yet: look again before validating.
    if (snap && !(*snap)->trigger_types.count(ti.trigger)) snap = ctx_.content.RecheckBlocking();
    if (!snap) return snap.error();
    if (Status admitted = Admit(**snap, ti); !admitted) return admitted.error();
    // Behind Sentinel with an online replica the answer waits until the replica has the instance (WAIT 1, at most
    // 1 s; else 503 and the sender retries), so that a failover loses nothing that was answered 2xx
    // (docs/delivery.md). Without Sentinel these are no-ops: no round trip is added.
    core::RedisClient& redis = ctx_.triggers.client();
    const uint64_t since = redis.ConnectionToken();
    if (key.empty()) {
        ti.id = core::NewId();
        Result<std::string> id = ctx_.triggers.EmitBlocking(ti);
        if (!id) return id.error();
        if (Status replicated = redis.WaitForReplicaBlocking(since); !replicated) return replicated.error();
        return Dispatched{std::move(ti), false};
    }
    if (!dedupe_) return Internal("the webhook sensor was built without Redis: deliveries cannot be deduplicated");
    ti.id = DeliveryInstanceId(scope, key);
    Result<DeliveryDedupe::Claim> claim =
        dedupe_->ClaimBlocking(scope, key, ctx_.triggers.keys().TriggerInstance(ti.id));
    if (!claim) return claim.error();
    if (*claim == DeliveryDedupe::Claim::kDuplicate) {
        if (redis.Replicas() > 0) {
            // The first answer may have been lost with a process that had not yet waited for a replica: a write
            // of ours after the instance's, once replicated, means the instance is too (one replication stream).
            if (Status st = dedupe_->DoneBlocking(scope, key, ttl); !st) return st.error();
            if (Status replicated = redis.WaitForReplicaBlocking(since); !replicated) return replicated.error();
        }
        core::TriggerInstance seen;
        seen.id = ti.id;
        seen.trigger = ti.trigger;
        return Dispatched{std::move(seen), true};
    }
    Result<std::string> id = ctx_.triggers.EmitBlocking(ti);
    if (!id) {
        dedupe_->ReleaseBlocking(scope, key);
        return id.error();
    }
    // Should this fail, the stored instance still marks the delivery as done (the claim script checks it).
    (void)dedupe_->DoneBlocking(scope, key, ttl);
    if (Status replicated = redis.WaitForReplicaBlocking(since); !replicated) return replicated.error();
    return Dispatched{std::move(ti), false};
}

Status WebhookSensor::Admit(const packs::ContentSnapshot& snap, core::TriggerInstance& ti) {
    if (Status valid = validator_.Validate(snap, ti.trigger, ti.payload); !valid) {
        ctx_.triggers.Count("rejected", ti.trigger);
        return valid.error();
    }
    ti.occurrence_time = core::FormatIsoTimestamp(ctx_.triggers.clock().Now());
    return {};
}

WebhookSensor::UrlSet WebhookSensor::UrlsOf(const packs::ContentSnapshotPtr& snap) {
    {
        std::lock_guard lock(urls_mu_);
        if (urls_ && urls_of_ == snap) return urls_;
    }
    auto urls = std::make_shared<std::vector<std::string>>();
    for (const auto& [ref, rule] : snap->rules) {
        if (rule.enabled && rule.trigger_type == "core.st2.webhook") {
            urls->push_back(rule.trigger_parameters.value("url", ""));
        }
    }
    std::sort(urls->begin(), urls->end());
    urls->erase(std::unique(urls->begin(), urls->end()), urls->end());
    std::lock_guard lock(urls_mu_);
    urls_of_ = snap;
    urls_ = std::move(urls);
    return urls_;
}

Result<std::vector<std::string>> WebhookSensor::UrlsBlocking(bool recheck) {
    Result<packs::ContentSnapshotPtr> snap = recheck ? ctx_.content.RecheckBlocking() : ctx_.content.GetBlocking();
    if (!snap) return snap.error();
    return *UrlsOf(*snap);
}

Result<Dispatched> WebhookSensor::DispatchBlocking(
    const std::string& url,
    const Json& headers,
    const Json& body,
    const std::string& trace_tag,
    const std::string& idempotency_key
) {
    auto listened = [this, &url](bool recheck) -> Result<bool> {
        Result<packs::ContentSnapshotPtr> snap = recheck ? ctx_.content.RecheckBlocking() : ctx_.content.GetBlocking();
        if (!snap) return snap.error();
        UrlSet urls = UrlsOf(*snap);
        return std::binary_search(urls->begin(), urls->end(), url);
    };
    Result<bool> found = listened(false);
    // A rule installed a moment ago may not be in the cached snapshot yet: look again before refusing.
    if (found && !*found) found = listened(/*recheck=*/true);
    if (!found) return found.error();
    if (!*found) return NotFound("no rule listens on webhook \"" + url + "\"");
    return EmitBlocking(
        WebhookInstance(url, headers, body, trace_tag), "webhook:" + url, idempotency_key, kIdempotencyKeyTtl
    );
}

core::TriggerInstance WebhookSensor::WebhookInstance(
    const std::string& url, const Json& headers, const Json& body, const std::string& trace_tag
) {
    core::TriggerInstance ti;
    ti.trigger = "core.st2.webhook";
    ti.trigger_parameters = {{"url", url}};
    Json lower = Json::object();
    for (const auto& [k, v] : headers.items()) {
        std::string lk = k;
        std::transform(lk.begin(), lk.end(), lk.begin(), [](unsigned char c) {
            return static_cast<char>(std::tolower(c));
        });
        lower[lk] = v;
    }
    ti.payload = {{"headers", headers}, {"headers_lower", lower}, {"body", body}};
    ti.trace_tag = trace_tag;
    return ti;
}

std::optional<Result<core::TriggerInstance>> WebhookSensor::PrepareNow(
    const std::string& url, const Json& headers, const Json& body, const std::string& trace_tag
) {
    if (ctx_.triggers.client().endpoint().IsSentinel()) return std::nullopt;  // waits for a replica (EmitBlocking)
    packs::ContentSnapshotPtr snap = ctx_.content.FreshNow();
    if (!snap) return std::nullopt;
    UrlSet urls = UrlsOf(snap);
    if (!std::binary_search(urls->begin(), urls->end(), url)) return std::nullopt;  // looked up again, then 404
    core::TriggerInstance ti = WebhookInstance(url, headers, body, trace_tag);
    if (Status admitted = Admit(*snap, ti); !admitted) return Result<core::TriggerInstance>(admitted.error());
    ti.id = core::NewId();
    return Result<core::TriggerInstance>(std::move(ti));
}

void WebhookSensor::EmitPrepared(core::TriggerInstance ti, std::function<void(Result<Dispatched>)> done) {
    // The answer names the instance without its payload (the route answers with the body it parsed): taken out of
    // `ti` for the copy, put back for the write.
    Json payload = std::move(ti.payload);
    core::TriggerInstance answer = ti;
    ti.payload = std::move(payload);
    ctx_.triggers.EmitBatched(ti, [answer = std::move(answer), done = std::move(done)](Result<std::string> id) mutable {
        if (!id) return done(id.error());
        done(Dispatched{std::move(answer), false});
    });
}

Result<Dispatched> WebhookSensor::DispatchGenericBlocking(
    const Json& body, const std::string& trace_tag, const std::string& idempotency_key
) {
    if (!body.is_object() || !body.contains("trigger") || !body["trigger"].is_string()) {
        return InvalidArgument("body: \"trigger\" (a trigger type ref) is required");
    }
    if (!core::SplitRef(body["trigger"])) {
        return InvalidArgument(
            "body.trigger: \"" + body["trigger"].get<std::string>() + "\" is not of the form pack.name"
        );
    }
    if (body.contains("payload") && !body["payload"].is_object())
        return InvalidArgument("body.payload: must be an object");
    core::TriggerInstance ti;
    ti.trigger = body["trigger"];
    ti.payload = body.value("payload", Json::object());
    // st2client's post_generic_webhook sends the trace tag in the body; the St2-Trace-Tag header wins.
    ti.trace_tag = trace_tag;
    if (ti.trace_tag.empty() && body.contains("trace_tag") && body["trace_tag"].is_string())
        ti.trace_tag = body["trace_tag"];
    return EmitBlocking(std::move(ti), "webhook:st2", idempotency_key, kIdempotencyKeyTtl);
}

}  // namespace squall::sensors
