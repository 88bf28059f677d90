// The container's init, from clone to execve, as one ordered list of steps (container_init).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "base/error.hpp"
#include "init/context.hpp"
#include "init/hooks.hpp"
#include "init/process_attrs.hpp"
#include "init/lsm_labels.hpp"
#include "init/steps.hpp"
#include "linux/channel.hpp"
#include "linux/log.hpp"
#include "linux/netif.hpp"
#include "linux/rootpath.hpp"
#include "oci/namespace_types.hpp"

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

// `go`: "<pid as the host sees it> <state for hooks>\n<state for startContainer>".
void receive_go(Context& ctx) {
    Message msg;
    expect(*ctx.channel, Msg::go, msg);
    size_t space = msg.payload.find(' '), newline = msg.payload.find('\n', space);
    ctx.host_pid = std::atoi(msg.payload.c_str());
    ctx.state_json = msg.payload.substr(space + 1, newline - space - 1);
    if (newline != std::string::npos) ctx.start_state_json = msg.payload.substr(newline + 1);
}

// In a new user namespace become its root: our host uid is not mapped there, and files made
// with an unmapped fsuid fail with EOVERFLOW.
void become_namespace_root(const Context& ctx) {
    if (!ctx.new_user_ns) return;
    if (::setresgid(0, 0, 0) < 0) throw_errno("setgid 0 in the user namespace");
    if (::setresuid(0, 0, 0) < 0) throw_errno("setuid 0 in the user namespace");
}

// Namespaces the parent could not join for us: user first, then mount. Then the new cgroup
// namespace: after joining the cgroups (first thing), so its root is that cgroup.
void enter_own_namespaces(const Context& ctx) {
    const oci::Spec& spec = *ctx.spec;
    if (spec.linux) {
        for (const char* type : {"user", "mount"}) {
            const oci::Namespace* ns = oci::find_namespace(*spec.linux, type);
            if (ns && !ns->path.empty()) join_namespace(ns->path, oci::namespace_type(type)->clone_flag, type);
        }
    }
    if (ctx.new_cgroup_ns && ::unshare(CLONE_NEWCGROUP) < 0) throw_errno("unshare cgroup namespace");
}

void set_host_and_domain_names(const Context& ctx) {
    const oci::Spec& spec = *ctx.spec;
    if (!spec.hostname.empty()) {
        if (!ctx.new_uts_ns) throw Error("unable to set hostname without a private UTS namespace", EINVAL);
        if (::sethostname(spec.hostname.data(), spec.hostname.size()) < 0) throw_errno("sethostname");
    }
    if (!spec.domainname.empty()) {
        if (!ctx.new_uts_ns) throw Error("unable to set domainname without a private UTS namespace", EINVAL);
        if (::setdomainname(spec.domainname.data(), spec.domainname.size()) < 0) throw_errno("setdomainname");
    }
}

// A session keyring of its own, so keys cannot leak between containers (runc does the same);
// kernels or seccomp profiles without keyctl are not an error.
void join_session_keyring(const Context& ctx) {
    if (ctx.no_new_keyring) return;
    std::string name = "_ses." + ctx.id;
    if (::syscall(SYS_keyctl, 1 /*KEYCTL_JOIN_SESSION_KEYRING*/, name.c_str()) < 0 && errno != ENOSYS &&
        errno != EPERM && errno != EACCES)
        throw_errno("join a new session keyring");
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

// prestart and createRuntime run in the runtime's namespaces: the parent does them.
// createContainer runs here, in the rootfs (as runc: hooks may use paths relative to it).
void run_create_hooks(Context& ctx, int root_fd) {
    const auto& hooks = ctx.spec->hooks;
    if (!hooks) return;
    adopt_environment(ctx.spec->process->env);
    if (!hooks->prestart.empty() || !hooks->create_runtime.empty()) {
        Message msg;
        ctx.channel->send(Msg::run_hooks);
        expect(*ctx.channel, Msg::hooks_done, msg);
    }
    if (!hooks->create_container.empty()) {
        if (::fchdir(root_fd) < 0) throw_errno("chdir to the rootfs");
        run_hooks(hooks->create_container, ctx.state_json, "createContainer");
    }
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

// Ready: the parent records the state and exits; we wait for `start`. Without an exec fifo
// (`run`) there is no `start` to wait for, and the runtime reads the channel's close-on-exec
// end-of-stream as "exec'd".
void report_ready_and_wait_for_start(Context& ctx, bool& ready) {
    ctx.channel->send(Msg::ready);
    ready = true;
    if (ctx.exec_fifo_fd < 0) return;
    ctx.channel->close();
    wait_for_start(ctx.exec_fifo_fd);
}

// Before `ready` the runtime reports the error; after it, we are on our own: the log file
// (if any) gets the line, stderr gets it once, as the CLI does.
void report_init_failure(Context& ctx, const std::exception& e, bool ready) {
    if (!ready) {
        try {
            ctx.channel->send(Msg::error, e.what());
        } catch (...) {
        }
        return;
    }
    if (log::to_file()) log::error(e.what());
    dprintf(2, "skiff: %s\n", e.what());
}

void run_start_hooks(const Context& ctx) {
    const auto& hooks = ctx.spec->hooks;
    if (hooks && !hooks->start_container.empty())
        run_hooks(hooks->start_container, ctx.start_state_json, "startContainer");
}

}  // namespace

void join_cgroups(Context& ctx) {
    for (const auto& j : ctx.cgroup_joins)
        if (::write(j.fd, "0", 1) != 1) throw_errno("join cgroup " + j.path);
    for (const auto& j : ctx.cgroup_joins) ::close(j.fd);
    ctx.cgroup_joins.clear();
}

void container_init(Context& ctx) {
    bool ready = false;
    try {
        const oci::Spec& spec = *ctx.spec;
        const oci::Process& proc = *spec.process;
        // Rootless: dumpable until `go`, so the runtime (not root) can write our id maps.
        detach_from_runtime(ctx.dumpable_until_go);
        ::umask(0);
        join_cgroups(ctx);
        log::phase("init: cgroups");
        receive_go(ctx);
        // Non-dumpable until execve: nothing in the container can open /proc/<init>/exe
        // (the runtime's binary) or our memory (CVE-2019-5736 class).
        if (ctx.dumpable_until_go) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        // A new network namespace starts with `lo` down; runc and crun bring it up, and clients
        // (podman's netavark backend with --network none) rely on it. Before any user namespace
        // is joined by path: clone3 made this one owned by ours.
        if (ctx.new_net_ns) netif::set_up("lo");
        become_namespace_root(ctx);
        enter_own_namespaces(ctx);
        set_host_and_domain_names(ctx);
        connect_seccomp_listener(ctx);
        join_session_keyring(ctx);

        resolve_lsm_labels(ctx);  // reads the host's /sys; linux.mountLabel is needed by the mounts
        Fd root = prepare_rootfs(ctx);
        mount_all(ctx, root.get());
        create_devices(ctx, root.get());
        log::phase("init: mounts");
        if (!proc.cwd.empty()) rootpath::mkdir_all(root.get(), proc.cwd);
        run_create_hooks(ctx, root.get());
        Fd console = setup_console(ctx, root.get());
        finish_readonly_mounts(ctx, root.get());
        apply_sysctl(ctx, root.get());
        apply_readonly_paths(ctx, root.get());
        apply_masked_paths(ctx, root.get());
        if (proc.oom_score_adj) write_oom_score_adj(*proc.oom_score_adj);
        if (spec.root && spec.root->readonly) make_root_readonly(root.get());
        log::phase("init: paths");
        apply_lsm_labels(ctx);  // through the host's /proc, before the filter
        pivot_to(ctx, root.get());
        root.reset();
        log::phase("init: pivot");

        // Its own session even without a terminal, as runc's init: CRIU refuses to dump a tree
        // whose session leader is outside the container's pid namespace.
        if (!console && ::setsid() < 0) throw_errno("setsid");
        make_console_stdio(console);
        reopen_stdio_dev_null();
        // rlimits now, not after start: a limit that cannot be set fails `create`, as in runc.
        ProcessImage image = take_process_attributes(proc);
        apply_personality(spec);
        apply_memory_policy(spec);
        // Credentials and the seccomp filter before `ready`, as runc does: a filter that
        // cannot be loaded fails `create`, and the startContainer hooks below run under it.
        drop_privileges(ctx);
        report_ready_and_wait_for_start(ctx, ready);
        run_start_hooks(ctx);
        exec_process(ctx, image.executable, image.env);
    } catch (const std::exception& e) {
        report_init_failure(ctx, e, ready);
    }
    _exit(ready ? 127 : 1);
}

}  // namespace skiff::init
