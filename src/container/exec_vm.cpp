// `exec` into a VM-isolated container: the flags go to the guest's skiff, which runs the
// process in the container it made there (same namespaces and root as process 1).
#include "container/exec_vm.hpp"

#include "base/error.hpp"
#include "vm/agent_client.hpp"

namespace skiff::container {

int exec_in_vm(const Globals& g, const ExecOptions& o, Status s, bool tty) {
    // What names host objects cannot cross the VM boundary.
    if (s == Status::created)
        throw Error("exec: a VM-isolated container boots at start: cannot exec before it", EINVAL);
    if (o.preserve_fds > 0) throw Error("--preserve-fds: file descriptors cannot be passed into the VM", EINVAL);
    if (!o.pidfd_socket.empty())
        throw Error("--pidfd-socket: the process runs in the VM; the host has no pidfd for it", EINVAL);
    if (!o.sub_cgroups.empty()) throw Error("--cgroup: the VM's cgroups are the guest's own", EINVAL);
    vm::ExecRequest r;
    r.process_json = o.process_json;
    r.args = o.args;
    r.tty = tty;
    r.detach = o.detach;
    r.console_socket = o.console_socket;
    r.pid_file = o.pid_file;
    if (o.process_json.empty()) {
        auto flag = [&](const char* name, const std::string& v) {
            if (!v.empty()) r.flags.insert(r.flags.end(), {name, v});
        };
        flag("--cwd", o.cwd);
        flag("--user", o.user);
        for (const auto& e : o.env) flag("--env", e);
        for (const auto& gid : o.additional_gids) flag("--additional-gids", gid);
        for (const auto& c : o.caps) flag("--cap", c);
        if (o.no_new_privs) r.flags.push_back("--no-new-privs");
    }
    if (!o.apparmor.empty()) r.flags.insert(r.flags.end(), {"--apparmor", o.apparmor});
    if (!o.process_label.empty()) r.flags.insert(r.flags.end(), {"--process-label", o.process_label});
    return vm::exec(g.root, o.id, r);
}

}  // namespace skiff::container
