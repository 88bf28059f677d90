// A VM-isolated container's network (network.hpp), the guest half: the plan travels in the
// initramfs as skiff-vm/net, one line per fact, and the agent applies it before it runs the
// container:
//   nic <name> <mac> <mtu> <up|down>
//   addr <name> <address>/<prefix>
//   route <name> <destination>/<prefix> <gateway|-> <metric> <source|->
#include "vm/network.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "base/error.hpp"
#include "base/text.hpp"
#include "linux/fd.hpp"
#include "linux/netlink.hpp"

namespace skiff::vm {
namespace {

void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    ::nanosleep(&ts, nullptr);
}

// "10.0.0.2/24" or "fd00::2" (prefix -1 when none is given) in network order.
std::string parse_ip(const std::string& text, int& family, int& prefix) {
    auto slash = text.find('/');
    std::string ip = text.substr(0, slash);
    family = ip.find(':') == std::string::npos ? AF_INET : AF_INET6;
    char buf[16];
    if (::inet_pton(family, ip.c_str(), buf) != 1) throw Error("skiff-vm/net: bad address " + text, EINVAL);
    prefix = slash == std::string::npos ? -1 : std::atoi(text.c_str() + slash + 1);
    return std::string(buf, family == AF_INET ? 4 : 16);
}

struct GuestNic {
    NetInterface want;
    int index = 0;
};

void load_modules() {
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
}

// Each NIC of the plan to the guest's link with its MAC (virtio-net probes them a moment
// after the module loads); loopback up on the way.
void find_links(netlink::Route& route, std::vector<GuestNic>& nics) {
    for (int tries = 0; tries < 500; ++tries) {
        std::vector<int> taken;
        for (auto& n : nics) n.index = 0;
        auto links = route.links();
        for (const auto& l : links)
            if (l.loopback) route.set_up(l.index);
        for (auto& n : nics)
            for (const auto& l : links)
                if (!l.loopback && l.mac == n.want.mac && std::find(taken.begin(), taken.end(), l.index) == taken.end()) {
                    n.index = l.index;
                    taken.push_back(l.index);
                    break;
                }
        if (std::all_of(nics.begin(), nics.end(), [](const GuestNic& n) { return n.index != 0; })) return;
        sleep_ms(10);
    }
    for (const auto& n : nics)
        if (!n.index)
            throw Error("the guest has no network interface with address " + n.want.mac + " (virtio-net)", ENODEV);
}

void add_route(netlink::Route& route, const std::vector<GuestNic>& nics, const NetRoute& r) {
    netlink::Route::RouteEntry e;
    int family = 0, prefix = 0, f2 = 0, unused = 0;
    e.dst = parse_ip(r.dst, family, prefix);
    e.family = family;
    e.dst_len = prefix < 0 ? (family == AF_INET ? 32 : 128) : prefix;
    if (e.dst_len == 0) e.dst.clear();
    if (!r.gateway.empty()) e.gateway = parse_ip(r.gateway, f2, unused);
    if (!r.source.empty()) e.prefsrc = parse_ip(r.source, f2, unused);
    e.priority = r.metric;
    e.scope = family == AF_INET && r.gateway.empty() ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
    for (const auto& n : nics)
        if (n.want.name == r.dev) e.oif = n.index;
    if (!e.oif) return;
    try {
        route.add_route(e);
    } catch (const Error& err) {
        if (err.errnum() != EEXIST) throw Error("route to " + r.dst + " on " + r.dev + ": " + err.what(), err.errnum());
    }
}

}  // namespace

std::vector<CpioEntry> guest_net_files(const NetPlan& net, const std::string& kernel_dir) {
    std::string conf;
    for (const auto& nic : net.interfaces) {
        conf += "nic " + nic.name + " " + nic.mac + " " + std::to_string(nic.mtu) + (nic.up ? " up\n" : " down\n");
        for (const auto& a : nic.addresses) conf += "addr " + nic.name + " " + a + "\n";
    }
    for (const auto& r : net.routes)
        conf += "route " + r.dev + " " + r.dst + " " + (r.gateway.empty() ? "-" : r.gateway) + " " +
                std::to_string(r.metric) + " " + (r.source.empty() ? "-" : r.source) + "\n";
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
    std::vector<GuestNic> nics;
    std::vector<NetRoute> routes;
    for (auto line : text::lines(conf)) {
        auto f = text::fields(line);
        if (f.size() == 5 && f[0] == "nic") {
            GuestNic n;
            n.want.name = std::string(f[1]);
            n.want.mac = std::string(f[2]);
            n.want.mtu = std::atoi(std::string(f[3]).c_str());
            n.want.up = f[4] == "up";
            nics.push_back(std::move(n));
        } else if (f.size() == 3 && f[0] == "addr") {
            for (auto& n : nics)
                if (n.want.name == f[1]) n.want.addresses.emplace_back(f[2]);
        } else if (f.size() == 6 && f[0] == "route") {
            NetRoute r;
            r.dev = std::string(f[1]);
            r.dst = std::string(f[2]);
            if (f[3] != "-") r.gateway = std::string(f[3]);
            r.metric = uint32_t(std::strtoul(std::string(f[4]).c_str(), nullptr, 10));
            if (f[5] != "-") r.source = std::string(f[5]);
            routes.push_back(std::move(r));
        }
    }
    load_modules();
    netlink::Route route;
    find_links(route, nics);
    // The namespace's names, through names of our own: eth0 and eth1 may trade places.
    for (size_t i = 0; i < nics.size(); ++i) route.rename_link(nics[i].index, "skiffnic" + std::to_string(i));
    for (auto& n : nics) {
        route.rename_link(n.index, n.want.name);
        if (n.want.mtu > 0) route.set_mtu_and_mac(n.index, n.want.mtu, "");
        if (n.want.up) route.set_up(n.index);
        for (const auto& a : n.want.addresses) {
            netlink::Route::Address ad;
            ad.bytes = parse_ip(a, ad.family, ad.prefix);
            if (ad.prefix < 0) ad.prefix = ad.family == AF_INET ? 32 : 128;
            route.add_ip(n.index, ad);
        }
    }
    // Routes on the link first: a gateway must be reachable when its route is made.
    for (const auto& r : routes)
        if (r.gateway.empty()) add_route(route, nics, r);
    for (const auto& r : routes)
        if (!r.gateway.empty()) add_route(route, nics, r);
}

}  // namespace skiff::vm
