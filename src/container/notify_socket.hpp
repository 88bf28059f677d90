// systemd's sd_notify protocol through the runtime, as runc relays it: with NOTIFY_SOCKET set,
// create/run give the container the directory <root>/<id>:notify at /run/notify (read-only)
// and NOTIFY_SOCKET=/run/notify/notify.sock; start/run bind that socket before the process
// runs, wait for its READY= line (or its exit) and pass READY, MAINPID and a BARRIER on to
// the host's NOTIFY_SOCKET. Nothing of this runs when NOTIFY_SOCKET is unset or empty.
#pragma once
#include <signal.h>
#include <sys/types.h>

#include <string>

#include "linux/fd.hpp"
#include "oci/spec.hpp"

namespace skiff::container {
class TtyRelay;
}

namespace skiff::container::notify {

// The host's NOTIFY_SOCKET, or "" when unset (one getenv).
const char* host_address();

// create/run, under the id's lock: makes the directory, adds its mount and the env entry to
// `spec`. `bind`: `run`, whose process starts without a `start`: the socket is bound now.
// Returns the bound socket (invalid when not bound).
Fd setup_for_create(oci::Spec& spec, const std::string& state_root, const std::string& id, bool bind);

// start: the container's socket, bound, when NOTIFY_SOCKET is set here and the container was
// created with its directory; invalid otherwise.
Fd bind_for_start(const std::string& state_root, const std::string& id);

// A datagram socket connected to the host's NOTIFY_SOCKET ("/path" or "@abstract"); throws
// an error naming NOTIFY_SOCKET when it cannot be reached.
Fd connect_host();

// Waits until a datagram on `own` holds a READY= line, or the process behind `pidfd` exits
// (then returns false, forwarding nothing), and sends the host that line, MAINPID=main_pid
// and BARRIER=1 (waiting up to 30 s for the host to close the barrier's pipe).
// `signals`, when given (a foreground run, signals blocked): a signalfd whose signals go on to
// the process meanwhile, so that a stop before READY is not held back.
// `tty`: run's own pty, relayed meanwhile, so that output before READY cannot stall the process.
bool relay_ready(int own, int host, int pidfd, pid_t main_pid, const sigset_t* signals = nullptr,
                 TtyRelay* tty = nullptr);

// delete: the directory and its socket.
void remove_dir(const std::string& state_root, const std::string& id);

}  // namespace skiff::container::notify
