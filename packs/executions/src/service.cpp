#include "squall/executions/service.hpp"

#include <cmath>
#include <optional>

#include "squall/core/config.hpp"
#include "squall/core/id.hpp"
#include "squall/core/mask.hpp"
#include "squall/core/process/supervisor.hpp"
#include "squall/executions/status.hpp"
#include "squall/packs/config.hpp"
#include "squall/packs/parameters.hpp"
#include "squall/templates/template.hpp"

namespace squall::executions {
namespace {

/// The longest `timeout` a run may ask for (a year); 0 and negatives are refused as StackStorm's schema does.
constexpr int64_t kMaxTimeoutSeconds = 365LL * 24 * 3600;

/// `timeout` in seconds, from 1 to kMaxTimeoutSeconds. A number with a fraction (`st2 run core.http timeout=2` sends
/// 2.0, as the http-request runner declares a `number`, as StackStorm's does) is taken up to the next whole second.
Status CheckTimeout(Json& values) {
    auto it = values.find("timeout");
    if (it == values.end() || it->is_null()) return {};
    if (it->is_number_float()) {
        const double d = it->get<double>();
        if (d > 0 && d <= static_cast<double>(kMaxTimeoutSeconds)) *it = static_cast<int64_t>(std::ceil(d));
    }
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > kMaxTimeoutSeconds) {
        return InvalidArgument(
            "parameter \"timeout\": must be a number of seconds from 1 to " + std::to_string(kMaxTimeoutSeconds) +
            ", got " + it->dump()
        );
    }
    return {};
}

std::string NotFoundHint(const std::string& ref, const packs::ContentSnapshot& content) {
    std::vector<std::string> refs;
    refs.reserve(content.actions.size());
    for (const auto& [r, a] : content.actions) refs.push_back(r);
    const std::string close = core::ClosestMatch(ref, refs);
    return close.empty() ? "" : " (did you mean \"" + close + "\"?)";
}

/// The enabled policies of action `ref` that runners apply (StackStorm's action.concurrency, .attr and action.retry;
/// docs/delivery.md "Policies"), null when there are none. A concurrency policy names the slot its executions count
/// in: the policy, and for `.attr` the values of its attributes (a digest, so that any value makes a key). One policy
/// of each kind applies: the first by ref.
Json ApplicablePolicies(const std::string& ref, const packs::ContentSnapshot& content, const Json& parameters) {
    Json out;
    for (const auto& [policy_ref, p] : content.policies) {
        if (p.value("resource_ref", "") != ref || !core::BoolOr(p, "enabled", true)) continue;
        const std::string type = p.value("policy_type", "");
        const Json params = p.value("parameters", Json::object());
        if ((type == "action.concurrency" || type == "action.concurrency.attr") && !out.contains("concurrency")) {
            std::string slot = policy_ref;
            if (type == "action.concurrency.attr") {
                Json values = Json::object();
                for (const auto& a : params.value("attributes", Json::array())) {
                    if (!a.is_string()) continue;
                    auto v = parameters.find(a.get<std::string>());
                    values[a.get<std::string>()] = v == parameters.end() ? Json() : *v;
                }
                slot += ":" + core::Sha256Hex(core::CanonicalDump(values)).substr(0, 32);
            }
            out["concurrency"] = {
                {"policy", policy_ref},
                {"slot", slot},
                {"threshold", params.value("threshold", 0)},
                {"action", params.value("action", "delay")}};
        } else if (type == "action.retry" && !out.contains("retry")) {
            out["retry"] = {
                {"policy", policy_ref},
                {"retry_on", params.value("retry_on", "failure")},
                {"max_retry_count", params.value("max_retry_count", 2)},
                {"delay", params.value("delay", 0.0)}};
        }
    }
    return out;
}

}  // namespace

ExecutionService::ExecutionService(
    ExecutionStore& store, packs::ContentCache* content, core::KvCache* kv, std::set<std::string> pausable_runners
)
    : store_(store), content_(content), kv_(kv), pausable_(std::move(pausable_runners)) {}

Result<NewExecution> ExecutionService::Prepare(const ExecutionSpec& spec, const packs::ContentSnapshot& content) const {
    std::vector<std::string> secrets;
    Result<NewExecution> e = PrepareRevealing(spec, content, &secrets);
    if (e || secrets.empty()) return e;
    // A refusal may quote a value the render produced (`"timeout": "<what decrypt_kv gave>" is not of type
    // integer`); it is logged and stored with the enforcement, so what the render revealed is masked in it.
    Error refused = e.error();
    refused.message = core::MaskSecrets(std::move(refused.message), secrets);
    refused.detail = core::MaskSecrets(std::move(refused.detail), secrets);
    return refused;
}

Result<NewExecution> ExecutionService::PrepareRevealing(
    const ExecutionSpec& spec, const packs::ContentSnapshot& content, std::vector<std::string>* secrets
) const {
    const std::string& ref = spec.action_ref;
    auto action = content.actions.find(ref);
    if (action == content.actions.end())
        return NotFound("action \"" + ref + "\" not found" + NotFoundHint(ref, content));
    if (!core::BoolOr(action->second, "enabled", true)) return InvalidArgument("action \"" + ref + "\" is disabled");
    // Registered from a pack but its runner is not one this server has (packs::ActionMeta::unavailable).
    if (const std::string why = action->second.value("unavailable", ""); !why.empty())
        return Error(ErrorCode::kFailedPrecondition, "action \"" + ref + "\" cannot run: " + why);
    if (!spec.parameters.is_object()) return InvalidArgument("parameters: must be an object");
    const std::string pack = action->second.value("pack", "");

    core::RenderOptions render;
    render.stackstorm_whitespace = true;  // StackStorm's environment (trim_blocks, lstrip_blocks)
    std::optional<core::KvLookup> kv;
    if (kv_) {
        kv.emplace(kv_->LookupFor(spec.user));
        render.kv = &*kv;
    }
    std::vector<std::string> config_secrets;  // masked wherever the parameters rendered them
    // Whatever this returns, *secrets ends with what a refusal must not show: the pack config's secrets and the
    // datastore secrets the render decrypted.
    struct Reveal {
        std::vector<std::string>* out;
        const std::vector<std::string>& config;
        const std::optional<core::KvLookup>& kv;
        ~Reveal() {
            out->insert(out->end(), config.begin(), config.end());
            if (kv) {
                const std::vector<std::string> revealed = kv->Revealed();
                out->insert(out->end(), revealed.begin(), revealed.end());
            }
        }
    } reveal{secrets, config_secrets, kv};
    // config_context: the config of the action's pack, its st2kv templates rendered now.
    Result<Json> config = content.ConfigContext(ref, render);
    if (!config) return config.error();
    if (auto cs = content.config_secrets.find(pack); cs != content.config_secrets.end())
        config_secrets = packs::SecretValuesOf(*config, cs->second);
    Json context = spec.render_context.is_object() ? spec.render_context : Json::object();
    context["config_context"] = std::move(*config);
    // StackStorm's create_request sets the context's pack before the parameters render: `{{ action_context.pack }}`.
    context["action_context"] = {
        {"user", spec.user}, {"api_user", spec.api_user.empty() ? spec.user : spec.api_user}, {"pack", pack}};

    // Given values are templates too (StackStorm's render_live_params and the rule's action parameters).
    Json live = spec.parameters;
    // API live parameters see each other by name: one context with them, built once (a rule's render against the
    // trigger as it is, not a copy of it per parameter).
    Json with_parameters;
    if (spec.parameters_see_each_other && !live.empty()) {
        with_parameters = context;
        for (const auto& [k, v] : spec.parameters.items()) with_parameters[k] = v;
    }
    const Json& scope = with_parameters.is_null() ? context : with_parameters;
    for (auto& [name, value] : live.items()) {
        Result<Json> rendered = core::RenderValue(value, scope, render);
        if (!rendered) return InvalidArgument("parameter \"" + name + "\": " + rendered.error().message);
        value = std::move(*rendered);
    }
    Result<std::shared_ptr<const packs::PreparedAction>> prepared = content.Prepared(ref);
    if (!prepared) return prepared.error();
    const Json& schema = (*prepared)->schema;
    std::vector<std::string> extra_secrets = config_secrets;
    extra_secrets.insert(extra_secrets.end(), spec.masked_values.begin(), spec.masked_values.end());
    Result<packs::ResolvedParameters> params = packs::ResolveParameters(schema, live, context, render, extra_secrets);
    if (!params) return params.error();
    if (Status st = CheckTimeout(params->values); !st) return st.error();
    if (auto t = params->values.find("timeout"); t != params->values.end() && params->masked.contains("timeout"))
        params->masked["timeout"] = *t;

    NewExecution e;
    e.request.execution_id =
        spec.idempotency_key.empty() ? core::NewId() : KeyedExecutionId(spec.idempotency_key, spec.id_time_of);
    e.request.action_ref = ref;
    e.request.runner_type = action->second.value("runner_type", "");
    // Orquesta workflows and action-chains are driven by the `workflow` role (docs/workflows.md), which reads this
    // pool.
    const bool workflow = e.request.runner_type == "orquesta" || e.request.runner_type == "action-chain";
    e.request.action = action->second;
    e.request.parameters = params->values;
    e.request.secret_parameters = params->secrets;
    e.request.masked_values = params->revealed;
    e.request.masked_values.insert(e.request.masked_values.end(), spec.masked_values.begin(), spec.masked_values.end());
    Json ctx = spec.context.is_object() ? spec.context : Json::object();
    ctx["user"] = spec.user;
    if (!spec.api_user.empty()) {
        ctx["api_user"] = spec.api_user;
    } else {
        ctx.erase("api_user");
    }
    ctx["pack"] = pack;
    if (!spec.parent.empty()) ctx["parent"] = {{"execution_id", spec.parent}};
    e.request.context = std::move(ctx);
    // Whoever claims the execution applies the action's policies (a runner process; the workflow role for a
    // workflow): they travel in the request's action snapshot (not in the stored record's).
    if (!content.policies.empty()) {
        Json policies = ApplicablePolicies(ref, content, params->values);
        if (!policies.is_null()) e.request.action["policies"] = std::move(policies);
    }
    e.action = (*prepared)->masked;
    e.action_text = (*prepared)->masked_text;
    if (spec.notify.is_object() && !spec.notify.empty()) {
        const Json* own = e.action.is_object() && e.action.contains("notify") ? &e.action["notify"] : nullptr;
        if (own == nullptr || !own->is_object() || own->empty()) {
            e.action["notify"] = spec.notify;
            e.action_text.clear();  // the snapshot is written from e.action
        }
    }
    e.masked_parameters = params->masked;
    e.given_parameters = spec.parameters;
    if (!spec.rule.is_null()) {
        // As StackStorm's liveaction of a rule: the parameters rendered against the trigger (secrets masked), so that
        // a re-run, which has no trigger, runs with the same values.
        for (auto& [name, value] : e.given_parameters.items()) {
            if (auto m = params->masked.find(name); m != params->masked.end()) value = *m;
        }
    }
    for (const auto& name : params->secrets) {
        if (e.given_parameters.contains(name)) e.given_parameters[name] = packs::kMask;
    }
    if (!spec.masked_values.empty()) core::SecretMasker(spec.masked_values).Value(e.given_parameters);
    e.pool = workflow ? "workflow" : action->second.value("pool", "default");
    e.parent = spec.parent;
    e.trigger_instance = spec.trigger_instance;
    if (spec.trigger_instance.is_object()) {
        std::chrono::system_clock::time_point occurred;
        auto t = spec.trigger_instance.find("occurrence_time");
        if (t != spec.trigger_instance.end() && t->is_string() && core::ParseIsoTimestamp(*t, &occurred))
            e.trigger_us = core::ToMicros(occurred);
    }
    e.rule = spec.rule;
    e.dedupe_key = spec.idempotency_key;
    if (known_ && e.parent.empty() && e.pool == "default" && !e.request.action.contains("policies")) {
        std::optional<core::ExecutionResult> known = known_(e.request.runner_type, ref);
        if (known && IsFinal(known->status)) {
            e.settled = std::move(known);
            e.settled_by = settled_by_;
        }
    }
    return e;
}

void ExecutionService::Request(
    const ExecutionSpec& spec,
    const packs::ContentSnapshot& content,
    std::function<void(Error refused)> refused,
    std::function<void(Result<std::string>)> cb
) {
    Result<NewExecution> e = Prepare(spec, content);
    if (!e) return refused(e.error());
    store_.Create(*e, std::move(cb));
}

Result<std::string> ExecutionService::RequestBlocking(const ExecutionSpec& spec) {
    if (!content_) return Internal("execution service: no content source for blocking requests");
    Result<packs::ContentSnapshotPtr> snap = content_->GetBlocking();
    if (!snap) return snap.error();
    if (kv_) {
        if (Status st = kv_->RefreshBlocking(); !st) return st.error();
    }
    Result<NewExecution> e = Prepare(spec, **snap);
    if (!e) return e.error();
    return store_.CreateBlocking(*e);
}

Result<CancelOutcome> ExecutionService::CancelBlocking(const std::string& id) {
    // Two rounds at most: the status can move between reading it and changing it (a runner claims it), and the
    // transition script re-checks it atomically each time.
    for (int round = 0; round < 3; ++round) {
        Result<Json> current = store_.GetBlocking(id);
        if (!current) return current.error();
        const std::string status = current->value("status", "");
        if (IsFinal(status)) {
            return Error(
                ErrorCode::kFailedPrecondition,
                "execution \"" + id + "\" is already " + status + " and cannot be canceled"
            );
        }
        if (status == "canceling") {
            // Asked again: the runner is told again. The first message may be lost with the answer to the first
            // cancel (its transition stored, Redis gone before the message); a runner that has no such run, or
            // cancels it already, ignores it.
            const Json& live = (*current)["liveaction"];
            const Json info = live.is_object() ? live.value("runner_info", Json::object()) : Json::object();
            const std::string runner = info.is_object() ? info.value("hostname", "") : "";
            if (!runner.empty()) {
                Status sent = store_.SendControlBlocking(runner, {{"kind", "cancel"}, {"execution_id", id}});
                if (!sent) return sent.error();
            }
            return CancelOutcome{status, status};
        }
        const bool at_once = CancelsAtOnce(status);
        const std::string to = at_once ? "canceled" : "canceling";
        FieldMap fields;
        if (at_once) {
            fields = {
                {"result", Json{{"error", "canceled before it ran to the end"}}.dump()},
                {"end_timestamp", core::FormatIsoTimestamp(store_.clock().Now())}};
        }
        Result<TransitionResult> moved = store_.TransitionBlocking(id, to, std::move(fields), {status});
        if (!moved) return moved.error();
        if (!moved->applied) continue;  // it moved meanwhile: look again
        if (!at_once && !moved->runner_id.empty()) {
            Status sent = store_.SendControlBlocking(moved->runner_id, {{"kind", "cancel"}, {"execution_id", id}});
            if (!sent) return sent.error();
        }
        return CancelOutcome{status, to};
    }
    return Error(ErrorCode::kUnavailable, "execution \"" + id + "\" kept changing status; try the cancel again");
}

Result<std::string> ExecutionService::ReRunBlocking(
    const std::string& id, const Json& overrides, const std::string& user, const Json& from_tasks
) {
    if (!overrides.is_object()) return InvalidArgument("parameters: must be an object");
    Json re_run = {{"ref", id}};
    if (from_tasks.is_object() && !from_tasks.value("tasks", Json::array()).empty()) {
        // Re-run from tasks: the workflow engine continues the original workflow's state from these tasks.
        for (const char* key : {"tasks", "reset"}) {
            const Json list = from_tasks.value(key, Json::array());
            if (!list.is_array()) return InvalidArgument(std::string(key) + ": must be a list of task names");
            for (const auto& t : list) {
                if (!t.is_string() || t.get<std::string>().empty())
                    return InvalidArgument(std::string(key) + ": must be a list of task names, got " + t.dump());
            }
            re_run[key] = list;
        }
        Result<Json> original = store_.GetBlocking(id);
        if (!original) return original.error();
        const std::string runner = (*original)["runner"].value("name", "");
        if (runner != "orquesta") {
            return InvalidArgument(
                "tasks: execution \"" + id + "\" is not an Orquesta workflow (runner \"" + runner +
                "\"); only those re-run from tasks"
            );
        }
        if (!IsFinal(original->value("status", ""))) {
            return Error(
                ErrorCode::kFailedPrecondition,
                "execution \"" + id + "\" is " + original->value("status", "") +
                    "; a workflow re-runs from tasks once it ended"
            );
        }
    }
    Result<core::RedisReply> h = store_.client().CommandBlocking(
        {"HMGET", store_.keys().Execution(id), "action_ref", "given_parameters", "context"}
    );
    if (!h) return h.error();
    if (h->IsError()) return Internal("redis: " + h->str);
    if (h->elements.size() < 3 || h->elements[0].IsNil()) return NotFound("execution \"" + id + "\" not found");
    ExecutionSpec spec;
    spec.action_ref = h->elements[0].str;
    Json given = h->elements[1].IsNil() ? Json::object() : Json::parse(h->elements[1].str, nullptr, false);
    if (!given.is_object()) given = Json::object();
    for (const auto& [k, v] : overrides.items()) given[k] = v;
    for (const auto& [k, v] : given.items()) {
        if (v.is_string() && v.get<std::string>() == packs::kMask) {
            return InvalidArgument(
                "parameter \"" + k + "\": it is secret and was not stored in clear; give it again to re-run"
            );
        }
    }
    spec.parameters = std::move(given);
    spec.parameters_see_each_other = true;
    spec.user = user;
    spec.api_user = user;
    Json original = h->elements[2].IsNil() ? Json::object() : Json::parse(h->elements[2].str, nullptr, false);
    if (original.is_object()) {
        for (const char* keep : {"trace_context", "parent"}) {
            if (original.contains(keep)) spec.context[keep] = original[keep];
        }
    }
    spec.context["re_run"] = std::move(re_run);
    return RequestBlocking(spec);
}

Result<std::string> ExecutionService::SignalBlocking(
    const std::string& id, const std::string& to, const std::vector<std::string>& from, const std::string& verb
) {
    Result<Json> current = store_.GetBlocking(id);
    if (!current) return current.error();
    const std::string runner = (*current)["runner"].value("name", "");
    if (!pausable_.count(runner)) {
        return Error(
            ErrorCode::kFailedPrecondition,
            "execution \"" + id + "\": runner \"" + runner + "\" does not support " + verb
        );
    }
    Result<TransitionResult> moved = store_.TransitionBlocking(id, to, {}, from);
    if (!moved) return moved.error();
    if (!moved->applied) return RefusedTransition(id, moved->previous, to);
    if (!moved->runner_id.empty()) {
        Status sent = store_.SendControlBlocking(moved->runner_id, {{"kind", verb}, {"execution_id", id}});
        if (!sent) return sent.error();
    }
    return to;
}

Result<std::string> ExecutionService::PauseBlocking(const std::string& id) {
    return SignalBlocking(id, "pausing", {"running", "pending"}, "pause");
}

Result<std::string> ExecutionService::ResumeBlocking(const std::string& id) {
    return SignalBlocking(id, "resuming", {"paused"}, "resume");
}

}  // namespace squall::executions
