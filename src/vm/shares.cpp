// Bind mounts and volumes shared into the guest over the rootfs's virtio-fs share (shares.hpp).
// One virtiofsd for all: a virtiofsd per source would cost its RSS (a few MiB) and a vhost-user
// device per mount; the staging directory costs one tmpfs in virtiofsd's mount namespace.
#include "vm/shares.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/error.hpp"

namespace skiff::vm {
namespace {

bool is_bind(const oci::Mount& m) {
    bool bind = m.type == "bind";
    for (const auto& o : m.options) bind |= o == "bind" || o == "rbind";
    return bind;
}

bool has_option(const oci::Mount& m, const char* opt) {
    for (const auto& o : m.options)
        if (o == opt) return true;
    return false;
}

void mount_or_throw(const std::string& src, const std::string& dst, const char* type, unsigned long flags,
                    const char* data) {
    if (::mount(src.empty() ? nullptr : src.c_str(), dst.c_str(), type, flags, data) < 0)
        throw_errno("stage " + (src.empty() ? std::string(type ? type : "") : src) + " on " + dst);
}

// Read-only through the whole tree of a recursive bind (mount_setattr), else its top mount.
void make_readonly(const std::string& at) {
    struct mount_attr attr = {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::syscall(SYS_mount_setattr, AT_FDCWD, at.c_str(), AT_RECURSIVE, &attr, sizeof attr) == 0) return;
    mount_or_throw("", at, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr);
}

}  // namespace

std::vector<Share> plan_shares(const oci::Spec& spec, const std::string& bundle) {
    std::vector<Share> out;
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        const auto& m = spec.mounts[i];
        if (!is_bind(m)) continue;
        std::string field = "mounts[" + std::to_string(i) + "]";
        std::string source = m.source;
        if (source.empty()) throw Error(field + ".source: a bind mount needs a source", EINVAL);
        if (source[0] != '/') source = bundle + "/" + source;
        struct stat st;
        if (::stat(source.c_str(), &st) < 0)
            throw_errno(field + ".source: bind source " + source + " cannot be shared into the VM");
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
            throw Error(field + ": bind source " + source +
                            " is neither a directory nor a regular file: it cannot be shared into the VM",
                        EINVAL);
        out.push_back({i, source, "m" + std::to_string(i), has_option(m, "ro") || has_option(m, "rro"),
                       S_ISREG(st.st_mode)});
    }
    return out;
}

void share_guest_mounts(nlohmann::json& config, const std::vector<Share>& shares) {
    if (shares.empty()) return;
    auto& mounts = config["mounts"];
    for (const auto& s : shares) mounts.at(s.index)["source"] = std::string(kGuestShare) + "/" + s.name;
}

void stage_shares(const std::string& dir, const std::string& rootfs, const std::vector<Share>& shares) {
    if (::unshare(CLONE_NEWNS) < 0) throw_errno("unshare the mount namespace of virtiofsd");
    mount_or_throw("", "/", nullptr, MS_REC | MS_SLAVE, nullptr);  // nothing goes back to the host
    mount_or_throw("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k");
    std::string root = dir + "/rootfs";
    if (::mkdir(root.c_str(), 0755) < 0) throw_errno("mkdir " + root);
    mount_or_throw(rootfs, root, nullptr, MS_BIND | MS_REC, nullptr);
    for (const auto& s : shares) {
        std::string at = dir + "/" + s.name;
        if (s.file) {
            int fd = ::open(at.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (fd < 0) throw_errno("create " + at);
            ::close(fd);
        } else if (::mkdir(at.c_str(), 0755) < 0) {
            throw_errno("mkdir " + at);
        }
        mount_or_throw(s.source, at, nullptr, MS_BIND | MS_REC, nullptr);
        if (s.readonly) make_readonly(at);
    }
    // The staging tmpfs itself: nothing more is made there.
    mount_or_throw("", dir, nullptr, MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_RDONLY, nullptr);
}

}  // namespace skiff::vm
