#include "container/control.hpp"

#include <unistd.h>

#include <cstdio>

#include "container/state.hpp"
#include "base/error.hpp"

namespace skiff::container {
namespace {

Record running(const Globals& g, const std::string& id, Status* out = nullptr) {
    validate_id(id);
    Store store(g.root);
    Record r = store.load(id);
    Status s = status_of(store, r);
    if (out) *out = s;
    if (s == Status::stopped) throw Error("container not running", ESRCH);
    return r;
}

}  // namespace

void pause(const Globals& g, const std::string& id) {
    Status s;
    Record r = running(g, id, &s);
    if (s != Status::running && s != Status::created) throw Error("container not running", ESRCH);
    cgroup_of(r)->freeze();
}

void resume(const Globals& g, const std::string& id) {
    Status s;
    Record r = running(g, id, &s);
    if (s != Status::paused) throw Error("container not paused", EINVAL);
    cgroup_of(r)->thaw();
}

void update(const Globals& g, const std::string& id, const oci::Resources& resources) {
    Record r = running(g, id);
    cgroup_of(r)->update(resources);
}

std::vector<pid_t> pids(const Globals& g, const std::string& id) {
    // A stopped container has no processes, or only leftovers in its cgroup: listed, not an
    // error (runc's ps prints the header).
    validate_id(id);
    Store store(g.root);
    Record r = store.load(id);
    return cgroup_of(r)->pids();
}

std::string stats_event(const Globals& g, const std::string& id) {
    Record r = running(g, id);
    return "{\"type\":\"stats\",\"id\":\"" + id + "\",\"data\":" + cgroup_of(r)->stats_json() + "}";
}

void stream_events(const Globals& g, const std::string& id, int interval_ms, bool stats_once) {
    Record r = running(g, id);
    auto cg = cgroup_of(r);
    if (stats_once) {
        printf("{\"type\":\"stats\",\"id\":\"%s\",\"data\":%s}\n", id.c_str(), cg->stats_json().c_str());
        return;
    }
    Store store(g.root);
    auto last_oom = cg->oom_kill_count().value_or(0);
    int waited = 0;
    for (;;) {
        // Check for OOM kills often; print stats at the interval.
        ::usleep(100 * 1000);
        waited += 100;
        auto oom = cg->oom_kill_count();
        if (oom && *oom > last_oom) {
            last_oom = *oom;
            printf("{\"type\":\"oom\",\"id\":\"%s\"}\n", id.c_str());
            fflush(stdout);
        }
        if (status_of(store, r) == Status::stopped) return;
        if (waited >= interval_ms) {
            waited = 0;
            printf("{\"type\":\"stats\",\"id\":\"%s\",\"data\":%s}\n", id.c_str(), cg->stats_json().c_str());
            fflush(stdout);
        }
    }
}

}  // namespace skiff::container
