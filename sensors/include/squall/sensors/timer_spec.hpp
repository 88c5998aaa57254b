#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "squall/core/error.hpp"
#include "squall/core/model/model.hpp"

namespace date {
class time_zone;
}

namespace squall::sensors {

using core::Json;
using SysTime = std::chrono::system_clock::time_point;

/// One item of an APScheduler cron field: `*`, `*/n`, `a`, `a-b`, `a-b/n`, `a/n` (names allowed for month and
/// day_of_week), and for `day` also `last`, `last <weekday>` and `<1st..5th> <weekday>`.
struct CronItem {
    enum class Kind { kRange, kLastDay, kLastWeekday, kNthWeekday };
    Kind kind = Kind::kRange;
    int first = 0;
    int last = 0;
    int step = 1;
    int weekday = 0;  ///< 0 = Monday (APScheduler numbering), for kLastWeekday and kNthWeekday
    int nth = 0;      ///< 1..5, for kNthWeekday
};

/// The schedule of a timer trigger (SPEC §3.1, reference §7): `core.st2.IntervalTimer` {unit, delta},
/// `core.st2.DateTimer` {date, timezone}, `core.st2.CronTimer` {timezone, year, month, day, week, day_of_week,
/// hour, minute, second} with APScheduler's cron semantics (day_of_week 0 = Monday; fields finer than the finest
/// given one default to their minimum, coarser ones to `*`). Pure: every time comes in as an argument, so the
/// math is tested with a manual clock. Immutable after Parse; thread-safe.
///
/// Local times that a daylight-saving change skips (the spring-forward gap) fire once, at the end of the gap; local
/// times that occur twice (fall back) fire at both instants. docs/sensors.md has the reasoning.
class TimerSpec {
public:
    enum class Kind { kInterval, kDate, kCron };

    /// True for the three timer trigger types.
    static bool IsTimerType(const std::string& trigger_type);
    /// Parses a rule's trigger parameters. Errors are kInvalidArgument and name the field:
    /// `trigger.parameters.minute: "*/0": the step must be at least 1`.
    static Result<TimerSpec> Parse(const std::string& trigger_type, const Json& parameters);

    Kind kind() const { return kind_; }
    /// The first tick of a timer first seen at `now`: IntervalTimer now + interval (whole seconds), DateTimer its
    /// date (which may be past), CronTimer the first matching time after `now`. Null: it never fires.
    std::optional<SysTime> First(SysTime now) const;
    /// The tick after `tick` (strictly later); null when there is none (a DateTimer, a cron whose years are over).
    std::optional<SysTime> NextAfter(SysTime tick) const;
    /// The first tick at or after `from` in the series that `tick` belongs to (for skipping ticks missed beyond
    /// the misfire window). Null when there is none.
    std::optional<SysTime> SkipTo(SysTime tick, SysTime from) const;

private:
    struct Field {
        std::vector<CronItem> items;
        bool Matches(int value) const;
    };
    std::optional<std::chrono::sys_seconds> CronNextAfter(std::chrono::sys_seconds t) const;
    /// The first local time at or after `from` (seconds since the local epoch) whose fields match.
    std::optional<std::chrono::seconds> NextLocal(std::chrono::seconds from) const;
    bool DateMatches(int y, unsigned m, unsigned d) const;
    /// The earliest instant after `t` of local time `local` (seconds since the local epoch), if any.
    std::optional<std::chrono::sys_seconds> InstantAfter(std::chrono::seconds local, std::chrono::sys_seconds t) const;

    Kind kind_ = Kind::kInterval;
    const date::time_zone* zone_ = nullptr;  // tzdb zones live for the process
    std::chrono::seconds interval_{0};
    std::chrono::sys_seconds date_{};
    Field year_, month_, day_, week_, day_of_week_;
    std::bitset<24> hour_;
    std::bitset<60> minute_, second_;
};

/// A stable id for a timer: its trigger type and parameters (rules with equal ones share one timer, as in
/// StackStorm, where the trigger is the type plus its parameters). 16 hex digits.
std::string TimerId(const std::string& trigger_type, const Json& parameters);
/// The trigger instance id of one tick: 8 hex digits of the tick's seconds (ids sort by time, like ObjectIds)
/// and 16 of a hash of the timer and the tick. Deterministic, so that two timer roles firing the same tick during a
/// lease hand-over store it once (TriggerStore::Emit ignores an id it has).
std::string TickInstanceId(const std::string& timer_id, SysTime tick);

}  // namespace squall::sensors
