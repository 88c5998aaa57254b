#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "squall/core/error.hpp"
#include "squall/core/ordered_map.hpp"

/// The stream schema every role shares: what travels on the Redis streams and what is stored for the API.
/// Roles meet only through these types (STYLE.md §1).
namespace squall::core {

/// JSON values keep object keys in insertion order, as Python's dict does (payloads as received, YAML files as
/// written); objects still compare as sets (ordered_map.hpp, docs/decisions.md).
using Json = nlohmann::basic_json<OrderedMap>;

/// Execution statuses (StackStorm names, reference §2.1).
namespace status {
inline constexpr const char* kRequested = "requested";
inline constexpr const char* kScheduled = "scheduled";
inline constexpr const char* kDelayed = "delayed";
inline constexpr const char* kRunning = "running";
inline constexpr const char* kSucceeded = "succeeded";
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kTimeout = "timeout";
inline constexpr const char* kAbandoned = "abandoned";
inline constexpr const char* kCanceling = "canceling";
inline constexpr const char* kCanceled = "canceled";
inline constexpr const char* kPending = "pending";
/// True for succeeded, failed, timeout, abandoned, canceled.
bool IsCompleted(const std::string& s);
/// Every status name, for validating filters.
const std::vector<std::string>& All();
}  // namespace status

/// A trigger instance: one event from a sensor or webhook (SPEC §3). Travels on the triggers stream.
struct TriggerInstance {
    std::string id;
    std::string trigger;                       ///< trigger type ref, e.g. core.st2.webhook
    Json trigger_parameters = Json::object();  ///< e.g. {"url": "push"} for webhooks
    Json payload = Json::object();
    std::string occurrence_time;     ///< ISO-8601 UTC
    std::string status = "pending";  ///< pending, processing, processed, processing_failed
    std::string trace_tag;

    Json ToJson() const;
    /// By value: a caller done with `j` moves it in, and the payload is moved out instead of copied.
    static Result<TriggerInstance> FromJson(Json j);
};

/// What a runner needs to run one execution. Travels on the executions stream of the action's pool.
/// Unlike the stored execution, its parameters are not masked; the entry is deleted once acknowledged.
struct ExecutionRequest {
    std::string execution_id;
    std::string action_ref;
    std::string runner_type;
    Json action = Json::object();                ///< action metadata snapshot (entry_point, parameters schema, ...)
    Json parameters = Json::object();            ///< rendered, cast, defaults applied, secrets in clear
    std::vector<std::string> secret_parameters;  ///< names whose values must be masked
    std::vector<std::string> masked_values;      ///< other values to mask (datastore secrets rendered in)
    Json context = Json::object();

    Json ToJson() const;
    /// By value: a caller done with `j` moves it in, and the action, parameters and context are moved out.
    static Result<ExecutionRequest> FromJson(Json j);
};

/// The outcome of a run, produced by a runner.
struct ExecutionResult {
    std::string status;  ///< succeeded, failed, timeout, canceled, abandoned
    Json result = Json::object();
};

/// "pack.name" → {"pack", "name"}; error when the ref is not of that form.
Result<std::pair<std::string, std::string>> SplitRef(const std::string& ref);

/// `obj[key]` when obj is an object holding a boolean there, `fallback` otherwise. Json::value throws when the
/// member has another type (`secret: "yes"` in a pack file terminated the process): flags read from content,
/// requests or parameters go through this.
bool BoolOr(const Json& obj, const std::string& key, bool fallback);

/// `v.dump()` with the keys of every object in sorted order (as nlohmann's std::map printed them): for ids and
/// digests derived from a value, which must not depend on the order its keys were written in.
std::string CanonicalDump(const Json& v);

}  // namespace squall::core
