// Retention against a real redis-server: the gc role's sweeper purges what is older than each kind's TTL, in
// batches, and keeps what is still in use (executions in flight, tasks of a running workflow).
#include <gtest/gtest.h>

#include <csignal>
#include <future>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"
#include "squall/core/store/retention.hpp"
#include "squall/core/store/store.hpp"
#include "squall/executions/store.hpp"
#include "squall/rules/enforcements.hpp"

namespace squall::executions {
namespace {

using namespace std::chrono_literals;
using core::RedisReply;

class RetentionTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        client_ = core::RedisClient::Create(io_, server_.Endpoint("gc"));
        store_.emplace(client_, clock_);
        triggers_.emplace(client_, clock_);
        enforcements_.emplace(client_, clock_);
    }
    void TearDown() override {
        if (sweeper_) sweeper_->Stop();
        sweeper_.reset();
        store_.reset();
        triggers_.reset();
        enforcements_.reset();
        client_.reset();
        runner_.Drain();
    }

    /// A new core.local execution, not yet created.
    static NewExecution Local() {
        NewExecution e;
        e.request.execution_id = core::NewId();
        e.request.action_ref = "core.local";
        e.request.runner_type = "local-shell-cmd";
        e.action = {{"ref", "core.local"}, {"runner_type", "local-shell-cmd"}};
        return e;
    }
    std::string Create(const std::string& parent = "") {
        NewExecution e = Local();
        e.request.context = {{"user", "alice"}};
        e.parent = parent;
        return *store_->CreateBlocking(e);
    }
    void Finish(const std::string& id) {
        ASSERT_TRUE(store_->TransitionBlocking(id, "running", {})->applied);
        ASSERT_TRUE(store_->TransitionBlocking(id, "succeeded", {})->applied);
    }
    bool Exists(const std::string& key) { return client_->CommandBlocking({"EXISTS", key})->integer == 1; }
    int64_t Card(const std::string& zset) { return client_->CommandBlocking({"ZCARD", zset})->integer; }

    /// A sweeper over the three stores with the given TTLs; `batch` small so that several batches run.
    void MakeSweeper(std::chrono::seconds executions, std::chrono::seconds output, std::chrono::seconds other) {
        using std::placeholders::_1, std::placeholders::_2, std::placeholders::_3, std::placeholders::_4;
        std::vector<core::RetentionRule> rules = {
            {"executions", executions, std::bind(&ExecutionStore::Purge, &*store_, _1, _2, _3, _4)},
            {"execution output", output, std::bind(&ExecutionStore::PurgeOutput, &*store_, _1, _2, _3, _4), true},
            {"trigger instances", other, std::bind(&core::TriggerStore::Purge, &*triggers_, _1, _2, _3, _4)},
            {"rule enforcements", other, std::bind(&rules::EnforcementStore::Purge, &*enforcements_, _1, _2, _3, _4)},
        };
        core::RetentionOptions o;
        o.batch = 3;
        o.interval = 1h;  // sweeps are started by the test
        o.pause = 0ms;
        sweeper_ = core::RetentionSweeper::Create(io_, clock_, std::move(rules), o);
    }
    Status Sweep() {
        std::promise<Status> done;
        sweeper_->SweepNow([&](Status s) { done.set_value(std::move(s)); });
        return done.get_future().get();
    }

    test::RedisServer server_;
    test::IoRunner runner_{1};
    asio::io_context& io_ = runner_.io();
    core::ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000))};
    core::RedisClientPtr client_;
    std::optional<ExecutionStore> store_;
    std::optional<core::TriggerStore> triggers_;
    std::optional<rules::EnforcementStore> enforcements_;
    std::shared_ptr<core::RetentionSweeper> sweeper_;
};

TEST_F(RetentionTest, RuleAndTriggerTypeIndexesListAndGoWithTheirExecutions) {
    MakeSweeper(24h, 0s, 0s);
    const auto by_rule = [&](const std::string& rule, const std::string& trigger) {
        NewExecution e = Local();
        e.rule = {{"id", "r1"}, {"ref", rule}, {"name", "r"}, {"pack", "p"}};
        e.trigger_instance = {{"id", "ti1"}, {"trigger", trigger}, {"occurrence_time", ""}};
        return *store_->CreateBlocking(e);
    };
    const std::string old_hit = by_rule("p.hit", "core.st2.webhook");
    Finish(old_hit);
    Finish(by_rule("p.gone", "core.st2.IntervalTimer"));  // its facet empties with the purge
    Finish(Create());                                     // not created by a rule: in neither index
    clock_.Advance(25h);
    const std::string fresh = by_rule("p.hit", "core.st2.webhook");
    Finish(fresh);
    const std::string timer = by_rule("p.tick", "core.st2.CronTimer");  // still scheduled
    const Keys& k = store_->keys();
    // A rule's executions are in its facet (rule, trigger type, user; no user here), not in the per-rule, -trigger
    // and -user indexes of earlier versions.
    const std::string hit_facet = k.Facet("p.hit", "core.st2.webhook", "");
    EXPECT_EQ(Card(hit_facet), 2);
    EXPECT_EQ(Card(k.Facet("p.tick", "core.st2.CronTimer", "")), 1);
    EXPECT_EQ(Card(k.ByRule("p.hit")), 0);
    EXPECT_EQ(Card(k.ByTrigger("core.st2.webhook")), 0);
    // The old one as an earlier version indexed it: lists merge those indexes with the facets.
    const std::string old_score = client_->CommandBlocking({"ZSCORE", k.All(), old_hit})->str;
    ASSERT_TRUE(client_->PipelineBlocking(
        {{"ZREM", hit_facet, old_hit},
         {"ZADD", k.ByRule("p.hit"), old_score, old_hit},
         {"ZADD", k.ByTrigger("core.st2.webhook"), old_score, old_hit}}
    ));

    const auto ids = [&](ListFilter f, size_t offset = 0, size_t limit = 10) {
        size_t total = 0;
        Result<std::vector<Json>> page = store_->ListBlocking(f, offset, limit, &total);
        std::vector<std::string> out;
        if (page) {
            for (const auto& e : *page) out.push_back(e["id"]);
        }
        out.push_back("total=" + std::to_string(total));
        return out;
    };
    // (action, status, rule, trigger)
    const auto F = [](std::string action, std::string status, std::string rule, std::string trigger) {
        ListFilter f;
        f.action = std::move(action);
        f.status = std::move(status);
        f.rule = std::move(rule);
        f.trigger = std::move(trigger);
        return f;
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(ids(F("", "", "p.hit", "")), (V{fresh, old_hit, "total=2"}));  // newest first
    EXPECT_EQ(ids(F("", "", "p.hit", ""), 1, 1), (V{old_hit, "total=2"}));
    EXPECT_EQ(ids(F("", "", "", "core.st2.webhook")), (V{fresh, old_hit, "total=2"}));
    EXPECT_EQ(ids(F("", "succeeded", "p.hit", "")), (V{fresh, old_hit, "total=2"}));
    EXPECT_EQ(ids(F("", "scheduled", "p.hit", "")), (V{"total=0"}));
    EXPECT_EQ(ids(F("", "scheduled", "", "core.st2.CronTimer")), (V{timer, "total=1"}));
    EXPECT_EQ(ids(F("core.local", "", "", "core.st2.webhook")), (V{fresh, old_hit, "total=2"}));
    EXPECT_EQ(ids(F("core.noop", "", "p.hit", "")), (V{"total=0"}));
    EXPECT_EQ(ids(F("", "", "p.hit", "core.st2.CronTimer")), (V{"total=0"}));
    EXPECT_EQ(ids(F("", "", "p.none", "")), (V{"total=0"}));

    EXPECT_EQ(
        client_->CommandBlocking({"SISMEMBER", k.FacetSet(), k.Facet("p.gone", "core.st2.IntervalTimer", "")})->integer,
        1
    );

    // The purge takes the old one's entries with it; what is left is listed as before.
    ASSERT_TRUE(Sweep());
    EXPECT_FALSE(Exists(k.Execution(old_hit)));
    EXPECT_EQ(Card(k.ByRule("p.hit")), 0);
    EXPECT_EQ(Card(k.ByTrigger("core.st2.webhook")), 0);
    EXPECT_EQ(Card(hit_facet), 1);
    EXPECT_EQ(Card(k.Facet("p.tick", "core.st2.CronTimer", "")), 1);
    // The emptied facet left the set; the others stay.
    const auto facet_listed = [&](const std::string& facet) {
        return client_->CommandBlocking({"SISMEMBER", k.FacetSet(), facet})->integer == 1;
    };
    EXPECT_FALSE(Exists(k.Facet("p.gone", "core.st2.IntervalTimer", "")));
    EXPECT_FALSE(facet_listed(k.Facet("p.gone", "core.st2.IntervalTimer", "")));
    EXPECT_TRUE(facet_listed(hit_facet));
    EXPECT_EQ(ids(F("", "", "p.hit", "")), (V{fresh, "total=1"}));

    // A user's executions: those of rules (the facets with that user) and the others (the user's index).
    NewExecution e = Local();
    e.request.context = {{"user", "alice"}};
    e.rule = {{"id", "r1"}, {"ref", "p.hit"}, {"name", "r"}, {"pack", "p"}};
    e.trigger_instance = {{"id", "ti2"}, {"trigger", "core.st2.webhook"}, {"occurrence_time", ""}};
    clock_.Advance(1s);
    const std::string alices_rule = *store_->CreateBlocking(e);
    clock_.Advance(1s);
    const std::string alices_own = Create();
    EXPECT_EQ(Card(k.Facet("p.hit", "core.st2.webhook", "alice")), 1);
    EXPECT_EQ(Card(k.ByUser("alice")), 1);
    ListFilter mine;
    mine.user = "alice";
    EXPECT_EQ(ids(mine), (V{alices_own, alices_rule, "total=2"}));
    EXPECT_EQ(ids(mine, 1, 5), (V{alices_rule, "total=2"}));
    mine.rule = "p.hit";
    EXPECT_EQ(ids(mine), (V{alices_rule, "total=1"}));
    EXPECT_EQ(ids(F("", "", "p.hit", "")), (V{alices_rule, fresh, "total=2"}));
    // The API does not show the index fields.
    const Json shown = *store_->GetBlocking(fresh);
    EXPECT_FALSE(shown.contains("rule_ref"));
    EXPECT_EQ(shown["rule"]["ref"], "p.hit");
}

TEST_F(RetentionTest, EndedExecutionsPastTheirTtlGoWithEveryIndexEntryAndTheRestStays) {
    MakeSweeper(24h, 0s, 0s);
    // Old: 7 ended (more than two batches), one still running, a running workflow with an ended task, an ended
    // workflow with an ended task.
    std::vector<std::string> ended;
    for (int i = 0; i < 7; ++i) {
        ended.push_back(Create());
        Finish(ended.back());
        store_->AppendOutput(ended.back(), {R"({"output_type":"stdout","data":"x\n"})"});
    }
    const std::string running = Create();
    ASSERT_TRUE(store_->TransitionBlocking(running, "running", {})->applied);
    const std::string live_workflow = Create();
    ASSERT_TRUE(store_->TransitionBlocking(live_workflow, "running", {})->applied);
    const std::string live_task = Create(live_workflow);
    Finish(live_task);
    const std::string done_workflow = Create();
    const std::string done_task = Create(done_workflow);
    Finish(done_task);
    Finish(done_workflow);
    clock_.Advance(25h);
    const std::string fresh = Create();  // within the TTL
    Finish(fresh);

    ASSERT_TRUE(Sweep());
    const Keys& k = store_->keys();
    for (const auto& id : ended) {
        EXPECT_FALSE(Exists(k.Execution(id))) << id;
        EXPECT_FALSE(Exists(k.Output(id))) << id;
        EXPECT_EQ(client_->CommandBlocking({"ZSCORE", k.All(), id})->type, RedisReply::Type::kNil);
    }
    EXPECT_FALSE(Exists(k.Execution(done_workflow)));
    EXPECT_FALSE(Exists(k.Execution(done_task)));
    EXPECT_FALSE(Exists(k.Children(done_workflow)));
    for (const auto& id : {running, live_workflow, live_task, fresh}) EXPECT_TRUE(Exists(k.Execution(id))) << id;
    // The indexes hold exactly what is left: the list API finds nothing that is gone.
    EXPECT_EQ(Card(k.All()), 4);
    EXPECT_EQ(Card(k.ByAction("core.local")), 4);
    EXPECT_EQ(Card(k.ByStatus("succeeded")), 2);  // live_task and fresh
    EXPECT_EQ(Card(k.ByActionStatus("core.local", "succeeded")), 2);
    EXPECT_EQ(Card(k.ByUser("alice")), 4);  // the user's index loses what is gone too
    size_t total = 0;
    Result<std::vector<Json>> page = store_->ListBlocking({}, 0, 100, &total);
    ASSERT_TRUE(page);
    EXPECT_EQ(total, 4u);
    EXPECT_EQ(sweeper_->Deleted("executions"), 9);

    // Once the workflow ends, the next sweep takes it and its task.
    ASSERT_TRUE(store_->TransitionBlocking(live_workflow, "succeeded", {})->applied);
    ASSERT_TRUE(Sweep());
    EXPECT_FALSE(Exists(k.Execution(live_workflow)));
    EXPECT_FALSE(Exists(k.Execution(live_task)));
    EXPECT_TRUE(Exists(k.Execution(running)));
}

TEST_F(RetentionTest, OutputGoesBeforeTheRecordAndEachSweepResumesWhereTheLastStopped) {
    MakeSweeper(0s, 1h, 0s);  // executions kept forever, output for an hour
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        ids.push_back(Create());
        Finish(ids.back());
        store_->AppendOutput(ids.back(), {R"({"output_type":"stdout","data":"x\n"})"});
    }
    const std::string running = Create();
    ASSERT_TRUE(store_->TransitionBlocking(running, "running", {})->applied);
    store_->AppendOutput(running, {R"({"output_type":"stdout","data":"still going\n"})"});
    ASSERT_TRUE(store_->GetBlocking(running));  // the output script ran before (one connection, in order)
    clock_.Advance(2h);
    ASSERT_TRUE(Sweep());
    for (const auto& id : ids) {
        EXPECT_TRUE(Exists(store_->keys().Execution(id)));
        EXPECT_FALSE(Exists(store_->keys().Output(id)));
    }
    EXPECT_TRUE(Exists(store_->keys().Output(running)));  // still running: its output stays
    EXPECT_EQ(sweeper_->Deleted("execution output"), 5);

    // A later execution's output goes in the next sweep; the first five are not visited again.
    const std::string later = Create();
    Finish(later);
    store_->AppendOutput(later, {R"({"output_type":"stdout","data":"y\n"})"});
    clock_.Advance(2h);
    ASSERT_TRUE(Sweep());
    EXPECT_FALSE(Exists(store_->keys().Output(later)));
    EXPECT_EQ(sweeper_->Deleted("execution output"), 6);
}

TEST_F(RetentionTest, TriggerInstancesAndEnforcementsPastTheirTtlGo) {
    MakeSweeper(0s, 0s, 1h);
    std::vector<std::string> tis;
    for (int i = 0; i < 4; ++i) {
        core::TriggerInstance ti;
        ti.id = core::NewId();
        ti.trigger = "core.st2.webhook";
        ti.payload = {{"i", i}};
        tis.push_back(*triggers_->EmitBlocking(ti));
        Json enforcement = {
            {"id", core::NewId()}, {"trigger_instance_id", tis.back()}, {"rule", {{"ref", "a.b"}}}, {"status", "ok"}};
        std::vector<core::RedisClient::Args> cmds = enforcements_->Commands(enforcement);
        // The per-instance index of earlier versions goes too.
        cmds.push_back({"ZADD", enforcements_->keys().ByTriggerInstance(tis.back()), "1", enforcement["id"]});
        ASSERT_TRUE(client_->PipelineBlocking(cmds));
    }
    clock_.Advance(2h);
    core::TriggerInstance kept;
    kept.id = core::NewId();
    kept.trigger = "core.st2.webhook";
    ASSERT_TRUE(triggers_->EmitBlocking(kept));

    ASSERT_TRUE(Sweep());
    for (const auto& id : tis) {
        EXPECT_FALSE(Exists(triggers_->keys().TriggerInstance(id)));
        EXPECT_FALSE(Exists(enforcements_->keys().ByTriggerInstance(id)));
    }
    EXPECT_TRUE(Exists(triggers_->keys().TriggerInstance(kept.id)));
    EXPECT_EQ(Card(triggers_->keys().TriggerInstances()), 1);
    EXPECT_EQ(Card(enforcements_->keys().All()), 0);
    EXPECT_EQ(sweeper_->Deleted("trigger instances"), 4);
    EXPECT_EQ(sweeper_->Deleted("rule enforcements"), 4);
}

TEST_F(RetentionTest, EnforcementsOfATriggerInstanceAreListedFromItsRecordOrTheEarlierIndex) {
    const auto enforce = [&](const std::string& ti, const std::string& rule, bool legacy) {
        const std::string id = rules::EnforcementStore::IdOf(ti, rule);
        std::vector<core::RedisClient::Args> cmds = enforcements_->Commands(
            {{"id", id},
             {"trigger_instance_id", ti},
             {"rule", {{"ref", rule}}},
             {"status", "succeeded"},
             {"enforced_at", core::FormatIsoTimestamp(clock_.Now())}}
        );
        if (legacy) cmds.push_back({"ZADD", enforcements_->keys().ByTriggerInstance(ti), "1", id});
        EXPECT_TRUE(client_->PipelineBlocking(cmds));
        clock_.Advance(1s);
        return id;
    };
    core::TriggerInstance ti;
    ti.id = core::NewId();
    ti.trigger = "core.st2.webhook";
    ASSERT_TRUE(triggers_->EmitBlocking(ti));
    const std::string a = enforce(ti.id, "p.a", false), b = enforce(ti.id, "p.b", false);
    // Not processed yet: no list in the record, nothing in the earlier index.
    size_t total = 99;
    EXPECT_TRUE(enforcements_->ListBlocking(ti.id, 0, 10, &total)->empty());
    EXPECT_EQ(total, 0u);
    // Processed: the rules engine's status update lists them; the instance's API record does not show the field.
    // Listed in the rules' order, not the enforcements': shown newest first all the same.
    ASSERT_TRUE(client_->CommandBlocking(triggers_->SetStatusCommand(ti.id, "processed", {b, a})));
    Result<std::vector<Json>> listed = enforcements_->ListBlocking(ti.id, 0, 10, &total);
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 2u);
    EXPECT_EQ(total, 2u);
    EXPECT_EQ((*listed)[0]["id"], b);  // newest first
    EXPECT_EQ((*listed)[1]["id"], a);
    EXPECT_EQ((*listed)[1]["rule"]["ref"], "p.a");
    listed = enforcements_->ListBlocking(ti.id, 1, 10, &total);
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0]["id"], a);
    EXPECT_EQ(total, 2u);
    Json shown = *triggers_->GetBlocking(ti.id);
    EXPECT_EQ(shown["status"], "processed");
    EXPECT_FALSE(shown.contains(core::TriggerStore::kEnforcementsField)) << shown.dump();
    // An instance processed by an earlier version: its enforcements are in the per-instance sorted set.
    const std::string old_ti = core::NewId();
    const std::string c = enforce(old_ti, "p.c", true);
    listed = enforcements_->ListBlocking(old_ti, 0, 10, &total);
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0]["id"], c);
    EXPECT_EQ(total, 1u);
    // All of them, newest first, from the one index.
    listed = enforcements_->ListBlocking("", 0, 10, &total);
    ASSERT_EQ(listed->size(), 3u);
    EXPECT_EQ((*listed)[0]["id"], c);
}

TEST(RetentionParseTest, DurationsAndStackStormsBareDays) {
    EXPECT_EQ(*core::ParseRetention("30d", "x"), std::chrono::hours(24 * 30));
    EXPECT_EQ(*core::ParseRetention("12h", "x"), std::chrono::hours(12));
    EXPECT_EQ(*core::ParseRetention("90m", "x"), std::chrono::minutes(90));
    EXPECT_EQ(*core::ParseRetention("45s", "x"), std::chrono::seconds(45));
    EXPECT_EQ(*core::ParseRetention("7", "x"), std::chrono::hours(24 * 7));
    EXPECT_EQ(*core::ParseRetention("0", "x"), std::chrono::seconds(0));
    for (const char* bad : {"", "-1d", "1w", "d", "1dd", "99999999999d"}) {
        Result<std::chrono::seconds> r = core::ParseRetention(bad, "option 'executions_ttl'");
        ASSERT_FALSE(r) << bad;
        EXPECT_NE(r.error().message.find("option 'executions_ttl'"), std::string::npos) << r.error().message;
    }
}

}  // namespace
}  // namespace squall::executions
