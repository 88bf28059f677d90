// A VM's terminal after start: the host's pty (QEMU's stdio) is resized by whoever holds its
// master, and the kernel tells only the pty's foreground process group, with SIGWINCH. QEMU
// ignores it, so with process.terminal the host side's process 1 starts as this binary: it
// forks a small watcher that stays in that process group, then becomes QEMU (same pid). The
// watcher sleeps in sigwaitinfo() and, at each SIGWINCH, sends the pty's new size to the
// agent over the control port ("winsize ROWS COLS"), which resizes the guest's pty: no
// polling. It dies with QEMU (its parent death signal, and QEMU is its pid namespace's init).
#pragma once
#include <string>
#include <vector>

namespace skiff::vm {

// QEMU's argv run behind the watcher: /proc/self/exe --skiff-vm-winch <ctl fifo> -- argv...
std::vector<std::string> behind_terminal_watch(const std::vector<std::string>& qemu_argv, const std::string& ctl);

// Whether this process was started as that wrapper (main() asks first).
bool is_terminal_watch(int argc, char** argv);
// Forks the watcher and executes QEMU. Never returns.
[[noreturn]] void terminal_watch_main(int argc, char** argv);

}  // namespace skiff::vm
