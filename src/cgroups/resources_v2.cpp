// cgroup v2 file names and formats, with runc's conversions from the v1-shaped spec values.
#include <cerrno>

#include "cgroups/convert.hpp"
#include "cgroups/fs.hpp"
#include "cgroups/resources.hpp"
#include "base/error.hpp"
#include "base/text.hpp"

namespace skiff::cgroups {

namespace {

std::string num(int64_t v) { return std::to_string(v); }
std::string num(uint64_t v) { return std::to_string(v); }

void put(const std::string& dir, const std::string& file, const std::string& value,
         const std::string& json_path) {
    with_context(json_path, [&] { fs::write(fs::join(dir, file), value); });
}

std::string dev(int64_t major, int64_t minor) { return num(major) + ":" + num(minor); }

}  // namespace

void write_rdma(const std::string& dir, const std::map<std::string, oci::Rdma>& rdma) {
    for (const auto& [device, limit] : rdma) {
        std::string line = device;
        if (limit.hca_handles) line += " hca_handle=" + num(uint64_t{*limit.hca_handles});
        if (limit.hca_objects) line += " hca_object=" + num(uint64_t{*limit.hca_objects});
        if (line == device) continue;
        put(dir, "rdma.max", line, "linux.resources.rdma." + device);
    }
}

namespace v2 {

void memory(const std::string& dir, const oci::Memory& m, const ApplyOptions& o) {
    const std::string base = "linux.resources.memory";
    int64_t limit = m.limit.value_or(0), swap = m.swap.value_or(0);
    std::string swap_max = convert::memory_swap_v2(swap, limit);
    if (o.updating && m.check_before_update.value_or(false) && limit > 0) {
        uint64_t usage = fs::parse_u64(fs::read_line(fs::join(dir, "memory.current")));
        if (static_cast<uint64_t>(limit) < usage)
            throw Error(base + ".limit: cannot set " + num(limit) +
                        ": below the current usage " + num(usage) + " (checkBeforeUpdate)");
    }
    if (!swap_max.empty()) {
        if (fs::exists(fs::join(dir, "memory.swap.max")))
            put(dir, "memory.swap.max", swap_max, base + ".swap");
        else if (swap_max != "max")  // no swap accounting: "unlimited" is already true
            throw Error(base + ".swap: swap accounting is not enabled on this host");
    }
    if (limit != 0) put(dir, "memory.max", convert::limit_or_max(limit), base + ".limit");
    if (m.reservation && *m.reservation != 0)
        put(dir, "memory.low", convert::limit_or_max(*m.reservation), base + ".reservation");
    auto ignored = [&](const char* key, const char* why) {
        if (o.warn) o.warn(base + "." + key + ": " + why + "; ignored");
    };
    if (m.kernel) ignored("kernel", "kernel memory limits were removed from the kernel");
    if (m.kernel_tcp) ignored("kernelTCP", "cgroup v2 has no kernel TCP memory limit");
    if (m.swappiness) ignored("swappiness", "cgroup v2 has no per-cgroup swappiness");
    if (m.disable_oom_killer.value_or(false))
        ignored("disableOOMKiller", "cgroup v2 cannot disable the OOM killer");
    if (m.use_hierarchy && !*m.use_hierarchy)
        ignored("useHierarchy", "cgroup v2 is always hierarchical");
}

void cpu(const std::string& dir, const oci::Cpu& c) {
    const std::string base = "linux.resources.cpu";
    if ((c.realtime_runtime && *c.realtime_runtime != 0) ||
        (c.realtime_period && *c.realtime_period != 0))
        throw Error(base + ".realtimeRuntime: realtime bandwidth is not supported on cgroup v2");
    if (c.shares && *c.shares != 0)
        put(dir, "cpu.weight", num(convert::cpu_shares_to_weight(*c.shares)), base + ".shares");
    std::string max = convert::cpu_max(c.quota.value_or(0), c.period.value_or(0));
    if (!c.quota && c.period.value_or(0) != 0) {
        // A period alone (`update --cpu-period`) keeps the quota in force: cpu.max takes both
        // at once, and "max PERIOD" would lift the limit.
        auto now = fs::read_opt(fs::join(dir, "cpu.max"));
        std::string quota = now ? now->substr(0, now->find_first_of(" \n")) : "";
        max = (quota.empty() ? "max" : quota) + " " + num(*c.period);
    }
    // A burst above the old quota would be refused: set the bandwidth first.
    if (!max.empty()) put(dir, "cpu.max", max, base + ".quota");
    if (c.burst) put(dir, "cpu.max.burst", num(*c.burst), base + ".burst");
    if (c.idle) put(dir, "cpu.idle", num(*c.idle), base + ".idle");
}

void cpuset(const std::string& dir, const oci::Cpu& c) {
    if (!c.cpus.empty()) put(dir, "cpuset.cpus", c.cpus, "linux.resources.cpu.cpus");
    if (!c.mems.empty()) put(dir, "cpuset.mems", c.mems, "linux.resources.cpu.mems");
}

void pids(const std::string& dir, const oci::Pids& p) {
    if (!p.limit) return;
    put(dir, "pids.max", convert::limit_or_max(*p.limit > 0 ? *p.limit : -1),
        "linux.resources.pids.limit");
}

void io(const std::string& dir, const oci::BlockIo& b, const ApplyOptions& o) {
    const std::string base = "linux.resources.blockIO";
    // With bfq the weight keeps the v1 range; otherwise it is converted to io.weight's.
    bool bfq = fs::exists(fs::join(dir, "io.bfq.weight"));
    if (b.weight && *b.weight != 0) {
        if (bfq)
            put(dir, "io.bfq.weight", num(uint64_t{*b.weight}), base + ".weight");
        else
            put(dir, "io.weight", num(convert::blkio_weight_to_io_weight(*b.weight)), base + ".weight");
    }
    if (b.leaf_weight && o.warn) o.warn(base + ".leafWeight: cgroup v2 has no leaf weight; ignored");
    for (size_t i = 0; i < b.weight_device.size(); ++i) {
        const auto& wd = b.weight_device[i];
        std::string at = base + ".weightDevice[" + std::to_string(i) + "]";
        if (wd.weight) {
            if (bfq)
                put(dir, "io.bfq.weight", dev(wd.major, wd.minor) + " " + num(uint64_t{*wd.weight}),
                    at + ".weight");
            else {
                // Without bfq a per-device weight needs io.cost on that device; runc drops
                // the setting silently there, skiff says so.
                std::string line = dev(wd.major, wd.minor) + " " +
                                   num(convert::blkio_weight_to_io_weight(*wd.weight));
                int e = fs::try_write(fs::join(dir, "io.weight"), line);
                if (e == EOPNOTSUPP && o.warn)
                    o.warn(at + ".weight: device " + dev(wd.major, wd.minor) +
                           " has neither bfq nor io.cost; ignored");
                else if (e)
                    throw_errno(at + ".weight: write " + line + " to " + fs::join(dir, "io.weight"), e);
            }
        }
        if (wd.leaf_weight && o.warn) o.warn(at + ".leafWeight: cgroup v2 has no leaf weight; ignored");
    }
    auto throttle = [&](const std::vector<oci::ThrottleDevice>& list, const std::string& key,
                        const std::string& json_key) {
        for (size_t i = 0; i < list.size(); ++i)
            put(dir, "io.max", dev(list[i].major, list[i].minor) + " " + key + "=" + num(list[i].rate),
                base + "." + json_key + "[" + std::to_string(i) + "]");
    };
    throttle(b.throttle_read_bps_device, "rbps", "throttleReadBpsDevice");
    throttle(b.throttle_write_bps_device, "wbps", "throttleWriteBpsDevice");
    throttle(b.throttle_read_iops_device, "riops", "throttleReadIOPSDevice");
    throttle(b.throttle_write_iops_device, "wiops", "throttleWriteIOPSDevice");
}

void hugetlb(const std::string& dir, const std::vector<oci::HugepageLimit>& limits) {
    for (size_t i = 0; i < limits.size(); ++i) {
        const auto& l = limits[i];
        std::string at = "linux.resources.hugepageLimits[" + std::to_string(i) + "]";
        if (!convert::valid_page_size(l.page_size))
            throw Error(at + ".pageSize: invalid page size \"" + l.page_size + "\"");
        std::string file = "hugetlb." + l.page_size + ".max";
        if (!fs::exists(fs::join(dir, file)))
            throw Error(at + ".pageSize: page size " + l.page_size + " is not supported by this host");
        put(dir, file, num(l.limit), at + ".limit");
        std::string rsvd = "hugetlb." + l.page_size + ".rsvd.max";
        if (fs::exists(fs::join(dir, rsvd))) put(dir, rsvd, num(l.limit), at + ".limit");
    }
}

void unified(const std::string& dir, const std::map<std::string, std::string>& keys) {
    for (const auto& [key, value] : keys) {
        std::string at = "linux.resources.unified." + key;
        if (key.empty() || key.find('/') != std::string::npos || key.front() == '.')
            throw Error(at + ": not a cgroup file name");
        int e = fs::try_write(fs::join(dir, key), value);
        if (e == ENOENT) {
            std::string ctrl = key.substr(0, key.find('.'));
            throw Error(at + ": no such cgroup file (is the \"" + ctrl +
                        "\" controller available here?)");
        }
        if (e) throw_errno(at + ": write " + value + " to " + fs::join(dir, key), e);
    }
}

void enable_controllers(const std::string& root, const std::string& dir) {
    // Every level from the hierarchy root to the parent of dir must delegate the controllers.
    std::string level = root;
    std::string rest = dir.size() > root.size() ? dir.substr(root.size()) : "";
    std::vector<std::string> levels = {level};
    for (auto part : text::split(rest, '/')) {
        level = fs::join(level, std::string(part));
        levels.push_back(level);
    }
    levels.pop_back();  // dir itself delegates nothing
    for (const auto& l : levels) {
        auto avail = fs::read_opt(fs::join(l, "cgroup.controllers"));
        if (!avail) continue;
        std::string want, first = avail->substr(0, avail->find('\n'));
        for (auto name : text::fields(first))
            want += (want.empty() ? "+" : " +") + std::string(name);
        if (want.empty()) continue;
        // One write per controller in the kernel would be atomic; a refusal of one (a
        // threaded subtree, ...) must not block the others, so fall back to one at a time.
        if (fs::try_write(fs::join(l, "cgroup.subtree_control"), want) != 0) {
            for (auto one : text::fields(want))
                fs::try_write(fs::join(l, "cgroup.subtree_control"), std::string(one));
        }
    }
}

}  // namespace v2
}  // namespace skiff::cgroups
