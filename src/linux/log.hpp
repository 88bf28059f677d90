// The runtime's log: `--log FILE` (default stderr for warnings and errors) in runc's shapes,
// text (logrus-like) or json lines {"level":"error","msg":"...","time":"..."}. containerd shows
// the last "error" line of this file to its user, so every failure ends up here once.
#pragma once
#include <time.h>
#include <string>

namespace skiff::log {

enum class Level { debug, info, warning, error };

struct Config {
    std::string path;   // empty: stderr
    bool json = false;
    bool debug = false;
};

void configure(const Config& config);
bool debug_enabled();
// True when --log names a file (stderr otherwise).
bool to_file();

void write(Level level, const std::string& message);
inline void debug(const std::string& m) { if (debug_enabled()) write(Level::debug, m); }
inline void info(const std::string& m) { write(Level::info, m); }
inline void warn(const std::string& m) { write(Level::warning, m); }
inline void error(const std::string& m) { write(Level::error, m); }

// Microseconds since the process started its first phase; for the --debug timeline.
void phase(const char* name);

// JSON string escaping, shared by the few hand-written JSON outputs.
std::string json_quote(const std::string& s);

// Now in UTC, RFC 3339 with nanoseconds (runc's `created` and log `time`).
std::string now_rfc3339();
std::string rfc3339_utc(const struct timespec& ts);

}  // namespace skiff::log
