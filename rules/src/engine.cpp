#include "squall/rules/engine.hpp"

#include <atomic>
#include <optional>

#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/core/log.hpp"
#include "squall/core/template.hpp"
#include "squall/packs/config.hpp"
#include "squall/packs/parameters.hpp"

namespace squall::rules {

using core::Json;
using core::Log;

Enforcer::Enforcer(core::ExecutionStore& executions, core::TriggerStore& triggers, core::KvCache* kv)
    : executions_(executions), triggers_(triggers), kv_(kv) {}

void Enforcer::Record(const Json& enforcement, std::function<void(Status)> cb) {
    const bool ok = enforcement.value("status", "") == "succeeded";
    Log(*core::Logger("rules"),
        ok ? spdlog::level::info : spdlog::level::warn,
        ok ? "rule enforced" : "rule enforcement failed",
        {{"rule", enforcement["rule"].value("ref", "")},
         {"trigger_id", enforcement.value("trigger_instance_id", "")},
         {"execution_id", enforcement.value("execution_id", "")},
         {"reason", enforcement.value("failure_reason", "")}});
    executions_.client().Pipeline(
        triggers_.EnforcementCommands(enforcement),
        [cb = std::move(cb)](Result<std::vector<core::RedisReply>> r) {
            if (!r) return cb(r.error());
            cb(Status{});
        }
    );
}

void Enforcer::Enforce(
    const CompiledRule& rule,
    const core::TriggerInstance& ti,
    const packs::ContentSnapshot& content,
    std::function<void(Status)> cb
) {
    const std::string rule_ref = rule.meta.Ref();
    Json enforcement = {
        {"id", core::Sha256Hex(ti.id + "/" + rule_ref).substr(0, 24)},
        {"rule", {{"ref", rule_ref}, {"id", rule.meta.id}}},
        {"trigger_instance_id", ti.id},
        {"enforced_at", core::FormatIsoTimestamp(std::chrono::system_clock::now())},
    };
    auto fail = [&](const std::string& reason) {
        enforcement["status"] = "failed";
        enforcement["failure_reason"] = reason;
        Record(enforcement, std::move(cb));
    };
    Json context = {{"trigger", ti.payload}};
    // st2kv.user.* are the keys of the execution's user (the rules engine's "squall"), as StackStorm does.
    std::optional<core::KvLookup> kv;
    core::RenderOptions render;
    render.stackstorm_whitespace = true;  // StackStorm's environment (trim_blocks, lstrip_blocks)
    if (kv_) {
        kv.emplace(kv_->LookupFor("squall"));
        render.kv = &*kv;
    }
    // config_context: the config of the action's pack, its st2kv templates rendered now (SPEC §2).
    Result<Json> config = content.ConfigContext(rule.meta.action_ref, render);
    if (!config) return fail(config.error().message);
    std::vector<std::string> config_secrets;  // masked wherever the rule rendered them
    if (auto action_it = content.actions.find(rule.meta.action_ref); action_it != content.actions.end()) {
        auto cs = content.config_secrets.find(action_it->second.value("pack", ""));
        if (cs != content.config_secrets.end()) config_secrets = packs::SecretValuesOf(*config, cs->second);
    }
    context["config_context"] = std::move(*config);
    Result<Json> rendered = core::RenderValue(rule.meta.action_parameters, context, render);
    if (!rendered) return fail("action parameters: " + rendered.error().message);
    auto action = content.actions.find(rule.meta.action_ref);
    if (action == content.actions.end()) return fail("action \"" + rule.meta.action_ref + "\" not found");
    if (!action->second.value("enabled", true)) return fail("action \"" + rule.meta.action_ref + "\" is disabled");
    Result<Json> schema = content.ActionSchema(rule.meta.action_ref);
    if (!schema) return fail(schema.error().message);
    Result<packs::ResolvedParameters> params =
        packs::ResolveParameters(*schema, *rendered, context, render, config_secrets);
    if (!params) return fail(params.error().message);

    core::NewExecution e;
    e.request.execution_id = core::NewId();
    e.request.action_ref = rule.meta.action_ref;
    e.request.runner_type = action->second.value("runner_type", "");
    e.request.action = action->second;
    e.request.parameters = params->values;
    e.request.secret_parameters = params->secrets;
    e.request.masked_values = params->revealed;
    e.request.context = {
        {"user", "squall"},
        {"rule", {{"id", rule.meta.id}, {"ref", rule_ref}, {"name", rule.meta.name}}},
        {"trigger_instance", {{"id", ti.id}, {"name", nullptr}}},
        {"trace_context", {{"trace_tag", ti.trace_tag}}},
        {"pack", action->second.value("pack", "")},
    };
    e.action = packs::MaskSecretDefaults(action->second, *schema);
    e.masked_parameters = params->masked;
    e.pool = action->second.value("pool", "default");
    e.trigger_instance = {{"id", ti.id}, {"trigger", ti.trigger}, {"occurrence_time", ti.occurrence_time}};
    e.rule = {{"id", rule.meta.id}, {"ref", rule_ref}, {"name", rule.meta.name}, {"pack", rule.meta.pack}};
    e.dedupe_key = "enf:" + ti.id + "/" + rule_ref;
    executions_.Create(e, [this, enforcement, cb = std::move(cb)](Result<std::string> id) mutable {
        if (!id) return cb(id.error());
        enforcement["status"] = "succeeded";
        enforcement["execution_id"] = *id;
        Record(enforcement, std::move(cb));
    });
}

struct RulesEngine::Impl : std::enable_shared_from_this<RulesEngine::Impl> {
    asio::io_context& io;
    core::RedisClientPtr client;
    const OperatorRegistry& operators;
    std::string consumer_name;
    core::ExecutionStore executions;
    core::TriggerStore triggers;
    packs::ContentStore content;
    Enforcer enforcer;
    core::StreamConsumerPtr consumer;
    // Owned by the consumer's handler chain: one batch at a time, so no lock is needed.
    packs::ContentSnapshotPtr snapshot;
    std::shared_ptr<const Matcher> matcher;
    std::shared_ptr<spdlog::logger> log = core::Logger("rules");
    core::KvCache* kv;

    Impl(
        asio::io_context& io_,
        core::RedisClientPtr c,
        const OperatorRegistry& ops,
        std::string name,
        core::KvCache* kv_cache
    )
        : io(io_),
          client(std::move(c)),
          operators(ops),
          consumer_name(std::move(name)),
          executions(client),
          triggers(client),
          content(client),
          enforcer(executions, triggers, kv_cache),
          kv(kv_cache) {}

    void Rebuild(packs::ContentSnapshotPtr snap) {
        std::vector<CompiledRulePtr> compiled;
        for (const auto& [ref, rule] : snap->rules) {
            Result<CompiledRulePtr> c = CompileRule(rule, operators);
            if (c) {
                compiled.push_back(std::move(*c));
            } else {
                Log(*log, spdlog::level::err, "rule skipped", {{"rule", ref}, {"error", c.error().What()}});
            }
        }
        matcher = std::make_shared<Matcher>(std::move(compiled));
        snapshot = std::move(snap);
        Log(*log,
            spdlog::level::info,
            "rules loaded",
            {{"rules", std::to_string(matcher->size())}, {"version", std::to_string(snapshot->version)}});
    }

    /// Makes sure the rule set and the datastore snapshot are current, then runs `next`.
    void Refresh(std::function<void(Status)> next) {
        auto self = shared_from_this();
        if (kv) {
            next = [self, next = std::move(next)](Status st) mutable {
                if (!st) return next(std::move(st));
                self->kv->Refresh(std::move(next));
            };
        }
        content.Version([self, next = std::move(next)](Result<int64_t> v) mutable {
            if (!v) return next(v.error());
            if (self->snapshot && self->snapshot->version == *v) return next(Status{});
            self->content.Load([self, next = std::move(next)](Result<packs::ContentSnapshotPtr> snap) mutable {
                if (!snap) return next(snap.error());
                self->Rebuild(std::move(*snap));
                next(Status{});
            });
        });
    }

    void HandleBatch(std::vector<core::StreamMessage> batch, core::StreamConsumer::Done done) {
        auto self = shared_from_this();
        Refresh([self, batch = std::move(batch), done = std::move(done)](Status st) mutable {
            if (!st) {
                Log(*self->log,
                    spdlog::level::err,
                    "cannot load rules; batch left pending",
                    {{"error", st.error().message}});
                return done({});
            }
            self->Process(std::move(batch), std::move(done));
        });
    }

    struct BatchState {
        std::atomic<size_t> outstanding{1};
        std::vector<std::string> ack_ids;
        std::vector<core::RedisClient::Args> status_updates;
        std::mutex mu;
        core::StreamConsumer::Done done;
    };

    void Process(std::vector<core::StreamMessage> batch, core::StreamConsumer::Done done) {
        auto state = std::make_shared<BatchState>();
        state->done = std::move(done);
        auto self = shared_from_this();
        auto matcher_now = matcher;
        auto snapshot_now = snapshot;
        auto finish = [self, state]() {
            if (--state->outstanding != 0) return;
            std::vector<core::RedisClient::Args> updates;
            {
                std::lock_guard lock(state->mu);
                updates = std::move(state->status_updates);
            }
            if (updates.empty()) return state->done(state->ack_ids);
            self->client->Pipeline(std::move(updates), [self, state](Result<std::vector<core::RedisReply>> r) {
                // Statuses are informational; the enforcements are already durable, so acknowledge anyway.
                if (!r)
                    Log(*self->log,
                        spdlog::level::warn,
                        "cannot update trigger instance statuses",
                        {{"error", r.error().message}});
                state->done(state->ack_ids);
            });
        };
        for (auto& msg : batch) {
            Json j = Json::parse(msg.body, nullptr, false);
            Result<core::TriggerInstance> ti = j.is_discarded()
                                                   ? Result<core::TriggerInstance>(InvalidArgument("not JSON"))
                                                   : core::TriggerInstance::FromJson(j);
            if (!ti) {
                Log(*log,
                    spdlog::level::err,
                    "dropping malformed trigger instance",
                    {{"stream_id", msg.id}, {"error", ti.error().message}});
                std::lock_guard lock(state->mu);
                state->ack_ids.push_back(msg.id);
                continue;
            }
            auto matches = matcher_now->Match(*ti);
            if (matches.empty()) {
                std::lock_guard lock(state->mu);
                state->ack_ids.push_back(msg.id);
                state->status_updates.push_back(triggers.SetStatusCommand(ti->id, "processed"));
                continue;
            }
            // Every match of this instance must be durable before the instance is acknowledged.
            auto per_msg = std::make_shared<std::pair<std::atomic<size_t>, std::atomic<bool>>>();
            per_msg->first = matches.size();
            per_msg->second = true;
            state->outstanding += 1;
            for (const auto& rule : matches) {
                enforcer.Enforce(
                    *rule,
                    *ti,
                    *snapshot_now,
                    [self, state, per_msg, id = msg.id, ti_id = ti->id, finish](Status st) {
                        if (!st) {
                            per_msg->second = false;
                            Log(*self->log,
                                spdlog::level::err,
                                "enforcement not stored; will retry",
                                {{"trigger_id", ti_id}, {"error", st.error().message}});
                        }
                        if (--per_msg->first != 0) return;
                        if (per_msg->second) {
                            std::lock_guard lock(state->mu);
                            state->ack_ids.push_back(id);
                            state->status_updates.push_back(self->triggers.SetStatusCommand(ti_id, "processed"));
                        }
                        finish();
                    }
                );
            }
        }
        finish();
    }
};

RulesEngine::RulesEngine(
    asio::io_context& io,
    core::RedisClientPtr client,
    const OperatorRegistry& operators,
    std::string consumer_name,
    core::KvCache* kv
)
    : impl_(std::make_shared<Impl>(io, std::move(client), operators, std::move(consumer_name), kv)) {}

RulesEngine::~RulesEngine() = default;

void RulesEngine::Start() {
    core::StreamConsumerOptions opts;
    opts.stream = impl_->triggers.keys().TriggerStream();
    opts.group = "rules";
    opts.consumer = impl_->consumer_name;
    opts.batch = 256;
    std::weak_ptr<Impl> weak = impl_;
    impl_->consumer = core::StreamConsumer::Create(impl_->io, impl_->client, opts, core::ForwardBatchesTo(weak));
    impl_->consumer->Start();
}

void RulesEngine::Stop(std::function<void()> on_stopped) {
    if (impl_->consumer) {
        impl_->consumer->Stop(std::move(on_stopped));
    } else if (on_stopped) {
        on_stopped();
    }
}

packs::RuleCheck MakeRuleCheck(const OperatorRegistry& operators) {
    return [&operators](const packs::RuleMeta& rule, const core::YamlDocument& doc) {
        std::vector<Error> errors;
        (void)CompileRule(rule, operators, &doc, &errors);
        return errors;
    };
}

}  // namespace squall::rules
