// start, kill, delete, state, list and run.
#include "container/lifecycle.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include <nlohmann/json.hpp>

#include "cgroups/manager.hpp"
#include "container/internal.hpp"
#include "container/intel_rdt.hpp"
#include "container/net_devices.hpp"
#include "container/launch.hpp"
#include "container/notify_socket.hpp"
#include "init/hooks.hpp"
#include "container/state.hpp"
#include "container/tty_relay.hpp"
#include "vm/agent_client.hpp"
#include "base/error.hpp"
#include "linux/log.hpp"
#include "linux/syscalls.hpp"
#include "oci/config.hpp"

namespace skiff::container {
namespace {

// A pidfd for the record's init, or an invalid Fd when that process is gone (pid reuse safe:
// the start time is checked after the pidfd pins the process).
Fd open_init(const Record& r) {
    if (r.pid <= 0) return Fd();
    int fd = sys::pidfd_open(r.pid);
    if (fd < 0) return Fd();
    Fd f(fd);
    if (process_start_time(r.pid) != r.pid_start) return Fd();
    return f;
}

bool wait_exit(int pidfd, int timeout_ms) {
    struct pollfd p = {pidfd, POLLIN, 0};
    int n;
    do {
        n = ::poll(&p, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    return n > 0;
}


// What delete does after the init is gone: leftovers of the cgroup, poststop, the record.
// hook_cwd: where poststop runs ("" = here; `run` passes the bundle, as runc).
void destroy(const Store& store, const Record& r, const std::string& hook_cwd = "") {
    return_net_devices(r.config, r.net_device_indexes, r.net_device_identities, 0);
    remove_intel_rdt(r.config, r.id);
    vm::stop_helpers(store.root(), r.id, r.pid);  // out of the cgroup before it goes
    try {
        auto cgroup = cgroup_of(r);
        if (!cgroup->remove_if_empty()) {
            cgroup->kill_all(SIGKILL);
            cgroup->destroy();
        }
    } catch (const Error& e) {
        log::warn("remove cgroup of " + r.id + ": " + e.what());
    }
    if (r.has_poststop) {
        try {
            oci::Spec spec = oci::parse_config(r.config);
            init::run_hooks_warn(spec.hooks->poststop, state_document(r, Status::stopped, false), "poststop",
                           hook_cwd);
        } catch (const Error& e) {
            log::warn(std::string("poststop hooks: ") + e.what());
        }
    }
    store.remove(r.id);
}

}  // namespace

void start(const Globals& g, const std::string& id) {
    validate_id(id);
    Store store(g.root);
    Fd lock = store.lock(id);
    Record r = store.load(id);
    Status s = status_of(store, r);
    switch (s) {
        case Status::created: break;
        case Status::stopped: throw Error("cannot start a container that has stopped", EINVAL);
        case Status::running: throw Error("cannot start an already running container", EINVAL);
        case Status::paused: throw Error("cannot start a paused container", EINVAL);
        case Status::creating: throw Error("cannot start a container that is still being created", EINVAL);
    }
    log::phase("start: state");
    // NOTIFY_SOCKET: bound before the process can send READY, the host reached before it runs.
    Fd notify_own = notify::bind_for_start(g.root, id);
    Fd notify_host = notify_own ? notify::connect_host() : Fd();
    std::string fifo = store.fifo_path(id);
    int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENXIO) throw Error("cannot start a container that has stopped", ESRCH);
        throw_errno("open exec fifo");
    }
    Fd f(fd);
    if (::write(fd, "0", 1) != 1) throw_errno("write exec fifo");
    ::unlink(fifo.c_str());
    // The init holds the read end close-on-exec: when it is gone, the user process has
    // been exec'd (or the init died), and poststart may run. poll reports POLLERR on a
    // write end without readers.
    struct pollfd pfd = {fd, 0, 0};
    while (::poll(&pfd, 1, -1) < 0 && errno == EINTR) {
    }
    f.reset();
    vm::send_window_size(g.root, id, r.pid);  // a VM's terminal: the guest's pty starts at the host's size
    if (vm::is_vm(g.root, id)) {
        // A VM-isolated container has started once its guest is up; one that does not come up
        // in time is not left half there (no QEMU, virtiofsd, tap or record). Unlocked while it
        // boots, so that delete --force need not wait for the limit.
        lock.reset();
        try {
            Fd qemu = open_init(r);
            vm::await_guest(g.root, id, qemu ? qemu.get() : -1, true);
        } catch (const Error&) {
            try { remove(g, id, true); } catch (const Error&) {}
            throw;
        }
        lock = store.lock(id);
    }
    log::phase("start: exec");
    if (r.has_poststart) {
        oci::Spec spec = oci::parse_config(r.config);
        init::run_hooks_warn(spec.hooks->poststart, state_document(r, Status::running, false), "poststart");
        log::phase("start: poststart");
    }
    if (notify_own) {
        lock.reset();  // a delete --force must not wait for READY
        Fd init_fd = open_init(r);
        if (init_fd) notify::relay_ready(notify_own.get(), notify_host.get(), init_fd.get(), r.pid);
    }
}

void kill(const Globals& g, const std::string& id, int signal, bool all) {
    validate_id(id);
    Store store(g.root);
    Record r = store.load(id);
    Status s = status_of(store, r);
    if (s == Status::stopped && !all) throw Error("container not running", ESRCH);
    if (all) {
        cgroup_of(r)->kill_all(signal);
        return;
    }
    if (vm::forward_signal(g.root, id, signal)) return;  // through the guest agent
    Fd pidfd = open_init(r);
    if (!pidfd || sys::pidfd_send_signal(pidfd.get(), signal) < 0) {
        if (!pidfd || errno == ESRCH) throw Error("container not running", ESRCH);
        throw_errno("kill container " + id);
    }
}

void remove(const Globals& g, const std::string& id, bool force) {
    validate_id(id);
    Store store(g.root);
    if (!store.exists(id)) {
        if (force) return;  // runc: delete --force of a missing container succeeds
        throw Error("container does not exist", ENOENT);
    }
    Fd lock = store.lock(id);
    auto rec = store.try_load(id);
    if (!rec) {
        if (force) return;
        throw Error("container does not exist", ENOENT);
    }
    Record& r = *rec;
    Fd pidfd = open_init(r);
    // A record still "creating" whose lock we now hold belongs to a create that died.
    Status s = !pidfd ? Status::stopped : r.creating ? Status::created : status_of(store, r);
    if ((s == Status::running || s == Status::paused) && !force)
        throw Error("cannot delete container " + id + " that is not stopped: " + status_name(s), EBUSY);
    if (pidfd) {
        if (s == Status::paused) {
            try { cgroup_of(r)->thaw(); } catch (const Error&) {}
        }
        return_net_devices(r.config, r.net_device_indexes, r.net_device_identities, r.pid);  // while its network namespace lives
        sys::pidfd_send_signal(pidfd.get(), SIGKILL);
        if (!wait_exit(pidfd.get(), 10000)) log::warn("container " + id + " init did not exit after SIGKILL");
    }
    destroy(store, r);
}

std::string state(const Globals& g, const std::string& id) {
    validate_id(id);
    Store store(g.root);
    Record r = store.load(id);
    return state_document(r, status_of(store, r));
}

std::vector<ListEntry> list(const Globals& g) {
    Store store(g.root);
    std::vector<ListEntry> out;
    for (const auto& id : store.ids()) {
        auto r = store.try_load(id);
        if (!r) continue;
        Status s = status_of(store, *r);
        ListEntry e;
        e.id = id;
        e.status = status_name(s);
        e.pid = s == Status::stopped ? 0 : r->pid;
        e.bundle = r->bundle;
        e.created = r->created;
        e.owner = r->owner;
        e.state_json = state_document(*r, s);
        out.push_back(std::move(e));
    }
    return out;
}

// create's steps (launch.hpp) without a `start` in between, then the foreground wait.
int run_container(const Globals& g, const CreateOptions& o, bool detach, bool keep, bool no_subreaper) {
    Prepared prepared = prepare(g, o);
    Fd notify_host = !prepared.vm && *notify::host_address() ? notify::connect_host() : Fd();
    if (!detach && !no_subreaper) ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    ForwardedSignals forward(!detach, true);
    Fd pidfd;
    std::optional<TtyRelay> tty;
    CreateOptions run_options = o;
    run_options.start_now = true;
    if (!detach && prepared.spec.process->terminal && o.console_socket.empty() && o.console_fd < 0) {
        tty.emplace();
        run_options.console_fd = tty->console_end();
    }
    Record rec;
    pid_t pid = create_prepared(g, run_options, prepared, &pidfd, &rec);
    try {
        if (tty) tty->take_master();
        vm::await_guest(g.root, o.id, pidfd.get(), detach);
        vm::send_window_size(g.root, o.id, pid);
        // create_prepared returned after the execve: only poststart is left of `start`.
        if (prepared.spec.hooks && !prepared.spec.hooks->poststart.empty())
            init::run_hooks_warn(prepared.spec.hooks->poststart, state_document(rec, Status::running, false),
                                 "poststart", prepared.bundle);
    } catch (...) {
        try { remove(g, o.id, true); } catch (...) {}
        throw;
    }
    // NOTIFY_SOCKET: READY on to the host before the wait, as runc; the main pid is the
    // container's when we leave, ours in the foreground (we exit with it).
    if (prepared.notify_socket) {
        try {
            notify::relay_ready(prepared.notify_socket.get(), notify_host.get(), pidfd.get(),
                                detach ? pid : ::getpid(), detach ? nullptr : &forward.set(),
                                tty ? &*tty : nullptr);
        } catch (const Error& e) {
            log::warn(std::string("NOTIFY_SOCKET: ") + e.what());  // runc too goes on
        }
        prepared.notify_socket.reset();
    }
    if (detach) return 0;

    std::optional<int> waited = wait_in_foreground(pidfd.get(), pid, forward.set(), tty ? &*tty : nullptr, true,
                                                   [&](int sig) { return vm::forward_signal(g.root, o.id, sig); });
    int status = vm::exit_status(g.root, o.id, waited.value_or(0));
    if (keep) return status;
    if (!waited) {
        remove(g, o.id, true);
        return status;
    }
    // The init is gone and only create writes the record, so the one in hand is the saved
    // one: what delete does after the init, without reading it back. A concurrent
    // `delete --force` may have removed the container already.
    Store store(g.root);
    Fd lock;
    try {
        lock = store.lock(o.id);
    } catch (const Error& e) {
        if (e.errnum() == ENOENT) return status;
        throw;
    }
    destroy(store, rec, prepared.bundle);
    return status;
}

}  // namespace skiff::container
