#include "squall/actionrunners/container.hpp"

#include "retry_schedule.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "squall/core/action_token.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/core/log.hpp"
#include "squall/core/process/supervisor.hpp"
#include "squall/core/redis/stream.hpp"
#include "squall/core/store/kv_store.hpp"
#include "squall/core/store/store.hpp"
#include "squall/executions/events.hpp"
#include "squall/executions/policies.hpp"
#include "squall/executions/store.hpp"
#include "squall/packs/config.hpp"
#include "squall/packs/content_store.hpp"

namespace squall::actionrunners {

using core::Log;

namespace {
constexpr auto kHeartbeatEvery = std::chrono::seconds(5);
constexpr const char* kAliveTtlMs = "15000";
// Behind Sentinel: how many times a claim or a final status is confirmed (WAIT for a replica, up to 1 s each, or
// stored again after the connection changed) before the runner goes on without the confirmation.
constexpr int kConfirmAttempts = 60;
/// The output lines of one execution that are streamed (stored and sent as events), and their size counted with
/// kLineOverheadBytes per line (its JSON wrapping, its list entry). The bytes match the result's 4 MB per stream: the
/// lines wait in memory several times over (JSON, Redis command, hiredis's buffer) while Redis stores them, and at
/// 16 MB one chatty action held the runner at 120 MB (docs/delivery.md).
constexpr size_t kMaxStreamedLines = 100000;
constexpr size_t kMaxStreamedBytes = 4 * 1024 * 1024;
constexpr size_t kLineOverheadBytes = 128;
/// How often each runner process looks for due retries (docs/delivery.md "Policies").
constexpr auto kRetryPollEvery = std::chrono::seconds(1);
/// A claimed execution whose pack config cannot be read because Redis is out of reach (a restart, a Sentinel
/// failover) is not failed at once: the config is read again every kConfigRetryEvery, kConfigAttempts times.
constexpr auto kConfigRetryEvery = std::chrono::seconds(1);
constexpr int kConfigAttempts = 60;

std::vector<std::string> SecretValues(const core::ExecutionRequest& r) {
    std::vector<std::string> out;
    for (const auto& name : r.secret_parameters) {
        if (!r.parameters.contains(name)) continue;
        const Json& v = r.parameters[name];
        std::string s = v.is_string() ? v.get<std::string>() : v.dump();
        if (!s.empty()) out.push_back(s);
    }
    for (const auto& v : r.masked_values) {
        if (!v.empty()) out.push_back(v);
    }
    return out;
}

/// An action's pack config as the runner gets it.
struct PackConfig {
    Json values = Json::object();
    std::vector<std::string> secret_keys;    ///< dotted keys (Keys::ConfigSecrets)
    std::vector<std::string> secret_values;  ///< values of those keys, to mask
    std::string error;                       ///< set when Redis could not be read
    /// The error is Redis out of reach (a lost connection, a failover, a timeout), not the config itself: loading
    /// again later may work.
    bool unreachable = false;
};

bool HasTemplates(const Json& values) {
    const std::string text = values.dump();
    return text.find("{{") != std::string::npos || text.find("{%") != std::string::npos;
}

/// Fills `secret_values` from the values at `secret_keys`.
void CollectSecretValues(PackConfig& config) {
    config.secret_values.clear();
    for (const auto& k : config.secret_keys) {
        const Json* node = &config.values;
        std::stringstream parts(k);
        for (std::string part; node && std::getline(parts, part, '.');) {
            auto it = node->is_object() ? node->find(part) : node->end();
            node = node->is_object() && it != node->end() ? &*it : nullptr;
        }
        if (!node || node->is_null() || node->is_object()) continue;
        std::string v = node->is_string() ? node->get<std::string>() : node->dump();
        if (!v.empty()) config.secret_values.push_back(std::move(v));
    }
}

/// `config_reply`: HGET Keys::Configs (JSON object or nil); `secrets_reply`: HGET Keys::ConfigSecrets (JSON list
/// of dotted keys or nil).
PackConfig ParsePackConfig(const core::RedisReply& config_reply, const core::RedisReply& secrets_reply) {
    PackConfig out;
    if (config_reply.IsError()) {
        out.error = "redis: " + config_reply.str;
        return out;
    }
    if (!config_reply.IsNil()) {
        Json j = Json::parse(config_reply.str, nullptr, false);
        if (j.is_object()) out.values = std::move(j);
    }
    if (secrets_reply.IsNil() || secrets_reply.IsError()) return out;
    Json keys = Json::parse(secrets_reply.str, nullptr, false);
    if (!keys.is_array()) return out;
    for (const auto& k : keys) {
        if (k.is_string()) out.secret_keys.push_back(k.get<std::string>());
    }
    CollectSecretValues(out);
    return out;
}
using executions::RetryCount;
using executions::RetryDelay;
using executions::RetryWanted;

/// A policy of the request (executions::RequestPolicy).
const Json* Policy(const core::ExecutionRequest& r, const char* kind) {
    return executions::RequestPolicy(r, kind);
}

/// StackStorm's action.retry: a new execution of `original`'s action with its parameters (in clear, from the
/// request) and its stored record's snapshots (action, masked and given parameters, pool, parent, trigger instance,
/// rule); its context gets `policies.retry` {applied_policy, retry_count, retried_liveaction_id}. Idempotent: asking
/// twice for the same original creates one execution (dedupe key `retry:<original id>`). Calls back with the new id.
void CreateRetry(
    executions::ExecutionStore& store,
    const core::ExecutionRequest& original,
    const std::string& policy,
    int64_t retry_count,
    std::function<void(Result<std::string>)> cb
) {
    store.client().Command(
        {"HMGET",
         store.keys().Execution(original.execution_id),
         "action",
         "parameters",
         "given_parameters",
         "pool",
         "parent",
         "trigger_instance",
         "rule"},
        [&store, original, policy, retry_count, cb = std::move(cb)](Result<core::RedisReply> r) mutable {
            if (!r) return cb(r.error());
            if (r->IsError()) return cb(Internal("redis: " + r->str));
            if (r->elements.size() != 7 || r->elements[0].IsNil())
                return cb(NotFound("execution \"" + original.execution_id + "\" not found"));
            auto json_at = [&r](size_t i) {
                if (r->elements[i].IsNil()) return Json();
                Json j = Json::parse(r->elements[i].str, nullptr, false);
                return j.is_discarded() ? Json() : j;
            };
            executions::NewExecution e;
            e.request = original;
            e.dedupe_key = "retry:" + original.execution_id;
            e.request.execution_id = executions::KeyedExecutionId(e.dedupe_key, original.execution_id);
            if (!e.request.context.is_object()) e.request.context = Json::object();
            e.request.context["policies"]["retry"] = {
                {"applied_policy", policy},
                {"retry_count", retry_count},
                {"retried_liveaction_id", original.execution_id}};
            e.action = json_at(0);
            e.masked_parameters = json_at(1);
            e.given_parameters = json_at(2);
            e.pool = r->elements[3].IsNil() ? "default" : r->elements[3].str;
            e.parent = r->elements[4].IsNil() ? "" : r->elements[4].str;
            e.trigger_instance = json_at(5);
            e.rule = json_at(6);
            store.Create(e, std::move(cb));
        }
    );
}

/// How long a retry request is kept: a retry is due long before (the delay), or never.
constexpr const char* kRetryRequestTtlSeconds = "604800";

int64_t EpochMs(const core::Clock& clock) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch()).count();
}

}  // namespace

/// Puts `id` on the due set at now + its policy's delay (ZADD: asking twice keeps one entry).
void ScheduleRetry(
    core::RedisClient& client,
    const RunnerKeys& keys,
    const core::Clock& clock,
    const core::ExecutionRequest& r,
    std::function<void(bool)> then
) {
    const int64_t due = EpochMs(clock) + RetryDelay(r).count();
    client.Command(
        {"ZADD", keys.RetryDue(), std::to_string(due), r.execution_id},
        [then = std::move(then)](Result<core::RedisReply> reply) { then(reply && !reply->IsError()); }
    );
}

struct RunnerContainer::Impl : std::enable_shared_from_this<RunnerContainer::Impl> {
    asio::io_context& io;
    core::RedisClientPtr client;
    RunnerContainerOptions options;
    executions::ExecutionStore store;
    RunnerKeys runner_keys;
    packs::ContentKeys content_keys;
    core::ProcessSupervisor supervisor;
    RunnerServices services;
    std::map<std::string, RunnerPtr> runners;  // immutable after construction
    std::atomic<size_t> running{0};
    std::mutex mu;
    std::map<std::string, Runner*> active;   // execution id → runner, guarded by mu
    std::set<std::string> claiming;          // execution ids whose claim is under way, guarded by mu
    std::set<std::string> held;              // execution ids run here whose result is not stored yet, guarded by mu
    bool shutting_down = false;              // guarded by mu
    std::atomic<bool> stopping{false};       // Stop was called: claims and results are not retried for long
    std::function<void()> on_idle;           // guarded by mu
    std::set<std::string> cancel_requested;  // guarded by mu: ids whose cancel arrived (they end `canceled`)
    /// Output lines not yet stored, per execution (guarded by mu); flushed once per burst (one script, one event).
    std::map<std::string, std::vector<std::string>> pending_output;
    /// Held while a flush takes lines and hands them to the store (an asynchronous send, never a wait): the
    /// final flush of an execution cannot return while a posted flush on another thread still has its lines in
    /// hand, so the last output is sent before the final status on the same connection.
    std::mutex flush_mu;
    core::StreamConsumerPtr consumer;
    core::StreamConsumerPtr control;
    asio::steady_timer heartbeat;
    asio::steady_timer retry_poll;
    bool stopping_retries = false;  // io thread only
    /// Set when the heartbeat ends: a beat running on another io thread as the timer is cancelled does not re-arm.
    std::atomic<bool> heartbeat_stopped{false};
    std::shared_ptr<spdlog::logger> log = core::Logger("runner");

    Impl(
        asio::io_context& io_,
        core::RedisClientPtr c,
        const RunnerRegistry& registry,
        RunnerContainerOptions o,
        const core::Clock& clock
    )
        : io(io_),
          client(std::move(c)),
          options(std::move(o)),
          store(client, clock),
          runner_keys(client->endpoint().key_prefix),
          content_keys(client->endpoint().key_prefix),
          // An action dies with its runner (SIGKILL as the process does): a runner killed -9 left its actions
          // running, so that the retry of an execution `abandoned` meanwhile ran beside the first run.
          supervisor(io_, SIGKILL),
          services{io_, supervisor, client, options.data_dir, options.check_rule, &clock, options.check_workflow},
          heartbeat(io_),
          retry_poll(io_) {
        for (const auto& info : registry.Infos()) runners[info.name] = registry.Find(info.name)->create(services);
    }

    size_t Capacity() const {
        const size_t r = running.load();
        return r >= options.workers ? 0 : options.workers - r;
    }

    void Beat() {
        if (heartbeat_stopped) return;
        auto self = shared_from_this();
        client->Command(
            {"SET", runner_keys.Alive(options.consumer_name), "1", "PX", kAliveTtlMs}, [](Result<core::RedisReply>) {}
        );
        heartbeat.expires_after(kHeartbeatEvery);
        heartbeat.async_wait([self](const boost::system::error_code& ec) {
            if (!ec) self->Beat();
        });
    }

    void HandleBatch(std::vector<core::StreamMessage> batch, core::StreamConsumer::Done done) {
        struct State {
            std::atomic<size_t> outstanding{1};
            std::mutex mu;
            std::vector<std::string> acks;
            core::StreamConsumer::Done done;
        };
        auto state = std::make_shared<State>();
        state->done = std::move(done);
        auto finish = [state]() {
            if (--state->outstanding == 0) state->done(state->acks);
        };
        auto ack = [state](const std::string& id) {
            std::lock_guard lock(state->mu);
            state->acks.push_back(id);
        };
        auto self = shared_from_this();
        for (auto& msg : batch) {
            Json j = Json::parse(msg.body, nullptr, false);
            Result<core::ExecutionRequest> req = j.is_discarded()
                                                     ? Result<core::ExecutionRequest>(InvalidArgument("not JSON"))
                                                     : core::ExecutionRequest::FromJson(std::move(j));
            if (!req) {
                Log(*log,
                    spdlog::level::err,
                    "dropping malformed execution request",
                    {{"stream_id", msg.id}, {"error", req.error().message}});
                ack(msg.id);
                continue;
            }
            auto runner_it = runners.find(req->runner_type);
            state->outstanding += 1;
            if (runner_it == runners.end()) {
                core::ExecutionResult r{
                    core::status::kFailed,
                    {{"error",
                      "runner type \"" + req->runner_type + "\" is not available on runner " + options.consumer_name}}};
                const std::string execution_id = req->execution_id;
                Complete(execution_id, std::move(r), [ack, finish, id = msg.id](bool stored) {
                    if (stored) ack(id);
                    finish();
                });
                continue;
            }
            running += 1;
            auto job = std::make_shared<ClaimJob>();
            job->runner = runner_it->second.get();
            job->claim = {{"runner_id", options.consumer_name}};
            // Under a concurrency policy the claim may be delayed: the script keeps the request to queue it again.
            const bool concurrency = Policy(*req, "concurrency") != nullptr;
            if (concurrency) job->claim.emplace_back("_request", msg.body);
            const bool keep_request = Policy(*req, "retry") != nullptr;
            const std::string execution_id = req->execution_id;
            job->req = std::move(*req);
            job->ack = [ack, id = msg.id] { ack(id); };
            job->finish = finish;
            // A result known without running (core.noop) is stored with the claim, in one step. Not under a policy
            // (a concurrency slot counts claims; a retry keeps the request first) nor behind Sentinel (a claim
            // waits there for a replica before anything runs).
            if (!keep_request && !concurrency && !client->endpoint().IsSentinel()) {
                if (auto result = job->runner->ResultWithoutRunning(job->req.action_ref)) {
                    ClaimAndEnd(std::move(job), std::move(*result));
                    continue;
                }
            }
            if (keep_request) {
                // Kept before the claim, so that a retry has the parameters in clear whoever decides on it: this
                // runner when the action fails, the gc role when this runner dies mid-run (it is `abandoned`).
                client->Command(
                    {"SET", runner_keys.RetryRequest(execution_id), msg.body, "EX", kRetryRequestTtlSeconds},
                    [self, job](Result<core::RedisReply> kept) mutable {
                        if (!kept || kept->IsError()) {
                            // Run without it, a failure could not be retried: the request stays pending instead,
                            // and is delivered again.
                            self->running -= 1;
                            return job->finish();
                        }
                        self->Claim(std::move(job));
                    }
                );
                continue;
            }
            Claim(std::move(job));
        }
        finish();
    }

    /// One execution request being claimed: the request, and how to acknowledge it and end its part of the batch.
    struct ClaimJob {
        Runner* runner = nullptr;
        core::ExecutionRequest req;
        executions::FieldMap claim;
        std::function<void()> ack;
        std::function<void()> finish;
        int attempt = 0;  // > 0: claiming again after the Redis connection changed
    };

    void After(std::chrono::milliseconds delay, std::function<void()> fn) {
        auto timer = std::make_shared<asio::steady_timer>(io, delay);
        timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code&) { fn(); });
    }

    /// The claim (`scheduled → running`). Behind Sentinel with an online replica, the action starts only once a
    /// replica has the claim (ConfirmClaim): a failover then cannot hand the same execution to a second run.
    void Claim(std::shared_ptr<ClaimJob> job) {
        auto self = shared_from_this();
        const uint64_t since = client->ConnectionToken();
        const std::string execution_id = job->req.execution_id;
        if (job->attempt == 0) {
            std::lock_guard lock(mu);
            if (!claiming.insert(execution_id).second) {
                // Delivered again while this process claims it (a pending read after a reconnect): the claim under
                // way acknowledges it.
                running -= 1;
                return job->finish();
            }
        }
        // Kept for a second claim, should the reply to this one be lost.
        executions::FieldMap claim = job->claim;
        store.Transition(
            execution_id,
            core::status::kRunning,
            std::move(claim),
            [self, job, since](Result<executions::TransitionResult> claimed) mutable {
                if (!claimed) {
                    const ErrorCode code = claimed.error().code;
                    const bool lost = code == ErrorCode::kUnavailable || code == ErrorCode::kTimeout ||
                                      code == ErrorCode::kResourceExhausted ||
                                      (code != ErrorCode::kNotFound && self->client->endpoint().IsSentinel());
                    if (lost && job->attempt + 1 < kConfirmAttempts && !self->stopping) {
                        // The claim may have been applied without its reply reaching us (Redis restarted, or a
                        // Sentinel failover, right after it): claim again until an answer says whose the execution
                        // is. Left pending instead, it was found claimed by this live runner at its redelivery,
                        // skipped, and stayed `running` forever, never run (found by the chaos test in CI).
                        job->attempt += 1;
                        return self->After(std::chrono::seconds(1), [self, job] { self->Claim(job); });
                    }
                    self->Unclaiming(job->req.execution_id);
                    self->running -= 1;
                    if (claimed.error().code == ErrorCode::kNotFound) job->ack();  // nothing to run, ever
                    Log(*self->log,
                        spdlog::level::warn,
                        "cannot claim execution",
                        {{"execution_id", job->req.execution_id}, {"error", claimed.error().message}});
                    return job->finish();
                }
                if (!claimed->applied) {
                    const bool ours =
                        claimed->runner_id == self->options.consumer_name && !self->Held(job->req.execution_id);
                    if (ours && claimed->previous == core::status::kRunning) {
                        // Our earlier claim was applied though its reply was lost (or, behind Sentinel, it was
                        // replicated in time): ours to run. So is a request delivered again after every claim of it
                        // failed, unless this process ran it (its result may still be on its way: not twice).
                        return self->StartClaimed(std::move(job));
                    }
                    if (ours && claimed->previous == core::status::kCanceling) {
                        // Canceled between our lost answer and this claim: its cancel found nothing running here.
                        // Started canceled, it ends `canceled` without running (Launch), as a cancel before the
                        // start does; skipped, it stayed `canceling` forever.
                        {
                            std::lock_guard lock(self->mu);
                            self->cancel_requested.insert(job->req.execution_id);
                        }
                        return self->StartClaimed(std::move(job));
                    }
                    self->Unclaiming(job->req.execution_id);
                    job->ack();  // already taken (or ended): this request is done with
                    self->running -= 1;
                    Log(*self->log,
                        spdlog::level::info,
                        "execution not claimable; skipping request",
                        {{"execution_id", job->req.execution_id}, {"status", claimed->previous}});
                    return job->finish();
                }
                self->ConfirmClaim(std::move(job), since);
            },
            {core::status::kScheduled}
        );
    }

    void ConfirmClaim(std::shared_ptr<ClaimJob> job, uint64_t since) {
        if (!client->endpoint().IsSentinel()) return StartClaimed(std::move(job));  // nothing added without Sentinel
        auto self = shared_from_this();
        client->WaitForReplica(since, [self, job, since](Status replicated) mutable {
            if (replicated) return self->StartClaimed(std::move(job));
            job->attempt += 1;
            if (job->attempt >= kConfirmAttempts) {
                Log(*self->log,
                    spdlog::level::err,
                    "no Redis replica confirmed the claim; running the execution anyway",
                    {{"execution_id", job->req.execution_id}, {"error", replicated.error().message}});
                return self->StartClaimed(std::move(job));
            }
            if (self->client->ConnectionToken() != since) {
                // A failover (or a lost connection): the claim may be gone with the old master. Claim again: it
                // applies if it was lost, and is found ours if it was not.
                Log(*self->log,
                    spdlog::level::warn,
                    "claim not known to be replicated; claiming again on the current master",
                    {{"execution_id", job->req.execution_id}, {"error", replicated.error().message}});
                return self->After(std::chrono::milliseconds(200), [self, job] { self->Claim(job); });
            }
            // A slow replica: WAIT again, leaving the shared connection free for a moment (WAIT holds it).
            self->After(std::chrono::milliseconds(200), [self, job, since] { self->ConfirmClaim(job, since); });
        });
    }

    bool Held(const std::string& execution_id) {
        std::lock_guard lock(mu);
        return held.count(execution_id) > 0;
    }

    bool ShuttingDown() {
        std::lock_guard lock(mu);
        return shutting_down;
    }

    /// The claim and the end of a run whose result is known without running (Runner::ResultWithoutRunning), as
    /// one transition (scheduled → running → the result's status): one script instead of two, and nothing to
    /// launch. What is acknowledged, logged and left pending is what Claim and Complete would do.
    void ClaimAndEnd(std::shared_ptr<ClaimJob> job, core::ExecutionResult result) {
        auto self = shared_from_this();
        const std::string id = job->req.execution_id;
        executions::FieldMap fields = std::move(job->claim);
        fields.emplace_back("result", result.result.dump(-1, ' ', false, Json::error_handler_t::replace));
        if (core::status::IsCompleted(result.status))
            fields.emplace_back("end_timestamp", core::FormatIsoTimestamp(store.clock().Now()));
        store.TransitionVia(
            id,
            core::status::kRunning,
            result.status,
            std::move(fields),
            [self, job, status = result.status](Result<executions::TransitionResult> r) {
                if (!r) {
                    if (r.error().code == ErrorCode::kNotFound) job->ack();  // nothing to run, ever
                    Log(*self->log,
                        spdlog::level::warn,
                        "cannot claim execution",
                        {{"execution_id", job->req.execution_id}, {"error", r.error().message}});
                } else if (!r->applied) {
                    job->ack();  // already taken (or ended): this request is done with
                    Log(*self->log,
                        spdlog::level::info,
                        "execution not claimable; skipping request",
                        {{"execution_id", job->req.execution_id}, {"status", r->previous}});
                } else {
                    job->ack();
                    Log(*self->log,
                        status == core::status::kSucceeded ? spdlog::level::debug : spdlog::level::info,
                        "execution finished",
                        {{"execution_id", job->req.execution_id},
                         {"action", job->req.action_ref},
                         {"status", status},
                         {"ran", "nothing: result known without running"}});
                }
                job->finish();
                self->RunEnded();
            },
            {core::status::kScheduled}
        );
    }

    /// A run (or a claim that ran nothing) is over: room for one more request, and the stop waits for one less.
    void RunEnded() {
        running -= 1;
        if (consumer) consumer->NotifyCapacity();
        std::function<void()> idle;
        {
            std::lock_guard lock(mu);
            if (running == 0 && on_idle) idle = std::move(on_idle);
        }
        if (idle) idle();
    }

    void StartClaimed(std::shared_ptr<ClaimJob> job) {
        job->ack();
        job->finish();
        StartRun(job->runner, std::move(job->req));  // no longer claiming: active
    }

    /// The claim of `execution_id` is over without a run: given up, or found not ours. A cancel that arrived for it
    /// meanwhile is forgotten with it, unless it is for a run of this process (a request delivered again while
    /// it runs).
    void Unclaiming(const std::string& execution_id) {
        std::lock_guard lock(mu);
        claiming.erase(execution_id);
        if (!active.count(execution_id)) cancel_requested.erase(execution_id);
    }

    /// Loads the action's pack config (Keys::Configs; `{}` when the pack has none) and which of its keys are
    /// secret (Keys::ConfigSecrets), asynchronously, then runs the action with them.
    void StartRun(Runner* runner, core::ExecutionRequest req) {
        {
            std::lock_guard lock(mu);
            active[req.execution_id] = runner;
            held.insert(req.execution_id);
            claiming.erase(req.execution_id);  // in the same step: a cancel finds it claiming or active, never neither
        }
        if (!runner->UsesPackConfig()) return Launch(runner, std::move(req), PackConfig{});
        LoadConfigAndLaunch(runner, std::move(req), 0);
    }

    /// The execution is claimed (and, behind Sentinel, its request acknowledged): Redis out of reach now (a
    /// failover under way) must not end it `failed` without running. The config is read again each second while
    /// Redis is unreachable, up to kConfigAttempts times; a config that is read but wrong fails the run at once.
    void LoadConfigAndLaunch(Runner* runner, core::ExecutionRequest req, int attempt) {
        auto self = shared_from_this();
        const std::string pack = req.action.value("pack", "");
        client->Pipeline(
            {{"HGET", content_keys.Configs(), pack}, {"HGET", content_keys.ConfigSecrets(), pack}},
            [self, runner, req = std::move(req), attempt](Result<std::vector<core::RedisReply>> replies) mutable {
                PackConfig config;
                if (!replies) {
                    config.error = replies.error().message;
                    config.unreachable = true;
                } else if (replies->size() == 2) {
                    config = ParsePackConfig((*replies)[0], (*replies)[1]);
                }
                if (config.error.empty() && self->options.kv && HasTemplates(config.values)) {
                    // `{{ st2kv.system.x }}` config values reach the action rendered, as config_context does.
                    core::KvCache* kv = self->options.kv;
                    kv->Refresh([self, runner, req = std::move(req), config = std::move(config), attempt](Status st
                                ) mutable {
                        if (!st) {
                            config.error = "datastore: " + st.error().message;
                            config.unreachable =
                                st.error().code == ErrorCode::kUnavailable || st.error().code == ErrorCode::kTimeout;
                        } else {
                            const Json user = req.context.value("user", Json("squall"));
                            core::KvLookup lookup =
                                self->options.kv->LookupFor(user.is_string() ? user.get<std::string>() : "squall");
                            core::RenderOptions render;
                            render.stackstorm_whitespace = true;
                            render.kv = &lookup;
                            Result<Json> rendered = packs::RenderConfig(config.values, Json::object(), render);
                            if (!rendered) {
                                config.error = rendered.error().message;
                            } else {
                                config.values = std::move(*rendered);
                                CollectSecretValues(config);
                            }
                        }
                        self->LaunchOrLoadAgain(runner, std::move(req), std::move(config), attempt);
                    });
                    return;
                }
                self->LaunchOrLoadAgain(runner, std::move(req), std::move(config), attempt);
            }
        );
    }

    void LaunchOrLoadAgain(Runner* runner, core::ExecutionRequest req, PackConfig config, int attempt) {
        bool canceled = false;
        {
            std::lock_guard lock(mu);
            canceled = cancel_requested.count(req.execution_id) > 0;
        }
        if (!config.unreachable || attempt + 1 >= kConfigAttempts || canceled || ShuttingDown()) {
            return Launch(runner, std::move(req), std::move(config));
        }
        if (attempt == 0) {
            Log(*log,
                spdlog::level::warn,
                "cannot read the pack config yet; reading it again every second",
                {{"execution_id", req.execution_id}, {"error", config.error}});
        }
        auto self = shared_from_this();
        After(kConfigRetryEvery, [self, runner, req = std::move(req), attempt]() mutable {
            self->LoadConfigAndLaunch(runner, std::move(req), attempt + 1);
        });
    }

    void Launch(Runner* runner, core::ExecutionRequest req, PackConfig config) {
        auto self = shared_from_this();
        Log(*log,
            spdlog::level::debug,
            "execution started",
            {{"execution_id", req.execution_id}, {"action", req.action_ref}, {"runner", req.runner_type}});
        std::vector<std::string> secrets = SecretValues(req);
        secrets.insert(secrets.end(), config.secret_values.begin(), config.secret_values.end());
        std::string auth_token;
        if (!options.action_token_key.empty()) {
            const int64_t expiry = std::chrono::duration_cast<std::chrono::seconds>(
                                       (store.clock().Now() + options.action_token_ttl).time_since_epoch()
            )
                                       .count();
            auth_token = core::MintActionToken(options.action_token_key, req.execution_id, expiry);
            secrets.push_back(auth_token);
        }
        // The runner masks the output it streams; an error it writes (`could not start ...: working directory
        // '<a rendered secret>' does not exist`) is masked here, with the other strings of the result.
        auto masked = secrets.empty() ? nullptr : std::make_shared<const std::vector<std::string>>(secrets);
        RunRequest run{
            req.execution_id,
            req.action_ref,
            req.action,
            req.parameters,
            std::move(secrets),
            req.context,
            options.api_url,
            std::move(auth_token),
            std::move(config.values)};
        const std::string id = req.execution_id;
        RunCallbacks cb;
        // Lines are streamed (stored, and events) up to a budget per execution: 4 MB of output in one-byte lines
        // would otherwise be four million stored lines and events. The result keeps the text itself (4 MB per
        // stream); past the budget one marker line says so.
        struct Streamed {
            std::atomic<size_t> lines{0};
            std::atomic<size_t> bytes{0};
        };
        auto streamed = std::make_shared<Streamed>();
        cb.on_output = [self, id, streamed](std::string_view stream, std::string line) {
            const size_t lines = ++streamed->lines;
            const size_t bytes = streamed->bytes += line.size() + kLineOverheadBytes;
            if (lines > kMaxStreamedLines || bytes > kMaxStreamedBytes) {
                if (streamed->lines.exchange(kMaxStreamedLines + 2) > kMaxStreamedLines + 1) return;
                line = "[... output lines not streamed past " + std::to_string(kMaxStreamedLines) + " lines or " +
                       std::to_string(kMaxStreamedBytes / (1024 * 1024)) + " MB; the result keeps the output ...]";
            }
            Json out = {
                {"execution_id", id},
                {"output_type", stream},
                {"data", line + "\n"},
                {"timestamp", core::FormatIsoTimestamp(self->store.clock().Now())}};
            self->QueueOutput(id, out.dump(-1, ' ', false, Json::error_handler_t::replace));
        };
        // action.retry: the request is kept (parameters in clear) only for the actions that have the policy.
        std::shared_ptr<core::ExecutionRequest> retry_of;
        if (Policy(req, "retry")) retry_of = std::make_shared<core::ExecutionRequest>(req);
        cb.on_done = [self, id, action = req.action_ref, retry_of, masked](core::ExecutionResult result) {
            if (masked && result.result.is_object()) {
                for (auto& [key, value] : result.result.items()) {
                    if (value.is_string() && key != "stdout" && key != "stderr")  // those were masked as they came
                        value = core::MaskSecrets(value.get<std::string>(), *masked);
                }
            }
            self->FlushOutput(id);  // the output's events come before the final status event
            bool shutting = false;
            bool canceled = false;
            {
                std::lock_guard lock(self->mu);
                self->active.erase(id);
                shutting = self->shutting_down;
                canceled = self->cancel_requested.erase(id) > 0;
            }
            if (canceled && result.status != core::status::kCanceled) {
                // The cancel won over whatever the process did after SIGTERM (StackStorm reports canceled too).
                result.result["cancel"] = "canceled while " + result.status;
                result.status = core::status::kCanceled;
            }
            if (shutting && !canceled && result.status == core::status::kCanceled) {
                result.status = core::status::kAbandoned;
                result.result["error"] =
                    "runner " + self->options.consumer_name + " shut down before the execution finished";
            }
            Log(*self->log,
                result.status == core::status::kSucceeded ? spdlog::level::debug : spdlog::level::info,
                "execution finished",
                {{"execution_id", id}, {"action", action}, {"status", result.status}});
            const std::string status = result.status;
            const bool retry = retry_of && RetryWanted(*retry_of, status);
            auto due = std::make_shared<std::atomic<bool>>(false);
            const uint64_t due_on = self->client->ConnectionToken();
            if (retry) {
                // Due before the status is stored: a runner dying in between leaves a due retry, which the poll
                // takes once the status is final (or the gc role's abandon is); never a failure without its retry.
                ScheduleRetry(*self->client, self->runner_keys, self->store.clock(), *retry_of, [due](bool ok) {
                    *due = ok;
                });
            }
            self->Complete(id, std::move(result), [self, id, retry_of, retry, due, due_on](bool stored) {
                {
                    std::lock_guard lock(self->mu);
                    self->held.erase(id);
                }
                if (retry_of && stored) {
                    if (retry) {
                        // Made due again when Redis missed it (the result waited for Redis to come back), or when
                        // it went to a master that failed over since (Sentinel: the result was stored again).
                        if (!*due || self->client->ConnectionToken() != due_on)
                            ScheduleRetry(*self->client, self->runner_keys, self->store.clock(), *retry_of, [](bool) {
                            });
                        self->PollRetriesAfter(RetryDelay(*retry_of));  // on time, not at the next poll
                    } else {
                        self->client->Command(
                            {"DEL", self->runner_keys.RetryRequest(retry_of->execution_id)},
                            [](Result<core::RedisReply>) {}
                        );
                    }
                }
                self->RunEnded();
            });
        };
        bool canceled_early = false;
        {
            std::lock_guard lock(mu);
            canceled_early = cancel_requested.count(id) > 0;
        }
        if (canceled_early) {
            return cb.on_done(core::ExecutionResult{
                core::status::kCanceled, {{"error", "canceled before the action started"}}});
        }
        if (!config.error.empty()) {
            // Without its config the action would run with wrong settings; Redis down for longer than
            // LaunchOrLoadAgain waits fails the run visibly (`abandoned` when the runner is stopping meanwhile).
            const std::string error =
                "cannot load the config of pack \"" + run.action.value("pack", "") + "\": " + config.error;
            if (config.unreachable && ShuttingDown()) {
                return cb.on_done(core::ExecutionResult{
                    core::status::kAbandoned,
                    {{"error", "runner " + options.consumer_name + " shut down before the action started: " + error}}});
            }
            return cb.on_done(core::ExecutionResult{core::status::kFailed, {{"error", error}}});
        }
        runner->Run(run, std::move(cb));
    }

    /// StackStorm's action.retry, durably (docs/delivery.md "Policies"): an execution whose retry is due (RetryDue)
    /// is run again as a new execution once its status is final, with the request kept at its claim (RetryRequest),
    /// idempotently (CreateRetry's dedupe key): every runner process polls, so the delay survives the death of the
    /// runner that ran it. Each poll takes the due ids in order, a few at a time.
    void PollRetries() {
        if (stopping_retries) return;
        auto self = shared_from_this();
        client->Command(
            {"ZRANGEBYSCORE",
             runner_keys.RetryDue(),
             "-inf",
             std::to_string(EpochMs(store.clock())),
             "LIMIT",
             "0",
             "16"},
            [self](Result<core::RedisReply> due) {
                if (!due || due->IsError()) return;
                for (const auto& e : due->elements) self->RetryOne(e.str);
            }
        );
    }

    void RetryOne(const std::string& id) {
        auto self = shared_from_this();
        client->Pipeline(
            {{"HGET", store.keys().Execution(id), "status"}, {"GET", runner_keys.RetryRequest(id)}},
            [self, id](Result<std::vector<core::RedisReply>> r) {
                if (!r || r->size() != 2) return;
                const std::string status = (*r)[0].IsNil() ? "" : (*r)[0].str;
                auto drop = [self, id] {
                    self->client->Pipeline(
                        {{"ZREM", self->runner_keys.RetryDue(), id}, {"DEL", self->runner_keys.RetryRequest(id)}},
                        [](Result<std::vector<core::RedisReply>>) {}
                    );
                };
                if (!status.empty() && !core::status::IsCompleted(status)) {
                    // Still running (its runner has not stored the end yet): looked at again in a second.
                    const int64_t later = EpochMs(self->store.clock()) + 1000;
                    self->client->Command(
                        {"ZADD", self->runner_keys.RetryDue(), "XX", std::to_string(later), id},
                        [](Result<core::RedisReply>) {}
                    );
                    return;
                }
                Json body = (*r)[1].IsNil() ? Json() : Json::parse((*r)[1].str, nullptr, false);
                Result<core::ExecutionRequest> req =
                    body.is_object() ? core::ExecutionRequest::FromJson(body)
                                     : Result<core::ExecutionRequest>(NotFound("its request expired"));
                if (status.empty() || !req || !RetryWanted(*req, status)) {
                    if (!status.empty() && !req) {
                        Log(*self->log,
                            spdlog::level::err,
                            "cannot retry execution",
                            {{"execution_id", id}, {"error", req.error().message}});
                    }
                    return drop();
                }
                const std::string policy = Policy(*req, "retry")->value("policy", "");
                CreateRetry(
                    self->store,
                    *req,
                    policy,
                    RetryCount(*req) + 1,
                    [self, id, drop](Result<std::string> made) {
                        if (!made) {  // stays due: the next poll tries again
                            Log(*self->log,
                                spdlog::level::err,
                                "cannot retry execution",
                                {{"execution_id", id}, {"error", made.error().message}});
                            return;
                        }
                        Log(*self->log,
                            spdlog::level::info,
                            "execution retried by policy",
                            {{"execution_id", id}, {"retry", *made}});
                        drop();
                    }
                );
            }
        );
    }

    void ScheduleRetryPoll() {
        auto self = shared_from_this();
        retry_poll.expires_after(kRetryPollEvery);
        retry_poll.async_wait([self](const boost::system::error_code& ec) {
            if (ec) return;
            self->PollRetries();
            self->ScheduleRetryPoll();
        });
    }

    void PollRetriesAfter(std::chrono::milliseconds delay) {
        auto self = shared_from_this();
        auto timer = std::make_shared<asio::steady_timer>(io, delay + std::chrono::milliseconds(5));
        timer->async_wait([self, timer](const boost::system::error_code&) { self->PollRetries(); });
    }

    /// Lines that arrive together (one read of the pipe) are stored together: the first line of a burst posts a
    /// flush, which runs after the rest of the burst has queued.
    void QueueOutput(const std::string& id, std::string line) {
        bool first = false;
        {
            std::lock_guard lock(mu);
            auto& lines = pending_output[id];
            first = lines.empty();
            lines.push_back(std::move(line));
        }
        if (first) asio::post(io, [self = shared_from_this(), id] { self->FlushOutput(id); });
    }

    void FlushOutput(const std::string& id) {
        constexpr size_t kMaxLinesPerEntry = 1000;
        std::lock_guard flushing(flush_mu);
        std::vector<std::string> lines;
        {
            std::lock_guard lock(mu);
            auto it = pending_output.find(id);
            if (it == pending_output.end()) return;
            lines = std::move(it->second);
            pending_output.erase(it);
        }
        for (size_t i = 0; i < lines.size(); i += kMaxLinesPerEntry) {
            const size_t end = std::min(lines.size(), i + kMaxLinesPerEntry);
            store.AppendOutput(id, std::vector<std::string>(lines.begin() + i, lines.begin() + end));
        }
    }

    /// Control messages for this runner process (executions::Keys::Control): cancel an execution it runs.
    void HandleControl(std::vector<core::StreamMessage> batch, core::StreamConsumer::Done done) {
        std::vector<std::string> acks;
        for (const auto& msg : batch) {
            acks.push_back(msg.id);
            Json j = Json::parse(msg.body, nullptr, false);
            if (!j.is_object() || !j.contains("execution_id") || !j["execution_id"].is_string()) continue;
            const std::string id = j["execution_id"];
            if (j.value("kind", "") != "cancel") continue;
            Runner* runner = nullptr;
            {
                std::lock_guard lock(mu);
                auto it = active.find(id);
                if (it == active.end()) {
                    // Claimed here a moment ago (the claim's answer on its way, or lost and claimed again): it
                    // starts canceled. Otherwise it finished meanwhile, and its result stands.
                    if (claiming.count(id)) cancel_requested.insert(id);
                    continue;
                }
                cancel_requested.insert(id);
                runner = it->second;
            }
            Log(*log, spdlog::level::info, "canceling execution", {{"execution_id", id}});
            runner->Cancel(id);
        }
        done(std::move(acks));
    }

    /// Stores a final status, retrying while Redis is unreachable (a result is never dropped silently).
    void Complete(
        const std::string& id,
        core::ExecutionResult result,
        std::function<void(bool stored)> then,
        int attempt = 0,
        bool again = false
    ) {
        auto self = shared_from_this();
        const uint64_t since = client->ConnectionToken();
        executions::FieldMap fields = {{"result", result.result.dump(-1, ' ', false, Json::error_handler_t::replace)}};
        // `pending` (inquirer) is not an end: the inquiry's response completes the execution later.
        if (core::status::IsCompleted(result.status))
            fields.emplace_back("end_timestamp", core::FormatIsoTimestamp(store.clock().Now()));
        store.Transition(
            id,
            result.status,
            std::move(fields),
            [self, id, result, then = std::move(then), attempt, again, since](Result<executions::TransitionResult> r
            ) mutable {
                if (r) {
                    if (!r->applied && (again || attempt > 0) && r->previous == result.status) {
                        return then(true
                        );  // stored by an earlier attempt whose reply was lost, or replicated before a failover
                    }
                    if (r->applied) return self->ConfirmResult(id, std::move(result), std::move(then), attempt, since);
                    Log(*self->log,
                        spdlog::level::warn,
                        "result not stored: the status machine refused it",
                        {{"execution_id", id},
                         {"status", result.status},
                         {"error", executions::RefusedTransition(id, r->previous, result.status).message}});
                    return then(false);
                }
                // Given up only when stopping: dropped, the result would leave the execution `running` for good
                // (this runner beats on, so the gc role never abandons it).
                if (r.error().code == ErrorCode::kNotFound || (attempt >= 60 && self->stopping)) {
                    Log(*self->log,
                        spdlog::level::err,
                        "cannot store execution result",
                        {{"execution_id", id}, {"error", r.error().message}});
                    return then(false);
                }
                if (attempt % 60 == 0) {
                    Log(*self->log,
                        spdlog::level::warn,
                        "cannot store execution result yet; retrying every second",
                        {{"execution_id", id}, {"error", r.error().message}});
                }
                auto timer = std::make_shared<asio::steady_timer>(self->io, std::chrono::seconds(1));
                timer->async_wait([self,
                                   timer,
                                   id,
                                   result,
                                   then = std::move(then),
                                   attempt,
                                   again](const boost::system::error_code&) mutable {
                    self->Complete(id, std::move(result), std::move(then), attempt + 1, again);
                });
            }
        );
    }

    /// Behind Sentinel with an online replica, a stored result is forgotten only once a replica has it: otherwise
    /// a failover could leave the execution `running` with nobody left to end it. When the connection changed
    /// meanwhile, the result is stored again on the current master (found there already if it was replicated).
    void ConfirmResult(
        const std::string& id,
        core::ExecutionResult result,
        std::function<void(bool stored)> then,
        int attempt,
        uint64_t since
    ) {
        if (!client->endpoint().IsSentinel()) return then(true);  // nothing added without Sentinel
        auto self = shared_from_this();
        client->WaitForReplica(
            since,
            [self, id, result = std::move(result), then = std::move(then), attempt, since](Status replicated) mutable {
                if (replicated) return then(true);
                if (attempt + 1 >= kConfirmAttempts) {
                    Log(*self->log,
                        spdlog::level::err,
                        "no Redis replica confirmed the result",
                        {{"execution_id", id}, {"error", replicated.error().message}});
                    return then(true);
                }
                if (self->client->ConnectionToken() != since) {
                    Log(*self->log,
                        spdlog::level::warn,
                        "result not known to be replicated; storing it again on the current master",
                        {{"execution_id", id}, {"error", replicated.error().message}});
                    return self->After(
                        std::chrono::milliseconds(200),
                        [self, id, result = std::move(result), then = std::move(then), attempt]() mutable {
                            self->Complete(id, std::move(result), std::move(then), attempt + 1, true);
                        }
                    );
                }
                self->After(  // a slow replica: WAIT again, leaving the shared connection free for a moment
                    std::chrono::milliseconds(200),
                    [self, id, result = std::move(result), then = std::move(then), attempt, since]() mutable {
                        self->ConfirmResult(id, std::move(result), std::move(then), attempt + 1, since);
                    }
                );
            }
        );
    }
};

RunnerContainer::RunnerContainer(
    asio::io_context& io,
    core::RedisClientPtr client,
    const RunnerRegistry& registry,
    RunnerContainerOptions options,
    const core::Clock& clock
)
    : impl_(std::make_shared<Impl>(io, std::move(client), registry, std::move(options), clock)) {}

RunnerContainer::~RunnerContainer() {
    impl_->supervisor.KillAll();
}

void RunnerContainer::Start() {
    impl_->Beat();
    impl_->ScheduleRetryPoll();
    core::StreamConsumerOptions opts;
    opts.stream = impl_->store.keys().RequestStream(impl_->options.pool);
    opts.group = "runners";
    opts.consumer = impl_->options.consumer_name;
    opts.batch = 256;
    opts.dead_letters = core::Keys(impl_->client->endpoint().key_prefix).DeadLetters();
    opts.clock = &impl_->store.clock();
    std::weak_ptr<Impl> weak = impl_;
    impl_->consumer =
        core::StreamConsumer::Create(impl_->io, impl_->client, opts, core::ForwardBatchesTo(weak), [weak]() -> size_t {
            auto self = weak.lock();
            return self ? self->Capacity() : 0;
        });
    impl_->consumer->Start();

    core::StreamConsumerOptions control;
    control.stream = impl_->store.keys().Control(impl_->options.consumer_name);
    control.group = "runner";
    control.consumer = impl_->options.consumer_name;
    control.batch = 64;
    control.dead_letters = opts.dead_letters;
    impl_->control = core::StreamConsumer::Create(
        impl_->io,
        impl_->client,
        control,
        [weak](std::vector<core::StreamMessage> batch, core::StreamConsumer::Done done) {
            if (auto self = weak.lock()) return self->HandleControl(std::move(batch), std::move(done));
            done({});
        }
    );
    impl_->control->Start();
}

void RunnerContainer::Stop(std::chrono::milliseconds grace, std::function<void()> on_stopped) {
    auto impl = impl_;
    impl->stopping = true;  // before the consumer stops: it waits for its batch, which a claim retrying would hold
    auto after_consumer = [impl, grace, on_stopped = std::move(on_stopped)]() mutable {
        impl->stopping_retries = true;
        impl->retry_poll.cancel();
        // The heartbeat goes on while executions finish in their grace: stopped at once, the gc role (this
        // process's own, or another's) took this runner for dead 15 s later and abandoned them, so a run that ended
        // within the grace lost its result and a retry policy ran it a second time (found by a tester).
        // The grace timer ends with the last run (held for the whole grace, it kept the io_context busy).
        auto grace_timer = std::make_shared<asio::steady_timer>(asio::make_strand(impl->io), grace);
        auto ended = std::make_shared<std::atomic<bool>>(false);
        auto stopped = [impl, grace_timer, ended, on_stopped = std::move(on_stopped)]() {
            impl->heartbeat_stopped = true;
            asio::post(impl->heartbeat.get_executor(), [impl] { impl->heartbeat.cancel(); });
            *ended = true;
            asio::post(grace_timer->get_executor(), [grace_timer] { grace_timer->cancel(); });
            if (on_stopped) on_stopped();
        };
        bool idle = false;
        {
            std::lock_guard lock(impl->mu);
            impl->shutting_down = true;
            idle = impl->running == 0;  // decided once: RunEnded calls on_idle when it is set, never both
            if (!idle) impl->on_idle = stopped;
        }
        if (idle) {
            stopped();
            return;
        }
        asio::post(grace_timer->get_executor(), [impl, grace_timer, ended] {
            if (*ended) return;  // the last run ended first; its cancel was (or is about to be) a no-op
            grace_timer->async_wait([impl, grace_timer](const boost::system::error_code& ec) {
                if (ec) return;  // every run ended within the grace
                std::vector<std::pair<std::string, Runner*>> victims;
                {
                    std::lock_guard lock(impl->mu);
                    victims.assign(impl->active.begin(), impl->active.end());
                }
                for (auto& [id, runner] : victims) runner->Cancel(id);
            });
        });
    };
    // The control consumer stops first, and is waited for, like the request consumer: a consumer still reading
    // when the io_context stops would keep its connection (and itself) alive past the end.
    auto stop_requests = [impl, after_consumer = std::move(after_consumer)]() mutable {
        if (impl->consumer) {
            impl->consumer->Stop(std::move(after_consumer));
        } else {
            after_consumer();
        }
    };
    if (impl_->control) {
        impl_->control->Stop(std::move(stop_requests));
    } else {
        stop_requests();
    }
}

void RunnerContainer::Cancel(const std::string& execution_id) {
    Runner* runner = nullptr;
    {
        std::lock_guard lock(impl_->mu);
        auto it = impl_->active.find(execution_id);
        if (it == impl_->active.end()) return;
        runner = it->second;
    }
    runner->Cancel(execution_id);
}

size_t RunnerContainer::Running() const {
    return impl_->running.load();
}

}  // namespace squall::actionrunners
