// Seconds on the monotonic clock, for the host side's deadlines (boot, agent, teardown).
#pragma once
#include <time.h>

namespace skiff::vm {

inline double monotonic_seconds() {
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

}  // namespace skiff::vm
