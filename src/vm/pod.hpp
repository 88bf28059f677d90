// VM isolation in a CRI pod (containerd's runc shim, CRI-O), where the runtime sees one
// container at a time: the sandbox (pause) container runs as a plain container even under the
// skiff-vm handler, since it only holds the pod's namespaces; each app container becomes a VM
// whose network is the pod's namespace (a tap redirected to its veth, network.hpp). The app
// container's joins of the sandbox's ipc, uts and pid namespaces become the VM's own: the
// containers of one pod then share no IPC, hostname changes or pid namespace across VMs.
// Only one VM-isolated container per pod can take the pod's interface at a time: one whose VM
// ended (an init container) leaves it to the next.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "oci/spec.hpp"

namespace skiff::vm {

// The annotations containerd's CRI plugin and CRI-O put on every container of a pod.
bool is_cri_sandbox(const oci::Spec& spec);
bool is_cri_app_container(const oci::Spec& spec);

// ipc, uts, pid: joined by path in a pod, made new in the guest.
bool pod_namespace_becomes_guests(const std::string& type);

// The guest's config: those joins replaced by new namespaces (the path exists on the host only).
void make_pod_namespaces_the_guests(nlohmann::json& guest_config);

// Whether the tap `tap_index` in network namespace `netns` belongs to a container of
// `state_root` whose VM has ended (it is stopped, not yet deleted): the next VM may replace it.
bool tap_left_by_ended_vm(const std::string& netns, int tap_index, const std::string& state_root);

}  // namespace skiff::vm
