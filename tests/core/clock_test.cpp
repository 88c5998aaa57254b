// FormatIsoTimestamp's hand-written calendar against the C library's gmtime_r, over the years system_clock holds.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>

#include "squall/core/clock.hpp"

namespace squall::core {
namespace {

std::string Reference(int64_t micros) {
    int64_t secs = micros / 1000000;
    int64_t frac = micros % 1000000;
    if (frac < 0) {
        frac += 1000000;
        --secs;
    }
    auto t = static_cast<time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(
        buf,
        sizeof(buf),
        "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        static_cast<long>(frac)
    );
    return buf;
}

std::string Format(int64_t micros) {
    return FormatIsoTimestamp(std::chrono::system_clock::time_point(std::chrono::microseconds(micros)));
}

TEST(FormatIsoTimestamp, MatchesGmtimeOnEdges) {
    const int64_t kDay = 86400LL * 1000000;
    const std::vector<int64_t> edges = {
        0,
        -1,
        1,
        kDay - 1,
        -kDay,
        951782400LL * 1000000,            // 2000-02-29
        951868800LL * 1000000 - 1,        // 2000-02-29T23:59:59.999999
        -2203891200LL * 1000000,          // 1900-03-01
        4107456000LL * 1000000,           // 2100-02-28
        1764892800LL * 1000000 + 123456,  // 2025-12-05
        -9'000'000'000LL * 1000000,       // 1684, near the nanosecond clock's earliest time
        9'000'000'000LL * 1000000,        // 2255, near its latest
    };
    for (int64_t m : edges) EXPECT_EQ(Format(m), Reference(m)) << m;
    EXPECT_EQ(Format(0), "1970-01-01T00:00:00.000000Z");
    EXPECT_EQ(Format(-1), "1969-12-31T23:59:59.999999Z");
}

TEST(FormatIsoTimestamp, MatchesGmtimeOnRandomTimes) {
    std::mt19937_64 rng(42);
    // system_clock counts nanoseconds in 64 bits: about 1678 to 2262.
    std::uniform_int_distribution<int64_t> any(-9'000'000'000LL * 1000000, 9'000'000'000LL * 1000000);
    for (int i = 0; i < 200000; ++i) {
        const int64_t m = any(rng);
        ASSERT_EQ(Format(m), Reference(m)) << m;
    }
}

}  // namespace
TEST(ParseIsoTimestampTest, RefusesTimesSystemClockCannotHold) {
    std::chrono::system_clock::time_point tp;
    EXPECT_TRUE(ParseIsoTimestamp("2200-01-01T00:00:00Z", &tp));
    EXPECT_TRUE(ParseIsoTimestamp("1700-01-01T00:00:00Z", &tp));
    EXPECT_FALSE(ParseIsoTimestamp("2999-01-01T00:00:00Z", &tp));  // would overflow 64-bit nanoseconds
    EXPECT_FALSE(ParseIsoTimestamp("1500-01-01T00:00:00Z", &tp));
}

}  // namespace squall::core
