// `restore`: a container record and cgroup as `create` makes them, then criu restore puts
// the checkpointed tree back into them; the restored init becomes the container's init.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "cgroups/manager.hpp"
#include "container/checkpoint.hpp"
#include "container/checkpoint_files.hpp"
#include "container/criu.hpp"
#include "container/criu_externals.hpp"
#include "container/internal.hpp"
#include "container/state.hpp"
#include "init/hooks.hpp"
#include "linux/channel.hpp"
#include "base/error.hpp"
#include "linux/log.hpp"
#include "linux/rootpath.hpp"
#include "linux/syscalls.hpp"
#include "base/text.hpp"

namespace skiff::container {
namespace {

bool under_any(const std::string& dest, const std::vector<std::string>& prefixes) {
    for (const auto& p : prefixes)
        if (dest.size() > p.size() && dest.compare(0, p.size(), p) == 0 && dest[p.size()] == '/') return true;
    return false;
}

std::string source_path(const oci::Mount& m, const std::string& bundle) {
    if (!m.source.empty() && m.source[0] != '/') return bundle + "/" + m.source;
    return m.source;
}

// In criu's own mount namespace (a private copy; nothing reaches the host): the rootfs as a
// mount point, as CRIU needs its --root, and the mount points of the config made in it as
// create makes them (a fresh rootfs lacks them), with the bind mounts in place so that mount
// points inside them exist too. Mount points on a tmpfs are left alone: CRIU restores the
// tmpfs with its content.
void prepare_root_for_criu(const oci::Spec& spec, const std::string& rootfs, const std::string& bundle) {
    if (::unshare(CLONE_NEWNS) < 0) throw_errno("unshare the mount namespace for criu");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) < 0) throw_errno("make / a slave mount");
    if (::mount(rootfs.c_str(), rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
        throw_errno("bind mount the rootfs " + rootfs);
    int raw = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (raw < 0) throw_errno("open rootfs " + rootfs);
    Fd root(raw);
    std::vector<std::string> tmpfs;
    for (const auto& m : spec.mounts)
        if (m.type == "tmpfs") tmpfs.push_back(criu::mount_key(m.destination));
    for (const auto& m : spec.mounts) {
        std::string dest = criu::mount_key(m.destination);
        if (dest == "/" || m.type == "cgroup" || m.type == "cgroup2" || under_any(dest, tmpfs)) continue;
        bool bind = criu::is_bind(m);
        std::string src = source_path(m, bundle);
        struct stat st;
        bool file = bind && ::stat(src.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
        Fd target = file ? rootpath::ensure_file(root.get(), dest) : rootpath::mkdir_all(root.get(), dest);
        if (!bind) continue;
        if (rootpath::mount_at(target.get(), src.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
            throw_errno("bind mount " + src + " on " + dest + " for criu");
    }
    if (::chdir("/") < 0) throw_errno("chdir /");
}

// --cgroup-root for each hierarchy: the container's cgroup as a path in that hierarchy.
std::vector<std::string> cgroup_roots(cgroups::Manager& cg) {
    std::vector<std::string> out;
    for (const auto& h : cg.hierarchies()) {
        std::string mount = "/sys/fs/cgroup" + (h.name.empty() ? std::string() : "/" + h.name);
        if (h.host_path.compare(0, mount.size(), mount) != 0) continue;
        std::string rel = h.host_path.substr(mount.size());
        if (rel.empty()) rel = "/";
        if (h.fstype == "cgroup2" && h.name.empty()) out.push_back(rel);
        else if (h.fstype == "cgroup") out.push_back(h.options + ":" + rel);
    }
    return out;
}

pid_t read_pid(const std::string& path) {
    std::string text;
    try {
        text = text::read_file(path);
    } catch (const Error&) {
        throw Error("criu restore wrote no pid file " + path, EIO);
    }
    long n = std::strtol(text.c_str(), nullptr, 10);
    if (n <= 0) throw Error("criu restore wrote no pid to " + path, EIO);
    return pid_t(n);
}

}  // namespace

int restore(const Globals& g, const RestoreOptions& o) {
    CreateOptions co;
    co.id = o.id;
    co.bundle = o.bundle;
    co.no_pivot = o.no_pivot;
    co.pid_file = o.pid_file;
    Prepared p = prepare(g, co);  // the id, the bundle's config and rootfs
    const oci::Spec& spec = p.spec;
    const std::string mode = criu::cgroups_mode(o.manage_cgroups_mode);
    if (!o.empty_ns.empty() && o.empty_ns != "network")
        throw Error("invalid --empty-ns " + o.empty_ns + ": only network is supported", EINVAL);
    // A terminal container gets a new pty from CRIU (through its RPC), whose master goes to
    // the console socket, as runc does.
    if (spec.process->terminal && o.console_socket.empty())
        throw Error("process.terminal is true but no --console-socket was given", EINVAL);
    char buf[PATH_MAX];
    std::string images_arg = o.image_path.empty() ? "checkpoint" : o.image_path;
    if (!::realpath(images_arg.c_str(), buf))
        throw Error("restore: image path " + images_arg + " does not exist", ENOENT);
    const std::string images = buf;
    check_image_dir(images);
    const std::vector<std::string> stdio = read_descriptors(images);
    check_manifest(images, spec);
    Store store(g.root);
    if (store.exists(o.id)) throw Error("container with given ID already exists", EEXIST);

    const std::string criu_bin = criu::locate(g.criu, "restore");
    criu::ensure_usable(criu_bin, "restore");
    if (o.lazy_pages && !criu::has_feature(criu_bin, "uffd-noncoop"))
        throw Error("lazy-pages is not supported on this host: no userfaultfd for CRIU here", ENOTSUP);
    const std::string work = o.work_path.empty() ? images : absolute_dir(o.work_path, "work path");
    const std::string pid_path = work + "/restore.pid";
    ::unlink(pid_path.c_str());

    // Foreground: the restored init is our child (--restore-sibling); orphans are ours to reap.
    if (!o.detach && !o.no_subreaper) ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    sigset_t forward;
    sigemptyset(&forward);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD}) sigaddset(&forward, sig);
    if (!o.detach) ::sigprocmask(SIG_BLOCK, &forward, nullptr);

    Fd lock = store.make_locked(o.id);  // "container with given ID already exists"
    std::unique_ptr<cgroups::Manager> cg;
    Fd pidfd;
    pid_t pid = 0;
    std::vector<Fd> ns_fds;
    Record rec;
    try {
        rec.id = o.id;
        rec.bundle = p.bundle;
        rec.rootfs = p.rootfs;
        rec.created = log::now_rfc3339();
        rec.annotations = spec.annotations;
        rec.cgroups_path = spec.linux->cgroups_path;
        rec.systemd_cgroup = g.systemd_cgroup;
        rec.rootless_cgroup = g.rootless;  // as create records it: later commands ask the same manager
        rec.has_poststart = spec.hooks && !spec.hooks->poststart.empty();
        rec.has_poststop = spec.hooks && !spec.hooks->poststop.empty();
        rec.config = p.config_text;
        store.save(rec);  // from here on `delete` can clean up after us

        cgroups::Options cgo;
        cgo.cgroups_path = rec.cgroups_path;
        cgo.container_id = o.id;
        cgo.systemd = g.systemd_cgroup;
        cgo.rootless = g.rootless;
        cgo.annotations = spec.annotations;
        cgo.warn = [](const std::string& m) { log::warn(m); };
        cg = cgroups::open(cgo);
        cg->create(spec.linux->resources ? &*spec.linux->resources : nullptr);
        rec.cgroup_paths = cg->paths();
        log::phase("cgroup");

        criu::Invocation inv;
        inv.log_path = work + "/restore.log";
        auto& a = inv.args;
        a = {"restore", "--images-dir", images, "--work-dir", work, "--log-file", "restore.log", "-v4",
             "--root", p.rootfs, "--restore-detached", "--restore-sibling", "--pidfile", pid_path,
             "--manage-cgroups=" + mode, "--evasive-devices"};
        for (const auto& r : cgroup_roots(*cg)) a.insert(a.end(), {"--cgroup-root", r});
        if (o.tcp_established) a.push_back("--tcp-established");
        if (o.ext_unix_sk) a.push_back("--ext-unix-sk");
        if (o.shell_job) a.push_back("--shell-job");
        if (o.file_locks) a.push_back("--file-locks");
        if (o.auto_dedup) a.push_back("--auto-dedup");
        if (o.lazy_pages) a.push_back("--lazy-pages");
        if (!o.empty_ns.empty()) a.insert(a.end(), {"--empty-ns", "net"});
        if (!o.lsm_profile.empty()) a.insert(a.end(), {"--lsm-profile", o.lsm_profile});
        if (!o.lsm_mount_context.empty()) a.insert(a.end(), {"--lsm-mount-context", o.lsm_mount_context});
        for (const auto& e : criu::restore_mounts(spec, p.bundle)) a.insert(a.end(), {"--external", e});
        for (const auto& b : criu::cgroup_binds(spec, hierarchy_paths(*cg)))
            a.insert(a.end(), {"--external", "mnt[" + b.mountpoint + "]:" + b.host_path});
        int next_fd = 10;
        for (const auto& [key, path] : criu::joined_namespaces(spec)) {
            int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) throw Error("restore: the namespace " + path + " to join does not exist", ENOENT);
            ns_fds.emplace_back(fd);
            inv.pass_fds.push_back({fd, next_fd});
            a.insert(a.end(), {"--inherit-fd", "fd[" + std::to_string(next_fd) + "]:" + key});
            ++next_fd;
        }
        // The init's stdio pipes at dump time are ours now: the same fd numbers take their place.
        for (size_t i = 0; i < stdio.size() && i < 3; ++i)
            if (stdio[i].find("pipe:") != std::string::npos)
                a.insert(a.end(), {"--inherit-fd", "fd[" + std::to_string(i) + "]:" + stdio[i]});
        if (spec.process->terminal) {
            Fd console(connect_unix(o.console_socket, "console socket"));
            inv.on_pts_master = [console = std::make_shared<Fd>(std::move(console))](int master) {
                send_fds(console->get(), "orphan-pts-master", {master});
            };
        }
        const std::string rootfs = p.rootfs, bundle = p.bundle;
        inv.in_child = [&spec, rootfs, bundle] { prepare_root_for_criu(spec, rootfs, bundle); };
        // criu itself goes into the cgroup first, so what it forks starts there.
        bool systemd = g.systemd_cgroup;
        inv.on_spawned = [&cg, systemd](pid_t criu_pid) {
            if (systemd) cg->attach_init(criu_pid);
            else cg->add_process(criu_pid);
        };
        // prestart and createRuntime run where runc runs them on a restore: once CRIU made the
        // namespaces, with the restored init's pid in the state.
        const auto& hk = spec.hooks;
        if (hk && (!hk->prestart.empty() || !hk->create_runtime.empty())) {
            inv.hook_dir = work;
            inv.on_setup_namespaces = [&](pid_t restored) {
                Record now = rec;
                now.pid = restored;
                std::string state = state_document(now, Status::creating, false);
                init::run_hooks(hk->prestart, state, "prestart", p.bundle);
                init::run_hooks(hk->create_runtime, state, "createRuntime", p.bundle);
            };
        }
        log::phase("criu restore");
        criu::run(criu_bin, inv);
        ns_fds.clear();
        pid = read_pid(pid_path);
        int raw = sys::pidfd_open(pid);
        if (raw < 0) throw Error("the restored process " + std::to_string(pid) + " is gone", ESRCH);
        pidfd.reset(raw);
        rec.pid = pid;
        rec.pid_start = process_start_time(pid);
        rec.creating = false;
        store.save(rec);
        if (!o.pid_file.empty()) write_pid_file(o.pid_file, pid);
        log::phase("restored");
    } catch (Error&) {
        if (pidfd) sys::pidfd_send_signal(pidfd.get(), SIGKILL);
        // What CRIU restored half way is in the cgroup: it goes with it.
        if (cg) discard_cgroup(*cg);
        if (pid > 0) ::waitpid(pid, nullptr, WNOHANG);
        lock.reset();
        store.remove(o.id);
        throw;
    }
    lock.reset();
    if (o.detach) return 0;
    std::optional<int> waited = wait_in_foreground(pidfd.get(), pid, forward, nullptr, !o.no_subreaper);
    remove(g, o.id, true);
    return waited.value_or(0);
}

}  // namespace skiff::container
