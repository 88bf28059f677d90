#include "cgroups/systemd_props.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "cgroups/convert.hpp"
#include "base/error.hpp"

namespace skiff::cgroups::systemd {
namespace {

constexpr uint64_t kInfinity = UINT64_MAX;  // systemd's CGROUP_LIMIT_MAX / USEC_INFINITY

Property u64(const std::string& name, uint64_t v) { return {name, "t", std::to_string(v)}; }
Property boolean(const std::string& name, bool v) { return {name, "b", v ? "1" : "0"}; }

std::string hex(const std::vector<uint8_t>& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (uint8_t b : bytes) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::string block_dev(int64_t major, int64_t minor) {
    return "/dev/block/" + std::to_string(major) + ":" + std::to_string(minor);
}

bool parse_number(const std::string& s, bool allow_negative, long double* out) {
    if (s.empty()) return false;
    size_t i = 0;
    if (s[0] == '-') {
        if (!allow_negative || s.size() == 1) return false;
        i = 1;
    }
    for (; i < s.size(); ++i)
        if (s[i] < '0' || s[i] > '9') return false;
    errno = 0;
    *out = std::strtold(s.c_str(), nullptr);
    return errno == 0;
}

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// One GVariant text string literal ('...' or "..."), with \\ \' \" escapes.
bool parse_string_literal(const std::string& s, std::string* out) {
    if (s.size() < 2 || (s.front() != '\'' && s.front() != '"') || s.back() != s.front()) return false;
    out->clear();
    for (size_t i = 1; i + 1 < s.size(); ++i) {
        char c = s[i];
        if (c == '\\' && i + 2 < s.size()) c = s[++i];
        else if (c == s.front()) return false;
        out->push_back(c);
    }
    return true;
}

struct Typed {
    std::string sig;
    std::string value;   // wire form
    long double number = 0;
    bool numeric = false;
};

Typed parse_gvariant(const std::string& raw, const std::string& key) {
    auto fail = [&](const std::string& why) -> Typed {
        throw Error("annotation " + key + "=" + raw + " value parse error: " + why, EINVAL);
    };
    std::string v = trim(raw);
    if (v.find('\n') != std::string::npos || v.find('\0') != std::string::npos) fail("newline in value");
    if (v == "true" || v == "false") return {"b", v == "true" ? "1" : "0"};
    std::string s;
    if (parse_string_literal(v, &s)) return {"s", escape(s)};
    if (!v.empty() && v.front() == '[') {
        if (v.back() != ']') fail("unterminated array");
        std::string inner = trim(v.substr(1, v.size() - 2));
        std::string joined;
        size_t pos = 0;
        while (!inner.empty() && pos <= inner.size()) {
            // Items are string literals; a ',' inside quotes does not split.
            size_t end = pos;
            char q = 0;
            for (; end < inner.size(); ++end) {
                if (q) {
                    if (inner[end] == '\\') ++end;
                    else if (inner[end] == q) q = 0;
                } else if (inner[end] == '\'' || inner[end] == '"') {
                    q = inner[end];
                } else if (inner[end] == ',') {
                    break;
                }
            }
            std::string item;
            if (!parse_string_literal(trim(inner.substr(pos, end - pos)), &item))
                fail("only arrays of strings are supported");
            joined += (joined.empty() ? "" : ",") + escape(item);
            pos = end + 1;
        }
        return {"as", joined};
    }
    // "uint64 5", "@t 5", or a bare number (GVariant's default for one is int32).
    static const std::map<std::string, std::string> kinds = {
        {"byte", "y"}, {"int16", "n"}, {"uint16", "q"}, {"int32", "i"},
        {"uint32", "u"}, {"int64", "x"}, {"uint64", "t"}, {"@y", "y"}, {"@n", "n"},
        {"@q", "q"}, {"@i", "i"}, {"@u", "u"}, {"@x", "x"}, {"@t", "t"}};
    std::string sig = "i", num = v;
    if (size_t sp = v.find(' '); sp != std::string::npos) {
        auto it = kinds.find(v.substr(0, sp));
        if (it == kinds.end()) fail("unsupported type " + v.substr(0, sp));
        sig = it->second;
        num = trim(v.substr(sp + 1));
    }
    bool is_signed = sig == "n" || sig == "i" || sig == "x";
    long double n;
    if (!parse_number(num, is_signed, &n)) fail("not a GVariant value (quote strings: 'text')");
    static const std::map<std::string, std::pair<long double, long double>> range = {
        {"y", {0, 255}}, {"n", {-32768, 32767}}, {"q", {0, 65535}}, {"i", {INT32_MIN, INT32_MAX}},
        {"u", {0, UINT32_MAX}}, {"x", {(long double)INT64_MIN, (long double)INT64_MAX}},
        {"t", {0, (long double)UINT64_MAX}}};
    auto [lo, hi] = range.at(sig);
    if (n < lo || n > hi) fail("out of range for its type");
    Typed t{sig, num, n, true};
    return t;
}

}  // namespace

std::string escape(const std::string& raw) {
    static const char* digits = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : raw) {
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '_' || c == '/' || c == '@' || c == '+' || c == '-';
        if (plain) {
            out += char(c);
        } else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 15];
        }
    }
    return out;
}

std::string wire_line(const Property& p) { return p.name + " " + p.sig + " " + p.value; }

std::vector<Property> base_properties(const std::string& id, const std::string& slice, bool is_slice) {
    std::vector<Property> out = {{"Description", "s", escape("skiff container " + id)}};
    // A slice's place is its name; it only wants its parent. A scope goes into the slice.
    out.push_back({is_slice ? "Wants" : "Slice", is_slice ? "as" : "s", escape(slice)});
    if (!is_slice) out.push_back(boolean("Delegate", true));  // systemd refuses it on a slice
    out.push_back(boolean("DefaultDependencies", false));
    out.push_back(boolean("MemoryAccounting", true));
    out.push_back(boolean("CPUAccounting", true));
    out.push_back(boolean("TasksAccounting", true));
    out.push_back(boolean("IOAccounting", true));
    return out;
}

std::vector<uint8_t> range_to_bits(const std::string& list, const std::string& what) {
    std::vector<uint8_t> bits;
    auto set = [&](unsigned long n) {
        if (bits.size() <= n / 8) bits.resize(n / 8 + 1, 0);
        bits[n / 8] |= uint8_t(1u << (n % 8));
    };
    auto bad = [&]() { throw Error(what + ": invalid list \"" + list + "\"", EINVAL); };
    size_t pos = 0;
    std::string s = trim(list);
    while (pos < s.size()) {
        size_t comma = s.find(',', pos);
        std::string item = trim(s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
        long double a, b;
        size_t dash = item.find('-');
        if (dash == std::string::npos) {
            if (!parse_number(item, false, &a)) bad();
            b = a;
        } else if (!parse_number(item.substr(0, dash), false, &a) || !parse_number(item.substr(dash + 1), false, &b)) {
            bad();
        }
        if (b < a || b > 65535) bad();
        for (unsigned long n = (unsigned long)a; n <= (unsigned long)b; ++n) set(n);
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    if (bits.empty()) bad();
    return bits;
}

uint64_t quota_per_sec_usec(int64_t quota, uint64_t period) {
    if (quota <= 0) return kInfinity;
    if (period == 0) period = 100000;  // the kernel's default period
    uint64_t per_sec = uint64_t(quota) * 1000000 / period;
    if (per_sec % 10000) per_sec = (per_sec / 10000 + 1) * 10000;
    return per_sec;
}

std::vector<Property> resource_properties(const oci::Resources& r, const std::vector<oci::DeviceRule>& rules) {
    std::vector<Property> out;
    auto limit = [](int64_t v) { return v < 0 ? kInfinity : uint64_t(v); };
    if (const auto& m = r.memory) {
        if (m->limit && *m->limit != 0) out.push_back(u64("MemoryMax", limit(*m->limit)));
        if (m->reservation && *m->reservation != 0) out.push_back(u64("MemoryLow", limit(*m->reservation)));
        if (m->swap) {
            std::string swap = convert::memory_swap_v2(*m->swap, m->limit.value_or(0));
            if (swap == "max") out.push_back(u64("MemorySwapMax", kInfinity));
            else if (!swap.empty()) out.push_back(u64("MemorySwapMax", std::stoull(swap)));
        }
    }
    if (const auto& c = r.cpu) {
        if (c->shares && *c->shares) out.push_back(u64("CPUWeight", convert::cpu_shares_to_weight(*c->shares)));
        int64_t quota = c->quota.value_or(0);
        uint64_t period = c->period.value_or(0);
        if (period) out.push_back(u64("CPUQuotaPeriodUSec", period));
        if (quota != 0 || period != 0) out.push_back(u64("CPUQuotaPerSecUSec", quota_per_sec_usec(quota, period)));
        if (!c->cpus.empty()) out.push_back({"AllowedCPUs", "ay", hex(range_to_bits(c->cpus, "linux.resources.cpu.cpus"))});
        if (!c->mems.empty())
            out.push_back({"AllowedMemoryNodes", "ay", hex(range_to_bits(c->mems, "linux.resources.cpu.mems"))});
    }
    if (r.pids && r.pids->limit && (*r.pids->limit > 0 || *r.pids->limit == -1))
        out.push_back(u64("TasksMax", limit(*r.pids->limit)));
    if (const auto& b = r.block_io) {
        if (b->weight && *b->weight) out.push_back(u64("IOWeight", convert::blkio_weight_to_io_weight(*b->weight)));
        std::string weights;
        for (const auto& d : b->weight_device) {
            if (!d.weight || !*d.weight) continue;
            weights += (weights.empty() ? "" : ",") + escape(block_dev(d.major, d.minor)) + "=" +
                       std::to_string(convert::blkio_weight_to_io_weight(*d.weight));
        }
        if (!weights.empty()) out.push_back({"IODeviceWeight", "a(st)", weights});
        auto throttle = [&](const char* name, const std::vector<oci::ThrottleDevice>& list) {
            std::string v;
            for (const auto& d : list)
                v += (v.empty() ? "" : ",") + escape(block_dev(d.major, d.minor)) + "=" + std::to_string(d.rate);
            if (!v.empty()) out.push_back({name, "a(st)", v});
        };
        throttle("IOReadBandwidthMax", b->throttle_read_bps_device);
        throttle("IOWriteBandwidthMax", b->throttle_write_bps_device);
        throttle("IOReadIOPSMax", b->throttle_read_iops_device);
        throttle("IOWriteIOPSMax", b->throttle_write_iops_device);
    }
    // Unified keys that have a unit property, so that systemd does not undo them later.
    for (const auto& [key, value] : r.unified) {
        static const std::map<std::string, std::string> names = {
            {"memory.high", "MemoryHigh"}, {"memory.max", "MemoryMax"}, {"memory.low", "MemoryLow"},
            {"memory.swap.max", "MemorySwapMax"}, {"pids.max", "TasksMax"}, {"cpu.weight", "CPUWeight"}};
        auto it = names.find(key);
        if (it == names.end()) continue;
        std::string v = trim(value);
        long double n;
        if (v == "max") out.push_back(u64(it->second, kInfinity));
        else if (parse_number(v, false, &n)) out.push_back(u64(it->second, std::stoull(v)));
    }
    // Devices: skiff's own BPF program (written into the cgroup after the unit starts)
    // enforces the exact rules. systemd's list can only name whole devices by number, so it
    // gets "strict" with that list only when every allow rule is that precise; otherwise
    // "auto" with no list, and systemd installs no device program of its own.
    if (!rules.empty()) {
        std::string allow;
        bool precise = true;
        for (const auto& d : rules) {
            if (!d.allow) continue;
            if (d.type.empty() || d.type == "a" || !d.major || !d.minor || *d.major < 0 || *d.minor < 0) {
                precise = false;
                break;
            }
            std::string path = std::string(d.type == "b" ? "/dev/block/" : "/dev/char/") +
                               std::to_string(*d.major) + ":" + std::to_string(*d.minor);
            allow += (allow.empty() ? "" : ",") + escape(path) + "=" + escape(d.access.empty() ? "rwm" : d.access);
        }
        out.push_back({"DevicePolicy", "s", precise ? "strict" : "auto"});
        out.push_back({"DeviceAllow", "a(ss)", precise ? allow : ""});
    }
    return out;
}

std::vector<Property> annotation_properties(const std::map<std::string, std::string>& annotations) {
    const std::string prefix = "org.systemd.property.";
    std::vector<Property> out;
    for (const auto& [key, raw] : annotations) {
        if (key.compare(0, prefix.size(), prefix) != 0) continue;
        std::string name = key.substr(prefix.size());
        bool letters = name.size() >= 3;
        for (char c : name)
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) letters = false;
        if (!letters)
            throw Error("annotation " + key + " name incorrect: a systemd property name is 3 or more latin letters",
                        EINVAL);
        Typed t = parse_gvariant(raw, key);
        // Documented as ...Sec, taken over D-Bus as ...USec in microseconds (runc does this).
        if (name.size() > 4 && name.compare(name.size() - 3, 3, "Sec") == 0 &&
            name[name.size() - 4] >= 'a' && name[name.size() - 4] <= 'z') {
            if (!t.numeric || t.number < 0)
                throw Error("annotation " + key + "=" + raw + " value parse error: not a number of seconds", EINVAL);
            name = name.substr(0, name.size() - 3) + "USec";
            t = {"t", std::to_string(uint64_t(t.number) * 1000000), t.number, true};
        }
        out.push_back({name, t.sig, t.value});
    }
    return out;
}

}  // namespace skiff::cgroups::systemd
