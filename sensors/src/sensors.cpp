#include <algorithm>
#include <chrono>

#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/sensors/sensor.hpp"

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
}

WebhookSensor::WebhookSensor(SensorContext& ctx) : ctx_(ctx) {}

Result<core::TriggerInstance> WebhookSensor::Emit(core::TriggerInstance ti) {
    ti.id = core::NewId();
    ti.occurrence_time = core::FormatIsoTimestamp(ctx_.triggers.clock().Now());
    Result<std::string> id = ctx_.triggers.EmitBlocking(ti);
    if (!id) return id.error();
    return ti;
}

Result<std::vector<std::string>> WebhookSensor::UrlsBlocking(bool recheck) {
    Result<packs::ContentSnapshotPtr> snap = recheck ? ctx_.content.RecheckBlocking() : ctx_.content.GetBlocking();
    if (!snap) return snap.error();
    std::vector<std::string> urls;
    for (const auto& [ref, rule] : (*snap)->rules) {
        if (rule.enabled && rule.trigger_type == "core.st2.webhook") {
            urls.push_back(rule.trigger_parameters.value("url", ""));
        }
    }
    std::sort(urls.begin(), urls.end());
    urls.erase(std::unique(urls.begin(), urls.end()), urls.end());
    return urls;
}

Result<core::TriggerInstance> WebhookSensor::DispatchBlocking(
    const std::string& url, const Json& headers, const Json& body, const std::string& trace_tag
) {
    Result<std::vector<std::string>> urls = UrlsBlocking();
    // A rule installed a moment ago may not be in the cached snapshot yet: look again before refusing.
    if (urls && !std::binary_search(urls->begin(), urls->end(), url)) urls = UrlsBlocking(/*recheck=*/true);
    if (!urls) return urls.error();
    if (!std::binary_search(urls->begin(), urls->end(), url)) {
        return NotFound("no rule listens on webhook \"" + url + "\"");
    }
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
    return Emit(std::move(ti));
}

Result<core::TriggerInstance> WebhookSensor::DispatchGenericBlocking(const Json& body, const std::string& trace_tag) {
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
    return Emit(std::move(ti));
}

}  // namespace squall::sensors
