// `ps` of a VM-isolated container (ps_vm.hpp). The host's cgroup holds only QEMU; the
// container's processes are the guest's, listed by the guest's skiff through the agent.
#include "container/ps_vm.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "container/state.hpp"
#include "vm/agent_client.hpp"

namespace skiff::container {

std::optional<std::string> ps_in_vm(const Globals& g, const std::string& id, const std::string& format) {
    validate_id(id);
    if (!vm::is_vm(g.root, id)) return std::nullopt;
    if (format != "json" && format != "table") throw Error("invalid format option: " + format, EINVAL);
    Store store(g.root);
    Record r = store.load(id);
    Status s = status_of(store, r);
    if (s == Status::paused)
        throw Error("ps: the VM is paused (frozen with its guest): resume it to list its processes", EINVAL);
    std::vector<vm::GuestProcess> procs;
    if (s == Status::running) procs = vm::guest_processes(g.root, id);  // else none, as runc lists
    if (format == "json") {
        nlohmann::json pids = nlohmann::json::array();
        for (const auto& p : procs) pids.push_back(p.pid);
        return pids.dump() + "\n";
    }
    std::string out = "UID        PID   PPID CMD\n";
    for (const auto& p : procs) {
        char line[64];
        std::snprintf(line, sizeof line, "%-8ld %5ld %6ld ", p.uid, p.pid, p.ppid);
        out += line + p.cmd + "\n";
    }
    return out;
}

}  // namespace skiff::container
