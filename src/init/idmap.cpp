#include "init/idmap.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <utility>

#include "init/mount_options.hpp"
#include "init/steps.hpp"
#include "base/error.hpp"
#include "base/text.hpp"
#include "linux/syscalls.hpp"

namespace skiff::init {
namespace {

bool has_option(const oci::Mount& m, const char* name) {
    for (const auto& o : m.options)
        if (o == name) return true;
    return false;
}

std::string bind_source(const oci::Mount& m, const std::string& bundle) {
    if (!m.source.empty() && m.source[0] != '/') return bundle + "/" + m.source;
    return m.source;
}

// The user namespace a mount without mappings of its own borrows: the container's.
Fd container_userns(const oci::Spec& spec) {
    const oci::Linux* lx = spec.linux ? &*spec.linux : nullptr;
    if (lx) {
        for (const auto& ns : lx->namespaces) {
            if (ns.type != "user") continue;
            if (!ns.path.empty()) {
                int fd = ::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC);
                if (fd < 0) throw_errno("open user namespace " + ns.path);
                return Fd(fd);
            }
            if (!lx->uid_mappings.empty() && !lx->gid_mappings.empty())
                return make_userns(lx->uid_mappings, lx->gid_mappings);
        }
    }
    // The config check (oci) refuses this earlier; keep the message if it is bypassed.
    throw Error("idmap without uidMappings and gidMappings needs a user namespace", EINVAL);
}

Fd idmapped_tree(const oci::Mount& m, const std::string& source, int userns) {
    MountOptions o = parse_mount_options(m.options);
    Fd tree = clone_bind_tree(source, o);
    int t = tree.get();
    struct mount_attr idm = {};
    idm.attr_set = MOUNT_ATTR_IDMAP;
    idm.userns_fd = uint64_t(userns);
    // idmap maps the top mount only; ridmap every mount of an rbind tree.
    unsigned flags = AT_EMPTY_PATH | (o.ridmap ? AT_RECURSIVE : 0);
    if (sys::mount_setattr(t, "", flags, &idm) < 0) {
        int err = errno;
        if (err == EINVAL)
            throw Error("idmap " + source + ": the filesystem does not support idmapped mounts",
                        err);
        throw_errno("idmap " + source, err);
    }
    return tree;
}

}  // namespace

std::string render_id_map(const std::vector<oci::IdMapping>& maps) {
    std::string s;
    for (const auto& m : maps)
        s += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
             std::to_string(m.size) + "\n";
    return s;
}

bool wants_idmap(const oci::Mount& m) {
    return !m.uid_mappings.empty() || !m.gid_mappings.empty() || has_option(m, "idmap") ||
           has_option(m, "ridmap");
}

Fd make_userns(const std::vector<oci::IdMapping>& uids, const std::vector<oci::IdMapping>& gids) {
    const pid_t runtime = ::getpid();
    int raw_pidfd = -1;
    struct clone_args clone_request = {};
    clone_request.flags = CLONE_NEWUSER | CLONE_PIDFD;
    clone_request.pidfd = reinterpret_cast<uint64_t>(&raw_pidfd);
    clone_request.exit_signal = SIGCHLD;
    long r = sys::clone3(&clone_request);
    if (r < 0) throw_errno("clone a holder of the mount's user namespace");
    if (r == 0) {
        // Only holds the namespace while the runtime writes its maps; dies with the runtime.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (::getppid() != runtime) ::_exit(0);
        for (;;) ::pause();
    }
    const pid_t pid = pid_t(r);
    Fd pidfd(raw_pidfd);
    auto reap = [&] {
        sys::pidfd_send_signal(pidfd.get(), SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
    };
    try {
        const std::string base = "/proc/" + std::to_string(pid);
        text::write_file(base + "/uid_map", render_id_map(uids));
        text::write_file(base + "/gid_map", render_id_map(gids));
        int ns = ::open((base + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC);
        if (ns < 0) throw_errno("open " + base + "/ns/user");
        reap();
        return Fd(ns);
    } catch (...) {
        reap();
        throw;
    }
}

IdmappedMounts IdmappedMounts::prepare(const oci::Spec& spec, const std::string& bundle) {
    IdmappedMounts out;
    // Mounts with the same maps share one namespace, as crun does.
    std::map<std::pair<std::string, std::string>, Fd> by_maps;
    Fd borrowed;
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        const oci::Mount& m = spec.mounts[i];
        if (!wants_idmap(m)) continue;
        with_context("mounts[" + std::to_string(i) + "] (" + m.destination + ")", [&] {
            int userns = -1;
            if (m.uid_mappings.empty()) {
                if (!borrowed) borrowed = container_userns(spec);
                userns = borrowed.get();
            } else {
                auto key = std::make_pair(render_id_map(m.uid_mappings),
                                          render_id_map(m.gid_mappings));
                auto it = by_maps.find(key);
                if (it == by_maps.end())
                    it = by_maps.emplace(key, make_userns(m.uid_mappings, m.gid_mappings)).first;
                userns = it->second.get();
            }
            if (out.trees_.size() < spec.mounts.size()) out.trees_.resize(spec.mounts.size());
            out.trees_[i] = idmapped_tree(m, bind_source(m, bundle), userns);
        });
    }
    return out;
}

std::vector<int> IdmappedMounts::fds() const {
    std::vector<int> v;
    v.reserve(trees_.size());
    for (const auto& t : trees_) v.push_back(t.get());
    return v;
}

}  // namespace skiff::init
