// The builder of container processes: the steps that create, run and exec share, in order.
//
//   1. build the init context       (per command: create's or exec's init::Context)
//   2. clone into namespaces+cgroup  clone_process
//   3. channel hand-shake            (per command: create's `go`/`ready`, exec's `error` or EOF)
//   4. pid file + pidfd socket       publish_process
//   5. foreground wait               ForwardedSignals, before step 2; wait_in_foreground
//
// A new way to start a process (restore, a VM) adds a step or replaces one; it does not copy
// the orchestration. youki's builder_impl is the model.
#pragma once
#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

#include "linux/fd.hpp"

namespace skiff::container {

// A process the runtime cloned: its pid as we see it, and a pidfd on it.
struct Launched {
    pid_t pid = 0;
    Fd pidfd;
};

// Step 2: clone3 with the CLONE_NEW* in `clone_flags`, born in the cgroup `cgroup_fd` refers
// to where the host allows it (CLONE_INTO_CGROUP; -1: the child joins its cgroups itself).
// The child runs `child_main`, which never returns.
Launched clone_process(uint64_t clone_flags, int cgroup_fd, const std::function<void()>& child_main);

// Step 4: --pid-file and --pidfd-socket ("" for either: not asked for).
void publish_process(const std::string& pid_file, const std::string& pidfd_socket, const Launched& process);

// Step 5, its first half: the signals a foreground runtime forwards to the process, blocked
// from before the clone so none is lost in between. In the background nothing is blocked.
class ForwardedSignals {
public:
    // with_sigchld: `run` also reaps the orphans it is subreaper of.
    ForwardedSignals(bool foreground, bool with_sigchld);
    const sigset_t& set() const { return set_; }

private:
    sigset_t set_;
};

}  // namespace skiff::container
