// Running as a normal user (runc's --rootless): where the state lives, whether we are rootless,
// and the checks of linux.uidMappings / gidMappings against what the caller owns.
#pragma once
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "oci/spec.hpp"

namespace skiff::container::rootless {

// True when the id map of this process is not the whole range (runc: RunningInUserNS).
bool in_user_namespace();

// --rootless true|false|auto. auto: rootless when the effective uid is not 0, or when root
// of a user namespace that does not map the whole id range (runc 1.1's rule).
bool resolve(const std::string& flag);

// The default --root, runc's rule: $XDG_RUNTIME_DIR/skiff for a normal user (and for root
// of a user namespace unless $USER is "root"), else /run/skiff. Returns whether the XDG
// directory was used through *xdg.
std::string default_state_root(bool* xdg = nullptr);

// One subordinate range of /etc/subuid or /etc/subgid.
struct SubRange {
    uint64_t start = 0, count = 0;
};

// The ranges of /etc/subuid-format text that belong to user `name` (or to the numeric `id`).
std::vector<SubRange> sub_ranges(const std::string& text, const std::string& name, uid_t id);

// Checks maps (linux.uidMappings when `what` says so) for a caller who is not root of the
// host: ranges that overlap, host ids that are neither the caller's own id nor in its
// subordinate ranges. `path` names the file the ranges came from, for the message.
void check_maps(const std::vector<oci::IdMapping>& maps, const std::string& what, uint32_t own_id,
                const std::vector<SubRange>& subs, const std::string& path);

// The whole check for a config about to be created by a caller who is not root: throws one
// error naming linux.uidMappings / gidMappings.
void check_config_maps(const oci::Linux& lx);

// Writes the init's uid_map and gid_map as this caller can: directly when privileged or when
// a map is the caller's own single id (setgroups "deny" first for the gid map); through
// newuidmap / newgidmap otherwise. Errors name the JSON path and what the helper said.
void write_maps(pid_t pid, const oci::Linux& lx);

// `exec` by a normal user into a container with its own user namespace: the pid and time
// namespaces it owns can only be joined from inside it. The runtime (which owns it, so may)
// enters it first and drops it from the child's joins (fds from exec.cpp). No-op for root.
void enter_user_ns_for_exec(std::vector<std::pair<int, int>>& child_joins);

// The user name of uid, or the number when it has none (the state's "owner").
std::string user_name(uid_t uid);

}  // namespace skiff::container::rootless
