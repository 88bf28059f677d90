// A small rtnetlink client: find a link by name, move it to another network namespace under a
// new name, bring it down. Enough for handing host interfaces to a container; no OCI here.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "linux/fd.hpp"

namespace skiff::netlink {

class Route {
public:
    // A NETLINK_ROUTE socket in the caller's network namespace.
    Route();
    // One in the network namespace of `netns_fd`: made there (a socket keeps the namespace it
    // was made in), then the caller returns to its own. Single-threaded callers only.
    static Route in_netns(int netns_fd);

    struct Link {
        int index = 0;
        bool up = false;
    };
    // The link called `name`, or nothing when there is none.
    std::optional<Link> link(const std::string& name);
    std::optional<int> link_index(const std::string& name) {
        auto l = link(name);
        return l ? std::optional<int>(l->index) : std::nullopt;
    }
    // Whether a link with ifindex `index` exists here.
    bool has_link(int index);
    // What a container cannot change about link `index`: its link type, its kind ("" for a
    // physical device, "dummy", "veth", ...) and its permanent hardware address, as one text.
    // Empty when there is no such link.
    std::string identity(int index);
    // The permanent addresses of link `index` (not the ones the kernel or a DHCP client
    // made), each as the RTM_NEWADDR payload that adds it again: a move loses them.
    std::vector<std::string> permanent_addresses(int index);
    // Adds an address from permanent_addresses() to link `index`.
    void add_address(int index, const std::string& address);
    void set_up(int index);
    // Moves link `index` into the namespace of `netns_fd`, named `name` there. The kernel
    // takes the link down as it moves it.
    void move_link(int index, int netns_fd, const std::string& name);

    // For a VM's network (netlink_vm.cpp): the links, addresses and routes a container's
    // namespace holds, the same set in the guest, and tc's ingress redirect.
    struct LinkInfo {
        int index = 0;
        std::string name;
        std::string mac;  // aa:bb:cc:dd:ee:ff
        int mtu = 0;
        bool loopback = false;
        bool up = false;
    };
    std::vector<LinkInfo> links();
    // An IPv4 or IPv6 address of a link; `bytes` is 4 or 16 bytes in network order.
    struct Address {
        int family = 0;  // AF_INET, AF_INET6
        std::string bytes;
        int prefix = 0;
        unsigned scope = 0;  // RT_SCOPE_*
        uint32_t flags = 0;  // IFA_F_*
    };
    // Both families' addresses of link `index`.
    std::vector<Address> addresses(int index);
    // Adds `a` to link `index` (IPv6 without duplicate address detection: the address is the
    // one the container already had, usable at once).
    void add_ip(int index, const Address& a);
    // A unicast route of the main table; addresses in network order, empty when absent.
    struct RouteEntry {
        int family = 0;
        std::string dst;  // empty with dst_len 0: the default route
        int dst_len = 0;
        std::string gateway;
        std::string prefsrc;
        int oif = 0;
        uint32_t priority = 0;  // the metric; 0: none given
        unsigned protocol = 0;  // RTPROT_*
        unsigned scope = 0;
    };
    // The main table's unicast routes of both families.
    std::vector<RouteEntry> routes();
    void add_route(const RouteEntry& r);
    void rename_link(int index, const std::string& name);
    void set_mtu_and_mac(int index, int mtu, const std::string& mac);
    // An ingress qdisc on `from`, and a match-all filter that redirects what arrives there to
    // the egress of `to` (mirred): half of a transparent link between two interfaces.
    void redirect_ingress(int from, int to);
    void remove_ingress(int index);
    void delete_link(int index);

private:
    explicit Route(Fd fd) : fd_(std::move(fd)) {}
    // Sends one request; returns the kernel's errno (0: acknowledged). A reply other than
    // an ack (RTM_NEWLINK for a query) is copied to `reply` when given.
    int transact(void* msg, uint32_t len, std::string* reply = nullptr);
    // Sends a dump request; returns every reply message of the dump.
    std::vector<std::string> dump(void* msg, uint32_t len);
    Fd fd_;
    uint32_t seq_ = 0;
};

}  // namespace skiff::netlink
