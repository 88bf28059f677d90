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

    // For a VM's network (netlink_vm.cpp): the links, IPv4 addresses and default route a
    // container's namespace holds, the same set in the guest, and tc's ingress redirect.
    struct LinkInfo {
        int index = 0;
        std::string name;
        std::string mac;  // aa:bb:cc:dd:ee:ff
        int mtu = 0;
        bool loopback = false;
    };
    std::vector<LinkInfo> links();
    struct Ipv4 {
        uint32_t address = 0;  // network byte order
        int prefix = 0;
    };
    std::vector<Ipv4> ipv4_addresses(int index);
    // The IPv4 default route's gateway (network byte order), if there is one.
    std::optional<uint32_t> ipv4_default_gateway();
    void add_ipv4(int index, const Ipv4& address);
    void add_ipv4_default_route(int index, uint32_t gateway);
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
