#include "init/device_nodes.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>

#include "linux/syscalls.hpp"

namespace skiff::init {
namespace {

mode_t node_type(const std::string& t) {
    if (t == "b") return S_IFBLK;
    if (t == "p") return S_IFIFO;
    return S_IFCHR;  // "c" and "u"
}

// The host id a container id maps to; unmapped ids stay 0 (seen as the overflow id inside).
uint32_t to_host(const std::vector<oci::IdMapping>& maps, uint32_t id) {
    for (const auto& m : maps)
        if (id >= m.container_id && id - m.container_id < m.size) return m.host_id + (id - m.container_id);
    return 0;
}

// A tmpfs of our own, detached (never on a path the host or the image could reach).
Fd detached_tmpfs() {
    int fs = int(::syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC));
    if (fs < 0) return Fd();
    Fd fs_fd(fs);
    if (::syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0700", 0) < 0 ||
        ::syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
        return Fd();
    int mnt = int(::syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC));
    return mnt < 0 ? Fd() : Fd(mnt);
}

}  // namespace

DeviceNodes DeviceNodes::prepare(const oci::Spec& spec, bool new_user_ns) {
    DeviceNodes out;
    if (!new_user_ns || !spec.linux || spec.linux->devices.empty()) return out;
    const oci::Linux& lx = *spec.linux;
    Fd dir = detached_tmpfs();
    if (!dir) return out;  // the init binds the host's nodes instead
    out.nodes_.resize(lx.devices.size());
    for (size_t i = 0; i < lx.devices.size(); ++i) {
        const oci::Device& d = lx.devices[i];
        std::string name = std::to_string(i);
        mode_t mode = d.file_mode.value_or(0666) & 07777;
        if (::mknodat(dir.get(), name.c_str(), mode | node_type(d.type),
                      makedev(unsigned(d.major), unsigned(d.minor))) < 0)
            continue;  // e.g. no CAP_MKNOD: the init falls back to the host's node
        if (::fchmodat(dir.get(), name.c_str(), mode, 0) < 0 ||
            ::fchownat(dir.get(), name.c_str(), to_host(lx.uid_mappings, d.uid.value_or(0)),
                       to_host(lx.gid_mappings, d.gid.value_or(0)), AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        int tree = sys::open_tree(dir.get(), name.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree >= 0) out.nodes_[i] = Fd(tree);
    }
    return out;
}

std::vector<int> DeviceNodes::fds() const {
    std::vector<int> v;
    for (const auto& n : nodes_) v.push_back(n ? n.get() : -1);
    return v;
}

}  // namespace skiff::init
