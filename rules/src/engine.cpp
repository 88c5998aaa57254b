#include "squall/rules/engine.hpp"

#include <atomic>
#include <optional>

#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/core/log.hpp"
#include "squall/packs/config.hpp"
#include "squall/packs/parameters.hpp"
#include "squall/templates/template.hpp"

namespace squall::rules {

using core::Json;
using core::Log;

Enforcer::Enforcer(executions::ExecutionService& executions, EnforcementStore& enforcements)
    : executions_(executions), enforcements_(enforcements) {}

void Enforcer::Record(const Json& enforcement, std::function<void(Status)> cb) {
    const bool ok = enforcement.value("status", "") == "succeeded";
    Log(*core::Logger("rules"),
        ok ? spdlog::level::info : spdlog::level::warn,
        ok ? "rule enforced" : "rule enforcement failed",
        {{"rule", enforcement["rule"].value("ref", "")},
         {"trigger_id", enforcement.value("trigger_instance_id", "")},
         {"execution_id", enforcement.value("execution_id", "")},
         {"reason", enforcement.value("failure_reason", "")}});
    executions_.store().client().Pipeline(
        enforcements_.Commands(enforcement),
        [cb = std::move(cb)](Result<std::vector<core::RedisReply>> r) {
            if (!r) return cb(r.error());
            cb(Status{});
        }
    );
}

void Enforcer::Enforce(
    const CompiledRule& rule,
    const core::TriggerInstance& ti,
    const std::string& id,
    const packs::ContentSnapshot& content,
    std::function<void(Status)> cb
) {
    const std::string rule_ref = rule.meta.Ref();
    auto enforcement = std::make_shared<Json>(Json{
        {"id", id},
        {"rule", {{"ref", rule_ref}, {"id", rule.meta.id}}},
        {"trigger_instance_id", ti.id},
        {"enforced_at", core::FormatIsoTimestamp(executions_.store().clock().Now())},
    });
    // The rules engine's user is "squall": st2kv.user.* are its keys, as StackStorm's rules engine does.
    executions::ExecutionSpec spec;
    spec.action_ref = rule.meta.action_ref;
    spec.parameters = rule.meta.action_parameters;
    spec.render_context = {{"trigger", ti.payload}};
    spec.user = "squall";
    spec.context = {
        {"rule", {{"id", rule.meta.id}, {"ref", rule_ref}, {"name", rule.meta.name}}},
        {"trigger_instance", {{"id", ti.id}, {"name", nullptr}}},
        {"trace_context", {{"trace_tag", ti.trace_tag}}},
    };
    spec.idempotency_key = "enf:" + ti.id + "/" + rule_ref;
    spec.id_time_of = ti.id;
    spec.trigger_instance = {{"id", ti.id}, {"trigger", ti.trigger}, {"occurrence_time", ti.occurrence_time}};
    spec.rule = {{"id", rule.meta.id}, {"ref", rule_ref}, {"name", rule.meta.name}, {"pack", rule.meta.pack}};
    auto shared_cb = std::make_shared<std::function<void(Status)>>(std::move(cb));
    executions_.Request(
        spec,
        content,
        [this, enforcement, shared_cb](Error refused) {
            (*enforcement)["status"] = "failed";
            (*enforcement)["failure_reason"] = refused.message;
            Record(*enforcement, std::move(*shared_cb));
        },
        [this, enforcement, shared_cb](Result<std::string> id) {
            if (!id) return (*shared_cb)(id.error());
            (*enforcement)["status"] = "succeeded";
            (*enforcement)["execution_id"] = *id;
            Record(*enforcement, std::move(*shared_cb));
        }
    );
}

struct RulesEngine::Impl : std::enable_shared_from_this<RulesEngine::Impl> {
    asio::io_context& io;
    core::RedisClientPtr client;
    const OperatorRegistry& operators;
    std::string consumer_name;
    executions::ExecutionStore executions;
    executions::ExecutionService service;
    core::TriggerStore triggers;
    EnforcementStore enforcements;
    packs::ContentStore content;
    packs::ContentFollower follower;
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
        core::KvCache* kv_cache,
        const core::Clock& clock
    )
        : io(io_),
          client(std::move(c)),
          operators(ops),
          consumer_name(std::move(name)),
          executions(client, clock),
          service(executions, nullptr, kv_cache),
          triggers(client, clock),
          enforcements(client, clock),
          content(client),
          follower(content),
          enforcer(service, enforcements),
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
        follower.Refresh([self, next = std::move(next)](Status st, bool changed) mutable {
            if (!st) return next(std::move(st));
            if (changed || !self->matcher) self->Rebuild(self->follower.snapshot());
            next(Status{});
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

    /// A batch being processed: its instances, the rules and content they are matched against (those current
    /// when the batch began), and `finish` (ends one outstanding part; the last one acknowledges the batch).
    struct BatchWork {
        std::vector<core::StreamMessage> batch;
        std::shared_ptr<const Matcher> matcher;
        packs::ContentSnapshotPtr snapshot;
        std::shared_ptr<BatchState> state;
        std::function<void()> finish;
        /// What criteria patterns read of the datastore (its system scope, as StackStorm's), as refreshed for this
        /// batch.
        std::optional<core::KvLookup> kv;
    };

    /// Instances handled per turn on the connection's strand. The executions a turn creates are written to Redis
    /// while the next turn renders its own: one turn for all 512 of a batch kept Redis waiting for the whole
    /// batch's CPU, and then squall waiting for Redis (docs/decisions.md, "Throughput settings").
    static constexpr size_t kSlice = 32;

    void Process(std::vector<core::StreamMessage> batch, core::StreamConsumer::Done done) {
        auto state = std::make_shared<BatchState>();
        state->done = std::move(done);
        auto self = shared_from_this();
        auto work = std::make_shared<BatchWork>();
        work->batch = std::move(batch);
        work->matcher = matcher;
        work->snapshot = snapshot;
        work->state = state;
        if (kv) work->kv.emplace(kv->LookupFor(""));
        work->finish = [self, state]() {
            if (--state->outstanding != 0) return;
            std::vector<core::RedisClient::Args> updates;
            {
                std::lock_guard lock(state->mu);
                updates = std::move(state->status_updates);
            }
            if (updates.empty()) return state->done(state->ack_ids);
            self->client->Pipeline(std::move(updates), [self, state](Result<std::vector<core::RedisReply>> r) {
                // The status update also lists each instance's enforcements (EnforcementStore, "per trigger
                // instance"): not written, the batch is not acknowledged, and is delivered again (its executions and
                // enforcements are stored again under the same ids: nothing new).
                if (!r) {
                    Log(*self->log,
                        spdlog::level::warn,
                        "cannot mark trigger instances processed; they will be delivered again",
                        {{"error", r.error().message}});
                    return state->done({});
                }
                state->done(state->ack_ids);
            });
        };
        ProcessSlice(std::move(work), 0);
    }

    void ProcessSlice(std::shared_ptr<BatchWork> work, size_t from) {
        const size_t end = std::min(from + kSlice, work->batch.size());
        for (size_t i = from; i < end; ++i) ProcessOne(*work, work->batch[i]);
        if (end < work->batch.size()) {
            auto self = shared_from_this();
            return client->Post([self, work = std::move(work), end]() mutable {
                self->ProcessSlice(std::move(work), end);
            });
        }
        work->finish();
    }

    void ProcessOne(const BatchWork& work, const core::StreamMessage& msg) {
        const auto& state = work.state;
        Json j = Json::parse(msg.body, nullptr, false);
        Result<core::TriggerInstance> ti = j.is_discarded() ? Result<core::TriggerInstance>(InvalidArgument("not JSON"))
                                                            : core::TriggerInstance::FromJson(std::move(j));
        if (!ti) {
            Log(*log,
                spdlog::level::err,
                "dropping malformed trigger instance",
                {{"stream_id", msg.id}, {"error", ti.error().message}});
            std::lock_guard lock(state->mu);
            state->ack_ids.push_back(msg.id);
            return;
        }
        std::vector<CompiledRulePtr> matches;
        try {
            matches = work.matcher->Match(*ti, nullptr, work.kv ? &*work.kv : nullptr);
        } catch (const std::exception& e) {
            // A bug, not input: leave the instance pending; past the delivery bound it is dead-lettered.
            Log(*log,
                spdlog::level::err,
                "matching failed; trigger instance left pending",
                {{"trigger_id", ti->id}, {"error", e.what()}});
            return;
        }
        if (matches.empty()) {
            std::lock_guard lock(state->mu);
            state->ack_ids.push_back(msg.id);
            state->status_updates.push_back(triggers.SetStatusCommand(ti->id, "processed"));
            triggers.Count("dispatched", ti->trigger);  // in memory: flushed once a second
            return;
        }
        // Every match of this instance must be durable before the instance is acknowledged.
        auto per_msg = std::make_shared<std::pair<std::atomic<size_t>, std::atomic<bool>>>();
        per_msg->first = matches.size();
        per_msg->second = true;
        // The instance's enforcements, listed in its record with its status (EnforcementStore, "per trigger
        // instance").
        auto enforcement_ids = std::make_shared<std::vector<std::string>>();
        for (const auto& rule : matches) enforcement_ids->push_back(EnforcementStore::IdOf(ti->id, rule->meta.Ref()));
        state->outstanding += 1;
        auto self = shared_from_this();
        for (size_t m = 0; m < matches.size(); ++m) {
            const CompiledRulePtr& rule = matches[m];
            auto on_done = [self,
                            state,
                            per_msg,
                            enforcement_ids,
                            id = msg.id,
                            ti_id = ti->id,
                            type = ti->trigger,
                            rule_ref = rule->meta.Ref(),
                            finish = work.finish](Status st) {
                if (st) self->client->counters().Add(self->enforcements.keys().MatchCounts(), rule_ref);
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
                    state->status_updates.push_back(
                        self->triggers.SetStatusCommand(ti_id, "processed", *enforcement_ids)
                    );
                    self->triggers.Count("dispatched", type);
                }
                finish();
            };
            try {
                enforcer.Enforce(*rule, *ti, (*enforcement_ids)[m], *work.snapshot, on_done);
            } catch (const std::exception& e) {
                // Enforce calls back only after it stops throwing: report the failure once, as a retry.
                on_done(Internal(std::string("enforcement threw: ") + e.what()));
            }
        }
    }
};

RulesEngine::RulesEngine(
    asio::io_context& io,
    core::RedisClientPtr client,
    const OperatorRegistry& operators,
    std::string consumer_name,
    core::KvCache* kv,
    const core::Clock& clock
)
    : impl_(std::make_shared<Impl>(io, std::move(client), operators, std::move(consumer_name), kv, clock)) {}

RulesEngine::~RulesEngine() = default;

void RulesEngine::SetKnownResults(executions::ExecutionService::KnownResult known) {
    impl_->service.SetKnownResults(std::move(known), impl_->consumer_name);
}

void RulesEngine::Start() {
    core::StreamConsumerOptions opts;
    opts.stream = impl_->triggers.keys().TriggerStream();
    opts.group = "rules";
    opts.consumer = impl_->consumer_name;
    // A batch costs about seven round trips to Redis whatever its size (rules and datastore versions, the
    // executions, the enforcements, the statuses, XACK, the next read): at 256 the stage was bound by those
    // round trips and fell behind a webhook load it had the CPU for (docs/benchmarks.md, 2026-12-06).
    opts.batch = 512;
    opts.dead_letters = core::Keys(impl_->client->endpoint().key_prefix).DeadLetters();
    opts.clock = &impl_->executions.clock();
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
