#include "squall/sensors/timers.hpp"

#include "squall/core/clock.hpp"
#include "squall/core/log.hpp"

namespace squall::sensors {
namespace {

using core::Log;

// KEYS: 1 lease. ARGV: 1 owner, 2 ttl (ms). Renews our lease or takes a free one; 0 when another holds it.
const char* kLease = R"lua(
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
)lua";

// KEYS: 1 lease. ARGV: 1 owner.
const char* kRelease = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
)lua";

// KEYS: 1 lease, 2 next ticks. ARGV: 1 owner, 2 timer id, 3 its first tick. Only the holder may start a timer;
// whoever started it first wins (a stale holder's value never replaces it). Returns the timer's next tick.
const char* kInit = R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3])
return redis.call('HGET', KEYS[2], ARGV[2])
)lua";

// KEYS: 1 lease, 2 next ticks. ARGV: 1 owner, 2 timer id, 3 the tick just fired, 4 the next one (or "done").
// Fenced by the lease: a holder that lost it (paused past its ttl) cannot move the schedule back or forth.
const char* kAdvance = R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
return 1
)lua";

// KEYS: 1 lease, 2 next ticks. ARGV: 1 owner, 2.. timer ids whose rules are gone.
const char* kForget = R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('HDEL', KEYS[2], unpack(ARGV, 2))
)lua";

const core::Script& Scripts(int which) {
    static const core::Script kScripts[] = {
        core::Script(kLease),
        core::Script(kRelease),
        core::Script(kInit),
        core::Script(kAdvance),
        core::Script(kForget)};
    return kScripts[which];  // NOLINT(cppcoreguidelines-pro-bounds-constant-array-index)
}
enum { kLeaseScript = 0, kReleaseScript = 1, kInitScript = 2, kAdvanceScript = 3, kForgetScript = 4 };

constexpr const char* kDone = "done";

SysTime FromMicros(int64_t micros) {
    return SysTime(std::chrono::duration_cast<SysTime::duration>(std::chrono::microseconds(micros)));
}

bool ParseMicros(const std::string& text, int64_t* out) {
    if (text.empty() || text.size() > 19) return false;
    int64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return true;
}

}  // namespace

packs::RuleCheck WithTimerCheck(packs::RuleCheck check) {
    return [check = std::move(check)](const packs::RuleMeta& rule, const core::YamlDocument& doc) {
        std::vector<Error> errors = check ? check(rule, doc) : std::vector<Error>{};
        if (TimerSpec::IsTimerType(rule.trigger_type)) {
            Result<TimerSpec> spec = TimerSpec::Parse(rule.trigger_type, rule.trigger_parameters);
            if (!spec) {
                const std::string& message = spec.error().message;  // "trigger.parameters.minute: ..."
                const size_t colon = message.find(": ");
                errors.push_back(
                    colon == std::string::npos ? doc.ErrorAt("trigger.parameters", message)
                                               : doc.ErrorAt(message.substr(0, colon), message.substr(colon + 2))
                );
            }
        }
        return errors;
    };
}

TimerSensor::TimerSensor(SensorContext& ctx, TimerSensorOptions options)
    : ctx_(ctx),
      options_(options),
      lease_key_(ctx.triggers.keys().Prefix() + "{t}timers:lease"),
      next_key_(ctx.triggers.keys().Prefix() + "{t}timers:next") {}

TimerSensor::~TimerSensor() {
    Stop();
}

void TimerSensor::Start() {
    if (thread_.joinable()) return;
    {
        std::lock_guard lock(mu_);
        stopping_ = false;
    }
    thread_ = std::thread([this] {
        auto log = core::Logger("sensors");
        while (true) {
            try {
                PassBlocking();
            } catch (const std::exception& e) {  // the loop's per-pass boundary: log and go on
                Log(*log, spdlog::level::err, "timer pass failed", {{"error", e.what()}});
            }
            std::unique_lock lock(mu_);
            if (cv_.wait_for(lock, options_.poll, [this] { return stopping_; })) break;
        }
        ReleaseLeaseBlocking();
    });
}

void TimerSensor::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

bool TimerSensor::RenewLeaseBlocking() {
    Result<core::RedisReply> r =
        Scripts(kLeaseScript)
            .RunBlocking(*ctx_.redis, {lease_key_}, {ctx_.instance, std::to_string(options_.lease_ttl.count())});
    const bool held = r && !r->IsError() && r->integer == 1;
    if (held != holder_.exchange(held)) {
        Log(*core::Logger("sensors"),
            spdlog::level::info,
            held ? "timers lease taken: this process fires the timers" : "timers lease lost",
            {{"instance", ctx_.instance}});
    }
    return held;
}

void TimerSensor::ReleaseLeaseBlocking() {
    if (!holder_.exchange(false)) return;
    (void)Scripts(kReleaseScript).RunBlocking(*ctx_.redis, {lease_key_}, {ctx_.instance});
}

bool TimerSensor::RefreshTimersBlocking() {
    Result<packs::ContentSnapshotPtr> snap = ctx_.content.GetBlocking();
    if (!snap) {
        Log(*core::Logger("sensors"),
            spdlog::level::warn,
            "timers: cannot read rules",
            {{"error", snap.error().message}});
        return false;
    }
    if (snapshot_ && snapshot_->version == (*snap)->version) return true;
    snapshot_ = *snap;
    timers_.clear();
    size_t invalid = 0;
    for (const auto& [ref, rule] : snapshot_->rules) {
        if (!rule.enabled || !TimerSpec::IsTimerType(rule.trigger_type)) continue;
        Result<TimerSpec> spec = TimerSpec::Parse(rule.trigger_type, rule.trigger_parameters);
        if (!spec) {
            // Rules registered through the API were refused with this message already; one from a pack file that
            // slipped through is reported here, once per content version, and never fires.
            ++invalid;
            Log(*core::Logger("sensors"),
                spdlog::level::err,
                "timer rule not scheduled",
                {{"rule", ref}, {"error", spec.error().message}});
            continue;
        }
        const std::string id = TimerId(rule.trigger_type, rule.trigger_parameters);
        timers_.emplace(id, Timer{id, rule.trigger_type, rule.trigger_parameters, std::move(*spec)});
    }
    invalid_ = invalid;
    return true;
}

bool TimerSensor::AdvanceBlocking(const std::string& timer_id, int64_t from, const std::string& to) {
    Result<core::RedisReply> r =
        Scripts(kAdvanceScript)
            .RunBlocking(*ctx_.redis, {lease_key_, next_key_}, {ctx_.instance, timer_id, std::to_string(from), to});
    return r && !r->IsError() && r->integer == 1;
}

void TimerSensor::FireBlocking(const Timer& timer, int64_t next_micros, SysTime now) {
    auto log = core::Logger("sensors");
    for (size_t n = 0; n < options_.max_ticks_per_pass; ++n) {
        const SysTime tick = FromMicros(next_micros);
        if (tick > now) return;
        if (now - tick > options_.misfire_grace) {
            std::optional<SysTime> resume = timer.spec.SkipTo(tick, now - options_.misfire_grace);
            Log(*log,
                spdlog::level::warn,
                "timer ticks older than the misfire window skipped",
                {{"timer", timer.id},
                 {"trigger", timer.type},
                 {"from", core::FormatIsoTimestamp(tick)},
                 {"resume", resume ? core::FormatIsoTimestamp(*resume) : std::string("never")}});
            const std::string to = resume ? std::to_string(core::ToMicros(*resume)) : kDone;
            if (!AdvanceBlocking(timer.id, next_micros, to) || !resume) return;
            next_micros = core::ToMicros(*resume);
            continue;
        }
        core::TriggerInstance ti;
        ti.id = TickInstanceId(timer.id, tick);
        ti.trigger = timer.type;
        ti.trigger_parameters = timer.parameters;
        ti.payload = {{"executed_at", core::FormatIsoTimestamp(tick)}, {"schedule", nullptr}};
        ti.occurrence_time = core::FormatIsoTimestamp(tick);
        if (Status valid = validator_.Validate(*snapshot_, ti.trigger, ti.payload); !valid) {
            // The tick is not dispatched (its schema was changed to refuse what timers send); the schedule goes on.
            ctx_.triggers.Count("rejected", ti.trigger);
            Log(*log,
                spdlog::level::err,
                "timer payload refused",
                {{"timer", timer.id}, {"error", valid.error().message}});
        } else {
            Result<std::string> stored = ctx_.triggers.EmitBlocking(ti);
            if (!stored) {
                // Not advanced: the next pass (or the next holder) fires this tick again, with the same id.
                Log(*log,
                    spdlog::level::warn,
                    "timer tick not stored; retrying",
                    {{"timer", timer.id}, {"error", stored.error().message}});
                return;
            }
            fired_.fetch_add(1);
        }
        std::optional<SysTime> following = timer.spec.NextAfter(tick);
        const std::string to = following ? std::to_string(core::ToMicros(*following)) : kDone;
        if (!AdvanceBlocking(timer.id, next_micros, to) || !following) return;
        next_micros = core::ToMicros(*following);
    }
}

void TimerSensor::PassBlocking() {
    if (!RenewLeaseBlocking()) return;
    if (!RefreshTimersBlocking()) return;
    Result<core::RedisReply> state = ctx_.redis->CommandBlocking({"HGETALL", next_key_});
    if (!state || state->IsError()) return;
    std::map<std::string, std::string> next;
    for (size_t i = 0; i + 1 < state->elements.size(); i += 2) {
        next[state->elements[i].str] = state->elements[i + 1].str;
    }
    const SysTime now = ctx_.triggers.clock().Now();
    for (const auto& [id, timer] : timers_) {
        auto it = next.find(id);
        std::string value;
        if (it == next.end()) {
            std::optional<SysTime> first = timer.spec.First(now);
            Result<core::RedisReply> r =
                Scripts(kInitScript)
                    .RunBlocking(
                        *ctx_.redis,
                        {lease_key_, next_key_},
                        {ctx_.instance, id, first ? std::to_string(core::ToMicros(*first)) : kDone}
                    );
            if (!r || r->IsError() || r->IsNil()) return;  // lost the lease (or Redis): the next pass retries
            value = r->str;
        } else {
            value = it->second;
        }
        int64_t micros = 0;
        if (value == kDone || !ParseMicros(value, &micros)) continue;
        FireBlocking(timer, micros, now);
    }
    // Timers whose rules are gone (or changed their parameters) are forgotten: re-adding one starts it afresh.
    std::vector<std::string> forget = {ctx_.instance};
    for (const auto& [id, value] : next) {
        if (!timers_.count(id)) forget.push_back(id);
    }
    if (forget.size() > 1) (void)Scripts(kForgetScript).RunBlocking(*ctx_.redis, {lease_key_, next_key_}, forget);
}

}  // namespace squall::sensors
