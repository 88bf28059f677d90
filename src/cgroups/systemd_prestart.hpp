// Handing the systemd driver's companion across the runtime's read-only re-exec: the first
// process starts it (its dynamic loading is most of its cost under emulation) and the
// re-executed runtime takes it over, found through $SKIFF_SYSTEMD_COMPANION ("pid,to,from").
#pragma once
#include <memory>

#include "cgroups/systemd_client.hpp"

namespace skiff::cgroups::systemd {

// `create` or `run` with the global --systemd-cgroup flag.
bool wants_early_companion(int argc, char** argv);

// The companion a previous image of this process handed over, if any and still ours; clears
// the variable and makes its pipes close-on-exec again. nullptr otherwise.
std::unique_ptr<Companion> adopt_handed_over();

}  // namespace skiff::cgroups::systemd
