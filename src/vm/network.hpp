// A VM-isolated container's network: when its network namespace was made before `create`
// (podman, a CNI plugin: joined by path) and holds an interface, QEMU runs in that namespace
// with a tap device that tc connects to the interface both ways (ingress + mirred redirect,
// Kata's way), and the guest's virtio-net takes the interface's MAC, MTU, IPv4 address and
// default route. The namespace keeps its veth; only frames cross it.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "oci/spec.hpp"
#include "vm/paths.hpp"

namespace skiff::vm {

inline constexpr const char* kTapName = "skiff-tap0";

struct NetPlan {
    std::string netns;  // the namespace's path
    std::string veth;   // the interface the guest stands in for
    std::string mac;
    int mtu = 0;
    std::string address;  // a.b.c.d/prefix, or empty
    std::string gateway;  // a.b.c.d, or empty
    bool replace_tap = false;  // an ended VM's tap is there: connect_network replaces it
};

// Nothing when the config has no network namespace joined by path, or it has no interface
// but loopback. Reads the namespace; changes nothing. A tap left there by an ended VM of
// `state_root` (pod.hpp) is marked for replacing; one of a live VM is refused.
std::optional<NetPlan> plan_network(const oci::Spec& spec, const std::string& state_root = "");
// QEMU needs /dev/net/tun in its root (and the device rule to open it).
void allow_tun(oci::Spec& host_spec);
// The guest's config: a namespace joined by path exists on the host only; the container
// shares the guest's own network namespace, where the agent configured the interface (when
// `connected`; else a new one of its own in the guest, with loopback only, as on the host).
void drop_joined_network_namespace(nlohmann::json& guest_config, bool connected);
std::vector<std::string> qemu_net_args(const NetPlan& net);

// In the namespace: the tap (owned by uid 0, so QEMU opens it without capabilities) and the
// redirects. Records what to undo in <vm dir>/net (with the tap's index: `delete` removes
// that tap only, not one a later VM of the pod made).
void connect_network(const NetPlan& net, const std::string& vm_dir);
// Undoes connect_network; quiet when the namespace is already gone.
void disconnect_network(const std::string& vm_dir);

// For the initramfs: skiff-vm/net (what the agent sets) and the virtio-net modules of a
// kernel that has them as modules.
std::vector<CpioEntry> guest_net_files(const NetPlan& net, const std::string& kernel_dir);
// The agent: loads the modules, configures the interface; a no-op without skiff-vm/net.
void configure_guest_network();

}  // namespace skiff::vm
