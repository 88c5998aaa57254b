#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/store/store.hpp"
#include "squall/packs/content_cache.hpp"

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

/// The webhook sensor (SPEC §3.1): turns `POST /api/v1/webhooks/<url>` into a `core.st2.webhook` trigger instance
/// with payload {headers, headers_lower, body}, and `POST /api/v1/webhooks/st2` {trigger, payload} into an
/// instance of any trigger type. The api route hands requests to it. Blocking (called on HTTP threads).
class WebhookSensor final : public Sensor {
public:
    explicit WebhookSensor(SensorContext& ctx);
    std::string Name() const override { return "webhook"; }
    void Start() override {}
    void Stop() override {}

    /// kNotFound when no enabled rule listens on `url`. Returns the stored instance.
    Result<core::TriggerInstance> DispatchBlocking(
        const std::string& url, const Json& headers, const Json& body, const std::string& trace_tag
    );
    /// The generic hook: body {trigger, payload}.
    Result<core::TriggerInstance> DispatchGenericBlocking(const Json& body, const std::string& trace_tag);
    /// Webhook urls that some enabled rule listens on; `recheck` looks past the content cache's age.
    Result<std::vector<std::string>> UrlsBlocking(bool recheck = false);

private:
    Result<core::TriggerInstance> Emit(core::TriggerInstance ti);
    SensorContext& ctx_;
};

}  // namespace squall::sensors
