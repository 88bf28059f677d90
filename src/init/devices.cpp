// /dev inside the container: the default nodes, linux.devices, the standard links, and
// /dev/console bound from the pty peer by fd.
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "init/steps.hpp"
#include "base/error.hpp"
#include "linux/rootpath.hpp"
#include "linux/syscalls.hpp"

namespace skiff::init {
namespace {

const oci::Device kDefaultDevices[] = {
    {"c", "/dev/null", 1, 3, 0666, 0, 0},    {"c", "/dev/zero", 1, 5, 0666, 0, 0},
    {"c", "/dev/full", 1, 7, 0666, 0, 0},    {"c", "/dev/random", 1, 8, 0666, 0, 0},
    {"c", "/dev/urandom", 1, 9, 0666, 0, 0}, {"c", "/dev/tty", 5, 0, 0666, 0, 0},
};

mode_t type_bits(const std::string& t) {
    if (t == "b") return S_IFBLK;
    if (t == "p") return S_IFIFO;
    return S_IFCHR;  // "c" and "u"
}

// In a user namespace mknod is not allowed: bind the host's node instead, as runc does.
void bind_host_node(int root_fd, const oci::Device& d) {
    int tree = sys::open_tree(AT_FDCWD, d.path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) throw_errno("open host device " + d.path);
    Fd tree_fd(tree);
    Fd target = rootpath::ensure_file(root_fd, d.path, 0);
    if (sys::move_mount(tree, "", target.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        throw_errno("bind host device " + d.path);
}

// dir: the node's parent directory, already resolved inside the rootfs.
void create_node_in(int dir, const std::string& name, int root_fd, const oci::Device& d, bool in_user_ns) {
    mode_t mode = d.file_mode.value_or(0666) & 07777;
    dev_t dev = makedev(unsigned(d.major), unsigned(d.minor));
    if (::mknodat(dir, name.c_str(), mode | type_bits(d.type), dev) < 0) {
        if (errno == EEXIST) {
            // Replace whatever the image had there (a symlink is replaced, never followed).
            ::unlinkat(dir, name.c_str(), 0);
            if (::mknodat(dir, name.c_str(), mode | type_bits(d.type), dev) == 0) goto made;
        }
        if (errno == EPERM && in_user_ns) return bind_host_node(root_fd, d);
        throw_errno("mknod " + d.path);
    }
made:
    if (::fchmodat(dir, name.c_str(), mode, 0) < 0) throw_errno("chmod " + d.path);
    if (::fchownat(dir, name.c_str(), d.uid.value_or(0), d.gid.value_or(0), AT_SYMLINK_NOFOLLOW) < 0)
        throw_errno("chown " + d.path);
}

// The node the runtime made for us (device_nodes.hpp), bound over the path.
void bind_made_node(int root_fd, const oci::Device& d, int tree) {
    Fd target = rootpath::ensure_file(root_fd, d.path, 0);
    if (sys::move_mount(tree, "", target.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        throw_errno("bind device node " + d.path);
}

void create_node(int root_fd, const oci::Device& d, bool in_user_ns, int made) {
    auto [parent, name] = rootpath::split_parent(d.path);
    if (name.empty()) throw Error("device path " + d.path + " is not a file path", EINVAL);
    Fd dir = rootpath::mkdir_all(root_fd, parent);
    if (made >= 0) return bind_made_node(root_fd, d, made);
    create_node_in(dir.get(), name, root_fd, d, in_user_ns);
}

void link_in_dev(int dev_fd, const char* target, const char* name) {
    if (::symlinkat(target, dev_fd, name) < 0 && errno != EEXIST)
        throw_errno(std::string("symlink /dev/") + name);
}

bool dev_is_bind_mount(const oci::Spec& spec) {
    for (const auto& m : spec.mounts)
        if (rootpath::clean(m.destination) == "/dev")
            for (const auto& o : m.options)
                if (o == "bind" || o == "rbind") return true;
    return false;
}

}  // namespace

void create_devices(Context& ctx, int root_fd) {
    bool host_dev = dev_is_bind_mount(*ctx.spec);
    Fd dev;
    if (!host_dev) {
        dev = rootpath::mkdir_all(root_fd, "/dev");
        for (const auto& d : kDefaultDevices)
            create_node_in(dev.get(), d.path.substr(5), root_fd, d, ctx.new_user_ns || ctx.runtime_in_user_ns);
    }
    if (ctx.spec->linux)
        for (size_t i = 0; i < ctx.spec->linux->devices.size(); ++i) {
            const auto& d = ctx.spec->linux->devices[i];
            int made = i < ctx.device_trees.size() ? ctx.device_trees[i] : -1;
            with_context("linux.devices " + d.path,
                         [&] { create_node(root_fd, d, ctx.new_user_ns || ctx.runtime_in_user_ns, made); });
        }
    if (host_dev) return;
    int fd = ::openat(dev.get(), ".", O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_errno("open /dev");
    Fd devdir(fd);
    link_in_dev(devdir.get(), "/proc/self/fd", "fd");
    link_in_dev(devdir.get(), "/proc/self/fd/0", "stdin");
    link_in_dev(devdir.get(), "/proc/self/fd/1", "stdout");
    link_in_dev(devdir.get(), "/proc/self/fd/2", "stderr");
    struct stat st;
    if (::fstatat(devdir.get(), "pts", &st, 0) == 0 && S_ISDIR(st.st_mode)) {
        if (::fstatat(devdir.get(), "ptmx", &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISLNK(st.st_mode))
            ::unlinkat(devdir.get(), "ptmx", 0);
        link_in_dev(devdir.get(), "pts/ptmx", "ptmx");
    }
}

Fd setup_console(Context& ctx, int root_fd) {
    const auto& p = *ctx.spec->process;
    if (!p.terminal) return Fd();
    if (ctx.console_socket_fd < 0)
        throw Error("process.terminal is true but no --console-socket was given", EINVAL);
    // The pty comes from the container's own devpts instance.
    Fd ptmx = rootpath::open(root_fd, "/dev/pts/ptmx", O_RDWR | O_NOCTTY);
    if (!ptmx) ptmx = rootpath::open(root_fd, "/dev/ptmx", O_RDWR | O_NOCTTY);
    if (!ptmx) throw_errno("open /dev/ptmx in the container");
    int unlock = 0;
    if (::ioctl(ptmx.get(), TIOCSPTLCK, &unlock) < 0) throw_errno("unlock pty");
    int peer = ::ioctl(ptmx.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (peer < 0) throw_errno("open pty peer");
    Fd slave(peer);
    // The terminal belongs to the process's user, so it can use its own console; the group
    // stays the one devpts gave it (gid=5, tty, in the usual options), as runc leaves it.
    // Not an error where the ids are not mapped or /dev is read-only (runc skips it too).
    struct stat st;
    if (::fstat(slave.get(), &st) == 0 && st.st_uid != p.user.uid &&
        ::fchown(slave.get(), p.user.uid, st.st_gid) < 0 && errno != EINVAL && errno != EPERM &&
        errno != EROFS)
        throw_errno("chown the terminal to uid " + std::to_string(p.user.uid));
    if (p.console_size) {
        struct winsize ws = {};
        ws.ws_row = static_cast<unsigned short>(p.console_size->height);
        ws.ws_col = static_cast<unsigned short>(p.console_size->width);
        ::ioctl(slave.get(), TIOCSWINSZ, &ws);
    }
    if (!ctx.bind_console) {
        send_fds(ctx.console_socket_fd, "/dev/console", {ptmx.get()});
        ::close(ctx.console_socket_fd);
        ctx.console_socket_fd = -1;
        return slave;
    }
    // /dev/console is the peer itself, bound by fd: no path the image could swap.
    int tree = sys::open_tree(slave.get(), "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) throw_errno("clone pty peer mount");
    Fd tree_fd(tree);
    Fd console = rootpath::ensure_file(root_fd, "/dev/console", 0600);
    if (sys::move_mount(tree, "", console.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        throw_errno("bind /dev/console");
    send_fds(ctx.console_socket_fd, "/dev/console", {ptmx.get()});
    ::close(ctx.console_socket_fd);
    ctx.console_socket_fd = -1;
    return slave;
}

}  // namespace skiff::init
