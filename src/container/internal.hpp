// Pieces shared by the lifecycle files of container/.
#pragma once
#include <signal.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cgroups/manager.hpp"
#include "container/lifecycle.hpp"
#include "container/namespaces.hpp"
#include "container/state.hpp"
#include "linux/fd.hpp"
#include "oci/spec.hpp"
#include "vm/vm.hpp"

namespace skiff::container {

struct Prepared {
    std::string bundle, rootfs, config_text;
    oci::Spec spec;
    NamespacePlan ns;
    int listen_fds = 0;  // $LISTEN_FDS passed on to the container
    std::optional<vm::Plan> vm;  // VM isolation: the spec above is then the host side's (QEMU)
    Fd notify_socket;  // `run` with NOTIFY_SOCKET: the container's, bound (notify_socket.hpp)
};

// <bundle>/config.json as text: create keeps it verbatim in the state file and parses it.
std::string read_config_text(const std::string& bundle);

// Everything that can be checked without touching the host: a bad input stops here.
// Kills what is left in a cgroup of a failed create or restore and removes it; failures warn.
void discard_cgroup(cgroups::Manager& cgroup);
Prepared prepare(const Globals& g, const CreateOptions& o);
// The rest of create; the init's pidfd goes to *pidfd_out and the saved record to
// *record_out when given (for `run`).
pid_t create_prepared(const Globals& g, const CreateOptions& o, Prepared& prepared, Fd* pidfd_out,
                      Record* record_out = nullptr);

class TtyRelay;
// The foreground part of `run` and `exec`: forwards the signals in `forward` (blocked by the
// caller) to the process through its pidfd, relays `tty` when given, reaps orphans when we
// are their subreaper, and returns the process's exit code (128+N for signal N), or nothing
// when it could not be waited for.
// `deliver`, when given, may take a signal over (true: delivered another way, e.g. through
// a VM's agent).
std::optional<int> wait_in_foreground(int pidfd, pid_t pid, const sigset_t& forward, TtyRelay* tty,
                                      bool reap_orphans, const std::function<bool(int)>& deliver = {});

// --pid-file: the pid, written to a temp file and renamed into place (create and exec).
void write_pid_file(const std::string& path, pid_t pid);

}  // namespace skiff::container
