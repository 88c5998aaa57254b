#include "squall/core/redis/client.hpp"

#include <poll.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "redis/asio_adapter.hpp"
#include "squall/core/log.hpp"

namespace squall::core {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};
// Extra time a blocking caller waits beyond the client's own deadlines before giving up on the strand.
constexpr std::chrono::milliseconds kBlockingMargin{1000};
// Connect and command deadline of one question to one sentinel.
constexpr std::chrono::milliseconds kSentinelTimeout{1000};
// WAIT's own timeout (WaitForReplica): how long an acknowledging step waits for a replica.
constexpr const char* kReplicaWaitMs = "1000";
// Behind Sentinel, how often ROLE is asked again: the number of online replicas (whether WAIT is needed) and
// whether the server is still the master (a demoted one is left for the promoted replica).
constexpr std::chrono::milliseconds kRoleEvery{1000};

// A ROLE reply of a master: ["master", offset, [[ip, port, offset], ...]] (online replicas only). -1: not a master.
int MasterReplicas(const RedisReply& role) {
    if (!role.IsArray() || role.elements.empty() || role.elements[0].str != "master") return -1;
    if (role.elements.size() < 3 || !role.elements[2].IsArray()) return 0;
    return static_cast<int>(role.elements[2].elements.size());
}

RedisReply Convert(const redisReply* r) {
    RedisReply out;
    switch (r->type) {
        case REDIS_REPLY_STRING:
            out.type = RedisReply::Type::kString;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_STATUS:
            out.type = RedisReply::Type::kStatus;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_ERROR:
            out.type = RedisReply::Type::kError;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_INTEGER:
            out.type = RedisReply::Type::kInteger;
            out.integer = r->integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = RedisReply::Type::kArray;
            out.elements.reserve(r->elements);
            for (size_t i = 0; i < r->elements; ++i) {
                out.elements.push_back(Convert(r->element[i]));
            }
            break;
        default:  // REDIS_REPLY_NIL
            out.type = RedisReply::Type::kNil;
            break;
    }
    return out;
}

/// A script RedisClient::RegisterScript was given: its text, and the "known" flags of the Scripts built with it.
struct RegisteredScript {
    std::shared_ptr<const std::string> source;
    std::vector<std::shared_ptr<std::atomic<bool>>> known;
};

/// The registered scripts, one per text, in the order they came.
struct ScriptRegistry {
    std::mutex mu;
    std::vector<RegisteredScript> scripts;  // guarded by mu
};

ScriptRegistry& Scripts() {
    static ScriptRegistry* registry = new ScriptRegistry;  // never destroyed: scripts are built by statics too
    return *registry;
}

/// The registered scripts, for a new connection.
std::vector<RegisteredScript> RegisteredScripts() {
    ScriptRegistry& r = Scripts();
    std::lock_guard lock(r.mu);
    return r.scripts;
}

/// Set by RedisClient::ExpectRedisToStop.
std::atomic<bool> g_redis_stopping{false};

/// The level of a lost or refused connection's log line.
spdlog::level::level_enum ConnectionLossLevel(spdlog::level::level_enum usual) {
    return g_redis_stopping.load(std::memory_order_relaxed) ? spdlog::level::debug : usual;
}

/// A connection could not load `script` (an error reply): its next call must carry the source.
void ForgetLoaded(const RegisteredScript& script) {
    for (const auto& known : script.known) known->store(false, std::memory_order_relaxed);
}

}  // namespace

// All mutable state of a client. Lives on the strand: every member below is touched only there. Owned by
// shared_ptr so that timer handlers and the shutdown posted by ~RedisClient can outlive the RedisClient.
//
// Invariants:
// - ops_ is in queue order; the ops already handed to hiredis (sent) form a prefix of it. hiredis replies
//   in order, so replies always belong to the first op that still expects one.
// - An op stays in ops_ until hiredis has called back for each of its commands (possibly with a NULL reply
//   when the context is freed), because hiredis holds a raw pointer to it as privdata. `done` says whether
//   the user callback already ran (e.g. a timeout), after which late replies are ignored.
// - ctx_ is non-null between a successful redisAsyncConnect and the moment hiredis frees the context (our
//   Drop, or hiredis itself on EOF / connect failure, reported through the connect/disconnect callbacks).
class RedisClientState : public std::enable_shared_from_this<RedisClientState> {
public:
    using Strand = detail::RedisAsioAdapter::Strand;

    struct Op {
        std::vector<RedisClient::Args> commands;  // released once written to hiredis
        RedisClient::Callback single_cb;
        RedisClient::PipelineCallback pipeline_cb;
        bool internal_select = false;
        std::vector<RedisReply> replies;
        size_t expected = 0;  // callbacks hiredis owes us once sent
        size_t received = 0;
        bool sent = false;
        bool done = false;
        Clock::time_point deadline;
        std::shared_ptr<RedisClient> keepalive;  // "pending operations keep the client alive"
    };

    RedisClientState(asio::io_context& io, RedisEndpoint endpoint, RedisClientOptions options)
        : io_(io),
          strand_(asio::make_strand(io)),
          endpoint_(std::move(endpoint)),
          options_(options),
          timer_(strand_),
          connect_timer_(strand_),
          role_timer_(strand_),
          log_(Logger("redis")) {}

    ~RedisClientState() {
        // Normally Shutdown() ran on the strand already. If the io_context was stopped first, the posted
        // shutdown is destroyed unrun and we end up here with nothing else running: free directly.
        Shutdown();
    }

    const Strand& strand() const { return strand_; }
    asio::io_context& io() { return io_; }
    const RedisClientOptions& options() const { return options_; }
    /// Readable from any thread (RedisClient::ConnectionToken, Replicas).
    uint64_t token() const { return token_.load(); }
    int replicas() const { return replicas_.load(); }

    void Submit(std::unique_ptr<Op> op) {
        size_t count = op->internal_select ? 1 : op->commands.size();
        if (count == 0) {
            Finish(*op, std::vector<RedisReply>{});
            return;
        }
        for (const auto& args : op->commands) {
            if (args.empty()) {
                Finish(*op, Error(ErrorCode::kInvalidArgument, "redis command without arguments"));
                return;
            }
        }
        if (pending_commands_ + count > options_.max_pending) {
            Finish(
                *op,
                Error(
                    ErrorCode::kResourceExhausted,
                    "redis client queue full (" + std::to_string(options_.max_pending) + " commands pending)"
                )
            );
            return;
        }
        if (ctx_ == nullptr && !Connect()) {
            ++connection_failures_;
            UpdateToken();
            Finish(*op, Unavailable("redis " + endpoint_.ToString() + " unavailable", last_connect_error_));
            return;
        }
        op->expected = count;
        pending_commands_ += count;
        ops_.push_back(std::move(op));
        if (ready_) {
            SendAt(std::prev(ops_.end()));
        }
        ArmTimer();
    }

    void Close() {
        Drop(Unavailable("redis client closed"));
        backoff_ = std::chrono::milliseconds(0);
        next_connect_ = Clock::now();
    }

    void Shutdown() {
        shutting_down_ = true;
        sentinel_clients_.clear();
        Drop(Unavailable("redis client destroyed"));
        timer_.cancel();
        connect_timer_.cancel();
        role_timer_.cancel();
    }

private:
    // Starts a connection. False (and a backoff) when the context cannot even be created, e.g. the unix
    // socket does not exist or nobody listens on it.
    bool Connect() {
        if (shutting_down_) {
            last_connect_error_ = "client shut down";
            return false;
        }
        auto now = Clock::now();
        if (now < next_connect_) {
            return false;  // keep last_connect_error_ of the attempt that set the backoff
        }
        if (endpoint_.IsSentinel()) {
            // The master's address is asked for on every connection, so that a failover is followed; commands wait
            // in ops_ meanwhile (bounded by their deadline).
            if (!resolving_) {
                resolving_ = true;
                ResolveAt(0, "");
            }
            return true;
        }
        return ConnectTo(endpoint_.host, endpoint_.port);
    }

    // Asks sentinel `i` (then the next ones) for the master's address, then connects to it.
    void ResolveAt(size_t i, std::string errors) {
        if (shutting_down_) {
            resolving_ = false;
            return;
        }
        if (i >= endpoint_.sentinels.size()) {
            resolving_ = false;
            last_connect_error_ = "no sentinel gave the address of master \"" + endpoint_.master_name + "\"" + errors;
            ConnectFailed();
            FailUnsent(Unavailable("redis " + EndpointString() + " unavailable", last_connect_error_));
            return;
        }
        while (sentinel_clients_.size() <= i) {
            const auto& [host, port] = endpoint_.sentinels[sentinel_clients_.size()];
            RedisEndpoint sentinel;
            sentinel.host = host;
            sentinel.port = port;
            sentinel_clients_.push_back(RedisClient::Create(
                io_,
                sentinel,
                {.connect_timeout = kSentinelTimeout, .command_timeout = kSentinelTimeout, .load_scripts = false}
            ));
        }
        sentinel_clients_[i]->Command(
            {"SENTINEL", "get-master-addr-by-name", endpoint_.master_name},
            [weak = weak_from_this(), i, errors](Result<RedisReply> r) mutable {
                auto self = weak.lock();
                if (!self) return;
                asio::post(self->strand_, [self, i, errors = std::move(errors), r = std::move(r)]() mutable {
                    const auto& [host, port] = self->endpoint_.sentinels[i];
                    const std::string where = host + ":" + std::to_string(port);
                    if (!r) {
                        return self->ResolveAt(i + 1, errors + "; " + where + ": " + r.error().message);
                    }
                    if (!r->IsArray() || r->elements.size() != 2) {
                        return self->ResolveAt(
                            i + 1, errors + "; " + where + ": " + (r->IsError() ? r->str : "does not know it")
                        );
                    }
                    self->resolving_ = false;
                    if (self->shutting_down_) return;
                    const std::string master_host = r->elements[0].str;
                    const int master_port = std::atoi(r->elements[1].str.c_str());
                    if (master_host != self->master_host_ || master_port != self->master_port_) {
                        Log(*self->log_,
                            spdlog::level::info,
                            "redis master resolved",
                            {{"endpoint", self->EndpointString()},
                             {"master", master_host + ":" + std::to_string(master_port)}});
                    }
                    self->master_host_ = master_host;
                    self->master_port_ = master_port;
                    if (!self->ConnectTo(master_host, master_port)) {
                        self->FailUnsent(
                            Unavailable("redis " + self->EndpointString() + " unavailable", self->last_connect_error_)
                        );
                    }
                });
            }
        );
    }

    bool ConnectTo(const std::string& host, int port) {
        redisAsyncContext* ac = endpoint_.unix_path.empty() ? redisAsyncConnect(host.c_str(), port)
                                                            : redisAsyncConnectUnix(endpoint_.unix_path.c_str());
        if (ac == nullptr || ac->err != 0) {
            last_connect_error_ = ac == nullptr ? std::string("out of memory") : std::string(ac->errstr);
            if (ac != nullptr) {
                redisAsyncFree(ac);
            }
            ConnectFailed();
            return false;
        }
        ctx_ = ac;
        ++generation_;
        UpdateToken();
        ac->data = this;
        detail::RedisAsioAdapter::Attach(ac, strand_);
        redisAsyncSetDisconnectCallback(ac, &OnDisconnectThunk);
        redisAsyncSetConnectCallback(ac, &OnConnectThunk);  // also asks for the first write event

        connect_timer_.expires_after(options_.connect_timeout);
        connect_timer_.async_wait([self = shared_from_this(), gen = generation_](const boost::system::error_code& ec) {
            if (!ec && self->generation_ == gen && self->ctx_ != nullptr && !self->ready_) {
                self->Drop(Unavailable(
                    "redis connect timeout after " + std::to_string(self->options_.connect_timeout.count()) + " ms"
                ));
                self->SetBackoff();
            }
        });
        return true;
    }

    void ConnectFailed() {
        SetBackoff();
        Log(*log_,
            ConnectionLossLevel(spdlog::level::warn),
            "redis connect failed",
            {{"endpoint", EndpointString()}, {"error", last_connect_error_}});
    }

    void SetBackoff() {
        backoff_ = std::clamp(backoff_ * 2, kMinBackoff, kMaxBackoff);
        next_connect_ = Clock::now() + backoff_;
    }

    std::string EndpointString() const { return endpoint_.ToString(); }

    static RedisClientState* From(const redisAsyncContext* ac) { return static_cast<RedisClientState*>(ac->data); }

    static void OnConnectThunk(const redisAsyncContext* ac, int status) { From(ac)->OnConnect(status); }
    static void OnDisconnectThunk(const redisAsyncContext* ac, int status) { From(ac)->OnDisconnect(status); }
    static void OnReplyThunk(redisAsyncContext* ac, void* reply, void* privdata) {
        From(ac)->OnReply(static_cast<Op*>(privdata), static_cast<redisReply*>(reply));
    }

    void OnConnect(int status) {
        if (status != REDIS_OK) {
            // hiredis frees the context right after this returns; ops it holds get NULL replies then.
            last_connect_error_ = ctx_ != nullptr && ctx_->c.err != 0 ? ctx_->c.errstr : "connect failed";
            ctx_ = nullptr;
            UpdateToken();
            master_host_.clear();
            ready_ = false;
            connect_timer_.cancel();
            ConnectFailed();
            FailUnsent(Unavailable("redis " + EndpointString() + " unavailable", last_connect_error_));
            return;
        }
        backoff_ = std::chrono::milliseconds(0);
        gate_scripts_.clear();
        if (options_.load_scripts) gate_scripts_ = RegisteredScripts();
        if (endpoint_.db != 0 || endpoint_.IsSentinel() || !gate_scripts_.empty()) {
            // SELECT goes first and gates everything else, so that no command can run in the wrong db; behind
            // Sentinel, ROLE makes sure that the server is (still) the master: a demoted one would refuse writes.
            // Then the scripts this process knows, so that its EVALSHAs find them on a Redis that restarted or was
            // promoted (RedisClient::RegisterScript).
            auto op = std::make_unique<Op>();
            op->internal_select = true;
            if (endpoint_.IsSentinel()) op->commands.push_back({"ROLE"});
            if (endpoint_.db != 0) op->commands.push_back({"SELECT", std::to_string(endpoint_.db)});
            for (const auto& script : gate_scripts_) op->commands.push_back({"SCRIPT", "LOAD", *script.source});
            op->expected = op->commands.size();
            op->deadline = Clock::now() + options_.command_timeout;
            pending_commands_ += op->expected;
            ops_.push_front(std::move(op));
            SendAt(ops_.begin());
            return;
        }
        BecomeReady();
    }

    void BecomeReady() {
        ready_ = true;
        connect_timer_.cancel();
        if (endpoint_.IsSentinel() && !role_timer_armed_) ArmRoleTimer();
        // Ops that timed out while waiting for the connection are forgotten, the rest are written in order.
        for (auto it = ops_.begin(); it != ops_.end();) {
            Op& op = **it;
            if (op.sent) {  // the SELECT that made us ready
                ++it;
                continue;
            }
            if (op.done) {
                pending_commands_ -= op.expected;
                it = ops_.erase(it);
                continue;
            }
            it = SendAt(it);
        }
    }

    void OnDisconnect(int status) {
        if (dropping_) {
            return;  // Drop() is freeing the context and handles the rest
        }
        // hiredis freed the context (EOF, I/O or protocol error); sent ops already got NULL replies.
        const char* why = ctx_ != nullptr && ctx_->c.err != 0 ? ctx_->c.errstr : "closed by server";
        Log(*log_,
            ConnectionLossLevel(status == REDIS_OK ? spdlog::level::info : spdlog::level::warn),
            "redis connection lost",
            {{"endpoint", EndpointString()}, {"error", why}});
        ctx_ = nullptr;
        UpdateToken();
        ready_ = false;
        master_host_.clear();  // behind Sentinel, ask again where the master is
        connect_timer_.cancel();
        next_connect_ = Clock::now();  // the first reconnect after a drop is immediate
        FailUnsent(Unavailable("redis connection lost", why));
    }

    void Send(Op& op) {
        op.sent = true;
        size_t queued = 0;
        for (const auto& args : op.commands) {
            argv_.clear();
            argv_len_.clear();
            for (const auto& a : args) {
                argv_.push_back(a.data());
                argv_len_.push_back(a.size());
            }
            if (redisAsyncCommandArgv(
                    ctx_, &OnReplyThunk, &op, static_cast<int>(argv_.size()), argv_.data(), argv_len_.data()
                ) != REDIS_OK) {
                break;
            }
            ++queued;
        }
        std::vector<RedisClient::Args>().swap(op.commands);
        if (queued < op.expected) {
            // Only when the context is already disconnecting; not expected in practice.
            pending_commands_ -= op.expected - queued;
            op.expected = queued;
            if (!op.done) {
                Finish(op, Unavailable("redis connection is closing"));
            }
        }
    }

    // Sends *it; removes it again if hiredis refused all of its commands. Returns the next position.
    std::deque<std::unique_ptr<Op>>::iterator SendAt(std::deque<std::unique_ptr<Op>>::iterator it) {
        Send(**it);
        if ((*it)->received == (*it)->expected) {
            return ops_.erase(it);
        }
        return ++it;
    }

    void OnReply(Op* op, redisReply* reply) {
        ++op->received;
        --pending_commands_;
        if (!op->done) {
            if (reply == nullptr) {
                Finish(*op, drop_error_);
            } else {
                op->replies.push_back(Convert(reply));
                if (endpoint_.IsSentinel() && op->replies.back().IsError() &&
                    op->replies.back().str.starts_with("READONLY")) {
                    LeaveDemotedMaster("a write was refused: " + op->replies.back().str);
                }
                if (op->replies.size() == op->expected) {
                    if (op->internal_select) {
                        OnGateReplies(op->replies);
                        op->done = true;
                    } else {
                        Finish(*op, std::move(op->replies));
                    }
                }
            }
        }
        if (op->received == op->expected) {
            Remove(op);
        }
    }

    void OnGateReplies(const std::vector<RedisReply>& replies) {
        std::string what;
        std::string err;
        size_t i = 0;
        if (endpoint_.IsSentinel()) {
            const RedisReply& role = replies[i++];
            const int replicas = MasterReplicas(role);
            if (role.IsError()) {
                what = "ROLE";
                err = role.str;
            } else if (replicas < 0) {
                what = "ROLE";
                err = "the server is a " + (role.IsArray() && !role.elements.empty() ? role.elements[0].str : "?") +
                      ", not the master";
            } else {
                replicas_.store(replicas);
            }
        }
        if (err.empty() && endpoint_.db != 0 && i < replies.size() && replies[i++].IsError()) {
            what = "SELECT " + std::to_string(endpoint_.db);
            err = replies[i - 1].str;
        }
        if (err.empty()) {
            // A script that could not be loaded (-LOADING while Redis reads its AOF) is sent with its source by its
            // next call, in order: not a reason to refuse the connection.
            for (size_t s = 0; i < replies.size(); ++i, ++s) {
                if (replies[i].IsError() && s < gate_scripts_.size()) {
                    ForgetLoaded(gate_scripts_[s]);
                    Log(*log_,
                        spdlog::level::debug,
                        "redis SCRIPT LOAD failed",
                        {{"endpoint", EndpointString()}, {"error", replies[i].str}});
                }
            }
            gate_scripts_.clear();
            BecomeReady();
            return;
        }
        Log(*log_, spdlog::level::err, "redis " + what + " failed", {{"endpoint", EndpointString()}, {"error", err}});
        // We are inside a hiredis callback, where freeing is deferred; drop from a fresh handler instead.
        asio::post(strand_, [self = shared_from_this(), gen = generation_, what, err] {
            if (self->generation_ == gen && self->ctx_ != nullptr) {
                self->Drop(Unavailable("redis " + what + " failed", err));
                self->SetBackoff();
            }
        });
    }

    // The connection (generation_ while there is one, else the next), and how often commands failed for want of one:
    // a write read with one token and waited for with another is not known to be replicated.
    void UpdateToken() {
        token_.store((connection_failures_ << 32) + (ctx_ != nullptr ? generation_ : generation_ + 1));
    }

    // Behind Sentinel: the server is no longer the master (a failover demoted it while we stayed connected, e.g.
    // across a partition). Drop the connection from a fresh handler (we may be inside a hiredis callback); the next
    // command asks the sentinels again.
    void LeaveDemotedMaster(const std::string& why) {
        asio::post(strand_, [self = shared_from_this(), gen = generation_, why] {
            if (self->generation_ != gen || self->ctx_ == nullptr) return;
            Log(*self->log_,
                spdlog::level::warn,
                "redis server is no longer the master; asking the sentinels again",
                {{"endpoint", self->EndpointString()}, {"error", why}});
            self->Drop(Unavailable("redis server is no longer the master", why));
        });
    }

    // Every kRoleEvery while connected (Sentinel only): ROLE, for the number of online replicas and the role.
    void ArmRoleTimer() {
        role_timer_armed_ = true;
        role_timer_.expires_after(kRoleEvery);
        role_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            self->role_timer_armed_ = false;
            if (ec || self->shutting_down_) return;
            if (self->ctx_ != nullptr && self->ready_) {
                auto op = std::make_unique<Op>();
                op->commands.push_back({"ROLE"});
                op->deadline = Clock::now() + self->options_.command_timeout;
                op->single_cb = [weak = self->weak_from_this(), gen = self->generation_](Result<RedisReply> r) {
                    auto s = weak.lock();
                    if (!s || !r || r->IsError() || s->generation_ != gen) return;
                    const int replicas = MasterReplicas(*r);
                    if (replicas < 0)
                        return s->LeaveDemotedMaster(
                            "ROLE: " + (r->IsArray() && !r->elements.empty() ? r->elements[0].str : "?")
                        );
                    s->replicas_.store(replicas);
                };
                self->Submit(std::move(op));
            }
            self->ArmRoleTimer();
        });
    }

    void Remove(Op* op) {
        if (!ops_.empty() && ops_.front().get() == op) {
            ops_.pop_front();
            return;
        }
        auto it = std::find_if(ops_.begin(), ops_.end(), [op](const auto& p) { return p.get() == op; });
        if (it != ops_.end()) {
            ops_.erase(it);
        }
    }

    // Frees the context: hiredis calls every sent op back with a NULL reply (→ `reason`), then the ops that
    // were never sent fail too.
    void Drop(const Error& reason) {
        connect_timer_.cancel();
        master_host_.clear();
        if (ctx_ != nullptr) {
            redisAsyncContext* ac = ctx_;
            ctx_ = nullptr;
            UpdateToken();
            ready_ = false;
            drop_error_ = reason;
            dropping_ = true;
            redisAsyncFree(ac);
            dropping_ = false;
            drop_error_ = Unavailable("redis connection lost");
        }
        ready_ = false;
        FailUnsent(reason);
    }

    void FailUnsent(const Error& reason) {
        ++connection_failures_;
        UpdateToken();
        std::vector<std::unique_ptr<Op>> failed;
        while (!ops_.empty() && !ops_.back()->sent) {
            failed.push_back(std::move(ops_.back()));
            ops_.pop_back();
        }
        for (auto it = failed.rbegin(); it != failed.rend(); ++it) {
            pending_commands_ -= (*it)->expected;
            if (!(*it)->done) {
                Finish(**it, reason);
            }
        }
    }

    // One timer for all deadlines: every op gets the same timeout, so the first op has (about) the earliest
    // deadline and the timer only needs re-arming when it fires or when the queue was empty.
    void ArmTimer() {
        if (timer_armed_ || ops_.empty() || shutting_down_) {
            return;
        }
        timer_armed_ = true;
        auto deadline = ops_.front()->deadline;
        if (ops_.front()->internal_select && ops_.size() > 1) {
            deadline = std::min(deadline, ops_[1]->deadline);
        }
        timer_.expires_at(deadline);
        timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            self->timer_armed_ = false;
            if (!ec) {
                self->CheckDeadlines();
            }
            self->ArmTimer();
        });
    }

    void CheckDeadlines() {
        auto now = Clock::now();
        bool expired_sent = false;
        // Ops are in deadline order up to clock skew between submitting threads (microseconds).
        std::vector<Op*> expired;
        for (auto& op : ops_) {
            if (op->deadline > now) {
                if (op->internal_select) {
                    continue;  // queued in front of older user ops at connect time: not in deadline order
                }
                break;
            }
            if (!op->done) {
                expired.push_back(op.get());
                expired_sent = expired_sent || op->sent;
            }
        }
        if (expired.empty()) {
            return;
        }
        Error timeout(
            ErrorCode::kTimeout,
            "redis command timed out after " + std::to_string(options_.command_timeout.count()) + " ms"
        );
        for (Op* op : expired) {
            if (op->internal_select) {
                op->done = true;
            } else {
                Finish(*op, timeout);
            }
        }
        // Unsent expired ops are simply forgotten.
        while (!ops_.empty() && !ops_.front()->sent && ops_.front()->done) {
            pending_commands_ -= ops_.front()->expected;
            ops_.pop_front();
        }
        if (expired_sent) {
            // The server is stuck or the link is dead; later replies would queue up behind the missing one
            // anyway. Drop the connection so the next command starts afresh; ops still in flight fail.
            Log(*log_,
                spdlog::level::warn,
                "redis command timed out, dropping connection",
                {{"endpoint", EndpointString()}});
            Drop(Unavailable("redis connection dropped after a command timed out"));
        }
    }

    void Finish(Op& op, Result<std::vector<RedisReply>> result) {
        op.done = true;
        auto keepalive = std::move(op.keepalive);  // released after the callback returns
        try {
            if (op.single_cb) {
                auto cb = std::move(op.single_cb);
                if (result.has_value()) {
                    cb(std::move((*result).front()));
                } else {
                    cb(std::move(result).error());
                }
            } else if (op.pipeline_cb) {
                auto cb = std::move(op.pipeline_cb);
                cb(std::move(result));
            }
        } catch (const std::exception& e) {
            // Callbacks may run inside hiredis (C frames): never let an exception escape.
            Log(*log_, spdlog::level::err, "exception in redis callback", {{"error", e.what()}});
        } catch (...) {
            Log(*log_, spdlog::level::err, "exception in redis callback", {{"error", "unknown"}});
        }
    }
    void Finish(Op& op, const Error& error) { Finish(op, Result<std::vector<RedisReply>>(error)); }

    asio::io_context& io_;
    Strand strand_;
    const RedisEndpoint endpoint_;
    const RedisClientOptions options_;
    asio::steady_timer timer_;
    asio::steady_timer connect_timer_;
    asio::steady_timer role_timer_;
    std::shared_ptr<spdlog::logger> log_;

    redisAsyncContext* ctx_ = nullptr;
    uint64_t generation_ = 0;                     // bumped per connection, so stale timer/posted handlers can tell
    bool ready_ = false;                          // connected and SELECTed: commands go straight to hiredis
    std::vector<RegisteredScript> gate_scripts_;  // the scripts the handshake of this connection loads
    bool dropping_ = false;
    bool shutting_down_ = false;
    bool timer_armed_ = false;
    Error drop_error_ = Unavailable("redis connection lost");
    std::string last_connect_error_;
    std::chrono::milliseconds backoff_{0};
    Clock::time_point next_connect_{};
    std::deque<std::unique_ptr<Op>> ops_;
    size_t pending_commands_ = 0;
    // Sentinel: the master's address while connected to it (empty: ask again), the sentinels' clients.
    bool resolving_ = false;
    std::string master_host_;
    int master_port_ = 0;
    std::vector<std::shared_ptr<RedisClient>> sentinel_clients_;
    bool role_timer_armed_ = false;
    // The connection the next command goes on (generation_, or generation_ + 1 while there is none), and the online
    // replicas the master reported: read by other threads (WaitForReplica's fast path).
    std::atomic<uint64_t> token_{1};
    std::atomic<int> replicas_{0};
    uint64_t connection_failures_ = 0;  // commands failed for want of a connection (part of the token)
    std::vector<const char*> argv_;     // scratch for redisAsyncCommandArgv
    std::vector<size_t> argv_len_;
};

struct RedisClient::Impl {
    std::shared_ptr<RedisClientState> state;
    std::once_flag writer_once;
    std::unique_ptr<GroupWriter> writer;  // BatchedBlocking's, started by its first call

    ~Impl() {
        // Tear down on the strand; the posted handler keeps the state alive until then.
        auto& strand = state->strand();
        asio::post(strand, [s = std::move(state)] { s->Shutdown(); });
    }
};

void RedisClient::ExpectRedisToStop() {
    g_redis_stopping.store(true, std::memory_order_relaxed);
}

void RedisClient::RegisterScript(std::shared_ptr<const std::string> source, std::shared_ptr<std::atomic<bool>> known) {
    ScriptRegistry& r = Scripts();
    std::lock_guard lock(r.mu);
    for (auto& script : r.scripts) {
        if (script.source == source || *script.source == *source) {
            if (known) script.known.push_back(std::move(known));
            return;
        }
    }
    RegisteredScript script{std::move(source), {}};
    if (known) script.known.push_back(std::move(known));
    r.scripts.push_back(std::move(script));
}

std::shared_ptr<RedisClient> RedisClient::Create(
    asio::io_context& io, RedisEndpoint endpoint, RedisClientOptions options
) {
    // The constructor is private so that the client is always owned by a shared_ptr.
    std::shared_ptr<RedisClient> client(new RedisClient(io, std::move(endpoint), options));  // NOLINT
    client->counters_ = std::make_unique<DeferredCounters>(io, client, options.counters_interval);
    return client;
}

RedisClient::RedisClient(asio::io_context& io, RedisEndpoint endpoint, RedisClientOptions options)
    : impl_(std::make_unique<Impl>()), endpoint_(endpoint) {
    impl_->state = std::make_shared<RedisClientState>(io, std::move(endpoint), options);
}

RedisClient::~RedisClient() = default;

namespace {

/// A command's deadline also allows for moving its bytes, 1 s per 4 MB: a 25 MB webhook payload (written twice, as
/// the stored instance and the stream entry) took most of the 5 s command timeout in the ASan build and all of it
/// on a loaded machine, so the delivery was answered 504 and never stored. Small commands get nothing extra.
std::chrono::milliseconds SizeAllowance(size_t bytes) {
    return std::chrono::milliseconds(bytes / 4096);
}

size_t ArgBytes(const RedisClient::Args& command) {
    size_t bytes = 0;
    for (const auto& arg : command) bytes += arg.size();
    return bytes;
}

std::chrono::milliseconds SizeAllowance(const std::vector<RedisClient::Args>& commands) {
    size_t bytes = 0;
    for (const auto& command : commands) bytes += ArgBytes(command);
    return SizeAllowance(bytes);
}

}  // namespace

void RedisClient::Command(Args args, Callback cb) {
    auto op = std::make_unique<RedisClientState::Op>();
    op->commands.push_back(std::move(args));
    op->single_cb = std::move(cb);
    op->deadline = Clock::now() + impl_->state->options().command_timeout + SizeAllowance(op->commands);
    op->keepalive = shared_from_this();
    auto& state = impl_->state;
    asio::post(state->strand(), [s = state, op = std::move(op)]() mutable { s->Submit(std::move(op)); });
}

void RedisClient::Pipeline(std::vector<Args> commands, PipelineCallback cb) {
    auto op = std::make_unique<RedisClientState::Op>();
    op->commands = std::move(commands);
    op->pipeline_cb = std::move(cb);
    op->deadline = Clock::now() + impl_->state->options().command_timeout + SizeAllowance(op->commands);
    op->keepalive = shared_from_this();
    auto& state = impl_->state;
    asio::post(state->strand(), [s = state, op = std::move(op)]() mutable { s->Submit(std::move(op)); });
}

void RedisClient::Post(std::function<void()> fn) {
    asio::post(impl_->state->strand(), [keepalive = shared_from_this(), fn = std::move(fn)] { fn(); });
}

namespace {

template <typename T, typename Start>
Result<T> WaitBlocking(asio::io_context& io, const RedisClientOptions& options, Start start) {
    if (io.get_executor().running_in_this_thread()) {
        return Internal("redis blocking call from an io_context thread would deadlock");
    }
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    start([promise](Result<T> r) { promise->set_value(std::move(r)); });
    auto limit = options.command_timeout + options.connect_timeout + kBlockingMargin;
    if (future.wait_for(limit) != std::future_status::ready) {
        return Error(ErrorCode::kTimeout, "redis blocking call timed out (io_context not running?)");
    }
    return future.get();
}

}  // namespace

namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
    return timeval{static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

/// A synchronous connection to one endpoint (the group writer's: RedisClient::BatchedBlocking).
class SyncConnection {
public:
    SyncConnection() = default;
    SyncConnection(const SyncConnection&) = delete;
    SyncConnection& operator=(const SyncConnection&) = delete;
    ~SyncConnection() { Close(); }

    /// Connected (connecting first if needed); false when it cannot be, with `why`.
    bool Ensure(const RedisEndpoint& endpoint, const RedisClientOptions& options, std::string* why) {
        if (c_ && !ClosedByServer()) return true;
        Close();
        const timeval connect = ToTimeval(options.connect_timeout);
        c_ = endpoint.unix_path.empty() ? redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, connect)
                                        : redisConnectUnixWithTimeout(endpoint.unix_path.c_str(), connect);
        // The connect timeout bounds only the connect: SELECT gets the command timeout, as each batch does.
        if (c_ && !c_->err) {
            redisSetTimeout(c_, ToTimeval(options.command_timeout));
            timeout_ = options.command_timeout;
        }
        if (c_ && !c_->err && endpoint.db != 0) {
            auto* r = static_cast<redisReply*>(redisCommand(c_, "SELECT %d", endpoint.db));
            const bool ok = r && r->type != REDIS_REPLY_ERROR;
            if (r) freeReplyObject(r);
            if (!ok && c_->err == 0) c_->err = REDIS_ERR_OTHER;
        }
        if (c_ && !c_->err) {
            // The scripts this process knows, as the asynchronous client's handshake loads them; after an error reply
            // (-LOADING) the script's next call sends its source.
            const std::vector<RegisteredScript> scripts = RegisteredScripts();
            for (const auto& script : scripts) {
                redisAppendCommand(c_, "SCRIPT LOAD %b", script.source->data(), script.source->size());
            }
            for (size_t i = 0; i < scripts.size() && !c_->err; ++i) {
                void* r = nullptr;
                if (redisGetReply(c_, &r) != REDIS_OK || !r) break;
                if (static_cast<redisReply*>(r)->type == REDIS_REPLY_ERROR) ForgetLoaded(scripts[i]);
                freeReplyObject(r);
            }
        }
        if (!c_) {
            *why = "out of memory";
            return false;
        }
        if (c_->err) {
            *why = c_->errstr[0] ? c_->errstr : "SELECT failed";
            Close();
            return false;
        }
        return true;
    }

    /// Writes `commands` at once and reads their replies in order, giving each to `reply(i, r)` as it is read. On a
    /// transport error or timeout the connection is closed (a late reply must not be read as a later command's) and
    /// every command without a reply gets the error; the next call connects again. `timeout` bounds each read and
    /// write on the socket.
    void RunAll(
        const std::vector<const RedisClient::Args*>& commands,
        const std::string& endpoint,
        std::chrono::milliseconds timeout,
        const std::function<void(size_t, Result<RedisReply>)>& reply
    ) {
        if (timeout != timeout_) {
            redisSetTimeout(c_, ToTimeval(timeout));
            timeout_ = timeout;
        }
        std::vector<const char*> argv;
        std::vector<size_t> lens;
        for (const auto* args : commands) {
            argv.clear();
            lens.clear();
            for (const auto& a : *args) {
                argv.push_back(a.data());
                lens.push_back(a.size());
            }
            if (redisAppendCommandArgv(c_, static_cast<int>(args->size()), argv.data(), lens.data()) != REDIS_OK) {
                return Fail(
                    0, commands.size(), Unavailable("redis " + endpoint + " unavailable", "out of memory"), reply
                );
            }
        }
        for (size_t i = 0; i < commands.size(); ++i) {
            errno = 0;
            void* r = nullptr;
            if (redisGetReply(c_, &r) != REDIS_OK || !r) {
                const bool timed_out = c_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
                return Fail(
                    i,
                    commands.size(),
                    timed_out ? Error(
                                    ErrorCode::kTimeout,
                                    "redis command timed out after " + std::to_string(timeout.count()) + " ms"
                                )
                              : Unavailable("redis " + endpoint + " unavailable", c_->errstr),
                    reply
                );
            }
            RedisReply converted = Convert(static_cast<redisReply*>(r));
            freeReplyObject(r);
            reply(i, std::move(converted));
        }
    }

    /// Drops the connection (and whatever it had buffered): the next Ensure connects again.
    void Close() {
        if (!c_) return;
        redisFree(c_);
        c_ = nullptr;
        timeout_ = std::chrono::milliseconds(-1);
    }

private:
    void Fail(size_t from, size_t n, const Error& error, const std::function<void(size_t, Result<RedisReply>)>& reply) {
        Close();
        for (size_t i = from; i < n; ++i) reply(i, error);
    }

    /// An idle connection with something to read was closed by the server (a restart, CLIENT KILL, its timeout):
    /// RESP sends nothing unasked. Checked before each batch, so that a restart of Redis does not fail the first
    /// batch after it.
    bool ClosedByServer() const {
        pollfd p{c_->fd, POLLIN, 0};
        return ::poll(&p, 1, 0) != 0;
    }

    redisContext* c_ = nullptr;
    std::chrono::milliseconds timeout_{-1};
};

}  // namespace

/// The commands of many threads, written together (RedisClient::BatchedBlocking): a caller queues its command and
/// waits; one writer thread takes every command queued while its previous batch was out, writes them in one go on
/// its own connection, reads their replies and hands each back. Redis reads one batch where it read one command per
/// connection, and wakes once per batch instead of once per command.
class RedisClient::GroupWriter {
public:
    GroupWriter(RedisEndpoint endpoint, RedisClientOptions options)
        : endpoint_(std::move(endpoint)), name_(endpoint_.ToString()), options_(options), thread_([this] { Loop(); }) {}

    ~GroupWriter() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }

    /// Queues `args`; `cb` runs on the writer thread once its reply is read (or the batch failed), exactly once.
    void Submit(Args args, std::function<void(Result<RedisReply>)> cb) {
        auto slot = std::make_shared<Slot>();
        slot->args = std::move(args);
        slot->callback = std::move(cb);
        {
            std::lock_guard lock(mu_);
            if (!stop_) {
                queue_.push_back(slot);
                wake_.notify_one();
                return;
            }
        }
        slot->Answer(Unavailable("redis " + name_ + " unavailable", "the client is closing"));
    }

    Result<RedisReply> Run(const Args& args) {
        auto slot = std::make_shared<Slot>();
        slot->args = args;  // a copy: a caller that gave up (its deadline) leaves the writer nothing dangling
        // The writer answers within its connect and command timeouts for the batch out now and then for this one.
        const auto limit =
            2 * (options_.connect_timeout + options_.command_timeout) + SizeAllowance(ArgBytes(args)) + kBlockingMargin;
        {
            std::lock_guard lock(mu_);
            if (stop_) return Unavailable("redis " + name_ + " unavailable", "the client is closing");
            queue_.push_back(slot);
            wake_.notify_one();  // under the lock: the writer (and this object) outlive it
        }
        std::unique_lock lock(slot->mu);
        if (!slot->answered.wait_for(lock, limit, [&slot] { return slot->done; })) {
            // Given up: a command not yet sent is not sent (its caller answers an error; a retry must not find it
            // done behind its back).
            slot->abandoned = true;
            return Error(ErrorCode::kTimeout, "redis command timed out after " + std::to_string(limit.count()) + " ms");
        }
        return std::move(slot->reply);
    }

private:
    /// One caller's command and its reply. (A condition variable, not std::binary_semaphore: libstdc++'s semaphore
    /// spins on sched_yield before it sleeps, which took a tenth of the CPU of a webhook load.)
    struct Slot {
        Args args;
        Result<RedisReply> reply = Internal("no reply");
        std::mutex mu;
        std::condition_variable answered;
        bool done = false;
        std::atomic<bool> abandoned{false};  // its caller stopped waiting
        /// Submit's: called with the reply instead of waking a waiting caller.
        std::function<void(Result<RedisReply>)> callback;

        bool Answered() {
            std::lock_guard lock(mu);
            return done;
        }
        void Answer(Result<RedisReply> r) {
            if (callback) {
                {
                    std::lock_guard lock(mu);
                    if (done) return;
                    done = true;
                }
                // A callback that throws must not take the writer (and every other caller) with it.
                try {
                    callback(std::move(r));
                } catch (const std::exception& e) {
                    Log(*Logger("redis"), spdlog::level::err, "redis batch callback failed", {{"error", e.what()}});
                }
                return;
            }
            {
                std::lock_guard lock(mu);
                reply = std::move(r);
                done = true;
            }
            answered.notify_one();
        }
    };

    void Loop() {
        pthread_setname_np(pthread_self(), "squall-rbatch");  // per-thread figures in top -H and perf
        std::vector<std::shared_ptr<Slot>> batch;
        std::unique_lock lock(mu_);
        while (true) {
            wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
            batch.swap(queue_);
            const bool stopping = stop_;
            lock.unlock();
            if (stopping) {
                for (auto& slot : batch)
                    slot->Answer(Unavailable("redis " + name_ + " unavailable", "the client is closing"));
                return;
            }
            std::erase_if(batch, [](const auto& slot) { return slot->abandoned.load(); });
            try {
                Send(batch);
            } catch (const std::exception& e) {
                // Whatever failed (memory for a large reply), the callers get an error, not a dead process.
                conn_.Close();
                for (auto& slot : batch) {
                    if (!slot->Answered()) slot->Answer(Internal(std::string("redis batch failed: ") + e.what()));
                }
            }
            batch.clear();
            lock.lock();
        }
    }

    void Send(const std::vector<std::shared_ptr<Slot>>& batch) {
        if (batch.empty()) return;
        std::vector<const Args*> commands;
        size_t bytes = 0;
        for (const auto& slot : batch) {
            commands.push_back(&slot->args);
            bytes += ArgBytes(slot->args);
        }
        std::string why;
        if (!conn_.Ensure(endpoint_, options_, &why)) {
            for (const auto& slot : batch) slot->Answer(Unavailable("redis " + name_ + " unavailable", why));
            return;
        }
        // Each caller goes on as soon as its own reply is read.
        conn_.RunAll(
            commands,
            name_,
            options_.command_timeout + SizeAllowance(bytes),
            [&batch](size_t i, Result<RedisReply> r) { batch[i]->Answer(std::move(r)); }
        );
    }

    const RedisEndpoint endpoint_;
    const std::string name_;
    const RedisClientOptions options_;
    SyncConnection conn_;  // the writer thread's only
    std::mutex mu_;
    std::condition_variable wake_;
    std::vector<std::shared_ptr<Slot>> queue_;  // bounded by the callers: each waits for its reply
    bool stop_ = false;
    std::thread thread_;  // last: started once the rest is built
};

Result<RedisReply> RedisClient::BatchedBlocking(const Args& args) {
    if (endpoint_.IsSentinel()) return CommandBlocking(args);
    if (impl_->state->io().get_executor().running_in_this_thread()) {
        return Internal("redis blocking call from an io_context thread would stall it");
    }
    std::call_once(impl_->writer_once, [this] {
        impl_->writer = std::make_unique<GroupWriter>(endpoint_, impl_->state->options());
    });
    return impl_->writer->Run(args);
}

void RedisClient::BatchedAsync(Args args, std::function<void(Result<RedisReply>)> cb) {
    if (endpoint_.IsSentinel()) return Command(std::move(args), std::move(cb));
    std::call_once(impl_->writer_once, [this] {
        impl_->writer = std::make_unique<GroupWriter>(endpoint_, impl_->state->options());
    });
    impl_->writer->Submit(std::move(args), std::move(cb));
}

Result<RedisReply> RedisClient::CommandBlocking(Args args) {
    return WaitBlocking<RedisReply>(impl_->state->io(), impl_->state->options(), [&](auto done) {
        Command(std::move(args), std::move(done));
    });
}

Result<std::vector<RedisReply>> RedisClient::PipelineBlocking(std::vector<Args> commands) {
    return WaitBlocking<std::vector<RedisReply>>(impl_->state->io(), impl_->state->options(), [&](auto done) {
        Pipeline(std::move(commands), std::move(done));
    });
}

uint64_t RedisClient::ConnectionToken() const {
    return endpoint_.IsSentinel() ? impl_->state->token() : 0;
}

int RedisClient::Replicas() const {
    return endpoint_.IsSentinel() ? impl_->state->replicas() : 0;
}

namespace {

Error ConnectionChanged() {
    return Unavailable("the Redis connection changed (a failover?): not known whether the writes were replicated");
}

}  // namespace

void RedisClient::WaitForReplica(uint64_t since, std::function<void(Status)> cb) {
    const auto& state = impl_->state;
    if (!endpoint_.IsSentinel() || (state->token() == since && state->replicas() == 0)) {
        asio::post(state->strand(), [cb = std::move(cb)] { cb(Status{}); });
        return;
    }
    if (state->token() != since) {
        asio::post(state->strand(), [cb = std::move(cb)] { cb(ConnectionChanged()); });
        return;
    }
    // The callback runs on the strand, where token() is the connection the reply came on.
    Command({"WAIT", "1", kReplicaWaitMs}, [state, since, cb = std::move(cb)](Result<RedisReply> r) {
        if (!r) return cb(Unavailable("not known whether a Redis replica has the writes", r.error().message));
        if (state->token() != since) return cb(ConnectionChanged());
        if (r->IsError()) return cb(Unavailable("redis WAIT failed", r->str));
        if (r->integer < 1) {
            return cb(
                Unavailable(std::string("no Redis replica acknowledged the writes within ") + kReplicaWaitMs + " ms")
            );
        }
        cb(Status{});
    });
}

Status RedisClient::WaitForReplicaBlocking(uint64_t since) {
    if (!endpoint_.IsSentinel()) return {};
    if (impl_->state->token() != since) return ConnectionChanged();
    if (impl_->state->replicas() == 0) return {};
    Result<RedisReply> r = WaitBlocking<RedisReply>(impl_->state->io(), impl_->state->options(), [&](auto done) {
        WaitForReplica(since, [done = std::move(done)](Status st) {
            if (!st) return done(st.error());
            done(RedisReply{});
        });
    });
    if (!r) return r.error();
    return {};
}

void RedisClient::Close() {
    asio::post(impl_->state->strand(), [s = impl_->state] { s->Close(); });
}

}  // namespace squall::core
