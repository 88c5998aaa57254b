#pragma once

// Retention (docs/delivery.md "Retention"): history is kept for a configurable time and then purged in small
// batches by the `gc` role, so that Redis's memory stays bounded however long the server runs. Each store knows how
// to purge its own records (ExecutionStore, TriggerStore, EnforcementStore); this sweeper only paces them.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "squall/core/asio.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/error.hpp"
#include "squall/core/redis/client.hpp"

namespace squall::core {

/// Where a purge continues: records are visited oldest first through a sorted set scored by creation time in
/// microseconds. `score` ("-inf" at first) is inclusive and `skip` records at that score are passed over, since
/// several records can share one microsecond (and all do under a test's manual clock).
struct PurgeCursor {
    std::string score = "-inf";
    int64_t skip = 0;
};

/// What one purge call did: `last_score` is the score of the last record visited and `left_at_last` how many of the
/// visited records with that score are still in the set (kept, or not removed by this kind of purge).
struct PurgeStep {
    int64_t deleted = 0;
    int64_t visited = 0;
    std::string last_score;
    int64_t left_at_last = 0;
};

/// Removes up to `batch` records created before `cutoff_us`, starting at `from`. Records still in use (an
/// execution in flight) are visited and kept.
using PurgeFn = std::function<
    void(int64_t cutoff_us, const PurgeCursor& from, size_t batch, std::function<void(Result<PurgeStep>)> done)>;

/// One kind of record and how long it is kept.
struct RetentionRule {
    std::string name;            ///< for logs: "executions", "execution output", ...
    std::chrono::seconds ttl{};  ///< 0: kept forever
    PurgeFn purge;
    /// Resume where the previous sweep stopped instead of starting from the oldest record again: for purges that
    /// leave the visited records in place (output is removed, the execution stays).
    bool resume = false;
};

struct RetentionOptions {
    std::chrono::milliseconds interval{60000};  ///< between sweeps
    size_t batch = 500;                         ///< records per purge call (one short Redis script)
    /// A pause between two batches of one sweep, so that a large backlog is purged without hogging Redis.
    std::chrono::milliseconds pause{5};
};

/// Runs every rule in turn, batch after batch, on the io_context (never blocking it), every `interval`.
class RetentionSweeper : public std::enable_shared_from_this<RetentionSweeper> {
public:
    static std::shared_ptr<RetentionSweeper> Create(
        asio::io_context& io, const Clock& clock, std::vector<RetentionRule> rules, RetentionOptions options = {}
    );
    /// Sweeps at once, then every interval.
    void Start();
    void Stop();
    /// Calls `done` after one whole sweep (every rule to its end); for tests and `squall gc`-like tools. Runs on the
    /// io_context like the periodic sweeps (never two at once: it waits for a running one).
    void SweepNow(std::function<void(Status)> done);
    /// Records deleted since start, per rule name.
    int64_t Deleted(const std::string& rule) const;

private:
    struct State;
    RetentionSweeper(asio::io_context& io, const Clock& clock, std::vector<RetentionRule> rules, RetentionOptions o);
    void Schedule();
    void Sweep(std::function<void(Status)> done);
    /// `from` null: the rule's starting point (the oldest record, or where the previous sweep stopped).
    void Step(size_t rule, std::optional<PurgeCursor> from, Status first_error, std::function<void(Status)> done);

    asio::io_context& io_;
    const Clock& clock_;
    std::vector<RetentionRule> rules_;
    RetentionOptions options_;
    asio::steady_timer timer_;
    std::shared_ptr<State> state_;
};

class Script;
/// Runs a purge script: KEYS[1] is the sorted set visited, ARGV 1 the tagged key prefix, 2 the cursor's score, 3 the
/// cutoff (exclusive), 4 the cursor's skip, 5 the batch, then `extra`; the script returns {deleted, visited, last
/// score, left at the last score}. The one place that builds the call and reads the reply for every store's purge.
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
);

/// "30d", "12h", "90m", "45s", or a bare number of days (StackStorm's garbage collector counts TTLs in days); "0"
/// keeps forever. kInvalidArgument naming `what` otherwise.
Result<std::chrono::seconds> ParseRetention(const std::string& text, const std::string& what);

}  // namespace squall::core
