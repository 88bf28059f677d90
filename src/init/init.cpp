// The container's init, from clone to execve, as one ordered list of steps (see run()).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "init/context.hpp"
#include "init/hooks.hpp"
#include "init/steps.hpp"
#include "linux/channel.hpp"
#include "linux/error.hpp"
#include "linux/log.hpp"
#include "linux/netif.hpp"
#include "linux/program.hpp"
#include "linux/rootpath.hpp"
#include "linux/seccomp.hpp"

namespace skiff::init {
namespace {

void expect(Channel& ch, Msg type, Message& msg) {
    if (!ch.receive(msg)) throw Error("the runtime went away during create", EPIPE);
    if (msg.type != type) throw Error("unexpected message from the runtime", EPROTO);
}

void join_namespace(const std::string& path, int nstype, const char* what) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno(std::string("open ") + what + " namespace " + path);
    Fd f(fd);
    if (::setns(f.get(), nstype) < 0) throw_errno(std::string("join ") + what + " namespace " + path);
}

// Blocks until `start` writes a byte to the exec fifo. A fifo that never had a writer does
// not report hang-up, so select() sleeps until start opens it.
void wait_for_start(int fifo_fd) {
    for (;;) {
        fd_set set;
        FD_ZERO(&set);
        FD_SET(fifo_fd, &set);
        if (::select(fifo_fd + 1, &set, nullptr, nullptr, nullptr) < 0) {
            if (errno == EINTR) continue;
            throw_errno("wait for start");
        }
        char byte;
        ssize_t n = ::read(fifo_fd, &byte, 1);
        if (n == 1) return;
        if (n < 0 && errno != EAGAIN && errno != EINTR) throw_errno("read exec fifo");
        if (n == 0) ::usleep(1000);  // a writer came and went without a byte
    }
}

// The process's environment becomes ours, as runc's init does: hooks run here without an
// "env" of their own (createContainer, startContainer) get it.
void adopt_environment(const std::vector<std::string>& env) {
    ::clearenv();
    for (const auto& e : env) {
        auto eq = e.find('=');
        if (eq != std::string::npos && eq > 0) ::setenv(e.substr(0, eq).c_str(), e.c_str() + eq + 1, 1);
    }
}

void set_personality(const oci::Spec& spec) {
    if (!spec.linux || !spec.linux->personality) return;
    const auto& p = *spec.linux->personality;
    unsigned long persona = p.domain == "LINUX32" ? PER_LINUX32 : PER_LINUX;
    if (::personality(persona) < 0) throw_errno("linux.personality");
}

}  // namespace

void join_cgroups(Context& ctx) {
    for (const auto& j : ctx.cgroup_joins)
        if (::write(j.fd, "0", 1) != 1) throw_errno("join cgroup " + j.path);
    for (const auto& j : ctx.cgroup_joins) ::close(j.fd);
    ctx.cgroup_joins.clear();
}

void run(Context& ctx) {
    Channel& ch = *ctx.channel;
    bool ready = false;
    try {
        // Non-dumpable until execve: nothing in the container can open /proc/<init>/exe
        // (the runtime's binary) or our memory (CVE-2019-5736 class).
        ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        // `run` blocks the signals it forwards; the container must not inherit that mask.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        ::umask(0);
        join_cgroups(ctx);
        log::phase("init: cgroups");
        const oci::Spec& spec = *ctx.spec;
        const oci::Process& proc = *spec.process;

        Message msg;
        expect(ch, Msg::go, msg);
        ctx.host_pid = std::atoi(msg.payload.c_str());
        ctx.state_json = msg.payload.substr(msg.payload.find(' ') + 1);
        // A new network namespace starts with `lo` down; runc and crun bring it up, and
        // clients (podman's netavark backend with --network none) rely on it. Before any
        // user namespace is joined by path: clone3 made this one owned by ours.
        if (ctx.new_net_ns) netif::set_up("lo");

        // In a new user namespace become its root: our host uid is not mapped there, and
        // files made with an unmapped fsuid fail with EOVERFLOW.
        if (ctx.new_user_ns) {
            if (::setresgid(0, 0, 0) < 0) throw_errno("setgid 0 in the user namespace");
            if (::setresuid(0, 0, 0) < 0) throw_errno("setuid 0 in the user namespace");
        }
        // Namespaces the parent could not join for us: user first, then mount.
        if (spec.linux) {
            for (const auto& ns : spec.linux->namespaces)
                if (ns.type == "user" && !ns.path.empty()) join_namespace(ns.path, CLONE_NEWUSER, "user");
            for (const auto& ns : spec.linux->namespaces)
                if (ns.type == "mount" && !ns.path.empty()) join_namespace(ns.path, CLONE_NEWNS, "mount");
        }
        // After joining the cgroups (first thing), so the namespace's root is that cgroup.
        if (ctx.new_cgroup_ns) {
            if (::unshare(CLONE_NEWCGROUP) < 0) throw_errno("unshare cgroup namespace");
        }

        if (!spec.hostname.empty()) {
            if (!ctx.new_uts_ns) throw Error("unable to set hostname without a private UTS namespace", EINVAL);
            if (::sethostname(spec.hostname.data(), spec.hostname.size()) < 0) throw_errno("sethostname");
        }
        if (!spec.domainname.empty()) {
            if (!ctx.new_uts_ns) throw Error("unable to set domainname without a private UTS namespace", EINVAL);
            if (::setdomainname(spec.domainname.data(), spec.domainname.size()) < 0) throw_errno("setdomainname");
        }
        if (spec.linux && spec.linux->seccomp && seccomp::uses_notify(*spec.linux->seccomp))
            ctx.listener_socket_fd = connect_unix(spec.linux->seccomp->listener_path, "seccomp listener");

        // A session keyring of its own, so keys cannot leak between containers (runc does
        // the same); kernels or seccomp profiles without keyctl are not an error.
        if (!ctx.no_new_keyring) {
            std::string name = "_ses." + ctx.id;
            if (::syscall(SYS_keyctl, 1 /*KEYCTL_JOIN_SESSION_KEYRING*/, name.c_str()) < 0 &&
                errno != ENOSYS && errno != EPERM && errno != EACCES)
                throw_errno("join a new session keyring");
        }
        Fd root = prepare_rootfs(ctx);
        mount_all(ctx, root.get());
        create_devices(ctx, root.get());
        log::phase("init: mounts");
        if (!proc.cwd.empty()) rootpath::mkdir_all(root.get(), proc.cwd);

        // prestart and createRuntime run in the runtime's namespaces: the parent does them.
        const auto& hooks = spec.hooks;
        if (hooks) adopt_environment(proc.env);
        if (hooks && (!hooks->prestart.empty() || !hooks->create_runtime.empty())) {
            ch.send(Msg::run_hooks);
            expect(ch, Msg::hooks_done, msg);
        }
        if (hooks && !hooks->create_container.empty()) {
            // In the rootfs, as runc: hooks may use paths relative to it.
            if (::fchdir(root.get()) < 0) throw_errno("chdir to the rootfs");
            run_hooks(hooks->create_container, ctx.state_json, "createContainer");
        }

        Fd console = setup_console(ctx, root.get());
        finish_readonly_mounts(ctx, root.get());
        apply_sysctl(ctx, root.get());
        apply_readonly_paths(ctx, root.get());
        apply_masked_paths(ctx, root.get());
        if (proc.oom_score_adj) write_oom_score_adj(*proc.oom_score_adj);
        if (spec.root && spec.root->readonly) make_root_readonly(root.get());
        log::phase("init: paths");
        pivot_to(ctx, root.get());
        root.reset();
        log::phase("init: pivot");

        // Its own session, with or without a terminal, as runc's init: CRIU refuses to dump a
        // tree whose session leader is outside the container's pid namespace.
        if (::setsid() < 0) throw_errno("setsid");
        if (console) {
            if (::ioctl(console.get(), TIOCSCTTY, 0) < 0) throw_errno("set controlling terminal");
            for (int i = 0; i < 3; ++i)
                if (::dup2(console.get(), i) < 0) throw_errno("dup2 console");
            console.reset();
        }
        if (!proc.cwd.empty() && ::chdir(proc.cwd.c_str()) < 0) throw_errno("chdir to cwd (\"" + proc.cwd + "\")");
        // A cwd reached through a leaked directory fd would be outside the new root
        // (CVE-2024-21626 class); the kernel then reports it as unreachable.
        char cwd[4096];
        if (!::getcwd(cwd, sizeof cwd) || cwd[0] != '/')
            throw Error("process.cwd " + proc.cwd + " is outside the container's root", EPERM);
        std::string executable = find_executable(proc);
        std::vector<std::string> env = process_env(proc);
        // rlimits now, not after start: a limit that cannot be set fails `create`, as in runc.
        set_limits_and_scheduling(proc);
        set_personality(spec);
        ::umask(proc.user.umask.value_or(022));
        ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
        // Credentials and the seccomp filter before `ready`, as runc does: a filter that
        // cannot be loaded fails `create`, and the startContainer hooks below run under it.
        drop_privileges(ctx);

        // Ready: the parent records the state and exits; we wait for `start`.
        ch.send(Msg::ready);
        ready = true;
        // Without an exec fifo (`run`) there is no `start` to wait for, and the runtime reads
        // the channel's close-on-exec end-of-stream as "exec'd".
        if (ctx.exec_fifo_fd >= 0) {
            ch.close();
            wait_for_start(ctx.exec_fifo_fd);
        }
        if (hooks && !hooks->start_container.empty()) {
            std::string state = ctx.state_json;
            const std::string from = "\"status\":\"creating\"";
            auto at = state.find(from);
            if (at != std::string::npos) state.replace(at, from.size(), "\"status\":\"created\"");
            run_hooks(hooks->start_container, state, "startContainer");
        }
        exec_process(ctx, executable, env);
    } catch (const Error& e) {
        if (!ready) {
            try {
                ch.send(Msg::error, e.message());
            } catch (...) {
            }
        } else {
            // As the CLI does: the log file (if any) gets the line, stderr gets it once.
            if (log::to_file()) log::error(e.message());
            dprintf(2, "skiff: %s\n", e.what());
        }
    } catch (const std::exception& e) {
        if (!ready) {
            try { ch.send(Msg::error, e.what()); } catch (...) {}
        }
    }
    _exit(ready ? 127 : 1);
}

}  // namespace skiff::init
