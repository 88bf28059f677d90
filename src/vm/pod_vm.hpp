// A pod VM (Kata's way): under the VM handler, a CRI sandbox that asks for it with the
// annotation run.oci.skiff.vm.pod=shared becomes the pod's one VM (its pause process runs in
// the guest, and the VM takes the pod's interface); each app container of that pod is then
// made inside that VM rather than in a VM of its own.
//
// An app container of a pod VM is, on the host, a small relay process (this binary, in its
// own small root, in the app container's cgroup): its pid is the container's in `state`. At
// `start` it asks the pod VM's agent to run the container in the guest (the guest's skiff, with
// the app's config joining the guest pause container's ipc, uts and pid namespaces, and its
// rootfs and binds brought into the share by create), relays stdio and signals, and exits with
// the guest container's status. exec and ps reach the pod VM's agent; delete removes the
// guest container and its staged trees.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "oci/spec.hpp"
#include "vm/shares.hpp"

namespace skiff::vm {

inline constexpr const char* kPodAnnotation = "run.oci.skiff.vm.pod";

// A CRI sandbox that asks to be its pod's VM.
bool wants_pod_vm(const oci::Spec& spec);
// The id of the pod VM this CRI app container belongs in (its sandbox, a pod VM of this
// state root), or nothing.
std::optional<std::string> pod_vm_of(const oci::Spec& spec, const std::string& state_root);

// One tree brought into the pod VM's share: `source` (a directory or a regular file on the
// host) at /<name> of the share, read-only where asked.
struct StagedTree {
    std::string source, name;
    bool file = false, readonly = false;
};
// In the sandbox's virtiofsd's mount namespace (a child process does it): each tree, cloned
// here with open_tree, moved into the share. Throws Error.
void stage_into_pod_vm(const std::string& state_root, const std::string& sandbox, const std::vector<StagedTree>& trees);
// Undoes it, quietly (the pod VM may be gone).
void unstage_from_pod_vm(const std::string& state_root, const std::string& sandbox, const std::vector<std::string>& names);

// The host side of an app container in the pod VM `sandbox` (vm.hpp's prepare,
// start_host_side and teardown, for such a container).
struct Plan;
Plan prepare_pod_member(oci::Spec& spec, const std::string& config_text, std::string& rootfs, const std::string& bundle,
                        const std::string& state_root, const std::string& id, const std::string& sandbox);
void start_pod_member(const Plan& plan);
// Removes the guest container and its staged trees; false for a container that is not one.
bool teardown_pod_member(const std::string& state_root, const std::string& id);

// The relay: the host side of an app container in a pod VM (main, when SKIFF_VM_POD_RELAY is
// set). Never returns.
[[noreturn]] void pod_relay_main();

}  // namespace skiff::vm
