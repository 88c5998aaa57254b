#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "squall/packs/loader.hpp"
#include "squall/sensors/sensor.hpp"
#include "squall/sensors/timer_spec.hpp"

namespace squall::sensors {

/// `check` (the rules component's criteria check) plus, for a timer rule, its schedule parsed as the API parses one it
/// creates: a pack's CronTimer minute "*/61" is a load error at the file, line and field wherever a pack is loaded
/// (server start, `pack install`, `pack register`), never a rule that is registered and silently never fires.
packs::RuleCheck WithTimerCheck(packs::RuleCheck check);

struct TimerSensorOptions {
    /// The lease's lifetime: a holder that stops renewing it is replaced within this (plus one poll).
    std::chrono::milliseconds lease_ttl{5000};
    /// How often the loop runs: renews the lease, re-reads the rules, fires what is due.
    std::chrono::milliseconds poll{250};
    /// Ticks missed by at most this much (a hand-over, a stopped installation) are fired late; older ones are
    /// skipped, with a log line (APScheduler's misfire_grace_time; docs/sensors.md).
    std::chrono::seconds misfire_grace{300};
    /// At most this many ticks of one timer per pass (catching up is spread over passes).
    size_t max_ticks_per_pass = 100;
};

/// The `timers` role (SPEC §3.1, issue 13 item 3): fires `core.st2.IntervalTimer`, `DateTimer` and `CronTimer`
/// for the enabled rules that use them (one timer per distinct trigger type and parameters, as StackStorm's
/// trigger). In an installation with several timers roles exactly one fires: it holds a lease in Redis
/// (`timers:lease`, SET NX PX, renewed every poll). Each timer's next tick is kept in Redis (`timers:next`), and is
/// only advanced by the lease holder after the tick's instance was stored, so a new holder resumes where the old
/// one stopped: no tick is skipped; and a tick's instance id derives from the timer and the tick, so a tick fired
/// by both during a hand-over is stored once. Payload {executed_at: the tick's time, schedule: null}.
///
/// Runs on its own thread with blocking Redis calls (each with the client's deadline), never on an event loop.
class TimerSensor final : public Sensor {
public:
    TimerSensor(SensorContext& ctx, TimerSensorOptions options = {});
    ~TimerSensor() override;
    std::string Name() const override { return "timers"; }
    void Start() override;
    /// Stops the loop and gives the lease up, so that another timers role takes over at once.
    void Stop() override;

    /// One pass of the loop: renew or take the lease, and when held, fire what is due at the clock's now.
    /// Called by the loop; tests call it with a manual clock. Not concurrently with itself.
    void PassBlocking();
    bool holder() const { return holder_.load(); }
    /// Ticks stored by this process.
    uint64_t fired() const { return fired_.load(); }
    /// Timers whose rule parameters are invalid (logged, never fired), as of the last pass.
    size_t invalid() const { return invalid_.load(); }

private:
    struct Timer {
        std::string id;
        std::string type;
        Json parameters;
        TimerSpec spec;
    };
    bool RenewLeaseBlocking();
    void ReleaseLeaseBlocking();
    /// The timers of the snapshot's enabled rules (re-parsed when the content version moves). False when the
    /// content could not be read (the previous timers stay).
    bool RefreshTimersBlocking();
    void FireBlocking(const Timer& timer, int64_t next_micros, SysTime now);
    bool AdvanceBlocking(const std::string& timer_id, int64_t from, const std::string& to);

    SensorContext& ctx_;
    TimerSensorOptions options_;
    std::string lease_key_;
    std::string next_key_;
    std::map<std::string, Timer> timers_;
    packs::ContentSnapshotPtr snapshot_;
    PayloadValidator validator_;
    std::atomic<bool> holder_{false};
    std::atomic<uint64_t> fired_{0};
    std::atomic<size_t> invalid_{0};

    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace squall::sensors
