// A VM-isolated container's network (network.hpp): the host half, at create and delete
// (network_guest.cpp has the guest's).
#include "vm/network.hpp"
#include "vm/pod.hpp"
#include "vm/vm.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/error.hpp"
#include "base/text.hpp"
#include "linux/fd.hpp"
#include "linux/log.hpp"
#include "linux/netlink.hpp"

namespace skiff::vm {
namespace {

// "10.0.0.2/24", "fd00::2/64" from an address in network order.
std::string prefix_text(int family, const std::string& bytes, int prefix) {
    char b[INET6_ADDRSTRLEN] = "";
    ::inet_ntop(family, bytes.data(), b, sizeof b);
    return std::string(b) + (prefix >= 0 ? "/" + std::to_string(prefix) : "");
}

bool zero_mac(const std::string& mac) { return mac.find_first_not_of("0:") == std::string::npos; }

// The calling thread inside a network namespace until destroyed.
class InNetns {
public:
    explicit InNetns(const std::string& path) : home_(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
        if (!home_) throw_errno("open our network namespace");
        Fd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns) throw_errno("open network namespace " + path);
        if (::setns(ns.get(), CLONE_NEWNET) < 0) throw_errno("enter network namespace " + path);
    }
    ~InNetns() {
        if (::setns(home_.get(), CLONE_NEWNET) < 0) log::warn("cannot return to our network namespace");
    }

private:
    Fd home_;
};

const std::string* namespace_path(const oci::Spec& spec) {
    if (!spec.linux) return nullptr;
    for (const auto& ns : spec.linux->namespaces)
        if (ns.type == "network" && !ns.path.empty()) return &ns.path;
    return nullptr;
}

void make_tap(const std::string& name) {
    Fd tun(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    if (!tun) throw_errno("open /dev/net/tun");
    struct ifreq ifr = {};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (::ioctl(tun.get(), TUNSETIFF, &ifr) < 0) throw_errno("create tap " + name);
    if (::ioctl(tun.get(), TUNSETOWNER, 0UL) < 0) throw_errno("set the owner of tap " + name);
    if (::ioctl(tun.get(), TUNSETPERSIST, 1UL) < 0) throw_errno("keep tap " + name);
}

}  // namespace

std::optional<NetPlan> plan_network(const oci::Spec& spec, const std::string& state_root) {
    const std::string* path = namespace_path(spec);
    if (!path) return std::nullopt;
    Fd ns(::open(path->c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) throw_errno("linux.namespaces: network namespace " + *path);
    return plan_network(ns.get(), *path, state_root);
}

std::optional<NetPlan> plan_network(int netns_fd, const std::string& netns_path, const std::string& state_root) {
    NetPlan n;
    n.netns = netns_path;
    auto route = netlink::Route::in_netns(netns_fd);
    std::vector<int> indexes;
    for (auto& l : route.links()) {
        // Another VM's tap: a second VM in a pod would take the same interfaces (pod.hpp).
        if (l.name.rfind(kTapPrefix, 0) == 0 && tap_left_by_ended_vm(netns_path, l.index, state_root)) {
            n.replace_tap = true;
            continue;
        }
        if (l.name.rfind(kTapPrefix, 0) == 0)
            throw Error("linux.namespaces: network namespace " + netns_path +
                            " is already connected to a VM-isolated container; only one per pod (network namespace) can take its interface",
                        EBUSY);
        // Ethernet links but loopback; a zero MAC is a tunnel's fallback device (gretap0).
        if (l.loopback || l.mac.empty() || zero_mac(l.mac)) continue;
        NetInterface nic;
        nic.name = l.name;
        nic.tap = kTapPrefix + std::to_string(n.interfaces.size());
        nic.mac = l.mac;
        nic.mtu = l.mtu;
        nic.up = l.up;
        for (const auto& a : route.addresses(l.index)) {
            // The guest makes its own link-local address (the same one: the same MAC), and
            // learns the dynamic ones (SLAAC) from the same router.
            if (a.family == AF_INET6 && (a.scope == RT_SCOPE_LINK || !(a.flags & IFA_F_PERMANENT))) continue;
            nic.addresses.push_back(prefix_text(a.family, a.bytes, a.prefix));
        }
        indexes.push_back(l.index);
        n.interfaces.push_back(std::move(nic));
    }
    if (n.interfaces.empty()) return std::nullopt;
    for (const auto& r : route.routes()) {
        // The guest's kernel makes the subnet routes of the addresses (proto kernel) and
        // learns router advertisements itself.
        if (r.protocol == RTPROT_KERNEL || r.protocol == RTPROT_RA) continue;
        auto at = std::find(indexes.begin(), indexes.end(), r.oif);
        if (at == indexes.end()) {
            if (r.oif == 0)
                log::warn("VM isolation: network namespace " + netns_path + ": a route to " +
                          prefix_text(r.family, r.dst.empty() ? std::string(16, '\0') : r.dst, r.dst_len) +
                          " without one interface (multipath) is not made in the guest");
            continue;
        }
        NetRoute nr;
        nr.dev = n.interfaces[size_t(at - indexes.begin())].name;
        nr.dst = prefix_text(r.family, r.dst.empty() ? std::string(16, '\0') : r.dst, r.dst_len);
        if (!r.gateway.empty()) nr.gateway = prefix_text(r.family, r.gateway, -1);
        if (!r.prefsrc.empty()) nr.source = prefix_text(r.family, r.prefsrc, -1);
        nr.metric = r.priority;
        n.routes.push_back(std::move(nr));
    }
    return n;
}

void allow_tun(oci::Spec& spec) { grant_char_device(spec, "/dev/net/tun", 10, 200, 0666); }

void drop_joined_network_namespace(nlohmann::json& j, bool connected) {
    if (!j.contains("linux") || !j["linux"].contains("namespaces") || !j["linux"]["namespaces"].is_array()) return;
    auto& nss = j["linux"]["namespaces"];
    nlohmann::json keep = nlohmann::json::array();
    for (auto& ns : nss) {
        if (!(ns.value("type", "") == "network" && ns.contains("path"))) keep.push_back(ns);
        else if (!connected) keep.push_back({{"type", "network"}});  // loopback only, as on the host
    }
    nss = keep;
}

std::vector<std::string> qemu_nic_args(size_t n, const std::string& tap, const std::string& mac) {
    std::string id = "net" + std::to_string(n);
    // romfile= : no PXE option ROM (nothing boots from the network; it costs memory).
    return {"-netdev", "tap,id=" + id + ",ifname=" + tap + ",script=no,downscript=no", "-device",
            "virtio-net-pci,netdev=" + id + ",romfile=,mac=" + mac};
}

std::vector<std::string> qemu_net_args(const NetPlan& net) {
    std::vector<std::string> out;
    for (size_t i = 0; i < net.interfaces.size(); ++i) {
        auto nic = qemu_nic_args(i, net.interfaces[i].tap, net.interfaces[i].mac);
        out.insert(out.end(), nic.begin(), nic.end());
    }
    return out;
}

namespace {

void record_network(const NetPlan& net, const std::string& vm_dir, const std::vector<int>& taps) {
    int fd = ::open((vm_dir + "/net").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw_errno("create " + vm_dir + "/net");
    std::string rec = net.netns + "\n";
    for (size_t i = 0; i < net.interfaces.size(); ++i)
        rec += net.interfaces[i].name + " " + net.interfaces[i].tap + " " +
               std::to_string(i < taps.size() ? taps[i] : 0) + "\n";
    ssize_t w = ::write(fd, rec.data(), rec.size());
    ::close(fd);
    if (w != ssize_t(rec.size())) throw Error("write " + vm_dir + "/net", EIO);
}

}  // namespace

void connect_network(const NetPlan& net, const std::string& vm_dir) {
    record_network(net, vm_dir, {});  // before the taps: a failure below is undone by delete
    InNetns in(net.netns);
    netlink::Route route;
    if (net.replace_tap)  // an ended VM's (plan_network): its redirects go with it
        for (const auto& l : route.links())
            if (l.name.rfind(kTapPrefix, 0) == 0) route.delete_link(l.index);
    std::vector<int> taps;
    for (const auto& nic : net.interfaces) {
        auto veth = route.link_index(nic.name);
        if (!veth) throw Error("VM isolation: interface " + nic.name + " left network namespace " + net.netns, ENODEV);
        if (net.replace_tap) route.remove_ingress(*veth);
        make_tap(nic.tap);
        taps.push_back(*route.link_index(nic.tap));
        record_network(net, vm_dir, taps);
        route.set_mtu_and_mac(taps.back(), nic.mtu, "");
        route.set_up(taps.back());
        route.redirect_ingress(*veth, taps.back());
        route.redirect_ingress(taps.back(), *veth);
    }
}

void disconnect_network(const std::string& vm_dir) {
    std::string rec;
    try {
        rec = text::read_file(vm_dir + "/net");
    } catch (const Error&) {
        return;
    }
    auto parts = text::lines(rec);
    if (parts.size() < 2) return;
    std::string netns(parts[0]);
    try {
        InNetns in(netns);
        netlink::Route route;
        for (size_t i = 1; i < parts.size(); ++i) {
            auto f = text::fields(parts[i]);
            if (f.empty()) continue;
            // "<interface> <tap> <tap's index>" (connect_network).
            std::string veth(f[0]), tap(f.size() > 1 ? std::string(f[1]) : std::string(kTapPrefix) + "0");
            int ours = f.size() > 2 ? std::atoi(std::string(f[2]).c_str()) : 0;
            auto t = route.link_index(tap);
            // The pod's next VM replaced our tap (plan_network): its tap and redirects stay.
            if (t && ours > 0 && *t != ours) continue;
            if (t) route.delete_link(*t);
            if (auto v = route.link_index(veth)) route.remove_ingress(*v);
        }
    } catch (const Error& e) {
        if (e.errnum() != ENOENT) log::warn(std::string("VM isolation: network teardown: ") + e.what());
    }
}

}  // namespace skiff::vm
