// `exec` into a VM-isolated container: through the guest agent (vm/agent_client.hpp).
#pragma once
#include "container/exec.hpp"
#include "container/state.hpp"

namespace skiff::container {

// After exec's own checks; `tty` is whether the process gets a terminal.
int exec_in_vm(const Globals& g, const ExecOptions& o, Status s, bool tty);

}  // namespace skiff::container
