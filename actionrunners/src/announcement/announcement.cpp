// announcement (StackStorm's announcement runner, docs/chatops.md "Announcements"): publishes the action's
// parameters on the announcement stream `{x}stream:announcements` under the runner parameter `route`. The API's
// event stream shows each entry as `st2.announcement__<route>`; the ChatOps adapters post those of route `chatops`
// (chatops.post_message, chatops.post_result) to a chat. Nothing is run; the result is the payload.
#include "../builtin_runners.hpp"
#include "squall/core/log.hpp"
#include "squall/executions/store.hpp"

namespace squall::actionrunners {
namespace {

/// Entries kept in the announcement stream (XADD MAXLEN ~): readers are live (the API's event stream), so only a
/// short tail is worth keeping.
constexpr const char* kMaxLen = "10000";

/// The runner's own parameters (runner.yaml): the rest of the parameters are the payload.
bool IsRunnerParameter(const std::string& name) {
    return name == "experimental" || name == "route";
}

class AnnouncementRunner final : public Runner {
public:
    AnnouncementRunner(asio::io_context& io, core::RedisClientPtr redis) : io_(io), redis_(std::move(redis)) {}

    void Run(const RunRequest& req, RunCallbacks callbacks) override {
        auto done = [this, cb = std::move(callbacks.on_done)](core::ExecutionResult r) mutable {
            asio::post(io_, [cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
        };
        const Json& p = req.parameters;
        // As StackStorm: the runner is "experimental" and refuses to run unless the action says it knows.
        if (!(p.contains("experimental") && p["experimental"].is_boolean() && p["experimental"].get<bool>())) {
            return done(
                {core::status::kFailed, {{"error", "Experimental flag is missing for action " + req.action_ref}}}
            );
        }
        const std::string route = p.value("route", std::string("general"));
        if (route.empty() || route.size() > 255) {
            return done({core::status::kFailed, {{"error", "route: must be 1 to 255 characters"}}});
        }
        Json payload = Json::object();
        for (const auto& [k, v] : p.items()) {
            if (!IsRunnerParameter(k)) payload[k] = v;
        }
        if (!redis_) return done({core::status::kFailed, {{"error", "no Redis connection to announce on"}}});
        const Json entry = {
            {"route", route},
            {"payload", payload},
            {"trace_context", req.context.value("trace_context", Json())},
            {"execution_id", req.execution_id},
            {"action_ref", req.action_ref}};
        const executions::Keys keys(redis_->endpoint().key_prefix);
        redis_->Command(
            {"XADD", keys.Announcements(), "MAXLEN", "~", kMaxLen, "*", "d", entry.dump()},
            [done, payload, id = req.execution_id](Result<core::RedisReply> r) mutable {
                if (!r || r->IsError()) {
                    const std::string why = r ? r->str : r.error().message;
                    return done({core::status::kFailed, {{"error", "cannot publish the announcement: " + why}}});
                }
                // StackStorm's result: the payload, and the same under "output".
                Json result = payload;
                result["output"] = payload;
                done({core::status::kSucceeded, std::move(result)});
            }
        );
    }
    void Cancel(const std::string&) override {}
    bool UsesPackConfig() const override { return false; }

private:
    asio::io_context& io_;
    core::RedisClientPtr redis_;
};

}  // namespace

RunnerFactory AnnouncementFactory() {
    RunnerFactory f;
    f.info.name = "announcement";
    f.info.description = "A runner for emitting an announcement event on the stream.";
    f.info.parameters = {
        {"experimental",
         {{"type", "boolean"},
          {"default", false},
          {"required", true},
          {"description", "Flag to indicate acknowledgment of using experimental runner"}}},
        {"route",
         {{"type", "string"},
          {"default", "general"},
          {"minLength", 1},
          {"maxLength", 255},
          {"description",
           "The routing_key used to route the message to consumers. Might be a list of words, delimited by dots."}}}};
    f.create = [](RunnerServices& s) { return std::make_unique<AnnouncementRunner>(s.io, s.redis); };
    return f;
}

}  // namespace squall::actionrunners
