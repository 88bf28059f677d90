#include "container/namespaces.hpp"

#include "container/rootless.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.hpp"
#include "base/text.hpp"
#include "oci/namespace_types.hpp"

namespace skiff::container {

NamespacePlan plan_namespaces(const oci::Spec& spec) {
    NamespacePlan plan;
    if (!spec.linux) throw Error("linux: required on Linux", EINVAL);
    const auto& list = spec.linux->namespaces;
    for (size_t i = 0; i < list.size(); ++i) {
        const auto& ns = list[i];
        std::string where = "linux.namespaces[" + std::to_string(i) + "]";
        const oci::NamespaceType* known = oci::namespace_type(ns.type);
        if (!known) throw Error(where + ".type: unknown namespace type \"" + ns.type + "\"", EINVAL);
        const int flag = known->clone_flag;
        if (flag == CLONE_NEWNS) plan.has_mount = true;
        if (plan.listed & uint64_t(flag))
            throw Error(where + ".type: duplicate namespace type \"" + ns.type + "\"", EINVAL);
        plan.listed |= uint64_t(flag);
        if (!ns.path.empty()) {
            if (flag != CLONE_NEWUSER && flag != CLONE_NEWNS) plan.parent_joins.emplace_back(flag, ns.path);
            continue;
        }
        switch (flag) {
            case CLONE_NEWUSER: plan.new_user = true; plan.clone_flags |= CLONE_NEWUSER; break;
            case CLONE_NEWCGROUP: plan.new_cgroup = true; break;  // unshared by the init
            case CLONE_NEWTIME: plan.new_time = true; break;      // unshared by the runtime
            case CLONE_NEWUTS: plan.new_uts = true; plan.clone_flags |= CLONE_NEWUTS; break;
            default: plan.clone_flags |= uint64_t(flag);
        }
    }
    if (!plan.has_mount) throw Error("linux.namespaces: a mount namespace is required", EINVAL);
    return plan;
}

namespace {

bool same_as_host_netns(const std::string& path) {
    struct stat a, b;
    return ::stat(path.c_str(), &a) == 0 && ::stat("/proc/self/ns/net", &b) == 0 &&
           a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

}  // namespace

void validate_sysctl(const oci::Spec& spec, const NamespacePlan& plan) {
    if (!spec.linux) return;
    static const char* kIpc[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                 "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                                 "kernel.shm_rmid_forced"};
    for (const auto& [key, value] : spec.linux->sysctl) {
        std::string where = "linux.sysctl: sysctl \"" + key + "\"";
        bool ipc = key.rfind("fs.mqueue.", 0) == 0;
        for (const char* k : kIpc) ipc = ipc || key == k;
        if (ipc) {
            if (!(plan.listed & CLONE_NEWIPC)) throw Error(where + " is not allowed in the host's ipc namespace", EINVAL);
            continue;
        }
        if (key.rfind("net.", 0) == 0) {
            if (!(plan.listed & CLONE_NEWNET)) throw Error(where + " is not allowed in the host's network namespace", EINVAL);
            const oci::Namespace* net = oci::find_namespace(*spec.linux, "network");
            if (net && !net->path.empty() && same_as_host_netns(net->path))
                throw Error(where + " is not allowed in the host's network namespace", EINVAL);
            continue;
        }
        if (key == "kernel.hostname" || key == "kernel.domainname") {
            if (!(plan.listed & CLONE_NEWUTS)) throw Error(where + " is not allowed in the host's uts namespace", EINVAL);
            // The init sets the sysctls after the names, so a different value would silently
            // win over the dedicated field: refuse the conflict instead (runc, crun).
            bool host = key == "kernel.hostname";
            const std::string& field = host ? spec.hostname : spec.domainname;
            if (!field.empty() && field != value)
                throw Error(where + " is not allowed as it conflicts with the OCI \"" +
                                (host ? "hostname" : "domainname") + "\" field (\"" + value + "\" against \"" +
                                field + "\")", EINVAL);
            continue;
        }
        throw Error(where + " is not in a separate kernel namespace", EINVAL);
    }
}

void ParentNamespaces::save(int flag) {
    std::string self = std::string("/proc/self/ns/") + oci::namespace_type(flag)->for_children;
    int fd = ::open(self.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("open " + self);
    saved_.emplace_back(flag, Fd(fd));
}

ParentNamespaces::ParentNamespaces(std::vector<std::pair<int, Fd>> joins) {
    try {
        for (auto& [flag, fd] : joins) {
            save(flag);
            if (::setns(fd.get(), flag) < 0) throw_errno("join the container's namespace");
        }
    } catch (...) {
        restore();
        throw;
    }
}

ParentNamespaces::ParentNamespaces(const NamespacePlan& plan, const oci::Spec& spec) {
    try {
        for (const auto& [flag, path] : plan.parent_joins) {
            save(flag);
            int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) throw_errno("open namespace path " + path);
            Fd f(fd);
            if (::setns(fd, flag) < 0) throw_errno("join namespace " + path);
        }
        if (plan.new_time) {
            save(CLONE_NEWTIME);
            if (::unshare(CLONE_NEWTIME) < 0) throw_errno("unshare time namespace");
            std::string offsets;
            for (const auto& [clock, off] : spec.linux->time_offsets)
                offsets += clock + " " + std::to_string(off.secs) + " " + std::to_string(off.nanosecs) + "\n";
            if (!offsets.empty()) text::write_file("/proc/self/timens_offsets", offsets);
        }
    } catch (...) {
        restore();
        throw;
    }
}

void ParentNamespaces::restore() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) ::setns(it->second.get(), it->first);
    saved_.clear();
}

ParentNamespaces::~ParentNamespaces() { restore(); }

void write_id_maps(pid_t pid, const oci::Linux& lx) { rootless::write_maps(pid, lx); }

}  // namespace skiff::container
