// Operations on a running container's cgroup: pause, resume, update, ps, events.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "container/lifecycle.hpp"
#include "oci/spec.hpp"

namespace skiff::container {

void pause(const Globals& g, const std::string& id);
void resume(const Globals& g, const std::string& id);
void update(const Globals& g, const std::string& id, const oci::Resources& resources);
std::vector<pid_t> pids(const Globals& g, const std::string& id);
// One `events` line: {"type":"stats","id":...,"data":{...}}.
std::string stats_event(const Globals& g, const std::string& id);
// Streams stats every interval_ms and "oom" events as they happen, until the container stops.
void stream_events(const Globals& g, const std::string& id, int interval_ms, bool stats_once);

}  // namespace skiff::container
