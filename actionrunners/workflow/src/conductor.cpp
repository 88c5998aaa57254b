// The Orquesta conductor (conductor.hpp): task graph, branches, joins, with-items, retries, engine commands,
// fail-fast, output. Semantics from Orquesta's language reference and its conducting behaviour (reference §6).
#include "squall/workflows/conductor.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "expressions.hpp"
#include "squall/core/input.hpp"
#include "squall/templates/template.hpp"
#include "squall/templates/yaql.hpp"

namespace squall::workflows {
namespace {

namespace st {
const char* kRunning = "running";
const char* kFailing = "failing";
const char* kCanceling = "canceling";
const char* kSucceeded = "succeeded";
const char* kFailed = "failed";
const char* kCanceled = "canceled";
const char* kPausing = "pausing";
const char* kPaused = "paused";
}  // namespace st

const char* kPending = "pending";  // a task or item waiting for an answer (an inquiry)
const char* kHeld = "held";        // a task or item that is a subworkflow someone paused
// Set when the workflow ran again because a subworkflow it was paused for resumed: the engine does not cascade that
// resume to its other subworkflows.
const char* kQuietResume = "quiet_resume";

bool Truthy(const Json& v) {
    if (v.is_null()) return false;
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number_integer()) return v.get<int64_t>() != 0;
    if (v.is_number()) return v.get<double>() != 0.0;
    if (v.is_string() || v.is_array() || v.is_object()) return !v.empty();
    return true;
}

Json MergeInto(Json base, const Json& delta) {
    if (!base.is_object()) base = Json::object();
    for (const auto& [k, v] : delta.items()) base[k] = v;
    return base;
}

Result<double> Seconds(const Json& v, const std::string& what) {
    if (v.is_null()) return 0.0;
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
        try {
            return std::stod(v.get<std::string>());
        } catch (...) {
        }
    }
    return InvalidArgument(what + " must be a number of seconds, got " + v.dump());
}

}  // namespace

struct Conductor::Env {
    int ctx = 0;
    std::string task_id;
    std::string task_status;  ///< for succeeded()/failed()/completed()
    Json result;
    bool has_result = false;
    Json item;
    bool has_item = false;
    std::vector<std::string> item_names;
    Json ctx_override;  ///< when set: the context to use instead of ResolveCtx(ctx)
};

Conductor::Conductor(const WorkflowSpec& spec, Json& state, const ConductorHost& host)
    : spec_(spec), s_(state), host_(host) {
    if (!s_.is_object()) s_ = Json::object();
    for (const char* k : {"ctxs", "seq", "errors"}) {
        if (!s_.contains(k)) s_[k] = Json::array();
    }
    for (const char* k : {"tasks", "joins", "counts"}) {
        if (!s_.contains(k)) s_[k] = Json::object();
    }
    if (!s_.contains("status")) s_["status"] = st::kRunning;
    if (!s_.contains("routes")) s_["routes"] = Json::array({Json::array()});
}

int Conductor::RouteFor(const std::string& target, const std::string& from, size_t index, int route) {
    const TaskSpec* t = spec_.Find(target);
    if (!t || t->join != 0) return route;
    size_t inbound = 0;  // inbound transitions, as Orquesta counts a split task's previous tasks
    for (const auto& [n, spec] : spec_.tasks) {
        for (const auto& tr : spec.next) inbound += std::count(tr.targets.begin(), tr.targets.end(), target);
    }
    if (inbound < 2) return route;
    // In a cycle (the task reaches itself): no new route.
    std::vector<std::string> queue, seen;
    for (const auto& tr : t->next) queue.insert(queue.end(), tr.targets.begin(), tr.targets.end());
    while (!queue.empty()) {
        const std::string n = queue.back();
        queue.pop_back();
        if (n == target) return route;
        if (std::find(seen.begin(), seen.end(), n) != seen.end()) continue;
        seen.push_back(n);
        if (const TaskSpec* next = spec_.Find(n)) {
            for (const auto& tr : next->next) queue.insert(queue.end(), tr.targets.begin(), tr.targets.end());
        }
    }
    Json& routes = s_["routes"];
    if (route < 0 || route >= static_cast<int>(routes.size())) route = 0;
    Json details = routes[route];
    const std::string via = from + "__t" + std::to_string(index);
    if (std::find(details.begin(), details.end(), Json(via)) != details.end()) return route;
    details.push_back(via);
    routes.push_back(std::move(details));
    return static_cast<int>(routes.size()) - 1;
}

const Json* Conductor::InstanceOn(const std::string& name, int route) const {
    const Json* found = nullptr;
    int best = -1;
    for (const auto& [id, task] : s_["tasks"].items()) {
        if (task.value("name", "") != name || task.value("route", 0) != route) continue;
        const size_t sep = id.rfind("__");
        const int n = sep == std::string::npos ? 0 : std::atoi(id.c_str() + sep + 2);
        if (n > best) {
            best = n;
            found = &task;
        }
    }
    if (found || route <= 0) return found;
    // Not on this route: the nearest earlier route that this one split from (its transitions are a subset).
    const Json& routes = s_["routes"];
    if (route >= static_cast<int>(routes.size())) return nullptr;
    const Json& current = routes[route];
    for (int prev = route - 1; prev >= 0; --prev) {
        bool subset = true;
        for (const auto& step : routes[prev]) {
            if (std::find(current.begin(), current.end(), step) == current.end()) subset = false;
        }
        if (subset) return InstanceOn(name, prev);
    }
    return nullptr;
}

Json Conductor::ResolveCtx(int index) const {
    // Iterative post-order over the parents (joins have several): every entry is merged once, parents first.
    const Json& ctxs = s_["ctxs"];
    if (index < 0 || index >= static_cast<int>(ctxs.size())) return Json::object();
    std::vector<int> order;
    std::vector<char> seen(ctxs.size(), 0);
    std::vector<std::pair<int, bool>> stack = {{index, false}};
    while (!stack.empty()) {
        auto [i, expanded] = stack.back();
        stack.pop_back();
        if (expanded) {
            order.push_back(i);
            continue;
        }
        if (seen[i]) continue;
        seen[i] = 1;
        stack.push_back({i, true});
        const Json& parents = ctxs[i]["p"];
        for (auto it = parents.rbegin(); it != parents.rend(); ++it) {
            const int p = it->get<int>();
            if (p >= 0 && p < static_cast<int>(ctxs.size()) && !seen[p]) stack.push_back({p, false});
        }
    }
    Json out = Json::object();
    for (int i : order) out = MergeInto(std::move(out), ctxs[i]["d"]);
    return out;
}

int Conductor::AddCtx(std::vector<int> parents, Json delta) {
    s_["ctxs"].push_back({{"p", parents}, {"d", std::move(delta)}});
    return static_cast<int>(s_["ctxs"].size()) - 1;
}

Json Conductor::TaskResult(const Json& task) const {
    const Json& execs = task["x"];
    if (!task.value("items", false)) {
        if (!host_.results || execs.empty() || execs[0].is_null()) return nullptr;
        auto r = host_.results({execs[0].get<std::string>()});
        return r.empty() ? Json() : r[0];
    }
    std::vector<std::string> ids;
    for (const auto& e : execs) ids.push_back(e.is_string() ? e.get<std::string>() : "");
    Json out = Json::array();
    if (!host_.results) {
        for (size_t i = 0; i < ids.size(); ++i) out.push_back(nullptr);
        return out;
    }
    for (auto& r : host_.results(ids)) out.push_back(std::move(r));
    return out;
}

Result<Json> Conductor::EvalInput(const TaskSpec& t, const Env& env) const {
    if (t.input_expression.empty()) return Eval(t.input, env);
    Result<Json> r = Eval(Json(t.input_expression), env);
    if (!r) return r;
    if (r->is_null()) return Json::object();
    if (!r->is_object())
        return InvalidArgument(
            "the input of task \"" + t.name + "\" evaluated to " + r->dump() + ", not a mapping of parameters"
        );
    return r;
}

Result<Json> Conductor::Eval(const Json& value, const Env& env) const {
    if (value.is_array()) {
        Json out = Json::array();
        for (const auto& v : value) {
            auto r = Eval(v, env);
            if (!r) return r;
            out.push_back(std::move(*r));
        }
        return out;
    }
    if (value.is_object()) {
        Json out = Json::object();
        for (const auto& [k, v] : value.items()) {
            auto r = Eval(v, env);
            if (!r) return r;
            out[k] = std::move(*r);
        }
        return out;
    }
    if (!value.is_string()) return value;
    const std::string& text = value.get_ref<const std::string&>();
    const bool yaql = core::HasYaql(text);
    const bool jinja = text.find("{{") != std::string::npos || text.find("{%") != std::string::npos;
    if (!yaql && !jinja) return value;

    const Json ctx = env.ctx_override.is_object() ? env.ctx_override : ResolveCtx(env.ctx);
    core::TemplateFunctions fns;
    fns["ctx"] = [&ctx](const std::vector<Json>& args, const auto&) -> Result<Json> {
        if (args.empty() || args[0].is_null()) return ctx;
        if (!args[0].is_string()) return InvalidArgument("ctx() takes a variable name");
        const std::string name = args[0];
        if (!ctx.contains(name)) return InvalidArgument("Variable \"" + name + "\" does not exist.");
        return ctx[name];
    };
    fns["result"] = [&env](const std::vector<Json>&, const auto&) -> Result<Json> {
        if (!env.has_result) return InvalidArgument("result() is only available in task transitions and retry");
        return env.result;
    };
    fns["item"] = [&env](const std::vector<Json>& args, const auto&) -> Result<Json> {
        if (!env.has_item) return InvalidArgument("item() is only available in a with-items task");
        if (args.empty() || args[0].is_null()) return env.item;
        if (!args[0].is_string()) return InvalidArgument("item() takes an item name");
        const std::string name = args[0];
        if (!env.item.is_object() || !env.item.contains(name))
            return InvalidArgument("Item does not have key \"" + name + "\".");
        return env.item[name];
    };
    auto status_is = [&env](std::vector<std::string> ok) {
        return [&env, ok](const std::vector<Json>&, const auto&) -> Result<Json> {
            return Json(std::find(ok.begin(), ok.end(), env.task_status) != ok.end());
        };
    };
    fns["succeeded"] = status_is({"succeeded"});
    fns["failed"] = status_is({"failed", "timeout", "abandoned", "expired"});
    fns["completed"] = status_is({"succeeded", "failed", "timeout", "abandoned", "expired", "canceled"});
    // The route a task function looks on: `fn(name, N)` / `route=N` (YAQL `route=>N`), else the route of the task
    // evaluating it (else 0, from `output`).
    auto route_of =
        [this, &env](
            const std::vector<Json>& args, const std::vector<std::pair<std::string, Json>>& kwargs, const char* fn
        ) -> Result<int> {
        Json route_arg = args.size() > 1 ? args[1] : Json();
        for (const auto& [k, v] : kwargs) {
            if (k == "route") route_arg = v;
        }
        if (route_arg.is_number_integer()) return route_arg.get<int>();
        if (!route_arg.is_null())
            return InvalidArgument(std::string(fn) + "(): route must be an integer, not " + route_arg.dump());
        return env.task_id.empty() ? 0 : s_["tasks"][env.task_id].value("route", 0);
    };
    // task_status(name[, route]): as Orquesta's, the task's latest instance on the route of the task evaluating it
    // (else route 0), or on the route given; Orquesta's statuses.UNSET, the string "null", when it has none.
    fns["task_status"] = [this, route_of](
                             const std::vector<Json>& args, const std::vector<std::pair<std::string, Json>>& kwargs
                         ) -> Result<Json> {
        if (args.empty() || !args[0].is_string()) return InvalidArgument("task_status() takes a task name");
        Result<int> route = route_of(args, kwargs, "task_status");
        if (!route) return route.error();
        const Json* t = InstanceOn(args[0].get<std::string>(), *route);
        if (!t) return Json("null");
        return (*t)["status"];
    };
    fns["task"] = [this, &env, route_of](
                      const std::vector<Json>& args, const std::vector<std::pair<std::string, Json>>& kwargs
                  ) -> Result<Json> {
        std::string name;
        if (args.empty() || args[0].is_null()) {
            if (env.task_id.empty()) return InvalidArgument("task() without a name is only available inside a task");
            name = s_["tasks"][env.task_id].value("name", "");
        } else if (args[0].is_string()) {
            name = args[0];
        } else {
            return InvalidArgument("task() takes a task name");
        }
        Result<int> route = route_of(args, kwargs, "task");
        if (!route) return route.error();
        const Json* t = InstanceOn(name, *route);
        if (!t) return InvalidArgument("Unable to find task execution for \"" + name + "\".");
        Json out = {
            {"task_name", name},
            {"task_id", name},
            {"route", t->value("route", 0)},
            {"status", (*t)["status"]},
            {"workflow_execution_id", host_.st2.value("action_execution_id", "")}};
        const Json& x = (*t)["x"];
        if (!x.empty() && x[0].is_string()) out["task_execution_id"] = x[0];
        if (t->value("items", false)) {
            // As st2's task execution record: {"items": [{status, result} of each item that ended, else null]}.
            Json results = TaskResult(*t);
            Json items = Json::array();
            const Json& is = (*t)["is"];
            for (size_t i = 0; i < is.size(); ++i) {
                const std::string item_status = is[i].is_string() ? is[i].get<std::string>() : "";
                if (item_status.empty() || item_status == st::kRunning || item_status == kPending ||
                    item_status == kHeld) {
                    items.push_back(nullptr);
                } else {
                    items.push_back(
                        {{"status", item_status}, {"result", i < results.size() ? results[i] : Json(nullptr)}}
                    );
                }
            }
            out["result"] = {{"items", std::move(items)}};
        } else if (!env.task_id.empty() && &s_["tasks"][env.task_id] == t && env.has_result) {
            out["result"] = env.result;
        } else {
            out["result"] = TaskResult(*t);
        }
        return out;
    };
    fns["json"] = [](const std::vector<Json>& args, const auto&) -> Result<Json> {
        if (args.empty()) return InvalidArgument("json() takes a string");
        if (!args[0].is_string()) return args[0];
        // Bounded like every JSON that enters (core::ParseJsonLimited): nested 100,000 deep it would overflow the
        // stack of whatever walks the value next.
        Result<Json> j = core::ParseJsonLimited(args[0].get<std::string>(), "the string");
        if (!j) return InvalidArgument("json(): not a JSON document (" + j.error().message + ")");
        return j;
    };
    // zip(a, b, ..., pad => x): Orquesta's zip_, itertools.zip_longest: as long as the longest list, the shorter
    // ones padded with `pad` (null by default); a null list is empty; one list is returned as it is.
    fns["zip"] = [](const std::vector<Json>& args,
                    const std::vector<std::pair<std::string, Json>>& kwargs) -> Result<Json> {
        Json pad;
        for (const auto& [k, v] : kwargs) {
            if (k != "pad") return InvalidArgument("zip() got an unexpected keyword argument '" + k + "'");
            pad = v;
        }
        static const Json kEmpty = Json::array();
        std::vector<const Json*> lists;
        size_t n = 0;
        for (const auto& a : args) {
            if (!a.is_array() && !a.is_null()) return InvalidArgument("zip() takes lists");
            lists.push_back(a.is_null() ? &kEmpty : &a);
            n = std::max(n, lists.back()->size());
        }
        if (lists.size() == 1) return *lists[0];
        Json out = Json::array();
        for (size_t i = 0; i < n; ++i) {
            Json row = Json::array();
            for (const Json* a : lists) row.push_back(i < a->size() ? (*a)[i] : pad);
            out.push_back(std::move(row));
        }
        return out;
    };
    const core::KeyValueLookup* kv = host_.kv;
    fns["st2kv"] =
        [kv](const std::vector<Json>& args, const std::vector<std::pair<std::string, Json>>& kwargs) -> Result<Json> {
        if (args.empty() || !args[0].is_string()) return InvalidArgument("st2kv() takes a key");
        std::string key = args[0];
        bool decrypt = false;
        const Json* def = nullptr;
        for (const auto& [k, v] : kwargs) {
            if (k == "decrypt") decrypt = Truthy(v);
            if (k == "default") def = &v;
        }
        if (args.size() > 1) decrypt = Truthy(args[1]);
        std::string scope = "user";
        if (key.rfind("system.", 0) == 0) {
            scope = "system";
            key = key.substr(7);
        } else if (key.rfind("user.", 0) == 0) {
            key = key.substr(5);
        }
        std::optional<std::string> v = kv ? kv->Get(scope, key) : std::nullopt;
        if (!v) {
            if (def) return *def;
            return NotFound("The key \"" + key + "\" does not exist in the StackStorm datastore.");
        }
        if (decrypt) {
            auto d = kv->Decrypt(*v);
            if (!d) return d.error();
            return Json(*d);
        }
        return Json(*v);
    };
    core::RenderOptions opts;
    if (jinja) {
        // Orquesta's Jinja calls StackStorm's functions as globals too (`basename(x)`, `json_dump(x)`); YAQL has
        // them built in.
        for (const std::string& n : core::St2FunctionNames()) {
            fns.emplace(n, [&n](const std::vector<Json>& args, const std::vector<std::pair<std::string, Json>>& kw) {
                return core::CallSt2Function(n, args, kw);
            });
        }
    }
    opts.functions = &fns;
    opts.kv = host_.kv;
    if (yaql) {
        if (jinja) return InvalidArgument("an expression mixes YAQL <% %> and Jinja {{ }}: \"" + text + "\"");
        auto r = core::RenderYaqlString(text, ctx, opts);
        if (!r) return Error(r.error().code, "YaqlEvaluationException: " + r.error().message);
        return r;
    }
    auto t = CompileJinja(text);
    if (!t) return Error(t.error().code, "JinjaEvaluationException: " + t.error().message);
    Json jctx = {{"_", ctx}};
    auto r = (*t)->Render(jctx, opts);
    if (!r) return Error(r.error().code, "JinjaEvaluationException: " + r.error().message);
    return r;
}

void Conductor::Fail(Json error) {
    s_["errors"].push_back(std::move(error));
    const std::string status = s_["status"];
    if (status == st::kRunning) s_["status"] = st::kFailing;
}

void Conductor::Start(const Json& input, StepOutput& out) {
    Json root = Json::object();
    for (const auto& [name, def] : spec_.input) root[name] = def;
    if (input.is_object()) {
        for (const auto& [k, v] : input.items()) root[k] = v;
    }
    root["st2"] = host_.st2;
    s_["ctxs"] = Json::array();
    const int r = AddCtx({}, std::move(root));
    // Input defaults may be expressions over earlier inputs; vars over input and earlier vars (reference §6).
    Env env;
    env.ctx = r;
    for (const auto& [name, def] : spec_.input) {
        if (input.is_object() && input.contains(name)) continue;
        auto v = Eval(def, env);
        if (!v) {
            Fail({{"type", "error"}, {"message", v.error().message}});
            return CheckEnd(out);
        }
        s_["ctxs"][r]["d"][name] = *v;
    }
    for (const auto& [name, def] : spec_.vars) {
        auto v = Eval(def, env);
        if (!v) {
            Fail({{"type", "error"}, {"message", v.error().message}});
            return CheckEnd(out);
        }
        s_["ctxs"][r]["d"][name] = *v;
    }
    for (const auto& name : spec_.StartTasks()) Stage(name, r, "", out);
    CheckEnd(out);
}

void Conductor::Stage(const std::string& name, int ctx, const std::string& from, StepOutput& out, int route) {
    if (s_["status"] == st::kPausing || s_["status"] == st::kPaused) {
        if (!s_.contains("deferred")) s_["deferred"] = Json::array();
        s_["deferred"].push_back({{"name", name}, {"ctx", ctx}, {"from", from}, {"route", route}});
        return;
    }
    if (s_["status"] != st::kRunning) return;
    const TaskSpec* t = spec_.Find(name);
    if (!t) {
        Fail({{"type", "error"}, {"message", "task \"" + name + "\" is not defined"}, {"task_id", from}});
        return;
    }
    int task_ctx = ctx;
    if (t->join != 0) {
        Json& joins = s_["joins"];
        if (!joins.contains(name)) joins[name] = {{"arrived", Json::array()}, {"ctxs", Json::array()}};
        Json& b = joins[name];
        b["arrived"].push_back(from);
        b["ctxs"].push_back(ctx);
        const size_t need = t->join < 0 ? spec_.Inbound(name).size() : static_cast<size_t>(t->join);
        // join: all counts distinct inbound tasks; a task that arrives twice (a cycle) counts once.
        std::vector<std::string> distinct;
        for (const auto& a : b["arrived"]) {
            if (std::find(distinct.begin(), distinct.end(), a.get<std::string>()) == distinct.end())
                distinct.push_back(a);
        }
        if (distinct.size() < need) return;
        std::vector<int> parents;
        for (const auto& c : b["ctxs"]) parents.push_back(c.get<int>());
        // Who arrived, kept for a re-run: a branch that is not re-run has arrived already.
        if (!s_.contains("joined")) s_["joined"] = Json::object();
        s_["joined"][name] = b;
        joins.erase(name);
        task_ctx = AddCtx(std::move(parents), Json::object());
    }
    Json& counts = s_["counts"];
    const int n = counts.value(name, 0);
    counts[name] = n + 1;
    const std::string id = n == 0 ? name : name + "__" + std::to_string(n);
    s_["tasks"][id] = {
        {"name", name},
        {"ctx", task_ctx},
        {"status", st::kRunning},
        {"attempt", 0},
        {"retries", 0},
        {"x", Json::array()}};
    if (route != 0) s_["tasks"][id]["route"] = route;
    RunTask(id, out);
}

void Conductor::RunTask(const std::string& id, StepOutput& out) {
    Json& task = s_["tasks"][id];
    const std::string name = task["name"];
    const TaskSpec& t = *spec_.Find(name);
    Env env;
    env.ctx = task["ctx"];
    env.task_id = id;
    auto fail_task = [&](const std::string& message) {
        task["status"] = st::kFailed;
        s_["seq"].push_back(id);
        Fail({{"type", "error"}, {"message", message}, {"task_id", name}, {"route", task.value("route", 0)}});
    };
    task["x"] = Json::array();
    for (const char* k : {"items", "failed_item", "list", "is", "n", "next", "active"}) task.erase(k);
    if (t.action.empty()) {
        // A task without an action succeeds at once and transitions (a join point, a publish-only step).
        return Complete(id, st::kSucceeded, nullptr, out);
    }
    auto action = Eval(t.action, env);
    if (!action) return fail_task(action.error().message);
    if (!action->is_string() || action->get<std::string>().empty())
        return fail_task("the action of task \"" + name + "\" evaluated to " + action->dump() + ", not an action ref");
    task["action"] = *action;
    auto delay = Eval(t.delay, env);
    if (!delay) return fail_task(delay.error().message);
    auto secs = Seconds(*delay, "delay");
    if (!secs) return fail_task(secs.error().message);
    task["delay"] = *secs;
    if (!t.has_items) {
        auto input = EvalInput(t, env);
        if (!input) return fail_task(input.error().message);
        task["x"].push_back(nullptr);
        Launch l;
        l.task_id = id;
        l.task_name = name;
        l.attempt = task["attempt"];
        l.action = *action;
        l.input = std::move(*input);
        l.delay = *secs;
        out.launches.push_back(std::move(l));
        return;
    }
    auto items = Eval(t.items, env);
    if (!items) return fail_task(items.error().message);
    if (!items->is_array())
        return fail_task("the items of task \"" + name + "\" evaluated to " + items->dump() + ", not a list");
    Json list = Json::array();
    for (const auto& it : *items) {
        if (t.item_names.empty()) {
            list.push_back(it);
        } else if (t.item_names.size() == 1) {
            list.push_back({{t.item_names[0], it}});
        } else {
            if (!it.is_array() || it.size() < t.item_names.size())
                return fail_task(
                    "an item of task \"" + name + "\" does not have " + std::to_string(t.item_names.size()) +
                    " values: " + it.dump()
                );
            Json obj = Json::object();
            for (size_t k = 0; k < t.item_names.size(); ++k) obj[t.item_names[k]] = it[k];
            list.push_back(std::move(obj));
        }
    }
    int concurrency = 0;
    if (!t.concurrency.is_null()) {
        auto c = Eval(t.concurrency, env);
        if (!c) return fail_task(c.error().message);
        if (c->is_number())
            concurrency = static_cast<int>(c->get<double>());
        else if (c->is_string())
            concurrency = std::atoi(c->get<std::string>().c_str());
        if (concurrency < 0) concurrency = 0;
    }
    task["items"] = true;
    task["list"] = list;
    task["n"] = list.size();
    task["next"] = 0;
    task["active"] = 0;
    task["is"] = Json::array();  // per item: "" (not started), running, or its end status
    for (size_t i = 0; i < list.size(); ++i) {
        task["is"].push_back("");
        task["x"].push_back(nullptr);
    }
    task["conc"] = concurrency;
    if (list.empty()) return Complete(id, st::kSucceeded, Json::array(), out);
    LaunchItems(id, out);
}

void Conductor::LaunchItems(const std::string& id, StepOutput& out) {
    Json& task = s_["tasks"][id];
    const std::string name = task["name"];
    const TaskSpec& t = *spec_.Find(name);
    const int n = task["n"];
    const int conc = task["conc"];
    while (task["next"].get<int>() < n && (conc == 0 || task["active"].get<int>() < conc)) {
        const int i = task["next"];
        if (task["is"][i] != "") {  // done already (a re-run of the failed items keeps the others)
            task["next"] = i + 1;
            continue;
        }
        Env env;
        env.ctx = task["ctx"];
        env.task_id = id;
        env.item = task["list"][i];
        env.has_item = true;
        auto input = EvalInput(t, env);
        task["next"] = i + 1;
        if (!input) {
            task["is"][i] = st::kFailed;
            task["failed_item"] = true;
            s_["errors"].push_back(
                {{"type", "error"},
                 {"message", input.error().message},
                 {"task_id", name},
                 {"route", task.value("route", 0)}}
            );
            break;
        }
        task["is"][i] = st::kRunning;
        task["active"] = task["active"].get<int>() + 1;
        Launch l;
        l.task_id = id;
        l.task_name = name;
        l.item = i;
        l.attempt = task["attempt"];
        l.action = task["action"];
        l.input = std::move(*input);
        l.delay = task.value("delay", 0.0);
        out.launches.push_back(std::move(l));
    }
    if (task["active"].get<int>() == 0 && task.value("failed_item", false)) {
        Complete(id, st::kFailed, TaskResult(task), out);
    }
}

void Conductor::TaskEnded(
    const std::string& id,
    int item,
    int attempt,
    const std::string& execution_id,
    const std::string& status,
    const Json& result,
    StepOutput& out
) {
    if (!s_["tasks"].contains(id)) return;
    Json& task = s_["tasks"][id];
    if (task["status"] != st::kRunning || task["attempt"].get<int>() != attempt) return;  // stale or repeated
    if (!task.value("items", false)) {
        if (item != -1) return;
        task.erase(kPending);
        task.erase(kHeld);
        ResumeAfterInquiry(out);
        task["x"][0] = execution_id;
        Complete(id, status, result, out);
        CheckEnd(out);
        return;
    }
    const int n = task["n"];
    const Json& was = item >= 0 && item < n ? task["is"][item] : Json();
    if (was != st::kRunning && was != kPending && was != kHeld) return;
    task["is"][item] = status;
    task["x"][item] = execution_id;
    task["active"] = task["active"].get<int>() - 1;
    if (status != st::kSucceeded) task["failed_item"] = true;
    ResumeAfterInquiry(out);
    // An item failed: no new item starts (the running ones finish); the workflow stopping stops them too. A pause
    // only holds the next items back: the task goes on when the workflow resumes.
    const bool pausing = s_["status"] == st::kPausing || s_["status"] == st::kPaused;
    const bool stop = task.value("failed_item", false) || (s_["status"] != st::kRunning && !pausing);
    if (!stop && !pausing) LaunchItems(id, out);
    if (s_["tasks"][id]["status"] == st::kRunning && task["active"].get<int>() == 0 &&
        (stop || task["next"].get<int>() >= n)) {
        Complete(id, task.value("failed_item", false) ? st::kFailed : st::kSucceeded, TaskResult(task), out);
    }
    CheckEnd(out);
}

void Conductor::Complete(const std::string& id, const std::string& raw_status, const Json& result, StepOutput& out) {
    Json& task = s_["tasks"][id];
    const std::string name = task["name"];
    const TaskSpec& t = *spec_.Find(name);
    // A canceled task execution ends its workflow's run of it; others map onto Orquesta's statuses.
    std::string status = raw_status;
    if (status == "timeout" || status == "abandoned" || status == "expired") status = st::kFailed;
    Env env;
    env.ctx = task["ctx"];
    env.task_id = id;
    env.task_status = status;
    env.result = result;
    env.has_result = true;
    if (t.has_retry && status != st::kCanceled && s_["status"] == st::kRunning) {
        bool again = false;
        if (t.retry_when.empty()) {
            again = status == st::kFailed;
        } else {
            auto w = Eval(t.retry_when, env);
            if (!w) {
                task["status"] = st::kFailed;
                s_["seq"].push_back(id);
                Fail(
                    {{"type", "error"},
                     {"message", w.error().message},
                     {"task_id", name},
                     {"route", task.value("route", 0)}}
                );
                return;
            }
            again = Truthy(*w);
        }
        auto count = Eval(t.retry_count, env);
        int max = 0;
        if (again) {
            // Orquesta fails the workflow when the count is not an integer (a text of digits is one).
            std::optional<int> n;
            if (count && count->is_number_integer()) n = count->get<int>();
            if (count && count->is_number_float() && std::floor(count->get<double>()) == count->get<double>())
                n = static_cast<int>(count->get<double>());
            if (count && count->is_string() && !count->get_ref<const std::string&>().empty() &&
                count->get_ref<const std::string&>().find_first_not_of("0123456789") == std::string::npos)
                n = std::atoi(count->get_ref<const std::string&>().c_str());
            if (!n) {
                task["status"] = st::kFailed;
                s_["seq"].push_back(id);
                Fail(
                    {{"type", "error"},
                     {"message",
                      count ? "The retry count for task \"" + name + "\" is not an integer." : count.error().message},
                     {"task_id", name},
                     {"route", task.value("route", 0)}}
                );
                return;
            }
            max = *n;
        }
        if (again && task["retries"].get<int>() < max) {
            task["retries"] = task["retries"].get<int>() + 1;
            task["attempt"] = task["attempt"].get<int>() + 1;
            auto d = Eval(t.retry_delay, env);
            const size_t before = out.launches.size();
            RunTask(id, out);
            if (d) {
                auto secs = Seconds(*d, "retry delay");
                if (secs) {
                    for (size_t i = before; i < out.launches.size(); ++i) out.launches[i].delay += *secs;
                }
            }
            return;
        }
    }
    task["status"] = status;
    s_["seq"].push_back(id);
    bool remediated = false;
    bool command_retry = false;
    bool fail_command = false;
    for (size_t i = 0; i < t.next.size(); ++i) {
        const Transition& tr = t.next[i];
        bool fire = true;
        if (!tr.when.empty()) {
            auto w = Eval(tr.when, env);
            if (!w) {
                Fail(
                    {{"type", "error"},
                     {"message", w.error().message},
                     {"task_id", name},
                     {"route", task.value("route", 0)},
                     {"task_transition_id",
                      (tr.targets.empty() ? std::string("continue") : tr.targets[0]) + "__t" + std::to_string(i)}}
                );
                continue;
            }
            fire = Truthy(*w);
        } else if (status == st::kCanceled) {
            fire = false;
        }
        if (!fire) continue;
        int ctx = task["ctx"];
        if (!tr.publish.empty()) {
            Json delta = Json::object();
            Env penv = env;
            penv.ctx_override = ResolveCtx(ctx);
            bool ok = true;
            for (const auto& [k, v] : tr.publish) {
                auto r = Eval(v, penv);
                if (!r) {
                    Fail(
                        {{"type", "error"},
                         {"message", r.error().message},
                         {"task_id", name},
                         {"route", task.value("route", 0)}}
                    );
                    ok = false;
                    break;
                }
                delta[k] = *r;
                penv.ctx_override[k] = *r;
            }
            if (!ok) continue;
            ctx = AddCtx({ctx}, std::move(delta));
            task["out"] = ctx;  // the context this task hands on (workflow output reads it)
        }
        for (const auto& target : tr.targets) {
            if (target == "continue") continue;
            if (target == "noop") {
                remediated = true;
            } else if (target == "fail") {
                // As Orquesta (StackStorm's examples.orquesta-remediate-then-fail): a failure whose transition fails
                // the workflow is not remediated, whatever else the transition does; `fail` logs its own error.
                fail_command = true;
                if (s_["status"] == st::kRunning) s_["status"] = st::kFailing;
            } else if (target == "retry") {
                command_retry = true;
            } else {
                remediated = true;
                Stage(target, ctx, name, out, RouteFor(target, name, i, task.value("route", 0)));
            }
        }
    }
    if (command_retry && s_["status"] == st::kRunning && task.value("cmd_retries", 0) < 3) {
        task["cmd_retries"] = task.value("cmd_retries", 0) + 1;
        task["status"] = st::kRunning;
        task["attempt"] = task["attempt"].get<int>() + 1;
        RunTask(id, out);
        return;
    }
    if (status == st::kFailed) {
        // As Orquesta: every task failure is logged; it fails the workflow unless remediated (and a transition to
        // `fail` does not remediate). The errors show in the result only when the workflow does not succeed
        // (StackStorm's examples.orquesta-error-handling-fail-manually lists the remediated failure and `fail`).
        Json error = {
            {"type", "error"},
            {"message", "Execution failed. See result for details."},
            {"task_id", name},
            {"route", task.value("route", 0)}};
        error["result"] = result;
        if (!remediated || fail_command) {
            Fail(std::move(error));
        } else {
            s_["errors"].push_back(std::move(error));
        }
    }
    if (fail_command)
        Fail({{"type", "error"}, {"message", "Execution failed. See result for details."}, {"task_id", "fail"}});
    if (status == st::kCanceled && s_["status"] == st::kRunning) s_["status"] = st::kCanceling;
}

void Conductor::TaskPaused(const std::string& id, int item, int attempt, StepOutput& out) {
    Hold(id, item, attempt, out, false);
}

void Conductor::TaskPending(const std::string& id, int item, int attempt, StepOutput& out) {
    Hold(id, item, attempt, out, true);
}

void Conductor::Hold(const std::string& id, int item, int attempt, StepOutput& out, bool pauses_workflow) {
    if (!s_["tasks"].contains(id)) return;
    Json& task = s_["tasks"][id];
    if (task["status"] != st::kRunning || task["attempt"].get<int>() != attempt) return;
    // `pending`: waits for an answer; `held`: a subworkflow that was paused. Neither runs anything.
    const char* mark = pauses_workflow ? kPending : kHeld;
    if (!task.value("items", false)) {
        if (item != -1 || task.value(mark, false)) return;
        task[mark] = true;
    } else {
        if (item < 0 || item >= task["n"].get<int>()) return;
        if (task["is"][item] != st::kRunning && !(pauses_workflow && task["is"][item] == kHeld)) return;
        task["is"][item] = mark;
    }
    if (pauses_workflow && s_["status"] == st::kRunning) {
        s_["status"] = st::kPausing;
        s_["paused_by"] = kPending;
        out.pausing = true;
    }
    CheckEnd(out);
}

void Conductor::TaskResumed(const std::string& id, int item, int attempt, StepOutput& out) {
    if (!s_["tasks"].contains(id)) return;
    Json& task = s_["tasks"][id];
    if (task["status"] != st::kRunning || task["attempt"].get<int>() != attempt) return;
    if (!task.value("items", false)) {
        if (item != -1) return;
        task.erase(kPending);
        task.erase(kHeld);
    } else {
        if (item < 0 || item >= task["n"].get<int>()) return;
        if (task["is"][item] != kPending && task["is"][item] != kHeld) return;
        task["is"][item] = st::kRunning;
    }
    ResumeAfterInquiry(out);
}

bool Conductor::AnyPending() const {
    for (const auto& [id, task] : s_["tasks"].items()) {
        if (task["status"] != st::kRunning) continue;
        if (task.value("pending", false)) return true;
        if (task.value("items", false)) {
            for (const auto& i : task["is"]) {
                if (i == kPending) return true;
            }
        }
    }
    return false;
}

void Conductor::ResumeAfterInquiry(StepOutput& out) {
    const std::string by = s_.value("paused_by", "");
    if (by == kHeld && (s_["status"] == st::kPaused || s_["status"] == st::kPausing)) {
        // Paused because its subworkflows were, one of them runs again: this workflow runs again too, as
        // StackStorm's handle_action_execution_resume sets the parent running without publishing it, so its other
        // paused subworkflows stay paused (the engine does not cascade this resume: `quiet_resume`). If nothing but
        // paused subworkflows is left once that one ends, it pauses again (CheckEnd).
        s_.erase("paused_by");
        s_["status"] = st::kRunning;
        s_[kQuietResume] = true;
        out.resumed = true;
        Json deferred = s_.value("deferred", Json::array());
        s_.erase("deferred");
        for (const auto& d : deferred) Stage(d["name"], d["ctx"], d["from"], out, d.value("route", 0));
        CheckEnd(out);
        return;
    }
    // The workflow paused because a task waited for an answer; the last such task ended: it goes on by itself.
    if (by != kPending || AnyPending()) return;
    s_.erase("paused_by");
    Resume(out);
}

void Conductor::Cancel(StepOutput& out) {
    const std::string status = s_["status"];
    if (status == st::kRunning || status == st::kFailing || status == st::kPausing || status == st::kPaused) {
        s_["status"] = st::kCanceling;
        s_.erase("deferred");
    }
    CheckEnd(out);
}

void Conductor::Pause(StepOutput& out) {
    if (s_["status"] == st::kRunning) {
        s_["status"] = st::kPausing;
        s_.erase(kQuietResume);
    }
    CheckEnd(out);
}

void Conductor::Resume(StepOutput& out) {
    const std::string status = s_["status"];
    if (status != st::kPausing && status != st::kPaused) return;
    s_["status"] = st::kRunning;
    out.resumed = true;
    // Subworkflows this pause held are resumed with it (the engine cascades the resume): they run again.
    for (auto& [id, task] : s_["tasks"].items()) {
        task.erase(kHeld);
        if (!task.value("items", false)) continue;
        for (auto& i : task["is"]) {
            if (i == kHeld) i = st::kRunning;
        }
    }
    Json deferred = s_.value("deferred", Json::array());
    s_.erase("deferred");
    // Items held back first (their tasks started before the pause), then the tasks that waited.
    std::vector<std::string> held;
    for (const auto& [id, task] : s_["tasks"].items()) {
        if (task["status"] == st::kRunning && task.value("items", false) && !task.value("failed_item", false) &&
            task["next"].get<int>() < task["n"].get<int>())
            held.push_back(id);
    }
    for (const auto& id : held) LaunchItems(id, out);
    for (const auto& d : deferred) Stage(d["name"], d["ctx"], d["from"], out, d.value("route", 0));
    CheckEnd(out);
}

Status Conductor::Rerun(const std::vector<std::string>& tasks, const std::vector<std::string>& reset, StepOutput& out) {
    if (!Finished()) return Error(ErrorCode::kFailedPrecondition, "the workflow has not ended; it re-runs once it has");
    // The latest instance of each task (a task reached several times has name, name__1, ...).
    std::vector<std::string> ids;
    for (const auto& name : tasks) {
        std::string found;
        int best = -1;
        for (const auto& [id, task] : s_["tasks"].items()) {
            if (task.value("name", "") != name) continue;
            const size_t sep = id.rfind("__");
            const int n = sep == std::string::npos ? 0 : std::atoi(id.c_str() + sep + 2);
            if (n > best) {
                best = n;
                found = id;
            }
        }
        if (found.empty()) {
            return InvalidArgument(
                "tasks: task \"" + name + "\" " + (spec_.Find(name) ? "did not run" : "is not in the workflow") +
                ", so it cannot be re-run"
            );
        }
        if (std::find(ids.begin(), ids.end(), found) == ids.end()) ids.push_back(found);
    }
    s_["status"] = st::kRunning;
    s_["errors"] = Json::array();
    s_.erase("result");
    s_.erase("deferred");
    s_.erase("paused_by");
    PrepareJoinsForRerun(tasks);
    for (const auto& id : ids) {
        Json& task = s_["tasks"][id];
        const std::string name = task["name"];
        task["status"] = st::kRunning;
        task["attempt"] = task["attempt"].get<int>() + 1;  // new executions (the idempotency key has the attempt)
        task["retries"] = 0;
        task.erase("cmd_retries");
        task.erase(kPending);
        task.erase(kHeld);
        const bool all = std::find(reset.begin(), reset.end(), name) != reset.end();
        if (!task.value("items", false) || all) {
            RunTask(id, out);
            continue;
        }
        // With-items, not reset: the items that succeeded keep their executions; the others run again.
        for (auto& i : task["is"]) {
            if (i != st::kSucceeded) i = "";
        }
        for (size_t i = 0; i < task["is"].size(); ++i) {
            if (task["is"][i] == "") task["x"][i] = nullptr;
        }
        task["next"] = 0;
        task["active"] = 0;
        task.erase("failed_item");
        LaunchItems(id, out);
        if (task["status"] == st::kRunning && task["active"].get<int>() == 0) {
            Complete(id, task.value("failed_item", false) ? st::kFailed : st::kSucceeded, TaskResult(task), out);
        }
    }
    CheckEnd(out);
    return {};
}

void Conductor::PrepareJoinsForRerun(const std::vector<std::string>& tasks) {
    // The tasks that may run again: the re-run ones and everything their transitions reach.
    std::set<std::string> again(tasks.begin(), tasks.end());
    std::vector<std::string> todo(tasks.begin(), tasks.end());
    while (!todo.empty()) {
        const TaskSpec* t = spec_.Find(todo.back());
        todo.pop_back();
        if (!t) continue;
        for (const auto& tr : t->next) {
            for (const auto& target : tr.targets) {
                if (IsEngineCommand(target) || !again.insert(target).second) continue;
                todo.push_back(target);
            }
        }
    }
    // A join downstream of them counts the branches that are not re-run as arrived, with the context they brought:
    // they will not arrive again. (Arrivals of branches that run again are left out: they arrive anew.)
    Json& joins = s_["joins"];
    auto keep_others = [&](const Json& b) {
        Json out = {{"arrived", Json::array()}, {"ctxs", Json::array()}};
        for (size_t i = 0; i < b["arrived"].size() && i < b["ctxs"].size(); ++i) {
            if (again.count(b["arrived"][i].get<std::string>())) continue;
            out["arrived"].push_back(b["arrived"][i]);
            out["ctxs"].push_back(b["ctxs"][i]);
        }
        return out;
    };
    for (auto& entry : joins.items()) entry.value() = keep_others(entry.value());
    if (!s_.contains("joined")) return;
    for (const auto& [name, b] : s_["joined"].items()) {
        if (!again.count(name)) continue;
        Json kept = keep_others(b);
        if (kept["arrived"].empty()) continue;
        if (!joins.contains(name)) joins[name] = {{"arrived", Json::array()}, {"ctxs", Json::array()}};
        for (size_t i = 0; i < kept["arrived"].size(); ++i) {
            joins[name]["arrived"].push_back(kept["arrived"][i]);
            joins[name]["ctxs"].push_back(kept["ctxs"][i]);
        }
    }
}

bool Conductor::Finished() const {
    const std::string status = s_["status"];
    return status == st::kSucceeded || status == st::kFailed || status == st::kCanceled;
}

std::vector<Launch> Conductor::Running() const {
    std::vector<Launch> out;
    for (const auto& entry : s_["tasks"].items()) {
        // Named references, not a structured binding: the lambda below captures them (clang 14, the fuzz build's
        // compiler, does not capture structured bindings).
        const std::string& id = entry.key();
        const auto& task = entry.value();
        if (task["status"] != st::kRunning || !task.contains("action")) continue;
        const TaskSpec* t = spec_.Find(task["name"]);
        if (!t) continue;
        Env env;
        env.ctx = task["ctx"];
        env.task_id = id;
        auto add = [&](int item) {
            if (item >= 0) {
                env.item = task["list"][item];
                env.has_item = true;
            }
            auto input = EvalInput(*t, env);
            if (!input) return;  // it rendered when the task started; a launch with other input would be wrong
            Launch l;
            l.task_id = id;
            l.task_name = task["name"];
            l.item = item;
            l.attempt = task["attempt"];
            l.action = task["action"];
            l.input = std::move(*input);
            l.delay = task.value("delay", 0.0);
            out.push_back(std::move(l));
        };
        if (!task.value("items", false)) {
            add(-1);
        } else {
            for (int i = 0; i < task["n"].get<int>(); ++i) {
                if (task["is"][i] == st::kRunning) add(i);
            }
        }
    }
    return out;
}

bool Conductor::NothingRuns(bool* held) const {
    // No task execution is out (a with-items task waiting for its next items has none): every running task (or
    // item) waits for an answer (`pending`, an inquiry) or is a paused subworkflow (`held`).
    for (const auto& [id, task] : s_["tasks"].items()) {
        if (task["status"] != st::kRunning) continue;
        if (!task.value("items", false)) {
            if (!task.value(kPending, false) && !task.value(kHeld, false)) return false;
            if (held && task.value(kHeld, false)) *held = true;
            continue;
        }
        int waiting = 0;
        for (const auto& i : task["is"]) {
            waiting += i == kPending || i == kHeld ? 1 : 0;
            if (held && i == kHeld) *held = true;
        }
        if (task.value("active", 0) > waiting) return false;
    }
    return true;
}

void Conductor::CheckEnd(StepOutput& out) {
    if (Finished()) return;
    if (s_["status"] == st::kPausing || s_["status"] == st::kPaused) {
        if (!NothingRuns(nullptr)) return;
        if (s_["status"] == st::kPausing) {
            s_["status"] = st::kPaused;
            out.paused = true;
        }
        return;
    }
    if (s_["status"] == st::kRunning) {
        // As Orquesta: a running workflow whose every active task is a paused subworkflow (paused on its own, not by
        // this workflow) is paused too; the resume of such a subworkflow resumes it (TaskResumed).
        bool held = false;
        if (NothingRuns(&held) && held) {
            s_["status"] = st::kPaused;
            s_["paused_by"] = kHeld;
            s_.erase(kQuietResume);
            out.pausing = true;
            out.paused = true;
            return;
        }
    }
    // A cancel does not wait for an answer: a task waiting in `pending` (an inquiry) does not hold it back.
    const bool canceling = s_["status"] == st::kCanceling;
    for (const auto& [id, task] : s_["tasks"].items()) {
        if (task["status"] != st::kRunning) continue;
        if (!canceling) return;
        if (!task.value("items", false)) {
            if (!task.value(kPending, false)) return;
            continue;
        }
        int pending = 0;
        for (const auto& i : task["is"]) pending += i == kPending ? 1 : 0;
        if (task.value("active", 0) > pending) return;
    }
    std::string status = s_["status"];
    std::string final_status = status == st::kCanceling ? st::kCanceled
                               : status == st::kFailing ? st::kFailed
                                                        : st::kSucceeded;
    // The terminal context: the root and everything published, in the order it was published.
    Json ctx = Json::object();
    for (const auto& c : s_["ctxs"]) ctx = MergeInto(std::move(ctx), c["d"]);
    Env env;
    env.ctx_override = ctx;
    Json output = Json::object();
    for (const auto& [name, expr] : spec_.output) {
        auto v = Eval(expr, env);
        if (!v) {
            s_["errors"].push_back({{"type", "error"}, {"message", v.error().message}});
            if (final_status == st::kSucceeded) final_status = st::kFailed;
            continue;
        }
        output[name] = *v;
        env.ctx_override[name] = *v;
    }
    s_["status"] = final_status;
    Json result = Json::object();
    // StackStorm's result always has `output`: null when nothing rendered (a workflow without output, or whose every
    // output failed to render; Orquesta keeps its outputs only `if outputs:`, so get_workflow_output() is None).
    result["output"] = output.empty() ? Json() : output;
    if (!s_["errors"].empty() && final_status != st::kSucceeded) result["errors"] = s_["errors"];
    s_["result"] = result;  // kept, so that a role that takes over can store the end it computed
    out.finished = true;
    out.status = final_status;
    out.result = std::move(result);
}

}  // namespace squall::workflows
