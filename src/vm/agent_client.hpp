// The host's side of the agent channel (agent_channel.hpp): `exec` and `ps` in a
// VM-isolated container, reaching the guest agent over a session port.
#pragma once
#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace skiff::vm {

// Whether `id` is a VM-isolated container (its <root>/<id>:vm exists).
bool is_vm(const std::string& root, const std::string& id);

struct ExecRequest {
    std::string process_json;         // --process contents, or ""
    std::vector<std::string> flags;   // exec's process flags for the guest's skiff (--cwd, --env, ...)
    std::vector<std::string> args;    // the command, when no --process
    bool tty = false;                 // the process gets a terminal
    bool detach = false;
    std::string console_socket, pid_file;
};

// Runs the process in the guest, in the container the guest's skiff made: in the foreground
// returns its exit status (128+N for a signal). With `detach`, a small host process (its pid
// in pid_file) relays its stdio and exits with its status, as a shim that waits for the pid
// expects; returns 0 once the process started in the guest.
int exec(const std::string& root, const std::string& id, const ExecRequest& r);

// The container's processes as the guest sees them: pid, ppid, uid and command line.
struct GuestProcess {
    long pid = 0, ppid = 0, uid = 0;
    std::string cmd;
};
std::vector<GuestProcess> guest_processes(const std::string& root, const std::string& id);

// One session with the agent of the VM `id`: `request` is the start frame ("{dir}" among its
// args becomes the session's directory in the guest). With `captured`, the output is
// collected there; else stdin, stdout, stderr and signals are relayed as for `exec`.
// Returns the status the guest reports. (A pod VM's relay and teardown, pod_vm.hpp.)
int agent_session(const std::string& root, const std::string& id, nlohmann::json request, std::string* captured);

}  // namespace skiff::vm

namespace skiff::vm {

// With process.terminal, tells the guest the window size of the host's pty (QEMU's stdin,
// sized by whoever holds its master) so its own pty starts the same. A no-op otherwise.
void send_window_size(const std::string& root, const std::string& id, pid_t qemu);

}  // namespace skiff::vm
