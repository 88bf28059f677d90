// The init of a process that `exec` adds to a running container: join the container's
// namespaces, take the process attributes, exec. Same image as the runtime, non-dumpable
// until execve, so the container cannot reach the runtime's binary through /proc/<pid>/exe.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "init/context.hpp"
#include "init/lsm_labels.hpp"
#include "init/steps.hpp"
#include "linux/channel.hpp"
#include "linux/error.hpp"
#include "linux/log.hpp"
#include "linux/rootpath.hpp"
#include "linux/seccomp.hpp"

namespace skiff::init {
namespace {

}  // namespace

void run_exec(Context& ctx, const std::vector<std::pair<int, int>>& namespaces) {
    Channel& ch = *ctx.channel;
    try {
        ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        join_cgroups(ctx);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        const oci::Process& proc = *ctx.spec->process;
        const auto& seccomp = ctx.spec->linux ? ctx.spec->linux->seccomp : std::nullopt;
        // Only a NOTIFY rule has anything to send; the spec ignores a listenerPath without one.
        if (seccomp && seccomp::uses_notify(*seccomp))
            ctx.listener_socket_fd = connect_unix(seccomp->listener_path, "seccomp listener");
        apply_lsm_labels(ctx);  // through the host's /proc and /sys, before joining the container
        // The user namespace first: it owns the others.
        for (const auto& [type, fd] : namespaces)
            if (type == CLONE_NEWUSER && ::setns(fd, type) < 0) throw_errno("join the container's user namespace");
        for (const auto& [type, fd] : namespaces)
            if (type != CLONE_NEWUSER && ::setns(fd, type) < 0) throw_errno("join the container's namespaces");
        for (const auto& [type, fd] : namespaces) ::close(fd);

        Fd console;
        if (proc.terminal) {
            int root = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (root < 0) throw_errno("open /");
            Fd root_fd(root);
            console = setup_console(ctx, root_fd.get());
        }
        if (!proc.cwd.empty() && ::chdir(proc.cwd.c_str()) < 0) throw_errno("chdir to cwd (\"" + proc.cwd + "\")");
        char cwd[4096];
        if (!::getcwd(cwd, sizeof cwd) || cwd[0] != '/')
            throw Error("process.cwd " + proc.cwd + " is outside the container's root", EPERM);
        std::string executable = find_executable(proc);
        std::vector<std::string> env = process_env(proc);
        set_limits_and_scheduling(proc);
        if (console) {
            if (::setsid() < 0) throw_errno("setsid");
            if (::ioctl(console.get(), TIOCSCTTY, 0) < 0) throw_errno("set controlling terminal");
            for (int i = 0; i < 3; ++i)
                if (::dup2(console.get(), i) < 0) throw_errno("dup2 console");
            console.reset();
        }
        ::umask(proc.user.umask.value_or(022));
        ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
        // The channel is close-on-exec: the runtime reads end-of-stream as "exec'd".
        drop_privileges(ctx);
        exec_process(ctx, executable, env);
    } catch (const std::exception& e) {
        try {
            ch.send(Msg::error, e.what());
        } catch (...) {
        }
    }
    _exit(127);
}

}  // namespace skiff::init
