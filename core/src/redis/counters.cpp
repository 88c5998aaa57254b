#include "squall/core/redis/counters.hpp"

#include <mutex>
#include <vector>

#include "squall/core/log.hpp"
#include "squall/core/redis/client.hpp"

namespace squall::core {

// The deltas and the one timer that sends them. Shared so that the timer's handler and a flush's reply can tell,
// through a weak_ptr, that the counters are gone.
//
// Invariants: `armed` iff a timer wait is pending that will flush; it is armed whenever deltas are non-empty (after
// an Add or a failed flush), never after `closed`. Every use of `timer` is under `mu`.
struct DeferredCounters::State : std::enable_shared_from_this<State> {
    State(asio::io_context& io, std::weak_ptr<RedisClient> c, std::chrono::milliseconds every)
        : timer(io), client(std::move(c)), interval(every) {}

    mutable std::mutex mu;
    Deltas deltas;
    bool armed = false;
    bool closed = false;
    asio::steady_timer timer;
    std::weak_ptr<RedisClient> client;
    std::chrono::milliseconds interval;

    void ArmLocked() {
        if (armed || closed || deltas.empty()) return;
        armed = true;
        timer.expires_after(interval);
        timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
            if (ec) return;
            if (auto self = weak.lock()) self->Flush();
        });
    }

    Deltas Take() {
        std::lock_guard lock(mu);
        armed = false;  // a later Add arms the timer again
        return std::exchange(deltas, {});
    }

    /// Puts back what a flush could not send.
    void Restore(const Deltas& failed) {
        std::lock_guard lock(mu);
        for (const auto& [key, n] : failed) deltas[key] += n;
        ArmLocked();
    }

    static std::vector<RedisClient::Args> Commands(const Deltas& d, std::vector<const Deltas::value_type*>* sent) {
        std::vector<RedisClient::Args> out;
        out.reserve(d.size());
        for (const auto& entry : d) {
            if (entry.second == 0) continue;
            out.push_back({"HINCRBY", entry.first.first, entry.first.second, std::to_string(entry.second)});
            sent->push_back(&entry);
        }
        return out;
    }

    /// The deltas whose HINCRBY did not succeed: all of them without a reply, else those answered with an error.
    static Deltas Failed(
        const std::vector<const Deltas::value_type*>& sent, const Result<std::vector<RedisReply>>& replies
    ) {
        Deltas failed;
        for (size_t i = 0; i < sent.size(); ++i) {
            if (replies && i < replies->size() && !(*replies)[i].IsError()) continue;
            failed.insert(*sent[i]);
        }
        return failed;
    }

    static void LogFailure(const Result<std::vector<RedisReply>>& r, size_t n) {
        std::string why = !r ? r.error().message : "an error reply";
        if (r) {
            for (const auto& one : *r) {
                if (one.IsError()) {
                    why = one.str;
                    break;
                }
            }
        }
        Log(*Logger("redis"),
            spdlog::level::warn,
            "cannot send the metrics counters; kept for the next flush",
            {{"error", why}, {"counters", std::to_string(n)}});
    }

    void Flush() {
        auto taken = std::make_shared<Deltas>(Take());
        auto sent = std::make_shared<std::vector<const Deltas::value_type*>>();
        std::vector<RedisClient::Args> commands = Commands(*taken, sent.get());
        if (commands.empty()) return;
        auto c = client.lock();
        if (!c) return;
        c->Pipeline(std::move(commands), [weak = weak_from_this(), taken, sent](Result<std::vector<RedisReply>> r) {
            Deltas failed = Failed(*sent, r);
            if (failed.empty()) return;
            LogFailure(r, failed.size());
            if (auto self = weak.lock()) self->Restore(failed);
        });
    }
};

DeferredCounters::DeferredCounters(
    asio::io_context& io, std::weak_ptr<RedisClient> client, std::chrono::milliseconds interval
)
    : state_(std::make_shared<State>(io, std::move(client), interval)) {}

DeferredCounters::~DeferredCounters() {
    std::lock_guard lock(state_->mu);
    state_->closed = true;
    state_->timer.cancel();
}

void DeferredCounters::Add(std::string_view hash, std::string_view field, int64_t n) {
    if (n == 0) return;
    std::lock_guard lock(state_->mu);
    auto it = state_->deltas.find(std::pair<std::string_view, std::string_view>(hash, field));
    if (it == state_->deltas.end())
        it = state_->deltas.emplace(std::pair(std::string(hash), std::string(field)), 0).first;
    it->second += n;
    state_->ArmLocked();
}

void DeferredCounters::Add(const Deltas& deltas) {
    std::lock_guard lock(state_->mu);
    for (const auto& [key, n] : deltas) {
        if (n != 0) state_->deltas[key] += n;
    }
    state_->ArmLocked();
}

Status DeferredCounters::FlushBlocking() {
    const Deltas taken = state_->Take();
    std::vector<const Deltas::value_type*> sent;
    std::vector<RedisClient::Args> commands = State::Commands(taken, &sent);
    if (commands.empty()) return {};
    auto c = state_->client.lock();
    if (!c) {
        state_->Restore(taken);
        return Unavailable("the counters' redis client is gone");
    }
    Result<std::vector<RedisReply>> r = c->PipelineBlocking(std::move(commands));
    Deltas failed = State::Failed(sent, r);
    if (failed.empty()) return {};
    state_->Restore(failed);
    if (!r) return r.error();
    return Internal("redis: an HINCRBY of the counters failed");
}

size_t DeferredCounters::pending() const {
    std::lock_guard lock(state_->mu);
    return state_->deltas.size();
}

}  // namespace squall::core
