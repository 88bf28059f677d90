// `exec`: a new process in a running container, born inside its pid (and time) namespace
// by a clone3 from the runtime, joining the rest itself.
#include "container/exec.hpp"
#include "container/exec_vm.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "cgroups/manager.hpp"
#include "container/internal.hpp"
#include "container/rootless.hpp"
#include "container/launch.hpp"
#include "container/namespaces.hpp"
#include "container/state.hpp"
#include "container/tty_relay.hpp"
#include "init/context.hpp"
#include "init/process_attrs.hpp"
#include "linux/channel.hpp"
#include "base/error.hpp"
#include "linux/log.hpp"
#include "linux/syscalls.hpp"
#include "oci/config.hpp"
#include "oci/namespace_types.hpp"
#include "vm/agent_client.hpp"

namespace skiff::container {
namespace {

bool same_file(const std::string& a, const std::string& b) {
    struct stat sa, sb;
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_ino == sb.st_ino &&
           sa.st_dev == sb.st_dev;
}

void merge_env(std::vector<std::string>& env, const std::string& entry) {
    auto eq = entry.find('=');
    std::string key = entry.substr(0, eq);
    for (auto& e : env)
        if (e.compare(0, key.size() + 1, key + "=") == 0) {
            e = entry;
            return;
        }
    env.push_back(entry);
}

}  // namespace

oci::Process exec_process(const oci::Spec& spec, const ExecOptions& o) {
    if (!o.process_json.empty()) {
        // As runc: a process.json without LSM labels runs under the container's.
        oci::Process p = oci::parse_process(o.process_json);
        if (spec.process && p.apparmor_profile.empty()) p.apparmor_profile = spec.process->apparmor_profile;
        if (spec.process && p.selinux_label.empty()) p.selinux_label = spec.process->selinux_label;
        return p;
    }
    oci::Process p = spec.process ? *spec.process : oci::Process{};
    if (o.args.empty()) throw Error("exec: process args cannot be empty", EINVAL);
    p.args = o.args;
    p.terminal = o.tty;
    for (const auto& e : o.env) merge_env(p.env, e);
    if (!o.cwd.empty()) p.cwd = o.cwd;
    if (!o.user.empty()) {
        auto colon = o.user.find(':');
        // Each part gets a name: `end` points into it, so it must outlive the check.
        auto number = [&o](const std::string& part) {
            char* end = nullptr;
            unsigned long v = std::strtoul(part.c_str(), &end, 10);
            if (part.empty() || *end) throw Error("invalid --user \"" + o.user + "\": expected uid[:gid]", EINVAL);
            return uint32_t(v);
        };
        const std::string uid = o.user.substr(0, colon);
        p.user.uid = number(uid);
        p.user.gid = 0;
        if (colon != std::string::npos) {
            const std::string gid = o.user.substr(colon + 1);
            p.user.gid = number(gid);
        }
    }
    for (const auto& g : o.additional_gids) {
        char* end = nullptr;
        unsigned long gid = std::strtoul(g.c_str(), &end, 10);
        if (g.empty() || *end) throw Error("invalid --additional-gids value \"" + g + "\"", EINVAL);
        p.user.additional_gids.push_back(uint32_t(gid));
    }
    if (!o.caps.empty()) {
        if (!p.capabilities) p.capabilities = oci::Capabilities{};
        auto add = [](std::optional<std::vector<std::string>>& set, const std::string& c) {
            if (!set) set = std::vector<std::string>{};
            set->push_back(c);
        };
        for (const auto& c : o.caps) {
            add(p.capabilities->bounding, c);
            add(p.capabilities->effective, c);
            add(p.capabilities->permitted, c);
            // Ambient needs inheritable; add it only where the container has some (runc).
            if (p.capabilities->inheritable) add(p.capabilities->ambient, c);
        }
    }
    if (o.no_new_privs) p.no_new_privileges = true;
    if (!o.apparmor.empty()) p.apparmor_profile = o.apparmor;
    if (!o.process_label.empty()) p.selinux_label = o.process_label;
    return p;
}

namespace {

// The container's state, if a process can be exec'd into it.
Status check_exec_allowed(const Store& store, const Record& r, const ExecOptions& o) {
    Status s = status_of(store, r);
    if (s == Status::stopped || s == Status::creating) throw Error("cannot exec in a stopped container", EINVAL);
    if (s == Status::paused && !o.ignore_paused) throw Error("cannot exec in a paused container", EINVAL);
    return s;
}

// The namespaces of the container's init that are not ours, opened: pid and time are entered
// by the clone (the runtime joins them for its children), the others by the new process.
struct ContainerNamespaces {
    std::vector<std::pair<int, int>> for_process;  // (CLONE_NEW*, fd), closed by the caller
    std::vector<std::pair<int, Fd>> for_clone;
};

ContainerNamespaces open_container_namespaces(const Record& r) {
    // Pinned first: a recycled pid must not lend us another process's namespaces.
    int pidfd_raw = sys::pidfd_open(r.pid);
    if (pidfd_raw < 0 || process_start_time(r.pid) != r.pid_start) {
        if (pidfd_raw >= 0) ::close(pidfd_raw);
        throw Error("cannot exec in a stopped container", ESRCH);
    }
    Fd init_pidfd(pidfd_raw);
    std::string init_ns = "/proc/" + std::to_string(r.pid) + "/ns/";
    ContainerNamespaces out;
    for (const auto& ns : oci::kNamespaceTypes) {
        std::string theirs = init_ns + ns.proc_name;
        std::string ours = std::string("/proc/self/ns/") + ns.proc_name;
        if (same_file(theirs, ours)) continue;
        int fd = ::open(theirs.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) continue;
            throw_errno("open " + theirs);
        }
        int flag = ns.clone_flag;
        if (flag == CLONE_NEWPID || flag == CLONE_NEWTIME) out.for_clone.emplace_back(flag, Fd(fd));
        else out.for_process.emplace_back(flag, fd);
    }
    return out;
}

// The container's cgroup, or the sub-cgroups of --cgroup [ctrl[,ctrl...]:]path (runc's form).
std::unique_ptr<cgroups::Manager> exec_cgroup(const Record& r, const std::vector<std::string>& sub_cgroups) {
    auto cgroup = cgroup_of(r);
    for (const auto& s : sub_cgroups) {
        size_t colon = s.find(':');
        if (colon == std::string::npos) {
            cgroup->use_sub_cgroup("", s);
            continue;
        }
        std::string ctrls = s.substr(0, colon), path = s.substr(colon + 1);
        for (size_t i = 0; i <= ctrls.size();) {
            size_t comma = ctrls.find(',', i);
            if (comma == std::string::npos) comma = ctrls.size();
            cgroup->use_sub_cgroup(ctrls.substr(i, comma - i), path);
            i = comma + 1;
        }
    }
    return cgroup;
}

// Step 1 of launch.hpp for exec.
init::Context build_exec_context(const ExecOptions& o, const oci::Spec& spec, const Record& r, Status s,
                                 cgroups::Manager& cgroup, Channel& child_end, int console_socket_fd) {
    init::Context ctx;
    ctx.spec = &spec;
    ctx.id = o.id;
    ctx.bundle = r.bundle;
    ctx.channel = &child_end;
    ctx.console_socket_fd = console_socket_fd;
    ctx.preserve_fds = o.preserve_fds;
    ctx.bind_console = false;
    ctx.host_pid = r.pid;
    ctx.state_json = state_document(r, s, false);
    for (const auto& j : cgroup.join_files()) ctx.cgroup_joins.push_back({j.fd, j.path});
    return ctx;
}

// Step 3 of launch.hpp for exec: the process reports an error, or closes its end at execve.
void exec_handshake(Channel& parent_end, const Launched& process) {
    Message msg;
    if (parent_end.receive(msg) && msg.type == Msg::error) {
        ::waitpid(process.pid, nullptr, 0);
        throw Error(msg.payload, EIO);
    }
}

}  // namespace

// The steps of launch.hpp, with exec's own: the checks, the container's namespaces and cgroup.
int exec(const Globals& g, const ExecOptions& o) {
    log::phase("start");
    validate_id(o.id);
    Store store(g.root);
    Record r = store.load(o.id);
    Status s = check_exec_allowed(store, r, o);
    oci::Spec spec = oci::parse_config(r.config);
    spec.process = exec_process(spec, o);
    log::phase("parse");
    if (spec.process->terminal && o.console_socket.empty() && o.detach)
        throw Error("cannot allocate tty if runc will detach without setting console socket", EINVAL);
    if (vm::is_vm(g.root, o.id)) return exec_in_vm(g, o, s, spec.process->terminal);  // through the guest agent

    ContainerNamespaces namespaces = open_container_namespaces(r);
    auto cgroup = exec_cgroup(r, o.sub_cgroups);
    Fd console_socket;
    if (!o.console_socket.empty()) console_socket.reset(connect_unix(o.console_socket, "console socket"));
    // In the foreground without a console socket we take the pty master and relay it, as
    // `run` does (and runc).
    std::optional<TtyRelay> tty;
    if (spec.process->terminal && !console_socket) tty.emplace();
    auto [parent_end, child_end] = Channel::pair();
    init::Context ctx = build_exec_context(o, spec, r, s, *cgroup, child_end,
                                           tty ? tty->console_end() : console_socket.get());
    ForwardedSignals forward(!o.detach, false);

    // Rootless: the user namespace first, which gives the right to join the others.
    if (!namespaces.for_clone.empty()) rootless::enter_user_ns_for_exec(namespaces.for_process);
    Launched process;
    {
        ParentNamespaces joined(std::move(namespaces.for_clone));
        log::phase("namespaces");
        // execCPUAffinity.initial holds from here: on a v1 host the child inherits it before it
        // joins the cgroup; a v2 CLONE_INTO_CGROUP resets it, so the child sets it again.
        init::apply_initial_cpu_affinity(*spec.process);
        auto child = [&] {
            parent_end.close();
            init::exec_init(ctx, namespaces.for_process);
        };
        int cgroup_fd = cgroup->clone_into_fd();
        try {
            process = clone_process(0, cgroup_fd, child);
        } catch (const Error& e) {
            // runc's rule for rootless cgroups: a caller whose own cgroup lies outside the
            // user's delegated tree (a login session's scope, a system service) may not move
            // a process into the container's; the process then runs where the caller is.
            if (!r.rootless_cgroup || cgroup_fd < 0 || (e.errnum() != EACCES && e.errnum() != EPERM)) throw;
            log::debug("exec: cannot enter the container's cgroup (" + std::string(e.what()) + "); running outside it");
            process = clone_process(0, -1, child);
        }
    }
    log::phase("clone");
    child_end.close();
    for (auto& [type, fd] : namespaces.for_process) ::close(fd);
    console_socket.reset();

    exec_handshake(parent_end, process);
    if (tty) tty->take_master();
    log::phase("exec");
    if (log::debug_enabled())
        log::debug("exec: process " + std::to_string(process.pid) + " in container " + o.id + " runs " +
                   (spec.process->args.empty() ? std::string("?") : spec.process->args.front()));
    publish_process(o.pid_file, o.pidfd_socket, process);
    if (o.detach) return 0;

    auto status = wait_in_foreground(process.pidfd.get(), process.pid, forward.set(), tty ? &*tty : nullptr, false);
    if (!status) throw_errno("wait for the exec'd process");
    return *status;
}

}  // namespace skiff::container
