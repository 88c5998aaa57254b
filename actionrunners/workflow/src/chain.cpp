// StackStorm's action-chain (chain.hpp): the definition, its checks, and the state machine the `workflow` role
// drives. Semantics from StackStorm's action-chain runner (reference §6): one task at a time, on-success /
// on-failure, publish into the chain's variables, the chain ends with the status of the last task that ran.
#include "squall/workflows/chain.hpp"

#include <map>
#include <set>

#include "squall/templates/template.hpp"

namespace squall::workflows {
namespace {

namespace st {
const char* kRunning = "running";
const char* kCanceling = "canceling";
const char* kPausing = "pausing";
const char* kPaused = "paused";
const char* kSucceeded = "succeeded";
const char* kFailed = "failed";
const char* kTimeout = "timeout";
const char* kCanceled = "canceled";
}  // namespace st

bool HasJinja(const std::string& s) {
    return s.find("{{") != std::string::npos || s.find("{%") != std::string::npos;
}

struct ChainParser {
    const core::YamlDocument& doc;

    Error At(const std::string& path, const std::string& what) const {
        Error e = doc.ErrorAt(path, what);
        if (e.location) e.message = e.location->ToString() + ": " + e.message;
        return e;
    }

    Result<std::string> OptionalName(const Json& node, const char* key, const std::string& path) const {
        if (!node.contains(key) || node[key].is_null()) return std::string();
        if (!node[key].is_string()) return At(path + "." + key, "must be a task name");
        return node[key].get<std::string>();
    }

    Result<ChainNode> Node(const Json& n, const std::string& path) const {
        if (!n.is_object()) return At(path, "must be a mapping with name and ref");
        static const std::set<std::string> kKeys = {
            "name", "ref", "params", "parameters", "on-success", "on-failure", "publish", "notify", "description"};
        for (const auto& [k, v] : n.items()) {
            if (!kKeys.count(k)) {
                return At(
                    path + "." + k,
                    "unknown task field (allowed: name, ref, parameters, params, on-success, on-failure, publish, "
                    "notify, description)"
                );
            }
        }
        ChainNode node;
        node.line = doc.At(path).line;
        if (!n.contains("name") || !n["name"].is_string() || n["name"].get<std::string>().empty())
            return At(n.contains("name") ? path + ".name" : path, "a task needs a name");
        node.name = n["name"];
        if (!n.contains("ref") || !n["ref"].is_string() || n["ref"].get<std::string>().empty())
            return At(n.contains("ref") ? path + ".ref" : path, "task \"" + node.name + "\" needs a ref (an action)");
        node.ref = n["ref"];
        const bool has_params = n.contains("params") && !n["params"].is_null();
        const bool has_parameters = n.contains("parameters") && !n["parameters"].is_null();
        if (has_params && has_parameters)
            return At(path + ".params", "give either \"params\" or \"parameters\", not both");
        const char* pkey = has_params ? "params" : "parameters";
        if (has_params || has_parameters) {
            if (!n[pkey].is_object()) return At(path + "." + pkey, "must be a mapping of parameters");
            node.parameters = n[pkey];
        }
        auto s = OptionalName(n, "on-success", path);
        if (!s) return s.error();
        node.on_success = *s;
        auto f = OptionalName(n, "on-failure", path);
        if (!f) return f.error();
        node.on_failure = *f;
        if (n.contains("publish") && !n["publish"].is_null()) {
            if (!n["publish"].is_object()) return At(path + ".publish", "must be a mapping of name: template");
            for (const auto& [k, v] : n["publish"].items()) node.publish.emplace_back(k, v);
        }
        return node;
    }
};

/// What a template failure says, after StackStorm's runner ("... (template string=...): why").
std::string RenderFailure(
    const std::string& what, const std::string& key, const std::string& task, const Json& value, const Error& e
) {
    return "Failed rendering value for " + what + " \"" + key + "\" in task \"" + task +
           "\" (template string=" + (value.is_string() ? value.get<std::string>() : value.dump()) + "): " + e.message;
}

/// StackStorm's runner puts Python's traceback beside a chain's error. Squall has no Python stack: the traceback
/// says which step of the chain failed and the kind of failure, in the same place.
std::string Traceback(const std::string& step, const std::string& exception, const std::string& message) {
    return "Traceback (most recent call last):\n  action-chain, " + step + "\n" + exception + ": " + message;
}

/// Render options of task parameters and publish: StackStorm's environment, strict, with `system.<key>` as well as
/// `st2kv.system.<key>`.
core::RenderOptions TaskRenderOptions(const core::KeyValueLookup* kv) {
    core::RenderOptions opts;
    opts.kv = kv;
    opts.strict_undefined = true;
    opts.stackstorm_whitespace = true;
    opts.kv_system_alias = true;
    return opts;
}

}  // namespace

const ChainNode* ChainSpec::Find(const std::string& name) const {
    for (const auto& n : chain) {
        if (n.name == name) return &n;
    }
    return nullptr;
}

Result<ChainSpec> ParseChain(const std::string& text, const std::string& file) {
    auto doc = core::ParseYaml(text, file);
    if (!doc) {
        Error e = doc.error();
        if (e.location && e.message.rfind(e.location->ToString(), 0) != 0)
            e.message = e.location->ToString() + ": " + e.message;
        return e;
    }
    ChainSpec spec;
    spec.file = file;
    spec.doc = std::move(*doc);
    ChainParser p{spec.doc};
    const Json& v = spec.doc.value;
    if (!v.is_object()) return p.At("", "an action-chain must be a mapping with a chain");
    for (const auto& [k, x] : v.items()) {
        if (k != "chain" && k != "default" && k != "vars")
            return p.At(k, "unknown field (allowed: chain, default, vars)");
    }
    if (!v.contains("chain") || !v["chain"].is_array() || v["chain"].empty())
        return p.At(v.contains("chain") ? "chain" : "", "chain: must be a non-empty list of tasks");
    std::set<std::string> names;
    for (size_t i = 0; i < v["chain"].size(); ++i) {
        const std::string path = "chain[" + std::to_string(i) + "]";
        auto node = p.Node(v["chain"][i], path);
        if (!node) return node.error();
        if (!names.insert(node->name).second)
            return p.At(path + ".name", "task name \"" + node->name + "\" is used twice");
        spec.chain.push_back(std::move(*node));
    }
    if (v.contains("vars") && !v["vars"].is_null()) {
        if (!v["vars"].is_object()) return p.At("vars", "must be a mapping of name: value");
        for (const auto& [k, x] : v["vars"].items()) spec.vars.emplace_back(k, x);
    }
    // References are checked before anything runs, as StackStorm's runner does; a Jinja name waits for run time.
    auto known = [&](const std::string& name) { return name.empty() || HasJinja(name) || names.count(name); };
    for (size_t i = 0; i < spec.chain.size(); ++i) {
        const ChainNode& n = spec.chain[i];
        const std::string path = "chain[" + std::to_string(i) + "]";
        if (!known(n.on_success)) {
            return p.At(
                path + ".on-success",
                "Unable to find node with name \"" + n.on_success + "\" referenced in \"on-success\" in task \"" +
                    n.name + "\"."
            );
        }
        if (!known(n.on_failure)) {
            return p.At(
                path + ".on-failure",
                "Unable to find node with name \"" + n.on_failure + "\" referenced in \"on-failure\" in task \"" +
                    n.name + "\"."
            );
        }
    }
    if (v.contains("default") && !v["default"].is_null()) {
        if (!v["default"].is_string()) return p.At("default", "must be a task name");
        spec.default_node = v["default"];
        if (!known(spec.default_node))
            return p.At(
                "default", "Unable to find node with name \"" + spec.default_node + "\" referenced in \"default\"."
            );
    }
    if (spec.default_node.empty()) {
        // The first task no other task goes on to; the first task when every one is reached (a loop).
        std::set<std::string> referenced;
        for (const auto& n : spec.chain) {
            referenced.insert(n.on_success);
            referenced.insert(n.on_failure);
        }
        spec.default_node = spec.chain[0].name;
        for (const auto& n : spec.chain) {
            if (!referenced.count(n.name)) {
                spec.default_node = n.name;
                break;
            }
        }
    }
    return spec;
}

ChainConductor::ChainConductor(const ChainSpec& spec, Json& state, const ConductorHost& host)
    : spec_(spec), s_(state), host_(host) {
    if (!s_.is_object()) s_ = Json::object();
    if (!s_.contains("status")) s_["status"] = st::kRunning;
    for (const char* k : {"vars", "published", "params"}) {
        if (!s_.contains(k)) s_[k] = Json::object();
    }
    if (!s_.contains("tasks")) s_["tasks"] = Json::array();
    if (!s_.contains("seq")) s_["seq"] = 0;
    if (!s_.contains("chain_status")) s_["chain_status"] = st::kSucceeded;
}

std::string ChainConductor::Now() const {
    return host_.now ? host_.now() : std::string();
}

Json ChainConductor::Context(const std::string& ending_task, const Json& ending_result) const {
    // The latest run of each task (a chain may loop back to a task): its result by name and under __results.
    std::map<std::string, size_t> latest;
    const Json& tasks = s_["tasks"];
    for (size_t i = 0; i < tasks.size(); ++i) latest[tasks[i]["name"].get<std::string>()] = i;
    std::vector<std::string> names;
    std::vector<std::string> ids;
    for (const auto& [name, i] : latest) {
        if (name == ending_task) continue;
        names.push_back(name);
        ids.push_back(tasks[i]["execution_id"].is_string() ? tasks[i]["execution_id"].get<std::string>() : "");
    }
    std::vector<Json> got = host_.results && !ids.empty() ? host_.results(ids) : std::vector<Json>(ids.size());
    Json results = Json::object();
    for (size_t k = 0; k < names.size(); ++k) {
        const Json& t = tasks[latest[names[k]]];
        results[names[k]] = t.contains("r") ? t["r"] : (k < got.size() ? got[k] : Json());
    }
    if (!ending_task.empty()) results[ending_task] = ending_result;
    Json ctx = s_["params"];
    for (const auto& [k, v] : results.items()) ctx[k] = v;
    for (const auto& [k, v] : s_["vars"].items()) ctx[k] = v;
    ctx["__results"] = std::move(results);
    ctx["action_context"] = {{"parent", host_.st2}};
    return ctx;
}

void ChainConductor::Start(const Json& input, StepOutput& out) {
    // The runner's own parameters steer the runner; the templates see the action's parameters only.
    Json params = input.is_object() ? input : Json::object();
    s_["display_published"] = params.value("display_published", true);
    params.erase("display_published");
    params.erase("skip_notify");
    s_["params"] = std::move(params);
    core::RenderOptions opts;
    opts.kv = host_.kv;
    opts.strict_undefined = true;
    opts.stackstorm_whitespace = true;
    for (const auto& [name, value] : spec_.vars) {
        auto v = core::RenderValue(value, s_["params"], opts);
        if (!v) {
            return EndWithError(
                "Failed initializing ``vars`` in chain. " + RenderFailure("var", name, "vars", value, v.error()),
                out,
                "ParameterRenderingFailedException"
            );
        }
        s_["vars"][name] = std::move(*v);
    }
    RunNode(spec_.default_node, out);
}

void ChainConductor::RunNode(
    const std::string& wanted, StepOutput& out, const std::string& ended, const Json& ended_result
) {
    const std::string status = s_["status"];
    if (status == st::kPausing || status == st::kPaused) {
        s_["deferred"] = wanted;
        if (status == st::kPausing) {
            s_["status"] = st::kPaused;
            out.paused = true;
        }
        return;
    }
    if (status == st::kCanceling) return End(st::kCanceled, out);
    if (status != st::kRunning) return;
    const core::RenderOptions opts = TaskRenderOptions(host_.kv);
    Json ctx = Context(ended, ended_result);
    std::string name = wanted;
    if (HasJinja(name)) {
        auto r = core::RenderValue(Json(name), ctx, opts);
        if (!r || !r->is_string()) {
            return EndWithError(
                "Failed to get next node \"" + wanted + "\". " + (r ? "it is not a task name" : r.error().message), out
            );
        }
        name = *r;
    }
    const ChainNode* node = spec_.Find(name);
    if (!node) return EndWithError("Unable to find node with name \"" + name + "\".", out);
    // Task parameters also see the config of the chain's pack, as StackStorm's _resolve_params gives them.
    if (!node->parameters.empty()) ctx["config_context"] = host_.config ? host_.config() : Json::object();
    Json params = Json::object();
    for (const auto& [k, v] : node->parameters.items()) {
        auto r = core::RenderValue(v, ctx, opts);
        if (!r) {
            return EndWithError(
                "Failed to run task \"" + node->name + "\". Parameter rendering failed. " +
                    RenderFailure("action parameter", k, node->name, v, r.error()),
                out,
                "ParameterRenderingFailedException",
                node->name
            );
        }
        params[k] = std::move(*r);
    }
    const int seq = s_["seq"];
    s_["seq"] = seq + 1;
    s_["current"] = {{"name", node->name}, {"seq", seq}, {"ref", node->ref}, {"in", params}, {"at", Now()}};
    Launch l;
    l.task_id = node->name;
    l.task_name = node->name;
    l.item = seq;
    l.action = node->ref;
    l.input = std::move(params);
    l.kind = "chain";
    out.launches.push_back(std::move(l));
}

void ChainConductor::TaskEnded(
    const std::string& task_id,
    int item,
    int,
    const std::string& execution_id,
    const std::string& status,
    const Json& result,
    StepOutput& out
) {
    if (!s_.contains("current") || !s_["current"].is_object()) return;  // nothing out: stale or repeated
    const Json cur = s_["current"];
    if (cur["name"] != task_id || cur["seq"].get<int>() != item) return;
    s_.erase("current");
    if (s_.value("paused_by", "") == "pending") {
        // The chain paused because this task waited for an answer; it has one: the chain goes on by itself.
        s_.erase("paused_by");
        if (s_["status"] == st::kPaused || s_["status"] == st::kPausing) {
            s_["status"] = st::kRunning;
            out.resumed = true;
        }
    }
    Json ended_result = result;
    std::string ended_status = status;
    if (execution_id.empty()) {
        const std::string why = result.is_object() ? result.value("error", result.dump()) : result.dump();
        if (result.is_object() && result.value("code", "") == "NOT_FOUND") {
            // No such action: the chain stops there, on-failure does not run (StackStorm's
            // InvalidActionReferencedException).
            return EndWithError(
                "Failed to run task \"" + task_id + "\". Action with reference \"" + cur.value("ref", "") +
                    "\" doesn't exist. " + why,
                out,
                "InvalidActionReferencedException",
                task_id
            );
        }
        // The service refused to run it (parameters its schema rejects, a disabled or unavailable action): as in
        // StackStorm, the task failed with that error as its result, and on-failure runs.
        const std::string message = "Failed running task \"" + task_id + "\". " + why;
        ended_result = {
            {"error", message}, {"traceback", Traceback("task \"" + task_id + "\"", "ActionRunnerException", why)}};
        ended_status = st::kFailed;
    }
    Json record = {
        {"name", task_id},
        {"execution_id", execution_id.empty() ? Json() : Json(execution_id)},
        {"created_at", cur.value("at", "")},
        {"updated_at", Now()},
        {"state", ended_status}};
    if (execution_id.empty()) record["r"] = ended_result;  // no execution record holds it
    s_["tasks"].push_back(std::move(record));
    const ChainNode* node = spec_.Find(task_id);
    if (!node) return EndWithError("Unable to find node with name \"" + task_id + "\".", out);
    // Publish happens whatever the task's status, as StackStorm's runner does: a failure handler may read it.
    if (!node->publish.empty()) {
        const Json ctx = Context(task_id, ended_result);
        const core::RenderOptions opts = TaskRenderOptions(host_.kv);
        Json delta = Json::object();
        for (const auto& [k, v] : node->publish) {
            auto r = core::RenderValue(v, ctx, opts);
            if (!r) {
                return EndWithError(
                    RenderFailure("publish parameter", k, task_id, v, r.error()),
                    out,
                    "ParameterRenderingFailedException",
                    task_id
                );
            }
            delta[k] = std::move(*r);
        }
        for (const auto& [k, v] : delta.items()) {
            s_["vars"][k] = v;
            s_["published"][k] = v;
        }
    }
    std::string next;
    if (ended_status == st::kSucceeded) {
        s_["chain_status"] = st::kSucceeded;
        next = node->on_success;
    } else if (ended_status == st::kCanceled) {
        return End(st::kCanceled, out);
    } else {
        s_["chain_status"] = ended_status == st::kTimeout ? st::kTimeout : st::kFailed;
        next = node->on_failure;
    }
    if (s_["status"] == st::kCanceling) return End(st::kCanceled, out);
    if (next.empty()) return End(s_["chain_status"], out);
    RunNode(next, out, task_id, ended_result);
}

void ChainConductor::TaskPending(const std::string& task_id, int item, int, StepOutput& out) {
    if (!s_.contains("current") || !s_["current"].is_object()) return;
    Json& cur = s_["current"];
    if (cur["name"] != task_id || cur["seq"].get<int>() != item || cur.value("pending", false)) return;
    cur["pending"] = true;
    // StackStorm pauses a chain whose task is pending (an inquiry) until the task ends.
    if (s_["status"] == st::kRunning || s_["status"] == st::kPausing) {
        out.pausing = s_["status"] == st::kRunning;
        s_["status"] = st::kPaused;
        s_["paused_by"] = "pending";
        out.paused = true;
    }
}

void ChainConductor::TaskPaused(const std::string& task_id, int item, int, StepOutput& out) {
    if (!s_.contains("current") || !s_["current"].is_object()) return;
    Json& cur = s_["current"];
    if (cur["name"] != task_id || cur["seq"].get<int>() != item) return;
    // A subworkflow paused under a pausing chain: nothing runs any more. One paused on its own pauses the chain too
    // (its only running task is paused), as StackStorm's chain runner does; the subworkflow's resume does not resume
    // the chain: it waits for its own resume, then goes on.
    if (s_["status"] == st::kPausing || s_["status"] == st::kRunning) {
        out.pausing = s_["status"] == st::kRunning;
        s_["status"] = st::kPaused;
        out.paused = true;
    }
}

void ChainConductor::TaskResumed(const std::string& task_id, int item, int, StepOutput& out) {
    if (!s_.contains("current") || !s_["current"].is_object()) return;
    Json& cur = s_["current"];
    if (cur["name"] != task_id || cur["seq"].get<int>() != item || !cur.value("pending", false)) return;
    // A subworkflow whose inquiry paused this chain runs again: the chain goes on with it.
    cur.erase("pending");
    if (s_.value("paused_by", "") == "pending") {
        s_.erase("paused_by");
        if (s_["status"] == st::kPaused || s_["status"] == st::kPausing) {
            s_["status"] = st::kRunning;
            out.resumed = true;
        }
    }
}

void ChainConductor::Cancel(StepOutput& out) {
    const std::string status = s_["status"];
    if (status != st::kRunning && status != st::kPausing && status != st::kPaused) return;
    s_.erase("deferred");
    if (s_.contains("current") && !s_["current"].value("pending", false)) {
        s_["status"] = st::kCanceling;  // the running task finishes; nothing starts after it
        return;
    }
    End(st::kCanceled, out);
}

void ChainConductor::Pause(StepOutput& out) {
    if (s_["status"] != st::kRunning) return;
    if (s_.contains("current")) {
        s_["status"] = st::kPausing;
        return;
    }
    s_["status"] = st::kPaused;
    out.paused = true;
}

void ChainConductor::Resume(StepOutput& out) {
    const std::string status = s_["status"];
    if (status != st::kPausing && status != st::kPaused) return;
    s_["status"] = st::kRunning;
    out.resumed = true;
    if (s_.contains("deferred")) {
        const std::string next = s_["deferred"];
        s_.erase("deferred");
        RunNode(next, out);
    }
}

bool ChainConductor::Finished() const {
    const std::string status = s_["status"];
    return status == st::kSucceeded || status == st::kFailed || status == st::kTimeout || status == st::kCanceled;
}

std::vector<Launch> ChainConductor::Running() const {
    if (Finished() || !s_.contains("current")) return {};
    const Json& cur = s_["current"];
    Launch l;
    l.task_id = cur["name"];
    l.task_name = cur["name"];
    l.item = cur["seq"];
    l.action = cur["ref"];
    l.input = cur["in"];
    l.kind = "chain";
    return {l};
}

void ChainConductor::EndWithError(
    const std::string& message, StepOutput& out, const std::string& exception, const std::string& task
) {
    s_["error"] = message;
    s_["traceback"] = Traceback(task.empty() ? "the chain" : "task \"" + task + "\"", exception, message);
    End(st::kFailed, out);
}

void ChainConductor::End(const std::string& status, StepOutput& out) {
    if (Finished()) return;
    s_.erase("current");
    s_.erase("deferred");
    // StackStorm's result: every task that ran with its execution and result, what was published, the error.
    const Json& tasks = s_["tasks"];
    std::vector<std::string> ids;
    for (const auto& t : tasks)
        ids.push_back(t["execution_id"].is_string() ? t["execution_id"].get<std::string>() : "");
    std::vector<Json> got = host_.results && !ids.empty() ? host_.results(ids) : std::vector<Json>(ids.size());
    Json list = Json::array();
    for (size_t i = 0; i < tasks.size(); ++i) {
        const Json& t = tasks[i];
        list.push_back(
            {{"id", t["name"]},
             {"name", t["name"]},
             {"execution_id", t["execution_id"]},
             {"liveaction_id", t["execution_id"]},
             {"workflow", nullptr},
             {"created_at", t["created_at"]},
             {"updated_at", t["updated_at"]},
             {"state", t["state"]},
             {"result", t.contains("r") ? t["r"] : (i < got.size() ? got[i] : Json())}}
        );
    }
    Json result = {{"tasks", std::move(list)}};
    if (s_.value("display_published", true)) result["published"] = s_["published"];
    if (s_.contains("error")) result["error"] = s_["error"];
    if (s_.contains("traceback")) result["traceback"] = s_["traceback"];
    s_["status"] = status;
    s_["result"] = result;
    out.finished = true;
    out.status = status;
    out.result = std::move(result);
}

}  // namespace squall::workflows
