// A small rtnetlink client: find a link by name, move it to another network namespace under a
// new name, bring it down. Enough for handing host interfaces to a container; no OCI here.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "linux/fd.hpp"

namespace skiff::netlink {

class Route {
public:
    // A NETLINK_ROUTE socket in the caller's network namespace.
    Route();
    // One in the network namespace of `netns_fd`: made there (a socket keeps the namespace it
    // was made in), then the caller returns to its own. Single-threaded callers only.
    static Route in_netns(int netns_fd);

    // The interface index of `name`, or nothing when no such link exists.
    std::optional<int> link_index(const std::string& name);
    // Moves link `index` into the namespace of `netns_fd`, named `name` there. The kernel
    // takes the link down as it moves it.
    void move_link(int index, int netns_fd, const std::string& name);

private:
    explicit Route(Fd fd) : fd_(std::move(fd)) {}
    // Sends one request; returns the kernel's errno (0: acknowledged). A reply other than
    // an ack (RTM_NEWLINK for a query) is copied to `reply` when given.
    int transact(void* msg, uint32_t len, std::string* reply = nullptr);
    Fd fd_;
    uint32_t seq_ = 0;
};

}  // namespace skiff::netlink
