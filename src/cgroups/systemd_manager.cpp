#include "cgroups/systemd_manager.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <dirent.h>

#include <cerrno>
#include <cstring>
#include <chrono>

#include "cgroups/fs.hpp"
#include "cgroups/resources.hpp"
#include "cgroups/systemd_legacy.hpp"
#include "cgroups/systemd_props.hpp"
#include "cgroups/systemd_user.hpp"
#include "base/error.hpp"
#include "linux/fd.hpp"
#include "linux/log.hpp"
#include "base/text.hpp"

namespace skiff::cgroups::systemd {
namespace {

// Waits up to `ms` for systemd to remove dir (it does when it stops an emptied scope); true
// once it is gone.
bool wait_removed(const std::string& dir, int ms) {
    int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd < 0) return false;
    Fd in(fd);
    if (::inotify_add_watch(fd, dir.c_str(), IN_DELETE_SELF) < 0) return errno == ENOENT;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) {
            for (char* p = buf; p < buf + n;) {
                auto* ev = reinterpret_cast<struct inotify_event*>(p);
                if (ev->mask & (IN_DELETE_SELF | IN_IGNORED)) return true;
                p += sizeof(struct inotify_event) + ev->len;
            }
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return !fs::exists(dir);
        struct pollfd pfd = {fd, POLLIN, 0};
        if (::poll(&pfd, 1, int(left.count())) < 0 && errno != EINTR) return !fs::exists(dir);
    }
}

// Whether /proc/<pid>/cgroup places pid in `cgroup` (on any hierarchy: systemd's own on v1).
bool process_in(pid_t pid, const std::string& cgroup) {
    std::string text;
    try {
        text = text::read_file("/proc/" + std::to_string(pid) + "/cgroup");
    } catch (const Error&) {
        return false;
    }
    size_t at = 0;
    while (at < text.size()) {
        size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(at, end - at);
        size_t colon = line.find(':', line.find(':') + 1);
        if (colon != std::string::npos && line.compare(colon + 1, std::string::npos, cgroup) == 0) return true;
        at = end + 1;
    }
    return false;
}

// An existing cgroup with no process and no child cgroup.
bool idle_cgroup(const std::string& dir) {
    if (!fs::exists(dir)) return false;
    try {
        if (!text::read_file(dir + "/cgroup.procs").empty()) return false;
    } catch (const Error&) {
        return false;
    }
    DIR* d = ::opendir(dir.c_str());
    if (!d) return false;
    bool children = false;
    while (struct dirent* e = ::readdir(d))
        if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
            children = true;
    ::closedir(d);
    return !children;
}

Options files_options(const Options& opts, const UnitPlace& place) {
    // An absolute cgroupsPath for the cgroupfs driver: the unit's cgroup in every hierarchy.
    Options o = opts;
    o.systemd = false;
    o.cgroups_path = place.cgroup;
    return o;
}

// The system's manager, or the user's for a rootless caller (systemd_user.hpp).
UnitPlace place_for(const Options& opts) {
    if (!opts.rootless) return parse_cgroups_path(opts.cgroups_path, opts.container_id);
    return parse_user_cgroups_path(opts.cgroups_path, opts.container_id, user_manager_cgroup(host_uid()));
}

// A user's manager may run elsewhere than user@UID.service's usual cgroup (a systemd in a
// container, say): the scope's cgroup is the one systemd put the init in.
void follow_init(pid_t pid, const Options& opts, UnitPlace& place, std::unique_ptr<FsManager>& fs) {
    std::string actual = unified_cgroup_of(pid);
    if (actual.empty() || actual == place.cgroup) return;
    place.cgroup = actual;
    fs = std::make_unique<FsManager>(files_options(opts, place));
}

}  // namespace

SystemdManager::SystemdManager(const Options& opts) : opts_(opts), place_(place_for(opts)) {
    use_user_manager(opts.rootless);
    if (!host_runs_systemd())
        throw Error("linux.cgroupsPath: systemd cgroup driver is not available: no systemd on this host "
                    "(/run/systemd/system is missing)",
                    ENOTSUP);
    fs_ = std::make_unique<FsManager>(files_options(opts, place_));
}

SystemdManager::~SystemdManager() = default;

std::vector<oci::DeviceRule> SystemdManager::device_rules(const std::vector<oci::DeviceRule>& own) const {
    return device_allowlist(own);  // linux.devices make nodes and grant nothing, as with cgroupfs
}

void SystemdManager::create(const oci::Resources* resources) {
    // Every property first: a bad value or annotation fails before anything exists.
    std::vector<Property> props = base_properties(opts_.container_id, place_.slice, place_.is_slice);
    oci::Resources none;
    const oci::Resources& r = resources ? *resources : none;
    for (auto& p : resource_properties(r, device_rules(r.devices))) props.push_back(std::move(p));
    if (fs_->mode() != Mode::Unified) props = legacy_properties(props, r);
    for (auto& p : annotation_properties(opts_.annotations)) props.push_back(std::move(p));
    owns_unit_ = false;
    if (resources) resources_ = *resources;
    starting_ = take_prestarted_companion();
    if (starting_) starting_->name_unit(place_.unit);
    else starting_ = std::make_unique<Companion>("start", place_.unit);
    for (const auto& p : props) starting_->send(p);
}

void SystemdManager::attach_init(pid_t pid) {
    if (!starting_) return;
    std::unique_ptr<Companion> c = std::move(starting_);
    try {
        c->finish("PID " + std::to_string(pid));
    } catch (Error& e) {
        // The answer may be lost after systemd made the unit (the companion or the bus went
        // away): a scope that holds our init was made for us, and the cleanup must stop it.
        if (!place_.is_slice && process_in(pid, place_.cgroup)) owns_unit_ = true;
        throw e.wrap("systemd cgroup driver");
    }
    owns_unit_ = true;
    log::phase("systemd unit");
    if (opts_.rootless && !place_.is_slice && fs_->mode() == Mode::Unified) follow_init(pid, opts_, place_, fs_);
    // The same files as the cgroupfs driver, into the scope systemd made and delegated.
    fs_->create(resources_ ? &*resources_ : nullptr);
    log::phase("cgroup files");
    // systemd placed the init in a scope's cgroup; a slice, or a v1 hierarchy systemd does
    // not manage, gets it from us.
    if (place_.is_slice || fs_->mode() != Mode::Unified) fs_->add_process(pid);
}

int SystemdManager::clone_into_fd() { return starting_ ? -1 : fs_->clone_into_fd(); }

const std::vector<Manager::JoinFile>& SystemdManager::join_files() {
    return starting_ ? no_joins_ : fs_->join_files();
}

void SystemdManager::use_sub_cgroup(const std::string& controller, const std::string& path) {
    fs_->use_sub_cgroup(controller, path);
}

void SystemdManager::add_process(pid_t pid) { fs_->add_process(pid); }

void SystemdManager::update(const oci::Resources& resources) {
    // The unit keeps the new values (systemd would otherwise write its old ones back on its
    // next reload), and the files get them now, exactly as with cgroupfs.
    auto props = resource_properties(resources, resources.devices.empty() ? std::vector<oci::DeviceRule>{}
                                                                          : device_rules(resources.devices));
    if (fs_->mode() != Mode::Unified) props = legacy_properties(props, resources);
    try {
        set_properties(place_.unit, props);
    } catch (Error& e) {
        throw e.wrap("systemd cgroup driver: update " + place_.unit);
    }
    fs_->update(resources);
}

void SystemdManager::freeze() { fs_->freeze(); }
void SystemdManager::thaw() { fs_->thaw(); }
bool SystemdManager::frozen() { return fs_->frozen(); }
std::vector<pid_t> SystemdManager::pids() { return owns_unit_ ? fs_->pids() : std::vector<pid_t>{}; }

void SystemdManager::kill_all(int signal) {
    if (owns_unit_) fs_->kill_all(signal);
}

// systemd starts a slice's parents with it ("a.slice" for "a-b.slice") and keeps them up
// after it stops. Those our slice leaves empty are stopped too, innermost first (runc leaves
// them); never systemd's own slices, and with job mode "fail", so that a parent into which
// another unit is being started at this moment stays.
void SystemdManager::stop_idle_parent_slices() {
    if (!place_.is_slice || fs_->mode() != Mode::Unified) return;
    std::string own = opts_.root + place_.cgroup;
    if (fs::exists(own) && !wait_removed(own, 1000)) return;
    std::string cg = place_.cgroup;
    for (;;) {
        size_t slash = cg.rfind('/');
        if (slash == 0 || slash == std::string::npos) return;
        cg.resize(slash);
        std::string name = cg.substr(cg.rfind('/') + 1);
        if (name == "system.slice" || name == "user.slice" || name == "machine.slice") return;
        if (!idle_cgroup(opts_.root + cg)) return;
        try {
            stop_unit(name, true);
        } catch (const Error& e) {
            log::warn("systemd cgroup driver: parent slice " + name + " stays: " + e.what());
            return;
        }
    }
}

void SystemdManager::destroy() {
    if (starting_) starting_->abandon();  // the unit was never asked for
    starting_.reset();
    if (!owns_unit_) return;
    std::optional<Error> first;
    try {
        stop_unit(place_.unit);
        stop_idle_parent_slices();
    } catch (Error& e) {
        first = e.wrap("systemd cgroup driver: stop " + place_.unit);
    }
    try {
        fs_->destroy();  // what systemd does not own: v1 hierarchies, sub-cgroups left
    } catch (const Error& e) {
        if (!first) first = e;
    }
    if (first) throw *first;
}

bool SystemdManager::remove_if_empty() {
    if (!owns_unit_) return true;
    if (!fs_->pids().empty()) return false;
    // A scope whose last process left is stopped by systemd itself, which removes its cgroup
    // and then the unit (a scope ends "dead", not "failed", however its processes ended).
    // Only while the cgroup is still there is a stop needed: it waits for that end. Removing
    // the cgroup ourselves first would leave systemd a unit with no cgroup to watch.
    // On cgroup v2 that end is watched for (it takes systemd a moment to see the cgroup empty);
    // a stop through D-Bus is the fallback, and the way on v1 and hybrid hosts.
    bool present = false;
    for (const auto& [name, dir] : fs_->paths())
        if (fs::exists(dir)) present = true;
    bool gone = !present;
    if (present && !place_.is_slice && fs_->mode() == Mode::Unified) {  // slices stay up
        auto p = fs_->paths();
        gone = p.size() == 1 && wait_removed(p.begin()->second, 1000);
    }
    if (!gone) {
        stop_unit(place_.unit);
        stop_idle_parent_slices();
    }
    // What systemd does not own (v1 hierarchies it does not manage) goes as with cgroupfs.
    return fs_->remove_if_empty();
}

std::string SystemdManager::stats_json() { return fs_->stats_json(); }
std::map<std::string, std::string> SystemdManager::paths() { return fs_->paths(); }
std::vector<Manager::Hierarchy> SystemdManager::hierarchies() { return fs_->hierarchies(); }
std::optional<uint64_t> SystemdManager::oom_kill_count() { return fs_->oom_kill_count(); }

}  // namespace skiff::cgroups::systemd
