// A VM-isolated container's network: when its network namespace was made before `create`
// (podman, a CNI plugin: joined by path) and holds interfaces, QEMU runs in that namespace
// with one tap device per interface, which tc connects to it both ways (ingress + mirred
// redirect, Kata's way), and one guest virtio-net per interface takes its name, MAC, MTU and
// IPv4 and IPv6 addresses; the namespace's routes are made again in the guest. The namespace
// keeps its interfaces and their addresses; only frames cross it.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "oci/spec.hpp"
#include "vm/paths.hpp"

namespace skiff::vm {

inline constexpr const char* kTapPrefix = "skiff-tap";  // skiff-tap0, skiff-tap1, ...

// One interface of the namespace and the guest NIC that stands in for it.
struct NetInterface {
    std::string name;  // in the namespace; the guest's NIC is given the same name
    std::string tap;   // beside it in the namespace
    std::string mac;
    int mtu = 0;
    bool up = false;
    std::vector<std::string> addresses;  // "10.0.0.2/24", "fd00::2/64"
};

// A route of the namespace's main table, made again in the guest on the interface `dev`.
struct NetRoute {
    std::string dev;
    std::string dst;      // a prefix: "0.0.0.0/0", "10.1.0.0/16", "::/0", "fd00:1::/64"
    std::string gateway;  // empty: on the link
    std::string source;   // the preferred source address, or empty
    uint32_t metric = 0;
};

struct NetPlan {
    std::string netns;  // the namespace's path
    std::vector<NetInterface> interfaces;
    std::vector<NetRoute> routes;
    bool replace_tap = false;  // an ended VM's taps are there: connect_network replaces them
};

// Nothing when the config has no network namespace joined by path, or it has no interface
// but loopback. Reads the namespace; changes nothing.
// `state_root` finds the VM of a tap already there (pod.hpp: tap_left_by_ended_vm).
std::optional<NetPlan> plan_network(const oci::Spec& spec, const std::string& state_root = "");
// The same for the namespace of `netns_fd`, found again later at `netns_path`.
std::optional<NetPlan> plan_network(int netns_fd, const std::string& netns_path, const std::string& state_root = "");
// QEMU needs /dev/net/tun in its root (and the device rule to open it).
void allow_tun(oci::Spec& host_spec);
// The guest's config: a namespace joined by path exists on the host only; the container
// shares the guest's own network namespace, where the agent configured the interface (when
// `connected`; else a new one of its own in the guest, with loopback only, as on the host).
void drop_joined_network_namespace(nlohmann::json& guest_config, bool connected);
// QEMU's arguments for every interface of the plan (qemu_nic_args each).
std::vector<std::string> qemu_net_args(const NetPlan& net);
// The one place that says how a NIC `n` on tap `tap` is given to the guest.
std::vector<std::string> qemu_nic_args(size_t n, const std::string& tap, const std::string& mac);

// In the namespace: a tap per interface (owned by uid 0, so QEMU opens it without
// capabilities) and the redirects. Records what to undo in <vm dir>/net: the namespace,
// then "<interface> <tap> <tap's index>" a line (`delete` removes only taps still its own).
void connect_network(const NetPlan& net, const std::string& vm_dir);
// Undoes connect_network; quiet when the namespace is already gone.
void disconnect_network(const std::string& vm_dir);

// For the initramfs: skiff-vm/net (what the agent sets) and the virtio-net modules of a
// kernel that has them as modules.
std::vector<CpioEntry> guest_net_files(const NetPlan& net, const std::string& kernel_dir);
// The agent: loads the modules, configures the interfaces and routes; a no-op without
// skiff-vm/net.
void configure_guest_network();

}  // namespace skiff::vm
