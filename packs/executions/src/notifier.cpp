#include "squall/executions/notifier.hpp"

#include <atomic>
#include <mutex>

#include "squall/core/crypto.hpp"
#include "squall/core/id.hpp"
#include "squall/core/log.hpp"
#include "squall/core/redis/stream.hpp"
#include "squall/executions/events.hpp"
#include "squall/executions/status.hpp"
#include "squall/packs/content_cache.hpp"
#include "squall/templates/template.hpp"

namespace squall::executions {

using core::Log;

namespace {
constexpr const char* kActionTrigger = kActionTriggerType;
constexpr const char* kNotifyTrigger = kNotifyTriggerType;

/// The notify sections that apply to an execution that ended in `status`.
std::vector<std::string> NotifySections(const std::string& status) {
    std::vector<std::string> out = {"on-complete"};
    out.push_back(status == "succeeded" ? "on-success" : "on-failure");
    return out;
}

std::string TriggerInstanceId(const std::string& execution_id, const std::string& what) {
    return core::Sha256Hex(execution_id + "/" + what).substr(0, 24);
}
}  // namespace

Json ActionTriggerPayload(const Json& e) {
    const Json& action = e.contains("action") ? e["action"] : Json::object();
    return {
        {"execution_id", e.value("id", "")},
        {"status", e.value("status", "")},
        {"start_timestamp", e.value("start_timestamp", "")},
        // The ref, as StackStorm's notifier sends it (`action_name` and `action_ref` both liveaction.action): rules
        // written for StackStorm match `trigger.action_name` against "pack.name".
        {"action_name", action.value("ref", "")},
        {"action_ref", action.value("ref", "")},
        {"runner_ref", e.contains("runner") ? e["runner"].value("name", "") : ""},
        {"parameters", e.value("parameters", Json::object())},
        {"result", e.value("result", Json::object())},
    };
}

struct Notifier::Impl : std::enable_shared_from_this<Notifier::Impl> {
    asio::io_context& io;
    core::RedisClientPtr client;
    ExecutionStore& executions;
    core::TriggerStore& triggers;
    packs::ContentFollower content;
    std::string consumer_name;
    core::StreamConsumerPtr consumer;
    std::shared_ptr<spdlog::logger> log = core::Logger("notifier");

    Impl(
        asio::io_context& io_,
        core::RedisClientPtr c,
        ExecutionStore& e,
        core::TriggerStore& t,
        packs::ContentStore& cs,
        std::string name
    )
        : io(io_), client(std::move(c)), executions(e), triggers(t), content(cs), consumer_name(std::move(name)) {}

    bool RuleListensTo(const std::string& trigger_type) const {
        const auto& snap = content.snapshot();
        if (!snap) return true;  // unknown: emit rather than lose an event a rule may want
        for (const auto& [ref, rule] : snap->rules) {
            if (rule.trigger_type == trigger_type && rule.enabled) return true;
        }
        return false;
    }

    void HandleBatch(std::vector<core::StreamMessage> batch, core::StreamConsumer::Done done) {
        auto self = shared_from_this();
        content.Refresh([self, batch = std::move(batch), done = std::move(done)](Status st, bool) mutable {
            if (!st) {
                Log(*self->log,
                    spdlog::level::warn,
                    "cannot read rules; emitting every trigger",
                    {{"error", st.error().message}});
            }
            self->Process(std::move(batch), std::move(done));
        });
    }

    void Process(std::vector<core::StreamMessage> batch, core::StreamConsumer::Done done) {
        std::vector<std::string> acks;
        std::vector<std::pair<std::string, std::string>> finished;  // stream id, execution id
        // Most executions need nothing from the notifier: no rule on the actiontrigger and no notify section (their
        // final events are not on this stream at all). Those that are here without a rule listening have a notify:
        // their action's, or the request's own (POST /executions `notify`), which the registered action does not
        // show; they are read.
        const bool action_trigger = RuleListensTo(kActionTrigger);
        for (const auto& msg : batch) {
            Result<ExecutionEvent> ev = ExecutionEvent::Parse(msg.body);
            if (!ev || ev->kind != event_kind::kStatus || !IsFinal(ev->to)) {
                acks.push_back(msg.id);
                continue;
            }
            finished.emplace_back(msg.id, ev->execution_id);
        }
        if (finished.empty()) return done(std::move(acks));
        std::vector<core::RedisClient::Args> reads;
        for (const auto& [sid, id] : finished) reads.push_back({"HGETALL", executions.keys().Execution(id)});
        auto self = shared_from_this();
        client->Pipeline(
            std::move(reads),
            [self, finished, acks = std::move(acks), done = std::move(done)](Result<std::vector<core::RedisReply>> rows
            ) mutable {
                if (!rows) {
                    Log(*self->log,
                        spdlog::level::warn,
                        "cannot read executions; events left pending",
                        {{"error", rows.error().message}});
                    return done(std::move(acks));
                }
                self->Emit(finished, *rows, std::move(acks), std::move(done));
            }
        );
    }

    /// Emits the trigger instances of each finished execution; acknowledges an event once all of its instances
    /// are stored.
    void Emit(
        const std::vector<std::pair<std::string, std::string>>& finished,
        const std::vector<core::RedisReply>& rows,
        std::vector<std::string> acks,
        core::StreamConsumer::Done done
    ) {
        struct State {
            std::atomic<size_t> outstanding{1};
            std::mutex mu;
            std::vector<std::string> acks;
            core::StreamConsumer::Done done;
        };
        auto state = std::make_shared<State>();
        state->acks = std::move(acks);
        state->done = std::move(done);
        auto finish = [state]() {
            if (--state->outstanding == 0) state->done(std::move(state->acks));
        };
        const bool action_trigger = RuleListensTo(kActionTrigger);
        auto self = shared_from_this();
        for (size_t i = 0; i < finished.size(); ++i) {
            const std::string& stream_id = finished[i].first;
            if (i >= rows.size() || rows[i].elements.empty()) {  // purged meanwhile: nothing to say
                std::lock_guard lock(state->mu);
                state->acks.push_back(stream_id);
                continue;
            }
            const Json execution = ExecutionStore::FromHash(rows[i]);
            std::vector<core::TriggerInstance> instances;
            const std::string now = core::FormatIsoTimestamp(executions.clock().Now());
            if (action_trigger) {
                core::TriggerInstance ti;
                ti.id = TriggerInstanceId(finished[i].second, "actiontrigger");
                ti.trigger = kActionTrigger;
                ti.payload = ActionTriggerPayload(execution);
                ti.occurrence_time = now;
                ti.trace_tag = execution["context"].value("trace_context", Json::object()).value("trace_tag", "");
                instances.push_back(std::move(ti));
            }
            AddNotifyInstances(execution, now, instances);
            if (instances.empty()) {
                std::lock_guard lock(state->mu);
                state->acks.push_back(stream_id);
                continue;
            }
            auto per_event = std::make_shared<std::pair<std::atomic<size_t>, std::atomic<bool>>>();
            per_event->first = instances.size();
            per_event->second = true;
            state->outstanding += 1;
            for (const auto& ti : instances) {
                triggers.Emit(ti, [self, state, per_event, stream_id, finish](Result<std::string> r) {
                    if (!r) {
                        per_event->second = false;
                        Log(*self->log,
                            spdlog::level::warn,
                            "cannot emit trigger instance; will retry",
                            {{"error", r.error().message}});
                    }
                    if (--per_event->first != 0) return;
                    if (per_event->second) {
                        std::lock_guard lock(state->mu);
                        state->acks.push_back(stream_id);
                    }
                    finish();
                });
            }
        }
        finish();
    }

    /// One notifytrigger per route of each notify section that applies (StackStorm's notifier). `message` and
    /// `data` are templates over the execution (`action_results`, `action_context`, `execution`).
    void AddNotifyInstances(const Json& execution, const std::string& now, std::vector<core::TriggerInstance>& out) {
        const Json notify = execution["action"].value("notify", Json::object());
        if (!notify.is_object() || notify.empty()) return;
        const std::string status = execution.value("status", "");
        const std::string id = execution.value("id", "");
        const Json ctx = {
            {"action_results", execution.value("result", Json::object())},
            {"action_context", execution.value("context", Json::object())},
            {"execution", execution},
        };
        for (const auto& section : NotifySections(status)) {
            auto it = notify.find(section);
            if (it == notify.end() || !it->is_object()) continue;
            Json routes = it->value("routes", Json::array());
            if (!routes.is_array() || routes.empty()) routes = it->value("channels", Json::array());
            if (!routes.is_array()) continue;
            auto render = [&ctx](const Json& v) {
                Result<Json> r = core::RenderValue(v, ctx);
                return r ? *r : v;
            };
            const Json message = render(it->value("message", Json("")));
            const Json data = render(it->value("data", Json::object()));
            for (const auto& route : routes) {
                if (!route.is_string()) continue;
                core::TriggerInstance ti;
                ti.id = TriggerInstanceId(id, "notify/" + section + "/" + route.get<std::string>());
                ti.trigger = kNotifyTrigger;
                ti.payload = {
                    {"execution_id", id},
                    {"status", status},
                    {"start_timestamp", execution.value("start_timestamp", "")},
                    {"end_timestamp", execution.value("end_timestamp", "")},
                    {"action_ref", execution["action"].value("ref", "")},
                    {"runner_ref", execution["runner"].value("name", "")},
                    {"channel", route},
                    {"route", route},
                    {"message", message},
                    {"data", data},
                };
                ti.occurrence_time = now;
                out.push_back(std::move(ti));
            }
        }
    }
};

Notifier::Notifier(
    asio::io_context& io,
    core::RedisClientPtr client,
    ExecutionStore& executions,
    core::TriggerStore& triggers,
    packs::ContentStore& content,
    std::string consumer_name
)
    : impl_(std::make_shared<Impl>(io, std::move(client), executions, triggers, content, std::move(consumer_name))) {}

Notifier::~Notifier() = default;

void Notifier::Start() {
    // The transition script queues a finished execution for us only when the set of listened trigger types says a
    // rule wants the action trigger; rules written by an older version did not maintain that set, so rebuild it
    // now. An older notifier read the whole event stream with a consumer group of its own; that group would hold
    // the stream's trimming back forever, so it goes.
    auto log = impl_->log;
    impl_->client->Pipeline(
        {packs::ContentKeys(impl_->client->endpoint().key_prefix).RulesChangedCommand(),
         {"XGROUP", "DESTROY", impl_->executions.keys().Events(), "notifier"}},
        [log](Result<std::vector<core::RedisReply>> r) {
            if (!r || (*r)[0].IsError()) {
                Log(*log,
                    spdlog::level::warn,
                    "cannot rebuild the set of trigger types rules listen to",
                    {{"error", !r ? r.error().message : (*r)[0].str}});
            }
        }
    );
    core::StreamConsumerOptions opts;
    opts.stream = impl_->executions.keys().Notify();
    opts.group = "notifier";
    opts.consumer = impl_->consumer_name;
    opts.batch = 256;
    opts.dead_letters = core::Keys(impl_->client->endpoint().key_prefix).DeadLetters();
    opts.clock = &impl_->executions.clock();
    opts.delete_on_ack = true;  // the notifier is the stream's only reader
    std::weak_ptr<Impl> weak = impl_;
    impl_->consumer = core::StreamConsumer::Create(impl_->io, impl_->client, opts, core::ForwardBatchesTo(weak));
    impl_->consumer->Start();
}

void Notifier::Stop(std::function<void()> on_stopped) {
    if (impl_->consumer) {
        impl_->consumer->Stop(std::move(on_stopped));
    } else if (on_stopped) {
        on_stopped();
    }
}

}  // namespace squall::executions
