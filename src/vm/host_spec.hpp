// What a VM container's host side and its guest config share, for QEMU's (config.cpp) and a
// pod VM member's relay (pod_vm.cpp): internal to src/vm.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "oci/spec.hpp"

namespace skiff::vm {

// A bind into a host side's small root (nosuid, nodev; read-only when asked). Recursive by
// default (/usr may have mounts below it); a relay's binds are not, so it sees no more than
// the one directory.
oci::Mount small_root_bind(const std::string& src, const std::string& dst, bool ro, bool recursive = true);

// The host side runs in `root`, read-only, with a fresh /proc, a small /dev tmpfs, then `binds`.
void use_small_root(oci::Spec& spec, const std::string& root, const std::vector<oci::Mount>& binds);

// Clears from a host side's config what the guest's skiff applies instead (user and time
// namespaces, id maps, sysctls, seccomp, masks, labels, devices ...): QEMU, or a pod VM
// member's relay, runs without them.
void drop_what_the_guest_applies(oci::Spec& spec);

// Clears from the guest's config what stays on the host: hooks (they ran there), the isolation
// annotation (the guest must not start a VM again), the cgroup path, and resources but the
// device rules (the guest's cgroup is its own).
void drop_host_only_settings(nlohmann::json& config);

}  // namespace skiff::vm
