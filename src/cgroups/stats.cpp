#include "cgroups/stats.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "cgroups/fs.hpp"
#include "base/text.hpp"

namespace skiff::cgroups {

namespace {

using nlohmann::json;

uint64_t u64(const std::string& dir, const std::string& file) {
    auto text = fs::read_opt(fs::join(dir, file));
    if (!text) return 0;
    try {
        return fs::parse_u64(text->substr(0, text->find('\n')));
    } catch (...) {
        return 0;
    }
}

// runc's omitempty: zero numbers and empty lists are left out where its Go types say so.
void put_nz(json& j, const char* key, uint64_t v) {
    if (v) j[key] = v;
}

// One {limit, usage, max, failcnt} entry ("limit" and "failcnt" always present, as in runc).
json mem_entry(uint64_t limit, uint64_t usage, uint64_t max, uint64_t failcnt) {
    json j = {{"limit", limit}, {"failcnt", failcnt}};
    put_nz(j, "usage", usage);
    put_nz(j, "max", max);
    return j;
}

std::vector<std::string> page_sizes(const std::string& dir, const std::string& suffix) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n.rfind("hugetlb.", 0) != 0 || n.size() <= suffix.size() ||
            n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0)
            continue;
        std::string size = n.substr(8, n.size() - 8 - suffix.size());
        if (size.find('.') == std::string::npos) out.push_back(size);  // not ".rsvd"
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

// v1 blkio files: "8:0 Read 4096" lines (and a "Total" line, skipped).
json blkio_entries(const std::string& path) {
    json list = json::array();
    auto text = fs::read_opt(path);
    if (!text) return list;
    for (auto line : skiff::text::lines(*text)) {
        auto f = skiff::text::fields(line);
        if (f.empty()) continue;
        std::string dev(f[0]), op;
        uint64_t value = 0;
        size_t colon = dev.find(':');
        if (colon == std::string::npos) continue;
        json e;
        put_nz(e, "major", std::stoull(dev.substr(0, colon)));
        put_nz(e, "minor", std::stoull(dev.substr(colon + 1)));
        if (f.size() >= 3 && std::isdigit((unsigned char)f[2][0])) {
            op = std::string(f[1]);
            value = std::stoull(std::string(f[2]));
        } else if (f.size() >= 2) {  // "8:0 4096": no op
            value = std::stoull(std::string(f[1]));
        }
        if (!op.empty()) e["op"] = op;
        put_nz(e, "value", value);
        list.push_back(e);
    }
    return list;
}

json cpu_v1(const std::string& acct_dir, const std::string& cpu_dir) {
    json usage = json::object();
    json cpu = json::object();
    if (!acct_dir.empty()) {
        put_nz(usage, "total", u64(acct_dir, "cpuacct.usage"));
        auto percpu = fs::read_u64_list(fs::join(acct_dir, "cpuacct.usage_percpu"));
        if (!percpu.empty()) usage["percpu"] = percpu;
        auto sys = fs::read_u64_list(fs::join(acct_dir, "cpuacct.usage_percpu_sys"));
        if (!sys.empty()) usage["percpu_kernel"] = sys;
        auto user = fs::read_u64_list(fs::join(acct_dir, "cpuacct.usage_percpu_user"));
        if (!user.empty()) usage["percpu_user"] = user;
        // cpuacct.stat counts USER_HZ ticks; the schema wants nanoseconds.
        auto st = fs::read_flat_keyed(fs::join(acct_dir, "cpuacct.stat"));
        long hz = ::sysconf(_SC_CLK_TCK);
        uint64_t ns_per_tick = hz > 0 ? 1000000000ull / static_cast<uint64_t>(hz) : 10000000ull;
        usage["kernel"] = st["system"] * ns_per_tick;
        usage["user"] = st["user"] * ns_per_tick;
    } else {
        usage["kernel"] = 0;
        usage["user"] = 0;
    }
    cpu["usage"] = usage;
    json thr = json::object();
    if (!cpu_dir.empty()) {
        auto st = fs::read_flat_keyed(fs::join(cpu_dir, "cpu.stat"));
        put_nz(thr, "periods", st["nr_periods"]);
        put_nz(thr, "throttledPeriods", st["nr_throttled"]);
        put_nz(thr, "throttledTime", st["throttled_time"]);
    }
    cpu["throttling"] = thr;
    return cpu;
}

json cpu_v2(const std::string& dir) {
    auto st = fs::read_flat_keyed(fs::join(dir, "cpu.stat"));
    json usage = json::object();
    put_nz(usage, "total", st["usage_usec"] * 1000);
    usage["kernel"] = st["system_usec"] * 1000;
    usage["user"] = st["user_usec"] * 1000;
    json thr = json::object();
    put_nz(thr, "periods", st["nr_periods"]);
    put_nz(thr, "throttledPeriods", st["nr_throttled"]);
    put_nz(thr, "throttledTime", st["throttled_usec"] * 1000);
    return {{"usage", usage}, {"throttling", thr}};
}

json memory_v1(const std::string& d) {
    json m = json::object();
    auto raw = fs::read_flat_keyed(fs::join(d, "memory.stat"));
    put_nz(m, "cache", raw["cache"]);
    auto entry = [&](const std::string& prefix) {
        return mem_entry(u64(d, prefix + "limit_in_bytes"), u64(d, prefix + "usage_in_bytes"),
                         u64(d, prefix + "max_usage_in_bytes"), u64(d, prefix + "failcnt"));
    };
    m["usage"] = entry("memory.");
    m["swap"] = entry("memory.memsw.");
    m["kernel"] = entry("memory.kmem.");
    m["kernelTCP"] = entry("memory.kmem.tcp.");
    if (!raw.empty()) m["raw"] = raw;
    return m;
}

json memory_v2(const std::string& d) {
    json m = json::object();
    auto raw = fs::read_flat_keyed(fs::join(d, "memory.stat"));
    put_nz(m, "cache", raw["file"]);
    auto events = fs::read_flat_keyed(fs::join(d, "memory.events"));
    uint64_t limit = u64(d, "memory.max"), usage = u64(d, "memory.current");
    m["usage"] = mem_entry(limit, usage, u64(d, "memory.peak"), events["max"]);
    // v1 reports memory+swap; v2 swap alone. Report the v1 meaning, as runc does.
    uint64_t swap_limit = u64(d, "memory.swap.max"), swap_usage = u64(d, "memory.swap.current");
    auto swap_events = fs::read_flat_keyed(fs::join(d, "memory.swap.events"));
    if (swap_limit != UINT64_MAX && limit != UINT64_MAX) swap_limit += limit;
    else swap_limit = UINT64_MAX;
    m["swap"] = mem_entry(swap_limit, swap_usage + usage, u64(d, "memory.swap.peak"),
                          swap_events["max"]);
    m["kernel"] = mem_entry(0, raw["kernel"], 0, 0);
    m["kernelTCP"] = mem_entry(0, raw["sock"], 0, 0);
    if (!raw.empty()) m["raw"] = raw;
    return m;
}

json pids_of(const std::string& d) {
    json j = json::object();
    put_nz(j, "current", u64(d, "pids.current"));
    uint64_t limit = u64(d, "pids.max");
    put_nz(j, "limit", limit == UINT64_MAX ? 0 : limit);  // "max" is reported as 0 (unset)
    return j;
}

json blkio_v1(const std::string& d) {
    json j = json::object();
    // CFQ files first; without CFQ the throttle layer still counts every request.
    auto pick = [&](const char* cfq, const char* throttle) {
        json a = blkio_entries(fs::join(d, cfq));
        return a.empty() ? blkio_entries(fs::join(d, throttle)) : a;
    };
    json bytes = pick("blkio.io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive");
    json ios = pick("blkio.io_serviced_recursive", "blkio.throttle.io_serviced_recursive");
    if (!bytes.empty()) j["ioServiceBytesRecursive"] = bytes;
    if (!ios.empty()) j["ioServicedRecursive"] = ios;
    return j;
}

json blkio_v2(const std::string& d) {
    json bytes = json::array(), ios = json::array();
    auto text = fs::read_opt(fs::join(d, "io.stat"));
    std::string all = text ? *text : "";
    for (auto line : skiff::text::lines(all)) {
        auto f = skiff::text::fields(line);
        if (f.empty() || f[0].find(':') == std::string_view::npos) continue;
        std::string dev(f[0]);
        uint64_t major = std::stoull(dev.substr(0, dev.find(':')));
        uint64_t minor = std::stoull(dev.substr(dev.find(':') + 1));
        for (size_t i = 1; i < f.size(); ++i) {
            std::string kv(f[i]);
            auto eq = kv.find('=');
            if (eq == std::string::npos) continue;
            std::string k = kv.substr(0, eq);
            uint64_t v = std::stoull(kv.substr(eq + 1));
            json e;
            put_nz(e, "major", major);
            put_nz(e, "minor", minor);
            put_nz(e, "value", v);
            if (k == "rbytes" || k == "wbytes" || k == "dbytes") {
                e["op"] = k == "rbytes" ? "Read" : k == "wbytes" ? "Write" : "Discard";
                bytes.push_back(e);
            } else if (k == "rios" || k == "wios" || k == "dios") {
                e["op"] = k == "rios" ? "Read" : k == "wios" ? "Write" : "Discard";
                ios.push_back(e);
            }
        }
    }
    json j = json::object();
    if (!bytes.empty()) j["ioServiceBytesRecursive"] = bytes;
    if (!ios.empty()) j["ioServicedRecursive"] = ios;
    return j;
}

json hugetlb_of(const Target& t) {
    json j = json::object();
    for (const auto& size : page_sizes(t.dir, t.v2 ? ".max" : ".limit_in_bytes")) {
        std::string pre = "hugetlb." + size + ".";
        json e = json::object();
        if (t.v2) {
            put_nz(e, "usage", u64(t.dir, pre + "current"));
            e["failcnt"] = fs::read_flat_keyed(fs::join(t.dir, pre + "events"))["max"];
        } else {
            put_nz(e, "usage", u64(t.dir, pre + "usage_in_bytes"));
            put_nz(e, "max", u64(t.dir, pre + "max_usage_in_bytes"));
            e["failcnt"] = u64(t.dir, pre + "failcnt");
        }
        j[size] = e;
    }
    return j;
}

}  // namespace

std::string stats_json(const Placement& p) {
    json data = json::object();
    const Target* cpu = p.find("cpu");
    const Target* acct = p.find("cpuacct");
    if (cpu && cpu->v2)
        data["cpu"] = cpu_v2(cpu->dir);
    else
        data["cpu"] = cpu_v1(acct ? acct->dir : "", cpu ? cpu->dir : "");
    data["cpuset"] = json::object();
    if (const Target* m = p.find("memory"))
        data["memory"] = m->v2 ? memory_v2(m->dir) : memory_v1(m->dir);
    else
        data["memory"] = json::object();
    data["pids"] = p.find("pids") ? pids_of(p.find("pids")->dir) : json::object();
    if (const Target* b = p.find("blkio"))
        data["blkio"] = b->v2 ? blkio_v2(b->dir) : blkio_v1(b->dir);
    else
        data["blkio"] = json::object();
    data["hugetlb"] = p.find("hugetlb") ? hugetlb_of(*p.find("hugetlb")) : json::object();
    return data.dump();
}

}  // namespace skiff::cgroups
