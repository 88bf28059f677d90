#include "linux/log.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>

namespace skiff::log {
namespace {

Config g_config;
int g_fd = 2;
bool g_opened = false;

int log_fd() {
    if (!g_opened) {
        g_opened = true;
        if (!g_config.path.empty()) {
            int fd = ::open(g_config.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
            if (fd >= 0) g_fd = fd;
        }
    }
    return g_fd;
}

const char* level_name(Level l) {
    switch (l) {
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warning: return "warning";
        case Level::error: return "error";
    }
    return "info";
}

uint64_t now_us() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}
uint64_t g_start_us = now_us();
uint64_t g_last_us = g_start_us;

}  // namespace

std::string now_rfc3339() {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return rfc3339_utc(ts);
}

std::string rfc3339_utc(const struct timespec& ts) {
    // The civil date by hand (days to year/month/day, as in Howard Hinnant's date
    // algorithms): glibc's gmtime_r reads /etc/localtime on first use, even for UTC.
    int64_t days = ts.tv_sec / 86400, secs = ts.tv_sec % 86400;
    if (secs < 0) {
        secs += 86400;
        --days;
    }
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t day = doy - (153 * mp + 2) / 5 + 1;
    int64_t month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (month <= 2);
    char buf[96];
    snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%09ldZ", (long long)year,
             (long long)month, (long long)day, (long long)(secs / 3600), (long long)(secs / 60 % 60),
             (long long)(secs % 60), ts.tv_nsec);
    return buf;
}

void configure(const Config& config) {
    g_config = config;
    g_opened = false;
    if (g_fd > 2) ::close(g_fd);
    g_fd = 2;
    // Opened now, not on first use: the container's init logs after pivot_root, where the
    // path no longer resolves.
    if (!config.path.empty()) log_fd();
}

bool debug_enabled() { return g_config.debug; }
bool to_file() { return !g_config.path.empty(); }

std::string json_quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char b[8];
                    snprintf(b, sizeof b, "\\u%04x", c);
                    out += b;
                } else {
                    out += char(c);
                }
        }
    }
    return out + "\"";
}

void write(Level level, const std::string& message) {
    std::string line;
    if (g_config.json) {
        line = "{\"level\":\"" + std::string(level_name(level)) + "\",\"msg\":" + json_quote(message) +
               ",\"time\":\"" + now_rfc3339() + "\"}\n";
    } else {
        line = "time=\"" + now_rfc3339() + "\" level=" + level_name(level) + " msg=" +
               json_quote(message) + "\n";
    }
    int fd = log_fd();
    ssize_t ignored = ::write(fd, line.data(), line.size());
    (void)ignored;
}

void phase(const char* name) {
    if (!g_config.debug) return;
    uint64_t t = now_us();
    char buf[160];
    snprintf(buf, sizeof buf, "phase %-14s at %8llu us (+%llu us)", name,
             (unsigned long long)(t - g_start_us), (unsigned long long)(t - g_last_us));
    g_last_us = t;
    write(Level::debug, buf);
}

}  // namespace skiff::log
