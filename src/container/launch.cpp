// The steps of container/launch.hpp that create, run and exec share.
#include "container/launch.hpp"

#include <sched.h>
#include <signal.h>

#include "base/error.hpp"
#include "container/internal.hpp"
#include "linux/channel.hpp"
#include "linux/syscalls.hpp"

namespace skiff::container {

Launched clone_process(uint64_t clone_flags, int cgroup_fd, const std::function<void()>& child_main) {
    struct clone_args args = {};
    int raw_pidfd = -1;
    args.flags = clone_flags | CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
    args.pidfd = reinterpret_cast<uint64_t>(&raw_pidfd);
    args.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) args.cgroup = uint64_t(cgroup_fd);
    long r = sys::clone3(&args);
    if (r < 0) throw_errno("clone3");
    if (r == 0) {
        child_main();
        ::_exit(1);  // child_main never returns; this only makes sure
    }
    Launched process;
    process.pid = pid_t(r);
    process.pidfd.reset(raw_pidfd);
    return process;
}

void publish_process(const std::string& pid_file, const std::string& pidfd_socket, const Launched& process) {
    if (!pid_file.empty()) write_pid_file(pid_file, process.pid);
    if (!pidfd_socket.empty()) {
        Fd socket(connect_unix(pidfd_socket, "pidfd socket"));
        send_fds(socket.get(), "", {process.pidfd.get()});
    }
}

ForwardedSignals::ForwardedSignals(bool foreground, bool with_sigchld) {
    sigemptyset(&set_);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&set_, sig);
    if (with_sigchld) sigaddset(&set_, SIGCHLD);
    if (foreground) ::sigprocmask(SIG_BLOCK, &set_, nullptr);
}

}  // namespace skiff::container
