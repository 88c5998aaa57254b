#include "squall/sensors/timer_spec.hpp"

#include <date/iso_week.h>
#include <date/tz.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <map>

#include "squall/core/clock.hpp"
#include "squall/core/id.hpp"

namespace squall::sensors {
namespace {

using std::chrono::days;
using std::chrono::seconds;
using std::chrono::sys_seconds;

const char* const kIntervalTimer = "core.st2.IntervalTimer";
const char* const kDateTimer = "core.st2.DateTimer";
const char* const kCronTimer = "core.st2.CronTimer";

/// The widest shift of a UTC offset at one transition that the bounded search below allows for (real zones move
/// by 1 h, Lord Howe by 30 min; a few historical changes were 2 h).
constexpr seconds kMaxShift = std::chrono::hours(3);

std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string Trim(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

/// A cron field as APScheduler declares it: its range, its default, and the names it accepts.
struct FieldDef {
    const char* name;
    int min;
    int max;
    const char* default_value;  // for fields finer than the finest given one
    std::vector<std::string> names;
};

const std::vector<FieldDef>& FieldDefs() {
    static const std::vector<FieldDef> kDefs = {
        {"year", 1970, 9999, "*", {}},
        {"month", 1, 12, "1", {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
        {"day", 1, 31, "1", {}},
        {"week", 1, 53, "*", {}},
        {"day_of_week", 0, 6, "*", {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}},
        {"hour", 0, 23, "0", {}},
        {"minute", 0, 59, "0", {}},
        {"second", 0, 59, "0", {}},
    };
    return kDefs;
}

Error FieldError(const std::string& field, const std::string& expr, const std::string& what) {
    return InvalidArgument("trigger.parameters." + field + ": \"" + expr + "\": " + what);
}

/// A number or a name of `def` (names count from def.min: "mon" is 0, "jan" is 1); -1 when it is neither.
int ParseValue(const FieldDef& def, const std::string& text) {
    if (text.empty()) return -1;
    if (std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
        if (text.size() > 5) return -1;
        return std::stoi(text);
    }
    for (size_t i = 0; i < def.names.size(); ++i) {
        if (def.names[i] == text) return def.min + static_cast<int>(i);
    }
    return -1;
}

int ParseWeekday(const std::string& text) {
    static const std::array<const char*, 7> kNames = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    for (size_t i = 0; i < kNames.size(); ++i) {
        if (text == kNames[i]) return static_cast<int>(i);
    }
    return -1;
}

Result<CronItem> ParseItem(const FieldDef& def, const std::string& raw, const std::string& whole) {
    const std::string text = Lower(Trim(raw));
    const std::string field = def.name;
    if (text.empty()) return FieldError(field, whole, "an empty item");
    CronItem item;
    if (field == "day") {
        // APScheduler's day-of-month specials: "last", "last fri", "2nd mon".
        const size_t space = text.find(' ');
        if (text == "last") {
            item.kind = CronItem::Kind::kLastDay;
            return item;
        }
        if (space != std::string::npos) {
            const std::string head = text.substr(0, space);
            const int wd = ParseWeekday(Trim(text.substr(space + 1)));
            if (wd < 0) return FieldError(field, whole, "\"" + text + "\" does not name a weekday (mon..sun)");
            item.weekday = wd;
            if (head == "last") {
                item.kind = CronItem::Kind::kLastWeekday;
                return item;
            }
            static const std::map<std::string, int> kNth = {{"1st", 1}, {"2nd", 2}, {"3rd", 3}, {"4th", 4}, {"5th", 5}};
            auto it = kNth.find(head);
            if (it == kNth.end()) return FieldError(field, whole, "\"" + head + "\" is not one of last, 1st..5th");
            item.kind = CronItem::Kind::kNthWeekday;
            item.nth = it->second;
            return item;
        }
    }
    std::string range = text;
    const size_t slash = text.find('/');
    bool has_step = false;
    if (slash != std::string::npos) {
        range = text.substr(0, slash);
        const std::string step = text.substr(slash + 1);
        if (step.empty() || step.size() > 5 ||
            !std::all_of(step.begin(), step.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
            return FieldError(field, whole, "the step \"" + step + "\" is not a number");
        }
        item.step = std::stoi(step);
        if (item.step < 1) return FieldError(field, whole, "the step must be at least 1");
        has_step = true;
    }
    if (range == "*") {
        item.first = def.min;
        item.last = def.max;
        return item;
    }
    const size_t dash = range.find('-');
    const std::string a = dash == std::string::npos ? range : range.substr(0, dash);
    item.first = ParseValue(def, a);
    if (item.first < 0) {
        return FieldError(
            field,
            whole,
            "\"" + a + "\" is not a number" +
                (def.names.empty() ? std::string() : " or a name (" + def.names[0] + "..)")
        );
    }
    if (dash != std::string::npos) {
        const std::string b = range.substr(dash + 1);
        item.last = ParseValue(def, b);
        if (item.last < 0) return FieldError(field, whole, "\"" + b + "\" is not a number or a name");
    } else {
        item.last = has_step ? def.max : item.first;  // "5/10" is "5-max/10", as in APScheduler
    }
    for (int v : {item.first, item.last}) {
        if (v < def.min || v > def.max) {
            return FieldError(
                field,
                whole,
                std::to_string(v) + " is out of range (" + std::to_string(def.min) + ".." + std::to_string(def.max) +
                    ")"
            );
        }
    }
    if (item.first > item.last) return FieldError(field, whole, "the range's start is after its end");
    return item;
}

template <size_t N>
void FillBits(const std::vector<CronItem>& items, std::bitset<N>& bits) {
    for (const auto& it : items) {
        for (int v = it.first; v <= it.last; v += it.step) bits.set(static_cast<size_t>(v));
    }
}

const date::time_zone* LocateZone(const std::string& name, Error* error) {
    try {
        return date::locate_zone(name);
    } catch (const std::exception&) {
        *error = InvalidArgument(
            "trigger.parameters.timezone: unknown time zone \"" + name +
            "\" (a name of the tz database, e.g. "
            "\"Europe/Berlin\" or \"UTC\")"
        );
        return nullptr;
    }
}

/// The instant of local time `local` in `zone`: the earlier one when it occurs twice, the end of the gap when it
/// does not occur.
sys_seconds ToSys(const date::time_zone* zone, seconds local) {
    const date::local_info info = zone->get_info(date::local_seconds{local});
    if (info.result == date::local_info::nonexistent) return info.first.end;
    return sys_seconds{local - info.first.offset};
}

/// "2026-03-29 02:30:00", "2026-03-29T02:30:00.5Z", "2026-03-29 02:30+01:00". Without an offset the time is local
/// to `zone`.
Result<sys_seconds> ParseDate(const std::string& text, const date::time_zone* zone) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, used = 0;
    const Error bad = InvalidArgument(
        "trigger.parameters.date: \"" + text + "\" is not a date (YYYY-MM-DD HH:MM:SS, optionally with a UTC offset)"
    );
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10) return bad;  // NOLINT
    size_t pos = 10;
    if (pos < text.size() && (text[pos] == ' ' || text[pos] == 'T' || text[pos] == 't')) {
        int n = 0;
        if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5) return bad;  // NOLINT
        pos += 6;
        if (pos < text.size() && text[pos] == ':') {
            if (std::sscanf(text.c_str() + pos + 1, "%2d%n", &s, &n) != 1 || n != 2) return bad;  // NOLINT
            pos += 3;
            if (pos < text.size() && text[pos] == '.') {
                ++pos;
                while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
            }
        }
    }
    const date::year_month_day ymd{
        date::year{y}, date::month{static_cast<unsigned>(mo)}, date::day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return bad;
    const seconds local =
        date::sys_days{ymd}.time_since_epoch() + std::chrono::hours(h) + std::chrono::minutes(mi) + seconds(s);
    const std::string rest = text.substr(pos);
    if (rest.empty()) return ToSys(zone, local);
    if (rest == "Z" || rest == "z") return sys_seconds{local};
    int oh = 0, om = 0;
    if ((rest[0] == '+' || rest[0] == '-') &&
        (std::sscanf(rest.c_str() + 1, "%2d:%2d", &oh, &om) == 2 ||                        // NOLINT
         (rest.size() == 5 && std::sscanf(rest.c_str() + 1, "%2d%2d", &oh, &om) == 2))) {  // NOLINT
        const seconds offset = std::chrono::hours(oh) + std::chrono::minutes(om);
        return sys_seconds{rest[0] == '+' ? local - offset : local + offset};
    }
    return bad;
}

}  // namespace

bool TimerSpec::IsTimerType(const std::string& trigger_type) {
    return trigger_type == kIntervalTimer || trigger_type == kDateTimer || trigger_type == kCronTimer;
}

bool TimerSpec::Field::Matches(int value) const {
    for (const auto& it : items) {
        if (it.kind == CronItem::Kind::kRange && value >= it.first && value <= it.last &&
            (value - it.first) % it.step == 0) {
            return true;
        }
    }
    return false;
}

Result<TimerSpec> TimerSpec::Parse(const std::string& trigger_type, const Json& parameters) {
    if (!IsTimerType(trigger_type)) return InvalidArgument("trigger.type: \"" + trigger_type + "\" is not a timer");
    const Json params = parameters.is_object() ? parameters : Json::object();
    TimerSpec spec;
    std::string tz_name = "UTC";
    if (params.contains("timezone") && !params["timezone"].is_null()) {
        if (!params["timezone"].is_string()) return InvalidArgument("trigger.parameters.timezone: must be a string");
        tz_name = params["timezone"].get<std::string>();
    }
    Error zone_error = Internal("");
    spec.zone_ = LocateZone(tz_name, &zone_error);
    if (spec.zone_ == nullptr) return zone_error;

    if (trigger_type == kIntervalTimer) {
        spec.kind_ = Kind::kInterval;
        static const std::map<std::string, seconds> kUnits = {
            {"seconds", seconds(1)},
            {"minutes", seconds(60)},
            {"hours", seconds(3600)},
            {"days", seconds(86400)},
            {"weeks", seconds(604800)},
        };
        const Json unit = params.value("unit", Json());
        if (!unit.is_string() || !kUnits.count(unit.get<std::string>())) {
            return InvalidArgument(
                "trigger.parameters.unit: " + (unit.is_null() ? std::string("is required") : unit.dump() + " is not") +
                " (one of seconds, minutes, hours, days, weeks)"
            );
        }
        const Json delta = params.value("delta", Json());
        if (!delta.is_number_integer()) {
            return InvalidArgument(
                "trigger.parameters.delta: " +
                (delta.is_null() ? std::string("is required") : delta.dump() + " is not an integer")
            );
        }
        if (delta.get<int64_t>() < 1 || delta.get<int64_t>() > 100LL * 366 * 86400) {
            return InvalidArgument("trigger.parameters.delta: " + delta.dump() + " is out of range (at least 1)");
        }
        spec.interval_ = kUnits.at(unit.get<std::string>()) * delta.get<int64_t>();
        return spec;
    }
    if (trigger_type == kDateTimer) {
        spec.kind_ = Kind::kDate;
        const Json date = params.value("date", Json());
        if (!date.is_string()) return InvalidArgument("trigger.parameters.date: is required (a date-time string)");
        Result<sys_seconds> at = ParseDate(date.get<std::string>(), spec.zone_);
        if (!at) return at.error();
        spec.date_ = *at;
        return spec;
    }

    spec.kind_ = Kind::kCron;
    // APScheduler: a field that is given is used; fields coarser than the finest given one default to "*", finer
    // ones to their minimum (week and day_of_week always to "*").
    size_t finest = 0;
    bool any = false;
    const auto& defs = FieldDefs();
    for (size_t i = 0; i < defs.size(); ++i) {
        if (params.contains(defs[i].name) && !params[defs[i].name].is_null()) {
            finest = i;
            any = true;
        }
    }
    for (const auto& [key, value] : params.items()) {
        if (key == "timezone") continue;
        if (std::none_of(defs.begin(), defs.end(), [&key = key](const FieldDef& d) { return key == d.name; })) {
            return InvalidArgument(
                "trigger.parameters." + key +
                ": unknown field (year, month, day, week, day_of_week, hour, minute, second, timezone)"
            );
        }
    }
    std::array<Field*, 5> date_fields = {&spec.year_, &spec.month_, &spec.day_, &spec.week_, &spec.day_of_week_};
    std::array<std::vector<CronItem>, 3> time_items;
    for (size_t i = 0; i < defs.size(); ++i) {
        const FieldDef& def = defs[i];
        std::string expr;
        const Json v = params.value(def.name, Json());
        if (!v.is_null()) {
            if (v.is_number_integer()) {
                expr = std::to_string(v.get<int64_t>());
            } else if (v.is_string()) {
                expr = v.get<std::string>();
            } else {
                return InvalidArgument(
                    std::string("trigger.parameters.") + def.name + ": must be a string or an integer"
                );
            }
        } else if (!any || i > finest) {
            expr = def.default_value;
        } else {
            expr = "*";
        }
        std::vector<CronItem> items;
        size_t start = 0;
        while (true) {
            const size_t comma = expr.find(',', start);
            Result<CronItem> item = ParseItem(def, expr.substr(start, comma - start), expr);
            if (!item) return item.error();
            items.push_back(*item);
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
        if (i < date_fields.size()) {
            date_fields[i]->items = std::move(items);
        } else {
            time_items[i - date_fields.size()] = std::move(items);
        }
    }
    FillBits(time_items[0], spec.hour_);
    FillBits(time_items[1], spec.minute_);
    FillBits(time_items[2], spec.second_);
    return spec;
}

bool TimerSpec::DateMatches(int y, unsigned m, unsigned d) const {
    using namespace date;
    const year_month_day ymd{year{y}, month{m}, day{d}};
    const sys_days sd{ymd};
    const int wd = static_cast<int>(weekday{sd}.iso_encoding()) - 1;  // 0 = Monday
    if (!day_of_week_.Matches(wd)) return false;
    if (!week_.Matches(static_cast<int>(static_cast<unsigned>(iso_week::year_weeknum_weekday{sd}.weeknum())))) {
        return false;
    }
    const unsigned last = static_cast<unsigned>(year_month_day_last{year{y}, month_day_last{month{m}}}.day());
    for (const auto& it : day_.items) {
        switch (it.kind) {
            case CronItem::Kind::kRange:
                if (static_cast<int>(d) >= it.first && static_cast<int>(d) <= it.last &&
                    (static_cast<int>(d) - it.first) % it.step == 0) {
                    return true;
                }
                break;
            case CronItem::Kind::kLastDay:
                if (d == last) return true;
                break;
            case CronItem::Kind::kLastWeekday:
                if (wd == it.weekday && d + 7 > last) return true;
                break;
            case CronItem::Kind::kNthWeekday:
                if (wd == it.weekday && (d - 1) / 7 + 1 == static_cast<unsigned>(it.nth)) return true;
                break;
        }
    }
    return false;
}

std::optional<seconds> TimerSpec::NextLocal(seconds from) const {
    using namespace date;
    sys_days dp = std::chrono::floor<days>(sys_seconds{from});
    int64_t tod = (from - dp.time_since_epoch()).count();
    const int start_year = static_cast<int>(year_month_day{dp}.year());
    // Bounded: year by year, month by month, then day by day; a schedule that matches no date in 400 years (the
    // Gregorian cycle, e.g. February 30) never fires.
    for (int guard = 0; guard < 200000; ++guard) {
        const year_month_day ymd{dp};
        const int y = static_cast<int>(ymd.year());
        if (y > 9999 || y > start_year + 400) return std::nullopt;
        if (!year_.Matches(y)) {
            dp = sys_days{year{y + 1} / January / 1};
            tod = 0;
            continue;
        }
        const auto m = static_cast<unsigned>(ymd.month());
        if (!month_.Matches(static_cast<int>(m))) {
            dp = sys_days{(ymd.year() / ymd.month() + months{1}) / 1};
            tod = 0;
            continue;
        }
        if (DateMatches(y, m, static_cast<unsigned>(ymd.day()))) {
            const int h0 = static_cast<int>(tod / 3600), m0 = static_cast<int>(tod % 3600 / 60),
                      s0 = static_cast<int>(tod % 60);
            for (int h = h0; h < 24; ++h) {
                if (!hour_[static_cast<size_t>(h)]) continue;
                for (int mi = h == h0 ? m0 : 0; mi < 60; ++mi) {
                    if (!minute_[static_cast<size_t>(mi)]) continue;
                    for (int s = (h == h0 && mi == m0) ? s0 : 0; s < 60; ++s) {
                        if (second_[static_cast<size_t>(s)]) {
                            return dp.time_since_epoch() + seconds(h * 3600 + mi * 60 + s);
                        }
                    }
                }
            }
        }
        dp += days{1};
        tod = 0;
    }
    return std::nullopt;
}

std::optional<sys_seconds> TimerSpec::InstantAfter(seconds local, sys_seconds t) const {
    const date::local_info info = zone_->get_info(date::local_seconds{local});
    if (info.result == date::local_info::nonexistent) {
        if (info.first.end > t) return info.first.end;  // skipped by a spring-forward: fires at the gap's end
        return std::nullopt;
    }
    const sys_seconds first{local - info.first.offset};
    if (first > t) return first;
    if (info.result == date::local_info::ambiguous) {
        const sys_seconds second{local - info.second.offset};
        if (second > t) return second;
    }
    return std::nullopt;
}

std::optional<sys_seconds> TimerSpec::CronNextAfter(sys_seconds t) const {
    const date::sys_info at_t = zone_->get_info(t);
    const seconds local = t.time_since_epoch() + at_t.offset;
    std::optional<seconds> c = NextLocal(local);
    std::optional<sys_seconds> found;
    seconds found_local{0};
    // Local times at or after t's local time: the first one with an instant after t. (Only a repeated hour makes
    // a local time's instants fall before t; the loop is bounded by the hour's length in practice.)
    for (int guard = 0; c && guard < 100000; ++guard) {
        found = InstantAfter(*c, t);
        if (found) {
            found_local = *c;
            break;
        }
        c = NextLocal(*c + seconds(1));
    }
    if (!found) return std::nullopt;
    // Without a transition between t and the answer the UTC offset is constant there, local time runs forward
    // with real time, and the first match is the earliest. Across a transition local times can repeat (fall back)
    // and an earlier local time can have a later second instant: look at every candidate near it.
    if (at_t.end > *found) return found;
    c = NextLocal(local - kMaxShift);
    for (int guard = 0; c && *c <= found_local + kMaxShift && guard < 100000; ++guard) {
        std::optional<sys_seconds> s = InstantAfter(*c, t);
        if (s && *s < *found) found = s;
        c = NextLocal(*c + seconds(1));
    }
    return found;
}

std::optional<SysTime> TimerSpec::First(SysTime now) const {
    switch (kind_) {
        case Kind::kInterval:
            return std::chrono::floor<seconds>(now) + interval_;
        case Kind::kDate:
            return SysTime(date_);
        case Kind::kCron:
            return NextAfter(now);
    }
    return std::nullopt;
}

std::optional<SysTime> TimerSpec::NextAfter(SysTime tick) const {
    switch (kind_) {
        case Kind::kInterval:
            return tick + interval_;
        case Kind::kDate:
            return std::nullopt;
        case Kind::kCron: {
            std::optional<sys_seconds> next = CronNextAfter(std::chrono::floor<seconds>(tick));
            if (!next) return std::nullopt;
            return SysTime(*next);
        }
    }
    return std::nullopt;
}

std::optional<SysTime> TimerSpec::SkipTo(SysTime tick, SysTime from) const {
    if (tick >= from) return tick;
    switch (kind_) {
        case Kind::kInterval: {
            const auto behind = from - tick;
            const auto steps = (behind + interval_ - SysTime::duration(1)) / interval_;
            return tick + interval_ * steps;
        }
        case Kind::kDate:
            return std::nullopt;
        case Kind::kCron:
            return NextAfter(std::chrono::ceil<seconds>(from) - seconds(1));
    }
    return std::nullopt;
}

std::string TimerId(const std::string& trigger_type, const Json& parameters) {
    return core::Sha256Hex(trigger_type + "\n" + core::CanonicalDump(parameters)).substr(0, 16);
}

std::string TickInstanceId(const std::string& timer_id, SysTime tick) {
    const auto secs = static_cast<uint32_t>(std::chrono::floor<seconds>(tick).time_since_epoch().count());
    char head[9];
    std::snprintf(head, sizeof(head), "%08x", secs);  // NOLINT
    return std::string(head) + core::Sha256Hex(timer_id + ":" + std::to_string(core::ToMicros(tick))).substr(0, 16);
}

}  // namespace squall::sensors
