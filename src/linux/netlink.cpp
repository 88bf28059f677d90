#include "linux/netlink.hpp"

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>

#include <cstring>

#include "base/error.hpp"

namespace skiff::netlink {
namespace {

// One RTM_*LINK request: header, ifinfomsg, then attributes, in a fixed buffer.
struct LinkRequest {
    nlmsghdr hdr;
    ifinfomsg info;
    char attrs[256];

    LinkRequest(uint16_t type, uint16_t flags) {
        std::memset(this, 0, sizeof *this);
        hdr.nlmsg_len = NLMSG_LENGTH(sizeof info);
        hdr.nlmsg_type = type;
        hdr.nlmsg_flags = uint16_t(NLM_F_REQUEST | flags);
        info.ifi_family = AF_UNSPEC;
    }
    void add(uint16_t type, const void* data, size_t len) {
        auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(this) + NLMSG_ALIGN(hdr.nlmsg_len));
        rta->rta_type = type;
        rta->rta_len = uint16_t(RTA_LENGTH(len));
        std::memcpy(RTA_DATA(rta), data, len);
        hdr.nlmsg_len = uint32_t(NLMSG_ALIGN(hdr.nlmsg_len) + RTA_ALIGN(rta->rta_len));
    }
    void add_name(const std::string& name) {
        if (name.empty() || name.size() >= IFNAMSIZ) throw Error("invalid interface name \"" + name + "\"", EINVAL);
        add(IFLA_IFNAME, name.c_str(), name.size() + 1);
    }
};

Fd route_socket() {
    Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd) throw_errno("open an rtnetlink socket");
    return fd;
}

}  // namespace

Route::Route() : fd_(route_socket()) {}

Route Route::in_netns(int netns_fd) {
    Fd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!home) throw_errno("open our network namespace");
    if (::setns(netns_fd, CLONE_NEWNET) < 0) throw_errno("enter the network namespace");
    int err = 0;
    Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd) err = errno;
    if (::setns(home.get(), CLONE_NEWNET) < 0) throw_errno("return to our network namespace");
    if (err) throw_errno("open an rtnetlink socket in the network namespace", err);
    return Route(std::move(fd));
}

int Route::transact(void* msg, uint32_t len, std::string* reply) {
    auto* hdr = static_cast<nlmsghdr*>(msg);
    hdr->nlmsg_seq = ++seq_;
    hdr->nlmsg_flags |= NLM_F_ACK;
    sockaddr_nl kernel = {};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd_.get(), msg, len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
        throw_errno("send an rtnetlink request");
    alignas(nlmsghdr) char buf[16384];
    for (;;) {
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read an rtnetlink reply");
        }
        int left = int(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_seq != seq_) continue;  // a late answer to an earlier request
            if (h->nlmsg_type == NLMSG_ERROR) {
                auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
                return -e->error;
            }
            if (reply) reply->assign(reinterpret_cast<char*>(h), h->nlmsg_len);
        }
    }
}

std::optional<Route::Link> Route::link(const std::string& name) {
    LinkRequest req(RTM_GETLINK, 0);
    req.add_name(name);
    std::string reply;
    int err = transact(&req, req.hdr.nlmsg_len, &reply);
    if (err == ENODEV) return std::nullopt;
    if (err) throw_errno("look up interface " + name, err);
    if (reply.size() < NLMSG_LENGTH(sizeof(ifinfomsg))) throw Error("short rtnetlink reply for " + name, EPROTO);
    auto* info = static_cast<ifinfomsg*>(NLMSG_DATA(reinterpret_cast<nlmsghdr*>(reply.data())));
    return Link{info->ifi_index, (info->ifi_flags & IFF_UP) != 0};
}

bool Route::has_link(int index) {
    LinkRequest req(RTM_GETLINK, 0);
    req.info.ifi_index = index;
    std::string reply;
    int err = transact(&req, req.hdr.nlmsg_len, &reply);
    if (err == ENODEV) return false;
    if (err) throw_errno("look up interface " + std::to_string(index), err);
    return true;
}

std::string Route::identity(int index) {
    LinkRequest req(RTM_GETLINK, 0);
    req.info.ifi_index = index;
    std::string reply;
    int err = transact(&req, req.hdr.nlmsg_len, &reply);
    if (err == ENODEV) return "";
    if (err) throw_errno("look up interface " + std::to_string(index), err);
    auto* h = reinterpret_cast<const nlmsghdr*>(reply.data());
    if (reply.size() < NLMSG_LENGTH(sizeof(ifinfomsg))) throw Error("short rtnetlink reply", EPROTO);
    auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
    std::string kind, permanent;
    int len = int(IFLA_PAYLOAD(h));
    for (auto* rta = IFLA_RTA(info); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
        if (rta->rta_type == IFLA_PERM_ADDRESS) {
            static const char hex[] = "0123456789abcdef";
            auto* b = static_cast<const unsigned char*>(RTA_DATA(rta));
            for (size_t i = 0; i < RTA_PAYLOAD(rta); ++i) permanent += {hex[b[i] >> 4], hex[b[i] & 15]};
        } else if (rta->rta_type == IFLA_LINKINFO) {
            int inner = int(RTA_PAYLOAD(rta));
            for (auto* k = static_cast<rtattr*>(RTA_DATA(rta)); RTA_OK(k, inner); k = RTA_NEXT(k, inner))
                if (k->rta_type == IFLA_INFO_KIND)
                    kind.assign(static_cast<const char*>(RTA_DATA(k)),
                                strnlen(static_cast<const char*>(RTA_DATA(k)), RTA_PAYLOAD(k)));
        }
    }
    return "type=" + std::to_string(info->ifi_type) + " kind=" + kind + " permanent=" + permanent;
}

std::vector<std::string> Route::dump(void* msg, uint32_t len) {
    auto* hdr = static_cast<nlmsghdr*>(msg);
    hdr->nlmsg_seq = ++seq_;
    hdr->nlmsg_flags |= NLM_F_DUMP;
    sockaddr_nl kernel = {};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd_.get(), msg, len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
        throw_errno("send an rtnetlink dump request");
    std::vector<std::string> out;
    alignas(nlmsghdr) char buf[32768];
    for (;;) {
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read an rtnetlink dump");
        }
        int left = int(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_seq != seq_) continue;
            if (h->nlmsg_type == NLMSG_DONE) return out;
            if (h->nlmsg_type == NLMSG_ERROR) {
                int err = -static_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
                if (err) throw_errno("rtnetlink dump", err);
                return out;
            }
            out.emplace_back(reinterpret_cast<char*>(h), h->nlmsg_len);
        }
    }
}

std::vector<std::string> Route::permanent_addresses(int index) {
    struct {
        nlmsghdr hdr;
        ifaddrmsg ifa;
    } req = {};
    req.hdr.nlmsg_len = NLMSG_LENGTH(sizeof req.ifa);
    req.hdr.nlmsg_type = RTM_GETADDR;
    req.hdr.nlmsg_flags = NLM_F_REQUEST;
    req.ifa.ifa_family = AF_UNSPEC;
    std::vector<std::string> out;
    for (const auto& m : dump(&req, req.hdr.nlmsg_len)) {
        auto* h = reinterpret_cast<const nlmsghdr*>(m.data());
        if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) continue;
        auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
        if (int(ifa->ifa_index) != index) continue;
        uint32_t flags = ifa->ifa_flags;
        // Only the address, its peer, broadcast and flags go back: a label names the old
        // device, cache info describes lifetimes a permanent address does not have.
        std::string keep(reinterpret_cast<const char*>(ifa), sizeof *ifa);
        int len = int(IFA_PAYLOAD(h));
        for (auto* rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
            if (rta->rta_type == IFA_FLAGS && RTA_PAYLOAD(rta) >= sizeof(uint32_t))
                std::memcpy(&flags, RTA_DATA(rta), sizeof flags);
            if (rta->rta_type == IFA_ADDRESS || rta->rta_type == IFA_LOCAL || rta->rta_type == IFA_BROADCAST ||
                rta->rta_type == IFA_FLAGS) {
                std::string a(reinterpret_cast<const char*>(rta), rta->rta_len);
                a.resize(RTA_ALIGN(a.size()), '\0');
                keep += a;
            }
        }
        if (flags & IFA_F_PERMANENT) out.push_back(std::move(keep));
    }
    return out;
}

void Route::add_address(int index, const std::string& address) {
    struct {
        nlmsghdr hdr;
        char body[512];
    } req = {};
    if (address.size() > sizeof req.body || address.size() < sizeof(ifaddrmsg))
        throw Error("an address too large to add", EINVAL);
    std::memcpy(req.body, address.data(), address.size());
    reinterpret_cast<ifaddrmsg*>(req.body)->ifa_index = uint32_t(index);
    req.hdr.nlmsg_len = NLMSG_LENGTH(address.size());
    req.hdr.nlmsg_type = RTM_NEWADDR;
    req.hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
    int err = transact(&req, req.hdr.nlmsg_len);
    if (err) throw_errno("add an address to interface " + std::to_string(index), err);
}

void Route::set_up(int index) {
    LinkRequest req(RTM_NEWLINK, 0);
    req.info.ifi_index = index;
    req.info.ifi_flags = IFF_UP;
    req.info.ifi_change = IFF_UP;
    int err = transact(&req, req.hdr.nlmsg_len);
    if (err) throw_errno("bring interface " + std::to_string(index) + " up", err);
}

void Route::move_link(int index, int netns_fd, const std::string& name) {
    LinkRequest req(RTM_NEWLINK, 0);
    req.info.ifi_index = index;
    uint32_t fd = uint32_t(netns_fd);
    req.add(IFLA_NET_NS_FD, &fd, sizeof fd);
    req.add_name(name);
    int err = transact(&req, req.hdr.nlmsg_len);
    if (err) throw_errno("move interface " + std::to_string(index) + " as " + name, err);
}

}  // namespace skiff::netlink
