#include "squall/executions/policies.hpp"

#include <algorithm>

#include "squall/executions/status.hpp"

namespace squall::executions {

const core::Json* RequestPolicy(const core::ExecutionRequest& r, const char* kind) {
    auto p = r.action.find("policies");
    if (p == r.action.end() || !p->is_object()) return nullptr;
    auto k = p->find(kind);
    return k != p->end() && k->is_object() ? &*k : nullptr;
}

int64_t RetryCount(const core::ExecutionRequest& r) {
    if (auto p = r.context.find("policies"); p != r.context.end() && p->is_object()) {
        if (auto rr = p->find("retry"); rr != p->end() && rr->is_object()) return rr->value("retry_count", int64_t{0});
    }
    return 0;
}

bool RetryWanted(const core::ExecutionRequest& r, const std::string& status) {
    const core::Json* retry = RequestPolicy(r, "retry");
    // An Orquesta task is retried by its task's `retry`, not by the action's policy: StackStorm skips the policy for
    // an execution run under a workflow (is_action_execution_under_workflow_context: `orquesta` in its context),
    // which has already taken the failure and may have ended.
    if (retry == nullptr || r.context.contains("orquesta")) return false;
    const std::string on = retry->value("retry_on", "failure");
    const bool matches = (on == "failure" && (status == core::status::kFailed || status == core::status::kAbandoned)) ||
                         (on == "timeout" && status == core::status::kTimeout);
    return matches && RetryCount(r) < retry->value("max_retry_count", int64_t{2});
}

std::chrono::milliseconds RetryDelay(const core::ExecutionRequest& r) {
    const core::Json* retry = RequestPolicy(r, "retry");
    const double seconds = retry != nullptr && (*retry)["delay"].is_number() ? (*retry)["delay"].get<double>() : 0.0;
    return std::chrono::milliseconds(static_cast<int64_t>(std::clamp(seconds, 0.0, 86400.0) * 1000));
}

}  // namespace squall::executions
