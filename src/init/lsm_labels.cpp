#include "init/lsm_labels.hpp"

#include <fcntl.h>
#include <sys/xattr.h>

#include "base/error.hpp"
#include "linux/log.hpp"
#include "linux/lsm_attr.hpp"
#include "linux/rootpath.hpp"

namespace skiff::init {

void resolve_lsm_labels(Context& ctx, const std::string& host_root, bool with_mounts) {
    if (ctx.lsm.resolved) return;
    ctx.lsm = LsmLabels{};
    ctx.lsm.resolved = true;
    const oci::Process& p = *ctx.spec->process;
    const std::string mount_label = ctx.spec->linux && with_mounts ? ctx.spec->linux->mount_label : "";
    // Nothing is read from the host unless a label asks for it.
    if (!p.apparmor_profile.empty()) {
        if (lsm::apparmor_enabled(host_root))
            ctx.lsm.apparmor_profile = p.apparmor_profile;
        else
            log::warn("process.apparmorProfile \"" + p.apparmor_profile +
                      "\" not applied: AppArmor is not enabled on this host");
    }
    if (!p.selinux_label.empty() || !mount_label.empty()) {
        if (lsm::selinux_enabled(host_root)) {
            ctx.lsm.selinux_label = p.selinux_label;
            ctx.lsm.mount_label = mount_label;
        } else {
            if (!p.selinux_label.empty())
                log::warn("process.selinuxLabel \"" + p.selinux_label +
                          "\" not applied: SELinux is not enabled on this host");
            if (!mount_label.empty())
                log::warn("linux.mountLabel \"" + mount_label +
                          "\" not applied: SELinux is not enabled on this host");
        }
    }
}

void apply_lsm_labels(Context& ctx, int attr_dir) {
    resolve_lsm_labels(ctx, "", false);  // unresolved: an exec, which makes no mounts
    const LsmLabels& l = ctx.lsm;
    if (l.apparmor_profile.empty() && l.selinux_label.empty()) return;
    Fd own;
    if (attr_dir < 0) {
        own = lsm::open_thread_attr_dir();
        attr_dir = own.get();
    }
    if (!l.apparmor_profile.empty())
        with_context("process.apparmorProfile", [&] { lsm::set_apparmor_exec(attr_dir, l.apparmor_profile); });
    if (!l.selinux_label.empty())
        with_context("process.selinuxLabel \"" + l.selinux_label + "\"",
                     [&] { lsm::set_selinux_exec(attr_dir, l.selinux_label); });
}

std::string mount_context_for(const Context& ctx, const std::string& type, bool bind) {
    if (ctx.lsm.mount_label.empty() || bind) return "";
    // SELinux cannot label proc or sysfs; cgroup trees and binds keep the host's labels;
    // mqueue is labelled by xattr (label_mqueue_root).
    for (const char* t : {"proc", "sysfs", "cgroup", "cgroup2", "mqueue", "bind"})
        if (type == t) return "";
    return ctx.lsm.mount_label;
}

void label_mqueue_root(const Context& ctx, int root_fd, const std::string& dest) {
    const std::string& label = ctx.lsm.mount_label;
    if (label.empty()) return;
    Fd dir = rootpath::open(root_fd, dest, O_RDONLY | O_DIRECTORY);
    if (!dir) throw_errno("linux.mountLabel: open " + dest);
    if (::fsetxattr(dir.get(), "security.selinux", label.data(), label.size(), 0) < 0)
        throw_errno("linux.mountLabel: label " + dest + " \"" + label + "\"");
}

}  // namespace skiff::init
