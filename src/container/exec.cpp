// `exec`: a new process in a running container, born inside its pid (and time) namespace
// by a clone3 from the runtime, joining the rest itself.
#include "container/exec.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "container/internal.hpp"
#include "container/state.hpp"
#include "container/tty_relay.hpp"
#include "init/context.hpp"
#include "linux/channel.hpp"
#include "linux/error.hpp"
#include "linux/log.hpp"
#include "linux/syscalls.hpp"
#include "oci/config.hpp"

namespace skiff::container {
namespace {

struct NsFile {
    int type;
    const char* name;
};
const NsFile kNamespaces[] = {
    {CLONE_NEWUSER, "user"}, {CLONE_NEWIPC, "ipc"},       {CLONE_NEWUTS, "uts"},
    {CLONE_NEWNET, "net"},   {CLONE_NEWCGROUP, "cgroup"}, {CLONE_NEWNS, "mnt"},
    {CLONE_NEWPID, "pid"},   {CLONE_NEWTIME, "time"},
};

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

int exec(const Globals& g, const ExecOptions& o) {
    log::phase("start");
    validate_id(o.id);
    Store store(g.root);
    Record r = store.load(o.id);
    Status s = status_of(store, r);
    if (s == Status::stopped || s == Status::creating) throw Error("cannot exec in a stopped container", EINVAL);
    if (s == Status::paused && !o.ignore_paused) throw Error("cannot exec in a paused container", EINVAL);

    oci::Spec spec = oci::parse_config(r.config);
    spec.process = exec_process(spec, o);
    log::phase("parse");
    if (spec.process->terminal && o.console_socket.empty() && o.detach)
        throw Error("cannot allocate tty if runc will detach without setting console socket", EINVAL);

    // Namespaces of the init that are not ours; pid and time are entered by the clone.
    std::string init_ns = "/proc/" + std::to_string(r.pid) + "/ns/";
    int pidfd_raw = sys::pidfd_open(r.pid);
    if (pidfd_raw < 0 || process_start_time(r.pid) != r.pid_start) {
        if (pidfd_raw >= 0) ::close(pidfd_raw);
        throw Error("cannot exec in a stopped container", ESRCH);
    }
    Fd init_pidfd(pidfd_raw);
    std::vector<std::pair<int, int>> child_joins;
    std::vector<std::pair<int, Fd>> parent_joins;
    for (const auto& ns : kNamespaces) {
        std::string theirs = init_ns + ns.name;
        std::string ours = std::string("/proc/self/ns/") + ns.name;
        if (same_file(theirs, ours)) continue;
        int fd = ::open(theirs.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) continue;
            throw_errno("open " + theirs);
        }
        if (ns.type == CLONE_NEWPID || ns.type == CLONE_NEWTIME) parent_joins.emplace_back(ns.type, Fd(fd));
        else child_joins.emplace_back(ns.type, fd);
    }

    auto cg = cgroup_of(r);
    // --cgroup [ctrl[,ctrl...]:]path, as runc takes it.
    for (const auto& s : o.sub_cgroups) {
        size_t colon = s.find(':');
        if (colon == std::string::npos) {
            cg->use_sub_cgroup("", s);
            continue;
        }
        std::string ctrls = s.substr(0, colon), path = s.substr(colon + 1);
        for (size_t i = 0; i <= ctrls.size();) {
            size_t comma = ctrls.find(',', i);
            if (comma == std::string::npos) comma = ctrls.size();
            cg->use_sub_cgroup(ctrls.substr(i, comma - i), path);
            i = comma + 1;
        }
    }
    Fd console_socket;
    if (!o.console_socket.empty()) console_socket.reset(connect_unix(o.console_socket, "console socket"));
    // In the foreground without a console socket we take the pty master and relay it, as
    // `run` does (and runc).
    std::optional<TtyRelay> tty;
    if (spec.process->terminal && !console_socket) tty.emplace();
    auto [parent_end, child_end] = Channel::pair();
    init::Context ctx;
    ctx.spec = &spec;
    ctx.id = o.id;
    ctx.bundle = r.bundle;
    ctx.channel = &child_end;
    ctx.console_socket_fd = tty ? tty->console_end() : console_socket.get();
    ctx.preserve_fds = o.preserve_fds;
    ctx.bind_console = false;
    ctx.host_pid = r.pid;
    ctx.state_json = state_document(r, s, false);
    for (const auto& j : cg->join_files()) ctx.cgroup_joins.push_back({j.fd, j.path});

    int into = cg->clone_into_fd();
    struct clone_args ca = {};
    int raw_pidfd = -1;
    ca.flags = CLONE_PIDFD | (into >= 0 ? CLONE_INTO_CGROUP : 0);
    ca.pidfd = reinterpret_cast<uint64_t>(&raw_pidfd);
    ca.exit_signal = SIGCHLD;
    if (into >= 0) ca.cgroup = uint64_t(into);

    sigset_t forward, old;
    sigemptyset(&forward);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&forward, sig);
    if (!o.detach) ::sigprocmask(SIG_BLOCK, &forward, &old);

    std::vector<std::pair<int, Fd>> saved;
    for (auto& [type, fd] : parent_joins) {
        const char* self = type == CLONE_NEWPID ? "/proc/self/ns/pid_for_children" : "/proc/self/ns/time_for_children";
        saved.emplace_back(type, Fd(::open(self, O_RDONLY | O_CLOEXEC)));
        if (::setns(fd.get(), type) < 0) throw_errno("join the container's namespace");
    }
    log::phase("namespaces");
    long rc = sys::clone3(&ca);
    int clone_errno = errno;
    for (auto& [type, fd] : saved) ::setns(fd.get(), type);
    if (rc < 0) throw_errno("clone3", clone_errno);
    if (rc == 0) {
        parent_end.close();
        init::run_exec(ctx, child_joins);
    }
    log::phase("clone");
    pid_t pid = pid_t(rc);
    Fd pidfd(raw_pidfd);
    child_end.close();
    for (auto& [type, fd] : child_joins) ::close(fd);
    console_socket.reset();

    Message msg;
    if (parent_end.receive(msg) && msg.type == Msg::error) {
        ::waitpid(pid, nullptr, 0);
        throw Error(msg.payload, EIO);
    }
    if (tty) tty->take_master();
    log::phase("exec");
    if (log::debug_enabled())
        log::debug("exec: process " + std::to_string(pid) + " in container " + o.id + " runs " +
                   (spec.process->args.empty() ? std::string("?") : spec.process->args.front()));
    if (!o.pid_file.empty()) write_pid_file(o.pid_file, pid);
    if (!o.pidfd_socket.empty()) {
        Fd sock(connect_unix(o.pidfd_socket, "pidfd socket"));
        send_fds(sock.get(), "", {pidfd.get()});
    }
    if (o.detach) return 0;

    auto status = wait_in_foreground(pidfd.get(), pid, forward, tty ? &*tty : nullptr, false);
    if (!status) throw_errno("wait for the exec'd process");
    return *status;
}

}  // namespace skiff::container
