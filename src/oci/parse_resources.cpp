// "linux.resources" (config-linux.md, Control groups). Values are only type- and range-checked
// here; whether the host's cgroup version can apply them is the cgroup manager's business.
#include "oci/parse_internal.hpp"

namespace skiff::oci::detail {

namespace {

std::vector<DeviceRule> read_device_rules(const Node& n) {
    std::vector<DeviceRule> out;
    for (auto& e : n.elements()) {
        e.want_object();
        DeviceRule r;
        r.allow = e.required("allow").boolean();
        if (auto t = e.get("type")) {
            r.type = t->str();
            if (r.type != "a" && r.type != "c" && r.type != "b")
                t->fail("unknown device type \"" + r.type + "\" (want a, c or b)");
        }
        // -1 is how some producers write "any"; keep it and let the manager treat it as a wildcard.
        r.major = e.opt_int<int64_t>("major");
        r.minor = e.opt_int<int64_t>("minor");
        if (auto a = e.get("access")) {
            r.access = a->str();
            for (char c : r.access)
                if (c != 'r' && c != 'w' && c != 'm')
                    a->fail("invalid access \"" + r.access + "\" (want a subset of rwm)");
        }
        out.push_back(std::move(r));
    }
    return out;
}

Memory read_memory(const Node& n) {
    n.want_object();
    Memory m;
    // Signed on purpose: -1 means "unlimited".
    m.limit = n.opt_int<int64_t>("limit");
    m.reservation = n.opt_int<int64_t>("reservation");
    m.swap = n.opt_int<int64_t>("swap");
    m.kernel = n.opt_int<int64_t>("kernel");
    m.kernel_tcp = n.opt_int<int64_t>("kernelTCP");
    m.swappiness = n.opt_int<uint64_t>("swappiness");
    // runc reads (uint64)-1 as "unset" (Go producers cast a -1 default); do the same.
    if (m.swappiness == UINT64_MAX) m.swappiness.reset();
    if (m.swappiness && *m.swappiness > 100)
        n.child("swappiness").fail(std::to_string(*m.swappiness) + " is out of range (0..100)");
    m.disable_oom_killer = n.opt_bool("disableOOMKiller");
    m.use_hierarchy = n.opt_bool("useHierarchy");
    m.check_before_update = n.opt_bool("checkBeforeUpdate");
    return m;
}

Cpu read_cpu(const Node& n) {
    n.want_object();
    Cpu c;
    c.shares = n.opt_int<uint64_t>("shares");
    c.quota = n.opt_int<int64_t>("quota");
    c.burst = n.opt_int<uint64_t>("burst");
    c.period = n.opt_int<uint64_t>("period");
    c.realtime_runtime = n.opt_int<int64_t>("realtimeRuntime");
    c.realtime_period = n.opt_int<uint64_t>("realtimePeriod");
    c.cpus = n.opt_str("cpus").value_or("");
    c.mems = n.opt_str("mems").value_or("");
    c.idle = n.opt_int<int64_t>("idle");
    return c;
}

std::vector<ThrottleDevice> read_throttle(const Node& n) {
    std::vector<ThrottleDevice> out;
    for (auto& e : n.elements()) {
        e.want_object();
        out.push_back(ThrottleDevice{e.req_int<int64_t>("major"), e.req_int<int64_t>("minor"),
                                     e.req_int<uint64_t>("rate")});
    }
    return out;
}

BlockIo read_block_io(const Node& n) {
    n.want_object();
    BlockIo b;
    b.weight = n.opt_int<uint16_t>("weight");
    b.leaf_weight = n.opt_int<uint16_t>("leafWeight");
    if (auto wd = n.get("weightDevice")) {
        for (auto& e : wd->elements()) {
            e.want_object();
            WeightDevice d;
            d.major = e.req_int<int64_t>("major");
            d.minor = e.req_int<int64_t>("minor");
            d.weight = e.opt_int<uint16_t>("weight");
            d.leaf_weight = e.opt_int<uint16_t>("leafWeight");
            b.weight_device.push_back(d);
        }
    }
    if (auto t = n.get("throttleReadBpsDevice")) b.throttle_read_bps_device = read_throttle(*t);
    if (auto t = n.get("throttleWriteBpsDevice")) b.throttle_write_bps_device = read_throttle(*t);
    if (auto t = n.get("throttleReadIOPSDevice")) b.throttle_read_iops_device = read_throttle(*t);
    if (auto t = n.get("throttleWriteIOPSDevice"))
        b.throttle_write_iops_device = read_throttle(*t);
    return b;
}

Network read_network(const Node& n) {
    n.want_object();
    Network net;
    net.class_id = n.opt_int<uint32_t>("classID");
    if (auto p = n.get("priorities")) {
        for (auto& e : p->elements()) {
            e.want_object();
            net.priorities.push_back(
                NetPriority{e.req_str("name"), e.req_int<uint32_t>("priority")});
        }
    }
    return net;
}

}  // namespace

Resources read_resources(const Node& n) {
    n.want_object();
    Resources r;
    if (auto d = n.get("devices")) r.devices = read_device_rules(*d);
    if (auto m = n.get("memory")) r.memory = read_memory(*m);
    if (auto c = n.get("cpu")) r.cpu = read_cpu(*c);
    if (auto p = n.get("pids")) {
        p->want_object();
        r.pids = Pids{p->opt_int<int64_t>("limit")};
    }
    if (auto b = n.get("blockIO")) r.block_io = read_block_io(*b);
    if (auto h = n.get("hugepageLimits")) {
        for (auto& e : h->elements()) {
            e.want_object();
            r.hugepage_limits.push_back(
                HugepageLimit{e.req_str("pageSize"), e.req_int<uint64_t>("limit")});
        }
    }
    if (auto net = n.get("network")) r.network = read_network(*net);
    if (auto rd = n.get("rdma")) {
        for (auto& [name, v] : rd->members()) {
            v.want_object();
            r.rdma[name] = Rdma{v.opt_int<uint32_t>("hcaHandles"), v.opt_int<uint32_t>("hcaObjects")};
        }
    }
    if (auto u = n.get("unified")) r.unified = u->string_map();
    return r;
}

}  // namespace skiff::oci::detail
