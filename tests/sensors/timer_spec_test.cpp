// Timer schedules (issue 13 item 3): the math is pure, every "now" is given, as a manual clock would.
#include "squall/sensors/timer_spec.hpp"

#include <gtest/gtest.h>

#include "squall/core/clock.hpp"

namespace squall::sensors {
namespace {

SysTime T(const std::string& iso) {
    SysTime tp;
    EXPECT_TRUE(core::ParseIsoTimestamp(iso, &tp)) << iso;
    return tp;
}

std::string Iso(const std::optional<SysTime>& tp) {
    if (!tp) return "never";
    std::string s = core::FormatIsoTimestamp(*tp);
    return s.substr(0, 19) + "Z";  // ticks are whole seconds
}

TimerSpec Cron(const Json& params) {
    Result<TimerSpec> spec = TimerSpec::Parse("core.st2.CronTimer", params);
    EXPECT_TRUE(spec) << (spec ? "" : spec.error().message);
    return spec ? *spec : *TimerSpec::Parse("core.st2.CronTimer", Json::object());
}

/// The next `n` ticks after `from`, as ISO strings.
std::vector<std::string> Ticks(const TimerSpec& spec, const std::string& from, int n) {
    std::vector<std::string> out;
    std::optional<SysTime> t = T(from);
    for (int i = 0; i < n && t; ++i) {
        t = spec.NextAfter(*t);
        out.push_back(Iso(t));
    }
    return out;
}

std::string ParseError(const std::string& type, const Json& params) {
    Result<TimerSpec> spec = TimerSpec::Parse(type, params);
    return spec ? std::string("(parsed)") : spec.error().message;
}

TEST(TimerSpecTest, IntervalTimerFiresEveryDeltaUnitsFromWhenItWasFirstSeen) {
    Result<TimerSpec> spec = TimerSpec::Parse("core.st2.IntervalTimer", {{"unit", "minutes"}, {"delta", 5}});
    ASSERT_TRUE(spec);
    const auto first = spec->First(T("2026-12-05T10:00:00.700Z"));
    EXPECT_EQ(Iso(first), "2026-12-05T10:05:00Z");
    EXPECT_EQ(Iso(spec->NextAfter(*first)), "2026-12-05T10:10:00Z");
    Result<TimerSpec> weekly = TimerSpec::Parse("core.st2.IntervalTimer", {{"unit", "weeks"}, {"delta", 2}});
    ASSERT_TRUE(weekly);
    EXPECT_EQ(Iso(weekly->NextAfter(T("2026-12-05T10:00:00Z"))), "2026-12-19T10:00:00Z");
    // Skipping to a later time stays on the series: 10:00 + k * 5 min.
    EXPECT_EQ(Iso(spec->SkipTo(T("2026-12-05T10:00:00Z"), T("2026-12-05T11:02:00Z"))), "2026-12-05T11:05:00Z");
    EXPECT_EQ(Iso(spec->SkipTo(T("2026-12-05T10:00:00Z"), T("2026-12-05T11:05:00Z"))), "2026-12-05T11:05:00Z");
}

TEST(TimerSpecTest, DateTimerFiresOnceAtItsDateInItsTimezone) {
    Result<TimerSpec> spec =
        TimerSpec::Parse("core.st2.DateTimer", {{"date", "2026-12-24 18:00:00"}, {"timezone", "Europe/Berlin"}});
    ASSERT_TRUE(spec);
    EXPECT_EQ(Iso(spec->First(T("2026-12-01T00:00:00Z"))), "2026-12-24T17:00:00Z");
    EXPECT_EQ(Iso(spec->NextAfter(T("2026-12-24T17:00:00Z"))), "never");
    Result<TimerSpec> offset = TimerSpec::Parse("core.st2.DateTimer", {{"date", "2026-12-24T18:00:00+02:00"}});
    ASSERT_TRUE(offset);
    EXPECT_EQ(Iso(offset->First(T("2026-12-01T00:00:00Z"))), "2026-12-24T16:00:00Z");
    Result<TimerSpec> utc = TimerSpec::Parse("core.st2.DateTimer", {{"date", "2026-12-24T18:00:00.250Z"}});
    ASSERT_TRUE(utc);
    EXPECT_EQ(Iso(utc->First(T("2026-12-01T00:00:00Z"))), "2026-12-24T18:00:00Z");
    // Past its date (beyond the misfire window) it never fires.
    EXPECT_EQ(Iso(utc->SkipTo(T("2026-12-24T18:00:00Z"), T("2026-12-25T00:00:00Z"))), "never");
}

TEST(TimerSpecTest, CronStepsRangesListsAndNames) {
    EXPECT_EQ(
        Ticks(Cron({{"minute", "*/5"}}), "2026-12-05T10:03:20Z", 3),
        (std::vector<std::string>{"2026-12-05T10:05:00Z", "2026-12-05T10:10:00Z", "2026-12-05T10:15:00Z"})
    );
    EXPECT_EQ(
        Ticks(Cron({{"hour", 8}, {"minute", "0,15,30-32"}}), "2026-12-05T08:20:00Z", 5),
        (std::vector<std::string>{
            "2026-12-05T08:30:00Z",
            "2026-12-05T08:31:00Z",
            "2026-12-05T08:32:00Z",
            "2026-12-06T08:00:00Z",
            "2026-12-06T08:15:00Z"})
    );
    // day_of_week counts from Monday = 0 (APScheduler), names too; 2026-12-05 is a Saturday.
    EXPECT_EQ(
        Ticks(Cron({{"day_of_week", "mon-fri"}, {"hour", 9}}), "2026-12-05T12:00:00Z", 2),
        (std::vector<std::string>{"2026-12-07T09:00:00Z", "2026-12-08T09:00:00Z"})
    );
    EXPECT_EQ(Ticks(Cron({{"day_of_week", 0}, {"hour", 0}}), "2026-12-05T12:00:00Z", 1)[0], "2026-12-07T00:00:00Z");
    EXPECT_EQ(Ticks(Cron({{"day_of_week", "sun"}, {"hour", 0}}), "2026-12-05T12:00:00Z", 1)[0], "2026-12-06T00:00:00Z");
    EXPECT_EQ(
        Ticks(Cron({{"month", "jan,jul"}, {"day", 1}}), "2026-12-05T00:00:00Z", 2),
        (std::vector<std::string>{"2027-01-01T00:00:00Z", "2027-07-01T00:00:00Z"})
    );
    EXPECT_EQ(
        Ticks(Cron({{"second", "*/20"}}), "2026-12-05T10:00:50Z", 3),
        (std::vector<std::string>{"2026-12-05T10:01:00Z", "2026-12-05T10:01:20Z", "2026-12-05T10:01:40Z"})
    );
    EXPECT_EQ(
        Ticks(Cron({{"minute", "10/20"}}), "2026-12-05T10:00:00Z", 3),
        (std::vector<std::string>{"2026-12-05T10:10:00Z", "2026-12-05T10:30:00Z", "2026-12-05T10:50:00Z"})
    );
}

TEST(TimerSpecTest, CronSkipsToTheFirstTickAtOrAfterATime) {
    const TimerSpec spec = Cron({{"minute", "*/5"}});
    EXPECT_EQ(Iso(spec.SkipTo(T("2026-12-05T10:00:00Z"), T("2026-12-05T11:02:30Z"))), "2026-12-05T11:05:00Z");
    EXPECT_EQ(Iso(spec.SkipTo(T("2026-12-05T10:00:00Z"), T("2026-12-05T11:05:00Z"))), "2026-12-05T11:05:00Z");
    EXPECT_EQ(Iso(spec.SkipTo(T("2026-12-05T12:00:00Z"), T("2026-12-05T11:05:00Z"))), "2026-12-05T12:00:00Z");
    EXPECT_EQ(Iso(spec.First(T("2026-12-05T10:00:00Z"))), "2026-12-05T10:05:00Z");
}

TEST(TimerSpecTest, CronFieldsDefaultAsInAPScheduler) {
    // Finer fields than the finest given one default to their minimum, coarser ones to "*".
    EXPECT_EQ(
        Ticks(Cron({{"hour", 3}}), "2026-12-05T12:00:00Z", 2),
        (std::vector<std::string>{"2026-12-06T03:00:00Z", "2026-12-07T03:00:00Z"})
    );
    // No field at all: once a year, on January 1 at midnight.
    EXPECT_EQ(Ticks(Cron(Json::object()), "2026-12-05T12:00:00Z", 1)[0], "2027-01-01T00:00:00Z");
    // ISO week numbers: week 1 of 2027 starts on Monday 2027-01-04.
    EXPECT_EQ(Ticks(Cron({{"week", 1}, {"day_of_week", "mon"}}), "2026-12-05T00:00:00Z", 1)[0], "2027-01-04T00:00:00Z");
}

TEST(TimerSpecTest, MonthEndsAndLeapYears) {
    // Day 31 skips the months that do not have one.
    EXPECT_EQ(
        Ticks(Cron({{"day", 31}, {"hour", 12}}), "2026-04-01T00:00:00Z", 3),
        (std::vector<std::string>{"2026-05-31T12:00:00Z", "2026-07-31T12:00:00Z", "2026-08-31T12:00:00Z"})
    );
    EXPECT_EQ(
        Ticks(Cron({{"day", "last"}}), "2026-01-31T00:00:00Z", 3),
        (std::vector<std::string>{"2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z"})
    );
    EXPECT_EQ(Ticks(Cron({{"day", "last"}}), "2028-02-01T00:00:00Z", 1)[0], "2028-02-29T00:00:00Z");
    // February 29 comes every four years (2100 is not a leap year, 2000 was).
    EXPECT_EQ(
        Ticks(Cron({{"month", 2}, {"day", 29}}), "2026-03-01T00:00:00Z", 2),
        (std::vector<std::string>{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"})
    );
    EXPECT_EQ(Ticks(Cron({{"month", 2}, {"day", 29}}), "2096-03-01T00:00:00Z", 1)[0], "2104-02-29T00:00:00Z");
    // Weekday positions: the last Friday, the second Monday.
    EXPECT_EQ(Ticks(Cron({{"day", "last fri"}}), "2026-12-05T00:00:00Z", 1)[0], "2026-12-25T00:00:00Z");
    EXPECT_EQ(Ticks(Cron({{"day", "2nd mon"}}), "2026-12-05T00:00:00Z", 1)[0], "2026-12-14T00:00:00Z");
    // A date that never exists never fires; a year that is over neither.
    EXPECT_EQ(Ticks(Cron({{"month", 2}, {"day", 30}}), "2026-01-01T00:00:00Z", 1)[0], "never");
    EXPECT_EQ(Ticks(Cron({{"year", 2027}, {"month", 1}, {"day", 1}}), "2027-06-01T00:00:00Z", 1)[0], "never");
}

TEST(TimerSpecTest, CronInATimezone) {
    EXPECT_EQ(
        Ticks(Cron({{"hour", 9}, {"timezone", "Asia/Tokyo"}}), "2026-12-05T12:00:00Z", 1)[0], "2026-12-06T00:00:00Z"
    );
    EXPECT_EQ(
        Ticks(Cron({{"hour", 9}, {"timezone", "America/New_York"}}), "2026-12-05T12:00:00Z", 1)[0],
        "2026-12-05T14:00:00Z"
    );
    // Summer time in New York is UTC-4.
    EXPECT_EQ(
        Ticks(Cron({{"hour", 9}, {"timezone", "America/New_York"}}), "2026-07-01T00:00:00Z", 1)[0],
        "2026-07-01T13:00:00Z"
    );
}

TEST(TimerSpecTest, SpringForwardGapFiresOnceAtItsEnd) {
    // Europe/Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00Z; 02:30 does not exist that day.
    const Json daily = {{"hour", 2}, {"minute", 30}, {"timezone", "Europe/Berlin"}};
    EXPECT_EQ(
        Ticks(Cron(daily), "2026-03-27T12:00:00Z", 3),
        (std::vector<std::string>{
            "2026-03-28T01:30:00Z",   // 02:30 CET
            "2026-03-29T01:00:00Z",   // the gap's end (03:00 CEST): the day is not skipped
            "2026-03-30T00:30:00Z"})  // 02:30 CEST
    );
    // Every 30 minutes: 02:00 and 02:30 fall into the gap and become the one tick at 03:00 CEST.
    EXPECT_EQ(
        Ticks(Cron({{"minute", "*/30"}, {"timezone", "Europe/Berlin"}}), "2026-03-29T00:15:00Z", 3),
        (std::vector<std::string>{"2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"})
    );
    // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00Z.
    EXPECT_EQ(
        Ticks(Cron({{"hour", 2}, {"minute", 15}, {"timezone", "America/New_York"}}), "2026-03-07T12:00:00Z", 2),
        (std::vector<std::string>{"2026-03-08T07:00:00Z", "2026-03-09T06:15:00Z"})
    );
}

TEST(TimerSpecTest, FallBackRepeatsTheHourWithoutAGap) {
    // Europe/Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00Z; 02:00-02:59 happens twice.
    EXPECT_EQ(
        Ticks(Cron({{"minute", "*/30"}, {"timezone", "Europe/Berlin"}}), "2026-10-25T00:15:00Z", 4),
        (std::vector<std::string>{
            "2026-10-25T00:30:00Z",   // 02:30 CEST
            "2026-10-25T01:00:00Z",   // 02:00 CET
            "2026-10-25T01:30:00Z",   // 02:30 CET
            "2026-10-25T02:00:00Z"})  // 03:00 CET
    );
    // A tick inside the repeated hour is found from anywhere before it (the answer is the earliest instant).
    EXPECT_EQ(
        Ticks(Cron({{"minute", "*/20"}, {"timezone", "Europe/Berlin"}}), "2026-10-25T00:50:00Z", 2),
        (std::vector<std::string>{"2026-10-25T01:00:00Z", "2026-10-25T01:20:00Z"})
    );
    // A daily 02:30 fires at both instants of that day's 02:30.
    EXPECT_EQ(
        Ticks(Cron({{"hour", 2}, {"minute", 30}, {"timezone", "Europe/Berlin"}}), "2026-10-24T12:00:00Z", 3),
        (std::vector<std::string>{"2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-26T01:30:00Z"})
    );
    // Hourly at :00 during the repeated hour in New York (01:00 EDT, 01:00 EST).
    EXPECT_EQ(
        Ticks(Cron({{"minute", 0}, {"timezone", "America/New_York"}}), "2026-11-01T04:30:00Z", 3),
        (std::vector<std::string>{"2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"})
    );
}

TEST(TimerSpecTest, BadParametersAreRefusedNamingTheField) {
    const std::string cron = "core.st2.CronTimer";
    EXPECT_EQ(ParseError(cron, {{"minute", "*/0"}}), "trigger.parameters.minute: \"*/0\": the step must be at least 1");
    EXPECT_NE(
        ParseError(cron, {{"hour", 24}}).find("trigger.parameters.hour: \"24\": 24 is out of range (0..23)"),
        std::string::npos
    );
    EXPECT_NE(ParseError(cron, {{"day_of_week", "funday"}}).find("trigger.parameters.day_of_week"), std::string::npos);
    EXPECT_NE(ParseError(cron, {{"minute", "5-1"}}).find("start is after its end"), std::string::npos);
    EXPECT_NE(ParseError(cron, {{"minutes", 5}}).find("trigger.parameters.minutes: unknown field"), std::string::npos);
    EXPECT_NE(ParseError(cron, {{"day", "3rd xyz"}}).find("trigger.parameters.day"), std::string::npos);
    EXPECT_NE(ParseError(cron, {{"minute", true}}).find("must be a string or an integer"), std::string::npos);
    EXPECT_NE(
        ParseError(
            cron, {{"hour", 1}, {"timezone", "Mars/Olympus"}}
        ).find("trigger.parameters.timezone: unknown time zone"),
        std::string::npos
    );
    const std::string interval = "core.st2.IntervalTimer";
    EXPECT_NE(
        ParseError(interval, {{"unit", "seconds"}, {"delta", 0}}).find("trigger.parameters.delta"), std::string::npos
    );
    EXPECT_NE(
        ParseError(interval, {{"unit", "fortnights"}, {"delta", 1}}).find("trigger.parameters.unit"), std::string::npos
    );
    EXPECT_NE(
        ParseError(interval, {{"unit", "seconds"}}).find("trigger.parameters.delta: is required"), std::string::npos
    );
    EXPECT_NE(
        ParseError("core.st2.DateTimer", {{"date", "tomorrow"}}).find("trigger.parameters.date"), std::string::npos
    );
    EXPECT_NE(
        ParseError("core.st2.DateTimer", {{"date", "2026-02-30 10:00:00"}}).find("trigger.parameters.date"),
        std::string::npos
    );
}

TEST(TimerSpecTest, TimerAndTickIdsAreDeterministic) {
    const std::string a = TimerId("core.st2.CronTimer", {{"minute", "*/5"}});
    EXPECT_EQ(a, TimerId("core.st2.CronTimer", {{"minute", "*/5"}}));
    EXPECT_NE(a, TimerId("core.st2.CronTimer", {{"minute", "*/10"}}));
    EXPECT_NE(a, TimerId("core.st2.IntervalTimer", {{"minute", "*/5"}}));
    const std::string tick = TickInstanceId(a, T("2026-12-05T10:05:00Z"));
    EXPECT_EQ(tick.size(), 24u);
    EXPECT_EQ(tick, TickInstanceId(a, T("2026-12-05T10:05:00Z")));
    EXPECT_NE(tick, TickInstanceId(a, T("2026-12-05T10:10:00Z")));
    // Ids sort by tick time, like every instance id.
    EXPECT_LT(tick.substr(0, 8), TickInstanceId(a, T("2026-12-05T10:10:00Z")).substr(0, 8));
}

}  // namespace
}  // namespace squall::sensors
