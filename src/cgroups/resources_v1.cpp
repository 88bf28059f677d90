// cgroup v1 file names and formats, in the order runc writes them.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "cgroups/convert.hpp"
#include "cgroups/fs.hpp"
#include "cgroups/resources.hpp"
#include "base/error.hpp"
#include "linux/fd.hpp"

namespace skiff::cgroups::v1 {

namespace {

std::string num(int64_t v) { return std::to_string(v); }
std::string num(uint64_t v) { return std::to_string(v); }

void put(const std::string& dir, const std::string& file, const std::string& value,
         const std::string& json_path) {
    with_context(json_path, [&] { fs::write(fs::join(dir, file), value); });
}

std::string dev(int64_t major, int64_t minor) { return num(major) + ":" + num(minor); }

}  // namespace

void memory(const std::string& dir, const oci::Memory& m, const ApplyOptions& o) {
    const std::string base = "linux.resources.memory";
    int64_t limit = m.limit.value_or(0), swap = m.swap.value_or(0);
    std::string memsw = fs::join(dir, "memory.memsw.limit_in_bytes");
    // Unlimited memory with swap unset means unlimited memory+swap too (runc).
    if (limit == -1 && swap == 0 && fs::exists(memsw)) swap = -1;
    if (o.updating && m.check_before_update.value_or(false) && limit > 0) {
        uint64_t usage = fs::parse_u64(fs::read_line(fs::join(dir, "memory.usage_in_bytes")));
        if (static_cast<uint64_t>(limit) < usage)
            throw Error(base + ".limit: cannot set " + num(limit) +
                        ": below the current usage " + num(usage) + " (checkBeforeUpdate)");
    }
    bool done = false;
    if (limit != 0 && swap != 0) {
        // The kernel wants memsw >= limit at every step: raise memsw first when growing.
        uint64_t cur = fs::parse_u64(fs::read_line(fs::join(dir, "memory.limit_in_bytes")));
        if (swap == -1 || cur < static_cast<uint64_t>(swap)) {
            put(dir, "memory.memsw.limit_in_bytes", num(swap), base + ".swap");
            put(dir, "memory.limit_in_bytes", num(limit), base + ".limit");
            done = true;
        }
    }
    if (!done) {
        if (limit != 0) put(dir, "memory.limit_in_bytes", num(limit), base + ".limit");
        if (swap != 0) put(dir, "memory.memsw.limit_in_bytes", num(swap), base + ".swap");
    }
    if (m.reservation && *m.reservation != 0)
        put(dir, "memory.soft_limit_in_bytes", num(*m.reservation), base + ".reservation");
    if (m.kernel && o.warn)
        o.warn(base + ".kernel: kernel memory limits were removed from the kernel; ignored");
    if (m.kernel_tcp) {
        if (fs::exists(fs::join(dir, "memory.kmem.tcp.limit_in_bytes")))
            put(dir, "memory.kmem.tcp.limit_in_bytes", num(*m.kernel_tcp), base + ".kernelTCP");
        else if (o.warn)
            o.warn(base + ".kernelTCP: not supported by this kernel; ignored");
    }
    if (m.swappiness) {
        if (*m.swappiness > 100)
            throw Error(base + ".swappiness: invalid value " + num(*m.swappiness) +
                        ": the valid range is 0-100");
        put(dir, "memory.swappiness", num(*m.swappiness), base + ".swappiness");
    }
    if (m.disable_oom_killer.value_or(false))
        put(dir, "memory.oom_control", "1", base + ".disableOOMKiller");
    if (m.use_hierarchy)
        put(dir, "memory.use_hierarchy", *m.use_hierarchy ? "1" : "0", base + ".useHierarchy");
}

void cpu(const std::string& dir, const oci::Cpu& c) {
    const std::string base = "linux.resources.cpu";
    if (c.shares && *c.shares != 0) {
        put(dir, "cpu.shares", num(*c.shares), base + ".shares");
        // The kernel clamps silently to [2, 262144]; say so instead of running with another value.
        uint64_t got = fs::parse_u64(fs::read_line(fs::join(dir, "cpu.shares")));
        if (got != *c.shares)
            throw Error(base + ".shares: " + num(*c.shares) + " is out of range: the kernel set " +
                        num(got));
    }
    int64_t quota = c.quota.value_or(0);
    uint64_t period = c.period.value_or(0);
    bool period_pending = false;
    if (period != 0) {
        int e = fs::try_write(fs::join(dir, "cpu.cfs_period_us"), num(period));
        // A shorter period can be refused until the new quota is in: retry after it.
        if (e == EINVAL && quota != 0)
            period_pending = true;
        else if (e)
            throw_errno(base + ".period: write " + num(period) + " to " +
                            fs::join(dir, "cpu.cfs_period_us"), e);
    }
    if (quota != 0) put(dir, "cpu.cfs_quota_us", num(quota), base + ".quota");
    if (period_pending) put(dir, "cpu.cfs_period_us", num(period), base + ".period");
    if (c.burst) put(dir, "cpu.cfs_burst_us", num(*c.burst), base + ".burst");
    uint64_t rt_period = c.realtime_period.value_or(0);
    int64_t rt_runtime = c.realtime_runtime.value_or(0);
    bool rt_period_pending = false;
    if (rt_period != 0) {
        int e = fs::try_write(fs::join(dir, "cpu.rt_period_us"), num(rt_period));
        // A period below the runtime in force is refused until the new runtime is in.
        if (e == EINVAL && rt_runtime != 0)
            rt_period_pending = true;
        else if (e)
            throw_errno(base + ".realtimePeriod: write " + num(rt_period) + " to " +
                            fs::join(dir, "cpu.rt_period_us"), e);
    }
    if (rt_runtime != 0) put(dir, "cpu.rt_runtime_us", num(rt_runtime), base + ".realtimeRuntime");
    if (rt_period_pending) put(dir, "cpu.rt_period_us", num(rt_period), base + ".realtimePeriod");
    if (c.idle) put(dir, "cpu.idle", num(*c.idle), base + ".idle");
}

void cpuset(const std::string& dir, const oci::Cpu& c) {
    if (!c.cpus.empty()) put(dir, "cpuset.cpus", c.cpus, "linux.resources.cpu.cpus");
    if (!c.mems.empty()) put(dir, "cpuset.mems", c.mems, "linux.resources.cpu.mems");
}

namespace {

// The value `file` has in dir once filled: a blank one is copied from the nearest ancestor
// that has one. A fresh cgroup is blank and its parent mostly is not: three file operations.
std::string cpuset_fill(const std::string& hierarchy_root, const std::string& dir, const char* file) {
    std::string path = fs::join(dir, file);
    auto cur = fs::read_opt(path);
    if (!cur) return {};
    bool blank = cur->find_first_not_of(" \n") == std::string::npos;
    if (!blank || dir.size() <= hierarchy_root.size()) return cur->substr(0, cur->find('\n'));
    std::string from = cpuset_fill(hierarchy_root, dir.substr(0, dir.rfind('/')), file);
    with_context("cpuset", [&] { fs::write(path, from); });
    return from;
}

}  // namespace

void cpuset_inherit(const std::string& hierarchy_root, const std::string& dir) {
    if (dir.size() <= hierarchy_root.size()) return;
    for (const char* file : {"cpuset.cpus", "cpuset.mems"}) cpuset_fill(hierarchy_root, dir, file);
}

void pids(const std::string& dir, const oci::Pids& p) {
    if (!p.limit) return;
    put(dir, "pids.max", *p.limit > 0 ? num(*p.limit) : "max", "linux.resources.pids.limit");
}

void blkio(const std::string& dir, const oci::BlockIo& b) {
    const std::string base = "linux.resources.blockIO";
    // Without CFQ the weight files are bfq's (as runc falls back).
    bool bfq = !fs::exists(fs::join(dir, "blkio.weight")) &&
               fs::exists(fs::join(dir, "blkio.bfq.weight"));
    std::string weight_file = bfq ? "blkio.bfq.weight" : "blkio.weight";
    if (b.weight && *b.weight != 0) put(dir, weight_file, num(uint64_t{*b.weight}), base + ".weight");
    if (b.leaf_weight && *b.leaf_weight != 0)
        put(dir, "blkio.leaf_weight", num(uint64_t{*b.leaf_weight}), base + ".leafWeight");
    for (size_t i = 0; i < b.weight_device.size(); ++i) {
        const auto& wd = b.weight_device[i];
        std::string at = base + ".weightDevice[" + std::to_string(i) + "]";
        if (wd.weight)
            put(dir, weight_file + "_device", dev(wd.major, wd.minor) + " " + num(uint64_t{*wd.weight}),
                at + ".weight");
        if (wd.leaf_weight)
            put(dir, "blkio.leaf_weight_device",
                dev(wd.major, wd.minor) + " " + num(uint64_t{*wd.leaf_weight}), at + ".leafWeight");
    }
    auto throttle = [&](const std::vector<oci::ThrottleDevice>& list, const std::string& file,
                        const std::string& key) {
        for (size_t i = 0; i < list.size(); ++i)
            put(dir, file, dev(list[i].major, list[i].minor) + " " + num(list[i].rate),
                base + "." + key + "[" + std::to_string(i) + "]");
    };
    throttle(b.throttle_read_bps_device, "blkio.throttle.read_bps_device", "throttleReadBpsDevice");
    throttle(b.throttle_write_bps_device, "blkio.throttle.write_bps_device", "throttleWriteBpsDevice");
    throttle(b.throttle_read_iops_device, "blkio.throttle.read_iops_device", "throttleReadIOPSDevice");
    throttle(b.throttle_write_iops_device, "blkio.throttle.write_iops_device",
             "throttleWriteIOPSDevice");
}

void hugetlb(const std::string& dir, const std::vector<oci::HugepageLimit>& limits) {
    for (size_t i = 0; i < limits.size(); ++i) {
        const auto& l = limits[i];
        std::string at = "linux.resources.hugepageLimits[" + std::to_string(i) + "]";
        if (!convert::valid_page_size(l.page_size))
            throw Error(at + ".pageSize: invalid page size \"" + l.page_size + "\"");
        std::string file = "hugetlb." + l.page_size + ".limit_in_bytes";
        if (!fs::exists(fs::join(dir, file)))
            throw Error(at + ".pageSize: page size " + l.page_size + " is not supported by this host");
        put(dir, file, num(l.limit), at + ".limit");
        // Reservations are limited alike where the kernel accounts them (runc does the same).
        std::string rsvd = "hugetlb." + l.page_size + ".rsvd.limit_in_bytes";
        if (fs::exists(fs::join(dir, rsvd))) put(dir, rsvd, num(l.limit), at + ".limit");
    }
}

std::string device_rule_line(const oci::DeviceRule& r) {
    std::string type = r.type.empty() ? "a" : r.type;
    if (type == "a") return "a";
    std::string major = r.major && *r.major >= 0 ? num(*r.major) : "*";
    std::string minor = r.minor && *r.minor >= 0 ? num(*r.minor) : "*";
    std::string access = r.access.empty() ? "rwm" : r.access;
    return type + " " + major + ":" + minor + " " + access;
}

namespace {

// The kernel takes each write() to devices.allow or devices.deny as one rule, so a run of rules
// for the same file shares one open file instead of an open and close per rule.
class RuleWriter {
public:
    explicit RuleWriter(const std::string& dir) : dir_(dir) {}
    void put(const char* file, const std::string& line, const std::string& json_path) {
        with_context(json_path, [&] {
            std::string path = fs::join(dir_, file);
            if (file_ != file) {
                // O_TRUNC matters only for plain files (test trees); cgroupfs ignores it.
                fd_.reset(fs::open_at(path, O_WRONLY | O_TRUNC));
                file_ = fd_.get() >= 0 ? file : nullptr;
                if (fd_.get() < 0) throw_errno("write " + line + " to " + path);
            }
            ssize_t n;
            do {
                n = ::write(fd_.get(), line.data(), line.size());
            } while (n < 0 && errno == EINTR);
            if (n < 0) throw_errno("write " + line + " to " + path);
        });
    }

private:
    const std::string& dir_;
    const char* file_ = nullptr;
    Fd fd_;
};

constexpr const char* kAllow = "devices.allow";
constexpr const char* kDeny = "devices.deny";

}  // namespace

void devices(const std::string& dir, const std::vector<oci::DeviceRule>& rules) {
    RuleWriter w(dir);
    w.put(kDeny, "a", "linux.resources.devices");
    bool nothing_allowed = true;
    for (size_t i = 0; i < rules.size(); ++i) {
        const auto& r = rules[i];
        std::string line = device_rule_line(r);
        // `runc spec` starts with a deny-all: while nothing is allowed it changes nothing.
        if (!r.allow && line == "a" && nothing_allowed) continue;
        nothing_allowed = nothing_allowed && !r.allow;
        // "a" with partial access is not expressible in v1; a/rwm is the whole table.
        w.put(r.allow ? kAllow : kDeny, line, "linux.resources.devices[" + std::to_string(i) + "]");
    }
}

}  // namespace skiff::cgroups::v1
