#include "squall/core/store/retention.hpp"

#include <charconv>
#include <map>
#include <mutex>

#include "squall/core/log.hpp"
#include "squall/core/store/store.hpp"

namespace squall::core {

/// Shared with the callbacks: the sweeper's mutable state. One sweep at a time; every step of a sweep runs after
/// the previous one's callback, so only Start/Stop/SweepNow/Deleted (other threads) need the mutex.
struct RetentionSweeper::State {
    std::mutex mu;
    bool stopped = false;
    bool sweeping = false;
    std::vector<std::function<void(Status)>> waiting;  ///< SweepNow callers waiting for the running sweep
    std::map<std::string, PurgeCursor> cursor;         ///< resume rules: where the previous sweep stopped
    std::map<std::string, int64_t> deleted;
    std::shared_ptr<spdlog::logger> log = Logger("gc");
};

std::shared_ptr<RetentionSweeper> RetentionSweeper::Create(
    asio::io_context& io, const Clock& clock, std::vector<RetentionRule> rules, RetentionOptions options
) {
    return std::shared_ptr<RetentionSweeper>(new RetentionSweeper(io, clock, std::move(rules), options));
}

RetentionSweeper::RetentionSweeper(
    asio::io_context& io, const Clock& clock, std::vector<RetentionRule> rules, RetentionOptions o
)
    : io_(io), clock_(clock), rules_(std::move(rules)), options_(o), timer_(io), state_(std::make_shared<State>()) {}

void RetentionSweeper::Start() {
    auto self = shared_from_this();
    asio::post(io_, [self] { self->Sweep([self](Status) { self->Schedule(); }); });
}

void RetentionSweeper::Stop() {
    {
        std::lock_guard lock(state_->mu);
        state_->stopped = true;
    }
    auto self = shared_from_this();
    asio::post(io_, [self] { self->timer_.cancel(); });
}

void RetentionSweeper::SweepNow(std::function<void(Status)> done) {
    auto self = shared_from_this();
    asio::post(io_, [self, done = std::move(done)]() mutable { self->Sweep(std::move(done)); });
}

int64_t RetentionSweeper::Deleted(const std::string& rule) const {
    std::lock_guard lock(state_->mu);
    auto it = state_->deleted.find(rule);
    return it == state_->deleted.end() ? 0 : it->second;
}

void RetentionSweeper::Schedule() {
    {
        std::lock_guard lock(state_->mu);
        if (state_->stopped) return;
    }
    auto self = shared_from_this();
    timer_.expires_after(options_.interval);
    timer_.async_wait([self](const boost::system::error_code& ec) {
        if (ec) return;
        self->Sweep([self](Status) { self->Schedule(); });
    });
}

void RetentionSweeper::Sweep(std::function<void(Status)> done) {
    {
        std::lock_guard lock(state_->mu);
        if (state_->stopped) {
            done(Unavailable("retention sweeper stopped"));
            return;
        }
        if (state_->sweeping) {  // a sweep is running: report when it ends
            state_->waiting.push_back(std::move(done));
            return;
        }
        state_->sweeping = true;
    }
    Step(0, std::nullopt, Status{}, std::move(done));
}

void RetentionSweeper::Step(
    size_t rule, std::optional<PurgeCursor> from, Status first_error, std::function<void(Status)> done
) {
    // Skip rules that keep forever; finish the sweep after the last rule.
    while (rule < rules_.size() && rules_[rule].ttl.count() <= 0) ++rule;
    if (rule >= rules_.size()) {
        std::vector<std::function<void(Status)>> waiting;
        {
            std::lock_guard lock(state_->mu);
            state_->sweeping = false;
            waiting.swap(state_->waiting);
        }
        done(first_error);
        for (auto& w : waiting) w(first_error);
        return;
    }
    const RetentionRule& r = rules_[rule];
    if (!from) {
        std::lock_guard lock(state_->mu);
        auto it = state_->cursor.find(r.name);
        from = r.resume && it != state_->cursor.end() ? it->second : PurgeCursor{};
    }
    const int64_t cutoff =
        ToMicros(clock_.Now()) - std::chrono::duration_cast<std::chrono::microseconds>(r.ttl).count();
    auto self = shared_from_this();
    r.purge(
        cutoff,
        *from,
        options_.batch,
        [self, rule, from = *from, first_error, done = std::move(done)](Result<PurgeStep> step) mutable {
            const RetentionRule& r = self->rules_[rule];
            {
                std::lock_guard lock(self->state_->mu);
                if (self->state_->stopped) {
                    self->state_->sweeping = false;
                    return;
                }
            }
            if (!step) {
                Log(*self->state_->log,
                    spdlog::level::warn,
                    "cannot purge old records",
                    {{"kind", r.name}, {"error", step.error().message}});
                if (first_error) first_error = step.error();
                return self->Step(rule + 1, std::nullopt, first_error, std::move(done));
            }
            // The next batch starts at the last score seen, past the records left there (those of the previous
            // batches too when the whole batch had that one score).
            PurgeCursor next;
            next.score = step->last_score;
            next.skip = step->left_at_last + (from.score == step->last_score ? from.skip : 0);
            {
                std::lock_guard lock(self->state_->mu);
                self->state_->deleted[r.name] += step->deleted;
                if (r.resume && !step->last_score.empty()) self->state_->cursor[r.name] = next;
            }
            if (step->deleted > 0) {
                Log(*self->state_->log,
                    spdlog::level::debug,
                    "purged old records",
                    {{"kind", r.name}, {"deleted", std::to_string(step->deleted)}});
            }
            if (step->visited < static_cast<int64_t>(self->options_.batch) || step->last_score.empty()) {
                return self->Step(rule + 1, std::nullopt, first_error, std::move(done));  // this kind is done
            }
            // More to visit: the next batch after a short pause, so that a backlog does not hog Redis.
            auto timer = std::make_shared<asio::steady_timer>(self->io_, self->options_.pause);
            timer->async_wait([self,
                               timer,
                               rule,
                               next,
                               first_error,
                               done = std::move(done)](const boost::system::error_code&) mutable {
                self->Step(rule, next, first_error, std::move(done));
            });
        }
    );
}

void RunPurgeScript(
    const Script& script,
    RedisClient& client,
    const std::string& zset,
    const std::string& prefix,
    int64_t cutoff_us,
    const PurgeCursor& from,
    size_t batch,
    std::vector<std::string> extra,
    std::function<void(Result<PurgeStep>)> done
) {
    std::vector<std::string> args = {
        prefix, from.score, "(" + std::to_string(cutoff_us), std::to_string(from.skip), std::to_string(batch)};
    for (auto& e : extra) args.push_back(std::move(e));
    script.Run(client, {zset}, std::move(args), [done = std::move(done)](Result<RedisReply> r) {
        if (!r) return done(r.error());
        if (r->IsError()) return done(Internal("redis: " + r->str));
        if (r->type != RedisReply::Type::kArray || r->elements.size() != 4)
            return done(Internal("redis: unexpected reply to a purge"));
        PurgeStep step;
        step.deleted = r->elements[0].integer;
        step.visited = r->elements[1].integer;
        step.last_score = r->elements[2].str;
        step.left_at_last = r->elements[3].integer;
        done(std::move(step));
    });
}

Result<std::chrono::seconds> ParseRetention(const std::string& text, const std::string& what) {
    auto bad = [&] {
        return InvalidArgument(
            what + ": expected a duration such as 30d, 12h, 90m, 45s or a number of days (0 keeps forever), got \"" +
            text + "\""
        );
    };
    if (text.empty()) return bad();
    int64_t n = 0;
    const char* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, n);
    if (ec != std::errc() || n < 0 || n > 36500LL * 86400) return bad();
    int64_t unit = 86400;
    if (p != end) {
        if (p + 1 != end) return bad();
        switch (*p) {
            case 'd':
                unit = 86400;
                break;
            case 'h':
                unit = 3600;
                break;
            case 'm':
                unit = 60;
                break;
            case 's':
                unit = 1;
                break;
            default:
                return bad();
        }
    }
    if (n > 36500LL * 86400 / unit) return bad();
    return std::chrono::seconds(n * unit);
}

}  // namespace squall::core
