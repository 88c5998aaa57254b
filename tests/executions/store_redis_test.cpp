// The executions store against a real redis-server: atomic create, the one status machine, the execution event
// stream written by the same scripts, O(page) list indexes and safe trimming of the event stream.
#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <map>
#include <set>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/core/redis/stream.hpp"
#include "squall/executions/events.hpp"
#include "squall/executions/policies.hpp"
#include "squall/executions/status.hpp"
#include "squall/executions/store.hpp"
#include "squall/packs/content_store.hpp"
#include "wait.hpp"

namespace squall::executions {
namespace {

using core::RedisReply;

class ExecutionStoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        client_ = core::RedisClient::Create(io_, server_.Endpoint("exec"));
        store_.emplace(client_, clock_);
        // As if an API process had a stream subscriber (api EventHub): the scripts append the execution events.
        ASSERT_TRUE(client_->CommandBlocking({"SET", store_->keys().EventListeners(), "1"}));
    }
    void TearDown() override {
        store_.reset();
        client_.reset();
        runner_.Drain();
    }

    NewExecution Make(const std::string& action, const std::string& dedupe = "") {
        NewExecution e;
        e.request.execution_id = dedupe.empty() ? core::NewId() : KeyedExecutionId(dedupe, "");
        e.request.action_ref = action;
        e.request.runner_type = "noop";
        e.request.parameters = {{"token", "s3cret"}, {"x", 1}};
        e.request.secret_parameters = {"token"};
        e.action = {{"ref", action}, {"runner_type", "noop"}};
        e.masked_parameters = {{"token", "********"}, {"x", 1}};
        e.dedupe_key = dedupe;
        return e;
    }

    /// Every event on the stream, oldest first.
    std::vector<ExecutionEvent> Events() {
        Result<RedisReply> r = client_->CommandBlocking({"XRANGE", store_->keys().Events(), "-", "+"});
        std::vector<ExecutionEvent> out;
        for (const auto& entry : r->elements) out.push_back(*ExecutionEvent::Parse(entry.elements[1].elements[1].str));
        return out;
    }

    /// The event stream holds exactly: the create, the claim by `runner`, the end at `end` (a core.noop's).
    void ExpectCreatedClaimedBy(const std::string& runner, const std::string& end) {
        std::vector<ExecutionEvent> events = Events();
        ASSERT_EQ(events.size(), 3u);
        EXPECT_EQ(events[1].kind, "status");
        EXPECT_EQ(events[1].from, "scheduled");
        EXPECT_EQ(events[1].to, "running");
        EXPECT_EQ(events[1].runner, runner);
        EXPECT_EQ(events[2].from, "running");
        EXPECT_EQ(events[2].to, end);
        EXPECT_EQ(events[2].action, "core.noop");
    }

    /// The /metrics counters hash once one noop end is counted (they are flushed once a second), or as it is after 10
    /// s.
    std::map<std::string, std::string> MetricsOnceEnded() {
        std::map<std::string, std::string> f;
        test::WaitFor(
            [&] {
                Result<RedisReply> h = client_->CommandBlocking({"HGETALL", store_->keys().Metrics()});
                f.clear();
                for (size_t i = 0; h && i + 1 < h->elements.size(); i += 2)
                    f[h->elements[i].str] = h->elements[i + 1].str;
                return f["ended:noop:succeeded"] == "1";
            },
            std::chrono::seconds(10)
        );
        return f;
    }

    test::RedisServer server_;
    test::IoRunner runner_{1};
    asio::io_context& io_ = runner_.io();
    core::ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000))};
    core::RedisClientPtr client_;
    std::optional<ExecutionStore> store_;
};

TEST(StatusMachineTest, TableMatchesStackStormsLifecycle) {
    EXPECT_TRUE(CanTransition("scheduled", "running"));
    EXPECT_TRUE(CanTransition("running", "canceling"));
    EXPECT_TRUE(CanTransition("canceling", "canceled"));
    EXPECT_TRUE(CanTransition("pending", "succeeded"));
    EXPECT_TRUE(CanTransition("paused", "resuming"));
    EXPECT_FALSE(CanTransition("running", "running"));
    EXPECT_FALSE(CanTransition("scheduled", "succeeded"));  // nothing ran
    EXPECT_FALSE(CanTransition("paused", "running"));       // resuming first
    for (const char* final_status : {"succeeded", "failed", "timeout", "canceled", "abandoned"}) {
        EXPECT_TRUE(IsFinal(final_status));
        for (const auto& s : core::status::All())
            EXPECT_FALSE(CanTransition(final_status, s)) << final_status << "→" << s;
    }
    // Every status named in the table is a StackStorm status, and the Lua string holds every edge.
    const std::string lua = TransitionsAsLuaString();
    for (const auto& [from, to] : Transitions()) {
        EXPECT_NE(std::find(core::status::All().begin(), core::status::All().end(), from), core::status::All().end());
        EXPECT_NE(std::find(core::status::All().begin(), core::status::All().end(), to), core::status::All().end());
        EXPECT_NE(lua.find("," + std::string(from) + ">" + std::string(to) + ","), std::string::npos);
    }
}

TEST_F(ExecutionStoreTest, CreateStoresRecordEnqueuesRequestAndAppendsAnEvent) {
    NewExecution e = Make("core.noop");
    Result<std::string> id = store_->CreateBlocking(e);
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_EQ(*id, e.request.execution_id);
    Json got = *store_->GetBlocking(*id);
    EXPECT_EQ(got["status"], "scheduled");
    EXPECT_EQ(got["parameters"]["token"], "********");
    EXPECT_EQ(got["start_timestamp"], core::FormatIsoTimestamp(clock_.Now()));  // the injected clock
    ASSERT_EQ(got["log"].size(), 2u);
    EXPECT_EQ(got["log"][0]["status"], "requested");
    // The request on the stream has the parameters in clear (it is deleted once acknowledged).
    Result<RedisReply> entries =
        client_->CommandBlocking({"XRANGE", store_->keys().RequestStream("default"), "-", "+"});
    ASSERT_EQ(entries->elements.size(), 1u);
    EXPECT_EQ(Json::parse(entries->elements[0].elements[1].elements[1].str)["parameters"]["token"], "s3cret");
    std::vector<ExecutionEvent> events = Events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, "create");
    EXPECT_EQ(events[0].execution_id, *id);
    EXPECT_EQ(events[0].to, "scheduled");
    EXPECT_EQ(events[0].action, "core.noop");
}

TEST_F(ExecutionStoreTest, DedupeKeyCreatesOnceAndWritesNothingTheSecondTime) {
    Result<std::string> a = store_->CreateBlocking(Make("core.noop", "ti1/rule"));
    Result<std::string> b = store_->CreateBlocking(Make("core.noop", "ti1/rule"));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b);
    EXPECT_EQ(client_->CommandBlocking({"XLEN", store_->keys().RequestStream("default")})->integer, 1);
    EXPECT_EQ(Events().size(), 1u);
    // The id is derived from the key: no key of its own is written.
    EXPECT_EQ(client_->CommandBlocking({"EXISTS", store_->keys().Dedupe("ti1/rule")})->integer, 0);
}

TEST_F(ExecutionStoreTest, ADedupeKeyOfAnEarlierVersionStillAnswersItsExecution) {
    // Before ids were derived from the key, the script stored key → id for 7 days: a redelivery across the upgrade
    // finds the execution the earlier version created.
    const std::string first = *store_->CreateBlocking(Make("core.noop"));
    ASSERT_TRUE(client_->CommandBlocking({"SET", store_->keys().Dedupe("enf:ti2/r"), first, "EX", "604800"}));
    Result<std::string> again = store_->CreateBlocking(Make("core.noop", "enf:ti2/r"));
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, first);
    EXPECT_EQ(client_->CommandBlocking({"XLEN", store_->keys().RequestStream("default")})->integer, 1);
}

// action.retry as StackStorm applies it: on the statuses it names, up to max_retry_count, and never to an Orquesta
// task (its workflow has taken the failure already; the task's own `retry` is the way there). An action-chain's
// task has no `orquesta` context and is retried, as in StackStorm.
TEST(RetryPolicyTest, TakesTheStatusesItNamesUpToItsCountAndNeverAnOrquestaTask) {
    core::ExecutionRequest r;
    r.action = {{"policies", {{"retry", {{"retry_on", "failure"}, {"max_retry_count", 2}}}}}};
    EXPECT_TRUE(RetryWanted(r, "failed"));
    EXPECT_TRUE(RetryWanted(r, "abandoned"));
    EXPECT_FALSE(RetryWanted(r, "timeout"));
    EXPECT_FALSE(RetryWanted(r, "succeeded"));
    r.context = {{"policies", {{"retry", {{"retry_count", 2}}}}}};
    EXPECT_FALSE(RetryWanted(r, "failed"));
    r.context = {{"parent", {{"execution_id", "p"}}}, {"chain", {{"workflow_execution_id", "p"}}}};
    EXPECT_TRUE(RetryWanted(r, "failed"));
    r.context = {{"parent", {{"execution_id", "p"}}}, {"orquesta", {{"workflow_execution_id", "p"}, {"task_id", "t"}}}};
    EXPECT_FALSE(RetryWanted(r, "failed"));
}

TEST(KeyedExecutionIdTest, IsTheKeysAndBeginsWithTheTimeOfTheIdGiven) {
    const std::string ti = core::NewId();
    const std::string a = KeyedExecutionId("enf:" + ti + "/p.r", ti);
    EXPECT_EQ(a, KeyedExecutionId("enf:" + ti + "/p.r", ti));
    EXPECT_NE(a, KeyedExecutionId("enf:" + ti + "/p.other", ti));
    ASSERT_EQ(a.size(), 24u);
    EXPECT_EQ(a.substr(0, 8), ti.substr(0, 8));
    EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
    // Without an id to take the time from (or one that is not hex), the key's hash alone.
    EXPECT_EQ(KeyedExecutionId("k", "").size(), 24u);
    EXPECT_EQ(KeyedExecutionId("k", ""), KeyedExecutionId("k", "not-hex!"));
}

TEST_F(ExecutionStoreTest, TransitionsFollowTheStatusMachineAndEmitOneEventEach) {
    const std::string id = *store_->CreateBlocking(Make("core.noop"));
    Result<TransitionResult> claim = store_->TransitionBlocking(id, "running", {{"runner_id", "r1"}}, {"scheduled"});
    ASSERT_TRUE(claim);
    EXPECT_TRUE(claim->applied);
    EXPECT_EQ(claim->previous, "scheduled");
    EXPECT_EQ(claim->runner_id, "r1");
    // A second claim loses: running → running is not a transition.
    Result<TransitionResult> again = store_->TransitionBlocking(id, "running", {{"runner_id", "r2"}});
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->applied);
    EXPECT_EQ(again->previous, "running");
    EXPECT_EQ(again->runner_id, "r1");
    EXPECT_EQ(
        RefusedTransition(id, again->previous, "running").message,
        "execution \"" + id + "\" cannot go from running to running"
    );
    // only_from narrows what the table allows.
    EXPECT_FALSE(store_->TransitionBlocking(id, "canceled", {}, {"scheduled"})->applied);
    ASSERT_TRUE(store_->TransitionBlocking(id, "succeeded", {{"result", R"({"a":1})"}})->applied);
    // Nothing leaves a final status.
    for (const char* to : {"running", "failed", "canceling", "scheduled"})
        EXPECT_FALSE(store_->TransitionBlocking(id, to, {})->applied) << to;
    Json e = *store_->GetBlocking(id);
    EXPECT_EQ(e["status"], "succeeded");
    EXPECT_EQ(e["result"]["a"], 1);
    EXPECT_EQ(e["liveaction"]["runner_info"]["hostname"], "r1");
    ASSERT_EQ(e["log"].size(), 4u);
    Result<TransitionResult> missing = store_->TransitionBlocking("nope", "running", {});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
    // One event per applied change, in order, none for refusals.
    ExpectCreatedClaimedBy("r1", "succeeded");
}

// TransitionVia: the claim and the end of a run whose result is known without running (core.noop), in one step
// that leaves what two transitions would: the log's two entries, both events in order, the indexes of the end.
TEST_F(ExecutionStoreTest, ATransitionViaAStatusLeavesWhatTwoTransitionsWould) {
    const auto via = [&](const std::string& id, const std::string& to, FieldMap fields) {
        return core::WaitForCallback<TransitionResult>([&](auto done) {
            store_->TransitionVia(id, "running", to, std::move(fields), std::move(done), {"scheduled"});
        });
    };
    NewExecution e = Make("core.noop");
    e.trigger_us = core::ToMicros(clock_.Now()) - 3000;
    const std::string id = *store_->CreateBlocking(e);
    clock_.Advance(std::chrono::milliseconds(40));
    Result<TransitionResult> r = via(id, "succeeded", {{"runner_id", "r1"}, {"result", R"({"a":1})"}});
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->applied);
    EXPECT_EQ(r->previous, "scheduled");
    EXPECT_EQ(r->runner_id, "r1");
    Json rec = *store_->GetBlocking(id);
    EXPECT_EQ(rec["status"], "succeeded");
    EXPECT_EQ(rec["result"]["a"], 1);
    EXPECT_EQ(rec["liveaction"]["runner_info"]["hostname"], "r1");
    std::vector<std::string> log;
    for (const auto& l : rec["log"]) log.push_back(l["status"]);
    EXPECT_EQ(log, (std::vector<std::string>{"requested", "scheduled", "running", "succeeded"}));
    ExpectCreatedClaimedBy("r1", "succeeded");
    for (const char* status : {"scheduled", "running"}) {
        EXPECT_EQ(
            client_->CommandBlocking({"ZSCORE", store_->keys().ByStatus(status), id})->type, RedisReply::Type::kNil
        ) << status;
    }
    EXPECT_NE(
        client_->CommandBlocking({"ZSCORE", store_->keys().ByStatus("succeeded"), id})->type, RedisReply::Type::kNil
    );
    // Refused as a whole when either step is not an edge, or when only_from does not hold: nothing written.
    r = via(id, "succeeded", {{"runner_id", "r2"}});
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->applied);
    EXPECT_EQ(r->previous, "succeeded");
    const std::string other = *store_->CreateBlocking(Make("core.noop"));
    EXPECT_FALSE(via(other, "scheduled", {})->applied) << "running → scheduled is no edge";
    EXPECT_EQ(store_->GetBlocking(other)->at("status"), "scheduled");
    EXPECT_EQ(Events().size(), 4u);
    // Counted as the two transitions: scheduled → running 40 ms, running → done 0 µs, trigger → done 43 ms.
    std::map<std::string, std::string> f = MetricsOnceEnded();
    ASSERT_EQ(f["ended:noop:succeeded"], "1");
    EXPECT_EQ(f["lat:scheduled_running:sum_us"], "40000");
    EXPECT_EQ(f["lat:running_done:1"], "1") << "one sample, in the first bucket";
    EXPECT_TRUE(f["lat:running_done:sum_us"].empty() || f["lat:running_done:sum_us"] == "0");
    EXPECT_EQ(f["lat:trigger_done:sum_us"], "43000");
}

// A settled execution (core.noop: its result known without running) is created ended: the record, log, events,
// indexes and counters its claim and end would have left, and no request for a runner. Created again under its
// key, nothing more is written.
TEST_F(ExecutionStoreTest, ASettledExecutionIsCreatedEndedWithWhatAClaimAndEndWouldLeave) {
    NewExecution e = Make("core.noop", "enf:ti-1/bench.rule");
    e.trigger_us = core::ToMicros(clock_.Now()) - 3000;
    e.settled = core::ExecutionResult{"succeeded", {{"succeeded", true}, {"return_code", 0}}};
    e.settled_by = "host-1-rules";
    const std::string id = *store_->CreateBlocking(e);
    ASSERT_EQ(*store_->CreateBlocking(e), id);
    Json rec = *store_->GetBlocking(id);
    EXPECT_EQ(rec["status"], "succeeded");
    EXPECT_EQ(rec["result"]["return_code"], 0);
    EXPECT_EQ(rec["end_timestamp"], rec["start_timestamp"]);
    EXPECT_EQ(rec["liveaction"]["runner_info"]["hostname"], "host-1-rules") << "the process that settled it";
    std::vector<std::string> log;
    for (const auto& l : rec["log"]) log.push_back(l["status"]);
    EXPECT_EQ(log, (std::vector<std::string>{"requested", "scheduled", "running", "succeeded"}));
    std::vector<ExecutionEvent> events = Events();
    ASSERT_EQ(events.size(), 3u) << "the create, running and the end; once";
    EXPECT_EQ(events[0].kind, event_kind::kCreate);
    EXPECT_EQ(events[1].from, "scheduled");
    EXPECT_EQ(events[1].to, "running");
    EXPECT_EQ(events[2].from, "running");
    EXPECT_EQ(events[2].to, "succeeded");
    EXPECT_EQ(events[2].execution_id, id);
    EXPECT_EQ(events[1].runner, "host-1-rules");
    EXPECT_EQ(events[2].runner, "host-1-rules");
    EXPECT_EQ(client_->CommandBlocking({"XLEN", store_->keys().RequestStream("default")})->integer, 0)
        << "nothing for a runner to run";
    EXPECT_EQ(
        client_->CommandBlocking({"ZSCORE", store_->keys().ByStatus("scheduled"), id})->type, RedisReply::Type::kNil
    );
    for (const std::string& index :
         {store_->keys().ByStatus("succeeded"), store_->keys().ByActionStatus("core.noop", "succeeded")}) {
        EXPECT_NE(client_->CommandBlocking({"ZSCORE", index, id})->type, RedisReply::Type::kNil) << index;
    }
    // Nothing listens for the action trigger and the action has no notify: the notifier gets nothing.
    EXPECT_EQ(client_->CommandBlocking({"XLEN", store_->keys().Notify()})->integer, 0);
    std::map<std::string, std::string> f = MetricsOnceEnded();
    ASSERT_EQ(f["ended:noop:succeeded"], "1");
    EXPECT_EQ(f["created:noop"], "1");
    EXPECT_EQ(f["lat:running_done:1"], "1");
    EXPECT_EQ(f["lat:trigger_done:sum_us"], "3000");

    // An action with notify: its final event goes to the notifier, as the end's transition would send it.
    NewExecution n = Make("core.noop");
    n.action["notify"] = {{"on-complete", {{"routes", {"slack"}}}}};
    n.settled = core::ExecutionResult{"succeeded", Json::object()};
    const std::string notified = *store_->CreateBlocking(n);
    Result<RedisReply> queued = client_->CommandBlocking({"XRANGE", store_->keys().Notify(), "-", "+"});
    ASSERT_EQ(queued->elements.size(), 1u);
    Result<ExecutionEvent> final_event = ExecutionEvent::Parse(queued->elements[0].elements[1].elements[1].str);
    EXPECT_EQ(final_event->execution_id, notified);
    EXPECT_EQ(final_event->to, "succeeded");
}

TEST_F(ExecutionStoreTest, EveryFilterCombinationReadsOneIndexNewestFirst) {
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) {
        clock_.Advance(std::chrono::seconds(1));
        ids.push_back(*store_->CreateBlocking(Make(i % 2 ? "core.local" : "core.noop")));
    }
    ASSERT_TRUE(store_->TransitionBlocking(ids[1], "running", {})->applied);
    ASSERT_TRUE(store_->TransitionBlocking(ids[3], "running", {})->applied);
    ASSERT_TRUE(store_->TransitionBlocking(ids[3], "failed", {})->applied);
    size_t total = 0;
    Result<std::vector<Json>> all = store_->ListBlocking({}, 0, 4, &total);
    EXPECT_EQ(total, 6u);
    ASSERT_EQ(all->size(), 4u);
    EXPECT_EQ((*all)[0]["id"], ids[5]);
    EXPECT_EQ(store_->ListBlocking({}, 4, 4, &total)->back()["id"], ids[0]);
    EXPECT_EQ(store_->ListBlocking({.action = "core.local"}, 0, 10, &total)->size(), 3u);
    Result<std::vector<Json>> running =
        store_->ListBlocking({.action = "core.local", .status = "running"}, 0, 10, &total);
    ASSERT_EQ(running->size(), 1u);
    EXPECT_EQ(total, 1u);
    EXPECT_EQ((*running)[0]["id"], ids[1]);
    EXPECT_EQ(store_->ListBlocking({.action = "core.local", .status = "failed"}, 0, 10, &total)->size(), 1u);
    EXPECT_EQ(store_->ListBlocking({.action = "core.local", .status = "scheduled"}, 0, 10, &total)->size(), 1u);
    EXPECT_EQ(store_->ListBlocking({.status = "scheduled"}, 0, 10, &total)->size(), 4u);
    // Action and status together: paged within their own index.
    Result<std::vector<Json>> second =
        store_->ListBlocking({.action = "core.noop", .status = "scheduled"}, 1, 1, &total);
    EXPECT_EQ(total, 3u);
    ASSERT_EQ(second->size(), 1u);
    EXPECT_EQ((*second)[0]["id"], ids[2]);
    EXPECT_TRUE(store_->ListBlocking({.action = "core.nothing", .status = "scheduled"}, 0, 10, &total)->empty());
    EXPECT_EQ(total, 0u);
}

// A user's executions (context.user) have their own index, written by the create script: a non-admin's list is
// O(page) and reaches back through all of theirs, however many others ran since.
// `parent=null` pages over the top-level executions only (All() less the tasks), across slices and across many
// executions created at the same microsecond (the clock standing still), each listed once with an exact total; the
// time bounds and oldest-first order page the index itself.
TEST_F(ExecutionStoreTest, TopLevelAndTimeBoundedListsPageEveryExecutionOnce) {
    const std::string wf = *store_->CreateBlocking(Make("examples.wf"));
    std::set<std::string> top = {wf};
    std::vector<int64_t> times;
    for (int i = 0; i < 1300; ++i) {
        if (i % 100 == 0) clock_.Advance(std::chrono::milliseconds(1));  // 100 executions per instant
        NewExecution e = Make("core.noop");
        if (i % 3 == 0) e.parent = wf;  // a task of the workflow
        const std::string id = *store_->CreateBlocking(e);
        if (i % 3 != 0) top.insert(id);
    }
    for (const bool oldest_first : {false, true}) {
        ListFilter filter{.top_level = true, .oldest_first = oldest_first};
        std::vector<std::string> seen;
        std::string last_time;
        for (size_t offset = 0;; offset += 97) {
            size_t total = 0;
            Result<std::vector<Json>> page = store_->ListBlocking(filter, offset, 97, &total);
            ASSERT_TRUE(page) << page.error().message;
            EXPECT_EQ(total, top.size());
            if (page->empty()) break;
            for (const auto& e : *page) {
                EXPECT_FALSE(e.contains("parent")) << e.dump();
                const std::string t = e.value("start_timestamp", "");
                if (!last_time.empty()) EXPECT_TRUE(oldest_first ? t >= last_time : t <= last_time) << t;
                last_time = t;
                seen.push_back(e["id"]);
            }
        }
        EXPECT_EQ(seen.size(), top.size()) << oldest_first;
        EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), top) << oldest_first;
    }
    // Time bounds (exclusive) on the start time: the executions of the 3rd to 5th instants, tasks included.
    const int64_t start_us = 1'800'000'000'000'000;
    ListFilter window{.after_us = start_us + 2'000, .before_us = start_us + 6'000};
    size_t total = 0;
    Result<std::vector<Json>> in_window = store_->ListBlocking(window, 0, 1000, &total);
    ASSERT_TRUE(in_window);
    EXPECT_EQ(total, 300u);
    EXPECT_EQ(in_window->size(), 300u);
    // A filter checked record by record pages by score too: no execution twice across slices of equal times.
    ListFilter noops{.runner = "noop"};
    Result<std::vector<Json>> all = store_->ListBlocking(noops, 0, 5000, &total);
    ASSERT_TRUE(all);
    EXPECT_EQ(total, 1301u);
    std::set<std::string> distinct;
    for (const auto& e : *all) distinct.insert(e["id"].get<std::string>());
    EXPECT_EQ(distinct.size(), 1301u);
}

TEST_F(ExecutionStoreTest, AUsersListReadsTheirOwnIndexWhateverRanSince) {
    auto make = [&](const std::string& user, const std::string& action) {
        NewExecution e = Make(action);
        if (!user.empty()) e.request.context = {{"user", user}};
        clock_.Advance(std::chrono::milliseconds(1));
        return *store_->CreateBlocking(e);
    };
    std::vector<std::string> alice;
    alice.push_back(make("alice", "core.local"));
    for (int i = 0; i < 1200; ++i) make("bob", "core.noop");  // more than one slice of anyone else's
    alice.push_back(make("alice", "core.noop"));
    alice.push_back(make("alice", "core.local"));
    make("", "core.noop");  // no user: in no user's index
    ASSERT_TRUE(store_->TransitionBlocking(alice[2], "running", {})->applied);
    ASSERT_TRUE(store_->TransitionBlocking(alice[2], "succeeded", {})->applied);

    size_t total = 0;
    Result<std::vector<Json>> mine = store_->ListBlocking({.user = "alice"}, 0, 2, &total);
    ASSERT_TRUE(mine);
    EXPECT_EQ(total, 3u);
    ASSERT_EQ(mine->size(), 2u);
    EXPECT_EQ((*mine)[0]["id"], alice[2]);
    EXPECT_EQ((*mine)[1]["id"], alice[1]);
    Result<std::vector<Json>> oldest = store_->ListBlocking({.user = "alice"}, 2, 2, &total);
    ASSERT_EQ(oldest->size(), 1u);
    EXPECT_EQ((*oldest)[0]["id"], alice[0]);  // older than 1,200 of bob's
    EXPECT_EQ((*oldest)[0]["context"]["user"], "alice");
    // With filters: within the user's own executions.
    Result<std::vector<Json>> local = store_->ListBlocking({.action = "core.local", .user = "alice"}, 0, 10, &total);
    EXPECT_EQ(total, 2u);
    ASSERT_EQ(local->size(), 2u);
    EXPECT_EQ((*local)[0]["id"], alice[2]);
    EXPECT_EQ((*local)[1]["id"], alice[0]);
    Result<std::vector<Json>> done = store_->ListBlocking({.status = "succeeded", .user = "alice"}, 0, 10, &total);
    EXPECT_EQ(total, 1u);
    ASSERT_EQ(done->size(), 1u);
    EXPECT_EQ((*done)[0]["id"], alice[2]);
    Result<std::vector<Json>> second = store_->ListBlocking({.action = "core.local", .user = "alice"}, 1, 1, &total);
    ASSERT_EQ(second->size(), 1u);
    EXPECT_EQ((*second)[0]["id"], alice[0]);
    EXPECT_EQ(store_->ListBlocking({.user = "bob"}, 0, 1, &total)->size(), 1u);
    EXPECT_EQ(total, 1200u);
    EXPECT_TRUE(store_->ListBlocking({.user = "carol"}, 0, 10, &total)->empty());
    EXPECT_EQ(total, 0u);
    // Created again under its key (the same id), it writes nothing: the user's index holds the execution once.
    NewExecution again = Make("core.noop", "k1");
    again.request.context = {{"user", "alice"}};
    ASSERT_TRUE(store_->CreateBlocking(again));
    ASSERT_TRUE(store_->CreateBlocking(Make("core.noop", "k1")));
    EXPECT_EQ(client_->CommandBlocking({"ZCARD", store_->keys().ByUser("alice")})->integer, 4);
}

// Create and Transition count the /metrics counters of executions in memory, from what their scripts answer: by
// runner type, and one latency histogram per stage (the injected clock gives exact durations). The client flushes
// them to the metrics hash within a second; the scripts themselves write nothing there.
TEST_F(ExecutionStoreTest, ExecutionsAreCountedByRunnerAndTheLatencyOfEachStage) {
    NewExecution e = Make("core.noop");
    e.trigger_us = core::ToMicros(clock_.Now()) - 3000;  // the trigger occurred 3 ms before the creation
    const std::string id = *store_->CreateBlocking(e);
    clock_.Advance(std::chrono::milliseconds(40));  // scheduled → running: 40 ms
    ASSERT_TRUE(store_->TransitionBlocking(id, "running", {})->applied);
    clock_.Advance(std::chrono::seconds(2));  // running → done: 2 s
    ASSERT_TRUE(store_->TransitionBlocking(id, "succeeded", {})->applied);
    const std::string other = *store_->CreateBlocking(Make("core.noop", "once"));  // no trigger: no trigger latencies
    ASSERT_TRUE(store_->TransitionBlocking(other, "canceled", {})->applied);
    NewExecution again = Make("core.noop", "once");  // a dedupe key seen before creates nothing, counts nothing
    ASSERT_EQ(*store_->CreateBlocking(again), other);
    ASSERT_FALSE(store_->TransitionBlocking(other, "running", {})->applied);  // refused: not counted

    std::map<std::string, std::string> f;
    const auto read = [&] {
        Result<RedisReply> h = client_->CommandBlocking({"HGETALL", store_->keys().Metrics()});
        f.clear();
        for (size_t i = 0; h && i + 1 < h->elements.size(); i += 2) f[h->elements[i].str] = h->elements[i + 1].str;
        // The last count made: the flushes before it (same connection, in order) are in too.
        return f["ended:noop:canceled"] == "1";
    };
    ASSERT_TRUE(test::WaitFor(read, std::chrono::seconds(10))) << f.size();
    EXPECT_EQ(f["created:noop"], "2");
    EXPECT_EQ(f["ended:noop:succeeded"], "1");
    EXPECT_EQ(f["ended:noop:canceled"], "1");
    // Bucket i (1-based) is the first bound >= the sample: 3 ms → 0.005 (3rd), 40 ms → 0.05 (6th), 2 s → 2.5 (11th),
    // 2.043 s → 2.5.
    EXPECT_EQ(f["lat:trigger_scheduled:3"], "1");
    EXPECT_EQ(f["lat:trigger_scheduled:sum_us"], "3000");
    EXPECT_EQ(f["lat:scheduled_running:6"], "1");
    EXPECT_EQ(f["lat:scheduled_running:sum_us"], "40000");
    EXPECT_EQ(f["lat:running_done:11"], "1");
    EXPECT_EQ(f["lat:running_done:sum_us"], "2000000");
    EXPECT_EQ(f["lat:trigger_done:11"], "1");
    EXPECT_EQ(f["lat:trigger_done:sum_us"], "2043000");
    EXPECT_EQ(f.count("lat:trigger_scheduled:sum_us"), 1u);
    EXPECT_EQ(f.size(), 11u) << "one field per counter and bucket used, nothing else";
}

// The notifier's stream gets the final event of an execution only when something listens to what the notifier would
// emit: the action's notify, or an enabled rule on the action trigger (the set the rules' transactions maintain).
TEST_F(ExecutionStoreTest, AFinishedExecutionIsQueuedForTheNotifierOnlyWhenSomethingListens) {
    auto queued = [&]() {
        Result<RedisReply> r = client_->CommandBlocking({"XRANGE", store_->keys().Notify(), "-", "+"});
        std::vector<ExecutionEvent> out;
        for (const auto& entry : r->elements) out.push_back(*ExecutionEvent::Parse(entry.elements[1].elements[1].str));
        return out;
    };
    auto run = [&](NewExecution e, const std::string& end) {
        const std::string id = *store_->CreateBlocking(e);
        EXPECT_TRUE(store_->TransitionBlocking(id, "running", {})->applied);
        EXPECT_TRUE(store_->TransitionBlocking(id, end, {})->applied);
        return id;
    };
    run(Make("core.noop"), "succeeded");
    EXPECT_TRUE(queued().empty());

    NewExecution notifying = Make("ops.deploy");
    notifying.action["notify"] = {{"on-complete", {{"routes", {"chat"}}}}};
    const std::string a = run(notifying, "failed");
    ASSERT_EQ(queued().size(), 1u);
    EXPECT_EQ(queued()[0].execution_id, a);
    EXPECT_EQ(queued()[0].from, "running");
    EXPECT_EQ(queued()[0].to, "failed");

    const std::string listened = packs::ContentKeys(client_->endpoint().key_prefix).ListenedTriggerTypes();
    ASSERT_TRUE(client_->CommandBlocking({"SADD", listened, kActionTriggerType}));
    const std::string b = run(Make("core.noop"), "succeeded");
    ASSERT_EQ(queued().size(), 2u);
    EXPECT_EQ(queued()[1].execution_id, b);
    // Every change is still on the event stream; only final ones reach the notifier.
    EXPECT_EQ(Events().size(), 9u);
}

// The workflow engine's stream gets only what can move a workflow: a task's end and a workflow's cancel/pause/resume.
TEST_F(ExecutionStoreTest, OnlyTaskEndsAndWorkflowControlReachTheWorkflowStream) {
    auto queued = [&]() {
        Result<RedisReply> r = client_->CommandBlocking({"XRANGE", store_->keys().WorkflowEvents(), "-", "+"});
        std::vector<std::pair<std::string, std::string>> out;  // execution, to
        for (const auto& entry : r->elements) {
            ExecutionEvent e = *ExecutionEvent::Parse(entry.elements[1].elements[1].str);
            out.emplace_back(e.execution_id, e.to);
        }
        return out;
    };
    const std::string plain = *store_->CreateBlocking(Make("core.noop"));
    ASSERT_TRUE(store_->TransitionBlocking(plain, "running", {})->applied);
    ASSERT_TRUE(store_->TransitionBlocking(plain, "succeeded", {})->applied);
    EXPECT_TRUE(queued().empty());

    NewExecution wf = Make("ops.flow");
    wf.pool = "workflow";
    const std::string flow = *store_->CreateBlocking(wf);
    NewExecution task = Make("core.noop");
    task.parent = flow;
    const std::string child = *store_->CreateBlocking(task);
    ASSERT_TRUE(store_->TransitionBlocking(flow, "running", {})->applied);
    ASSERT_TRUE(store_->TransitionBlocking(child, "running", {})->applied);
    EXPECT_TRUE(queued().empty());  // starting moves nothing
    ASSERT_TRUE(store_->TransitionBlocking(child, "failed", {})->applied);
    ASSERT_TRUE(store_->TransitionBlocking(flow, "pausing", {})->applied);
    ASSERT_TRUE(store_->TransitionBlocking(flow, "paused", {})->applied);
    ASSERT_TRUE(store_->TransitionBlocking(flow, "resuming", {})->applied);
    ASSERT_TRUE(store_->TransitionBlocking(flow, "running", {})->applied);
    ASSERT_TRUE(store_->TransitionBlocking(flow, "canceling", {})->applied);
    ASSERT_TRUE(store_->TransitionBlocking(flow, "canceled", {})->applied);
    const std::vector<std::pair<std::string, std::string>> expected = {
        {child, "failed"}, {flow, "pausing"}, {flow, "resuming"}, {flow, "canceling"}, {flow, "canceled"}};
    EXPECT_EQ(queued(), expected);
}

// Events stay valid JSON whatever the values they carry (a runner id with quotes, backslashes, control characters).
TEST_F(ExecutionStoreTest, EventsStayValidJsonWhateverTheValues) {
    const std::string id = *store_->CreateBlocking(Make("core.noop"));
    ASSERT_TRUE(store_->TransitionBlocking(id, "running", {{"runner_id", "host \"a\"\\b\n"}})->applied);
    ASSERT_TRUE(store_->TransitionBlocking(id, "succeeded", {})->applied);
    const std::vector<ExecutionEvent> events = Events();
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[1].runner, "host \"a\"\\b\n");
    EXPECT_EQ(events[2].runner, "host \"a\"\\b\n");
    EXPECT_EQ(events[2].from, "running");
    EXPECT_EQ(events[2].to, "succeeded");
    EXPECT_EQ(events[2].action, "core.noop");
    EXPECT_EQ(events[2].at, core::FormatIsoTimestamp(clock_.Now()));

    // The events the create script gets are spelled out by the store: what they hold is escaped as well.
    NewExecution odd = Make("core.noop");
    odd.parent = "p \"1\"\\\t\u00e9";
    odd.settled = core::ExecutionResult{"succeeded", Json::object()};
    odd.settled_by = "r\n";
    const std::string settled = *store_->CreateBlocking(odd);
    const std::vector<ExecutionEvent> more = Events();
    ASSERT_EQ(more.size(), 6u);
    for (size_t i = 3; i < 6; ++i) {
        EXPECT_EQ(more[i].execution_id, settled);
        EXPECT_EQ(more[i].parent, odd.parent);
    }
    EXPECT_EQ(more[5].runner, "r\n");
    EXPECT_EQ((*store_->GetBlocking(settled))["log"].size(), 4u);
}

TEST_F(ExecutionStoreTest, OutputIsStoredWithOneEventPerBatch) {
    const std::string id = *store_->CreateBlocking(Make("core.local"));
    store_->AppendOutput(id, {R"({"output_type":"stdout","data":"a\n"})", R"({"output_type":"stderr","data":"b\n"})"});
    ASSERT_TRUE(test::WaitFor([&] { return store_->OutputBlocking(id)->size() == 2; }, std::chrono::seconds(5)));
    std::vector<ExecutionEvent> events = Events();
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].kind, "output");
    ASSERT_EQ(events[1].lines.size(), 2u);
    EXPECT_EQ(events[1].lines[1]["data"], "b\n");
}

// The execution event stream is for the API's stream subscribers: while none listens, no script appends to it, and
// everything else (record, indexes, output, the notifier's and the workflow engine's streams) is written as ever.
TEST_F(ExecutionStoreTest, ExecutionEventsAreAppendedOnlyWhileAnApiProcessListens) {
    ASSERT_EQ(client_->CommandBlocking({"DEL", store_->keys().EventListeners()})->integer, 1);
    const std::string listened = packs::ContentKeys(client_->endpoint().key_prefix).ListenedTriggerTypes();
    ASSERT_TRUE(client_->CommandBlocking({"SADD", listened, kActionTriggerType}));

    const std::string flow = *store_->CreateBlocking(Make("ops.flow"));
    NewExecution task = Make("core.local");
    task.parent = flow;
    const std::string id = *store_->CreateBlocking(task);
    ASSERT_TRUE(store_->TransitionBlocking(id, "running", {{"runner_id", "r1"}})->applied);
    store_->AppendOutput(id, {R"({"output_type":"stdout","data":"a\n"})"});
    ASSERT_TRUE(test::WaitFor([&] { return store_->OutputBlocking(id)->size() == 1; }, std::chrono::seconds(5)));
    ASSERT_TRUE(store_->TransitionBlocking(id, "succeeded", {{"result", R"({"a":1})"}})->applied);
    NewExecution settled = Make("core.noop");
    settled.settled = core::ExecutionResult{core::status::kSucceeded, Json::object()};
    const std::string noop = *store_->CreateBlocking(settled);
    EXPECT_EQ(client_->CommandBlocking({"XLEN", store_->keys().Events()})->integer, 0);
    EXPECT_EQ((*store_->GetBlocking(id))["status"], "succeeded");
    EXPECT_EQ((*store_->GetBlocking(noop))["status"], "succeeded");
    // The notifier gets both final events (a rule listens to the action trigger); the workflow engine the task's.
    EXPECT_EQ(client_->CommandBlocking({"XLEN", store_->keys().Notify()})->integer, 2);
    Result<RedisReply> wf = client_->CommandBlocking({"XRANGE", store_->keys().WorkflowEvents(), "-", "+"});
    ASSERT_EQ(wf->elements.size(), 1u);
    const ExecutionEvent task_end = *ExecutionEvent::Parse(wf->elements[0].elements[1].elements[1].str);
    EXPECT_EQ(task_end.execution_id, id);
    EXPECT_EQ(task_end.from, "running");
    EXPECT_EQ(task_end.to, "succeeded");
    EXPECT_EQ(task_end.runner, "r1");

    // A subscriber comes (the flag is back): every change from then on is on the stream.
    ASSERT_TRUE(client_->CommandBlocking({"SET", store_->keys().EventListeners(), "1", "PX", "30000"}));
    const std::string later = *store_->CreateBlocking(Make("core.local"));
    ASSERT_TRUE(store_->TransitionBlocking(later, "running", {})->applied);
    store_->AppendOutput(later, {R"({"output_type":"stdout","data":"b\n"})"});
    ASSERT_TRUE(test::WaitFor([&] { return Events().size() == 3; }, std::chrono::seconds(5)));
    const std::vector<ExecutionEvent> events = Events();
    EXPECT_EQ(events[0].kind, "create");
    EXPECT_EQ(events[1].to, "running");
    EXPECT_EQ(events[2].kind, "output");
    for (const auto& e : events) EXPECT_EQ(e.execution_id, later);
}

TEST_F(ExecutionStoreTest, TrimmingNeverDropsWhatAGroupHasNotRead) {
    const std::string events = store_->keys().Events();
    ASSERT_FALSE(client_->CommandBlocking({"XGROUP", "CREATE", events, "slow", "0", "MKSTREAM"})->IsError());
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(store_->CreateBlocking(Make("core.noop")));
    auto trim = [&](size_t max_len) {
        std::promise<Result<int64_t>> p;
        core::TrimStream(*client_, events, max_len, [&p](Result<int64_t> r) { p.set_value(std::move(r)); });
        return p.get_future().get();
    };
    // The group has read nothing: nothing goes, whatever the cap.
    EXPECT_EQ(*trim(5), 0);
    EXPECT_EQ(client_->CommandBlocking({"XLEN", events})->integer, 20);
    // It reads 12 and acknowledges 10: the two pending and the eight unread stay.
    Result<RedisReply> read =
        client_->CommandBlocking({"XREADGROUP", "GROUP", "slow", "c1", "COUNT", "12", "STREAMS", events, ">"});
    const auto& entries = read->elements[0].elements[1].elements;
    ASSERT_EQ(entries.size(), 12u);
    core::RedisClient::Args ack = {"XACK", events, "slow"};
    for (size_t i = 0; i < 10; ++i) ack.push_back(entries[i].elements[0].str);
    ASSERT_TRUE(client_->CommandBlocking(ack));
    EXPECT_EQ(*trim(5), 10);
    Result<RedisReply> left = client_->CommandBlocking({"XRANGE", events, "-", "+"});
    ASSERT_EQ(left->elements.size(), 10u);
    EXPECT_EQ(left->elements[0].elements[0].str, entries[10].elements[0].str);
    // Under the cap nothing is trimmed.
    EXPECT_EQ(*trim(100), 0);
}

}  // namespace
}  // namespace squall::executions

namespace squall::executions {
namespace {

/// A concurrency policy as ExecutionService attaches it (docs/delivery.md "Policies").
NewExecution WithConcurrency(NewExecution e, int threshold, const std::string& action) {
    e.request.action["policies"] = {
        {"concurrency", {{"policy", "p.c"}, {"slot", "p.c"}, {"threshold", threshold}, {"action", action}}}};
    return e;
}

TEST_F(ExecutionStoreTest, ConcurrencyPolicyDelaysAClaimPastTheThresholdAndWakesItWhenAPlaceFrees) {
    NewExecution a = WithConcurrency(Make("p.act"), 1, "delay");
    NewExecution b = WithConcurrency(Make("p.act"), 1, "delay");
    ASSERT_TRUE(store_->CreateBlocking(a));
    ASSERT_TRUE(store_->CreateBlocking(b));
    const std::string body_b = b.request.ToJson().dump();
    Result<TransitionResult> ra = store_->TransitionBlocking(a.request.execution_id, "running", {{"runner_id", "r1"}});
    ASSERT_TRUE(ra && ra->applied);
    // The second claim (another runner) finds the slot full: delayed, not running; its request kept aside.
    Result<TransitionResult> rb =
        store_->TransitionBlocking(b.request.execution_id, "running", {{"runner_id", "r2"}, {"_request", body_b}});
    ASSERT_TRUE(rb);
    EXPECT_FALSE(rb->applied);
    EXPECT_EQ(rb->previous, "delayed");
    Json eb = *store_->GetBlocking(b.request.execution_id);
    EXPECT_EQ(eb["status"], "delayed");
    EXPECT_TRUE(eb["liveaction"]["runner_info"].empty()) << "a delayed execution has no runner: " << eb.dump();
    Result<RedisReply> fields = client_->CommandBlocking({"HKEYS", store_->keys().Execution(b.request.execution_id)});
    for (const auto& f : fields->elements)
        EXPECT_NE(f.str, "_request") << "the request (secrets in clear) is not in the record";
    const std::string stream = store_->keys().RequestStream("default");
    Result<RedisReply> before = client_->CommandBlocking({"XLEN", stream});
    // a ends: b is scheduled again and its request is back on the pool's stream, as it was.
    ASSERT_TRUE(store_->TransitionBlocking(a.request.execution_id, "succeeded", {})->applied);
    eb = *store_->GetBlocking(b.request.execution_id);
    EXPECT_EQ(eb["status"], "scheduled");
    std::vector<std::string> log;
    for (const auto& l : eb["log"]) log.push_back(l["status"]);
    EXPECT_EQ(log, (std::vector<std::string>{"requested", "scheduled", "delayed", "scheduled"}));
    Result<RedisReply> after = client_->CommandBlocking({"XREVRANGE", stream, "+", "-", "COUNT", "1"});
    EXPECT_EQ(client_->CommandBlocking({"XLEN", stream})->integer, before->integer + 1);
    EXPECT_EQ(after->elements[0].elements[1].elements[1].str, body_b);
    // Now b claims its place; a third waits behind it.
    ASSERT_TRUE(store_->TransitionBlocking(b.request.execution_id, "running", {{"runner_id", "r2"}})->applied);
    NewExecution c = WithConcurrency(Make("p.act"), 1, "cancel");
    ASSERT_TRUE(store_->CreateBlocking(c));
    Result<TransitionResult> rc = store_->TransitionBlocking(c.request.execution_id, "running", {{"runner_id", "r1"}});
    EXPECT_FALSE(rc->applied);
    Json ec = *store_->GetBlocking(c.request.execution_id);
    EXPECT_EQ(ec["status"], "canceled") << "action cancel: " << ec.dump();
    EXPECT_NE(ec["result"].value("error", "").find("canceled by policy"), std::string::npos);
    // Its claim counts a place in the slot: such an execution moves one status at a time.
    NewExecution d = WithConcurrency(Make("p.act"), 5, "delay");
    ASSERT_TRUE(store_->CreateBlocking(d));
    Result<TransitionResult> rd = core::WaitForCallback<TransitionResult>([&](auto done) {
        store_->TransitionVia(d.request.execution_id, "running", "succeeded", {}, std::move(done));
    });
    EXPECT_FALSE(rd);
    EXPECT_EQ(store_->GetBlocking(d.request.execution_id)->at("status"), "scheduled");
}

}  // namespace
}  // namespace squall::executions
