#pragma once

#include <string>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"

/// The execution event stream's schema (docs/architecture.md, "Execution events"). One entry per change, written
/// by the same script that makes the change; consumers (notifier, API stream, workflow engine) read it with
/// consumer groups.
namespace squall::executions {

namespace event_kind {
inline constexpr const char* kCreate = "create";  ///< an execution was created (to = its first status)
inline constexpr const char* kStatus = "status";  ///< a status transition (from → to)
inline constexpr const char* kOutput = "output";  ///< a batch of output lines (`lines`)
}  // namespace event_kind

/// The trigger the notifier emits for every finished execution when an enabled rule listens to it.
inline constexpr const char* kActionTriggerType = "core.st2.generic.actiontrigger";
/// The trigger of an action's `notify` routes.
inline constexpr const char* kNotifyTriggerType = "core.st2.generic.notifytrigger";

struct ExecutionEvent {
    std::string kind;
    std::string execution_id;
    std::string from;    ///< previous status (status events)
    std::string to;      ///< new status (create and status events)
    std::string at;      ///< ISO-8601 UTC time of the change
    std::string action;  ///< action ref
    std::string parent;  ///< parent execution id, empty for top-level executions
    std::string runner;  ///< runner process that had claimed the execution, if any
    core::Json lines;    ///< output events: [{output_type, data, timestamp}]

    static Result<ExecutionEvent> Parse(const std::string& body);
};

}  // namespace squall::executions
