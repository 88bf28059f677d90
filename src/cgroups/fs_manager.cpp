#include "cgroups/fs_manager.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <thread>

#include "cgroups/fs.hpp"
#include "cgroups/path.hpp"
#include "cgroups/stats.hpp"
#include "base/error.hpp"
#include "base/text.hpp"

namespace skiff::cgroups {
namespace {

// runc's rule for rootless cgroups: a device program the user may not load is skipped. The
// user can make no device node either; the container gets the host's files bound in.
void police_devices(const Options& o, const Placement& p, const std::vector<oci::DeviceRule>& rules) {
    try {
        apply_devices(p, rules);
    } catch (const Error& e) {
        if (!o.rootless || (e.errnum() != EPERM && e.errnum() != EACCES)) throw;
    }
}

}  // namespace

FsManager::FsManager(const Options& opts) : opts_(opts) {
    layout_ = detect_layout(opts.root, opts.layout);
    // Every path below goes from here, not through /sys's kernfs lock (fs.hpp: anchors).
    fs::anchor(opts.root);
    std::string own;
    if (opts.paths.empty()) {
        normalized_ = normalize_cgroups_path(opts.cgroups_path, opts.container_id, opts.systemd);
        if (normalized_.front() != '/') own = fs::read(opts.proc_self_cgroup);
    }
    for (const auto& h : layout_.hierarchies) {
        Entry e{h, ""};
        if (!opts.paths.empty()) {
            auto it = opts.paths.find(h.name);
            if (it == opts.paths.end()) continue;  // the container was never placed there
            e.path = it->second;
        } else {
            e.path = resolve_in(h, normalized_, own);
        }
        entries_.push_back(e);
    }
    // v1 first: on hybrid hosts a controller bound to v1 is absent from v2 anyway, but the
    // v1 hierarchy is the one the kernel enforces when both claim it.
    for (const auto& e : entries_) {
        if (e.h.v2) continue;
        for (const auto& c : e.h.controllers) placement_.controllers.emplace(c, Target{e.path, false});
    }
    for (const auto& e : entries_) {
        if (!e.h.v2) continue;
        placement_.unified_dir = e.path;
        for (const auto& c : e.h.controllers)
            placement_.controllers.emplace(c == "io" ? "blkio" : c, Target{e.path, true});
    }
    placement_.pure_v2 = layout_.mode == Mode::Unified;
}

FsManager::~FsManager() {
    if (clone_fd_ >= 0) ::close(clone_fd_);
    for (const auto& j : join_files_) ::close(j.fd);
}

void FsManager::warn(const std::string& message) const {
    if (opts_.warn)
        opts_.warn(message);
    else
        std::fprintf(stderr, "skiff: warning: %s\n", message.c_str());
}

void FsManager::create(const oci::Resources* resources) {
    try {
        for (const auto& e : entries_) {
            with_context("create cgroup " + e.path, [&] {
                fs::mkdir_p(e.path);
                if (e.h.v2) v2::enable_controllers(e.h.mount_point, e.path);
                if (!e.h.v2 && std::count(e.h.controllers.begin(), e.h.controllers.end(), "cpuset"))
                    v1::cpuset_inherit(e.h.mount_point, e.path);
            });
        }
        ApplyOptions o{false, [this](const std::string& m) { warn(m); }};
        if (resources) apply_resources(placement_, *resources, o);
        bool can_police = placement_.controllers.count("devices") ||
                          (!placement_.unified_dir.empty() && fs::is_cgroupfs(placement_.unified_dir));
        // A temp test tree cannot hold a BPF program; real v1 files are written either way.
        if (can_police)
            police_devices(opts_, placement_, device_allowlist(resources ? resources->devices
                                                                         : std::vector<oci::DeviceRule>{}));
    } catch (...) {
        try {
            destroy();
        } catch (...) {
        }
        throw;
    }
}

int FsManager::clone_into_fd() {
    if (placement_.unified_dir.empty()) return -1;
    if (clone_fd_ < 0) {
        clone_fd_ = fs::open_at(placement_.unified_dir, O_PATH | O_DIRECTORY);
        if (clone_fd_ < 0) throw_errno("open cgroup " + placement_.unified_dir);
    }
    return clone_fd_;
}

const std::vector<Manager::JoinFile>& FsManager::join_files() {
    if (join_opened_) return join_files_;
    for (const auto& e : entries_) {
        if (e.h.v2) continue;
        std::string path = fs::join(e.path, "tasks");
        int fd = fs::open_at(path, O_WRONLY);
        if (fd < 0) throw_errno("open " + path);
        join_files_.push_back({fd, path});
    }
    join_opened_ = true;
    return join_files_;
}

void FsManager::use_sub_cgroup(const std::string& controller, const std::string& path) {
    // runc's rule and words: the path is joined to the container's cgroup ("/" is that cgroup
    // itself, "/a" its sub-cgroup a) and must stay inside it; the controller must be one of
    // the container's; the sub-cgroup must exist (runc finds out when it writes cgroup.procs).
    std::string what = "--cgroup " + (controller.empty() ? "" : controller + ":") + path;
    bool found = false;
    for (auto& e : entries_) {
        bool holds = controller.empty() ||
                     std::find(e.h.controllers.begin(), e.h.controllers.end(), controller) != e.h.controllers.end();
        if (!holds) continue;
        found = true;
        const std::string base = text::join_lexically(e.path, ""), dir = text::join_lexically(base, path);
        if (dir != base && dir.rfind(base + "/", 0) != 0)
            throw Error(what + ": " + path + " is not a sub cgroup path", EINVAL);
        struct stat st;
        std::string procs = fs::join(dir, "cgroup.procs");
        if (::stat(procs.c_str(), &st) < 0) {
            int err = errno;
            throw Error(what + ": adding pid to cgroups: " + procs + ": " +
                            (err == ENOENT ? "no such file or directory" : std::strerror(err)),
                        err);
        }
        e.path = dir;
        if (e.h.v2) placement_.unified_dir = dir;
    }
    if (!found) throw Error(what + ": unknown controller " + controller, EINVAL);
}

void FsManager::add_process(pid_t pid) {
    for (const auto& e : entries_)
        fs::write(fs::join(e.path, "cgroup.procs"), std::to_string(pid));
}

void FsManager::update(const oci::Resources& resources) {
    ApplyOptions o{true, [this](const std::string& m) { warn(m); }};
    apply_resources(placement_, resources, o);
    // An update without device rules keeps the current ones; with them, they replace the
    // config's rules, under the same defaults as at create.
    if (!resources.devices.empty()) police_devices(opts_, placement_, device_allowlist(resources.devices));
}

void FsManager::set_frozen(bool on) {
    using namespace std::chrono;
    auto deadline = steady_clock::now() + seconds(2);
    if (auto it = placement_.controllers.find("freezer"); it != placement_.controllers.end() && !it->second.v2) {
        std::string state = fs::join(it->second.dir, "freezer.state");
        std::string want = on ? "FROZEN" : "THAWED";
        for (;;) {
            // Rewriting the state re-kicks tasks that were busy in the kernel (runc does too).
            fs::write(state, want);
            if (fs::read_line(state) == want) return;
            if (steady_clock::now() > deadline)
                throw Error("freezer: " + it->second.dir + " did not reach " + want);
            std::this_thread::sleep_for(milliseconds(1));
        }
    }
    const std::string& dir = placement_.unified_dir;
    if (dir.empty() || !fs::exists(fs::join(dir, "cgroup.freeze")))
        throw Error("no freezer: neither the v1 freezer controller nor cgroup.freeze is available");
    fs::write(fs::join(dir, "cgroup.freeze"), on ? "1" : "0");
    std::string events = fs::join(dir, "cgroup.events");
    if (!fs::is_cgroupfs(dir) || !fs::exists(events)) return;
    while (fs::read_flat_keyed(events)["frozen"] != (on ? 1u : 0u)) {
        if (steady_clock::now() > deadline)
            throw Error("freeze: " + dir + " did not reach frozen=" + (on ? "1" : "0"));
        std::this_thread::sleep_for(milliseconds(1));
    }
}

void FsManager::freeze() { set_frozen(true); }
void FsManager::thaw() { set_frozen(false); }

bool FsManager::frozen() {
    if (auto it = placement_.controllers.find("freezer"); it != placement_.controllers.end() && !it->second.v2) {
        auto s = fs::read_opt(fs::join(it->second.dir, "freezer.state"));
        return s && s->rfind("FROZEN", 0) == 0;
    }
    const std::string& dir = placement_.unified_dir;
    if (dir.empty()) return false;
    std::string events = fs::join(dir, "cgroup.events");
    if (fs::is_cgroupfs(dir) && fs::exists(events)) return fs::read_flat_keyed(events)["frozen"] == 1;
    auto f = fs::read_opt(fs::join(dir, "cgroup.freeze"));
    return f && f->rfind("1", 0) == 0;
}

bool FsManager::freezing() {
    // Both freezers, on a hybrid host: the v2 one stops processes too, and it is not a
    // controller the v1 hierarchies could hold.
    if (auto it = placement_.controllers.find("freezer"); it != placement_.controllers.end() && !it->second.v2) {
        auto s = fs::read_opt(fs::join(it->second.dir, "freezer.state"));
        if (s && (s->rfind("FROZEN", 0) == 0 || s->rfind("FREEZING", 0) == 0)) return true;
    }
    const std::string& dir = placement_.unified_dir;
    if (dir.empty()) return false;
    auto events = fs::read_opt(fs::join(dir, "cgroup.events"));
    if (events && events->find("frozen 1") != std::string::npos) return true;
    auto f = fs::read_opt(fs::join(dir, "cgroup.freeze"));
    return f && f->rfind("1", 0) == 0;
}

std::string FsManager::procs_dir() const {
    // The v2 cgroup holds every process on v2 and hybrid hosts; on v1 any hierarchy does.
    if (!placement_.unified_dir.empty()) return placement_.unified_dir;
    for (const char* c : {"pids", "freezer", "memory", "cpu"})
        if (auto it = placement_.controllers.find(c); it != placement_.controllers.end())
            return it->second.dir;
    return entries_.empty() ? "" : entries_.front().path;
}

std::vector<pid_t> FsManager::pids() {
    std::set<pid_t> out;
    std::string dir = procs_dir();
    if (dir.empty() || !fs::exists(dir)) return {};
    for (const auto& d : fs::subtree_dirs_deepest_first(dir)) {
        for (uint64_t pid : fs::read_u64_list(fs::join(d, "cgroup.procs")))
            out.insert(static_cast<pid_t>(pid));
    }
    return {out.begin(), out.end()};
}

void FsManager::kill_all(int signal) {
    const std::string& dir = placement_.unified_dir;
    if (signal == SIGKILL && !dir.empty() && fs::is_cgroupfs(dir) &&
        fs::exists(fs::join(dir, "cgroup.kill"))) {
        fs::write(fs::join(dir, "cgroup.kill"), "1");
        return;
    }
    if (signal == 0) {
        // The liveness probe delivers nothing: no freeze needed, only "is anyone there".
        for (pid_t pid : pids())
            if (::kill(pid, 0) != 0 && errno != ESRCH) throw_errno("kill " + std::to_string(pid));
        return;
    }
    // Frozen, nothing can fork between reading the pid list and signalling it.
    bool was_frozen = frozen();
    bool froze = false;
    if (!was_frozen) {
        try {
            freeze();
            froze = true;
        } catch (const Error&) {
            // No freezer: signal anyway, as well as we can.
        }
    }
    for (pid_t pid : pids()) {
        if (::kill(pid, signal) != 0 && errno != ESRCH) throw_errno("kill " + std::to_string(pid));
    }
    // A paused container stays paused, unless it must die (v1 frozen tasks cannot).
    if (froze || (was_frozen && signal == SIGKILL)) thaw();
}

void FsManager::close_clone_fd() {
    if (clone_fd_ >= 0) {
        ::close(clone_fd_);
        clone_fd_ = -1;
    }
}

void FsManager::remove_shared_parent(const Entry& e) {
    // The shared "/skiff" parent of default paths goes when the last container leaves (busy
    // while another is there). Decided from the path itself: `delete` builds the manager from
    // the recorded paths, without a cgroupsPath to normalize.
    std::string parent = fs::join(e.h.mount_point, "skiff");
    if (e.path == fs::join(parent, opts_.container_id)) fs::rmdir_at(parent);
}

void FsManager::destroy() {
    close_clone_fd();
    std::optional<Error> first;
    for (const auto& e : entries_) {
        try {
            // Mostly there is no sub-cgroup and no task left: one rmdir, no directory scan.
            if (fs::rmdir_at(e.path) < 0 && errno != ENOENT)
                for (const auto& d : fs::subtree_dirs_deepest_first(e.path)) fs::remove_dir(d);
        } catch (const Error& err) {
            if (!first) first = err;
        }
        remove_shared_parent(e);
    }
    if (first) throw *first;
}

bool FsManager::remove_if_empty() {
    close_clone_fd();
    // The hierarchy pids() reads goes first: if it is busy nothing is removed, and kill_all
    // still finds every process there.
    std::string listed = procs_dir();
    std::vector<const Entry*> order;
    for (const auto& e : entries_)
        if (e.path == listed) order.insert(order.begin(), &e);
        else order.push_back(&e);
    for (const Entry* e : order) {
        if (fs::rmdir_at(e->path) < 0 && errno != ENOENT) return false;
        remove_shared_parent(*e);
    }
    return true;
}

std::string FsManager::stats_json() { return cgroups::stats_json(placement_); }

std::map<std::string, std::string> FsManager::paths() {
    std::map<std::string, std::string> out;
    for (const auto& e : entries_) out[e.h.name] = e.path;
    return out;
}

std::vector<Manager::Hierarchy> FsManager::hierarchies() {
    std::vector<Hierarchy> out;
    for (const auto& e : entries_) {
        fs::At a = fs::at(e.path);
        if (a.rel == ".") a = {AT_FDCWD, e.path, ""};
        out.push_back({e.h.name, e.h.v2 ? "cgroup2" : "cgroup", e.h.options, e.path, a.dir, a.rel});
    }
    return out;
}

std::optional<uint64_t> FsManager::oom_kill_count() {
    auto it = placement_.controllers.find("memory");
    if (it == placement_.controllers.end()) return std::nullopt;
    auto file = fs::join(it->second.dir, it->second.v2 ? "memory.events" : "memory.oom_control");
    auto kv = fs::read_flat_keyed(file);
    auto k = kv.find("oom_kill");
    if (k == kv.end()) return std::nullopt;
    return k->second;
}

}  // namespace skiff::cgroups
