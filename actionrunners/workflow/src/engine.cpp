// The `workflow` role (engine.hpp, docs/workflows.md): the conductor's state in Redis, advanced by the execution
// event stream, every step one versioned script that also acknowledges the event that caused it.
#include "squall/workflows/engine.hpp"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <boost/asio/thread_pool.hpp>

#include "squall/core/clock.hpp"
#include "squall/core/log.hpp"
#include "squall/core/mask.hpp"
#include "squall/core/redis/stream.hpp"
#include "squall/core/store/store.hpp"
#include "squall/executions/events.hpp"
#include "squall/executions/policies.hpp"
#include "squall/workflows/chain.hpp"
#include "squall/workflows/conductor.hpp"

namespace squall::workflows {
namespace {

const char* kGroup = "workflow";

// KEYS: 1 workflow hash, 2 active set. ARGV: 1 id, then field/value pairs. Creates the workflow once: 0 when it
// exists already (a redelivered request).
const char* kInit = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1
)lua";

// KEYS: 1 workflow hash, 2 event stream. ARGV: 1 version read, 2 new state, 3 group, 4 event id ('' for none).
// The step is stored only over the state it was computed from (optimistic concurrency between roles), and the event
// that caused it is acknowledged in the same script: a step happens once. -1: the workflow is gone; 0: it moved.
const char* kCommit = R"lua(
local v = redis.call('HGET', KEYS[1], 'ver')
if not v then
  if ARGV[4] ~= '' then redis.call('XACK', KEYS[2], ARGV[3], ARGV[4]) end
  return -1
end
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'ver', tostring(tonumber(v) + 1))
if ARGV[4] ~= '' then redis.call('XACK', KEYS[2], ARGV[3], ARGV[4]) end
return 1
)lua";

// KEYS: 1 workflow hash. ARGV: 1 field (due:<task>:<item>:<attempt>), 2 due time (ms since the epoch). The first
// due time stored for a delayed launch wins, so a role that takes over waits for the same moment; nil when the
// workflow is gone.
const char* kDue = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HGET', KEYS[1], ARGV[1])
)lua";

const core::Script& DueScript() {
    static const core::Script kScript(kDue);
    return kScript;
}

const core::Script& InitScript() {
    static const core::Script kScript(kInit);
    return kScript;
}
const core::Script& CommitScript() {
    static const core::Script kScript(kCommit);
    return kScript;
}

/// A parsed definition: an Orquesta workflow or an action-chain (field `kind` of the workflow hash).
struct Definition {
    std::shared_ptr<const WorkflowSpec> workflow;
    std::shared_ptr<const ChainSpec> chain;
};

const char* kChainKind = "chain";

Json ParseOr(const core::RedisReply& r, Json fallback) {
    if (r.IsNil() || r.str.empty()) return fallback;
    Json j = Json::parse(r.str, nullptr, false);
    return j.is_discarded() ? fallback : j;
}

/// The workflow's secrets, kept with its state under "masked": datastore values `st2kv(..., decrypt=true)` gave and
/// the workflow's secret inputs. Its task executions get them to mask (ExecutionSpec::masked_values), and its result
/// is masked with them (docs/workflows.md "Secrets").
std::vector<std::string> MaskedOf(const Json& state) {
    std::vector<std::string> out;
    auto it = state.find("masked");
    if (it == state.end() || !it->is_array()) return out;
    for (const auto& v : *it) {
        if (v.is_string() && !v.get_ref<const std::string&>().empty()) out.push_back(v);
    }
    return out;
}

/// Adds `values` to the state's secrets (once each).
void NoteMasked(Json& state, const std::vector<std::string>& values) {
    for (const auto& v : values) {
        if (v.empty()) continue;
        Json& list = state["masked"];
        if (!list.is_array()) list = Json::array();
        if (std::find(list.begin(), list.end(), Json(v)) == list.end()) list.push_back(v);
    }
}

/// What the datastore lookup decrypted while a step ran.
std::vector<std::string> RevealedBy(const std::optional<core::KvLookup>& kv) {
    return kv ? kv->Revealed() : std::vector<std::string>{};
}

/// The values of a request's secret parameters and the values it was told to mask.
std::vector<std::string> SecretsOf(const core::ExecutionRequest& req) {
    std::vector<std::string> out = req.masked_values;
    for (const auto& name : req.secret_parameters) {
        auto it = req.parameters.find(name);
        if (it == req.parameters.end() || it->is_null()) continue;
        out.push_back(it->is_string() ? it->get<std::string>() : it->dump());
    }
    return out;
}

}  // namespace

struct WorkflowEngine::Impl : std::enable_shared_from_this<Impl> {
    asio::io_context& io;
    core::RedisClientPtr redis;
    executions::ExecutionService& service;
    executions::ExecutionStore& store;
    WorkflowEngineOptions options;
    asio::thread_pool workers;
    core::StreamConsumerPtr requests;
    core::StreamConsumerPtr events;
    asio::steady_timer recovery_timer;
    std::shared_ptr<spdlog::logger> log = core::Logger("workflow");
    std::atomic<bool> stopped{false};
    std::mutex mu;
    std::map<std::string, Definition> specs;           // by workflow execution id (bounded)
    std::map<std::string, std::string> seen_versions;  // recovery: workflows whose state stalled
    std::set<std::string> timers;  // delayed launches this process waits for (recovery does not add a second timer)

    Impl(asio::io_context& io_, core::RedisClientPtr r, executions::ExecutionService& s, WorkflowEngineOptions o)
        : io(io_),
          redis(std::move(r)),
          service(s),
          store(s.store()),
          options(std::move(o)),
          workers(options.threads),
          recovery_timer(io_) {}

    std::string Key(const std::string& wf) const { return store.keys().tagged_prefix() + "wf:" + wf; }
    std::string ActiveKey() const { return store.keys().tagged_prefix() + "workflows:active"; }

    void Warn(const std::string& what, const std::string& wf, const std::string& error) {
        core::Log(*log, spdlog::level::warn, what, {{"execution_id", wf}, {"error", error}});
    }

    // ---- specs -------------------------------------------------------------------------------------------------
    std::optional<Definition> SpecFor(
        const std::string& wf, const std::string& kind, const std::string& def, const std::string& file
    ) {
        {
            std::lock_guard lock(mu);
            auto it = specs.find(wf);
            if (it != specs.end()) return it->second;
        }
        Definition d;
        if (kind == kChainKind) {
            auto parsed = ParseChain(def, file);
            if (!parsed) return std::nullopt;
            d.chain = std::make_shared<const ChainSpec>(std::move(*parsed));
        } else {
            auto parsed = ParseWorkflow(def, file);
            if (!parsed) return std::nullopt;
            d.workflow = std::make_shared<const WorkflowSpec>(std::move(*parsed));
        }
        std::lock_guard lock(mu);
        if (specs.size() > 512) specs.clear();
        specs[wf] = d;
        return d;
    }

    /// The state machine of a loaded workflow over `state` (which it changes in place).
    static std::unique_ptr<Machine> MachineFor(const Definition& d, Json& state, const ConductorHost& host) {
        if (d.chain) return std::make_unique<ChainConductor>(*d.chain, state, host);
        return std::make_unique<Conductor>(*d.workflow, state, host);
    }

    ConductorHost HostFor(const Json& st2, const core::KeyValueLookup* kv) {
        ConductorHost host;
        host.results = [this](const std::vector<std::string>& ids) { return Results(ids); };
        host.kv = kv;
        host.st2 = st2;
        host.now = [this] { return core::FormatIsoTimestamp(store.clock().Now()); };
        if (options.content) {
            host.config = [this, pack = st2.value("pack", ""), kv]() -> Json {
                Result<packs::ContentSnapshotPtr> snap = options.content->GetBlocking();
                if (!snap) return Json::object();
                core::RenderOptions render;
                render.kv = kv;
                Result<Json> config = (*snap)->ConfigContext(pack, render);
                return config ? *config : Json::object();
            };
        }
        return host;
    }

    // ---- results of task executions ------------------------------------------------------------------------------
    std::vector<Json> Results(const std::vector<std::string>& ids) {
        std::vector<core::RedisClient::Args> cmds;
        std::vector<size_t> where;
        std::vector<Json> out(ids.size());
        for (size_t i = 0; i < ids.size(); ++i) {
            if (ids[i].empty()) continue;
            cmds.push_back({"HGET", store.keys().Execution(ids[i]), "result"});
            where.push_back(i);
        }
        if (cmds.empty()) return out;
        auto replies = redis->PipelineBlocking(std::move(cmds));
        if (!replies) return out;
        for (size_t k = 0; k < where.size() && k < replies->size(); ++k) out[where[k]] = ParseOr((*replies)[k], Json());
        return out;
    }

    // ---- one step ----------------------------------------------------------------------------------------------
    struct Loaded {
        Definition spec;
        Json state;
        std::string version;
        Json st2;
        std::string user;
    };

    /// The workflow's stored state; nothing when it is gone (or its definition no longer parses) and, with
    /// `unreachable` set, when Redis did not answer.
    std::optional<Loaded> Load(const std::string& wf, bool* unreachable = nullptr) {
        auto h = redis->CommandBlocking({"HMGET", Key(wf), "state", "ver", "def", "file", "st2", "user", "kind"});
        if (!h && unreachable) *unreachable = true;
        if (!h || h->elements.size() < 7 || h->elements[0].IsNil()) return std::nullopt;
        Loaded l;
        auto spec = SpecFor(wf, h->elements[6].str, h->elements[2].str, h->elements[3].str);
        if (!spec) return std::nullopt;
        l.spec = std::move(*spec);
        l.state = ParseOr(h->elements[0], Json::object());
        l.version = h->elements[1].str;
        l.st2 = ParseOr(h->elements[4], Json::object());
        l.user = h->elements[5].str;
        return l;
    }

    /// Applies `fn` to the stored state and stores the result over the version it read, acknowledging `event_id`
    /// in the same script; retries on a concurrent step. Then creates the launches and finishes the workflow.
    /// False when the step could not be read or stored (Redis did not answer): the event that caused it stays
    /// pending, and is delivered again.
    bool Step(
        const std::string& wf, const std::string& event_id, const std::function<void(Machine&, StepOutput&)>& fn
    ) {
        for (int attempt = 0; attempt < 100; ++attempt) {
            bool unreachable = false;
            auto loaded = Load(wf, &unreachable);
            if (!loaded) {
                if (unreachable) {
                    Warn("cannot read a workflow's state; the event stays pending", wf, "");
                    return false;
                }
                if (!event_id.empty())
                    (void)redis->CommandBlocking({"XACK", store.keys().WorkflowEvents(), kGroup, event_id});
                return true;
            }
            const std::string before = loaded->state.dump();
            std::optional<core::KvLookup> kv;
            if (options.kv) kv.emplace(options.kv->LookupFor(loaded->user));
            const ConductorHost host = HostFor(loaded->st2, kv ? &*kv : nullptr);
            auto machine = MachineFor(loaded->spec, loaded->state, host);
            StepOutput out;
            fn(*machine, out);
            NoteMasked(loaded->state, RevealedBy(kv));
            const std::vector<std::string> masked = MaskedOf(loaded->state);
            const std::string after = loaded->state.dump(-1, ' ', false, Json::error_handler_t::replace);
            if (after == before) {
                if (!event_id.empty())
                    (void)redis->CommandBlocking({"XACK", store.keys().WorkflowEvents(), kGroup, event_id});
                Act(wf, loaded->user, out, masked);
                return true;
            }
            auto r = CommitScript().RunBlocking(
                *redis, {Key(wf), store.keys().WorkflowEvents()}, {loaded->version, after, kGroup, event_id}
            );
            if (!r) {
                Warn("cannot store a workflow step; the event stays pending", wf, r.error().message);
                return false;
            }
            if (r->integer == 1) {
                Act(wf, loaded->user, out, masked);
                return true;
            }
            if (r->integer == -1) return true;  // the workflow is gone; the script acknowledged the event
        }
        Warn("a workflow step kept conflicting; the event stays pending", wf, "");
        return false;
    }

    /// Creates the task executions a step asked for and ends the workflow when it finished.
    void Act(
        const std::string& wf, const std::string& user, const StepOutput& out, const std::vector<std::string>& masked
    ) {
        if (out.pausing) Signal(wf, "pausing", {"running"});
        if (out.resumed) {
            // A resume asked for arrives in `resuming`; one the workflow does by itself (an inquiry it waited on was
            // answered) walks the status machine from where it is: pausing → paused → resuming → running.
            Signal(wf, "paused", {"pausing"});
            Signal(wf, "resuming", {"paused"});
            Signal(wf, "running", {"resuming"});
        }
        for (const auto& l : out.launches) {
            if (l.delay > 0) {
                Delay(wf, user, l, masked);
                continue;
            }
            Launch(wf, user, l, masked);
        }
        if (out.paused) Signal(wf, "paused", {"pausing"});
        if (out.finished) Finish(wf, out.status, out.result, masked);
    }

    /// A launch with a `delay`: its due time is stored with the workflow the first time it is scheduled, so the role
    /// that recovers the workflow after a crash (recovery re-issues running tasks' launches) launches it when it is
    /// due — at once if that has passed — rather than at once or a whole delay later.
    void Delay(
        const std::string& wf, const std::string& user, const Launch& l, const std::vector<std::string>& masked
    ) {
        const std::string field = "due:" + l.task_id + ":" + std::to_string(l.item) + ":" + std::to_string(l.attempt);
        {
            std::lock_guard lock(mu);
            if (!timers.insert(wf + "|" + field).second) return;  // this process waits for it already
        }
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(store.clock().Now().time_since_epoch());
        const int64_t wanted = now.count() + static_cast<int64_t>(l.delay * 1000);
        auto due = DueScript().RunBlocking(*redis, {Key(wf)}, {field, std::to_string(wanted)});
        if (!due || due->IsNil()) {
            std::lock_guard lock(mu);
            timers.erase(wf + "|" + field);
            if (!due) Warn("cannot store a delayed launch's due time; recovery retries it", wf, due.error().message);
            return;
        }
        const int64_t wait = std::max<int64_t>(0, std::atoll(due->str.c_str()) - now.count());
        auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(wait));
        timer->async_wait(
            [self = shared_from_this(), timer, wf, user, l, field, masked](const boost::system::error_code& ec) {
                {
                    std::lock_guard lock(self->mu);
                    self->timers.erase(wf + "|" + field);
                }
                if (ec || self->stopped) return;
                asio::post(self->workers, [self, wf, user, l, masked] {
                    if (self->DelayedLaunchWanted(wf, l)) self->Launch(wf, user, l, masked);
                });
            }
        );
    }

    /// Whether a delayed launch that is due still runs: its task still waits for it and the workflow is not being
    /// canceled. Canceled meanwhile, the task ends `canceled` instead (nothing new starts after a cancel, as
    /// StackStorm cancels a workflow's delayed children); ended meanwhile, nothing happens. True when Redis does not
    /// answer (the launch is idempotent, and recovery re-issues it anyway).
    bool DelayedLaunchWanted(const std::string& wf, const workflows::Launch& l) {
        bool unreachable = false;
        auto loaded = Load(wf, &unreachable);
        if (!loaded) return unreachable;
        const std::string status = loaded->state.value("status", "");
        const ConductorHost host = HostFor(loaded->st2, nullptr);
        auto machine = MachineFor(loaded->spec, loaded->state, host);
        bool waiting = false;
        for (const auto& r : machine->Running()) {
            if (r.task_id == l.task_id && r.item == l.item && r.attempt == l.attempt) waiting = true;
        }
        if (!waiting) return false;
        if (status != "canceling" && status != "canceled") return true;
        Step(wf, "", [&](Machine& c, StepOutput& out) {
            c.TaskEnded(l.task_id, l.item, l.attempt, "", "canceled", Json::object(), out);
        });
        return false;
    }

    /// The delayed launches of `wf` whose task execution does not exist yet (`due:<task>:<item>:<attempt>` fields,
    /// Delay): a cancel ends them at once rather than when they fall due.
    std::vector<workflows::Launch> UnlaunchedDelays(const std::string& wf) {
        std::vector<workflows::Launch> out;
        auto keys = redis->CommandBlocking({"HKEYS", Key(wf)});
        if (!keys) return out;
        std::vector<core::RedisClient::Args> cmds;
        for (const auto& k : keys->elements) {
            if (k.str.rfind("due:", 0) != 0) continue;
            const std::string rest = k.str.substr(4);
            const size_t b = rest.rfind(':');
            const size_t a = b == std::string::npos || b == 0 ? std::string::npos : rest.rfind(':', b - 1);
            if (a == std::string::npos) continue;
            workflows::Launch l;
            l.task_id = rest.substr(0, a);
            l.item = std::atoi(rest.substr(a + 1, b - a - 1).c_str());
            l.attempt = std::atoi(rest.substr(b + 1).c_str());
            const std::string key =
                "wf:" + wf + ":" + l.task_id + ":" + std::to_string(l.item) + ":" + std::to_string(l.attempt);
            cmds.push_back({"EXISTS", store.keys().Execution(executions::KeyedExecutionId(key, wf))});
            out.push_back(std::move(l));
        }
        if (cmds.empty()) return out;
        auto exists = redis->PipelineBlocking(std::move(cmds));
        if (!exists || exists->size() != out.size()) return {};
        std::vector<workflows::Launch> unlaunched;
        for (size_t i = 0; i < out.size(); ++i) {
            if ((*exists)[i].integer == 0) unlaunched.push_back(std::move(out[i]));
        }
        return unlaunched;
    }

    /// Moves the workflow execution along a pause or resume (idempotent: only from the given statuses).
    void Signal(const std::string& wf, const std::string& to, const std::vector<std::string>& from) {
        auto moved = store.TransitionBlocking(wf, to, {}, from);
        if (!moved) Warn("cannot store the workflow's " + to + " status", wf, moved.error().message);
    }

    void Launch(
        const std::string& wf, const std::string& user, const Launch& l, const std::vector<std::string>& masked
    ) {
        executions::ExecutionSpec spec;
        spec.masked_values = masked;
        spec.action_ref = l.action;
        spec.parameters = l.input.is_object() ? l.input : Json::object();
        spec.user = user.empty() ? "squall" : user;
        spec.parent = wf;
        Json task = {
            {"task_name", l.task_name},
            {"task_id", l.task_id},
            {"item_id", l.item},
            {"attempt", l.attempt},
            {"workflow_execution_id", wf}};
        if (l.kind == kChainKind) {
            // StackStorm's chain tasks carry context.chain with the task's name and action.
            task["name"] = l.task_name;
            task["ref"] = l.action;
        }
        spec.context = {{l.kind, std::move(task)}};
        spec.idempotency_key =
            "wf:" + wf + ":" + l.task_id + ":" + std::to_string(l.item) + ":" + std::to_string(l.attempt);
        spec.id_time_of = wf;
        Result<std::string> id = service.RequestBlocking(spec);
        if (id) return;
        const Error& e = id.error();
        // Redis away, slow, or its client's queue full (kResourceExhausted): the task is not refused, only not
        // created yet.
        if (e.code == ErrorCode::kUnavailable || e.code == ErrorCode::kTimeout || e.code == ErrorCode::kInternal ||
            e.code == ErrorCode::kResourceExhausted) {
            Warn("cannot create a task execution; recovery retries it", wf, e.message);
            return;
        }
        // Refused (unknown action, bad parameters): the task fails with the reason, as Orquesta's would.
        Json result = {{"error", e.message}};
        if (l.kind == kChainKind) result["code"] = ErrorCodeName(e.code);  // a chain tells "no such action" apart
        Step(wf, "", [&](Machine& c, StepOutput& out) {
            c.TaskEnded(l.task_id, l.item, l.attempt, "", "failed", result, out);
        });
    }

    /// False when the end could not be stored (Redis did not answer): a workflow being recovered is recovered again,
    /// a request that failed before its workflow was stored stays pending.
    bool Finish(
        const std::string& wf, const std::string& status, const Json& given, const std::vector<std::string>& masked = {}
    ) {
        Json result = given;
        if (!masked.empty()) core::SecretMasker(masked).Value(result);
        bool retry_due = false;
        if (status == core::status::kFailed || status == core::status::kTimeout) {
            // StackStorm's action.retry on a workflow: the request kept at the claim says whether the policy takes
            // this end; the retry is made due before the end is stored, and the runners' poll creates it
            // (docs/delivery.md "Policies", as for an action).
            auto kept = redis->CommandBlocking({"GET", store.keys().RetryRequest(wf)});
            if (kept && !kept->IsNil() && !kept->IsError()) {
                Json body = Json::parse(kept->str, nullptr, false);
                auto req = body.is_object() ? core::ExecutionRequest::FromJson(body)
                                            : Result<core::ExecutionRequest>(InvalidArgument("not JSON"));
                if (req && executions::RetryWanted(*req, status)) {
                    const auto now =
                        std::chrono::duration_cast<std::chrono::milliseconds>(store.clock().Now().time_since_epoch());
                    const auto due = now + executions::RetryDelay(*req);
                    auto added =
                        redis->CommandBlocking({"ZADD", store.keys().RetryDue(), std::to_string(due.count()), wf});
                    if (!added || added->IsError()) {
                        Warn("cannot make the workflow's retry due; recovery retries its end", wf, "");
                        return false;
                    }
                    retry_due = true;
                }
            }
        }
        const executions::FieldMap end = {
            {"result", result.dump(-1, ' ', false, Json::error_handler_t::replace)},
            {"end_timestamp", core::FormatIsoTimestamp(store.clock().Now())}};
        const std::vector<std::string> from = {"running", "canceling", "pausing", "resuming", "scheduled"};
        auto moved = store.TransitionBlocking(wf, status, end, from);
        if (moved && !moved->applied && moved->previous == "paused") {
            // Paused still, though the workflow went on to its end: the resume before it was not stored (its status
            // changes lost with Redis). It walks there first, as the resume would have; `paused` has no edge to an
            // end, and the workflow stayed paused for good.
            Signal(wf, "resuming", {"paused"});
            Signal(wf, "running", {"resuming"});
            moved = store.TransitionBlocking(wf, status, end, from);
        }
        if (!moved) {
            Warn("cannot store the workflow's end; recovery retries it", wf, moved.error().message);
            return false;
        }
        if (!moved->applied && !core::status::IsCompleted(moved->previous)) {
            // Kept active: recovery tries again (before, the workflow left the active set, never to end).
            Warn("the workflow's end was refused in status " + moved->previous + "; recovery retries it", wf, "");
            return false;
        }
        // A request kept for a retry policy goes now unless a retry is due (the retry poll drops it then).
        std::vector<std::vector<std::string>> after = {{"SREM", ActiveKey(), wf}, {"EXPIRE", Key(wf), "604800"}};
        if (!retry_due) after.push_back({"DEL", store.keys().RetryRequest(wf)});
        (void)redis->PipelineBlocking(after);
        std::lock_guard lock(mu);
        specs.erase(wf);
        seen_versions.erase(wf);
        return true;
    }

    // ---- starting a workflow -------------------------------------------------------------------------------------
    /// False when Redis did not answer before the workflow was stored (or its failure was): the request stays
    /// pending, and is delivered again (the claim finds the execution `running` and the start goes on).
    bool StartWorkflow(const core::ExecutionRequest& req, const std::string& body) {
        const std::string wf = req.execution_id;
        executions::FieldMap claim;
        // StackStorm's policies on a workflow action, as a runner applies them to an action (docs/delivery.md
        // "Policies"): under a concurrency policy the claim may be delayed (the script keeps the request to queue it
        // again when a place frees up) or canceled; a retry policy needs the request kept for the retry.
        if (executions::RequestPolicy(req, "concurrency") != nullptr) claim.emplace_back("_request", body);
        if (executions::RequestPolicy(req, "retry") != nullptr) {
            auto kept = redis->CommandBlocking({"SET", store.keys().RetryRequest(wf), body, "EX", "604800"});
            if (!kept) {
                Warn("cannot keep a workflow's request for its retry policy", wf, kept.error().message);
                return false;
            }
        }
        auto claimed = store.TransitionBlocking(wf, "running", claim, {"scheduled"});
        if (!claimed) {
            if (claimed.error().code == ErrorCode::kNotFound) return true;  // nothing to run, ever
            Warn("cannot claim a workflow execution; its request stays pending", wf, claimed.error().message);
            return false;
        }
        if (!claimed->applied && claimed->previous == "canceling") {
            // Claimed by an earlier delivery that could not store the workflow, then canceled: its cancel event
            // found no workflow to cancel. Ended here, or it stayed canceling for good.
            auto stored = redis->CommandBlocking({"EXISTS", Key(wf)});
            if (!stored) return false;
            if (stored->integer == 1) return true;  // the workflow's own cancel ends it
            auto ended = store.TransitionBlocking(
                wf,
                "canceled",
                {{"result", Json{{"error", "canceled before the workflow started"}}.dump()},
                 {"end_timestamp", core::FormatIsoTimestamp(store.clock().Now())}},
                {"canceling"}
            );
            return static_cast<bool>(ended);
        }
        if (!claimed->applied && claimed->previous != "running") return true;  // canceled before it started
        const Json re_run = req.context.value("re_run", Json::object());
        if (re_run.is_object() && re_run.value("tasks", Json::array()).is_array() &&
            !re_run.value("tasks", Json::array()).empty())
            return RerunWorkflow(req, re_run);
        const std::string pack_path = req.action.value("pack_path", "");
        const std::string entry = req.action.value("entry_point", "");
        const std::string file = pack_path + "/actions/" + entry;
        // What a run's errors call the file: its place in its pack, not the server's path.
        const std::string pack = req.action.value("pack", "");
        const std::string shown = (pack.empty() ? "" : pack + "/") + "actions/" + entry;
        auto fail = [&](Json errors) { return Finish(wf, "failed", {{"errors", std::move(errors)}}); };
        std::ifstream in(file, std::ios::binary);
        if (entry.empty() || !in) {
            return fail(Json::array(
                {{{"type", "error"},
                  {"message",
                   "the workflow " + (entry.empty() ? std::string("entry_point") : shown) + " of action \"" +
                       req.action_ref + "\" cannot be read"}}}
            ));
        }
        std::stringstream text;
        text << in.rdbuf();
        const std::string user = req.context.value("user", "squall");
        const bool chain = req.runner_type == "action-chain";
        Definition def;
        Json input = Json::object();
        Json st2;
        if (chain) {
            // StackStorm's runner fails before running anything when the chain does not load: result.error.
            auto spec = ParseChain(text.str(), file);
            if (!spec) return Finish(wf, "failed", {{"error", spec.error().message}, {"tasks", Json::array()}});
            def.chain = std::make_shared<const ChainSpec>(std::move(*spec));
            input = req.parameters;
            // action_context.parent of the chain's templates: the chain's context and its execution id.
            st2 = req.context.is_object() ? req.context : Json::object();
            st2["execution_id"] = wf;
        } else {
            auto spec = ParseWorkflow(text.str(), shown);
            if (!spec) return fail(Json::array({{{"type", "syntax"}, {"message", spec.error().message}}}));
            // Every problem, as StackStorm's workflow service reports them before anything runs: Orquesta's
            // inspection, then its own content checks (actions registered, their inputs), sorted by type.
            std::vector<Problem> problems = Inspect(*spec);
            if (options.content) {
                Result<packs::ContentSnapshotPtr> snap = options.content->GetBlocking();
                if (!snap) {
                    Warn(
                        "cannot read the registered actions; the workflow request stays pending",
                        wf,
                        snap.error().message
                    );
                    return false;
                }
                bool missing = false;
                const auto contents = [&](const packs::ContentSnapshot& content) {
                    missing = false;
                    return InspectTaskContents(*spec, [&](const std::string& ref) -> std::optional<Json> {
                        if (!content.actions.count(ref)) {
                            missing = true;
                            return std::nullopt;
                        }
                        Result<Json> schema = content.ActionSchema(ref);
                        return schema ? *schema : Json();
                    });
                };
                std::vector<Problem> found = contents(**snap);
                if (missing) {  // an action registered a moment ago by another process is not missing
                    snap = options.content->RecheckBlocking();
                    if (snap) found = contents(**snap);
                }
                problems.insert(problems.end(), found.begin(), found.end());
            }
            if (!problems.empty()) {
                std::stable_sort(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) {
                    return a.type < b.type;
                });
                Json errors = Json::array();
                for (const Problem& p : problems) errors.push_back(p.ToResultError());
                return fail(std::move(errors));
            }
            // StackStorm's runner parameter `notify` lists the tasks whose executions notify: a name the workflow
            // does not have fails the run before anything starts, as its workflow service refuses it.
            if (req.parameters.contains("notify") && req.parameters["notify"].is_array()) {
                std::set<std::string> missing;
                for (const auto& n : req.parameters["notify"]) {
                    if (n.is_string() && !spec->Find(n.get<std::string>())) missing.insert(n.get<std::string>());
                }
                if (!missing.empty()) {
                    std::string names;
                    for (const auto& n : missing) names += (names.empty() ? "" : ", ") + n;
                    return fail(Json::array(
                        {{{"type", "error"},
                          {"message",
                           "The following tasks in the notify parameter do not exist in the workflow definition: " +
                               names + "."}}}
                    ));
                }
            }
            for (const auto& [name, d] : spec->input) {
                if (req.parameters.contains(name)) input[name] = req.parameters[name];
            }
            def.workflow = std::make_shared<const WorkflowSpec>(std::move(*spec));
            st2 = {
                {"action_execution_id", wf},
                {"workflow_execution_id", wf},
                {"api_url", options.api_url},
                {"user", user},
                {"pack", req.context.value("pack", "")}};
        }
        std::optional<core::KvLookup> kv;
        if (options.kv) {
            (void)options.kv->RefreshBlocking();
            kv.emplace(options.kv->LookupFor(user));
        }
        const ConductorHost host = HostFor(st2, kv ? &*kv : nullptr);
        Json state = Json::object();
        auto machine = MachineFor(def, state, host);
        StepOutput out;
        machine->Start(input, out);
        NoteMasked(state, SecretsOf(req));
        NoteMasked(state, RevealedBy(kv));
        return Store(wf, text.str(), file, state, st2, user, chain ? kChainKind : "orquesta", out);
    }

    /// Stores a new workflow (once: a redelivered request finds it and recovers it instead) and acts on its first
    /// step. False when Redis did not answer: the request stays pending.
    bool Store(
        const std::string& wf,
        const std::string& text,
        const std::string& file,
        const Json& state,
        const Json& st2,
        const std::string& user,
        const std::string& kind,
        const StepOutput& out
    ) {
        auto r = InitScript().RunBlocking(
            *redis,
            {Key(wf), ActiveKey()},
            {wf,
             "def",
             text,
             "file",
             file,
             "state",
             state.dump(-1, ' ', false, Json::error_handler_t::replace),
             "ver",
             "1",
             "st2",
             st2.dump(),
             "user",
             user,
             "kind",
             kind}
        );
        if (!r) {
            Warn("cannot store a new workflow; its request stays pending", wf, r.error().message);
            return false;
        }
        if (r->integer == 0) {
            Recover(wf);  // stored by an earlier delivery: finish what it started
            return true;
        }
        Act(wf, user, out, MaskedOf(state));
        return true;
    }

    /// Re-run from tasks (StackStorm's `re-run --tasks`): the new execution continues the original workflow's stored
    /// state (its definition as it ran) from the chosen tasks; the tasks that are not re-run keep their results.
    bool RerunWorkflow(const core::ExecutionRequest& req, const Json& re_run) {
        const std::string wf = req.execution_id;
        const std::string ref = re_run.value("ref", "");
        auto fail = [&](const std::string& message) {
            return Finish(wf, "failed", {{"errors", Json::array({{{"type", "error"}, {"message", message}}})}});
        };
        auto h = redis->CommandBlocking({"HMGET", Key(ref), "def", "file", "state", "kind"});
        if (!h) {
            Warn("cannot read the workflow to re-run; its request stays pending", wf, h.error().message);
            return false;
        }
        if (h->elements.size() < 4 || h->elements[0].IsNil()) {
            return fail(
                "execution \"" + ref +
                "\" cannot be re-run from tasks: its workflow state is gone (it is kept 7 days after the workflow ends)"
            );
        }
        if (h->elements[3].str == kChainKind) return fail("an action-chain cannot be re-run from tasks");
        const std::string text = h->elements[0].str;
        const std::string file = h->elements[1].str;
        auto spec = ParseWorkflow(text, file);
        if (!spec) return fail(spec.error().message);
        Json state = ParseOr(h->elements[2], Json::object());
        const std::string user = req.context.value("user", "squall");
        const Json st2 = {
            {"action_execution_id", wf},
            {"workflow_execution_id", wf},
            {"api_url", options.api_url},
            {"user", user},
            {"pack", req.context.value("pack", "")}};
        std::optional<core::KvLookup> kv;
        if (options.kv) {
            (void)options.kv->RefreshBlocking();
            kv.emplace(options.kv->LookupFor(user));
        }
        const ConductorHost host = HostFor(st2, kv ? &*kv : nullptr);
        Conductor conductor(*spec, state, host);
        std::vector<std::string> tasks;
        std::vector<std::string> reset;
        for (const auto& t : re_run.value("tasks", Json::array())) {
            if (t.is_string()) tasks.push_back(t);
        }
        for (const auto& t : re_run.value("reset", Json::array())) {
            if (t.is_string()) reset.push_back(t);
        }
        StepOutput out;
        if (Status st = conductor.Rerun(tasks, reset, out); !st) return fail(st.error().message);
        NoteMasked(state, SecretsOf(req));
        NoteMasked(state, RevealedBy(kv));
        return Store(wf, text, file, state, st2, user, "orquesta", out);
    }

    // ---- recovery ----------------------------------------------------------------------------------------------
    /// Re-issues the launches of a workflow's running tasks (idempotent) and stores its end if it has one.
    void Recover(const std::string& wf) {
        auto loaded = Load(wf);
        if (!loaded) return;
        std::optional<core::KvLookup> kv;
        if (options.kv) {
            (void)options.kv->RefreshBlocking();
            kv.emplace(options.kv->LookupFor(loaded->user));
        }
        const ConductorHost host = HostFor(loaded->st2, kv ? &*kv : nullptr);
        auto machine = MachineFor(loaded->spec, loaded->state, host);
        StepOutput out;
        if (machine->Finished()) {
            out.finished = true;
            out.status = loaded->state.value("status", "failed");
            out.result = loaded->state.value("result", Json::object());
        } else {
            out.launches = machine->Running();
        }
        NoteMasked(loaded->state, RevealedBy(kv));
        Act(wf, loaded->user, out, MaskedOf(loaded->state));
    }

    void RecoverStalled(bool all) {
        auto members = redis->CommandBlocking({"SMEMBERS", ActiveKey()});
        if (!members) return;
        for (const auto& m : members->elements) {
            if (stopped) return;
            auto ver = redis->CommandBlocking({"HGET", Key(m.str), "ver"});
            if (!ver) return;
            bool stalled = all;
            {
                std::lock_guard lock(mu);
                auto it = seen_versions.find(m.str);
                if (it != seen_versions.end() && it->second == ver->str) stalled = true;
                seen_versions[m.str] = ver->str;
            }
            if (stalled) Recover(m.str);
        }
    }

    void ScheduleRecovery() {
        if (stopped) return;
        recovery_timer.expires_after(options.recovery_interval);
        recovery_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec || self->stopped) return;
            asio::post(self->workers, [self] {
                self->RecoverStalled(false);
                asio::post(self->io, [self] { self->ScheduleRecovery(); });
            });
        });
    }

    // ---- stream handlers ---------------------------------------------------------------------------------------
    void HandleRequests(std::vector<core::StreamMessage> batch, core::StreamConsumer::Done done) {
        asio::post(workers, [self = shared_from_this(), batch = std::move(batch), done = std::move(done)]() {
            std::vector<std::string> acks;
            for (const auto& msg : batch) {
                Json j = Json::parse(msg.body, nullptr, false);
                auto req = j.is_discarded() ? Result<core::ExecutionRequest>(InvalidArgument("not JSON"))
                                            : core::ExecutionRequest::FromJson(std::move(j));
                // A request that could not be started for want of Redis stays pending: delivered again, not lost.
                if (!req || self->StartWorkflow(*req, msg.body)) acks.push_back(msg.id);
            }
            done(std::move(acks));
        });
    }

    void HandleEvents(std::vector<core::StreamMessage> batch, core::StreamConsumer::Done done) {
        asio::post(workers, [self = shared_from_this(), batch = std::move(batch), done = std::move(done)]() {
            // st2kv() reads the datastore as of this batch (one version check when nothing changed).
            if (self->options.kv) (void)self->options.kv->RefreshBlocking();
            std::vector<std::string> acks;
            for (const auto& msg : batch) {
                // An event whose step could not be read or stored stays pending: delivered again, not lost (a
                // task's end acknowledged anyway left its workflow running forever).
                if (self->HandleEvent(msg)) acks.push_back(msg.id);
            }
            done(std::move(acks));
        });
    }

    /// False when the event could not be handled for want of Redis: it stays pending.
    bool HandleEvent(const core::StreamMessage& msg) {
        auto ev = executions::ExecutionEvent::Parse(msg.body);
        if (!ev || ev->kind != executions::event_kind::kStatus) return true;
        const std::string to = ev->to;
        const bool task_event =
            !ev->parent.empty() && (core::status::IsCompleted(to) || to == core::status::kPending || to == "paused");
        const bool resumed_task = to == "resuming" && !ev->parent.empty();
        // A workflow's own cancel, pause or resume (`canceled` straight from `paused`, canceled at once by the
        // service, ends its state too), cascaded to its subworkflows. When the event is also a task's end in its
        // parent, the parent's step below acknowledges it.
        if (to == "canceling" || to == "canceled" || to == "pausing" || to == "resuming") {
            auto exists = redis->CommandBlocking({"EXISTS", Key(ev->execution_id)});
            if (!exists) return false;
            if (exists->integer == 1) {
                // When the event is also a task's in its parent, the parent's step acknowledges it (in its script):
                // acknowledged here, a parent's step that then failed was lost.
                const bool canceling = to == "canceling" || to == "canceled";
                const std::vector<workflows::Launch> delayed =
                    canceling ? UnlaunchedDelays(ev->execution_id) : std::vector<workflows::Launch>{};
                const bool stepped = Step(
                    ev->execution_id,
                    task_event || resumed_task ? "" : msg.id,
                    [&to, &delayed](Machine& c, StepOutput& out) {
                        if (to == "canceling" || to == "canceled") {
                            c.Cancel(out);
                            // Delayed tasks not started yet end now: nothing new starts after a cancel.
                            for (const auto& l : delayed) {
                                c.TaskEnded(l.task_id, l.item, l.attempt, "", "canceled", Json::object(), out);
                            }
                        } else if (to == "pausing") {
                            c.Pause(out);
                        } else {
                            c.Resume(out);
                        }
                    }
                );
                if (!stepped) return false;
                // A resume the workflow did by itself because a subworkflow it was paused for resumed leaves its
                // other paused subworkflows paused (StackStorm does not publish that resume).
                if (to != "resuming" || !QuietResume(ev->execution_id)) Cascade(ev->execution_id, to);
                // A subworkflow's cancel goes up to the root workflow, whose cancel comes down to every other
                // subworkflow, as StackStorm's workflow service does.
                if ((to == "canceling" || to == "canceled") && !ev->parent.empty()) CancelRoot(ev->parent);
            }
        }
        if (!task_event && !resumed_task) return true;
        auto h = redis->CommandBlocking({"HMGET", store.keys().Execution(ev->execution_id), "context", "result"});
        if (!h) return false;
        if (h->elements.size() < 2) return true;
        Json ctx = ParseOr(h->elements[0], Json::object());
        const char* kind = ctx.contains("orquesta") ? "orquesta" : kChainKind;
        if (!ctx.contains(kind) || !ctx[kind].is_object() || !ctx[kind].contains("workflow_execution_id")) return true;
        const Json& o = ctx[kind];
        const std::string task_id = o.value("task_id", "");
        const int item = o.value("item_id", -1);
        const int attempt = o.value("attempt", 0);
        const Json result = ParseOr(h->elements[1], Json());
        const std::string child = ev->execution_id;
        if (resumed_task) {
            return Step(ev->parent, msg.id, [&](Machine& c, StepOutput& out) {
                c.TaskResumed(task_id, item, attempt, out);
            });
        }
        // A subworkflow paused because one of its tasks waits for an answer (an inquiry, at any depth) pauses its
        // parent as the inquiry itself would: StackStorm pauses the root workflow, and its answer resumes them all.
        const bool inquiry = to == "paused" && PausedByInquiry(child);
        return Step(ev->parent, msg.id, [&](Machine& c, StepOutput& out) {
            if (to == core::status::kPending || inquiry) return c.TaskPending(task_id, item, attempt, out);
            if (to == "paused") return c.TaskPaused(task_id, item, attempt, out);
            c.TaskEnded(task_id, item, attempt, child, to, result, out);
        });
    }

    /// True when workflow `wf` last ran again by itself because a subworkflow it was paused for resumed.
    bool QuietResume(const std::string& wf) {
        auto h = redis->CommandBlocking({"HGET", Key(wf), "state"});
        if (!h || h->IsNil()) return false;
        const Json state = ParseOr(*h, Json::object());
        return state.is_object() && state.value("quiet_resume", false);
    }

    /// Cancels the root of the workflow tree `parent` belongs to (the workflow with no parent above it), unless it
    /// is canceling or has ended already.
    void CancelRoot(std::string parent) {
        std::string status;
        for (int depth = 0; depth < 64 && !parent.empty(); ++depth) {
            auto h = redis->CommandBlocking({"HMGET", store.keys().Execution(parent), "parent", "status"});
            if (!h || h->elements.size() < 2) return Warn("cannot read a parent to cascade a cancel", parent, "");
            if (h->elements[0].IsNil() || h->elements[0].str.empty()) {
                status = h->elements[1].str;
                break;
            }
            parent = h->elements[0].str;
        }
        if (status.empty() || status == "canceling" || core::status::IsCompleted(status)) return;
        auto c = service.CancelBlocking(parent);
        if (!c && c.error().code != ErrorCode::kFailedPrecondition)
            Warn("cannot cascade a cancel to the root workflow", parent, c.error().message);
    }

    /// True when workflow `wf` is paused because a task of it waits for an answer (its state's `paused_by`).
    bool PausedByInquiry(const std::string& wf) {
        auto h = redis->CommandBlocking({"HGET", Key(wf), "state"});
        if (!h || h->IsNil()) return false;
        const Json state = ParseOr(*h, Json::object());
        return state.is_object() && state.value("paused_by", "") == "pending";
    }

    /// Cancel, pause and resume cascade down to the workflow's subworkflows (its task executions that are workflows
    /// themselves: pool `workflow`), as StackStorm's do; other task executions run to their end. A cancel also
    /// cancels the task executions that wait in `pending` (an inquiry nobody answered): the workflow ends without
    /// them, so the question is withdrawn rather than left open (StackStorm leaves it pending; docs/decisions.md).
    /// Each request is idempotent (it only moves an execution from the statuses it applies to), so a redelivered
    /// event is harmless.
    void Cascade(const std::string& wf, const std::string& to) {
        auto kids = redis->CommandBlocking({"LRANGE", store.keys().Children(wf), "0", "-1"});
        if (!kids || kids->elements.empty()) return;
        std::vector<core::RedisClient::Args> cmds;
        for (const auto& k : kids->elements) cmds.push_back({"HMGET", store.keys().Execution(k.str), "status", "pool"});
        auto replies = redis->PipelineBlocking(std::move(cmds));
        if (!replies)
            return Warn("cannot read a workflow's task executions to cascade " + to, wf, replies.error().message);
        for (size_t i = 0; i < replies->size() && i < kids->elements.size(); ++i) {
            const auto& r = (*replies)[i];
            if (r.elements.size() < 2) continue;
            const std::string& child = kids->elements[i].str;
            const std::string status = r.elements[0].str;
            if ((to == "canceling" || to == "canceled") && status == core::status::kPending) {
                auto c = service.CancelBlocking(child);
                if (!c && c.error().code != ErrorCode::kFailedPrecondition)
                    Warn("cannot cancel a pending task execution " + child, wf, c.error().message);
                continue;
            }
            if (r.elements[1].str != "workflow") continue;
            Result<std::string> done = std::string();
            if (to == "canceling" || to == "canceled") {
                if (core::status::IsCompleted(status) || status == "canceling") continue;
                auto c = service.CancelBlocking(child);
                if (!c) done = c.error();
            } else if (to == "pausing") {
                if (status != "running") continue;
                done = service.PauseBlocking(child);
            } else if (to == "resuming") {
                if (status != "paused") continue;
                done = service.ResumeBlocking(child);
            }
            if (!done && done.error().code != ErrorCode::kFailedPrecondition)
                Warn("cannot cascade " + to + " to a subworkflow " + child, wf, done.error().message);
        }
    }

    void Start() {
        std::weak_ptr<Impl> weak = weak_from_this();
        core::StreamConsumerOptions ro;
        ro.stream = store.keys().RequestStream("workflow");
        ro.group = kGroup;
        ro.consumer = options.consumer_name;
        ro.batch = 64;
        ro.reclaim_min_idle = options.reclaim_min_idle;
        ro.reclaim_interval = std::chrono::milliseconds(2000);
        ro.dead_letters = core::Keys(redis->endpoint().key_prefix).DeadLetters();  // what GET /deadletters lists
        requests = core::StreamConsumer::Create(
            io,
            redis,
            ro,
            [weak](std::vector<core::StreamMessage> batch, core::StreamConsumer::Done done) {
                if (auto self = weak.lock()) return self->HandleRequests(std::move(batch), std::move(done));
                done({});
            }
        );
        core::StreamConsumerOptions eo = ro;
        eo.stream = store.keys().WorkflowEvents();
        eo.batch = 256;
        eo.delete_on_ack = true;  // the engine is the only reader of its stream
        events = core::StreamConsumer::Create(
            io,
            redis,
            eo,
            [weak](std::vector<core::StreamMessage> batch, core::StreamConsumer::Done done) {
                if (auto self = weak.lock()) return self->HandleEvents(std::move(batch), std::move(done));
                done({});
            }
        );
        requests->Start();
        events->Start();
        // A role that starts picks up what a dead one left between a stored step and its launches.
        asio::post(workers, [self = shared_from_this()] {
            self->RecoverStalled(true);
            asio::post(self->io, [self] { self->ScheduleRecovery(); });
        });
    }
};

WorkflowEngine::WorkflowEngine(
    asio::io_context& io,
    core::RedisClientPtr redis,
    executions::ExecutionService& service,
    WorkflowEngineOptions options
)
    : impl_(std::make_shared<Impl>(io, std::move(redis), service, std::move(options))) {}

WorkflowEngine::~WorkflowEngine() {
    impl_->stopped = true;
    impl_->workers.join();
}

void WorkflowEngine::Start() {
    impl_->Start();
}

void WorkflowEngine::Stop(std::function<void()> on_stopped) {
    auto impl = impl_;
    impl->stopped = true;
    asio::post(impl->io, [impl] { impl->recovery_timer.cancel(); });
    auto remaining = std::make_shared<std::atomic<int>>(2);
    auto one_done = [remaining, on_stopped = std::move(on_stopped)]() {
        if (--*remaining == 0 && on_stopped) on_stopped();
    };
    if (impl->requests) {
        impl->requests->Stop(one_done);
    } else {
        one_done();
    }
    if (impl->events) {
        impl->events->Stop(one_done);
    } else {
        one_done();
    }
}

}  // namespace squall::workflows
