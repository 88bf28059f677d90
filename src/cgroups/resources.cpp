// Routes each section of linux.resources to the hierarchy that holds its controller.
#include "cgroups/resources.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "cgroups/devices_bpf.hpp"
#include "cgroups/fs.hpp"
#include "base/error.hpp"

namespace skiff::cgroups {

namespace {

const Target& need(const Placement& p, const std::string& controller, const std::string& json_path) {
    if (const Target* t = p.find(controller)) return *t;
    throw Error(json_path + ": the " + controller + " cgroup controller is not available on this host");
}

bool any(const oci::Memory& m) {
    return m.limit || m.reservation || m.swap || m.kernel || m.kernel_tcp || m.swappiness ||
           m.disable_oom_killer || m.use_hierarchy;
}
bool any_cpu(const oci::Cpu& c) {
    return c.shares || c.quota || c.burst || c.period || c.realtime_runtime || c.realtime_period ||
           c.idle;
}
bool any(const oci::BlockIo& b) {
    return b.weight || b.leaf_weight || !b.weight_device.empty() ||
           !b.throttle_read_bps_device.empty() || !b.throttle_write_bps_device.empty() ||
           !b.throttle_read_iops_device.empty() || !b.throttle_write_iops_device.empty();
}

oci::DeviceRule rule(const char* type, int64_t major, int64_t minor, const char* access) {
    oci::DeviceRule r;
    r.allow = true;
    r.type = type;
    if (major >= 0) r.major = major;
    if (minor >= 0) r.minor = minor;
    r.access = access;
    return r;
}

}  // namespace

std::vector<oci::DeviceRule> default_device_rules() {
    return {
        rule("c", -1, -1, "m"), rule("b", -1, -1, "m"),  // mknod of anything; opening is separate
        rule("c", 1, 3, "rwm"),                          // /dev/null
        rule("c", 1, 5, "rwm"),                          // /dev/zero
        rule("c", 1, 7, "rwm"),                          // /dev/full
        rule("c", 1, 8, "rwm"),                          // /dev/random
        rule("c", 1, 9, "rwm"),                          // /dev/urandom
        rule("c", 5, 0, "rwm"),                          // /dev/tty
        rule("c", 5, 2, "rwm"),                          // /dev/ptmx
        rule("c", 136, -1, "rwm"),                       // /dev/pts/*
    };
}

std::vector<oci::DeviceRule> device_allowlist(const std::vector<oci::DeviceRule>& own) {
    std::vector<oci::DeviceRule> rules = own;
    for (auto& r : default_device_rules()) rules.push_back(std::move(r));
    return rules;
}

void apply_resources(const Placement& p, const oci::Resources& r, const ApplyOptions& o) {
    const std::string base = "linux.resources";
    if (r.memory && any(*r.memory)) {
        const Target& t = need(p, "memory", base + ".memory");
        t.v2 ? v2::memory(t.dir, *r.memory, o) : v1::memory(t.dir, *r.memory, o);
    }
    if (r.cpu && any_cpu(*r.cpu)) {
        const Target& t = need(p, "cpu", base + ".cpu");
        t.v2 ? v2::cpu(t.dir, *r.cpu) : v1::cpu(t.dir, *r.cpu);
    }
    if (r.cpu && (!r.cpu->cpus.empty() || !r.cpu->mems.empty())) {
        const Target& t = need(p, "cpuset", base + ".cpu.cpus");
        t.v2 ? v2::cpuset(t.dir, *r.cpu) : v1::cpuset(t.dir, *r.cpu);
    }
    if (r.pids && r.pids->limit) {
        const Target& t = need(p, "pids", base + ".pids");
        t.v2 ? v2::pids(t.dir, *r.pids) : v1::pids(t.dir, *r.pids);
    }
    if (r.block_io && any(*r.block_io)) {
        const Target& t = need(p, "blkio", base + ".blockIO");
        t.v2 ? v2::io(t.dir, *r.block_io, o) : v1::blkio(t.dir, *r.block_io);
    }
    if (!r.hugepage_limits.empty()) {
        const Target& t = need(p, "hugetlb", base + ".hugepageLimits");
        t.v2 ? v2::hugetlb(t.dir, r.hugepage_limits) : v1::hugetlb(t.dir, r.hugepage_limits);
    }
    if (r.network && r.network->class_id) {
        const Target& t = need(p, "net_cls", base + ".network.classID");
        with_context(base + ".network.classID", [&] {
            fs::write(fs::join(t.dir, "net_cls.classid"), std::to_string(*r.network->class_id));
        });
    }
    if (r.network && !r.network->priorities.empty()) {
        const Target& t = need(p, "net_prio", base + ".network.priorities");
        for (size_t i = 0; i < r.network->priorities.size(); ++i) {
            const auto& pr = r.network->priorities[i];
            with_context(base + ".network.priorities[" + std::to_string(i) + "]", [&] {
                fs::write(fs::join(t.dir, "net_prio.ifpriomap"),
                          pr.name + " " + std::to_string(pr.priority));
            });
        }
    }
    if (!r.rdma.empty()) write_rdma(need(p, "rdma", base + ".rdma").dir, r.rdma);
    if (!r.unified.empty()) {
        if (p.unified_dir.empty())
            throw Error(base + ".unified: unified resources need cgroup v2, and this host has "
                               "only cgroup v1");
        v2::unified(p.unified_dir, r.unified);
    }
}

void apply_devices(const Placement& p, const std::vector<oci::DeviceRule>& rules) {
    if (const Target* t = p.find("devices"); t && !t->v2) {
        v1::devices(t->dir, rules);
        return;
    }
    if (p.unified_dir.empty())
        throw Error("linux.resources.devices: no devices controller and no cgroup v2 on this host");
    auto program = bpf::device_program(rules);
    int fd = fs::open_at(p.unified_dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) throw_errno("linux.resources.devices: open " + p.unified_dir);
    try {
        bpf::attach_device_program(fd, program);
    } catch (Error& e) {
        ::close(fd);
        e.wrap("linux.resources.devices");
        throw;
    }
    ::close(fd);
}

}  // namespace skiff::cgroups
