// What a container holds that CRIU cannot dump or recreate by itself, as --external and
// --inherit-fd arguments (the same declarations runc makes through CRIU's RPC).
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "oci/spec.hpp"

namespace skiff::container::criu {

// A bind mount of the config (type "bind", or a bind/rbind option).
bool is_bind(const oci::Mount& m);

// The destination as CRIU names the mount point: absolute, cleaned, inside the root.
std::string mount_key(const std::string& destination);

// A cgroup mount of the config without a new cgroup namespace is a bind of the container's own
// cgroup directory (one per hierarchy on v1): its root is not the hierarchy's, so CRIU cannot
// dump it and it is declared external. (mount point in the container, host directory.)
struct CgroupBind {
    std::string mountpoint, host_path;
};
std::vector<CgroupBind> cgroup_binds(const oci::Spec& spec, const std::vector<std::pair<std::string, std::string>>&
                                                                 hierarchies /* (name, host path) */);

// `--external` values for a dump: bind mounts, masked files (bound from /dev/null), a
// terminal's /dev/console, device
// nodes, and the network and pid namespaces joined by path (net[inode]:extRootNetNS).
std::vector<std::string> dump_externals(const oci::Spec& spec, pid_t init_pid);

// `--external mnt[KEY]:SOURCE` values for a restore, the other half of the above.
// Relative sources are taken in the bundle, as create takes them.
std::vector<std::string> restore_mounts(const oci::Spec& spec, const std::string& bundle);

// linux.namespaces of type network/pid with a path: (key, path) for --inherit-fd.
std::vector<std::pair<std::string, std::string>> joined_namespaces(const oci::Spec& spec);

// The targets of the init's fds 0-2 ("pipe:[123]", "/dev/null"): descriptors.json.
std::vector<std::string> stdio_targets(pid_t pid);

}  // namespace skiff::container::criu
