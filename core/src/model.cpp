#include "squall/core/model/model.hpp"

#include <algorithm>

namespace squall::core {

namespace status {
bool IsCompleted(const std::string& s) {
    return s == kSucceeded || s == kFailed || s == kTimeout || s == kAbandoned || s == kCanceled;
}
const std::vector<std::string>& All() {
    static const std::vector<std::string> kAll = {
        "requested",
        "scheduled",
        "delayed",
        "running",
        "succeeded",
        "failed",
        "timeout",
        "abandoned",
        "canceling",
        "canceled",
        "pending",
        "pausing",
        "paused",
        "resuming"};
    return kAll;
}
}  // namespace status

Json TriggerInstance::ToJson() const {
    Json j = {
        {"id", id},
        {"trigger", trigger},
        {"payload", payload},
        {"occurrence_time", occurrence_time},
        {"status", status},
    };
    if (!trigger_parameters.empty()) j["trigger_parameters"] = trigger_parameters;
    if (!trace_tag.empty()) j["trace_tag"] = trace_tag;
    return j;
}

namespace {

/// j[key] moved out of `j` (an object), or `otherwise` when it is absent.
Json Take(Json& j, const char* key, Json otherwise) {
    auto it = j.find(key);
    return it == j.end() ? std::move(otherwise) : std::move(*it);
}

}  // namespace

Result<TriggerInstance> TriggerInstance::FromJson(Json j) {
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string() || !j.contains("trigger") ||
        !j["trigger"].is_string()) {
        return InvalidArgument("trigger instance: needs string fields 'id' and 'trigger'");
    }
    TriggerInstance t;
    t.id = j["id"];
    t.trigger = j["trigger"];
    t.payload = Take(j, "payload", Json::object());
    t.trigger_parameters = Take(j, "trigger_parameters", Json::object());
    t.occurrence_time = j.value("occurrence_time", "");
    t.status = j.value("status", "pending");
    t.trace_tag = j.value("trace_tag", "");
    return t;
}

Json ExecutionRequest::ToJson() const {
    return {
        {"execution_id", execution_id},
        {"action_ref", action_ref},
        {"runner_type", runner_type},
        {"action", action},
        {"parameters", parameters},
        {"secret_parameters", secret_parameters},
        {"masked_values", masked_values},
        {"context", context},
    };
}

Result<ExecutionRequest> ExecutionRequest::FromJson(Json j) {
    if (!j.is_object() || !j.contains("execution_id") || !j["execution_id"].is_string() || !j.contains("runner_type") ||
        !j["runner_type"].is_string()) {
        return InvalidArgument("execution request: needs string fields 'execution_id' and 'runner_type'");
    }
    ExecutionRequest r;
    r.execution_id = j["execution_id"];
    r.action_ref = j.value("action_ref", "");
    r.runner_type = j["runner_type"];
    r.action = Take(j, "action", Json::object());
    r.parameters = Take(j, "parameters", Json::object());
    r.secret_parameters = j.value("secret_parameters", std::vector<std::string>{});
    r.masked_values = j.value("masked_values", std::vector<std::string>{});
    r.context = Take(j, "context", Json::object());
    return r;
}

Result<std::pair<std::string, std::string>> SplitRef(const std::string& ref) {
    const auto dot = ref.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == ref.size()) {
        return InvalidArgument("\"" + ref + "\" is not a reference of the form pack.name");
    }
    return std::make_pair(ref.substr(0, dot), ref.substr(dot + 1));
}

bool BoolOr(const Json& obj, const std::string& key, bool fallback) {
    if (!obj.is_object()) return fallback;
    auto it = obj.find(key);
    return it != obj.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

namespace {
void CanonicalDumpTo(std::string& out, const Json& v) {
    if (v.is_object()) {
        std::vector<Json::const_iterator> items;
        items.reserve(v.size());
        for (auto it = v.begin(); it != v.end(); ++it) items.push_back(it);
        std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.key() < b.key(); });
        out += '{';
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += ',';
            out += Json(items[i].key()).dump();
            out += ':';
            CanonicalDumpTo(out, *items[i]);
        }
        out += '}';
    } else if (v.is_array()) {
        out += '[';
        for (size_t i = 0; i < v.size(); ++i) {
            if (i) out += ',';
            CanonicalDumpTo(out, v[i]);
        }
        out += ']';
    } else {
        out += v.dump();
    }
}
}  // namespace

std::string CanonicalDump(const Json& v) {
    std::string out;
    CanonicalDumpTo(out, v);
    return out;
}

}  // namespace squall::core
