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
#include "container/launch.hpp"
#include "container/lifecycle.hpp"
#include "container/namespaces.hpp"
#include "container/intel_rdt.hpp"
#include "container/net_devices.hpp"
#include "container/notify_socket.hpp"
#include "container/rootless.hpp"
#include "cgroups/none_manager.hpp"
#include "container/state.hpp"
#include "init/context.hpp"
#include "init/device_nodes.hpp"
#include "init/idmap.hpp"
#include "init/mount_source.hpp"
#include "linux/channel.hpp"
#include "base/error.hpp"
#include "linux/log.hpp"
#include "base/text.hpp"
#include "init/seccomp_profile.hpp"
#include "linux/syscalls.hpp"
#include "oci/config.hpp"
#include "oci/namespace_types.hpp"

namespace skiff::container {
namespace {

// Step 2 of launch.hpp beside a joined user namespace: a forked helper joins the one at
// `path` and clone3s the init with CLONE_PARENT, so the init is our child; it sends back the
// init's pidfd, whose fdinfo gives the pid as we see it (the helper may sit in a joined pid
// namespace). `init` never returns.
template <class Init>
Launched spawn_in_user_ns(const std::string& path, uint64_t clone_flags, int cgroup_fd, Init init) {
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
            struct clone_args args = {};
            int raw = -1;
            args.flags = clone_flags | CLONE_PARENT | CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
            args.exit_signal = 0;  // clone3 refuses one with CLONE_PARENT; ours (SIGCHLD) is used
            args.pidfd = reinterpret_cast<uint64_t>(&raw);
            if (cgroup_fd >= 0) args.cgroup = uint64_t(cgroup_fd);
            long r = sys::clone3(&args);
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
    std::string info = text::read_file("/proc/self/fdinfo/" + std::to_string(msg.fds[0].get()));
    size_t at = info.find("\nPid:");
    if (at == std::string::npos) throw Error("no pid in the fdinfo of the init's pidfd", EPROTO);
    Launched process;
    process.pid = pid_t(std::atoi(info.c_str() + at + 6));
    process.pidfd = std::move(msg.fds[0]);
    return process;
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
    Prepared prepared;
    log::phase("start");
    cgroups::prestart(g.systemd_cgroup, g.rootless);  // the systemd driver's companion works meanwhile
    validate_id(o.id);
    prepared.bundle = absolute(o.bundle, "bundle");
    prepared.config_text = read_config_text(prepared.bundle);
    prepared.spec = oci::parse_config(prepared.config_text);  // its errors name config.json and the JSON path
    const oci::Spec& spec = prepared.spec;
    if (!spec.process) throw Error("process: required to create a container", EINVAL);
    if (!spec.root) throw Error("root: required on Linux", EINVAL);
    if (spec.linux && spec.linux->seccomp) seccomp::validate(*spec.linux->seccomp);
    prepared.ns = plan_namespaces(spec);
    validate_sysctl(spec, prepared.ns);
    validate_net_devices(spec, prepared.ns);
    check_intel_rdt(spec, o.id);
    std::string root_path = spec.root->path;
    if (root_path.empty() || root_path[0] != '/') root_path = prepared.bundle + "/" + root_path;
    prepared.rootfs = absolute(root_path, "rootfs");
    struct stat st;
    if (::stat(prepared.rootfs.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
        throw Error("root.path: " + prepared.rootfs + " is not a directory", ENOTDIR);
    if (prepared.ns.new_user && (spec.linux->uid_mappings.empty() || spec.linux->gid_mappings.empty()))
        throw Error("linux.uidMappings: a user namespace needs uid and gid mappings", EINVAL);
    if (prepared.ns.new_user) rootless::check_config_maps(*spec.linux);
    // Socket activation meant for us (LISTEN_PID is our pid) passes on to the container,
    // whose process becomes the listener: LISTEN_PID=1, as runc does.
    const char* lf = ::getenv("LISTEN_FDS");
    const char* lp = ::getenv("LISTEN_PID");
    if (lf && lp && std::atoi(lp) == int(::getpid()) && std::atoi(lf) > 0) {
        prepared.listen_fds = std::atoi(lf);
        prepared.spec.process->env.push_back("LISTEN_FDS=" + std::to_string(prepared.listen_fds));
        prepared.spec.process->env.push_back("LISTEN_PID=1");
    }
    if (vm::wanted(prepared.spec)) {
        prepared.vm = vm::prepare(prepared.spec, prepared.config_text, prepared.rootfs, prepared.bundle, g.root, o.id,
                                  o.preserve_fds + prepared.listen_fds);
        prepared.ns = plan_namespaces(prepared.spec);
    }
    log::phase("parse");
    return prepared;
}

namespace {

// The first record: from here on `delete` can clean up after us.
Record save_creating_record(Store& store, const Globals& g, const CreateOptions& o, const Prepared& prepared) {
    const oci::Spec& spec = prepared.spec;
    Record rec;
    rec.id = o.id;
    rec.bundle = prepared.bundle;
    rec.rootfs = prepared.vm ? prepared.vm->rootfs : prepared.rootfs;  // a VM's, not QEMU's own root
    rec.created = log::now_rfc3339();
    rec.annotations = spec.annotations;
    rec.cgroups_path = spec.linux->cgroups_path;
    rec.systemd_cgroup = g.systemd_cgroup;
    rec.rootless_cgroup = g.rootless;
    rec.has_poststart = spec.hooks && !spec.hooks->poststart.empty();
    rec.has_poststop = spec.hooks && !spec.hooks->poststop.empty();
    rec.config = prepared.config_text;
    rec.owner = rootless::user_name(::geteuid());
    store.save(rec);
    return rec;
}

// The read end of the fifo `start` writes to; `run` has none.
Fd make_exec_fifo(Store& store, const CreateOptions& o) {
    if (o.start_now) return Fd();
    std::string fifo = store.fifo_path(o.id);
    if (::mkfifo(fifo.c_str(), 0600) < 0) throw_errno("mkfifo " + fifo);
    int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw_errno("open " + fifo);
    return Fd(fd);
}

// Holds the cgroup in `cgroup` before creating it, so that a failure from there on removes it.
void create_cgroup(const Globals& g, const CreateOptions& o, const oci::Spec& spec,
                   std::unique_ptr<cgroups::Manager>& cgroup) {
    cgroups::Options options;
    options.cgroups_path = spec.linux->cgroups_path;
    options.container_id = o.id;
    options.systemd = g.systemd_cgroup;
    options.rootless = g.rootless;
    options.annotations = spec.annotations;
    options.warn = [](const std::string& m) { log::warn(m); };
    // A cgroup that is already frozen would stop the init before its first step and `create`
    // would wait forever: refuse it, and leave it as it was (not ours).
    auto existing = cgroups::open(options);
    if (existing->freezing()) throw Error(kFrozen, EBUSY);
    // Another container's processes in this cgroup: allowed, as runc 1.1 allows it, but said,
    // since its limits, pause and kill --all reach them too (runc's words).
    try {
        const size_t n = existing->pids().size();
        if (n) log::warn("container's cgroup is not empty: " + std::to_string(n) + " process(es) found");
    } catch (const std::exception&) {  // no such cgroup yet: nothing to say
    }
    cgroup = std::move(existing);
    const oci::Resources* resources = spec.linux->resources ? &*spec.linux->resources : nullptr;
    // Rootless without a delegated cgroup: none at all when no limits are asked for (runc's rule).
    if (g.rootless && !g.systemd_cgroup)
        cgroup = cgroups::create_or_go_without(std::move(cgroup), resources, options.cgroups_path);
    else
        cgroup->create(resources);
    // A new cgroup under a frozen parent is born frozen.
    if (cgroup->freezing()) throw Error(kFrozen, EBUSY);
    log::phase("cgroup");
}

Fd console_socket_for(const CreateOptions& o, const oci::Spec& spec) {
    Fd console_socket;
    if (!o.console_socket.empty()) console_socket.reset(connect_unix(o.console_socket, "console socket"));
    else if (o.console_fd >= 0) console_socket.reset(::fcntl(o.console_fd, F_DUPFD_CLOEXEC, 3));
    if (spec.process->terminal && !console_socket)
        throw Error("cannot allocate tty if runc will detach without setting console socket", EINVAL);
    return console_socket;
}

// Step 1 of launch.hpp for create: everything the init needs, as plain data and fds.
init::Context build_init_context(const Globals& g, const CreateOptions& o, const Prepared& prepared,
                                 cgroups::Manager& cgroup,
                                 Channel& child_end, int exec_fifo_fd, int console_socket_fd) {
    init::Context ctx;
    ctx.spec = &prepared.spec;
    ctx.id = o.id;
    ctx.bundle = prepared.bundle;
    ctx.rootfs = prepared.rootfs;
    ctx.channel = &child_end;
    ctx.exec_fifo_fd = exec_fifo_fd;
    ctx.console_socket_fd = console_socket_fd;
    ctx.preserve_fds = o.preserve_fds + prepared.listen_fds;
    ctx.no_pivot = o.no_pivot;
    ctx.no_new_keyring = o.no_new_keyring;
    ctx.new_user_ns = prepared.ns.new_user;
    ctx.dumpable_until_go = prepared.ns.new_user && ::geteuid() != 0;
    ctx.runtime_in_user_ns = g.rootless && rootless::in_user_namespace();
    ctx.new_cgroup_ns = prepared.ns.new_cgroup;
    ctx.new_uts_ns = prepared.ns.listed & CLONE_NEWUTS;  // new or joined: not the host's
    ctx.new_net_ns = prepared.ns.clone_flags & CLONE_NEWNET;
    for (const auto& h : cgroup.hierarchies())
        ctx.cgroup_mounts.push_back({h.name, h.fstype, h.options, h.host_path, h.base, h.rel});
    for (const auto& j : cgroup.join_files()) ctx.cgroup_joins.push_back({j.fd, j.path});
    return ctx;
}

// Step 2 of launch.hpp for create: the init, in its namespaces (joined ones around the clone)
// and its cgroup. In the child: drop what belongs to the runtime, then init::container_init.
Launched clone_init(const Prepared& prepared, init::Context& ctx, cgroups::Manager& cgroup, Fd& lock,
                    Channel& parent_end) {
    const oci::Spec& spec = prepared.spec;
    ParentNamespaces joined(prepared.ns, spec);
    log::phase("namespaces");
    const oci::Namespace* user_ns = oci::find_namespace(*spec.linux, "user");
    if (!user_ns || user_ns->path.empty()) {
        return clone_process(prepared.ns.clone_flags, cgroup.clone_into_fd(), [&] {
            lock.reset();
            parent_end.close();
            init::container_init(ctx);
        });
    }
    // Namespaces created next to a joined user namespace must be owned by it (else the init
    // has no capabilities over them), so they are created from inside it: a helper joins it
    // and clones the init as our child.
    return spawn_in_user_ns(user_ns->path, prepared.ns.clone_flags, cgroup.clone_into_fd(), [&] {
        lock.reset();
        parent_end.close();
        // already inside the user namespace: the init must not join it again
        static oci::Spec own = spec;
        for (auto& ns : own.linux->namespaces)
            if (ns.type == "user") ns.path.clear();
        ctx.spec = &own;
        // not the host's user namespace: become its root, bind devices
        ctx.new_user_ns = true;
        init::container_init(ctx);
    });
}

// Step 3 of launch.hpp for create: `go` with the pid and the state, then serve the init
// (hooks it cannot run, mount sources it cannot reach) until it is `ready`.
class InitHandshake {
public:
    InitHandshake(Channel& channel, cgroups::Manager& cgroup) : channel_(channel), cgroup_(cgroup) {}

    void serve_until_ready(const Prepared& prepared, const Record& rec, const Launched& init_process) {
        const oci::Spec& spec = prepared.spec;
        // The state document goes to hooks and to a seccomp agent; most configs have neither.
        const auto& hk = spec.hooks;
        bool state_read = (hk && (!hk->prestart.empty() || !hk->create_runtime.empty() ||
                                  !hk->create_container.empty() || !hk->start_container.empty())) ||
                          (spec.linux->seccomp && !spec.linux->seccomp->listener_path.empty());
        std::string hook_state = state_read ? state_document(rec, Status::creating, false) : "{}";
        std::string start_state = hk && !hk->start_container.empty() ? state_document(rec, Status::created, false) : "";
        send(Msg::go, std::to_string(init_process.pid) + " " + hook_state + "\n" + start_state);
        // No save here: if we die now the init dies with us (PDEATHSIG), and `delete` finds
        // its cgroup from the first record; the pid is saved once, with `created`.
        Message msg;
        for (;;) {
            wait_init();
            if (!channel_.receive(msg)) throw Error("container init exited before it was ready", ECHILD);
            if (msg.type == Msg::ready) break;
            if (msg.type == Msg::error) throw Error(msg.payload, EIO);
            if (msg.type == Msg::run_hooks) {
                init::run_hooks(spec.hooks->prestart, hook_state, "prestart", prepared.bundle);
                init::run_hooks(spec.hooks->create_runtime, hook_state, "createRuntime", prepared.bundle);
                send(Msg::hooks_done, {});
            }
            if (msg.type == Msg::mount_source) send_mount_source(prepared, msg.payload, init_process.pidfd.get());
        }
        log::phase("init ready");
    }

    // `run`: the init keeps its (close-on-exec) end until execve: end-of-stream means the
    // process runs (or the init died, which the caller's wait will tell).
    void wait_until_exec() {
        Message msg;
        do {
            wait_init();
        } while (channel_.receive(msg));
        log::phase("exec");
    }

private:
    // If the init already failed, a send meets a closed socket: its error message is still
    // queued for us and says more than EPIPE.
    void send(Msg m, const std::string& payload) {
        try {
            channel_.send(m, payload);
        } catch (const Error& e) {
            if (e.errnum() != EPIPE && e.errnum() != ECONNRESET) throw;
            Message pending;
            while (channel_.receive(pending))
                if (pending.type == Msg::error) throw Error(pending.payload, EIO);
            throw Error("container init exited before it was ready", ECHILD);
        }
    }

    // Never wait without a bound on an init that a freezer stopped on its way.
    void wait_init() {
        while (!readable_within(channel_.fd(), 1000))
            if (cgroup_.freezing()) throw Error(kFrozen, EBUSY);
    }

    void send_mount_source(const Prepared& prepared, const std::string& index, int init_pidfd) {
        size_t i = size_t(std::strtoul(index.c_str(), nullptr, 10));
        if (i >= prepared.spec.mounts.size()) throw Error("container init asked for an unknown mount", EPROTO);
        try {
            Fd tree = init::clone_source_for_init(init_pidfd, prepared.spec.mounts[i], prepared.bundle);
            channel_.send(Msg::mount_tree, "", {tree.get()});
        } catch (const Error& e) {
            channel_.send(Msg::mount_tree, e.what());
        }
    }

    Channel& channel_;
    cgroups::Manager& cgroup_;
};

// What a failed create leaves: the init killed, the cgroup removed (the record is the caller's).
void undo_create(const Launched& init_process, cgroups::Manager* cgroup) {
    if (init_process.pidfd) {
        sys::pidfd_send_signal(init_process.pidfd.get(), SIGKILL);
        // A task a v1 freezer holds dies only once thawed: thaw, and wait a bounded time.
        if (!readable_within(init_process.pidfd.get(), 1000) && cgroup) {
            try {
                cgroup->thaw();
            } catch (const Error&) {
            }
        }
        if (readable_within(init_process.pidfd.get(), 2000)) ::waitpid(init_process.pid, nullptr, 0);
    }
    if (cgroup) discard_cgroup(*cgroup);
}

}  // namespace

// The steps of launch.hpp, with create's own around them: the record, the exec fifo, the
// cgroup; after the clone, the cgroup attach and the id maps.
pid_t create_prepared(const Globals& g, const CreateOptions& o, Prepared& prepared, Fd* pidfd_out,
                      Record* record_out) {
    Store store(g.root);
    Fd lock = store.make_locked(o.id);  // "container with given ID already exists"
    std::unique_ptr<cgroups::Manager> cgroup;
    Launched init_process;
    NetDevices net_devices;
    try {
        Record rec = save_creating_record(store, g, o, prepared);
        if (!prepared.vm)  // NOTIFY_SOCKET: /run/notify in the container; removed with the record
            prepared.notify_socket = notify::setup_for_create(prepared.spec, g.root, o.id, o.start_now);
        if (prepared.vm) vm::start_host_side(*prepared.vm);
        Fd exec_fifo = make_exec_fifo(store, o);
        create_cgroup(g, o, prepared.spec, cgroup);
        rec.no_cgroup = cgroups::is_none(*cgroup);
        rec.cgroup_paths = cgroup->paths();
        Fd console_socket = console_socket_for(o, prepared.spec);
        reserve_preserved_fds(o.preserve_fds + prepared.listen_fds);
        auto [parent_end, child_end] = Channel::pair();
        init::Context ctx = build_init_context(g, o, prepared, *cgroup, child_end, exec_fifo.get(), console_socket.get());
        // Idmapped trees need the host's privilege over their filesystem: built here,
        // inherited by the init across clone3, closed in the runtime right after it.
        init::IdmappedMounts idmapped = init::IdmappedMounts::prepare(prepared.spec, prepared.bundle);
        ctx.idmapped_trees = idmapped.fds();
        // So are linux.devices nodes for a new user namespace (no mknod in there).
        init::DeviceNodes device_nodes =
            init::DeviceNodes::prepare(prepared.spec, prepared.ns.new_user && !prepared.vm);
        ctx.device_trees = device_nodes.fds();

        init_process = clone_init(prepared, ctx, *cgroup, lock, parent_end);
        idmapped = {};
        device_nodes = {};
        child_end.close();
        exec_fifo.reset();
        console_socket.reset();
        log::phase("clone");
        cgroup->attach_init(init_process.pid);
        if (prepared.vm)  // virtiofsd beside QEMU: the VM's overhead is the container's
            for (pid_t helper : vm::helper_pids(g.root, o.id)) cgroup->add_process(helper);
        if (prepared.ns.new_user) write_id_maps(init_process.pid, *prepared.spec.linux);
        net_devices.move_in(prepared.spec, init_process.pid);
        rec.net_device_indexes = net_devices.indexes();
        rec.net_device_identities = net_devices.identities();
        apply_intel_rdt(prepared.spec, o.id, init_process.pid);
        rec.pid = init_process.pid;
        rec.pid_start = process_start_time(init_process.pid);

        InitHandshake handshake(parent_end, *cgroup);
        handshake.serve_until_ready(prepared, rec, init_process);
        rec.creating = false;
        store.save(rec);
        net_devices.keep();
        publish_process(o.pid_file, o.pidfd_socket, init_process);
        log::phase("created");
        if (o.start_now) handshake.wait_until_exec();
        pid_t pid = init_process.pid;
        if (pidfd_out) *pidfd_out = std::move(init_process.pidfd);
        if (record_out) *record_out = std::move(rec);
        return pid;
    } catch (Error& e) {
        net_devices.give_back();  // before the kill: a dying namespace destroys virtual devices
        undo_create(init_process, cgroup.get());
        remove_intel_rdt(prepared.config_text, o.id);
        lock.reset();
        store.remove(o.id);
        throw;
    }
}

void discard_cgroup(cgroups::Manager& cgroup) {
    // Apart: a kill that cannot thaw (a frozen parent) must not keep the cgroup.
    try {
        cgroup.kill_all(SIGKILL);
    } catch (const Error& e) {
        log::warn("cleanup of cgroup failed: " + std::string(e.what()));
    }
    try {
        cgroup.destroy();
    } catch (const Error& e) {
        log::warn("cleanup of cgroup failed: " + std::string(e.what()));
    }
}

pid_t create(const Globals& g, const CreateOptions& o) {
    Prepared prepared = prepare(g, o);
    return create_prepared(g, o, prepared, nullptr);
}

}  // namespace skiff::container
