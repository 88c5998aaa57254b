#include "builtin_runners.hpp"

namespace squall::actionrunners {
namespace {

core::ExecutionResult NoopResult(const std::string& /*action_ref*/) {
    return core::ExecutionResult{
        core::status::kSucceeded,
        {{"failed", false}, {"succeeded", true}, {"return_code", 0}, {"stdout", ""}, {"stderr", ""}}};
}

class NoopRunner final : public Runner {
public:
    explicit NoopRunner(asio::io_context& io) : io_(io) {}
    void Run(const RunRequest& req, RunCallbacks callbacks) override {
        // Posted so that on_done never runs inside Run (callers may hold state across the call).
        asio::post(io_, [cb = std::move(callbacks.on_done), result = *ResultWithoutRunning(req.action_ref)]() {
            cb(result);
        });
    }
    void Cancel(const std::string&) override {}
    bool UsesPackConfig() const override { return false; }
    std::optional<core::ExecutionResult> ResultWithoutRunning(const std::string& action_ref) const override {
        return NoopResult(action_ref);
    }

private:
    asio::io_context& io_;
};

/// StackStorm runner types whose engine Squall does not have yet (workflows, SPEC §8): their actions load,
/// register and show in the API, so that a StackStorm pack installs whole; running one fails, saying so.
class NotYetRunner final : public Runner {
public:
    NotYetRunner(asio::io_context& io, std::string name) : io_(io), name_(std::move(name)) {}
    void Run(const RunRequest& req, RunCallbacks callbacks) override {
        asio::post(io_, [cb = std::move(callbacks.on_done), result = *ResultWithoutRunning(req.action_ref)]() {
            cb(result);
        });
    }
    void Cancel(const std::string&) override {}
    std::optional<core::ExecutionResult> ResultWithoutRunning(const std::string& action_ref) const override {
        return core::ExecutionResult{
            core::status::kFailed,
            {{"error",
              "runner \"" + name_ + "\" (action " + action_ref +
                  ") is not supported yet: its workflow was loaded but cannot run in this version"}}};
    }

private:
    asio::io_context& io_;
    std::string name_;
};

RunnerFactory NotYetFactory(const std::string& name, const std::string& description) {
    RunnerFactory f;
    f.info.name = name;
    f.info.description = description + " (not supported yet: actions load, runs fail with a clear error)";
    f.info.parameters = Json::object();
    f.create = [name](RunnerServices& s) { return std::make_unique<NotYetRunner>(s.io, name); };
    return f;
}

}  // namespace

/// Orquesta workflows are driven by the `workflow` role (actionrunners/workflow, docs/workflows.md): the execution
/// service sends their requests to the `workflow` pool, which no runner container serves. A container that gets
/// one anyway (an action that names another pool) fails it, saying where workflows run.
RunnerFactory OrquestaFactory() {
    RunnerFactory f = NotYetFactory("orquesta", "StackStorm's Orquesta workflow runner");
    f.info.description = "StackStorm's Orquesta workflow runner: the workflow role runs the entry_point workflow.";
    f.info.parameters = {
        {"notify",
         {{"type", "array"},
          {"description", "List of tasks to trigger notifications for."},
          {"default", Json::array()}}}};
    f.create = [](RunnerServices& s) {
        return std::make_unique<NotYetRunner>(s.io, "orquesta (outside the workflow pool)");
    };
    return f;
}

/// Action-chains run in the `workflow` role too (docs/workflows.md); as for Orquesta, a runner container that gets
/// one (an action naming another pool) fails it, saying where they run.
RunnerFactory ActionChainFactory() {
    RunnerFactory f = NotYetFactory("action-chain", "StackStorm's ActionChain workflow runner");
    f.info.description = "StackStorm's action-chain runner: the workflow role runs the entry_point chain.";
    f.info.parameters = {
        {"display_published",
         {{"type", "boolean"},
          {"description", "Intermediate published variables will be stored and displayed."},
          {"default", true}}},
        {"skip_notify",
         {{"type", "array"}, {"description", "List of tasks to skip notifications for."}, {"default", Json::array()}}}};
    f.create = [](RunnerServices& s) {
        return std::make_unique<NotYetRunner>(s.io, "action-chain (outside the workflow pool)");
    };
    return f;
}

RunnerFactory NoopFactory() {
    RunnerFactory f;
    f.info.name = "noop";
    f.info.description = "A runner that does nothing and succeeds.";
    f.info.parameters = Json::object();
    f.create = [](RunnerServices& s) { return std::make_unique<NoopRunner>(s.io); };
    f.known_result = NoopResult;
    return f;
}

}  // namespace squall::actionrunners
