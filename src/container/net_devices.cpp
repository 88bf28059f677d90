#include "container/net_devices.hpp"

#include <fcntl.h>
#include <sched.h>


#include "base/error.hpp"
#include "linux/log.hpp"
#include "linux/netlink.hpp"
#include "oci/config.hpp"

namespace skiff::container {
namespace {

const std::string kField = "linux.netDevices";

std::string container_name(const std::string& host_name, const oci::NetDevice& d) {
    return d.name.empty() ? host_name : d.name;
}

Fd open_netns(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno(kField + ": open network namespace " + path);
    return fd;
}

// The runtime's own network namespace: where devices go back to.
Fd host_netns() { return open_netns("/proc/self/ns/net"); }

// Moves the link `from_name` (seen through `from`) into the namespace `to_netns` (seen
// through `to`) as `to_name`, keeping what the move would lose: its permanent addresses and
// its up state (the kernel takes a moved link down and drops its addresses). Returns its
// ifindex on the other side (the kernel keeps it unless that one is taken there).
int move_keeping_addresses(netlink::Route& from, netlink::Route& to, const std::string& from_name, int to_netns,
                           const std::string& to_name) {
    auto link = from.link(from_name);
    if (!link) throw Error("no network interface \"" + from_name + "\"", ENODEV);
    auto addresses = from.permanent_addresses(link->index);
    from.move_link(link->index, to_netns, to_name);
    auto moved = to.link(to_name);
    if (!moved) throw Error("interface " + to_name + " is not where it was moved", ENODEV);
    for (const auto& a : addresses) {
        try {
            to.add_address(moved->index, a);
        } catch (const Error& e) {
            if (e.errnum() != EEXIST) throw;
        }
    }
    if (link->up) to.set_up(moved->index);
    return moved->index;
}

}  // namespace

void validate_net_devices(const oci::Spec& spec, const NamespacePlan& plan) {
    if (!spec.linux || spec.linux->net_devices.empty()) return;
    // runc's words.
    if (!(plan.listed & CLONE_NEWNET))
        throw Error(kField + ": unable to move network devices without a NET namespace", EINVAL);
}

void NetDevices::move_in(const oci::Spec& spec, pid_t pid) {
    if (!spec.linux || spec.linux->net_devices.empty()) return;
    netns_ = open_netns("/proc/" + std::to_string(pid) + "/ns/net");
    netlink::Route host;
    netlink::Route inside = netlink::Route::in_netns(netns_.get());
    // Every check before the first move, so a bad entry moves nothing.
    for (const auto& [name, dev] : spec.linux->net_devices) {
        if (!host.link_index(name))
            throw Error(kField + "." + name + ": no network interface \"" + name + "\" on the host", ENODEV);
        const std::string target = container_name(name, dev);
        if (inside.link_index(target))
            throw Error(kField + "." + name + ": interface name \"" + target +
                            "\" is already in use in the container's network namespace", EEXIST);
    }
    try {
        for (const auto& [name, dev] : spec.linux->net_devices) {
            const std::string target = container_name(name, dev);
            // Recorded first: a move that fails half way (moved, address not added) is
            // still given back.
            moved_.push_back({name, target, 0, ""});
            moved_.back().container_index = move_keeping_addresses(host, inside, name, netns_.get(), target);
            moved_.back().identity = inside.identity(moved_.back().container_index);
        }
    } catch (const Error& e) {
        give_back();
        throw Error(kField + ": " + e.message(), e.errnum());
    }
}

std::map<std::string, int> NetDevices::indexes() const {
    std::map<std::string, int> out;
    for (const auto& m : moved_)
        if (m.container_index > 0) out[m.host_name] = m.container_index;
    return out;
}

std::map<std::string, std::string> NetDevices::identities() const {
    std::map<std::string, std::string> out;
    for (const auto& m : moved_)
        if (!m.identity.empty()) out[m.host_name] = m.identity;
    return out;
}

void NetDevices::give_back() noexcept {
    if (moved_.empty()) return;
    try {
        Fd home = host_netns();
        netlink::Route host;
        netlink::Route inside = netlink::Route::in_netns(netns_.get());
        for (const auto& m : moved_) {
            try {
                if (inside.link_index(m.container_name))
                    move_keeping_addresses(inside, host, m.container_name, home.get(), m.host_name);
            } catch (const Error& e) {
                log::warn(kField + ": return " + m.host_name + " to the host: " + e.what());
            }
        }
    } catch (const Error& e) {
        log::warn(kField + ": return the devices to the host: " + e.what());
    }
    moved_.clear();
}

void return_net_devices(const std::string& config, const std::map<std::string, int>& indexes,
                        const std::map<std::string, std::string>& identities, pid_t pid) {
    // Most containers have none: do not parse the config for them.
    if (config.find("\"netDevices\"") == std::string::npos) return;
    try {
        oci::Spec spec = oci::parse_config(config);
        if (!spec.linux || spec.linux->net_devices.empty()) return;
        std::string path;
        if (pid > 0) {
            path = "/proc/" + std::to_string(pid) + "/ns/net";
        } else {
            for (const auto& ns : spec.linux->namespaces)
                if (ns.type == "network") path = ns.path;
            if (path.empty()) return;  // a new namespace died with the container
        }
        Fd netns = open_netns(path);
        Fd home = host_netns();
        netlink::Route inside = netlink::Route::in_netns(netns.get());
        for (const auto& [name, dev] : spec.linux->net_devices) {
            try {
                // Back down and without addresses, as runc does: the container's processes
                // have run, and neither the addresses nor the state they gave the device
                // may reach the host's network.
                auto recorded = indexes.find(name);
                if (recorded == indexes.end()) {
                    auto i = inside.link_index(container_name(name, dev));
                    if (i) inside.move_link(*i, home.get(), name);
                } else if (inside.has_link(recorded->second)) {
                    auto identity = identities.find(name);
                    if (identity != identities.end() && inside.identity(recorded->second) != identity->second)
                        throw Error("interface " + std::to_string(recorded->second) +
                                        " is no longer the device that was moved in; it stays in the container's namespace",
                                    EEXIST);
                    inside.move_link(recorded->second, home.get(), name);
                }
            } catch (const Error& e) {
                log::warn(kField + ": return " + name + " to the host: " + e.what());
            }
        }
    } catch (const Error& e) {
        log::warn(kField + ": return the devices to the host: " + e.what());
    }
}

}  // namespace skiff::container
