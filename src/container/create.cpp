// `create`: validate everything, then record, cgroup, clone3 and the hand-shake with the init.
// Any failure undoes what was made: the init is killed, the cgroup and state dir removed.
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "cgroups/manager.hpp"
#include "container/internal.hpp"
#include "init/hooks.hpp"
#include "container/lifecycle.hpp"
#include "container/namespaces.hpp"
#include "container/state.hpp"
#include "init/context.hpp"
#include "init/idmap.hpp"
#include "init/mount_source.hpp"
#include "linux/channel.hpp"
#include "linux/error.hpp"
#include "linux/log.hpp"
#include "linux/text.hpp"
#include "linux/seccomp.hpp"
#include "linux/syscalls.hpp"
#include "oci/config.hpp"

namespace skiff::container {
namespace {

// linux.namespaces: the path of a user namespace to join, or "".
std::string joined_user_ns_path(const oci::Spec& spec) {
    for (const auto& ns : spec.linux->namespaces)
        if (ns.type == "user" && !ns.path.empty()) return ns.path;
    return "";
}

// A forked helper joins the user namespace at `path` and clone3s the init with `ca` plus
// CLONE_PARENT, so the init is our child; it sends back the init's pidfd, whose fdinfo gives
// the pid as we see it (the helper may sit in a joined pid namespace). `init` never returns.
// Returns the init's pid and pidfd.
template <class Init>
std::pair<pid_t, Fd> spawn_in_user_ns(const std::string& path, struct clone_args ca, Init init) {
    auto [parent_end, child_end] = Channel::pair();
    pid_t helper = ::fork();
    if (helper < 0) throw_errno("fork");
    if (helper == 0) {
        parent_end.close();
        try {
            int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) throw_errno("open user namespace " + path);
            Fd f(fd);
            if (::setns(fd, CLONE_NEWUSER) < 0) throw_errno("join user namespace " + path);
            int raw = -1;
            ca.flags |= CLONE_PARENT | CLONE_PIDFD;
            ca.exit_signal = 0;  // clone3 refuses one with CLONE_PARENT; ours (SIGCHLD) is used
            ca.pidfd = reinterpret_cast<uint64_t>(&raw);
            long r = sys::clone3(&ca);
            if (r < 0) throw_errno("clone3");
            if (r == 0) {
                child_end.close();
                init();
            }
            child_end.send(Msg::ready, "", {raw});
        } catch (const Error& e) {
            try {
                child_end.send(Msg::error, e.what());
            } catch (...) {
            }
        }
        ::_exit(0);
    }
    child_end.close();
    Message msg;
    bool got = parent_end.receive(msg);
    int status;
    while (::waitpid(helper, &status, 0) < 0 && errno == EINTR) {
    }
    if (!got) throw Error("namespace helper exited early", ECHILD);
    if (msg.type == Msg::error) throw Error(msg.payload, EINVAL);
    if (msg.fds.empty()) throw Error("namespace helper sent no pidfd", EPROTO);
    std::string info = "/proc/self/fdinfo/" + std::to_string(msg.fds[0].get());
    int fd = ::open(info.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("open " + info);
    Fd f(fd);
    char buf[1024];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    if (n < 0) throw_errno("read " + info);
    buf[n] = 0;
    const char* at = std::strstr(buf, "\nPid:");
    if (!at) throw Error("no pid in " + info, EPROTO);
    return {pid_t(std::atoi(at + 6)), std::move(msg.fds[0])};
}

// runc's words.
const char* const kFrozen = "container's cgroup unexpectedly frozen";

// Whether fd becomes readable (a message, end of stream, a process exit) within ms.
bool readable_within(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int n;
    while ((n = ::poll(&p, 1, ms)) < 0 && errno == EINTR) {
    }
    return n != 0;
}

std::string absolute(const std::string& path, const std::string& what) {
    char buf[PATH_MAX];
    if (!::realpath(path.c_str(), buf)) throw_errno(what + " " + path);
    return buf;
}

// Makes sure fds 3..3+n-1 exist, so none of the runtime's own fds takes one of those
// numbers and crosses execve as a "preserved" fd.
void reserve_preserved_fds(int n) {
    for (int fd = 3; fd < 3 + n; ++fd) {
        if (::fcntl(fd, F_GETFD) >= 0) continue;
        int null_fd = ::open("/dev/null", O_RDWR);
        if (null_fd >= 0 && null_fd != fd) {
            ::dup2(null_fd, fd);
            ::close(null_fd);
        }
    }
}

}  // namespace

std::string read_config_text(const std::string& bundle) { return text::read_file(bundle + "/config.json"); }

Prepared prepare(const Globals& g, const CreateOptions& o) {
    Prepared p;
    log::phase("start");
    cgroups::prestart(g.systemd_cgroup);  // the systemd driver's companion works meanwhile
    validate_id(o.id);
    p.bundle = absolute(o.bundle, "bundle");
    p.config_text = read_config_text(p.bundle);
    p.spec = oci::parse_config(p.config_text);  // its errors name config.json and the JSON path
    const oci::Spec& spec = p.spec;
    if (!spec.process) throw Error("process: required to create a container", EINVAL);
    if (!spec.root) throw Error("root: required on Linux", EINVAL);
    if (spec.linux && spec.linux->seccomp) seccomp::validate(*spec.linux->seccomp);
    p.ns = plan_namespaces(spec);
    validate_sysctl(spec, p.ns);
    std::string root_path = spec.root->path;
    if (root_path.empty() || root_path[0] != '/') root_path = p.bundle + "/" + root_path;
    p.rootfs = absolute(root_path, "rootfs");
    struct stat st;
    if (::stat(p.rootfs.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
        throw Error("root.path: " + p.rootfs + " is not a directory", ENOTDIR);
    if (p.ns.new_user && (spec.linux->uid_mappings.empty() || spec.linux->gid_mappings.empty()))
        throw Error("linux.uidMappings: a user namespace needs uid and gid mappings", EINVAL);
    // Socket activation meant for us (LISTEN_PID is our pid) passes on to the container,
    // whose process becomes the listener: LISTEN_PID=1, as runc does.
    const char* lf = ::getenv("LISTEN_FDS");
    const char* lp = ::getenv("LISTEN_PID");
    if (lf && lp && std::atoi(lp) == int(::getpid()) && std::atoi(lf) > 0) {
        p.listen_fds = std::atoi(lf);
        p.spec.process->env.push_back("LISTEN_FDS=" + std::to_string(p.listen_fds));
        p.spec.process->env.push_back("LISTEN_PID=1");
    }
    log::phase("parse");
    return p;
}

pid_t create_prepared(const Globals& g, const CreateOptions& o, Prepared& p, Fd* pidfd_out,
                      Record* record_out) {
    const oci::Spec& spec = p.spec;
    Store store(g.root);
    Fd lock = store.make_locked(o.id);  // "container with given ID already exists"
    std::unique_ptr<cgroups::Manager> cg;
    Fd pidfd;
    pid_t pid = 0;
    try {
        Record rec;
        rec.id = o.id;
        rec.bundle = p.bundle;
        rec.rootfs = p.rootfs;
        rec.created = log::now_rfc3339();
        rec.annotations = spec.annotations;
        rec.cgroups_path = spec.linux->cgroups_path;
        rec.systemd_cgroup = g.systemd_cgroup;
        rec.has_poststart = spec.hooks && !spec.hooks->poststart.empty();
        rec.has_poststop = spec.hooks && !spec.hooks->poststop.empty();
        rec.config = p.config_text;
        store.save(rec);  // from here on `delete` can clean up after us

        Fd fifo_read;
        if (!o.start_now) {
            std::string fifo = store.fifo_path(o.id);
            if (::mkfifo(fifo.c_str(), 0600) < 0) throw_errno("mkfifo " + fifo);
            int fifo_fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
            if (fifo_fd < 0) throw_errno("open " + fifo);
            fifo_read.reset(fifo_fd);
        }

        cgroups::Options co;
        co.cgroups_path = rec.cgroups_path;
        co.container_id = o.id;
        co.systemd = g.systemd_cgroup;
        co.annotations = spec.annotations;
        co.warn = [](const std::string& m) { log::warn(m); };
        {
            // A cgroup that is already frozen would stop the init before its first step and
            // `create` would wait forever: refuse it, and leave it as it was (not ours).
            auto existing = cgroups::open(co);
            if (existing->freezing()) throw Error(kFrozen, EBUSY);
            cg = std::move(existing);
        }
        cg->create(spec.linux->resources ? &*spec.linux->resources : nullptr);
        // A new cgroup under a frozen parent is born frozen.
        if (cg->freezing()) throw Error(kFrozen, EBUSY);
        rec.cgroup_paths = cg->paths();
        log::phase("cgroup");

        Fd console_socket;
        if (!o.console_socket.empty()) console_socket.reset(connect_unix(o.console_socket, "console socket"));
        else if (o.console_fd >= 0) console_socket.reset(::fcntl(o.console_fd, F_DUPFD_CLOEXEC, 3));
        if (spec.process->terminal && !console_socket)
            throw Error("cannot allocate tty if runc will detach without setting console socket", EINVAL);

        int preserve = o.preserve_fds + p.listen_fds;
        reserve_preserved_fds(preserve);

        auto [parent_end, child_end] = Channel::pair();
        init::Context ctx;
        ctx.spec = &spec;
        ctx.id = o.id;
        ctx.bundle = p.bundle;
        ctx.rootfs = p.rootfs;
        ctx.channel = &child_end;
        ctx.exec_fifo_fd = fifo_read.get();
        ctx.console_socket_fd = console_socket.get();
        ctx.preserve_fds = preserve;
        ctx.no_pivot = o.no_pivot;
        ctx.no_new_keyring = o.no_new_keyring;
        ctx.new_user_ns = p.ns.new_user;
        ctx.new_cgroup_ns = p.ns.new_cgroup;
        ctx.new_uts_ns = p.ns.listed & CLONE_NEWUTS;  // new or joined: not the host's
        ctx.new_net_ns = p.ns.clone_flags & CLONE_NEWNET;
        for (const auto& h : cg->hierarchies())
            ctx.cgroup_mounts.push_back({h.name, h.fstype, h.options, h.host_path, h.base, h.rel});
        for (const auto& j : cg->join_files()) ctx.cgroup_joins.push_back({j.fd, j.path});

        // Idmapped trees need the host's privilege over their filesystem: built here,
        // inherited by the init across clone3, closed in the runtime right after it.
        init::IdmappedMounts idmapped = init::IdmappedMounts::prepare(spec, p.bundle);
        ctx.idmapped_trees = idmapped.fds();

        int into = cg->clone_into_fd();
        struct clone_args ca = {};
        int raw_pidfd = -1;
        ca.flags = p.ns.clone_flags | CLONE_PIDFD | (into >= 0 ? CLONE_INTO_CGROUP : 0);
        ca.pidfd = reinterpret_cast<uint64_t>(&raw_pidfd);
        ca.exit_signal = SIGCHLD;
        if (into >= 0) ca.cgroup = uint64_t(into);
        std::string user_path = joined_user_ns_path(spec);
        {
            ParentNamespaces joined(p.ns, spec);
            log::phase("namespaces");
            if (!user_path.empty()) {
                // Namespaces created next to a joined user namespace must be owned by it
                // (else the init has no capabilities over them), so they are created from
                // inside it: a helper joins it and clones the init as our child.
                auto [child, child_pidfd] = spawn_in_user_ns(user_path, ca, [&] {
                    lock.reset();
                    parent_end.close();
                    // already inside the user namespace: the init must not join it again
                    static oci::Spec own = spec;
                    for (auto& ns : own.linux->namespaces)
                        if (ns.type == "user") ns.path.clear();
                    ctx.spec = &own;
                    // not the host's user namespace: become its root, bind devices
                    ctx.new_user_ns = true;
                    init::run(ctx);
                });
                pid = child;
                raw_pidfd = child_pidfd.release();
            } else {
                long r = sys::clone3(&ca);
                if (r < 0) throw_errno("clone3");
                if (r == 0) {
                    // The init: drop what belongs to the runtime, then run the steps.
                    lock.reset();
                    parent_end.close();
                    init::run(ctx);
                }
                pid = pid_t(r);
            }
        }
        pidfd.reset(raw_pidfd);
        idmapped = {};
        child_end.close();
        fifo_read.reset();
        console_socket.reset();
        log::phase("clone");
        cg->attach_init(pid);

        if (p.ns.new_user) write_id_maps(pid, *spec.linux);
        rec.pid = pid;
        rec.pid_start = process_start_time(pid);
        // The state document goes to hooks and to a seccomp agent; most configs have neither.
        const auto& hk = spec.hooks;
        bool state_read = (hk && (!hk->prestart.empty() || !hk->create_runtime.empty() ||
                                  !hk->create_container.empty() || !hk->start_container.empty())) ||
                          (spec.linux->seccomp && !spec.linux->seccomp->listener_path.empty());
        std::string hook_state = state_read ? state_document(rec, Status::creating, false) : "{}";
        // If the init already failed, a send meets a closed socket: its error message
        // is still queued for us and says more than EPIPE.
        auto send = [&](Msg m, const std::string& payload) {
            try {
                parent_end.send(m, payload);
            } catch (const Error& e) {
                if (e.errnum() != EPIPE && e.errnum() != ECONNRESET) throw;
                Message pending;
                while (parent_end.receive(pending))
                    if (pending.type == Msg::error) throw Error(pending.payload, EIO);
                throw Error("container init exited before it was ready", ECHILD);
            }
        };
        send(Msg::go, std::to_string(pid) + " " + hook_state);
        // No save here: if we die now the init dies with us (PDEATHSIG), and `delete` finds
        // its cgroup from the first record; the pid is saved once, with `created`.

        // Never wait without a bound on an init that a freezer stopped on its way.
        auto wait_init = [&] {
            while (!readable_within(parent_end.fd(), 1000))
                if (cg->freezing()) throw Error(kFrozen, EBUSY);
        };
        Message msg;
        for (;;) {
            wait_init();
            if (!parent_end.receive(msg)) throw Error("container init exited before it was ready", ECHILD);
            if (msg.type == Msg::ready) break;
            if (msg.type == Msg::error) throw Error(msg.payload, EIO);
            if (msg.type == Msg::run_hooks) {
                init::run_hooks(spec.hooks->prestart, hook_state, "prestart", p.bundle);
                init::run_hooks(spec.hooks->create_runtime, hook_state, "createRuntime", p.bundle);
                send(Msg::hooks_done, {});
            }
            if (msg.type == Msg::mount_source) {
                size_t i = size_t(std::strtoul(msg.payload.c_str(), nullptr, 10));
                if (i >= spec.mounts.size()) throw Error("container init asked for an unknown mount", EPROTO);
                try {
                    Fd tree = init::clone_source_for_init(pidfd.get(), spec.mounts[i], p.bundle);
                    parent_end.send(Msg::mount_tree, "", {tree.get()});
                } catch (const Error& e) {
                    parent_end.send(Msg::mount_tree, e.what());
                }
            }
        }
        log::phase("init ready");
        rec.creating = false;
        store.save(rec);
        if (!o.pid_file.empty()) write_pid_file(o.pid_file, pid);
        if (!o.pidfd_socket.empty()) {
            Fd s(connect_unix(o.pidfd_socket, "pidfd socket"));
            send_fds(s.get(), "", {pidfd.get()});
        }
        if (pidfd_out) *pidfd_out = std::move(pidfd);
        log::phase("created");
        if (o.start_now) {
            // The init keeps its (close-on-exec) end until execve: end-of-stream means the
            // process runs (or the init died, which the caller's wait will tell).
            do {
                wait_init();
            } while (parent_end.receive(msg));
            log::phase("exec");
        }
        if (record_out) *record_out = std::move(rec);
        return pid;
    } catch (Error& e) {
        if (pidfd) {
            sys::pidfd_send_signal(pidfd.get(), SIGKILL);
            // A task a v1 freezer holds dies only once thawed: thaw, and wait a bounded time.
            if (!readable_within(pidfd.get(), 1000) && cg) {
                try {
                    cg->thaw();
                } catch (const Error&) {
                }
            }
            if (readable_within(pidfd.get(), 2000)) ::waitpid(pid, nullptr, 0);
        }
        if (cg) {
            // Apart: a kill that cannot thaw (a frozen parent) must not keep the cgroup.
            try {
                cg->kill_all(SIGKILL);
            } catch (const Error& ce) {
                log::warn("cleanup of cgroup failed: " + std::string(ce.what()));
            }
            try {
                cg->destroy();
            } catch (const Error& ce) {
                log::warn("cleanup of cgroup failed: " + std::string(ce.what()));
            }
        }
        lock.reset();
        store.remove(o.id);
        throw;
    }
}

pid_t create(const Globals& g, const CreateOptions& o) {
    Prepared p = prepare(g, o);
    return create_prepared(g, o, p, nullptr);
}

}  // namespace skiff::container
