// The init's steps, one concern per file; init.cpp calls them in the spec's order.
#pragma once
#include <fcntl.h>
#include <string>

#include "init/context.hpp"
#include "linux/fd.hpp"

namespace skiff::init {

// rootfs.cpp: root propagation, rootfs bind, pivot_root / --no-pivot, readonly root.
Fd prepare_rootfs(Context& ctx);
void make_root_readonly(int root_fd);
void pivot_to(Context& ctx, int root_fd);

// mounts.cpp: every entry of "mounts", in order, resolved inside the root.
void mount_all(Context& ctx, int root_fd);
// A `ro` tmpfs or /dev is mounted writable (mounts, devices and the console go below it) and
// made read-only here, after the console, as runc does.
void finish_readonly_mounts(Context& ctx, int root_fd);
struct MountOptions;
// A detached clone of `source` (the whole tree when o.recursive) with the bind's flags set:
// the plain ones (ro, nosuid, ...) on the top mount, the recursive forms on every mount.
Fd clone_bind_tree(const std::string& source, const MountOptions& o, int dirfd = AT_FDCWD);

// devices.cpp: default /dev nodes and links, linux.devices, the console.
void create_devices(Context& ctx, int root_fd);
// Opens a pty in the container's devpts, binds its peer at /dev/console, sends the master
// to the console socket. Returns the peer (to become stdio), or an invalid Fd.
Fd setup_console(Context& ctx, int root_fd);

// paths.cpp: readonlyPaths, maskedPaths, sysctl, the cwd.
void apply_readonly_paths(Context& ctx, int root_fd);
void apply_masked_paths(Context& ctx, int root_fd);
void apply_sysctl(Context& ctx, int root_fd);
void write_oom_score_adj(int value);

// process.cpp: the process attributes and execve.
// Non-dumpable until execve (nothing in the container can open /proc/<init>/exe, the runtime's
// binary, CVE-2019-5736 class), none of the runtime's blocked signals, killed with it.
// stay_dumpable: rootless, until `go`, so the runtime can write the id maps.
void detach_from_runtime(bool stay_dumpable);
// linux.seccomp.listenerPath, connected while its path is the host's; only a NOTIFY rule has
// anything to send there (the spec ignores a listenerPath without one).
void connect_seccomp_listener(Context& ctx);
// The console's peer (if any) becomes the controlling terminal and stdio; then closed.
void make_console_stdio(Fd& console);
// stdio_null.cpp: stdio on the host's /dev/null becomes the container's /dev/null (after pivot).
void reopen_stdio_dev_null();
// What execve gets, found with the container's PATH.
struct ProcessImage {
    std::string executable;
    std::vector<std::string> env;
};
// The attributes of "process" before execve: cwd (and the check that it is inside the root:
// a leaked directory fd would not be), the executable, env, rlimits and scheduling, umask;
// the runtime's death no longer kills it.
ProcessImage take_process_attributes(const oci::Process& process);
// Looks up args[0] the way execvp does, with the container's PATH (after pivot).
std::string find_executable(const oci::Process& process);
std::vector<std::string> process_env(const oci::Process& process);
void set_limits_and_scheduling(const oci::Process& process);
// Close-on-exec for every fd but stdio and the preserved ones (before the filter), then
// credentials, capabilities, no_new_privs and seccomp, in the order runc uses. Whatever runs
// after it (the startContainer hooks, execve) runs under the container's filter.
void drop_privileges(Context& ctx);
// execve of the container process; throws if it fails.
void exec_process(Context& ctx, const std::string& executable, const std::vector<std::string>& env);

}  // namespace skiff::init
