// The state's `created` and the log's `time`: RFC 3339 in UTC, formatted without glibc's time
// zone code (which reads /etc/localtime on first use, even for gmtime_r).
#include <gtest/gtest.h>

#include "linux/log.hpp"

using skiff::log::rfc3339_utc;

TEST(LogTime, Rfc3339UtcMatchesTheCalendar) {
    EXPECT_EQ(rfc3339_utc({0, 0}), "1970-01-01T00:00:00.000000000Z");
    EXPECT_EQ(rfc3339_utc({951782400, 5}), "2000-02-29T00:00:00.000000005Z");  // leap day of a /400 year
    EXPECT_EQ(rfc3339_utc({1709164800, 0}), "2024-02-29T00:00:00.000000000Z");
    EXPECT_EQ(rfc3339_utc({1798502399, 999999999}), "2026-12-28T23:59:59.999999999Z");
    EXPECT_EQ(rfc3339_utc({4107542400 + 86399, 0}), "2100-03-01T23:59:59.000000000Z");  // 2100: no leap day
}

TEST(LogTime, NowIsNearTheClock) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    std::string a = rfc3339_utc(ts), b = skiff::log::now_rfc3339();
    EXPECT_EQ(a.substr(0, 16), b.substr(0, 16)) << a << " " << b;  // same minute (or a rare edge)
}
