// The foreground wait of `run` and `exec`: forward signals, relay the terminal, reap.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "container/internal.hpp"
#include "container/tty_relay.hpp"
#include "base/error.hpp"
#include "linux/syscalls.hpp"

namespace skiff::container {
namespace {

// Reaps re-parented orphans (we are their subreaper), never `keep`: its status is read
// through the pidfd.
void reap_orphans_but(pid_t keep) {
    for (;;) {
        siginfo_t peek = {};
        if (::waitid(P_ALL, 0, &peek, WEXITED | WNOHANG | WNOWAIT) < 0 || peek.si_pid == 0 ||
            peek.si_pid == keep)
            return;
        ::waitpid(peek.si_pid, nullptr, WNOHANG);
    }
}

}  // namespace

std::optional<int> wait_in_foreground(int pidfd, pid_t pid, const sigset_t& forward, TtyRelay* tty,
                                      bool reap_orphans, const std::function<bool(int)>& deliver) {
    Fd sig_fd(::signalfd(-1, &forward, SFD_CLOEXEC));
    std::optional<int> status;
    for (;;) {
        struct pollfd fds[4] = {{pidfd, POLLIN, 0}, {sig_fd.get(), POLLIN, 0},
                                {tty ? tty->stdin_fd() : -1, POLLIN, 0},
                                {tty ? tty->master_fd() : -1, POLLIN, 0}};
        if (::poll(fds, 4, -1) < 0 && errno != EINTR) break;
        if (tty && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) tty->on_stdin();
        if (tty && (fds[3].revents & (POLLIN | POLLHUP | POLLERR))) tty->on_master();
        if (fds[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            bool got = ::read(sig_fd.get(), &si, sizeof si) == sizeof si;
            // With our own pty the window size follows ours; the kernel tells the process.
            if (got && tty && si.ssi_signo == SIGWINCH) tty->on_winch();
            else if (got && si.ssi_signo != SIGCHLD && !(deliver && deliver(int(si.ssi_signo))))
                sys::pidfd_send_signal(pidfd, int(si.ssi_signo));
            if (reap_orphans) reap_orphans_but(pid);
        }
        if (fds[0].revents & POLLIN) {
            siginfo_t info = {};
            if (::waitid(P_PIDFD, id_t(pidfd), &info, WEXITED) == 0)
                status = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
            break;
        }
    }
    if (tty) tty->drain();
    return status;
}

}  // namespace skiff::container
