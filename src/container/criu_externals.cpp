#include "container/criu_externals.hpp"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linux/rootpath.hpp"

namespace skiff::container::criu {
namespace {

// CRIU's key for an external namespace, as runc names it: extRootNetNS, extRootPidNS.
std::string ns_key(const std::string& type) { return type == "network" ? "extRootNetNS" : "extRootPidNS"; }

}  // namespace

bool is_bind(const oci::Mount& m) {
    if (m.type == "bind") return true;
    for (const auto& o : m.options)
        if (o == "bind" || o == "rbind") return true;
    return false;
}

std::string mount_key(const std::string& destination) { return rootpath::clean("/" + destination); }

std::vector<CgroupBind> cgroup_binds(const oci::Spec& spec,
                                     const std::vector<std::pair<std::string, std::string>>& hierarchies) {
    std::vector<CgroupBind> out;
    if (!spec.linux) return out;
    for (const auto& ns : spec.linux->namespaces)
        if (ns.type == "cgroup") return out;  // a fresh cgroup mount in its own namespace
    for (const auto& m : spec.mounts) {
        if (m.type != "cgroup" && m.type != "cgroup2") continue;
        std::string dest = mount_key(m.destination);
        for (const auto& [name, host] : hierarchies)
            out.push_back({name.empty() ? dest : dest + "/" + name, host});
    }
    return out;
}

std::vector<std::string> dump_externals(const oci::Spec& spec, pid_t init_pid) {
    std::vector<std::string> out;
    for (const auto& m : spec.mounts)
        if (is_bind(m)) out.push_back("mnt[" + mount_key(m.destination) + "]:" + mount_key(m.destination));
    if (spec.linux) {
        // A masked file is /dev/null bound over it; a masked directory is a tmpfs CRIU dumps.
        if (spec.linux->masked_paths) {
            for (const auto& p : *spec.linux->masked_paths) {
                struct stat st;
                std::string in_root = "/proc/" + std::to_string(init_pid) + "/root" + mount_key(p);
                if (::stat(in_root.c_str(), &st) < 0 || S_ISDIR(st.st_mode)) continue;
                out.push_back("mnt[" + mount_key(p) + "]:/dev/null");
            }
        }
        // /dev/console is a bind of the terminal's pty slave, whose master is outside (the
        // console socket's): CRIU cannot dump that bind ("Unable to find a master"). The
        // restore binds /dev/null there; the processes get CRIU's new pty as their terminal.
        if (spec.process && spec.process->terminal) out.push_back("mnt[/dev/console]:/dev/null");
        for (const auto& d : spec.linux->devices)
            out.push_back("mnt[" + mount_key(d.path) + "]:" + mount_key(d.path));
        for (const auto& [key, path] : joined_namespaces(spec)) {
            struct stat st;
            if (::stat(path.c_str(), &st) < 0) continue;  // gone: CRIU will say what it misses
            std::string type = key == "extRootNetNS" ? "net" : "pid";
            out.push_back(type + "[" + std::to_string(st.st_ino) + "]:" + key);
        }
    }
    return out;
}

std::vector<std::string> restore_mounts(const oci::Spec& spec, const std::string& bundle) {
    std::vector<std::string> out;
    for (const auto& m : spec.mounts)
        if (is_bind(m))
            out.push_back("mnt[" + mount_key(m.destination) + "]:" +
                          (m.source.empty() || m.source[0] == '/' ? m.source : bundle + "/" + m.source));
    if (spec.linux) {
        if ((spec.linux->masked_paths && !spec.linux->masked_paths->empty()) ||
            (spec.process && spec.process->terminal))
            out.push_back("mnt[/dev/null]:/dev/null");
        for (const auto& d : spec.linux->devices)
            out.push_back("mnt[" + mount_key(d.path) + "]:" + mount_key(d.path));
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> joined_namespaces(const oci::Spec& spec) {
    std::vector<std::pair<std::string, std::string>> out;
    if (!spec.linux) return out;
    for (const auto& ns : spec.linux->namespaces)
        if ((ns.type == "network" || ns.type == "pid") && !ns.path.empty())
            out.push_back({ns_key(ns.type), ns.path});
    return out;
}

std::vector<std::string> stdio_targets(pid_t pid) {
    std::vector<std::string> out;
    for (int fd = 0; fd < 3; ++fd) {
        std::string link = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
        char buf[PATH_MAX];
        ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
        out.push_back(n < 0 ? std::string("/dev/null") : std::string(buf, size_t(n)));
    }
    return out;
}

}  // namespace skiff::container::criu
