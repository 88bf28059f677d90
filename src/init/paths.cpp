// readonlyPaths, maskedPaths and sysctl. Each target is found by fd inside the root; the
// /dev/null used for masking and every /proc file written are verified by fd first.
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "init/lsm_labels.hpp"
#include "init/steps.hpp"
#include "base/error.hpp"
#include "linux/lsm_attr.hpp"
#include "linux/rootpath.hpp"
#include "linux/syscalls.hpp"

namespace skiff::init {
namespace {

void require_procfs(int fd, const std::string& what) {
    struct statfs sf;
    if (::fstatfs(fd, &sf) < 0) throw_errno("statfs " + what);
    if (sf.f_type != PROC_SUPER_MAGIC) throw Error(what + " is not on procfs: refused", EXDEV);
}

void move_tree_onto(int tree, int target, const std::string& what) {
    if (sys::move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        throw_errno("mount over " + what);
}

}  // namespace

void apply_readonly_paths(Context& ctx, int root_fd) {
    if (!ctx.spec->linux || !ctx.spec->linux->readonly_paths) return;
    for (const auto& path : *ctx.spec->linux->readonly_paths) {
        Fd target = rootpath::open(root_fd, path, O_PATH);
        if (!target) continue;  // a path the image does not have is nothing to protect
        int tree = sys::open_tree(target.get(), "",
                                  AT_EMPTY_PATH | AT_RECURSIVE | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0) throw_errno("readonlyPaths " + path);
        Fd tree_fd(tree);
        struct mount_attr attr = {};
        attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        if (sys::mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr) < 0)
            throw_errno("readonlyPaths " + path + ": make readonly");
        move_tree_onto(tree, target.get(), "readonlyPaths " + path);
    }
}

void apply_masked_paths(Context& ctx, int root_fd) {
    if (!ctx.spec->linux || !ctx.spec->linux->masked_paths) return;
    Fd null_tree;
    for (const auto& path : *ctx.spec->linux->masked_paths) {
        Fd target = rootpath::open(root_fd, path, O_PATH);
        if (!target) continue;
        struct stat st;
        if (::fstat(target.get(), &st) < 0) throw_errno("stat maskedPaths " + path);
        if (S_ISDIR(st.st_mode)) {
            // Labelled like the container's other tmpfs mounts, as runc does.
            std::string data = lsm::with_context_option("size=0", mount_context_for(ctx, "tmpfs", false));
            if (rootpath::mount_at(target.get(), "tmpfs", "tmpfs", MS_RDONLY, data.c_str()) < 0)
                throw_errno("maskedPaths " + path + ": mount empty tmpfs");
            continue;
        }
        // A /dev/null checked by fd to be the null device: the image cannot swap it.
        Fd null_fd = rootpath::open(root_fd, "/dev/null", O_PATH | O_NOFOLLOW);
        struct stat ns;
        if (!null_fd || ::fstat(null_fd.get(), &ns) < 0 || !S_ISCHR(ns.st_mode) ||
            major(ns.st_rdev) != 1 || minor(ns.st_rdev) != 3)
            throw Error("maskedPaths " + path + ": /dev/null in the container is not the null device", EPERM);
        int tree = sys::open_tree(null_fd.get(), "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0) throw_errno("maskedPaths " + path + ": clone /dev/null");
        Fd tree_fd(tree);
        move_tree_onto(tree, target.get(), "maskedPaths " + path);
    }
}

void apply_sysctl(Context& ctx, int root_fd) {
    if (!ctx.spec->linux || ctx.spec->linux->sysctl.empty()) return;
    Fd sys_dir = rootpath::open(root_fd, "/proc/sys", O_PATH | O_DIRECTORY);
    if (!sys_dir) throw Error("linux.sysctl: /proc/sys is not mounted in the container", ENOENT);
    require_procfs(sys_dir.get(), "/proc/sys");
    for (const auto& [key, value] : ctx.spec->linux->sysctl) {
        std::string rel;
        for (char c : key) rel += (c == '.') ? '/' : c;
        if (rel.find("..") != std::string::npos || rel.empty() || rel[0] == '/')
            throw Error("linux.sysctl: invalid key \"" + key + "\"", EINVAL);
        int fd = sys::openat2(sys_dir.get(), rel.c_str(), O_WRONLY | O_CLOEXEC | O_TRUNC, 0,
                              RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
                                  RESOLVE_NO_XDEV);
        if (fd < 0) throw_errno("linux.sysctl: open " + key);
        Fd f(fd);
        require_procfs(f.get(), "sysctl " + key);
        if (::write(f.get(), value.data(), value.size()) < 0)
            throw_errno("linux.sysctl: write " + key + "=" + value);
    }
}

void write_oom_score_adj(int value) {
    int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("open /proc/self/oom_score_adj");
    Fd f(fd);
    require_procfs(f.get(), "/proc/self/oom_score_adj");
    std::string v = std::to_string(value);
    if (::write(f.get(), v.data(), v.size()) < 0) throw_errno("write oom_score_adj " + v);
}

}  // namespace skiff::init
