// The init's LSM step: process.apparmorProfile and process.selinuxLabel become the exec
// attributes of the init (the container process enters them at execve), linux.mountLabel the
// context= of the mounts that take one. On a host without the LSM, a label is not applied and
// a warning says so, as runc and crun accept such configs.
#pragma once
#include <string>

#include "init/context.hpp"

namespace skiff::init {

// Decides what applies on this host (ctx.lsm), warning for each label it cannot honour.
// Reads the host's /sys: call it before pivot_root or setns. `host_root` is for tests;
// without `with_mounts` linux.mountLabel is left out (an exec makes no mounts).
void resolve_lsm_labels(Context& ctx, const std::string& host_root = "", bool with_mounts = true);

// Writes the exec attributes through the host's /proc/thread-self/attr (resolving the
// process labels first if needed), while the container's mounts cannot stand in for it and before the seccomp filter
// could refuse the calls. An unknown AppArmor profile fails here, naming
// process.apparmorProfile. `attr_dir` (an open directory) is for tests.
void apply_lsm_labels(Context& ctx, int attr_dir = -1);

// The SELinux context for a mount of this type (runc's rule: not proc, sysfs or cgroup
// filesystems, not binds, and mqueue by xattr instead), or "" for none.
std::string mount_context_for(const Context& ctx, const std::string& type, bool bind);

// mqueue takes no context= option: its root is labelled through security.selinux.
void label_mqueue_root(const Context& ctx, int root_fd, const std::string& dest);

}  // namespace skiff::init
