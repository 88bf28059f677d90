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
#include "init/process_attrs.hpp"
#include "init/lsm_labels.hpp"
#include "init/steps.hpp"
#include "linux/channel.hpp"
#include "base/error.hpp"
#include "linux/log.hpp"
#include "linux/rootpath.hpp"
#include "init/seccomp_profile.hpp"

namespace skiff::init {
namespace {

// The user namespace first: it owns the others.
void join_container_namespaces(const std::vector<std::pair<int, int>>& namespaces) {
    for (const auto& [type, fd] : namespaces)
        if (type == CLONE_NEWUSER && ::setns(fd, type) < 0) throw_errno("join the container's user namespace");
    for (const auto& [type, fd] : namespaces)
        if (type != CLONE_NEWUSER && ::setns(fd, type) < 0) throw_errno("join the container's namespaces");
    for (const auto& [type, fd] : namespaces) ::close(fd);
}

// A pty in the container's devpts, when the process asked for a terminal.
Fd open_console(Context& ctx, const oci::Process& process) {
    if (!process.terminal) return Fd();
    int root = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) throw_errno("open /");
    Fd root_fd(root);
    return setup_console(ctx, root_fd.get());
}

}  // namespace

void exec_init(Context& ctx, const std::vector<std::pair<int, int>>& namespaces) {
    try {
        const oci::Process& proc = *ctx.spec->process;
        detach_from_runtime(false);
        apply_initial_cpu_affinity(proc);
        join_cgroups(ctx);
        connect_seccomp_listener(ctx);
        apply_lsm_labels(ctx);  // through the host's /proc and /sys, before joining the container
        join_container_namespaces(namespaces);
        Fd console = open_console(ctx, proc);
        make_console_stdio(console);
        ProcessImage image = take_process_attributes(proc);
        // As for the container's init (runc does the same for exec).
        apply_personality(*ctx.spec);
        apply_memory_policy(*ctx.spec);
        apply_final_cpu_affinity(proc);
        // The channel is close-on-exec: the runtime reads end-of-stream as "exec'd".
        drop_privileges(ctx);
        exec_process(ctx, image.executable, image.env);
    } catch (const std::exception& e) {
        try {
            ctx.channel->send(Msg::error, e.what());
        } catch (...) {
        }
    }
    _exit(127);
}

}  // namespace skiff::init
