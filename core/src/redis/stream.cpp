#include "squall/core/redis/stream.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <utility>

#include "squall/core/clock.hpp"
#include "squall/core/log.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/store/store.hpp"

namespace squall::core {
namespace {

constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};
// After a batch whose handler could not reach Redis, the pause before its entries are read again (each read counts
// as a delivery toward max_deliveries).
constexpr std::chrono::milliseconds kPendingRereadPause{1000};
// The reader's command deadline is BLOCK plus this, so a server that answers late is not a timeout.
constexpr std::chrono::milliseconds kReadMargin{5000};
// XAUTOCLAIM pages per reclaim pass; the next pass continues where the stream still has stale entries.
constexpr int kMaxReclaimPages = 16;

bool StartsWith(const std::string& s, std::string_view prefix) {
    return s.rfind(prefix, 0) == 0;
}

// KEYS: 1 stream. ARGV: 1 group, 2 delete (0/1), 3.. entry ids. The second step of a move to the dead letters,
// after the letters were added: acknowledging and deleting happen together. The dead-letter stream is one for
// every stream, so on another hash slot than most of them: the move is two steps of one slot each (Redis Cluster,
// docs/delivery.md). A process that dies between them leaves the entry pending; it is moved again, so that one
// entry may have two letters, with the same `stream` and `id`, never none.
const char* kDeadLetter = R"lua(
for i = 3, #ARGV do
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  if ARGV[2] == '1' then redis.call('XDEL', KEYS[1], ARGV[i]) end
end
return #ARGV - 2
)lua";

// KEYS: 1 stream. ARGV: 1 max length. Returns the number of entries removed.
// The oldest entry a group still needs is its smallest pending id, or, with nothing pending, its last-delivered
// id (everything after it is unread). Entries older than the oldest needed one are removed once the stream is
// over its length; with no group at all, the stream is cut to its length.
const char* kTrimStream = R"lua(
local len = redis.call('XLEN', KEYS[1])
if len <= tonumber(ARGV[1]) then return 0 end
local function older(a, b)
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  ams, aseq, bms, bseq = tonumber(ams), tonumber(aseq), tonumber(bms), tonumber(bseq)
  if ams ~= bms then return ams < bms end
  return aseq < bseq
end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[1]) end
local need = nil
for _, g in ipairs(groups) do
  local name, last, pending = nil, '0-0', 0
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1]
    elseif g[i] == 'last-delivered-id' then last = g[i + 1]
    elseif g[i] == 'pending' then pending = tonumber(g[i + 1]) end
  end
  local candidate = last
  if pending > 0 then
    local p = redis.call('XPENDING', KEYS[1], name)
    if p[2] and p[2] ~= false then candidate = p[2] end
  end
  if need == nil or older(candidate, need) then need = candidate end
end
return redis.call('XTRIM', KEYS[1], 'MINID', need)
)lua";

const Script& DeadLetterScript() {
    static const Script kScript(kDeadLetter);
    return kScript;
}
const Script& TrimScript() {
    static const Script kScript(kTrimStream);
    return kScript;
}

}  // namespace

// The consumer loop. Everything runs on `strand_`; replies of both clients are posted back onto it.
//
// The loop is a chain with at most one step outstanding (busy_): create the group, reclaim stale entries,
// read this consumer's own pending entries (XREADGROUP ... <cursor>) until that returns nothing, then
// XREADGROUP ... BLOCK ... > forever. A non-empty read hands the batch to the handler (in_batch_) and the
// chain resumes after `done` has been acknowledged. Errors wait `backoff_` and resume the chain.
struct StreamConsumer::Impl : std::enable_shared_from_this<StreamConsumer::Impl> {
    using Strand = asio::strand<asio::io_context::executor_type>;

    Impl(
        asio::io_context& io,
        RedisClientPtr commands_client,
        StreamConsumerOptions opts,
        Handler h,
        std::function<size_t()> capacity_fn
    )
        : strand(asio::make_strand(io)),
          commands(std::move(commands_client)),
          options(std::move(opts)),
          handler(std::move(h)),
          capacity(std::move(capacity_fn)),
          retry_timer(strand),
          reclaim_timer(strand),
          log(Logger("redis.stream")) {
        RedisClientOptions reader_options;
        reader_options.command_timeout = options.block + kReadMargin;
        reader = RedisClient::Create(io, commands->endpoint(), reader_options);
    }

    // Posts `fn(result)` onto our strand: client callbacks run on the client's strand, not ours.
    template <typename R, typename F>
    std::function<void(R)> OnStrand(F fn) {
        return [self = shared_from_this(), fn = std::move(fn)](R result) mutable {
            asio::post(self->strand, [self, fn = std::move(fn), result = std::move(result)]() mutable {
                fn(std::move(result));
            });
        };
    }

    void LogEvent(spdlog::level::level_enum level, std::string_view msg, std::string_view error = {}) {
        Log(*log,
            level,
            msg,
            {{"stream", options.stream}, {"group", options.group}, {"consumer", options.consumer}, {"error", error}});
    }

    void DoStart() {
        if (running) {
            return;
        }
        running = true;
        group_ready = false;
        start_reclaimed = false;
        need_pending = true;
        pending_cursor = "0";
        backoff = std::chrono::milliseconds(0);
        ArmReclaimTimer();
        Step();
    }

    void DoStop(std::function<void()> on_stopped) {
        running = false;
        waiting_capacity = false;
        retry_timer.cancel();
        reclaim_timer.cancel();
        reader->Close();  // aborts a BLOCK in progress; entries it may have delivered stay pending
        if (on_stopped) {
            stopped_callbacks.push_back(std::move(on_stopped));
        }
        MaybeFinishStop();
    }

    // Stopped means nothing of this consumer is outstanding: no batch in the handler and no command of the chain
    // (the read that Close() just failed still has to come back). Reporting it earlier let a caller stop the
    // io_context with that callback queued, and the consumer and its connection were never freed.
    void MaybeFinishStop() {
        if (!running && !busy && !in_batch && !stopped_callbacks.empty()) {
            RunStoppedCallbacks();
        }
    }

    void RunStoppedCallbacks() {
        auto callbacks = std::move(stopped_callbacks);
        stopped_callbacks.clear();
        for (auto& cb : callbacks) {
            try {
                cb();
            } catch (const std::exception& e) {
                LogEvent(spdlog::level::err, "exception in stream consumer on_stopped", e.what());
            }
        }
    }

    void DoNotifyCapacity() {
        if (waiting_capacity) {
            waiting_capacity = false;
            Step();
        }
    }

    // Advances the chain by one asynchronous step, unless one is outstanding or the handler holds a batch.
    void Step() {
        if (!running) {
            MaybeFinishStop();
            return;
        }
        if (busy || in_batch || waiting_capacity) {
            return;
        }
        if (!group_ready) {
            CreateGroup();
            return;
        }
        if (!start_reclaimed) {
            if (reclaim_in_flight) {
                return;  // a periodic pass is running; it calls Step when it ends
            }
            busy = true;
            Reclaim([this] {
                busy = false;
                start_reclaimed = true;
                Step();
            });
            return;
        }
        size_t count = options.batch;
        if (capacity) {
            count = std::min(count, capacity());
            if (count == 0) {
                waiting_capacity = true;
                return;
            }
        }
        busy = true;
        RedisClient::Args args = {
            "XREADGROUP", "GROUP", options.group, options.consumer, "COUNT", std::to_string(count)};
        if (need_pending) {
            args.insert(args.end(), {"STREAMS", options.stream, pending_cursor});
        } else {
            args.insert(args.end(), {"BLOCK", std::to_string(options.block.count()), "STREAMS", options.stream, ">"});
        }
        reader->Command(
            std::move(args), OnStrand<Result<RedisReply>>([this, pending = need_pending](Result<RedisReply> r) {
                busy = false;
                OnRead(pending, std::move(r));
            })
        );
    }

    void CreateGroup() {
        busy = true;
        commands->Command(
            {"XGROUP", "CREATE", options.stream, options.group, "0", "MKSTREAM"},
            OnStrand<Result<RedisReply>>([this](Result<RedisReply> r) {
                busy = false;
                if (!running) {
                    MaybeFinishStop();
                    return;
                }
                if (!r) {
                    LogEvent(spdlog::level::warn, "XGROUP CREATE failed", r.error().message);
                    RetryLater();
                    return;
                }
                if (r->IsError() && !StartsWith(r->str, "BUSYGROUP")) {
                    LogEvent(spdlog::level::err, "XGROUP CREATE failed", r->str);
                    RetryLater();
                    return;
                }
                group_ready = true;
                Step();
            })
        );
    }

    // XAUTOCLAIM ... JUSTID moves entries idle for longer than reclaim_min_idle (in any consumer, this one
    // included) into this consumer's pending list; the pending read then delivers them.
    void Reclaim(std::function<void()> then) {
        reclaim_in_flight = true;
        ReclaimPage("0-0", 0, std::move(then));
    }

    void ReclaimPage(std::string cursor, int page, std::function<void()> then) {
        auto finish = [this, then] {
            reclaim_in_flight = false;
            if (then) {
                then();
            } else {
                Step();  // a start-up reclaim may have waited for this periodic pass
            }
        };
        commands->Command(
            {"XAUTOCLAIM",
             options.stream,
             options.group,
             options.consumer,
             std::to_string(options.reclaim_min_idle.count()),
             cursor,
             "COUNT",
             std::to_string(options.batch),
             "JUSTID"},
            OnStrand<Result<RedisReply>>([this, page, then, finish](Result<RedisReply> r) {
                if (!r || r->IsError() || !r->IsArray() || r->elements.size() < 2) {
                    std::string why = !r ? r.error().message : r->str;
                    LogEvent(spdlog::level::warn, "XAUTOCLAIM failed", why);
                    if (r && r->IsError() && StartsWith(r->str, "NOGROUP")) {
                        group_ready = false;
                    }
                    finish();
                    return;
                }
                const RedisReply& ids = r->elements[1];
                if (ids.IsArray() && !ids.elements.empty()) {
                    Log(*log,
                        spdlog::level::info,
                        "reclaimed stale stream entries",
                        {{"stream", options.stream},
                         {"group", options.group},
                         {"consumer", options.consumer},
                         {"count", std::to_string(ids.elements.size())}});
                    need_pending = true;
                    pending_cursor = "0";
                }
                const std::string& next = r->elements[0].str;
                if (running && next != "0-0" && page + 1 < kMaxReclaimPages) {
                    ReclaimPage(next, page + 1, then);
                    return;
                }
                finish();
            })
        );
    }

    void ArmReclaimTimer() {
        reclaim_timer.expires_after(options.reclaim_interval);
        reclaim_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec || !self->running) {
                return;
            }
            if (!self->reclaim_in_flight && self->group_ready && self->start_reclaimed) {
                self->Reclaim(nullptr);
            }
            self->ArmReclaimTimer();
        });
    }

    void RetryLater() {
        backoff = std::clamp(backoff * 2, kMinBackoff, kMaxBackoff);
        busy = true;
        retry_timer.expires_after(backoff);
        retry_timer.async_wait([self = shared_from_this()](const boost::system::error_code&) {
            self->busy = false;
            self->Step();
        });
    }

    void OnRead(bool pending, Result<RedisReply> r) {
        if (!running) {
            MaybeFinishStop();
            return;  // stopped meanwhile: whatever was delivered stays pending and is read again later
        }
        if (!r) {
            LogEvent(spdlog::level::warn, "XREADGROUP failed", r.error().message);
            // The server may have delivered entries whose reply was lost with the connection (Redis restarted, a
            // failover): they are pending in this consumer, so read the own pending list again rather than leave
            // them to the next XAUTOCLAIM, reclaim_min_idle later.
            need_pending = true;
            pending_cursor = "0";
            RetryLater();
            return;
        }
        if (r->IsError()) {
            LogEvent(spdlog::level::err, "XREADGROUP failed", r->str);
            if (StartsWith(r->str, "NOGROUP")) {
                group_ready = false;  // stream or group deleted: create them again
            }
            RetryLater();
            return;
        }
        backoff = std::chrono::milliseconds(0);

        std::vector<StreamMessage> messages;
        std::vector<std::string> bad_ids;
        size_t entries = 0;
        std::string last_id;
        if (r->IsArray()) {
            for (auto& stream : r->elements) {
                if (!stream.IsArray() || stream.elements.size() < 2 || !stream.elements[1].IsArray()) {
                    continue;
                }
                for (auto& entry : stream.elements[1].elements) {
                    if (!entry.IsArray() || entry.elements.empty()) {
                        continue;
                    }
                    ++entries;
                    std::string id = std::move(entry.elements[0].str);
                    last_id = id;
                    const RedisReply* body = nullptr;
                    if (entry.elements.size() >= 2 && entry.elements[1].IsArray()) {
                        auto& fields = entry.elements[1].elements;
                        for (size_t i = 0; i + 1 < fields.size(); i += 2) {
                            if (fields[i].str == "d") {
                                body = &fields[i + 1];
                                break;
                            }
                        }
                    }
                    if (body == nullptr || body->IsNil()) {
                        // Deleted while pending (nil fields) or not in our schema: acknowledge so that it
                        // does not come back forever.
                        Log(*log,
                            spdlog::level::warn,
                            "stream entry without field 'd', acknowledging it",
                            {{"stream", options.stream}, {"group", options.group}, {"id", id}});
                        bad_ids.push_back(std::move(id));
                        continue;
                    }
                    messages.push_back(StreamMessage{std::move(id), std::move(body->str)});
                }
            }
        }
        if (pending) {
            if (entries == 0) {
                need_pending = false;  // own pending list exhausted: switch to new entries
                pending_cursor = "0";
            } else {
                pending_cursor = last_id;
            }
        }
        in_batch = true;
        ++batch_seq;
        batch_token = commands->ConnectionToken();  // the handler's writes come after: WaitForReplica covers them
        batch_size = messages.size();
        batch_bad_ids = std::move(bad_ids);
        if (messages.empty()) {
            Acknowledge(batch_seq, {});
            return;
        }
        if (pending && options.max_deliveries > 0) {
            // Entries read again from the pending list may be poison: check how often each was delivered.
            CheckDeliveries(batch_seq, std::move(messages));
            return;
        }
        Dispatch(std::move(messages));
    }

    void Dispatch(std::vector<StreamMessage> messages) {
        if (messages.empty()) {
            Acknowledge(batch_seq, {});
            return;
        }
        std::vector<std::string> ids;
        ids.reserve(messages.size());
        for (const auto& m : messages) ids.push_back(m.id);
        try {
            handler(std::move(messages), MakeDone(batch_seq));
        } catch (const std::exception& e) {
            // Per-message boundary (STYLE.md convention 4). The batch is not acknowledged unless the handler
            // already called done; if it dropped `done`, that ends the batch. The entries come back from the
            // pending list, and past max_deliveries they become dead letters with this reason.
            LogEvent(spdlog::level::err, "exception in stream handler", e.what());
            RememberFailure(ids, std::string("the handler threw: ") + e.what());
        } catch (...) {
            LogEvent(spdlog::level::err, "exception in stream handler", "unknown");
            RememberFailure(ids, "the handler threw an unknown exception");
        }
    }

    void RememberFailure(const std::vector<std::string>& ids, const std::string& reason) {
        if (failures.size() > 1000) failures.clear();  // bounded; a lost reason only makes the message vaguer
        for (const auto& id : ids) failures[id] = reason;
    }

    // XPENDING for the batch's range in this consumer gives each entry's delivery count; entries past the bound
    // become dead letters, the others go to the handler.
    void CheckDeliveries(uint64_t seq, std::vector<StreamMessage> messages) {
        // Built before the callback below takes `messages` (argument evaluation order is unspecified).
        RedisClient::Args xpending = {
            "XPENDING",
            options.stream,
            options.group,
            messages.front().id,
            messages.back().id,
            std::to_string(messages.size()),
            options.consumer};
        commands->Command(
            std::move(xpending),
            OnStrand<Result<RedisReply>>([this, seq, messages = std::move(messages)](Result<RedisReply> r) mutable {
                if (seq != batch_seq) return;
                if (!r || r->IsError() || !r->IsArray()) {
                    LogEvent(
                        spdlog::level::warn, "XPENDING failed; delivering anyway", !r ? r.error().message : r->str
                    );
                    return Dispatch(std::move(messages));
                }
                std::map<std::string, int64_t> counts;
                std::map<std::string, std::string> owners;
                for (const auto& e : r->elements) {
                    if (e.IsArray() && e.elements.size() >= 4) {
                        counts[e.elements[0].str] = e.elements[3].integer;
                        owners[e.elements[0].str] = e.elements[1].str;
                    }
                }
                std::vector<StreamMessage> keep;
                std::vector<std::string> dead_args;
                const std::string now = FormatIsoTimestamp((options.clock ? *options.clock : SystemClock()).Now());
                for (auto& m : messages) {
                    const int64_t n = counts.count(m.id) ? counts[m.id] : 0;
                    if (n <= options.max_deliveries) {
                        keep.push_back(std::move(m));
                        continue;
                    }
                    auto f = failures.find(m.id);
                    const std::string reason =
                        f != failures.end() ? f->second
                                            : "delivered " + std::to_string(n) + " times to group \"" + options.group +
                                                  "\" without being acknowledged: its handler failed or its "
                                                  "process died while handling it";
                    Json body = Json::parse(m.body, nullptr, false);
                    Json letter = {
                        {"stream", options.stream},
                        {"group", options.group},
                        {"id", m.id},
                        {"body", body.is_discarded() ? Json(m.body) : body},
                        {"deliveries", n},
                        {"consumer", owners[m.id]},
                        {"reason", reason},
                        {"at", now},
                    };
                    Log(*log,
                        spdlog::level::err,
                        "stream entry moved to dead letters",
                        {{"stream", options.stream}, {"group", options.group}, {"id", m.id}, {"reason", reason}});
                    dead_args.push_back(m.id);
                    dead_args.push_back(letter.dump(-1, ' ', false, Json::error_handler_t::replace));
                }
                // Redis counts a delivery from the pending list in memory only: it neither writes the new count to
                // the AOF nor sends it to replicas, so a process that dies of the entry (its embedded Redis with
                // it) found it at the same count after each restart, and a poison entry never reached the bound.
                // Each entry's count is stored before its handler runs: XCLAIM with RETRYCOUNT is propagated.
                std::vector<RedisClient::Args> letters;
                for (const auto& m : keep) {
                    letters.push_back(
                        {"XCLAIM",
                         options.stream,
                         options.group,
                         options.consumer,
                         "0",
                         m.id,
                         "RETRYCOUNT",
                         std::to_string(counts.count(m.id) ? counts[m.id] : 0),
                         "JUSTID"}
                    );
                }
                const size_t claims = letters.size();
                if (dead_args.empty()) {
                    if (letters.empty()) return Dispatch(std::move(keep));
                    commands->Pipeline(
                        std::move(letters),
                        OnStrand<Result<std::vector<RedisReply>>>([this, seq, keep = std::move(keep)](
                                                                      Result<std::vector<RedisReply>> stored
                                                                  ) mutable {
                            if (seq != batch_seq) return;
                            if (!stored)
                                LogEvent(spdlog::level::warn, "cannot store delivery counts", stored.error().message);
                            Dispatch(std::move(keep));
                        })
                    );
                    return;
                }
                std::vector<std::string> args = {options.group, options.delete_on_ack ? "1" : "0"};
                for (size_t i = 0; i + 1 < dead_args.size(); i += 2) {
                    letters.push_back(
                        {"XADD", DeadLetters(), "MAXLEN", "~", "100000", "*", "d", std::move(dead_args[i + 1])}
                    );
                    args.push_back(std::move(dead_args[i]));
                }
                auto not_moved = [this](const std::string& why) {
                    // Not moved: they stay pending and come back; the others go on now.
                    LogEvent(spdlog::level::warn, "cannot move dead letters", why);
                };
                commands->Pipeline(
                    std::move(letters),
                    OnStrand<Result<std::vector<RedisReply>>>(
                        [this, seq, keep = std::move(keep), args = std::move(args), not_moved, claims](
                            Result<std::vector<RedisReply>> added
                        ) mutable {
                            if (seq != batch_seq) return;
                            std::string failed = !added ? added.error().message : "";
                            for (size_t i = claims; added && i < added->size(); ++i) {
                                if ((*added)[i].IsError()) failed = (*added)[i].str;
                            }
                            if (!failed.empty()) {
                                not_moved(failed);
                                return Dispatch(std::move(keep));
                            }
                            DeadLetterScript().Run(
                                *commands,
                                {options.stream},
                                std::move(args),
                                OnStrand<Result<RedisReply>>(
                                    [this, seq, keep = std::move(keep), not_moved](Result<RedisReply> r) mutable {
                                        if (seq != batch_seq) return;
                                        if (!r || r->IsError()) not_moved(!r ? r.error().message : r->str);
                                        Dispatch(std::move(keep));
                                    }
                                )
                            );
                        }
                    )
                );
            })
        );
    }

    std::string DeadLetters() const {
        return options.dead_letters.empty() ? options.stream + ":deadletters" : options.dead_letters;
    }

    // `done` for one batch. Its shared token notices when every copy is gone without a call ("dropped") and
    // then ends the batch without acknowledging anything, so a forgetful handler cannot stall the loop.
    struct DoneToken {
        std::weak_ptr<Impl> impl;
        uint64_t seq = 0;
        std::atomic<bool> called{false};
        ~DoneToken() {
            if (called.load()) {
                return;
            }
            if (auto self = impl.lock()) {
                asio::post(self->strand, [self, seq = seq] {
                    Log(*self->log,
                        spdlog::level::warn,
                        "stream batch dropped without done(); its entries stay pending",
                        {{"stream", self->options.stream}, {"group", self->options.group}});
                    self->Acknowledge(seq, {});
                });
            }
        }
    };

    Done MakeDone(uint64_t seq) {
        auto token = std::make_shared<DoneToken>();
        token->impl = weak_from_this();
        token->seq = seq;
        return [token](std::vector<std::string> ids) {
            if (token->called.exchange(true)) {
                if (auto self = token->impl.lock()) {
                    Log(*self->log, spdlog::level::err, "stream done() called twice for one batch", {});
                }
                return;
            }
            if (auto self = token->impl.lock()) {
                asio::post(self->strand, [self, seq = token->seq, ids = std::move(ids)]() mutable {
                    self->Acknowledge(seq, std::move(ids));
                });
            }
        };
    }

    // XACK (+ XDEL) `ids` plus the batch's malformed entries in one pipeline, then resume the loop. The ack
    // finishes before the next read so that Stop's callback means "acknowledged".
    void Acknowledge(uint64_t seq, std::vector<std::string> ids) {
        if (!in_batch || seq != batch_seq) {
            return;
        }
        if (ids.size() < batch_size && commands->ConnectionToken() != batch_token) {
            // Behind Sentinel (ConnectionToken is 0 otherwise), the handler left entries pending while the master
            // could not be reached (a failover): read them again from the own pending list in a second, rather than
            // after reclaim_min_idle.
            need_pending = true;
            pending_cursor = "0";
            pause_after_batch = true;
        }
        ids.insert(ids.end(), batch_bad_ids.begin(), batch_bad_ids.end());
        batch_bad_ids.clear();
        if (ids.empty()) {
            FinishBatch();
            return;
        }
        if (commands->endpoint().IsSentinel()) {
            // Behind Sentinel a handoff is acknowledged only once a replica has the next stage's state (written on
            // this connection since the batch was read; without online replicas there is nothing to wait for).
            // Otherwise the entries stay pending and are read again (the handlers are idempotent). Without
            // Sentinel nothing is added here.
            commands->WaitForReplica(
                batch_token, OnStrand<Status>([this, ids = std::move(ids)](Status replicated) mutable {
                    if (!replicated) {
                        LogEvent(
                            spdlog::level::warn, "not replicated; entries stay pending", replicated.error().message
                        );
                        need_pending = true;
                        pending_cursor = "0";
                        FinishBatch();
                        return;
                    }
                    SendAcks(std::move(ids));
                })
            );
            return;
        }
        SendAcks(std::move(ids));
    }

    void SendAcks(std::vector<std::string> ids) {
        std::vector<RedisClient::Args> pipeline;
        RedisClient::Args xack = {"XACK", options.stream, options.group};
        xack.insert(xack.end(), ids.begin(), ids.end());
        pipeline.push_back(std::move(xack));
        if (options.delete_on_ack) {
            RedisClient::Args xdel = {"XDEL", options.stream};
            xdel.insert(xdel.end(), ids.begin(), ids.end());
            pipeline.push_back(std::move(xdel));
        }
        commands->Pipeline(
            std::move(pipeline), OnStrand<Result<std::vector<RedisReply>>>([this](Result<std::vector<RedisReply>> r) {
                if (!r) {
                    LogEvent(spdlog::level::warn, "XACK failed; entries stay pending", r.error().message);
                    // Handled but not acknowledged: read them again from the own pending list (the handlers are
                    // idempotent) instead of waiting reclaim_min_idle for XAUTOCLAIM.
                    need_pending = true;
                    pending_cursor = "0";
                } else {
                    for (const auto& reply : *r) {
                        if (reply.IsError()) {
                            LogEvent(spdlog::level::warn, "XACK/XDEL failed", reply.str);
                        }
                    }
                }
                FinishBatch();
            })
        );
    }

    void FinishBatch() {
        in_batch = false;
        if (pause_after_batch && running) {
            pause_after_batch = false;
            busy = true;
            retry_timer.expires_after(kPendingRereadPause);
            retry_timer.async_wait([self = shared_from_this()](const boost::system::error_code&) {
                self->busy = false;
                self->Step();
            });
            return;
        }
        pause_after_batch = false;
        Step();  // stopped: finishes the stop instead
    }

    Strand strand;
    RedisClientPtr commands;
    RedisClientPtr reader;  // dedicated connection for XREADGROUP BLOCK
    const StreamConsumerOptions options;
    const Handler handler;
    const std::function<size_t()> capacity;
    asio::steady_timer retry_timer;
    asio::steady_timer reclaim_timer;
    std::shared_ptr<spdlog::logger> log;

    bool running = false;
    bool busy = false;  // one step of the chain is outstanding (command or retry wait)
    bool group_ready = false;
    bool start_reclaimed = false;
    bool reclaim_in_flight = false;
    bool need_pending = true;
    std::string pending_cursor = "0";
    bool waiting_capacity = false;
    bool in_batch = false;
    uint64_t batch_seq = 0;
    uint64_t batch_token = 0;
    size_t batch_size = 0;
    bool pause_after_batch = false;  // commands->ConnectionToken() when the batch was read (Sentinel)
    std::vector<std::string> batch_bad_ids;
    std::map<std::string, std::string> failures;  // entry id → why its handler failed (bounded)
    std::chrono::milliseconds backoff{0};
    std::vector<std::function<void()>> stopped_callbacks;
};

std::shared_ptr<StreamConsumer> StreamConsumer::Create(
    asio::io_context& io,
    RedisClientPtr commands,
    StreamConsumerOptions options,
    Handler handler,
    std::function<size_t()> capacity
) {
    // Private constructor: always owned by a shared_ptr.
    return std::shared_ptr<StreamConsumer>(new StreamConsumer(  // NOLINT
        io,
        std::move(commands),
        std::move(options),
        std::move(handler),
        std::move(capacity)
    ));
}

StreamConsumer::StreamConsumer(
    asio::io_context& io,
    RedisClientPtr commands,
    StreamConsumerOptions options,
    Handler handler,
    std::function<size_t()> capacity
)
    : impl_(std::make_shared<Impl>(io, std::move(commands), std::move(options), std::move(handler), std::move(capacity))
      ) {}

StreamConsumer::~StreamConsumer() {
    asio::post(impl_->strand, [impl = impl_] { impl->DoStop(nullptr); });
}

void StreamConsumer::Start() {
    asio::post(impl_->strand, [impl = impl_] { impl->DoStart(); });
}

void StreamConsumer::Stop(std::function<void()> on_stopped) {
    asio::post(impl_->strand, [impl = impl_, cb = std::move(on_stopped)]() mutable { impl->DoStop(std::move(cb)); });
}

void StreamConsumer::NotifyCapacity() {
    asio::post(impl_->strand, [impl = impl_] { impl->DoNotifyCapacity(); });
}

void TrimStream(
    RedisClient& client, const std::string& stream, size_t max_len, std::function<void(Result<int64_t>)> cb
) {
    TrimScript().Run(client, {stream}, {std::to_string(max_len)}, [cb = std::move(cb)](Result<RedisReply> r) {
        if (!r) return cb(r.error());
        if (r->IsError()) return cb(Internal("redis: " + r->str));
        cb(r->integer);
    });
}

RedisClient::Args XAddCommand(const std::string& stream, const std::string& body) {
    return {"XADD", stream, "*", "d", body};
}

}  // namespace squall::core
