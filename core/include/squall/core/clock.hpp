#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace squall::core {

/// Injected time source (Envoy's TimeSource). Thread-safe.
class Clock {
public:
    virtual ~Clock() = default;
    /// Wall-clock time, for timestamps shown to users.
    virtual std::chrono::system_clock::time_point Now() const = 0;
    /// Monotonic time, for deadlines and durations.
    virtual std::chrono::steady_clock::time_point SteadyNow() const = 0;
};

/// The real clocks.
class RealClock final : public Clock {
public:
    std::chrono::system_clock::time_point Now() const override { return std::chrono::system_clock::now(); }
    std::chrono::steady_clock::time_point SteadyNow() const override { return std::chrono::steady_clock::now(); }
};

/// The process's real clock, for code that was given no clock (it is stateless and immutable).
const Clock& SystemClock();

/// A clock that moves only when told to; for tests of timer and TTL logic.
class ManualClock final : public Clock {
public:
    explicit ManualClock(std::chrono::system_clock::time_point start = std::chrono::system_clock::time_point{})
        : now_(start) {}
    std::chrono::system_clock::time_point Now() const override {
        std::lock_guard lock(mu_);
        return now_;
    }
    std::chrono::steady_clock::time_point SteadyNow() const override {
        std::lock_guard lock(mu_);
        return std::chrono::steady_clock::time_point(now_.time_since_epoch());
    }
    void Advance(std::chrono::microseconds d) {
        std::lock_guard lock(mu_);
        now_ += d;
    }

private:
    mutable std::mutex mu_;
    std::chrono::system_clock::time_point now_;
};

/// ISO-8601 UTC with microseconds and a Z suffix, as StackStorm prints timestamps:
/// "2026-11-27T22:58:35.123456Z".
std::string FormatIsoTimestamp(std::chrono::system_clock::time_point tp);
/// Parses the format above (fraction optional, "Z" or "+00:00"); returns false when it does not parse.
bool ParseIsoTimestamp(const std::string& text, std::chrono::system_clock::time_point* out);
/// Microseconds since the epoch.
int64_t ToMicros(std::chrono::system_clock::time_point tp);

}  // namespace squall::core
