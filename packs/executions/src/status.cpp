#include "squall/executions/status.hpp"

#include <algorithm>

namespace squall::executions {

const std::vector<std::pair<std::string_view, std::string_view>>& Transitions() {
    // Why each edge exists:
    // - requested/delayed/scheduled are queued: they go on (scheduled → running when a runner claims it), are
    //   delayed or re-queued by a policy, canceled at once, failed (no runner can take it) or abandoned.
    // - running ends in a result, or is paused, waits for an inquiry (pending), or is being canceled.
    // - pending (an inquiry) is resumed (running), answered (succeeded) or ends otherwise.
    // - pausing/paused/resuming are the workflow pause protocol; each can still be canceled or fail.
    // - canceling ends canceled, or with the result that raced the cancel, or abandoned if its runner died.
    static const std::vector<std::pair<std::string_view, std::string_view>> kTable = {
        {"requested", "scheduled"}, {"requested", "delayed"},   {"requested", "canceled"}, {"requested", "failed"},
        {"requested", "abandoned"},

        {"delayed", "requested"},   {"delayed", "scheduled"},   {"delayed", "canceled"},   {"delayed", "failed"},
        {"delayed", "abandoned"},

        {"scheduled", "running"},   {"scheduled", "delayed"},   {"scheduled", "canceled"}, {"scheduled", "failed"},
        {"scheduled", "abandoned"},

        {"running", "succeeded"},   {"running", "failed"},      {"running", "timeout"},    {"running", "canceling"},
        {"running", "canceled"},    {"running", "pausing"},     {"running", "pending"},    {"running", "abandoned"},

        {"pending", "running"},     {"pending", "succeeded"},   {"pending", "failed"},     {"pending", "timeout"},
        {"pending", "canceling"},   {"pending", "canceled"},    {"pending", "pausing"},    {"pending", "paused"},
        {"pending", "abandoned"},

        {"pausing", "paused"},      {"pausing", "canceling"},   {"pausing", "canceled"},   {"pausing", "succeeded"},
        {"pausing", "failed"},      {"pausing", "timeout"},     {"pausing", "abandoned"},

        {"paused", "resuming"},     {"paused", "canceling"},    {"paused", "canceled"},    {"paused", "abandoned"},

        {"resuming", "running"},    {"resuming", "paused"},     {"resuming", "canceling"}, {"resuming", "canceled"},
        {"resuming", "succeeded"},  {"resuming", "failed"},     {"resuming", "timeout"},   {"resuming", "abandoned"},

        {"canceling", "canceled"},  {"canceling", "succeeded"}, {"canceling", "failed"},   {"canceling", "timeout"},
        {"canceling", "abandoned"},
    };
    return kTable;
}

bool CanTransition(std::string_view from, std::string_view to) {
    const auto& t = Transitions();
    return std::find(t.begin(), t.end(), std::pair{from, to}) != t.end();
}

bool IsFinal(std::string_view s) {
    return s == "succeeded" || s == "failed" || s == "timeout" || s == "canceled" || s == "abandoned";
}

bool CancelsAtOnce(std::string_view s) {
    return s == "requested" || s == "scheduled" || s == "delayed" || s == "pending" || s == "paused";
}

bool CancelsThroughCanceling(std::string_view s) {
    return s == "running" || s == "pausing" || s == "resuming";
}

std::string TransitionsAsLuaString() {
    // The script looks an edge up with one plain string.find: a table built on every call cost more than the
    // rest of the check.
    std::string out = "',";
    for (const auto& [from, to] : Transitions()) out += std::string(from) + ">" + std::string(to) + ",";
    out += "'";
    return out;
}

}  // namespace squall::executions
