// The timers role against a real redis-server, driven by a manual clock (issue 13 item 3): ticks fire once, a new
// lease holder resumes where the old one stopped, missed ticks are caught up within the misfire window.
#include <gtest/gtest.h>

#include <csignal>

#include "io_runner.hpp"
#include "redis_server.hpp"
#include "squall/core/clock.hpp"
#include "squall/packs/content_cache.hpp"
#include "squall/packs/content_store.hpp"
#include "squall/packs/loader.hpp"
#include "squall/sensors/timers.hpp"
#include "wait.hpp"

namespace squall::sensors {
namespace {

using namespace std::chrono_literals;

SysTime T(const std::string& iso) {
    SysTime tp;
    EXPECT_TRUE(core::ParseIsoTimestamp(iso, &tp)) << iso;
    return tp;
}

class TimersTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::signal(SIGPIPE, SIG_IGN);
        client_ = core::RedisClient::Create(runner_.io(), server_.Endpoint("timers"));
        content_ = std::make_unique<packs::ContentStore>(client_);
        packs::PackLoader loader;
        Result<packs::LoadedPack> core_pack =
            loader.LoadPackBlocking(std::string(SQUALL_SOURCE_DIR) + "/packs/bundled/core");
        ASSERT_TRUE(core_pack);
        ASSERT_TRUE(content_->RegisterPackBlocking(*core_pack));
        triggers_ = std::make_unique<core::TriggerStore>(client_, clock_);
        cache_ = std::make_unique<packs::ContentCache>(*content_, clock_, 0ms);
    }
    void TearDown() override {
        sensors_.clear();
        contexts_.clear();
        cache_.reset();
        triggers_.reset();
        content_.reset();
        client_.reset();
        runner_.Drain();
    }
    /// A timers role named `instance` (several share the Redis, as several processes would).
    TimerSensor& Role(const std::string& instance, TimerSensorOptions options = {}) {
        contexts_.push_back(std::make_unique<SensorContext>(SensorContext{*triggers_, *cache_, client_, instance}));
        sensors_.push_back(std::make_unique<TimerSensor>(*contexts_.back(), options));
        return *sensors_.back();
    }
    void AddRule(const std::string& name, const std::string& type, const Json& params) {
        packs::RuleMeta rule;
        rule.name = name;
        rule.pack = "t";
        rule.trigger_type = type;
        rule.trigger_parameters = params;
        rule.action_ref = "core.noop";
        ASSERT_TRUE(content_->PutRuleBlocking(rule, false));
    }
    /// The stored instances of `trigger`, oldest first.
    std::vector<Json> Instances(const std::string& trigger) {
        size_t total = 0;
        Result<std::vector<Json>> list = triggers_->ListBlocking(0, 1000, &total);
        EXPECT_TRUE(list);
        std::vector<Json> out;
        for (auto it = list->rbegin(); it != list->rend(); ++it) {
            if ((*it)["trigger"] == trigger) out.push_back(*it);
        }
        return out;
    }
    /// The instances on the triggers stream (what the rules engine reads), oldest first.
    std::vector<Json> Stream() {
        Result<core::RedisReply> r = client_->CommandBlocking({"XRANGE", triggers_->keys().TriggerStream(), "-", "+"});
        EXPECT_TRUE(r);
        std::vector<Json> out;
        for (const auto& entry : r->elements) out.push_back(Json::parse(entry.elements[1].elements[1].str));
        return out;
    }
    std::vector<std::string> ExecutedAt(const std::string& trigger) {
        std::vector<std::string> out;
        for (const auto& ti : Instances(trigger))
            out.push_back(ti["payload"]["executed_at"].get<std::string>().substr(0, 19));
        return out;
    }

    test::RedisServer server_;
    test::IoRunner runner_{2};
    core::ManualClock clock_{T("2026-12-05T10:00:00Z")};
    core::RedisClientPtr client_;
    std::unique_ptr<packs::ContentStore> content_;
    std::unique_ptr<core::TriggerStore> triggers_;
    std::unique_ptr<packs::ContentCache> cache_;
    std::vector<std::unique_ptr<SensorContext>> contexts_;
    std::vector<std::unique_ptr<TimerSensor>> sensors_;
};

TEST_F(TimersTest, IntervalTimerFiresEachTickOnceAndCatchesUpMissedOnes) {
    const Json params = {{"unit", "seconds"}, {"delta", 10}};
    AddRule("every10", "core.st2.IntervalTimer", params);
    TimerSensor& role = Role("a");
    role.PassBlocking();
    ASSERT_TRUE(role.holder());
    EXPECT_TRUE(Instances("core.st2.IntervalTimer").empty());
    clock_.Advance(9s);
    role.PassBlocking();
    EXPECT_TRUE(Instances("core.st2.IntervalTimer").empty());
    clock_.Advance(1s);
    role.PassBlocking();
    role.PassBlocking();  // nothing new is due: nothing is fired twice
    std::vector<Json> fired = Instances("core.st2.IntervalTimer");
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0]["payload"], (Json{{"executed_at", "2026-12-05T10:00:10.000000Z"}, {"schedule", nullptr}}));
    EXPECT_EQ(fired[0]["id"], TickInstanceId(TimerId("core.st2.IntervalTimer", params), T("2026-12-05T10:00:10Z")));
    // The rules engine matches on the trigger parameters: the instance on the stream carries the rule's.
    ASSERT_EQ(Stream().size(), 1u);
    EXPECT_EQ(Stream()[0]["trigger_parameters"], params);
    EXPECT_EQ(Stream()[0]["id"], fired[0]["id"]);
    // 35 s later (a stopped process): the three ticks missed are fired, late, in order.
    clock_.Advance(35s);
    role.PassBlocking();
    EXPECT_EQ(
        ExecutedAt("core.st2.IntervalTimer"),
        (std::vector<std::string>{
            "2026-12-05T10:00:10", "2026-12-05T10:00:20", "2026-12-05T10:00:30", "2026-12-05T10:00:40"})
    );
    EXPECT_EQ(role.fired(), 4u);
}

TEST_F(TimersTest, OnlyTheLeaseHolderFiresAndItsSuccessorResumesWithoutSkippingOrDoubling) {
    const Json params = {{"unit", "seconds"}, {"delta", 10}};
    AddRule("every10", "core.st2.IntervalTimer", params);
    TimerSensorOptions options;
    options.lease_ttl = 400ms;
    TimerSensor& a = Role("host-1", options);
    TimerSensor& b = Role("host-2", options);
    a.PassBlocking();
    b.PassBlocking();
    ASSERT_TRUE(a.holder());
    ASSERT_FALSE(b.holder());
    for (int i = 0; i < 3; ++i) {
        clock_.Advance(10s);
        a.PassBlocking();
        b.PassBlocking();
    }
    EXPECT_EQ(a.fired(), 3u);
    EXPECT_EQ(b.fired(), 0u);
    // a dies (no more passes) right after storing the 4th tick, before recording it: b must not skip the 4th tick
    // and must not store it twice.
    clock_.Advance(10s);
    const std::string timer = TimerId("core.st2.IntervalTimer", params);
    core::TriggerInstance stored_by_a;
    stored_by_a.id = TickInstanceId(timer, T("2026-12-05T10:00:40Z"));
    stored_by_a.trigger = "core.st2.IntervalTimer";
    stored_by_a.trigger_parameters = params;
    stored_by_a.payload = {{"executed_at", "2026-12-05T10:00:40.000000Z"}, {"schedule", nullptr}};
    stored_by_a.occurrence_time = "2026-12-05T10:00:40.000000Z";
    ASSERT_TRUE(triggers_->EmitBlocking(stored_by_a));
    clock_.Advance(15s);  // the 5th tick (10:00:50) is due too
    ASSERT_TRUE(test::WaitFor(
        [&] {
            b.PassBlocking();
            return b.holder();
        },
        5000ms
    )) << "b never took the lease over";
    EXPECT_EQ(
        ExecutedAt("core.st2.IntervalTimer"),
        (std::vector<std::string>{
            "2026-12-05T10:00:10",
            "2026-12-05T10:00:20",
            "2026-12-05T10:00:30",
            "2026-12-05T10:00:40",
            "2026-12-05T10:00:50"})
    );
    // a comes back (a paused process): the lease is b's, so a fires nothing.
    clock_.Advance(10s);
    a.PassBlocking();
    EXPECT_FALSE(a.holder());
    EXPECT_EQ(a.fired(), 3u);
    b.PassBlocking();
    EXPECT_EQ(Instances("core.st2.IntervalTimer").size(), 6u);
}

TEST_F(TimersTest, StoppingGivesTheLeaseUpAtOnce) {
    TimerSensorOptions options;
    options.lease_ttl = 60s;  // only the release lets b in quickly
    options.poll = 10ms;
    TimerSensor& a = Role("host-1", options);
    TimerSensor& b = Role("host-2", options);
    a.Start();
    ASSERT_TRUE(test::WaitFor([&] { return a.holder(); }, 5000ms));
    b.PassBlocking();
    EXPECT_FALSE(b.holder());
    a.Stop();
    b.PassBlocking();
    EXPECT_TRUE(b.holder());
}

TEST_F(TimersTest, TicksOlderThanTheMisfireWindowAreSkipped) {
    AddRule("every_minute", "core.st2.IntervalTimer", {{"unit", "minutes"}, {"delta", 1}});
    TimerSensorOptions options;
    options.misfire_grace = 150s;
    TimerSensor& role = Role("a", options);
    role.PassBlocking();  // first tick 10:01:00
    clock_.Advance(1h);   // now 11:00:00: only ticks from 10:57:30 on are within the window
    role.PassBlocking();
    EXPECT_EQ(
        ExecutedAt("core.st2.IntervalTimer"),
        (std::vector<std::string>{"2026-12-05T10:58:00", "2026-12-05T10:59:00", "2026-12-05T11:00:00"})
    );
}

TEST_F(TimersTest, CronAndDateTimersFollowTheClock) {
    AddRule("cron", "core.st2.CronTimer", {{"second", "*/30"}, {"minute", "*"}});
    AddRule("date", "core.st2.DateTimer", {{"date", "2026-12-05 11:00:45"}, {"timezone", "Europe/Berlin"}});
    TimerSensor& role = Role("a");
    role.PassBlocking();
    for (int i = 0; i < 4; ++i) {
        clock_.Advance(20s);
        role.PassBlocking();
    }
    // Passes at 10:00:20, :40, 10:01:00, :20: the cron ticks 10:00:30 and 10:01:00; the date (10:00:45 UTC) once.
    EXPECT_EQ(
        ExecutedAt("core.st2.CronTimer"), (std::vector<std::string>{"2026-12-05T10:00:30", "2026-12-05T10:01:00"})
    );
    EXPECT_EQ(ExecutedAt("core.st2.DateTimer"), (std::vector<std::string>{"2026-12-05T10:00:45"}));
    clock_.Advance(1h);
    role.PassBlocking();
    EXPECT_EQ(Instances("core.st2.DateTimer").size(), 1u);
}

TEST_F(TimersTest, RulesThatChangeOrGoAreFollowedAndBadOnesNeverFire) {
    AddRule("r", "core.st2.IntervalTimer", {{"unit", "seconds"}, {"delta", 5}});
    // Stored without the API's check (as a pack file loaded by an older server might be).
    AddRule("bad", "core.st2.CronTimer", {{"minute", "*/0"}});
    TimerSensor& role = Role("a");
    role.PassBlocking();
    EXPECT_EQ(role.invalid(), 1u);
    clock_.Advance(5s);
    role.PassBlocking();
    EXPECT_EQ(Instances("core.st2.IntervalTimer").size(), 1u);
    EXPECT_TRUE(Instances("core.st2.CronTimer").empty());
    // The rule now fires every 7 s: a new timer, started afresh; the old one is forgotten.
    AddRule("r", "core.st2.IntervalTimer", {{"unit", "seconds"}, {"delta", 7}});
    role.PassBlocking();
    clock_.Advance(7s);
    role.PassBlocking();
    std::vector<Json> fired = Instances("core.st2.IntervalTimer");
    ASSERT_EQ(fired.size(), 2u);
    EXPECT_EQ(Stream().back()["trigger_parameters"]["delta"], 7);
    Result<core::RedisReply> state = client_->CommandBlocking({"HKEYS", triggers_->keys().Prefix() + "{t}timers:next"});
    ASSERT_TRUE(state);
    ASSERT_EQ(state->elements.size(), 1u);
    EXPECT_EQ(state->elements[0].str, TimerId("core.st2.IntervalTimer", {{"unit", "seconds"}, {"delta", 7}}));
}

}  // namespace
}  // namespace squall::sensors
