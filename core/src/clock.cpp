#include "squall/core/clock.hpp"

#include <cstdint>
#include <ctime>

namespace squall::core {

const Clock& SystemClock() {
    static const RealClock kClock;
    return kClock;
}

namespace {
// Days since 1970-01-01 → civil date (Howard Hinnant's days_from_civil inverse, proleptic Gregorian).
void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

void PutDigits(char* out, unsigned value, int width) {
    for (int i = width - 1; i >= 0; --i) {
        out[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
}
}  // namespace

std::string FormatIsoTimestamp(std::chrono::system_clock::time_point tp) {
    // Written by hand: it stamps every stored change (several per execution), and gmtime_r + snprintf cost ~2,500
    // instructions a call against ~100 here. system_clock counts nanoseconds in 64 bits (years 1677 to 2262), so
    // the year always has four digits.
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count();
    int64_t secs = micros / 1000000;
    int64_t frac = micros % 1000000;
    if (frac < 0) {
        frac += 1000000;
        --secs;
    }
    int64_t days = secs / 86400;
    int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        --days;
    }
    int64_t year = 0;
    unsigned month = 0;
    unsigned day = 0;
    CivilFromDays(days, year, month, day);
    std::string out = "0000-00-00T00:00:00.000000Z";
    PutDigits(&out[0], static_cast<unsigned>(year), 4);
    PutDigits(&out[5], month, 2);
    PutDigits(&out[8], day, 2);
    PutDigits(&out[11], static_cast<unsigned>(sod / 3600), 2);
    PutDigits(&out[14], static_cast<unsigned>(sod / 60 % 60), 2);
    PutDigits(&out[17], static_cast<unsigned>(sod % 60), 2);
    PutDigits(&out[20], static_cast<unsigned>(frac), 6);
    return out;
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
    // system_clock counts 64-bit nanoseconds: it holds only the years 1677 to 2262. A time outside (user input such
    // as 2999-01-01) is refused rather than overflowed.
    constexpr time_t kLimit = 9'000'000'000;
    if (secs < -kLimit || secs > kLimit) return false;
    *out = std::chrono::system_clock::time_point(std::chrono::seconds(secs) + std::chrono::microseconds(micros));
    return true;
}

int64_t ToMicros(std::chrono::system_clock::time_point tp) {
    return std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count();
}

}  // namespace squall::core
