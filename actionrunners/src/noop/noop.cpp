#include "builtin_runners.hpp"

namespace squall::actionrunners {
namespace {

class NoopRunner final : public Runner {
public:
    explicit NoopRunner(asio::io_context& io) : io_(io) {}
    void Run(const RunRequest&, RunCallbacks callbacks) override {
        // Posted so that on_done never runs inside Run (callers may hold state across the call).
        asio::post(io_, [cb = std::move(callbacks.on_done)]() {
            cb(core::ExecutionResult{
                core::status::kSucceeded,
                {{"failed", false}, {"succeeded", true}, {"return_code", 0}, {"stdout", ""}, {"stderr", ""}}});
        });
    }
    void Cancel(const std::string&) override {}

private:
    asio::io_context& io_;
};

}  // namespace

RunnerFactory NoopFactory() {
    RunnerFactory f;
    f.info.name = "noop";
    f.info.description = "A runner that does nothing and succeeds.";
    f.info.parameters = Json::object();
    f.create = [](RunnerServices& s) { return std::make_unique<NoopRunner>(s.io); };
    return f;
}

}  // namespace squall::actionrunners
