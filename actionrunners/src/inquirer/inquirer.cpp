// inquirer (reference §4, §8): the execution waits in `pending` for a response through PUT /api/v1/inquiries/{id};
// the API validates the response against `schema` and completes the execution. Nothing runs here.
#include "../builtin_runners.hpp"

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
    explicit InquirerRunner(asio::io_context& io) : io_(io) {}
    void Run(const RunRequest& req, RunCallbacks callbacks) override {
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
         {{"type", "integer"}, {"description", "Minutes before an unanswered inquiry times out."}, {"default", 1440}}}};
    f.create = [](RunnerServices& s) { return std::make_unique<InquirerRunner>(s.io); };
    return f;
}

}  // namespace squall::actionrunners
