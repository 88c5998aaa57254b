#include "squall/core/redis/client.hpp"

#include <algorithm>
#include <deque>
#include <exception>
#include <future>
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
          log_(Logger("redis")) {}

    ~RedisClientState() {
        // Normally Shutdown() ran on the strand already. If the io_context was stopped first, the posted
        // shutdown is destroyed unrun and we end up here with nothing else running: free directly.
        Shutdown();
    }

    const Strand& strand() const { return strand_; }
    asio::io_context& io() { return io_; }
    const RedisClientOptions& options() const { return options_; }

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
        Drop(Unavailable("redis client destroyed"));
        timer_.cancel();
        connect_timer_.cancel();
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
        redisAsyncContext* ac = endpoint_.unix_path.empty() ? redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port)
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
            spdlog::level::warn,
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
            ready_ = false;
            connect_timer_.cancel();
            ConnectFailed();
            FailUnsent(Unavailable("redis " + EndpointString() + " unavailable", last_connect_error_));
            return;
        }
        backoff_ = std::chrono::milliseconds(0);
        if (endpoint_.db != 0) {
            // SELECT goes first and gates everything else, so that no command can run in the wrong db.
            auto op = std::make_unique<Op>();
            op->internal_select = true;
            op->commands.push_back({"SELECT", std::to_string(endpoint_.db)});
            op->expected = 1;
            op->deadline = Clock::now() + options_.command_timeout;
            pending_commands_ += 1;
            ops_.push_front(std::move(op));
            SendAt(ops_.begin());
            return;
        }
        BecomeReady();
    }

    void BecomeReady() {
        ready_ = true;
        connect_timer_.cancel();
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
            status == REDIS_OK ? spdlog::level::info : spdlog::level::warn,
            "redis connection lost",
            {{"endpoint", EndpointString()}, {"error", why}});
        ctx_ = nullptr;
        ready_ = false;
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
                if (op->replies.size() == op->expected) {
                    if (op->internal_select) {
                        OnSelectReply(op->replies.front());
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

    void OnSelectReply(const RedisReply& reply) {
        if (!reply.IsError()) {
            BecomeReady();
            return;
        }
        Log(*log_, spdlog::level::err, "redis SELECT failed", {{"endpoint", EndpointString()}, {"error", reply.str}});
        // We are inside a hiredis callback, where freeing is deferred; drop from a fresh handler instead.
        asio::post(strand_, [self = shared_from_this(), gen = generation_, err = reply.str] {
            if (self->generation_ == gen && self->ctx_ != nullptr) {
                self->Drop(Unavailable("redis SELECT " + std::to_string(self->endpoint_.db) + " failed", err));
                self->SetBackoff();
            }
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
        if (ctx_ != nullptr) {
            redisAsyncContext* ac = ctx_;
            ctx_ = nullptr;
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
    std::shared_ptr<spdlog::logger> log_;

    redisAsyncContext* ctx_ = nullptr;
    uint64_t generation_ = 0;  // bumped per connection, so stale timer/posted handlers can tell
    bool ready_ = false;       // connected and SELECTed: commands go straight to hiredis
    bool dropping_ = false;
    bool shutting_down_ = false;
    bool timer_armed_ = false;
    Error drop_error_ = Unavailable("redis connection lost");
    std::string last_connect_error_;
    std::chrono::milliseconds backoff_{0};
    Clock::time_point next_connect_{};
    std::deque<std::unique_ptr<Op>> ops_;
    size_t pending_commands_ = 0;
    std::vector<const char*> argv_;  // scratch for redisAsyncCommandArgv
    std::vector<size_t> argv_len_;
};

struct RedisClient::Impl {
    std::shared_ptr<RedisClientState> state;

    ~Impl() {
        // Tear down on the strand; the posted handler keeps the state alive until then.
        auto& strand = state->strand();
        asio::post(strand, [s = std::move(state)] { s->Shutdown(); });
    }
};

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

void RedisClient::Command(Args args, Callback cb) {
    auto op = std::make_unique<RedisClientState::Op>();
    op->commands.push_back(std::move(args));
    op->single_cb = std::move(cb);
    op->deadline = Clock::now() + impl_->state->options().command_timeout;
    op->keepalive = shared_from_this();
    auto& state = impl_->state;
    asio::post(state->strand(), [s = state, op = std::move(op)]() mutable { s->Submit(std::move(op)); });
}

void RedisClient::Pipeline(std::vector<Args> commands, PipelineCallback cb) {
    auto op = std::make_unique<RedisClientState::Op>();
    op->commands = std::move(commands);
    op->pipeline_cb = std::move(cb);
    op->deadline = Clock::now() + impl_->state->options().command_timeout;
    op->keepalive = shared_from_this();
    auto& state = impl_->state;
    asio::post(state->strand(), [s = state, op = std::move(op)]() mutable { s->Submit(std::move(op)); });
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

void RedisClient::Close() {
    asio::post(impl_->state->strand(), [s = impl_->state] { s->Close(); });
}

}  // namespace squall::core
