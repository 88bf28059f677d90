// One interface over the host's cgroup layout (unified v2, legacy v1, hybrid). The
// container layer never touches cgroup files itself.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "oci/spec.hpp"

namespace skiff::cgroups {

struct Options {
    std::string cgroups_path;          // linux.cgroupsPath ("" = default under "skiff")
    std::string container_id;
    bool systemd = false;              // --systemd-cgroup
    // runc's rootless cgroups: the systemd driver asks the user's own manager (systemd_user.hpp),
    // and a device program the user may not attach is skipped, as runc does.
    bool rootless = false;
    std::string root = "/sys/fs/cgroup";  // tests point this at a temp tree
    // "" detects the layout from /proc/self/mountinfo; "unified" | "legacy" | "hybrid" takes
    // it from the directories under root instead (unit tests on a temp tree).
    std::string layout;
    // Where relative cgroupsPaths are anchored (runc anchors them at its own cgroup).
    std::string proc_self_cgroup = "/proc/self/cgroup";
    // Manager::paths() of an earlier open(): reopen exactly these directories.
    std::map<std::string, std::string> paths;
    // The config's annotations: the systemd driver takes org.systemd.property.* from them.
    std::map<std::string, std::string> annotations;
    // Settings accepted but ignored on this host (kernel memory, ...). Default: stderr.
    std::function<void(const std::string&)> warn;
    // The container runs without a cgroup (none_manager.hpp); its processes are found from
    // the init's pid.
    bool none = false;
    pid_t init_pid = 0;
    // With `none`: the init's mount namespace is the container's own (made by its create, not
    // joined by path), so every process in it is the container's (exec'd ones included).
    bool none_own_mount_ns = false;
};

class Manager {
public:
    // One mounted hierarchy and the container's cgroup in it (init mounts /sys/fs/cgroup).
    struct Hierarchy {
        std::string name;       // directory under the root: "memory", "unified"; "" = pure v2
        std::string fstype;     // "cgroup" | "cgroup2"
        std::string options;    // mount data to mount it again: "cpu,cpuacct", "name=systemd"
        std::string host_path;  // the container's cgroup in it, on the host
        // host_path as `rel` below `base` (the cgroup root), so that one open of base and
        // openat-relative lookups reach it without walking /sys each time (fs.hpp:
        // anchors); base empty: use host_path.
        std::string base;
        std::string rel;
    };

    virtual ~Manager() = default;
    // Creates the cgroup(s) and applies the resources. Nothing runs in it yet.
    virtual void create(const oci::Resources* resources) = 0;
    // After clone, while the init still waits for the runtime: a driver that can only place
    // a running process (systemd starts the scope with the init's pid) places it here and
    // then applies the resources. The cgroupfs driver placed it at clone already.
    virtual void attach_init(pid_t pid) {}
    // An O_PATH/O_DIRECTORY fd of the v2 cgroup for clone3(CLONE_INTO_CGROUP) (pure v2, or the
    // unified hierarchy of a hybrid host), or -1 when there is none. Owned by the manager.
    virtual int clone_into_fd() = 0;
    // For each v1 hierarchy: its `tasks` file, open for writing, and its path. A single-threaded
    // child writes "0" to each to move itself: the kernel then skips the global threadgroup
    // lock, whose first write-lock after a quiet spell waits an RCU grace period (~7 ms here,
    // against ~90 us). Owned by the manager; empty on pure v2.
    struct JoinFile {
        int fd;
        std::string path;
    };
    virtual const std::vector<JoinFile>& join_files() = 0;
    // `exec --cgroup [controller:]path`: join_files() and clone_into_fd() then name the
    // existing sub-cgroup `path` below the container's cgroup, in the hierarchy holding
    // `controller` (every hierarchy when it is empty). Call before those two.
    virtual void use_sub_cgroup(const std::string& controller, const std::string& path) = 0;
    // Moves pid into every hierarchy of the container's cgroup.
    virtual void add_process(pid_t pid) = 0;
    // `update`: re-applies a resources block.
    virtual void update(const oci::Resources& resources) = 0;
    virtual void freeze() = 0;
    virtual void thaw() = 0;
    virtual bool frozen() = 0;
    // Whether a freezer holds, or is taking, this cgroup, its own or a parent's: v1
    // freezer.state FROZEN or FREEZING, v2 cgroup.freeze or cgroup.events "frozen 1". A process
    // placed there stops before it runs a step (`create` refuses such a cgroup).
    virtual bool freezing() { return frozen(); }
    // Every pid in the container's cgroup (and nested sub-cgroups).
    virtual std::vector<pid_t> pids() = 0;
    // Signals every process of the cgroup (SIGKILL uses cgroup.kill where present).
    virtual void kill_all(int signal) = 0;
    // Removes the cgroup and sub-cgroups, retrying EBUSY. Missing cgroup is fine.
    virtual void destroy() = 0;
    // The usual end: the pid namespace took every process with its init, so one rmdir per
    // hierarchy removes the cgroup, with no freeze or scan. false (and nothing removed from the
    // hierarchy that lists the processes) when a task or sub-cgroup is left: kill_all, destroy.
    virtual bool remove_if_empty() = 0;
    // runc's `events --stats` "data" object as JSON text.
    virtual std::string stats_json() = 0;
    // What the container layer persists in its state to reopen the same cgroup later.
    virtual std::map<std::string, std::string> paths() = 0;
    virtual std::vector<Hierarchy> hierarchies() = 0;
    // How many processes the kernel OOM-killed in the cgroup (for `events` "oom"), if known.
    virtual std::optional<uint64_t> oom_kill_count() { return std::nullopt; }
};

// The systemd driver when opts.systemd, else cgroupfs for the layout found under opts.root.
std::unique_ptr<Manager> open(const Options& opts);

// Called first thing by the commands that create a cgroup, before the config is read: the
// systemd driver starts its D-Bus companion here, so that the companion's start and its
// connection to systemd overlap with everything the runtime does until the init exists.
// Never fails (a companion that cannot start is reported by create()). `rootless`: the user's
// manager (Options::rootless).
void prestart(bool systemd, bool rootless = false);

}  // namespace skiff::cgroups
