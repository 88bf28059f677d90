#include "cgroups/none_manager.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include "base/error.hpp"
#include "linux/fd.hpp"
#include "base/text.hpp"

namespace skiff::cgroups {
namespace {

const char* const kWhy = "the container has no cgroup (rootless, and no cgroup is delegated to the user)";

std::string ns_of(pid_t pid, const char* type = "pid") {
    char buf[64];
    std::string link = "/proc/" + std::to_string(pid) + "/ns/" + type;
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    if (n < 0) return "";
    return std::string(buf, size_t(n));
}

pid_t parent_of(pid_t pid) {
    std::string stat;
    try {
        stat = text::read_file("/proc/" + std::to_string(pid) + "/stat");
    } catch (const Error&) {
        return 0;
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
    size_t close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    auto f = text::fields(std::string_view(stat).substr(close + 1));
    return f.size() >= 2 ? pid_t(std::atoi(std::string(f[1]).c_str())) : 0;
}

std::vector<pid_t> all_pids() {
    std::vector<pid_t> out;
    DIR* d = ::opendir("/proc");
    if (!d) throw_errno("open /proc");
    while (struct dirent* e = ::readdir(d)) {
        char* end = nullptr;
        long v = std::strtol(e->d_name, &end, 10);
        if (end && *end == 0 && v > 0) out.push_back(pid_t(v));
    }
    ::closedir(d);
    return out;
}

}  // namespace

void NoneManager::create(const oci::Resources* resources) {
    if (asks_for_limits(resources))
        throw Error(std::string("linux.resources: limits need a cgroup, and ") + kWhy, EPERM);
}

void NoneManager::use_sub_cgroup(const std::string&, const std::string&) {
    throw Error(std::string("exec --cgroup: ") + kWhy, ENOTSUP);
}

void NoneManager::update(const oci::Resources&) {
    throw Error(std::string("cannot update resources: ") + kWhy, ENOTSUP);
}

void NoneManager::freeze() { throw Error(std::string("cannot pause: ") + kWhy, ENOTSUP); }
void NoneManager::thaw() { throw Error(std::string("cannot resume: ") + kWhy, ENOTSUP); }

std::vector<pid_t> NoneManager::pids() {
    std::vector<pid_t> out;
    if (init_ <= 0) return out;
    const std::string init_ns = ns_of(init_);
    if (init_ns.empty()) return out;  // gone
    const auto every = all_pids();
    if (init_ns != ns_of(::getpid())) {
        // Its own pid namespace: every process in it (exec'd ones included).
        for (pid_t p : every)
            if (ns_of(p) == init_ns) out.push_back(p);
        return out;
    }
    // The host's pid namespace: the init and its descendants; and, when the container made
    // its mount namespace, every process in it and theirs: `exec` joins it, but its processes
    // are children of the runtime (then of a reaper), not of the init.
    std::set<pid_t> in = {init_};
    const std::string init_mnt = own_mount_ns_ ? ns_of(init_, "mnt") : "";
    if (!init_mnt.empty() && init_mnt != ns_of(::getpid(), "mnt"))
        for (pid_t p : every)
            if (ns_of(p, "mnt") == init_mnt) in.insert(p);
    bool grew = true;
    while (grew) {
        grew = false;
        for (pid_t p : every)
            if (!in.count(p) && in.count(parent_of(p))) grew = in.insert(p).second;
    }
    return {in.begin(), in.end()};
}

void NoneManager::kill_all(int signal) {
    for (pid_t p : pids()) ::kill(p, signal);
}

std::string NoneManager::stats_json() {
    return "{\"pids\":{\"current\":" + std::to_string(pids().size()) + "}}";
}

bool asks_for_limits(const oci::Resources* r) {
    if (!r) return false;
    auto any_memory = [](const oci::Memory& m) {
        return m.limit || m.reservation || m.swap || m.kernel || m.kernel_tcp || m.swappiness ||
               m.disable_oom_killer;
    };
    auto any_cpu = [](const oci::Cpu& c) {
        return c.shares || c.quota || c.burst || c.period || c.realtime_runtime ||
               c.realtime_period || !c.cpus.empty() || !c.mems.empty() || c.idle;
    };
    auto any_blkio = [](const oci::BlockIo& b) {
        return b.weight || b.leaf_weight || !b.weight_device.empty() ||
               !b.throttle_read_bps_device.empty() || !b.throttle_write_bps_device.empty() ||
               !b.throttle_read_iops_device.empty() || !b.throttle_write_iops_device.empty();
    };
    return (r->memory && any_memory(*r->memory)) || (r->cpu && any_cpu(*r->cpu)) ||
           (r->pids && r->pids->limit) || (r->block_io && any_blkio(*r->block_io)) ||
           !r->hugepage_limits.empty() ||
           (r->network && (r->network->class_id || !r->network->priorities.empty())) ||
           !r->rdma.empty() || !r->unified.empty();
}

std::unique_ptr<Manager> create_or_go_without(std::unique_ptr<Manager> m,
                                              const oci::Resources* resources,
                                              const std::string& cgroups_path) {
    try {
        m->create(resources);
        // An existing cgroup is "created" without a write: its procs file must be ours too,
        // else clone3 into it fails later, with less to say.
        for (const auto& [name, dir] : m->paths()) {
            const std::string procs = dir + "/cgroup.procs";
            if (::faccessat(AT_FDCWD, procs.c_str(), W_OK, AT_EACCESS) < 0 && errno != ENOENT)
                throw_errno("open " + procs + " for writing");
        }
        return m;
    } catch (const Error& e) {
        int err = e.errnum();
        if (err != EACCES && err != EPERM && err != EROFS) throw;
        try {
            m->destroy();
        } catch (const Error&) {
        }
        if (asks_for_limits(resources))
            throw Error("linux.resources: limits need a cgroup the user may write (a delegated "
                        "cgroup v2 subtree named by linux.cgroupsPath" +
                            (cgroups_path.empty() ? std::string() : ", here " + cgroups_path) +
                            "), and none could be made: " + e.what(),
                        err);
        return std::make_unique<NoneManager>(0);
    }
}

bool is_none(const Manager& m) { return dynamic_cast<const NoneManager*>(&m) != nullptr; }

}  // namespace skiff::cgroups
