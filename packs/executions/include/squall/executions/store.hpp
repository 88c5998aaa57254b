#pragma once

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "squall/core/clock.hpp"
#include "squall/core/model/model.hpp"
#include "squall/core/redis/client.hpp"
#include "squall/core/store/retention.hpp"

/// Executions in Redis: the records, their indexes, the request streams and the execution event stream. The
/// executions component owns these keys; nothing else writes them (docs/architecture.md lists every key).
namespace squall::executions {

using core::Json;

/// Key names under the endpoint's prefix. Every key that one script touches carries the hash tag `{x}`, so each
/// atomic step stays on one Redis Cluster slot (docs/delivery.md: one execution partition today).
class Keys {
public:
    explicit Keys(const std::string& prefix) : prefix_(prefix), p_(prefix + "{x}") {}
    std::string Execution(const std::string& id) const { return p_ + "exec:" + id; }
    std::string All() const { return p_ + "executions"; }
    std::string ByAction(const std::string& ref) const { return p_ + "executions:action:" + ref; }
    std::string ByStatus(const std::string& s) const { return p_ + "executions:status:" + s; }
    /// Executions of one user (`context.user`), whatever their status: a non-admin's list reads it (O(page)).
    std::string ByUser(const std::string& user) const { return p_ + "executions:user:" + user; }
    /// Counters for GET /metrics (hash): executions created (`created:<runner>`) and ended
    /// (`ended:<runner>:<status>`) by runner type, and the latency histograms of each stage (LatencyHistograms).
    /// Create and Transition count them in memory; the client flushes them once a second (core::DeferredCounters).
    std::string Metrics() const { return p_ + "metrics:executions"; }
    /// Executions a rule created (by rule ref), and those created for a trigger type's instances: written before
    /// 2026-12-07 for every execution, now only for one without a rule (ByTrigger); a rule's executions go to its
    /// facet. Still read and purged.
    std::string ByRule(const std::string& ref) const { return p_ + "executions:rule:" + ref; }
    std::string ByTrigger(const std::string& type) const { return p_ + "executions:trigger:" + type; }
    /// The executions a rule created, per (rule ref, trigger type, user): one index entry per execution where
    /// ByRule, ByTrigger and ByUser took three. A filter on any of the three reads the facets that match it
    /// (FacetSet lists them) with the older indexes (ExecutionStore::ListBlocking).
    std::string Facet(const std::string& rule, const std::string& trigger, const std::string& user) const {
        return FacetPrefix() + rule + "|" + trigger + "|" + user;
    }
    std::string FacetPrefix() const { return p_ + "executions:facet:"; }
    /// Set of every facet's key name (the create script adds the one it writes).
    std::string FacetSet() const { return p_ + "executions:facets"; }
    /// Executions of one action that ended in one final status (no in-flight status is indexed per action).
    std::string ByActionStatus(const std::string& ref, const std::string& s) const {
        return p_ + "executions:action:" + ref + ":status:" + s;
    }
    std::string Output(const std::string& id) const { return p_ + "out:" + id; }
    /// The requests of one runner pool (ExecutionRequest JSON in field `d`).
    std::string RequestStream(const std::string& pool) const { return p_ + "stream:executions:" + pool; }
    /// The execution event stream (ExecutionEvent JSON in field `d`). Written only while EventListeners exists.
    std::string Events() const { return p_ + "stream:execution-events"; }
    /// Present (with a TTL) while some API process has a subscriber that wants execution events (api EventHub, which
    /// sets it before a subscription starts and refreshes it): the create, transition and output scripts append to
    /// Events only then, so that an execution nobody watches costs no event.
    std::string EventListeners() const { return p_ + "events:listeners"; }
    /// What the notifier works off: the status event of each execution that finished while something listened to
    /// what it emits (its action has `notify`, or an enabled rule listens to core.st2.generic.actiontrigger). The
    /// transition script appends it with the event, so an execution nobody listens to costs the notifier nothing.
    std::string Notify() const { return p_ + "stream:notify"; }
    /// What the workflow engine works off: the final, `pending` (an inquiry) and `paused` (a subworkflow) events of
    /// each execution that has a parent (a workflow task) and the cancel/pause/resume events of executions in the
    /// `workflow` pool (workflows themselves). Appended by the transition script with the event, so an execution
    /// outside any workflow costs the engine nothing.
    std::string WorkflowEvents() const { return p_ + "stream:workflow-events"; }
    /// Announcements (the `announcement` runner: core.announcement, chatops.post_message/post_result), JSON
    /// {route, payload, trace_context, execution_id, action_ref} in field `d`; the API's event stream reads it with
    /// the execution events (one XREAD, same slot) and shows `st2.announcement__<route>`. Trimmed to ~10,000.
    std::string Announcements() const { return p_ + "stream:announcements"; }
    std::string Dedupe(const std::string& key) const { return p_ + "dedupe:" + key; }
    /// action.retry, durably (docs/delivery.md "Policies"): the ids of executions whose retry is due at the score
    /// (epoch ms), and the request (parameters in clear) of each claimed execution of an action with the policy.
    std::string RetryDue() const { return p_ + "retry:due"; }
    std::string RetryRequest(const std::string& id) const { return p_ + "retry:req:" + id; }
    /// The ids of the executions created with this one as parent (workflow tasks), in creation order.
    std::string Children(const std::string& id) const { return p_ + "children:" + id; }
    /// The executions that have a parent (workflow tasks), scored as All(): a list of top-level executions
    /// (`parent=null`) is All() without them. Written from 2026-12-07 on: earlier tasks are not in it.
    std::string WithParent() const { return p_ + "executions:with-parent"; }
    /// Control messages (cancel, pause, resume) for one runner process. Written after the status change that
    /// asks for them, as a second, idempotent step (it is not on the `{x}` slot).
    std::string Control(const std::string& runner) const { return prefix_ + "stream:control:" + runner; }
    /// Prefix of the key names, hash tag included (the scripts derive index names from it).
    const std::string& tagged_prefix() const { return p_; }

private:
    std::string prefix_;
    std::string p_;
};

/// The id of an execution created under an idempotency key (a trigger instance and a rule, a workflow task, a
/// retry): derived from the key, so that a second creation finds the first record by its id, without a key of its
/// own to write and expire. It begins with the first 8 hex digits of `time_of` (an id made by core::NewId begins
/// with its creation time in seconds: the trigger instance's, the workflow's), so that such ids sort by time with
/// the others; the other 16 are the key's SHA-256.
std::string KeyedExecutionId(const std::string& key, const std::string& time_of);

/// Everything needed to create one execution.
struct NewExecution {
    core::ExecutionRequest request;  ///< what the runner gets (parameters in clear)
    Json action = Json::object();    ///< action snapshot for the stored record (secret defaults masked)
    std::string action_text;         ///< `action` as JSON text when the caller has it already ("": dumped on create)
    Json masked_parameters = Json::object();
    /// The parameters as the caller gave them, secrets masked: what a re-run starts from.
    Json given_parameters = Json::object();
    std::string pool = "default";
    std::string parent;     ///< parent execution id (workflow task), empty otherwise
    Json trigger_instance;  ///< snapshot when created by a rule (null otherwise)
    Json rule;              ///< snapshot when created by a rule (null otherwise)
    /// Non-empty: an idempotency key, and request.execution_id is KeyedExecutionId(dedupe_key, ...). Creating an id
    /// whose record exists writes nothing and answers that id: creating twice under one key makes one execution.
    std::string dedupe_key;
    /// When the trigger instance that caused it occurred (µs since the epoch; 0: no trigger): the start of the
    /// trigger→scheduled and trigger→done latencies.
    int64_t trigger_us = 0;
    /// Set when the action's result is known without running it (core.noop; ExecutionService::SetKnownResults):
    /// the execution is created already ended with this result, its claim and end in the create script, and no
    /// request is queued for a runner (docs/decisions.md, "Settled at creation").
    std::optional<core::ExecutionResult> settled;
    /// Who settled it (the creating process): its `runner_id`, as the runner that claims an execution stores its own.
    std::string settled_by;
};

/// The latency histograms of executions (Keys::Metrics): their stages and bucket bounds. A sample goes to field
/// `lat:<stage>:<i>` (i: the first bound, 1-based, it does not exceed; size()+1 past the last) and its value to
/// `lat:<stage>:sum_us`. Buckets are not cumulative in Redis; GET /metrics sums them.
struct LatencyHistograms {
    /// trigger→scheduled (create), scheduled→running (the runner's claim), running→done and trigger→done (final).
    static constexpr std::array<const char*, 4> kStages = {
        "trigger_scheduled", "scheduled_running", "running_done", "trigger_done"};
    /// Upper bounds in seconds; +Inf is implied.
    static constexpr std::array<double, 16> kBuckets = {
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0};
    /// Adds one sample of `micros` (negative: 0) to `stage`'s histogram in hash `hash`, in memory (two deltas).
    static void Observe(core::DeferredCounters& counters, const std::string& hash, const char* stage, int64_t micros);
};

/// Fields written by a status transition besides status and log.
using FieldMap = std::vector<std::pair<std::string, std::string>>;

/// The outcome of a transition that reached the execution.
struct TransitionResult {
    bool applied = false;   ///< false: the status machine (or `only_from`) refused it
    std::string previous;   ///< the status before (the current one when refused)
    std::string runner_id;  ///< the runner process that claimed the execution, if any
};

/// "execution X cannot go from A to B": the error for a refused transition.
Error RefusedTransition(const std::string& id, const std::string& from, const std::string& to);

/// List filters (empty = any).
struct ListFilter {
    std::string action;
    std::string status;
    std::string parent;   ///< the workflow whose task executions to list
    std::string rule;     ///< the ref of the rule that created it
    std::string trigger;  ///< the trigger type of the instance its rule matched
    std::string user;     ///< `context.user` (a non-admin's own list)
    // Without an index of their own (ListBlocking: checked on each record of the narrowest index).
    bool top_level = false;            ///< no parent (StackStorm's `parent=null`: what `st2 execution list` asks for)
    std::string runner;                ///< the runner type
    std::optional<int64_t> after_us;   ///< created after (exclusive; StackStorm's `timestamp_gt`)
    std::optional<int64_t> before_us;  ///< created before (exclusive; `timestamp_lt`)
    bool oldest_first = false;         ///< `sort_asc`
    /// Only these executions (e.g. those a trigger instance's enforcements created); unset: any.
    std::optional<std::vector<std::string>> ids;
    /// The top-level attributes of the records that the caller keeps (`include_attributes`: `action` for
    /// `action.ref`; empty: all) and those it drops whole (`exclude_attributes`). The others may be left out of
    /// the records listed, and their stored JSON is then not parsed. `id` is always there.
    std::vector<std::string> only;
    std::vector<std::string> without;
};

/// Records, indexes and streams of executions. Thread-safe (the client is).
class ExecutionStore {
public:
    /// `clock` (borrowed) stamps every stored time.
    ExecutionStore(core::RedisClientPtr client, const core::Clock& clock);

    /// Stores the record (status scheduled, log requested→scheduled), indexes it, XADDs the request to the pool's
    /// stream and a `create` event to the event stream, all in one script. Calls back with the execution id (the
    /// existing one when the dedupe key was seen before; nothing is written then).
    void Create(const NewExecution& e, std::function<void(Result<std::string>)> cb);
    Result<std::string> CreateBlocking(const NewExecution& e);

    /// Moves `id` to `to` when the status machine (status.hpp) allows it from the current status and, if
    /// `only_from` is not empty, the current status is one of them. The same script appends {timestamp, status}
    /// to the record's log, sets `fields`, moves the status indexes and appends a `status` event to the event
    /// stream. Errors: kNotFound when the execution does not exist; Redis failures.
    void Transition(
        const std::string& id,
        const std::string& to,
        FieldMap fields,
        std::function<void(Result<TransitionResult>)> cb,
        const std::vector<std::string>& only_from = {}
    );
    /// Two transitions in one step: `id` goes to `via`, then at once to `to` (the claim and the end of a run whose
    /// result is known without running anything, core.noop). Both must be edges of the status machine; the log gets
    /// both entries and the event stream both `status` events, as two Transition calls would leave them. Not for an
    /// execution under a concurrency policy (the script refuses it: its claim counts a place in a slot).
    void TransitionVia(
        const std::string& id,
        const std::string& via,
        const std::string& to,
        FieldMap fields,
        std::function<void(Result<TransitionResult>)> cb,
        const std::vector<std::string>& only_from = {}
    );
    Result<TransitionResult> TransitionBlocking(
        const std::string& id, const std::string& to, FieldMap fields, const std::vector<std::string>& only_from = {}
    );

    /// The execution as the API shows it, or kNotFound.
    Result<Json> GetBlocking(const std::string& id);
    /// Newest first. Every filter combination reads one index: O(page), whatever the history's size. An action with an
    /// in-flight status reads that status's index whole and filters it (it holds only the work not finished yet).
    /// `rule` or `trigger` alone read their own index (O(page)); combined with each other or with `action` or
    /// `status`, the newest kCombinedScan of the narrowest index are read and filtered (`total` counts the matches
    /// among them). A `user` alone reads the user's index (O(page)); with any other filter it reads the user's index
    /// whole and filters it (O(that user's executions)). The fields without an index (top_level, runner, time bounds,
    /// oldest_first) are checked on the newest (oldest) kCombinedScan of the narrowest index within the time bounds;
    /// `parent` and `ids` on those executions alone.
    Result<std::vector<Json>> ListBlocking(const ListFilter& filter, size_t offset, size_t limit, size_t* total);
    static constexpr size_t kCombinedScan = 10000;
    /// Output lines [{output_type, data, timestamp}] stored for `id`.
    Result<std::vector<Json>> OutputBlocking(const std::string& id);
    /// Appends output lines (JSON texts) and one `output` event carrying them, in one script. Fire and forget;
    /// errors are logged.
    void AppendOutput(const std::string& id, const std::vector<std::string>& json_lines);

    /// Retention (core/store/retention.hpp): removes up to `batch` executions created before `cutoff_us`, oldest
    /// first, that have ended (and whose parent has ended): record, output, children list and index entries.
    void Purge(
        int64_t cutoff_us,
        const core::PurgeCursor& from,
        size_t batch,
        std::function<void(Result<core::PurgeStep>)> done
    );
    /// Removes the output of ended executions created before `cutoff_us` (their records stay).
    void PurgeOutput(
        int64_t cutoff_us,
        const core::PurgeCursor& from,
        size_t batch,
        std::function<void(Result<core::PurgeStep>)> done
    );

    /// XADD of a control message (cancel, pause, resume) for `runner`; the stream expires a day after its last
    /// message, so a dead runner's leaves nothing behind.
    void SendControl(const std::string& runner, const Json& message, std::function<void(Status)> cb);
    Status SendControlBlocking(const std::string& runner, const Json& message);

    const Keys& keys() const { return keys_; }
    core::RedisClient& client() { return *client_; }
    const core::Clock& clock() const { return clock_; }

    /// Builds the API JSON of an execution from its hash fields.
    static Json FromHash(const core::RedisReply& hgetall);

private:
    core::RedisClientPtr client_;
    const core::Clock& clock_;
    Result<std::vector<Json>> ListInFlightBlocking(
        const ListFilter& filter, size_t offset, size_t limit, size_t* total
    );
    /// The indexes that hold every execution with the filter's rule, trigger type and user (those given): the facets
    /// that match, and the index of one of them from before facets (or of executions without a rule). Exact when
    /// one of the three is given; a superset, to be filtered by field, when several are.
    Result<std::vector<std::string>> SourcesBlocking(const ListFilter& filter);
    /// The HGETALL replies of the page [offset, offset + limit) of the union of `zsets` (which share no member),
    /// newest first; *total = the union's size.
    Result<std::vector<core::RedisReply>> MergedPageBlocking(
        const std::vector<std::string>& zsets, size_t offset, size_t limit, size_t* total
    );
    /// A filter with a field that has no index (ListFilter::top_level ... ids): the candidates (`ids`, the parent's
    /// children, or the newest kCombinedScan of the narrowest index within the time bounds) checked one by one.
    Result<std::vector<Json>> ListUnindexedBlocking(
        const ListFilter& filter, size_t offset, size_t limit, size_t* total
    );
    /// One page of `zset` within the filter's time bounds in its order (ZRANGE BYSCORE, ZCOUNT): O(offset + page).
    Result<std::vector<Json>> PageByScoreBlocking(
        const std::string& zset, const ListFilter& filter, size_t offset, size_t limit, size_t* total
    );
    /// One page of the top-level executions (All() less Keys::WithParent()) within the filter's time bounds:
    /// O(offset + page + the tasks among them).
    Result<std::vector<Json>> TopLevelPageBlocking(
        const ListFilter& filter, size_t offset, size_t limit, size_t* total
    );
    /// The newest (ListFilter::oldest_first: oldest) `max_scan` ids of each of `zsets` within the filter's time bounds
    /// whose records match every field of `filter`, in that order, then their page.
    Result<std::vector<Json>> ScanFilteredBlocking(
        const std::vector<std::string>& zsets,
        size_t max_scan,
        const ListFilter& filter,
        size_t offset,
        size_t limit,
        size_t* total
    );
    /// The page [offset, offset + limit) of `matching` (creation time, id) in the filter's order; *total = its size.
    Result<std::vector<Json>> PageOfMatches(
        std::vector<std::pair<double, std::string>> matching,
        const ListFilter& filter,
        size_t offset,
        size_t limit,
        size_t* total
    );
    /// The records of a page's HGETALL replies (the attributes `filter` wants), workflows' children read with them.
    Result<std::vector<Json>> RecordsOfPage(const std::vector<core::RedisReply>& rows, const ListFilter& filter);
    /// The records of ids[offset, offset + limit) (the attributes `filter` wants), in one pipeline;
    /// *total = ids.size().
    Result<std::vector<Json>> FetchPage(
        const std::vector<std::string>& ids, const ListFilter& filter, size_t offset, size_t limit, size_t* total
    );

    Keys keys_;
    std::string listened_;  ///< packs::ContentKeys::ListenedTriggerTypes()
};

}  // namespace squall::executions
