// The rtnetlink requests VM networking needs (netlink.hpp): read a namespace's links,
// addresses and routes (IPv4 and IPv6); set them in the guest; tc ingress redirects between a veth
// and a tap, as Kata connects them (u32 match-all + mirred, which kernels without
// cls_matchall have too).
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>

#include "base/error.hpp"
#include "linux/netlink.hpp"

namespace skiff::netlink {
namespace {

// A request built attribute by attribute, nested ones included.
class Msg {
public:
    Msg(uint16_t type, uint16_t flags, const void* body, size_t len) {
        nlmsghdr h = {};
        h.nlmsg_type = type;
        h.nlmsg_flags = uint16_t(NLM_F_REQUEST | flags);
        buf_.assign(reinterpret_cast<const char*>(&h), sizeof h);
        append(body, len);
    }
    void add(uint16_t type, const void* data, size_t len) {
        size_t at = begin(type);
        append(data, len);
        end(at);
    }
    void add_str(uint16_t type, const std::string& s) { add(type, s.c_str(), s.size() + 1); }
    void add_u32(uint16_t type, uint32_t v) { add(type, &v, sizeof v); }
    size_t begin(uint16_t type) {
        pad();
        size_t at = buf_.size();
        rtattr a = {};
        a.rta_type = type;
        append(&a, sizeof a);
        return at;
    }
    void end(size_t at) {
        auto len = uint16_t(buf_.size() - at);
        std::memcpy(&buf_[at], &len, sizeof len);  // rta_len is the first field
    }
    void* data() {
        pad();
        auto len = uint32_t(buf_.size());
        std::memcpy(&buf_[0], &len, sizeof len);  // nlmsg_len
        return buf_.data();
    }
    // Padded like data(): `transact(m.data(), m.size())` may evaluate either first, and a
    // message shorter than its nlmsg_len is dropped by the kernel without an answer.
    uint32_t size() {
        data();
        return uint32_t(buf_.size());
    }

private:
    void append(const void* p, size_t n) { buf_.append(static_cast<const char*>(p), n); }
    void pad() { buf_.resize(NLMSG_ALIGN(buf_.size()), '\0'); }
    std::string buf_;
};

std::string mac_text(const unsigned char* m, size_t n) {
    std::string out;
    char b[4];
    for (size_t i = 0; i < n; ++i) {
        std::snprintf(b, sizeof b, i ? ":%02x" : "%02x", m[i]);
        out += b;
    }
    return out;
}

bool parse_mac(const std::string& s, unsigned char out[6]) {
    unsigned v[6];
    if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return false;
    for (int i = 0; i < 6; ++i) out[i] = (unsigned char)v[i];
    return true;
}

tcmsg tc_for(int index, uint32_t parent, uint32_t handle, uint32_t info) {
    tcmsg t = {};
    t.tcm_family = AF_UNSPEC;
    t.tcm_ifindex = index;
    t.tcm_parent = parent;
    t.tcm_handle = handle;
    t.tcm_info = info;
    return t;
}

constexpr uint32_t kIngressHandle = 0xffff0000U;  // ffff:

}  // namespace

std::vector<Route::LinkInfo> Route::links() {
    ifinfomsg info = {};
    info.ifi_family = AF_UNSPEC;
    Msg req(RTM_GETLINK, 0, &info, sizeof info);
    std::vector<LinkInfo> out;
    for (const auto& m : dump(req.data(), req.size())) {
        auto* h = reinterpret_cast<const nlmsghdr*>(m.data());
        if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) continue;
        auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
        LinkInfo l;
        l.index = ifi->ifi_index;
        l.loopback = (ifi->ifi_flags & IFF_LOOPBACK) != 0;
        l.up = (ifi->ifi_flags & IFF_UP) != 0;
        int len = int(IFLA_PAYLOAD(h));
        for (auto* rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
            if (rta->rta_type == IFLA_IFNAME)
                l.name.assign(static_cast<const char*>(RTA_DATA(rta)), strnlen(static_cast<const char*>(RTA_DATA(rta)), RTA_PAYLOAD(rta)));
            else if (rta->rta_type == IFLA_ADDRESS && ifi->ifi_type == ARPHRD_ETHER)
                l.mac = mac_text(static_cast<const unsigned char*>(RTA_DATA(rta)), RTA_PAYLOAD(rta));
            else if (rta->rta_type == IFLA_MTU && RTA_PAYLOAD(rta) >= 4)
                std::memcpy(&l.mtu, RTA_DATA(rta), 4);
        }
        out.push_back(l);
    }
    return out;
}

std::vector<Route::Address> Route::addresses(int index) {
    ifaddrmsg ifa = {};
    ifa.ifa_family = AF_UNSPEC;
    Msg req(RTM_GETADDR, 0, &ifa, sizeof ifa);
    std::vector<Address> out;
    for (const auto& m : dump(req.data(), req.size())) {
        auto* h = reinterpret_cast<const nlmsghdr*>(m.data());
        if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) continue;
        auto* a = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
        if (int(a->ifa_index) != index || (a->ifa_family != AF_INET && a->ifa_family != AF_INET6)) continue;
        Address v;
        v.family = a->ifa_family;
        v.prefix = a->ifa_prefixlen;
        v.scope = a->ifa_scope;
        v.flags = a->ifa_flags;
        std::string local, address;
        size_t want = a->ifa_family == AF_INET ? 4 : 16;
        int len = int(IFA_PAYLOAD(h));
        for (auto* rta = IFA_RTA(a); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
            std::string data(static_cast<const char*>(RTA_DATA(rta)), RTA_PAYLOAD(rta));
            if (rta->rta_type == IFA_LOCAL && data.size() == want) local = data;
            else if (rta->rta_type == IFA_ADDRESS && data.size() == want) address = data;
            else if (rta->rta_type == IFA_FLAGS && data.size() == 4) std::memcpy(&v.flags, data.data(), 4);
        }
        // IPv4 names the interface's own address IFA_LOCAL (IFA_ADDRESS is the peer's on a
        // point-to-point link); IPv6 gives IFA_ADDRESS alone.
        v.bytes = local.empty() ? address : local;
        if (!v.bytes.empty()) out.push_back(v);
    }
    return out;
}

void Route::add_ip(int index, const Address& a) {
    ifaddrmsg ifa = {};
    ifa.ifa_family = uint8_t(a.family);
    ifa.ifa_prefixlen = uint8_t(a.prefix);
    ifa.ifa_index = uint32_t(index);
    if (a.family == AF_INET6) ifa.ifa_flags = IFA_F_NODAD;
    Msg req(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
    req.add(IFA_LOCAL, a.bytes.data(), a.bytes.size());
    req.add(IFA_ADDRESS, a.bytes.data(), a.bytes.size());
    int err = transact(req.data(), req.size());
    if (err) throw_errno("add an address to interface " + std::to_string(index), err);
}

std::vector<Route::RouteEntry> Route::routes() {
    std::vector<RouteEntry> out;
    for (int family : {AF_INET, AF_INET6}) {
        rtmsg r = {};
        r.rtm_family = uint8_t(family);
        Msg req(RTM_GETROUTE, 0, &r, sizeof r);
        for (const auto& m : dump(req.data(), req.size())) {
            auto* h = reinterpret_cast<const nlmsghdr*>(m.data());
            if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) continue;
            auto* rt = static_cast<const rtmsg*>(NLMSG_DATA(h));
            if (rt->rtm_family != family || rt->rtm_type != RTN_UNICAST) continue;
            RouteEntry e;
            e.family = family;
            e.dst_len = rt->rtm_dst_len;
            e.protocol = rt->rtm_protocol;
            e.scope = rt->rtm_scope;
            unsigned table = rt->rtm_table;
            size_t want = family == AF_INET ? 4 : 16;
            int len = int(RTM_PAYLOAD(h));
            for (auto* rta = RTM_RTA(rt); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
                std::string data(static_cast<const char*>(RTA_DATA(rta)), RTA_PAYLOAD(rta));
                if (rta->rta_type == RTA_DST && data.size() == want) e.dst = data;
                else if (rta->rta_type == RTA_GATEWAY && data.size() == want) e.gateway = data;
                else if (rta->rta_type == RTA_PREFSRC && data.size() == want) e.prefsrc = data;
                else if (rta->rta_type == RTA_OIF && data.size() == 4) std::memcpy(&e.oif, data.data(), 4);
                else if (rta->rta_type == RTA_PRIORITY && data.size() == 4) std::memcpy(&e.priority, data.data(), 4);
                else if (rta->rta_type == RTA_TABLE && data.size() == 4) std::memcpy(&table, data.data(), 4);
            }
            if (table == RT_TABLE_MAIN) out.push_back(e);
        }
    }
    return out;
}

void Route::add_route(const RouteEntry& e) {
    rtmsg r = {};
    r.rtm_family = uint8_t(e.family);
    r.rtm_dst_len = uint8_t(e.dst_len);
    r.rtm_table = RT_TABLE_MAIN;
    r.rtm_protocol = uint8_t(e.protocol ? e.protocol : RTPROT_BOOT);
    r.rtm_scope = uint8_t(e.scope);
    r.rtm_type = RTN_UNICAST;
    Msg req(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &r, sizeof r);
    if (!e.dst.empty()) req.add(RTA_DST, e.dst.data(), e.dst.size());
    if (!e.gateway.empty()) req.add(RTA_GATEWAY, e.gateway.data(), e.gateway.size());
    if (!e.prefsrc.empty()) req.add(RTA_PREFSRC, e.prefsrc.data(), e.prefsrc.size());
    if (e.priority) req.add_u32(RTA_PRIORITY, e.priority);
    req.add_u32(RTA_OIF, uint32_t(e.oif));
    int err = transact(req.data(), req.size());
    if (err) throw_errno("add a route to interface " + std::to_string(e.oif), err);
}

void Route::rename_link(int index, const std::string& name) {
    ifinfomsg info = {};
    info.ifi_family = AF_UNSPEC;
    info.ifi_index = index;
    Msg req(RTM_NEWLINK, 0, &info, sizeof info);
    req.add_str(IFLA_IFNAME, name);
    int err = transact(req.data(), req.size());
    if (err) throw_errno("rename interface " + std::to_string(index) + " to " + name, err);
}

void Route::set_mtu_and_mac(int index, int mtu, const std::string& mac) {
    ifinfomsg info = {};
    info.ifi_family = AF_UNSPEC;
    info.ifi_index = index;
    Msg req(RTM_NEWLINK, 0, &info, sizeof info);
    if (mtu > 0) req.add_u32(IFLA_MTU, uint32_t(mtu));
    unsigned char m[6];
    if (!mac.empty() && parse_mac(mac, m)) req.add(IFLA_ADDRESS, m, 6);
    int err = transact(req.data(), req.size());
    if (err) throw_errno("set the MTU and address of interface " + std::to_string(index), err);
}

void Route::redirect_ingress(int from, int to) {
    tcmsg q = tc_for(from, TC_H_INGRESS, kIngressHandle, 0);
    Msg qdisc(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, &q, sizeof q);
    qdisc.add_str(TCA_KIND, "ingress");
    int err = transact(qdisc.data(), qdisc.size());
    if (err && err != EEXIST) throw_errno("add an ingress qdisc to interface " + std::to_string(from), err);

    tcmsg f = tc_for(from, kIngressHandle, 0, TC_H_MAKE(1U << 16, htons(ETH_P_ALL)));
    Msg filter(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, &f, sizeof f);
    filter.add_str(TCA_KIND, "u32");
    size_t opts = filter.begin(TCA_OPTIONS);
    // One key that matches every packet (mask 0), terminal: the action decides.
    alignas(tc_u32_sel) char sel_buf[sizeof(tc_u32_sel) + sizeof(tc_u32_key)] = {};
    auto* sel = reinterpret_cast<tc_u32_sel*>(sel_buf);
    sel->flags = TC_U32_TERMINAL;
    sel->nkeys = 1;
    filter.add(TCA_U32_SEL, sel_buf, sizeof sel_buf);
    size_t acts = filter.begin(TCA_U32_ACT);
    size_t act = filter.begin(1);  // the first action
    filter.add_str(TCA_ACT_KIND, "mirred");
    size_t aopts = filter.begin(TCA_ACT_OPTIONS);
    tc_mirred parms = {};
    parms.action = TC_ACT_STOLEN;
    parms.eaction = TCA_EGRESS_REDIR;
    parms.ifindex = uint32_t(to);
    filter.add(TCA_MIRRED_PARMS, &parms, sizeof parms);
    filter.end(aopts);
    filter.end(act);
    filter.end(acts);
    filter.end(opts);
    err = transact(filter.data(), filter.size());
    if (err)
        throw_errno("redirect interface " + std::to_string(from) + " to interface " + std::to_string(to), err);
}

void Route::remove_ingress(int index) {
    tcmsg q = tc_for(index, TC_H_INGRESS, kIngressHandle, 0);
    Msg req(RTM_DELQDISC, 0, &q, sizeof q);
    int err = transact(req.data(), req.size());
    if (err && err != ENOENT && err != EINVAL)
        throw_errno("remove the ingress qdisc of interface " + std::to_string(index), err);
}

void Route::delete_link(int index) {
    ifinfomsg info = {};
    info.ifi_family = AF_UNSPEC;
    info.ifi_index = index;
    Msg req(RTM_DELLINK, 0, &info, sizeof info);
    int err = transact(req.data(), req.size());
    if (err && err != ENODEV) throw_errno("delete interface " + std::to_string(index), err);
}

}  // namespace skiff::netlink
