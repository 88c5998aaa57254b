#include "squall/core/clock.hpp"

#include <cstdio>
#include <ctime>

namespace squall::core {

const Clock& SystemClock() {
    static const RealClock kClock;
    return kClock;
}

std::string FormatIsoTimestamp(std::chrono::system_clock::time_point tp) {
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count();
    time_t secs = static_cast<time_t>(micros / 1000000);
    long frac = static_cast<long>(micros % 1000000);
    if (frac < 0) {
        frac += 1000000;
        --secs;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
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
        frac
    );
    return buf;
}

bool ParseIsoTimestamp(const std::string& text, std::chrono::system_clock::time_point* out) {
    std::tm tm{};
    int consumed = 0;
    if (std::sscanf(
            text.c_str(),
            "%4d-%2d-%2dT%2d:%2d:%2d%n",
            &tm.tm_year,
            &tm.tm_mon,
            &tm.tm_mday,
            &tm.tm_hour,
            &tm.tm_min,
            &tm.tm_sec,
            &consumed
        ) != 6) {
        return false;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    long micros = 0;
    size_t pos = static_cast<size_t>(consumed);
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        long scale = 100000;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            micros += (text[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
    }
    long offset = 0;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
        int hh = 0;
        int mm = 0;
        if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d", &hh, &mm) < 1) return false;
        offset = (hh * 3600L + mm * 60L) * (text[pos] == '+' ? 1 : -1);
    }
    const time_t secs = timegm(&tm) - offset;
    *out = std::chrono::system_clock::time_point(std::chrono::seconds(secs) + std::chrono::microseconds(micros));
    return true;
}

int64_t ToMicros(std::chrono::system_clock::time_point tp) {
    return std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count();
}

}  // namespace squall::core
