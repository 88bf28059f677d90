// A VM-isolated container's network (network.hpp): host half at create and delete, guest
// half in the agent.
#include "vm/network.hpp"
#include "vm/pod.hpp"
#include "vm/vm.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
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

std::string ip_text(uint32_t a) {
    char b[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &a, b, sizeof b);
    return b;
}

uint32_t ip_parse(const std::string& s) {
    uint32_t a = 0;
    if (::inet_pton(AF_INET, s.c_str(), &a) != 1) throw Error("bad IPv4 address " + s, EINVAL);
    return a;
}

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

void make_tap(const std::string& name, int mtu) {
    Fd tun(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    if (!tun) throw_errno("open /dev/net/tun");
    struct ifreq ifr = {};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (::ioctl(tun.get(), TUNSETIFF, &ifr) < 0) throw_errno("create tap " + name);
    if (::ioctl(tun.get(), TUNSETOWNER, 0UL) < 0) throw_errno("set the owner of tap " + name);
    if (::ioctl(tun.get(), TUNSETPERSIST, 1UL) < 0) throw_errno("keep tap " + name);
    (void)mtu;
}

void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    ::nanosleep(&ts, nullptr);
}

}  // namespace

std::optional<NetPlan> plan_network(const oci::Spec& spec, const std::string& state_root) {
    const std::string* path = namespace_path(spec);
    if (!path) return std::nullopt;
    NetPlan n;
    n.netns = *path;
    Fd ns(::open(path->c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) throw_errno("linux.namespaces: network namespace " + *path);
    auto route = netlink::Route::in_netns(ns.get());
    std::vector<netlink::Route::LinkInfo> ether;
    for (auto& l : route.links()) {
        // Another VM's tap: a second VM in a pod would take the same interface (pod.hpp).
        if (l.name == kTapName && tap_left_by_ended_vm(*path, l.index, state_root)) n.replace_tap = true;
        else if (l.name == kTapName)
            throw Error("linux.namespaces: network namespace " + *path +
                            " is already connected to a VM-isolated container; only one per pod (network namespace) can take its interface",
                        EBUSY);
        if (!l.loopback && !l.mac.empty()) ether.push_back(l);
    }
    if (ether.empty()) return std::nullopt;
    if (ether.size() > 1)
        log::warn("VM isolation: network namespace " + *path + " has " + std::to_string(ether.size()) +
                  " interfaces; only " + ether[0].name + " is connected to the guest");
    n.veth = ether[0].name;
    n.mac = ether[0].mac;
    n.mtu = ether[0].mtu;
    auto addrs = route.ipv4_addresses(ether[0].index);
    if (!addrs.empty()) n.address = ip_text(addrs[0].address) + "/" + std::to_string(addrs[0].prefix);
    if (auto gw = route.ipv4_default_gateway()) n.gateway = ip_text(*gw);
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

std::vector<std::string> qemu_net_args(const NetPlan& net) {
    // romfile= : no PXE option ROM (nothing boots from the network; it costs memory).
    return {"-netdev", std::string("tap,id=net0,ifname=") + kTapName + ",script=no,downscript=no", "-device",
            "virtio-net-pci,netdev=net0,romfile=,mac=" + net.mac};
}

namespace {

void record_network(const NetPlan& net, const std::string& vm_dir, int tap) {
    int fd = ::open((vm_dir + "/net").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw_errno("create " + vm_dir + "/net");
    std::string rec = net.netns + "\n" + net.veth + "\n" + (tap > 0 ? std::to_string(tap) + "\n" : "");
    ssize_t w = ::write(fd, rec.data(), rec.size());
    ::close(fd);
    if (w != ssize_t(rec.size())) throw Error("write " + vm_dir + "/net", EIO);
}

}  // namespace

void connect_network(const NetPlan& net, const std::string& vm_dir) {
    record_network(net, vm_dir, 0);  // before the tap: a failure below is undone by delete
    InNetns in(net.netns);
    netlink::Route route;
    auto veth = route.link_index(net.veth);
    if (!veth) throw Error("VM isolation: interface " + net.veth + " left network namespace " + net.netns, ENODEV);
    if (net.replace_tap)  // an ended VM's (plan_network): its redirects go with it
        if (auto old = route.link_index(kTapName)) {
            route.delete_link(*old);
            route.remove_ingress(*veth);
        }
    make_tap(kTapName, net.mtu);
    int tap = *route.link_index(kTapName);
    record_network(net, vm_dir, tap);
    route.set_mtu_and_mac(tap, net.mtu, "");
    route.set_up(tap);
    route.redirect_ingress(*veth, tap);
    route.redirect_ingress(tap, *veth);
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
    std::string netns(parts[0]), veth(parts[1]);
    int ours = parts.size() > 2 ? std::atoi(std::string(parts[2]).c_str()) : 0;
    try {
        InNetns in(netns);
        netlink::Route route;
        auto tap = route.link_index(kTapName);
        // The pod's next VM replaced our tap (plan_network): its tap and redirects stay.
        if (tap && ours > 0 && *tap != ours) return;
        if (tap) route.delete_link(*tap);
        if (auto v = route.link_index(veth)) route.remove_ingress(*v);
    } catch (const Error& e) {
        if (e.errnum() != ENOENT) log::warn(std::string("VM isolation: network teardown: ") + e.what());
    }
}

std::vector<CpioEntry> guest_net_files(const NetPlan& net, const std::string& kernel_dir) {
    std::string conf = "mac " + net.mac + "\nmtu " + std::to_string(net.mtu) + "\n";
    if (!net.address.empty()) conf += "addr " + net.address + "\n";
    if (!net.gateway.empty()) conf += "gw " + net.gateway + "\n";
    std::vector<CpioEntry> out = {{"skiff-vm/net", S_IFREG | 0600, conf},
                                  {"skiff-vm/modules", S_IFDIR | 0700, ""}};
    // virtio_net and what it needs, in load order, when the kernel has them as modules.
    std::string kver;
    try {
        kver = text::read_file(kernel_dir + "/kver");
    } catch (const Error&) {
        return out;
    }
    while (!kver.empty() && (kver.back() == '\n' || kver.back() == ' ')) kver.pop_back();
    const char* const mods[] = {"net/core/failover.ko", "drivers/net/net_failover.ko", "drivers/net/virtio_net.ko"};
    int n = 0;
    for (const char* m : mods) {
        std::string path = kernel_dir + "/lib/modules/" + kver + "/kernel/" + m;
        if (::access(path.c_str(), R_OK) != 0) continue;
        out.push_back({"skiff-vm/modules/" + std::to_string(n++) + ".ko", S_IFREG | 0600, text::read_file(path)});
    }
    return out;
}

void configure_guest_network() {
    std::string conf;
    try {
        conf = text::read_file("/skiff-vm/net");
    } catch (const Error&) {
        return;
    }
    std::string mac, address, gateway;
    int mtu = 0;
    for (auto line : text::lines(conf)) {
        auto f = text::fields(line);
        if (f.size() != 2) continue;
        std::string k(f[0]), v(f[1]);
        if (k == "mac") mac = v;
        else if (k == "mtu") mtu = std::atoi(v.c_str());
        else if (k == "addr") address = v;
        else if (k == "gw") gateway = v;
    }
    std::vector<std::string> mods;
    if (DIR* d = ::opendir("/skiff-vm/modules")) {
        while (struct dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') mods.push_back(std::string("/skiff-vm/modules/") + e->d_name);
        ::closedir(d);
    }
    std::sort(mods.begin(), mods.end());
    for (const auto& m : mods) {
        Fd fd(::open(m.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) throw_errno("open " + m);
        if (::syscall(SYS_finit_module, fd.get(), "", 0) < 0 && errno != EEXIST) throw_errno("load module " + m);
    }
    netlink::Route route;
    int index = 0;
    for (int tries = 0; tries < 500 && !index; ++tries) {
        for (const auto& l : route.links()) {
            if (l.loopback) route.set_up(l.index);
            else if (l.mac == mac) index = l.index;
        }
        if (!index) sleep_ms(10);
    }
    if (!index) throw Error("the guest has no network interface with address " + mac + " (virtio-net)", ENODEV);
    if (mtu > 0) route.set_mtu_and_mac(index, mtu, "");
    route.set_up(index);
    if (!address.empty()) {
        auto slash = address.find('/');
        netlink::Route::Ipv4 a;
        a.address = ip_parse(address.substr(0, slash));
        a.prefix = slash == std::string::npos ? 32 : std::atoi(address.c_str() + slash + 1);
        route.add_ipv4(index, a);
    }
    if (!gateway.empty()) route.add_ipv4_default_route(index, ip_parse(gateway));
}

}  // namespace skiff::vm
