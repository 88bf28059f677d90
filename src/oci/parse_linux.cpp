// "linux" (config-linux.md), except resources (parse_resources.cpp). Checks here are the ones a
// reader can decide from the document alone; what the host supports is decided at apply time.
#include <algorithm>
#include <array>
#include <set>
#include <string_view>

#include "base/cpulist.hpp"
#include "oci/namespace_types.hpp"
#include "oci/parse_internal.hpp"

namespace skiff::oci::detail {

namespace {

constexpr std::array<std::string_view, 8> kPropagation = {
    "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"};

constexpr std::array<std::string_view, 7> kMpolModes = {
    "MPOL_DEFAULT",   "MPOL_BIND",           "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE",
    "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL"};

constexpr std::array<std::string_view, 3> kMpolFlags = {
    "MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"};

constexpr unsigned kMaxNumaNodes = 1024;

std::vector<Namespace> read_namespaces(const Node& n) {
    std::vector<Namespace> out;
    std::set<std::string> seen;
    for (auto& e : n.elements()) {
        e.want_object();
        Namespace ns;
        auto type = e.required("type");
        ns.type = type.str();
        if (!namespace_type(ns.type))
            type.fail("unknown namespace type \"" + ns.type + "\"");
        if (!seen.insert(ns.type).second)
            type.fail("duplicate namespace type \"" + ns.type + "\"");
        // A path is accepted for every type; whether setns can join it is the kernel's answer.
        if (auto p = e.get("path")) {
            ns.path = p->str();
            require_absolute(*p, ns.path);
        }
        out.push_back(std::move(ns));
    }
    return out;
}

std::map<std::string, TimeOffset> read_time_offsets(const Node& n) {
    std::map<std::string, TimeOffset> out;
    for (auto& [clock, v] : n.members()) {
        if (clock != "monotonic" && clock != "boottime")
            v.fail("unknown clock \"" + clock + "\" (want monotonic or boottime)");
        v.want_object();
        TimeOffset off;
        off.secs = v.opt_int<int64_t>("secs").value_or(0);
        off.nanosecs = v.opt_int<uint32_t>("nanosecs").value_or(0);
        if (off.nanosecs >= 1000000000u)
            v.child("nanosecs").fail(std::to_string(off.nanosecs) +
                                     " is out of range (0..999999999)");
        out[clock] = off;
    }
    return out;
}

std::vector<Device> read_devices(const Node& n) {
    std::vector<Device> out;
    std::set<std::string> seen;
    for (auto& e : n.elements()) {
        e.want_object();
        Device d;
        auto path = e.required("path");
        d.path = path.str();
        require_absolute(path, d.path);
        if (!seen.insert(d.path).second) path.fail("duplicate device path \"" + d.path + "\"");
        auto type = e.required("type");
        d.type = type.str();
        if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
            type.fail("unknown device type \"" + d.type + "\" (want c, b, u or p)");
        // major/minor are REQUIRED unless the device is a fifo.
        if (d.type == "p") {
            d.major = e.opt_int<int64_t>("major").value_or(0);
            d.minor = e.opt_int<int64_t>("minor").value_or(0);
        } else {
            d.major = e.req_int<int64_t>("major");
            d.minor = e.req_int<int64_t>("minor");
        }
        d.file_mode = e.opt_int<uint32_t>("fileMode");
        // podman sends the file-type bits too (S_IFCHR|0666 = 8630); runc takes that and
        // uses the permission bits, so only bits outside S_IFMT|07777 are an error.
        if (d.file_mode && (*d.file_mode & ~uint32_t(0177777)))
            e.child("fileMode").fail(std::to_string(*d.file_mode) + " is not a file mode");
        if (d.file_mode) *d.file_mode &= 07777;
        d.uid = e.opt_int<uint32_t>("uid");
        d.gid = e.opt_int<uint32_t>("gid");
        out.push_back(std::move(d));
    }
    return out;
}

Seccomp read_seccomp(const Node& n) {
    // Only the shape is checked here; action, arch, flag and syscall names are the seccomp
    // module's (it knows what libseccomp and the kernel support).
    n.want_object();
    Seccomp s;
    s.default_action = n.req_str("defaultAction");
    s.default_errno_ret = n.opt_int<uint32_t>("defaultErrnoRet");
    if (auto a = n.get("architectures")) s.architectures = a->strings();
    if (auto f = n.get("flags")) s.flags = f->strings();
    s.listener_path = n.opt_str("listenerPath").value_or("");
    s.listener_metadata = n.opt_str("listenerMetadata").value_or("");
    if (auto sc = n.get("syscalls")) {
        for (auto& e : sc->elements()) {
            e.want_object();
            SeccompSyscall call;
            auto names = e.required("names");
            call.names = names.strings();
            if (call.names.empty()) names.fail("must name at least one syscall");
            call.action = e.req_str("action");
            call.errno_ret = e.opt_int<uint32_t>("errnoRet");
            if (auto args = e.get("args")) {
                for (auto& a : args->elements()) {
                    a.want_object();
                    SeccompArg arg;
                    arg.index = a.req_int<uint32_t>("index");
                    arg.value = a.req_int<uint64_t>("value");
                    arg.value_two = a.opt_int<uint64_t>("valueTwo").value_or(0);
                    arg.op = a.req_str("op");
                    call.args.push_back(std::move(arg));
                }
            }
            s.syscalls.push_back(std::move(call));
        }
    }
    return s;
}

IntelRdt read_intel_rdt(const Node& n) {
    n.want_object();
    IntelRdt r;
    r.clos_id = n.opt_str("closID").value_or("");
    // closID names a directory under /sys/fs/resctrl: keep it a single component.
    if (r.clos_id.find('/') != std::string::npos || r.clos_id == "." || r.clos_id == "..")
        n.child("closID").fail("invalid closID \"" + r.clos_id + "\"");
    r.l3_cache_schema = n.opt_str("l3CacheSchema").value_or("");
    r.mem_bw_schema = n.opt_str("memBwSchema").value_or("");
    if (auto s = n.get("schemata")) r.schemata = s->strings();
    r.enable_monitoring = n.opt_bool("enableMonitoring").value_or(false);
    return r;
}

MemoryPolicy read_memory_policy(const Node& n) {
    n.want_object();
    MemoryPolicy m;
    auto mode = n.required("mode");
    m.mode = mode.str();
    if (!one_of(kMpolModes, m.mode)) mode.fail("unknown memory policy mode \"" + m.mode + "\"");
    m.nodes = n.opt_str("nodes").value_or("");
    // The kernel's MAX_NUMNODES is at most 1024.
    if (!cpulist::parse(m.nodes, kMaxNumaNodes))
        n.child("nodes").fail("invalid memory policy nodes \"" + m.nodes + "\" (a list like 0-3,7 below " +
                              std::to_string(kMaxNumaNodes) + ")");
    if (auto f = n.get("flags")) {
        m.flags = f->strings();
        for (size_t i = 0; i < m.flags.size(); ++i)
            if (!one_of(kMpolFlags, m.flags[i]))
                f->child(i).fail("unknown memory policy flag \"" + m.flags[i] + "\"");
    }
    return m;
}

Personality read_personality(const Node& n) {
    n.want_object();
    Personality p;
    auto domain = n.required("domain");
    p.domain = domain.str();
    if (p.domain != "LINUX" && p.domain != "LINUX32")
        domain.fail("unknown personality domain \"" + p.domain + "\" (want LINUX or LINUX32)");
    if (auto f = n.get("flags")) {
        p.flags = f->strings();
        // runtime-spec 1.3 defines no flag; one we cannot apply is refused, not dropped.
        if (!p.flags.empty())
            f->child(0).fail("unsupported personality flag \"" + p.flags[0] +
                             "\" (runtime-spec 1.3 defines none)");
    }
    return p;
}

std::map<std::string, NetDevice> read_net_devices(const Node& n) {
    std::map<std::string, NetDevice> out;
    for (auto& [name, v] : n.members()) {
        // An interface name: at most 15 bytes (IFNAMSIZ-1), no '/', not "." or "..".
        auto valid = [](const std::string& s) {
            return !s.empty() && s.size() < 16 && s.find('/') == std::string::npos &&
                   s.find_first_of(" \t\n:") == std::string::npos && s != "." && s != "..";
        };
        if (!valid(name)) v.fail("invalid network device name \"" + name + "\"");
        v.want_object();
        NetDevice d;
        d.name = v.opt_str("name").value_or("");
        if (!d.name.empty() && !valid(d.name))
            v.child("name").fail("invalid network device name \"" + d.name + "\"");
        out[name] = d;
    }
    // Two devices may not end up with one name in the container.
    std::map<std::string, std::string> taken;  // container name -> host name
    for (const auto& [name, d] : out) {
        const std::string target = d.name.empty() ? name : d.name;
        auto [at, fresh] = taken.emplace(target, name);
        if (!fresh)
            n.child(name).fail("device name \"" + target + "\" is also the name of " + at->second +
                               " in the container");
    }
    return out;
}

}  // namespace

std::vector<IdMapping> read_id_mappings(const Node& n) {
    std::vector<IdMapping> out;
    for (auto& e : n.elements()) {
        e.want_object();
        IdMapping m;
        m.container_id = e.req_int<uint32_t>("containerID");
        m.host_id = e.req_int<uint32_t>("hostID");
        m.size = e.req_int<uint32_t>("size");
        if (m.size == 0) e.child("size").fail("must be greater than 0");
        // The kernel refuses a range that runs past the last 32-bit id on either side.
        const uint64_t end = uint64_t{std::max(m.container_id, m.host_id)} + m.size;
        if (end > (uint64_t{1} << 32))
            e.child("size").fail("range runs past id 4294967295");
        out.push_back(m);
    }
    return out;
}

Linux read_linux(const Node& n) {
    n.want_object();
    Linux l;
    if (auto ns = n.get("namespaces")) l.namespaces = read_namespaces(*ns);
    if (auto m = n.get("uidMappings")) l.uid_mappings = read_id_mappings(*m);
    if (auto m = n.get("gidMappings")) l.gid_mappings = read_id_mappings(*m);
    if (auto t = n.get("timeOffsets")) l.time_offsets = read_time_offsets(*t);
    if (auto d = n.get("devices")) l.devices = read_devices(*d);
    if (auto d = n.get("netDevices")) l.net_devices = read_net_devices(*d);
    l.cgroups_path = n.opt_str("cgroupsPath").value_or("");
    if (auto r = n.get("resources")) l.resources = read_resources(*r);
    if (auto r = n.get("intelRdt")) l.intel_rdt = read_intel_rdt(*r);
    // An empty object asks for nothing (runc 1.1.5 accepts it): no policy, as if absent.
    if (auto m = n.get("memoryPolicy"); m && !(m->raw().is_object() && m->raw().empty()))
        l.memory_policy = read_memory_policy(*m);
    if (auto s = n.get("sysctl")) l.sysctl = s->string_map();
    if (auto s = n.get("seccomp")) l.seccomp = read_seccomp(*s);
    if (auto p = n.get("rootfsPropagation")) {
        l.rootfs_propagation = p->str();
        if (!l.rootfs_propagation.empty() && !one_of(kPropagation, l.rootfs_propagation))
            p->fail("unknown rootfs propagation \"" + l.rootfs_propagation + "\"");
    }
    l.masked_paths = n.opt_strings("maskedPaths");
    l.readonly_paths = n.opt_strings("readonlyPaths");
    l.mount_label = n.opt_str("mountLabel").value_or("");
    if (auto p = n.get("personality")) l.personality = read_personality(*p);

    // Cross-field rules, as runc enforces them.
    const Namespace* user = find_namespace(l, "user");
    const bool mapped = !l.uid_mappings.empty() || !l.gid_mappings.empty();
    if (user && user->path.empty()) {
        // A new user namespace needs both maps written, or setuid/setgid inside it fail.
        if (l.uid_mappings.empty())
            n.child("uidMappings").fail("required when creating a new user namespace");
        if (l.gid_mappings.empty())
            n.child("gidMappings").fail("required when creating a new user namespace");
    }
    if (!user && mapped)
        n.child(l.uid_mappings.empty() ? "gidMappings" : "uidMappings")
            .fail("id mappings need a user namespace in linux.namespaces");
    if (!l.time_offsets.empty()) {
        const Namespace* time = find_namespace(l, "time");
        if (!time)
            n.child("timeOffsets").fail("time offsets need a time namespace in linux.namespaces");
        if (!time->path.empty())
            n.child("timeOffsets").fail("cannot set time offsets when joining a time namespace");
    }
    return l;
}

}  // namespace skiff::oci::detail
