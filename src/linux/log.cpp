#include "linux/log.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

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
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    // By hand: strftime calls tzset, which reads /etc/localtime on every command.
    char buf[64];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
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
