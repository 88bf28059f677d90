// Everything the container's init needs between clone and execve. The init runs in the
// cloned child (same image, copied memory), so this is plain data plus inherited fds.
#pragma once
#include <string>
#include <vector>

#include "linux/channel.hpp"
#include "oci/spec.hpp"

namespace skiff::init {

// One cgroup hierarchy to show at /sys/fs/cgroup inside the container.
struct CgroupMount {
    std::string name;       // "memory", "cpu,cpuacct", "unified"; "" for a pure v2 host
    std::string fstype;     // "cgroup" | "cgroup2"
    std::string options;    // mount options for a fresh mount in a cgroup namespace
    std::string host_path;  // the container's cgroup directory on the host
    std::string base;       // host_path is `rel` below base (empty: rel is host_path)
    std::string rel;
};

// A v1 hierarchy's `tasks` file of the container's cgroup, opened by the runtime; the child
// writes "0" to it to move itself (see cgroups::Manager::join_files for why not cgroup.procs).
struct CgroupJoin {
    int fd;
    std::string path;
};

// process.apparmorProfile, process.selinuxLabel and linux.mountLabel as this host can apply
// them (init/lsm_labels.hpp): empty where there is nothing to apply.
struct LsmLabels {
    bool resolved = false;
    std::string apparmor_profile;
    std::string selinux_label;
    std::string mount_label;
};

struct Context {
    const oci::Spec* spec = nullptr;
    std::string id;
    std::string bundle;
    std::string rootfs;           // absolute host path of root.path
    Channel* channel = nullptr;   // the child's end
    int exec_fifo_fd = -1;        // read end; a byte arrives at `start`
    int console_socket_fd = -1;   // --console-socket, connected
    int preserve_fds = 0;         // fds 3..3+N-1 stay open
    bool bind_console = true;     // /dev/console from the pty (create), not for exec
    bool no_pivot = false;
    bool no_new_keyring = false;  // --no-new-keyring: keep the runtime's session keyring
    bool new_user_ns = false;
    // An unprivileged runtime writes our id maps through /proc/<pid> (itself or newuidmap),
    // which stays the user's only while we are dumpable: non-dumpable from "go" on instead.
    bool dumpable_until_go = false;
    // The runtime itself runs in a user namespace other than the host's (rootless podman's):
    // mknod is refused there too, so devices are bound from the host as with new_user_ns.
    bool runtime_in_user_ns = false;
    bool new_cgroup_ns = false;
    bool new_uts_ns = false;
    bool new_net_ns = false;      // made by clone3 (not joined): its loopback starts down
    std::vector<CgroupMount> cgroup_mounts;
    std::vector<CgroupJoin> cgroup_joins;  // done first thing; closed after
    std::string state_json;       // filled from the parent's `go` message
    std::string start_state_json; // the state startContainer hooks get (status "created")
    int host_pid = 0;             // the init's pid as the host sees it (from `go`)
    int listener_socket_fd = -1;  // linux.seccomp.listenerPath, connected before pivot
    // Per mounts[i]: a detached idmapped tree the runtime built (init/idmap.hpp), or -1.
    std::vector<int> idmapped_trees;
    // Per linux.devices[i]: its node made by the runtime (init/device_nodes.hpp), or -1.
    std::vector<int> device_trees;
    // Read-only tmpfs (and /dev) mounts, made read-only only once what goes below them exists.
    std::vector<std::string> readonly_later;
    LsmLabels lsm;
};

// The init: every step from "wait for the parent" to execve. Never returns; failures are sent
// to the parent (before `ready`) or printed to stderr (after), then the process exits.
[[noreturn]] void container_init(Context& ctx);

// The init of an `exec`: joins the container's cgroups, then the given (CLONE_NEW*, fd)
// namespaces, user first, then sets up the process and execs. Errors go to the channel.
[[noreturn]] void exec_init(Context& ctx, const std::vector<std::pair<int, int>>& namespaces);

// Moves the calling (single-threaded) process into each of ctx.cgroup_joins and closes them.
void join_cgroups(Context& ctx);

}  // namespace skiff::init
