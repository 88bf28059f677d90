#include "init/tmpcopyup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>
#include <utility>

#include "base/error.hpp"
#include "linux/fd.hpp"
#include "linux/rootpath.hpp"
#include "linux/syscalls.hpp"

namespace skiff::init {
namespace {

// Raw syscalls, typed like the rest of linux/syscalls.hpp (glibc's own fsconfig takes an
// enum that <linux/mount.h> also defines).
int raw_fsopen(const char* fs, unsigned flags) {
    return int(::syscall(SYS_fsopen, fs, flags));
}
int raw_fsconfig(int fd, unsigned cmd, const char* key, const char* value, int aux) {
    return int(::syscall(SYS_fsconfig, fd, cmd, key, value, aux));
}
int raw_fsmount(int fd, unsigned flags, unsigned attr_flags) {
    return int(::syscall(SYS_fsmount, fd, flags, attr_flags));
}

// A tree deeper than this is refused: each level holds descriptors, and an image has no
// business nesting a tmpfs destination this deep.
constexpr int kMaxDepth = 128;

struct CopyState {
    int dst_root;
    // Hard links: (dev, ino) of a multiply-linked source file -> its copy, relative to dst_root.
    std::map<std::pair<dev_t, ino_t>, std::string> links;
};

Fd open_dir_at(int dir, const char* name) {
    int fd = ::openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) throw_errno(std::string("open directory ") + name);
    return Fd(fd);
}

// Owner first: chown clears the set-id bits, so the mode comes after it. An id that has no
// mapping in our user namespace (shown as the overflow id) cannot be given: the copy keeps
// our own there, as cp -a does for an owner it cannot set.
void set_owner_mode(int fd, const struct stat& st) {
    if (::fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EINVAL && errno != EPERM)
        throw_errno("chown");
    if (::fchmod(fd, st.st_mode & 07777) < 0) throw_errno("chmod");
}

void set_times(int fd, const struct stat& st) {
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    if (::futimens(fd, ts) < 0) throw_errno("set times");
}

void copy_data(int in, int out, off_t size) {
    off_t done = 0;
    while (done < size) {
        ssize_t n = ::sendfile(out, in, nullptr, size_t(size - done));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("copy data");
        }
        if (n == 0) break;  // the file shrank under us; copy what there is
        done += n;
    }
}

void copy_entries(int src, int dst, const std::string& rel, CopyState& state, int depth);

void copy_one(int src, int dst, const char* name, const std::string& rel, CopyState& state,
              int depth) {
    struct stat st;
    if (::fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0) throw_errno("stat");
    const std::string path = rel.empty() ? name : rel + "/" + name;
    switch (st.st_mode & S_IFMT) {
        case S_IFDIR: {
            if (::mkdirat(dst, name, 0700) < 0) throw_errno("mkdir");
            Fd s = open_dir_at(src, name);
            Fd d = open_dir_at(dst, name);
            copy_entries(s.get(), d.get(), path, state, depth + 1);
            set_owner_mode(d.get(), st);
            set_times(d.get(), st);  // last: filling the directory changed its mtime
            return;
        }
        case S_IFREG: {
            auto key = std::make_pair(st.st_dev, st.st_ino);
            if (st.st_nlink > 1) {
                auto it = state.links.find(key);
                if (it != state.links.end()) {
                    if (::linkat(state.dst_root, it->second.c_str(), dst, name, 0) < 0)
                        throw_errno("link to " + it->second);
                    return;
                }
            }
            int in = ::openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
            if (in < 0) throw_errno("open");
            Fd in_fd(in);
            int out = ::openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (out < 0) throw_errno("create");
            Fd out_fd(out);
            copy_data(in, out, st.st_size);
            set_owner_mode(out, st);
            set_times(out, st);
            if (st.st_nlink > 1) state.links.emplace(key, path);
            return;
        }
        case S_IFLNK: {
            std::string target(size_t(st.st_size) + 1, '\0');
            ssize_t n = ::readlinkat(src, name, target.data(), target.size());
            if (n < 0) throw_errno("readlink");
            if (size_t(n) >= target.size()) throw Error("symlink changed while copying", EAGAIN);
            target.resize(size_t(n));
            if (::symlinkat(target.c_str(), dst, name) < 0) throw_errno("symlink");
            if (::fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 &&
                errno != EINVAL && errno != EPERM)
                throw_errno("chown");
            struct timespec ts[2] = {st.st_atim, st.st_mtim};
            if (::utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW) < 0) throw_errno("set times");
            return;
        }
        default: {
            // fifo, socket, device node. A user namespace may not create devices: those are
            // left out rather than failing the container (a device belongs in linux.devices).
            bool device = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
            if (::mknodat(dst, name, st.st_mode & (S_IFMT | 0600), st.st_rdev) < 0) {
                if (device && errno == EPERM) return;
                throw_errno("mknod");
            }
            // O_PATH never opens the node itself (a fifo would block); chown and chmod go
            // through /proc, as the fd cannot take them directly.
            int fd = ::openat(dst, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) throw_errno("open");
            Fd node(fd);
            std::string proc = rootpath::fd_name(fd);
            if (::fchownat(AT_FDCWD, proc.c_str(), st.st_uid, st.st_gid, 0) < 0 &&
                errno != EINVAL && errno != EPERM)
                throw_errno("chown");
            if (::fchmodat(AT_FDCWD, proc.c_str(), st.st_mode & 07777, 0) < 0) throw_errno("chmod");
            struct timespec ts[2] = {st.st_atim, st.st_mtim};
            if (::utimensat(AT_FDCWD, proc.c_str(), ts, 0) < 0) throw_errno("set times");
            return;
        }
    }
}

void copy_entries(int src, int dst, const std::string& rel, CopyState& state, int depth) {
    if (depth > kMaxDepth) throw Error("more than " + std::to_string(kMaxDepth) + " levels deep", ELOOP);
    int listing = ::openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (listing < 0) throw_errno("open directory");
    DIR* dir = ::fdopendir(listing);
    if (!dir) {
        int err = errno;
        ::close(listing);
        throw_errno("read directory", err);
    }
    struct Closer {
        DIR* d;
        ~Closer() { ::closedir(d); }
    } closer{dir};
    for (;;) {
        errno = 0;
        struct dirent* e = ::readdir(dir);
        if (!e) {
            if (errno) throw_errno("read directory");
            break;
        }
        const char* name = e->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
        with_context(rel.empty() ? name : rel + "/" + name,
                     [&] { copy_one(src, dst, name, rel, state, depth); });
    }
}

bool has_key(const std::vector<std::pair<std::string, std::string>>& items, const char* key) {
    for (const auto& [k, v] : items)
        if (k == key) return true;
    return false;
}

}  // namespace

void copy_tree(int src_dir, int dst_dir) {
    CopyState state{dst_dir, {}};
    copy_entries(src_dir, dst_dir, "", state, 0);
}

void copy_dir_attributes(int src_dir, int dst_dir) {
    struct stat st;
    if (::fstat(src_dir, &st) < 0) throw_errno("stat");
    set_owner_mode(dst_dir, st);
    set_times(dst_dir, st);
}

void mount_tmpfs_copyup(int root_fd, const std::string& dest, const MountOptions& o,
                        const std::string& source, const std::string& selinux_context) {
    Fd target = rootpath::mkdir_all(root_fd, dest);

    int fs = raw_fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0) throw_errno("fsopen tmpfs");
    Fd fs_fd(fs);
    // Without it the mount's source reads "none" (podman and users grep for "tmpfs").
    if (raw_fsconfig(fs, FSCONFIG_SET_STRING, "source", source.c_str(), 0) < 0)
        throw_errno("tmpfs source \"" + source + "\"");
    const auto items = split_fs_data(o.data);
    for (const auto& [key, value] : items) {
        int r = value.empty() ? raw_fsconfig(fs, FSCONFIG_SET_FLAG, key.c_str(), nullptr, 0)
                              : raw_fsconfig(fs, FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0);
        if (r < 0) throw_errno("tmpfs option \"" + key + (value.empty() ? "" : "=" + value) + "\"");
    }
    // The label whole (fsconfig takes no quotes; its category set has commas).
    if (!selinux_context.empty() &&
        raw_fsconfig(fs, FSCONFIG_SET_STRING, "context", selinux_context.c_str(), 0) < 0)
        throw_errno("linux.mountLabel: tmpfs context \"" + selinux_context + "\"");
    // Superblock flags that mount(2) takes as MS_* bits.
    const std::pair<unsigned long, const char*> sb_flags[] = {
        {MS_SYNCHRONOUS, "sync"}, {MS_DIRSYNC, "dirsync"}, {MS_LAZYTIME, "lazytime"}};
    for (const auto& [flag, name] : sb_flags)
        if ((o.flags & flag) && raw_fsconfig(fs, FSCONFIG_SET_FLAG, name, nullptr, 0) < 0)
            throw_errno(std::string("tmpfs option \"") + name + "\"");
    if (raw_fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) throw_errno("create tmpfs");

    // Read-only only after the copy: the copy has to write.
    TopAttrs attrs = bind_top_attrs(o);
    int m = raw_fsmount(fs, FSMOUNT_CLOEXEC, unsigned(attrs.set & ~uint64_t(MOUNT_ATTR_RDONLY)));
    if (m < 0) throw_errno("fsmount tmpfs");
    Fd mnt(m);

    int src = ::openat(target.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (src < 0) throw_errno("open " + dest + " to copy it up");
    Fd src_fd(src);
    int root = ::openat(m, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) throw_errno("open the new tmpfs");
    Fd root_fd_new(root);
    with_context("copy up " + dest, [&] {
        copy_tree(src, root);
        // The tmpfs root looks like the directory it covers, unless the options say otherwise.
        if (!has_key(items, "mode") && !has_key(items, "uid") && !has_key(items, "gid"))
            copy_dir_attributes(src, root);
    });
    root_fd_new.reset();
    src_fd.reset();

    if (attrs.set & MOUNT_ATTR_RDONLY) {
        struct mount_attr a = {};
        a.attr_set = MOUNT_ATTR_RDONLY;
        if (sys::mount_setattr(m, "", AT_EMPTY_PATH, &a) < 0) throw_errno("make tmpfs read-only");
    }
    if (sys::move_mount(m, "", target.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        throw_errno("move tmpfs onto " + dest);
}

}  // namespace skiff::init
