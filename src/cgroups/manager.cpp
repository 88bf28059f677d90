#include "cgroups/manager.hpp"

#include "cgroups/fs_manager.hpp"
#include "cgroups/none_manager.hpp"
#include "cgroups/systemd_manager.hpp"
#include "cgroups/systemd_user.hpp"

namespace skiff::cgroups {

std::unique_ptr<Manager> open(const Options& opts) {
    if (opts.none) return std::make_unique<NoneManager>(opts.init_pid, opts.none_own_mount_ns);
    if (opts.systemd) return std::make_unique<systemd::SystemdManager>(opts);
    return std::make_unique<FsManager>(opts);
}

void prestart(bool systemd, bool rootless) {
    if (!systemd) return;
    systemd::use_user_manager(rootless);
    systemd::prestart_companion();
}

}  // namespace skiff::cgroups
