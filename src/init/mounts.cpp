// linux "mounts": each destination is resolved inside the rootfs by fd and mounted through
// that fd (/proc/self/fd/N or the mount API), never through a path the image could redirect.
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "init/locked_flags.hpp"
#include "init/lsm_labels.hpp"
#include "init/mount_options.hpp"
#include "init/mount_source.hpp"
#include "init/tmpcopyup.hpp"
#include "init/steps.hpp"
#include "base/error.hpp"
#include "linux/log.hpp"
#include "linux/lsm_attr.hpp"
#include "linux/rootpath.hpp"
#include "linux/syscalls.hpp"

namespace skiff::init {
namespace {

bool is_dir_fd(int fd) {
    struct stat st;
    return ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

// /proc and /sys must be real directories of the image: a symlink there (even one that
// stays inside the root) has been used to redirect proc writes (CVE-2019-16884 class).
void refuse_symlink(int root_fd, const std::string& dest) {
    auto [parent, name] = rootpath::split_parent(dest);
    if (name.empty()) return;
    Fd dir = rootpath::open(root_fd, parent, O_PATH | O_DIRECTORY);
    if (!dir) return;
    struct stat st;
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        throw Error("mount destination " + dest + " is a symlink in the rootfs: refused", ELOOP);
}

void set_attrs(int fd, const MountOptions& o, bool recursive) {
    if (!o.attr_set && !o.attr_clr) return;
    struct mount_attr attr = {};
    attr.attr_set = o.attr_set;
    attr.attr_clr = o.attr_clr;
    unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
    if (sys::mount_setattr(fd, "", flags, &attr) < 0) throw_errno("mount_setattr");
}

// Moves a detached tree (a bind clone, an idmapped tree, a copied-up tmpfs) onto dest,
// creating a directory or an empty file there to match what the tree's root is.
void attach_tree(int tree, int root_fd, const std::string& dest) {
    Fd target = is_dir_fd(tree) ? rootpath::mkdir_all(root_fd, dest)
                                : rootpath::ensure_file(root_fd, dest);
    if (sys::move_mount(tree, "", target.get(), "",
                        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        throw_errno("move bind mount into place");
}

// Bind: clone the source tree detached, set its flags there, then move it onto the target.
void bind_mount(const std::string& source, int root_fd, const std::string& dest,
                const MountOptions& o) {
    Fd tree = clone_bind_tree(source, o);
    attach_tree(tree.get(), root_fd, dest);
}

// A bind of mounts[index]. In a user namespace the container's root may be refused a source
// that the host's root can reach (a directory on the way only it may search): the runtime
// clones that one for us (init/mount_source.hpp), as runc does.
void bind_config_mount(Context& ctx, size_t index, const std::string& source, int root_fd,
                       const std::string& dest, const MountOptions& o) {
    Fd tree;
    try {
        tree = clone_bind_tree(source, o);
    } catch (const Error& e) {
        if (!ctx.new_user_ns || e.errnum() != EACCES) throw;
        tree = mount_tree_from_runtime(ctx, index);
    }
    attach_tree(tree.get(), root_fd, dest);
}

// A clone of the container's cgroup in hierarchy h. The runtime's own fds name mounts of the
// host's namespace, which open_tree cannot clone from this one; so the cgroup root is opened
// once here and each hierarchy found below it (no walk through /sys per hierarchy).
Fd clone_cgroup_tree(const CgroupMount& h, const MountOptions& o, Fd& base, std::string& base_path) {
    if (h.base.empty()) return clone_bind_tree(h.host_path, o);
    if (!base || base_path != h.base) {
        base.reset(::open(h.base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        base_path = h.base;
        if (!base) return clone_bind_tree(h.host_path, o);
    }
    return clone_bind_tree(h.rel, o, base.get());
}

void mount_cgroup(Context& ctx, int root_fd, const std::string& dest, const MountOptions& o) {
    Fd base;
    std::string base_path;
    Fd target = rootpath::mkdir_all(root_fd, dest);
    unsigned long flags = o.flags | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    bool pure_v2 = ctx.cgroup_mounts.size() == 1 && ctx.cgroup_mounts[0].name.empty();
    if (pure_v2) {
        // In a cgroup namespace a fresh cgroup2 mount shows the container's own cgroup.
        if (ctx.new_cgroup_ns) {
            if (rootpath::mount_at(target.get(), "cgroup2", "cgroup2", flags, nullptr) == 0)
                return;
        }
        MountOptions b = o;
        b.recursive = true;
        Fd tree = clone_cgroup_tree(ctx.cgroup_mounts[0], b, base, base_path);
        attach_tree(tree.get(), root_fd, dest);
        return;
    }
    // v1 / hybrid: a tmpfs with one directory per hierarchy, as on the host. The tmpfs is
    // fresh and the container has not run yet, so its directories are made and opened through
    // its fd, and the flags are set once, on the whole tree, at the end.
    std::string tmpfs_data = lsm::with_context_option("mode=755", mount_context_for(ctx, "tmpfs", false));
    if (rootpath::mount_at(target.get(), "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, tmpfs_data.c_str()) < 0)
        throw_errno("mount tmpfs on " + dest);
    Fd top = rootpath::open(root_fd, dest, O_PATH | O_DIRECTORY);
    if (!top) throw_errno("open " + dest);
    MountOptions plain = o;  // the clones carry no flags of their own: see the end
    plain.recursive = true;
    plain.flags = 0;
    plain.attr_set = plain.attr_clr = 0;
    for (const auto& h : ctx.cgroup_mounts) {
        if (::mkdirat(top.get(), h.name.c_str(), 0755) < 0 && errno != EEXIST)
            throw_errno("mkdir " + dest + "/" + h.name);
        Fd t(::openat(top.get(), h.name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!t) throw_errno("open " + dest + "/" + h.name);
        if (ctx.new_cgroup_ns) {
            const char* data = h.fstype == "cgroup2" ? nullptr : h.options.c_str();
            if (rootpath::mount_at(t.get(), "cgroup", h.fstype.c_str(), flags, data) == 0)
                continue;
        }
        Fd tree = clone_cgroup_tree(h, plain, base, base_path);
        if (sys::move_mount(tree.get(), "", t.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            throw_errno("bind " + h.host_path + " on " + dest + "/" + h.name);
    }
    TopAttrs a = bind_top_attrs(o);
    struct mount_attr attr = {};
    attr.attr_set = a.set | o.attr_set | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    attr.attr_clr = a.clr | o.attr_clr;
    if (sys::mount_setattr(top.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr) < 0)
        throw_errno("mount_setattr " + dest);
}

void mount_one(Context& ctx, int root_fd, const oci::Mount& m, size_t index) {
    MountOptions o = parse_mount_options(m.options);
    std::string dest = rootpath::clean(m.destination);
    if (m.type == "bind") o.bind = true;
    int idmapped = index < ctx.idmapped_trees.size() ? ctx.idmapped_trees[index] : -1;
    if ((m.type == "tmpfs" || dest == "/dev") && !o.bind && idmapped < 0 && (o.flags & MS_RDONLY)) {
        o.flags &= ~MS_RDONLY;
        ctx.readonly_later.push_back(dest);
    }
    if (idmapped >= 0) {
        // Built by the runtime with its flags and idmap already set (init/idmap.hpp).
        Fd tree(idmapped);
        ctx.idmapped_trees[index] = -1;
        attach_tree(tree.get(), root_fd, dest);
    } else if (o.bind) {
        std::string source = m.source;
        if (!source.empty() && source[0] != '/') source = ctx.bundle + "/" + source;
        bind_config_mount(ctx, index, source, root_fd, dest, o);
    } else if (o.tmpcopyup && m.type == "tmpfs") {
        mount_tmpfs_copyup(root_fd, dest, o, m.source.empty() ? m.type : m.source,
                           mount_context_for(ctx, m.type, false));
        if (o.attr_set || o.attr_clr) {
            Fd t = rootpath::open(root_fd, dest, O_PATH);
            if (t) set_attrs(t.get(), o, true);
        }
    } else if (m.type == "cgroup" || m.type == "cgroup2") {
        mount_cgroup(ctx, root_fd, dest, o);
    } else {
        if (m.type == "proc" || m.type == "sysfs") refuse_symlink(root_fd, dest);
        Fd target = rootpath::mkdir_all(root_fd, dest);
        std::string src = m.source.empty() ? m.type : m.source;
        std::string data = lsm::with_context_option(o.data, mount_context_for(ctx, m.type, false));
        if (rootpath::mount_at(target.get(), src.c_str(), m.type.c_str(), o.flags,
                               data.empty() ? nullptr : data.c_str()) < 0) {
            int err = errno;
            // sysfs cannot be mounted from a user namespace that does not own the netns;
            // a recursive read-only bind of the host's /sys is what runc does there.
            if (m.type == "sysfs" && (err == EPERM || err == EBUSY)) {
                MountOptions b = o;
                b.recursive = true;
                b.flags |= MS_RDONLY;
                bind_mount("/sys", root_fd, dest, b);
            } else {
                throw_errno("mount " + src + " (" + m.type + ") on " + dest, err);
            }
        }
        if (m.type == "mqueue") label_mqueue_root(ctx, root_fd, dest);
        if (o.attr_set || o.attr_clr) {
            Fd t = rootpath::open(root_fd, dest, O_PATH);
            if (t) set_attrs(t.get(), o, true);
        }
    }
    if (o.propagation) {
        Fd t = rootpath::open(root_fd, dest, O_PATH);
        if (!t || rootpath::mount_at(t.get(), nullptr, nullptr, o.propagation, nullptr) < 0)
            throw_errno("set propagation of " + dest);
    }
}

}  // namespace

Fd clone_bind_tree(const std::string& source, const MountOptions& o, int dirfd) {
    unsigned tree_flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (o.recursive ? AT_RECURSIVE : 0);
    bool self = dirfd != AT_FDCWD && source == ".";
    int tree = sys::open_tree(dirfd, self ? "" : source.c_str(), tree_flags | (self ? AT_EMPTY_PATH : 0));
    if (tree < 0) throw_errno("open bind source " + source);
    Fd tree_fd(tree);
    // Flags given with a bind (ro, nosuid, ...) apply to the top mount, as with a remount;
    // the recursive forms (rro, ...) to the whole tree.
    TopAttrs t = bind_top_attrs(o);
    keep_locked_flags(tree, t.set, t.clr);
    if (t.set || t.clr) {
        struct mount_attr top = {};
        top.attr_set = t.set;
        top.attr_clr = t.clr;
        if (sys::mount_setattr(tree, "", AT_EMPTY_PATH, &top) < 0)
            throw_errno("set bind mount flags");
    }
    MountOptions rec = o;
    keep_locked_flags(tree, rec.attr_set, rec.attr_clr);
    set_attrs(tree, rec, true);
    return tree_fd;
}

void finish_readonly_mounts(Context& ctx, int root_fd) {
    for (const auto& dest : ctx.readonly_later) {
        Fd t = rootpath::open(root_fd, dest, O_PATH | O_DIRECTORY);
        if (!t) throw_errno("open " + dest + " to make it read-only");
        struct mount_attr attr = {};
        attr.attr_set = MOUNT_ATTR_RDONLY;
        if (sys::mount_setattr(t.get(), "", AT_EMPTY_PATH, &attr) < 0)
            throw_errno("make " + dest + " read-only");
    }
    ctx.readonly_later.clear();
}

void mount_all(Context& ctx, int root_fd) {
    const auto& mounts = ctx.spec->mounts;
    for (size_t i = 0; i < mounts.size(); ++i) {
        with_context("mounts[" + std::to_string(i) + "] (" + mounts[i].destination + ")",
                     [&] { mount_one(ctx, root_fd, mounts[i], i); });
    }
}

}  // namespace skiff::init
