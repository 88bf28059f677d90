// The container's root: propagation of "/", the rootfs bind, pivot_root (or MS_MOVE+chroot).
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "init/steps.hpp"
#include "base/error.hpp"
#include "base/text.hpp"
#include "linux/rootpath.hpp"
#include "linux/syscalls.hpp"

namespace skiff::init {
namespace {

unsigned long propagation_flag(const std::string& name) {
    if (name == "shared") return MS_SHARED;
    if (name == "rshared") return MS_SHARED | MS_REC;
    if (name == "slave") return MS_SLAVE;
    if (name == "rslave" || name.empty()) return MS_SLAVE | MS_REC;
    if (name == "private") return MS_PRIVATE;
    if (name == "rprivate") return MS_PRIVATE | MS_REC;
    if (name == "unbindable") return MS_UNBINDABLE;
    if (name == "runbindable") return MS_UNBINDABLE | MS_REC;
    throw Error("linux.rootfsPropagation: unknown value \"" + name + "\"");
}

// The mount point that holds `path` (longest prefix in mountinfo).
std::string mount_point_of(const std::string& path) {
    std::string info = text::read_file("/proc/self/mountinfo"), best = "/";
    for (auto line : text::lines(info)) {
        auto f = text::fields(line);
        if (f.size() < 5) continue;
        std::string m(f[4]);
        if ((path == m || path.rfind(m == "/" ? m : m + "/", 0) == 0) && m.size() > best.size())
            best = m;
    }
    return best;
}

// --no-pivot keeps the old root's mounts under the moved rootfs, and they still count for
// the kernel: a user namespace may mount a fresh proc or sysfs (one without the masked
// paths' covers) while some full, uncovered mount of that type is in the mount namespace.
// So every full proc and sysfs mount outside the rootfs is detached first, or covered with
// a tmpfs where it cannot be (a locked mount), as runc's msMoveRoot does.
void hide_proc_and_sys_outside(const std::string& rootfs) {
    std::string info = text::read_file("/proc/self/mountinfo");
    std::vector<std::string> targets;
    for (auto line : text::lines(info)) {
        // id parent major:minor root mount-point options [optional...] - fstype source ...
        auto f = text::fields(line);
        size_t dash = 6;
        while (dash < f.size() && f[dash] != "-") ++dash;
        if (dash + 1 >= f.size() || f[3] != "/") continue;  // a bind of a subtree is not full
        if (f[dash + 1] != "proc" && f[dash + 1] != "sysfs") continue;
        std::string mp = text::unescape_mountinfo(f[4]);
        if (mp == rootfs || mp.rfind(rootfs + "/", 0) == 0) continue;  // the container's own
        targets.push_back(mp);
    }
    for (const auto& mp : targets) {
        // Slave first, so the detach cannot propagate to the host. ENOENT or EINVAL: a mount
        // above it was detached already and took it along.
        if (::mount(nullptr, mp.c_str(), nullptr, MS_SLAVE | MS_REC, nullptr) < 0) {
            if (errno == ENOENT || errno == EINVAL) continue;
            throw_errno("--no-pivot: make " + mp + " rslave");
        }
        if (::umount2(mp.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) continue;
        if (errno != EINVAL && errno != EPERM) throw_errno("--no-pivot: detach " + mp);
        if (::mount("tmpfs", mp.c_str(), "tmpfs", 0, nullptr) < 0)
            throw_errno("--no-pivot: cover " + mp + " with a tmpfs");
    }
}

}  // namespace

Fd prepare_rootfs(Context& ctx) {
    const auto& lx = ctx.spec->linux;
    unsigned long prop = propagation_flag(lx ? lx->rootfs_propagation : "");
    if (::mount(nullptr, "/", nullptr, prop, nullptr) < 0)
        throw_errno("set propagation of / (linux.rootfsPropagation)");
    // pivot_root(".", ".") refuses a shared new root (it is also the put_old mount) and a
    // shared parent. After a recursive slave or private change nothing is shared and
    // mountinfo need not be read; otherwise the rootfs's parent mount is made private
    // first, so the rootfs bind below is born private. A shared rootfsPropagation is applied
    // to the new root after pivot_root: a peer group of the container's own, so the
    // container's mounts never propagate onto the host (runc 1.1 behaves the same way).
    if (prop != (MS_SLAVE | MS_REC) && prop != (MS_PRIVATE | MS_REC)) {
        std::string parent = mount_point_of(rootpath::split_parent(ctx.rootfs).first);
        if (::mount(nullptr, parent.c_str(), nullptr, MS_PRIVATE, nullptr) < 0)
            throw_errno("make " + parent + " private");
    }
    // A bind of the rootfs onto itself makes it a mount point pivot_root can use.
    if (::mount(ctx.rootfs.c_str(), ctx.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
        throw_errno("bind mount rootfs " + ctx.rootfs);
    int fd = ::open(ctx.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_errno("open rootfs " + ctx.rootfs);
    return Fd(fd);
}

void make_root_readonly(int root_fd) {
    struct mount_attr attr = {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (sys::mount_setattr(root_fd, "", AT_EMPTY_PATH, &attr) < 0)
        throw_errno("make the root readonly (root.readonly)");
}

void pivot_to(Context& ctx, int root_fd) {
    if (::fchdir(root_fd) < 0) throw_errno("chdir to rootfs");
    if (ctx.no_pivot) {
        hide_proc_and_sys_outside(ctx.rootfs);
        if (::mount(".", "/", nullptr, MS_MOVE, nullptr) < 0) throw_errno("move rootfs to /");
        if (::chroot(".") < 0) throw_errno("chroot");
    } else {
        // pivot_root(".", ".") stacks the old root under the new one; detaching "." then
        // drops it, with no directory needed inside the image.
        int old_root = ::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (old_root < 0) throw_errno("open the old root");
        Fd old_root_fd(old_root);
        if (sys::pivot_root(".", ".") < 0) throw_errno("pivot_root");
        // "." from the new root's directory names the new root, not the old one stacked on
        // it: step into the old root by fd. It may still hold shared mounts
        // (rootfsPropagation shared): make it a recursive slave first so detaching it can
        // never unmount anything on the host.
        if (::fchdir(old_root_fd.get()) < 0) throw_errno("chdir to the old root");
        if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0) throw_errno("make the old root rslave");
        if (::umount2(".", MNT_DETACH) < 0) throw_errno("detach the old root");
    }
    if (::chdir("/") < 0) throw_errno("chdir /");
    const auto& lx = ctx.spec->linux;
    // shared and unbindable are set on the new root itself: the bind above was born private
    if (lx && (lx->rootfs_propagation == "shared" || lx->rootfs_propagation == "rshared" ||
               lx->rootfs_propagation == "unbindable" ||
               lx->rootfs_propagation == "runbindable")) {
        if (::mount(nullptr, "/", nullptr, propagation_flag(lx->rootfs_propagation), nullptr) < 0)
            throw_errno("make / " + lx->rootfs_propagation);
    }
}

}  // namespace skiff::init
