// In a user namespace, the mounts inherited from a more privileged mount namespace (every bind
// source of a rootless container) have their ro, nosuid, nodev, noexec and atime flags locked:
// the kernel refuses to clear one or to change the atime mode (EPERM). runc keeps the source's
// flags on such remounts; so does skiff, instead of failing the mount.
#pragma once
#include <cstdint>

namespace skiff::init {

// Removes from set/clr what would clear a flag the mount `tree` has, or change its atime
// mode, when this process is not in the initial user namespace. No-op there.
void keep_locked_flags(int tree, uint64_t& set, uint64_t& clr);

}  // namespace skiff::init
