// `squall trigger-instance list|get|re-emit` and `squall trace list|get` (st2 trigger-instance, st2 trace): what
// happened to an event, as a readable tree — the trigger instance, every rule decision (a miss says which
// criterion failed), the executions and their workflow tasks.
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "app.hpp"
#include "squall/api/client.hpp"

namespace squall::app {
namespace {

using core::Json;

constexpr const char* kTriggerInstanceUsage =
    "usage: squall trigger-instance list [--trigger REF] [--status S] [--since ISO] [--until ISO] [-n N] [-j]\n"
    "       squall trigger-instance get <id> [-j]\n"
    "       squall trigger-instance re-emit <id> [-j]\n";
constexpr const char* kTraceUsage =
    "usage: squall trace list [--trace-tag TAG] [--execution ID] [--rule REF] [-n N] [-j]\n"
    "       squall trace get <id> [-j]      (the id of the trigger instance)\n";

api::ApiClient Client() {
    return CliClient();
}

int Fail(const Error& e) {
    std::cerr << "ERROR: " << e.What() << "\n";
    return ExitCode(e.code);
}

struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::string> options;
    bool json = false;
};

Result<Args> Parse(const std::vector<std::string>& args) {
    Args out;
    for (size_t i = 2; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-j" || a == "--json") {
            out.json = true;
        } else if (a.size() > 1 && a[0] == '-') {
            if (i + 1 >= args.size()) return InvalidArgument("option " + a + " needs a value");
            out.options[a.substr(a[1] == '-' ? 2 : 1)] = args[++i];
        } else {
            out.positional.push_back(a);
        }
    }
    return out;
}

/// `?k=v&...` from the options named in `map` (option → query parameter), %-encoding the values.
std::string Query(const Args& a, const std::vector<std::pair<std::string, std::string>>& map) {
    std::string q;
    for (const auto& [opt, param] : map) {
        auto it = a.options.find(opt);
        if (it == a.options.end()) continue;
        std::ostringstream v;
        for (unsigned char c : it->second) {
            if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
                v << c;
            } else {
                v << '%' << std::uppercase << std::hex << std::setw(2) << std::setfill('0') << static_cast<int>(c);
            }
        }
        q += (q.empty() ? "?" : "&") + param + "=" + v.str();
    }
    return q;
}

std::string Str(const Json& j, const char* key) {
    if (!j.is_object() || !j.contains(key) || j[key].is_null()) return "";
    return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

/// One execution and its children, indented under `prefix`.
void PrintExecution(const Json& node, const std::string& prefix, bool last, std::ostream& out) {
    out << prefix << (last ? "└── " : "├── ");
    if (!Str(node, "task").empty()) out << "task " << Str(node, "task") << ": ";
    out << "execution " << Str(node, "id") << " " << Str(node, "action") << " " << Str(node, "status");
    if (node.contains("elapsed_seconds") && node["elapsed_seconds"].is_number()) {
        out << " (" << std::fixed << std::setprecision(3) << node["elapsed_seconds"].get<double>() << " s)";
    }
    if (!Str(node, "error").empty()) out << " [" << Str(node, "error") << "]";
    out << "\n";
    const Json children = node.value("children", Json::array());
    const std::string inner = prefix + (last ? "    " : "│   ");
    for (size_t i = 0; i < children.size(); ++i) PrintExecution(children[i], inner, i + 1 == children.size(), out);
    if (node.contains("children_truncated")) out << inner << "└── ... " << node["children_truncated"] << " more\n";
}

void PrintTrace(const Json& trace, std::ostream& out) {
    const Json ti = trace.value("trigger_instance", Json::object());
    out << "trace " << Str(trace, "id");
    if (!Str(trace, "trace_tag").empty()) out << " (trace tag " << Str(trace, "trace_tag") << ")";
    out << "\ntrigger instance " << Str(ti, "id") << " " << Str(ti, "trigger") << " at " << Str(ti, "occurrence_time")
        << ", " << Str(ti, "status") << "\n";
    const Json decisions = trace.value("rule_decisions", Json::array());
    const Json executions = trace.value("executions", Json::array());
    if (decisions.empty()) out << "└── no rule listens to " << Str(ti, "trigger") << "\n";
    for (size_t i = 0; i < decisions.size(); ++i) {
        const Json& d = decisions[i];
        const bool last = i + 1 == decisions.size();
        out << (last ? "└── " : "├── ") << "rule " << Str(d, "rule") << ": ";
        const bool matched = d.value("matched", false);
        if (d.value("evaluated", "") == "stored") {
            out << "matched";
            if (!Str(d, "failure_reason").empty()) out << ", enforcement failed: " << Str(d, "failure_reason");
            out << "\n";
        } else {
            out << (matched ? "matches now, " : "not matched: ") << Str(d, "reason") << "\n";
        }
        const std::string inner = last ? "    " : "│   ";
        const std::string exec_id = Str(d, "execution_id");
        if (exec_id.empty()) continue;
        for (const auto& e : executions) {
            if (Str(e, "id") == exec_id) PrintExecution(e, inner, true, out);
        }
    }
}

int PrintJsonOr(const Json& body, bool json, const std::function<void()>& text) {
    if (json) {
        std::cout << body.dump(2) << "\n";
    } else {
        text();
    }
    return 0;
}

}  // namespace

int TriggerInstanceCommand(const std::vector<std::string>& args) {
    const std::string sub = args.size() > 1 ? args[1] : "";
    if (sub == "-h" || sub == "--help") {
        std::cout << kTriggerInstanceUsage;
        return 0;
    }
    Result<Args> a = Parse(args);
    if (!a) return Fail(a.error());
    api::ApiClient client = Client();
    if (sub == "list" && a->positional.empty()) {
        const std::string path = "/triggerinstances" + Query(
                                                           *a,
                                                           {{"trigger", "trigger"},
                                                            {"status", "status"},
                                                            {"since", "timestamp_gt"},
                                                            {"until", "timestamp_lt"},
                                                            {"n", "limit"}}
                                                       );
        Result<api::ApiResponse> r = client.Get(path);
        if (!r) return Fail(r.error());
        return PrintJsonOr(r->body, a->json, [&] {
            PrintTable(
                r->body,
                {{"id", "id"}, {"trigger", "trigger"}, {"occurrence_time", "occurrence_time"}, {"status", "status"}}
            );
        });
    }
    if (sub == "get" && a->positional.size() == 1) {
        Result<api::ApiResponse> r = client.Get("/triggerinstances/" + a->positional[0]);
        if (!r) return Fail(r.error());
        std::cout << r->body.dump(2) << "\n";
        return 0;
    }
    if (sub == "re-emit" && a->positional.size() == 1) {
        Result<api::ApiResponse> r = client.Post("/triggerinstances/" + a->positional[0] + "/re_emit", Json::object());
        if (!r) return Fail(r.error());
        return PrintJsonOr(r->body, a->json, [&] { std::cout << Str(r->body, "message") << "\n"; });
    }
    std::cerr << kTriggerInstanceUsage;
    return 2;
}

int TraceCommand(const std::vector<std::string>& args) {
    const std::string sub = args.size() > 1 ? args[1] : "";
    if (sub == "-h" || sub == "--help") {
        std::cout << kTraceUsage;
        return 0;
    }
    Result<Args> a = Parse(args);
    if (!a) return Fail(a.error());
    api::ApiClient client = Client();
    if (sub == "list" && a->positional.empty()) {
        const std::string path =
            "/traces" +
            Query(*a, {{"trace-tag", "trace_tag"}, {"execution", "execution"}, {"rule", "rule"}, {"n", "limit"}});
        Result<api::ApiResponse> r = client.Get(path);
        if (!r) return Fail(r.error());
        return PrintJsonOr(r->body, a->json, [&] {
            PrintTable(r->body, {{"id", "id"}, {"trace_tag", "trace_tag"}, {"start_timestamp", "start_timestamp"}});
        });
    }
    if (sub == "get" && a->positional.size() == 1) {
        Result<api::ApiResponse> r = client.Get("/traces/" + a->positional[0]);
        if (!r) return Fail(r.error());
        return PrintJsonOr(r->body, a->json, [&] { PrintTrace(r->body, std::cout); });
    }
    std::cerr << kTraceUsage;
    return 2;
}

}  // namespace squall::app
