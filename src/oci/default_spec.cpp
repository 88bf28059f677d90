#include "oci/default_spec.hpp"

#include <unistd.h>

#include <nlohmann/json.hpp>

namespace skiff::oci {

namespace {

using ojson = nlohmann::ordered_json;  // keeps the field order of runc's template

// The 14 capabilities container engines grant by default (docker/containerd/podman).
ojson default_caps() {
    return ojson::array({"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
                         "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP",
                         "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
                         "CAP_AUDIT_WRITE"});
}

ojson mount(const char* dest, const char* type, const char* source, ojson options) {
    ojson m = {{"destination", dest}, {"type", type}, {"source", source}};
    if (!options.empty()) m["options"] = std::move(options);
    return m;
}

}  // namespace

std::string default_config_json(bool rootless, uint32_t host_uid, uint32_t host_gid) {
    ojson process = {
        {"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities",
         {{"bounding", default_caps()},
          {"effective", default_caps()},
          {"permitted", default_caps()}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true},
    };

    ojson devpts_opts = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"};
    // gid=5 (tty) does not exist in a user namespace that maps only the caller.
    if (!rootless) devpts_opts.push_back("gid=5");

    ojson mounts = ojson::array();
    mounts.push_back(mount("/proc", "proc", "proc", ojson::array()));
    mounts.push_back(mount("/dev", "tmpfs", "tmpfs",
                           {"nosuid", "strictatime", "mode=755", "size=65536k"}));
    mounts.push_back(mount("/dev/pts", "devpts", "devpts", devpts_opts));
    mounts.push_back(mount("/dev/shm", "tmpfs", "shm",
                           {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}));
    mounts.push_back(mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
    if (rootless) {
        // A fresh sysfs needs a network namespace owned by our user namespace; bind the host's.
        mounts.push_back(
            mount("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}));
    } else {
        mounts.push_back(mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}));
    }
    mounts.push_back(mount("/sys/fs/cgroup", "cgroup", "cgroup",
                           {"nosuid", "noexec", "nodev", "relatime", "ro"}));

    ojson linux = ojson::object();
    if (rootless) {
        linux["uidMappings"] = {{{"containerID", 0}, {"hostID", host_uid}, {"size", 1}}};
        linux["gidMappings"] = {{{"containerID", 0}, {"hostID", host_gid}, {"size", 1}}};
    } else {
        // Deny every device by default; the runtime adds the standard ones it creates.
        linux["resources"] = {{"devices", {{{"allow", false}, {"access", "rwm"}}}}};
    }
    ojson namespaces = ojson::array();
    for (const char* t : {"pid", "network", "ipc", "uts", "mount"}) {
        if (rootless && std::string_view(t) == "network") continue;
        namespaces.push_back({{"type", t}});
    }
    if (rootless) namespaces.push_back({{"type", "user"}});
    linux["namespaces"] = namespaces;
    linux["maskedPaths"] = {"/proc/acpi",          "/proc/asound",     "/proc/kcore",
                            "/proc/keys",          "/proc/latency_stats", "/proc/timer_list",
                            "/proc/timer_stats",   "/proc/sched_debug",   "/sys/firmware",
                            "/proc/scsi"};
    linux["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"};

    ojson doc = {
        {"ociVersion", "1.3.0"},
        {"process", std::move(process)},
        {"root", {{"path", "rootfs"}, {"readonly", true}}},
        {"hostname", "skiff"},
        {"mounts", std::move(mounts)},
        {"linux", std::move(linux)},
    };
    return doc.dump(2) + "\n";
}

std::string default_config_json(bool rootless) {
    // runc maps the effective ids, which are the ones that own the new user namespace.
    return default_config_json(rootless, static_cast<uint32_t>(geteuid()),
                               static_cast<uint32_t>(getegid()));
}

}  // namespace skiff::oci
