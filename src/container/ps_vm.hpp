// `ps` of a VM-isolated container: its processes as the guest sees them, through the agent.
#pragma once
#include <optional>
#include <string>

#include "container/lifecycle.hpp"

namespace skiff::container {

// The output of `ps` (format "json": the guest pids; "table": UID PID PPID CMD), or nothing
// when `id` is not VM-isolated.
std::optional<std::string> ps_in_vm(const Globals& g, const std::string& id, const std::string& format);

}  // namespace skiff::container
