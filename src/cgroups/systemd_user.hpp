// The systemd driver for a rootless caller (--systemd-cgroup as a normal user, or as root of
// rootless podman's user namespace), as runc and crun do it: the transient units go to the
// user's own manager (user@UID.service), reached over the user bus, and sit below that
// manager's cgroup, which systemd delegates to the user. Kept apart from the system driver:
// only which manager, its bus address and the default slice differ.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "cgroups/systemd_path.hpp"

namespace skiff::cgroups::systemd {

// Which manager every companion started from now on talks to: the user's (true) or the
// system's (the default).
void use_user_manager(bool on);
bool user_manager_used();

// The environment that points the companion at the user's manager, one "NAME=value" each:
//   SKIFF_SYSTEMD_USER_PRIVATE  unix:path=$XDG_RUNTIME_DIR/systemd/private, the manager's own
//                               socket (no bus daemon between, as `systemctl --user` does),
//                               when it exists;
//   SKIFF_SYSTEMD_USER_BUS      the user's bus: $DBUS_SESSION_BUS_ADDRESS, else
//                               $XDG_RUNTIME_DIR/bus when it exists.
// $XDG_RUNTIME_DIR unset means /run/user/<host uid>. Throws when there is neither.
std::vector<std::string> user_bus_environment();

// The caller's uid on the host: its euid through the user namespace it may be in
// (/proc/self/uid_map), so that root of rootless podman's namespace finds its user.
uid_t host_uid();

// The user manager's cgroup, where systemd puts user@UID.service:
// "/user.slice/user-UID.slice/user@UID.service".
std::string user_manager_cgroup(uid_t uid);

// linux.cgroupsPath for the user's manager: "" means "user.slice:skiff:<id>" and an empty
// slice means user.slice (runc's rootless defaults); the cgroup lies below `manager_cgroup`.
UnitPlace parse_user_cgroups_path(const std::string& cgroups_path, const std::string& id,
                                  const std::string& manager_cgroup);

// The cgroup v2 path of pid (its "0::" line in /proc/<pid>/cgroup), "" when unknown.
std::string unified_cgroup_of(pid_t pid);

}  // namespace skiff::cgroups::systemd
