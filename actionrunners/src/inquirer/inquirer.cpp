// inquirer (reference §4, §8): the execution waits in `pending` for a response through PUT /api/v1/inquiries/{id};
// the API validates the response against `schema` and completes the execution. Nothing runs here.
#include <chrono>
#include <optional>

#include "../builtin_runners.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/core/log.hpp"
#include "squall/core/store/store.hpp"

namespace squall::actionrunners {
namespace {

/// StackStorm's default inquiry schema (st2common/runners/inquirer).
Json DefaultSchema() {
    return {
        {"type", "object"},
        {"properties",
         {{"continue",
           {{"type", "boolean"}, {"description", "Would you like to continue the workflow?"}, {"required", true}}}}}};
}

class InquirerRunner final : public Runner {
public:
    InquirerRunner(asio::io_context& io, core::RedisClientPtr redis, const core::Clock& clock) : io_(io) {
        if (redis) triggers_.emplace(std::move(redis), clock);
    }
    void Run(const RunRequest& req, RunCallbacks callbacks) override {
        // core.st2.generic.inquiry {id, route}: rules can notify whoever has to answer (StackStorm does).
        if (triggers_) {
            core::TriggerInstance ti;
            ti.id = core::NewId();
            ti.trigger = "core.st2.generic.inquiry";
            ti.payload = {{"id", req.execution_id}, {"route", req.parameters.value("route", "")}};
            ti.occurrence_time = core::FormatIsoTimestamp(triggers_->clock().Now());
            triggers_->Emit(ti, [id = req.execution_id](Result<std::string> r) {
                if (!r) {
                    core::Log(
                        *core::Logger("runner"),
                        spdlog::level::warn,
                        "cannot emit core.st2.generic.inquiry",
                        {{"execution_id", id}, {"error", r.error().message}}
                    );
                }
            });
        }
        const Json& p = req.parameters;
        Json result = {
            {"schema", p.contains("schema") && p["schema"].is_object() ? p["schema"] : DefaultSchema()},
            {"roles", p.value("roles", Json::array())},
            {"users", p.value("users", Json::array())},
            {"route", p.value("route", "")},
            {"ttl", p.value("ttl", 1440)}};
        asio::post(io_, [cb = std::move(callbacks.on_done), result = std::move(result)]() mutable {
            cb(core::ExecutionResult{core::status::kPending, std::move(result)});
        });
    }
    void Cancel(const std::string&) override {}

private:
    asio::io_context& io_;
    std::optional<core::TriggerStore> triggers_;
};

}  // namespace

RunnerFactory InquirerFactory() {
    RunnerFactory f;
    f.info.name = "inquirer";
    f.info.description = "Pauses the execution in `pending` until someone responds (PUT /api/v1/inquiries/{id}).";
    f.info.parameters = {
        {"schema",
         {{"type", "object"}, {"description", "JSON schema the response must satisfy."}, {"default", DefaultSchema()}}},
        {"roles", {{"type", "array"}, {"description", "Roles allowed to respond."}, {"default", Json::array()}}},
        {"users", {{"type", "array"}, {"description", "Users allowed to respond."}, {"default", Json::array()}}},
        {"route", {{"type", "string"}, {"description", "Route for notification rules."}, {"default", ""}}},
        {"ttl",
         {{"type", "integer"},
          {"description", "Minutes before an unanswered inquiry times out."},
          {"default", 1440},
          // Bounded (at most ten years): 0 and negatives expired at once, and 2^63 - 1 minutes wrapped to -1.
          {"minimum", 1},
          {"maximum", 5256000}}}};
    f.create = [](RunnerServices& s) {
        return std::make_unique<InquirerRunner>(s.io, s.redis, s.clock ? *s.clock : core::SystemClock());
    };
    return f;
}

}  // namespace squall::actionrunners
