// VM isolation: the container is built on the host as usual (namespaces, cgroup), but its
// process 1 is QEMU, which boots a guest kernel whose init is this same binary in agent mode;
// the agent runs the container's process inside the guest over the rootfs shared by virtio-fs.
//
// Chosen per container by the annotation run.oci.skiff.isolation=vm, or for a whole runtime
// handler by invoking the binary as `skiff-vm` (a symlink), with no annotation needed.
//
// The host half (this header) is called by container/: prepare() rewrites the parsed config
// into the host side's (QEMU as the process) before anything is created, start_host_side()
// makes the per-container directory and virtiofsd under the state lock, and teardown() undoes
// it. The guest half is agent.cpp, entered from main.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "oci/spec.hpp"
#include "vm/network.hpp"
#include "vm/shares.hpp"

namespace skiff::vm {

inline constexpr const char* kAnnotation = "run.oci.skiff.isolation";
inline constexpr const char* kHandlerName = "skiff-vm";

// main() records how the binary was invoked (argv[0]) before anything else.
void set_invoked_as(const char* argv0);
// True when this process is the guest's PID 1 (/init of the initramfs).
bool is_guest_init(int argc, char** argv);
// The guest agent: mounts, runs the container, powers the VM off. Never returns.
[[noreturn]] void agent_main();

// What create needs to carry from prepare to start_host_side.
struct Plan {
    std::string id;
    std::string state_root;
    std::string rootfs;        // the container's rootfs on the host, shared over virtio-fs
    std::string guest_config;  // config.json as the guest's skiff runs it
    std::string kernel_dir;    // holds vmlinuz
    std::string dir;           // <state root>/<id>:vm
    std::vector<Share> shares;  // bind mounts, served with the rootfs
    std::optional<NetPlan> net;  // the interface of a network namespace joined by path
    bool pod_vm = false;      // a CRI sandbox as its pod's VM (pod_vm.hpp)
    std::string pod_sandbox;  // an app container in that pod VM: the sandbox's id
    double boot_limit = 0;       // run.oci.skiff.vm.boot-timeout, 0 if absent (boot_limit.hpp)
};

// Whether the config (or the handler name) asks for VM isolation.
bool wanted(const oci::Spec& spec);

// Adds a character device node and its allow rule to the host side's config (QEMU's
// /dev/kvm, the tap's /dev/net/tun).
void grant_char_device(oci::Spec& spec, const std::string& path, int major, int minor, unsigned mode);

// Validates that the VM mode can honour `spec` (errors name the JSON field), checks the host
// has QEMU, virtiofsd and a guest kernel, and rewrites `spec` into the host side's: QEMU as
// the process, the host's root read-only as its root. `rootfs` becomes "/". Touches nothing.
Plan prepare(oci::Spec& spec, const std::string& config_text, std::string& rootfs, const std::string& bundle,
             const std::string& state_root, const std::string& id, int preserve_fds);

// Under the container's lock, after its record is saved: the per-container directory (the
// initramfs, the channels' files) and virtiofsd, which serves the rootfs to the guest.
void start_host_side(const Plan& plan);

// The host processes the VM needs beside QEMU (virtiofsd and its sandboxed child), for
// create to put into the container's cgroup once QEMU is in it: the overhead is charged there.
std::vector<pid_t> helper_pids(const std::string& state_root, const std::string& id);

// Kills virtiofsd and its child and waits until they are gone, and until QEMU (`vm_pid`,
// already dead) has no thread left (`delete`, before it removes the cgroup they are in); a
// no-op for other containers.
void stop_helpers(const std::string& state_root, const std::string& id, pid_t vm_pid);

// Kills virtiofsd and removes <root>/<id>:vm; a no-op for other containers.
void teardown(const std::string& state_root, const std::string& id);

// `kill`: forwards the signal to the container process through the agent. False when the
// container is not a running VM (the caller signals the init as usual).
bool forward_signal(const std::string& state_root, const std::string& id, int signal);

// `run`, and with `at_start` `start` and `run -d`: waits until the guest reports that the
// container process started, or kills the VM and throws after the time limit (boot_limit.hpp).
// QEMU ending first is the caller's to report in the foreground, an error `at_start`. A no-op
// for other containers.
void await_guest(const std::string& state_root, const std::string& id, int pidfd, bool at_start = false);

// The container process's exit status as the guest reported it, else `fallback` (QEMU's).
int exit_status(const std::string& state_root, const std::string& id, int fallback);

}  // namespace skiff::vm
