#include "cgroups/systemd_manager.hpp"

#include <cerrno>

#include "cgroups/resources.hpp"
#include "cgroups/systemd_props.hpp"
#include "linux/error.hpp"

namespace skiff::cgroups::systemd {
namespace {

Options files_options(const Options& opts, const UnitPlace& place) {
    // An absolute cgroupsPath for the cgroupfs driver: the unit's cgroup in every hierarchy.
    Options o = opts;
    o.systemd = false;
    o.cgroups_path = place.cgroup;
    return o;
}

}  // namespace

SystemdManager::SystemdManager(const Options& opts)
    : opts_(opts), place_(parse_cgroups_path(opts.cgroups_path, opts.container_id)) {
    if (!host_runs_systemd())
        throw Error("linux.cgroupsPath: systemd cgroup driver is not available: no systemd on this host "
                    "(/run/systemd/system is missing)",
                    ENOTSUP);
    fs_ = std::make_unique<FsManager>(files_options(opts, place_));
}

SystemdManager::~SystemdManager() = default;

std::vector<oci::DeviceRule> SystemdManager::device_rules(const std::vector<oci::DeviceRule>& own) const {
    std::vector<oci::DeviceRule> rules = own;
    for (const auto& r : default_device_rules()) rules.push_back(r);
    for (const auto& r : rules_for_devices(opts_.devices)) rules.push_back(r);
    return rules;
}

void SystemdManager::create(const oci::Resources* resources) {
    // Every property first: a bad value or annotation fails before anything exists.
    std::vector<Property> props = base_properties(opts_.container_id, place_.slice, place_.is_slice);
    oci::Resources none;
    const oci::Resources& r = resources ? *resources : none;
    for (auto& p : resource_properties(r, device_rules(r.devices))) props.push_back(std::move(p));
    for (auto& p : annotation_properties(opts_.annotations)) props.push_back(std::move(p));
    owns_unit_ = false;
    if (resources) resources_ = *resources;
    starting_ = std::make_unique<Companion>("start", place_.unit);
    for (const auto& p : props) starting_->send(p);
}

void SystemdManager::attach_init(pid_t pid) {
    if (!starting_) return;
    std::unique_ptr<Companion> c = std::move(starting_);
    try {
        c->finish("PID " + std::to_string(pid));
    } catch (Error& e) {
        throw e.wrap("systemd cgroup driver");
    }
    owns_unit_ = true;
    // The same files as the cgroupfs driver, into the scope systemd made and delegated.
    fs_->create(resources_ ? &*resources_ : nullptr);
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

void SystemdManager::destroy() {
    if (starting_) starting_->abandon();  // the unit was never asked for
    starting_.reset();
    if (!owns_unit_) return;
    std::optional<Error> first;
    try {
        stop_unit(place_.unit);
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
    if (!fs_->remove_if_empty()) return false;
    // The scope stops by itself once empty; stopping it here waits for that and resets a
    // failed state, so that neither the unit nor its cgroup remains.
    stop_unit(place_.unit);
    return true;
}

std::string SystemdManager::stats_json() { return fs_->stats_json(); }
std::map<std::string, std::string> SystemdManager::paths() { return fs_->paths(); }
std::vector<Manager::Hierarchy> SystemdManager::hierarchies() { return fs_->hierarchies(); }
std::optional<uint64_t> SystemdManager::oom_kill_count() { return fs_->oom_kill_count(); }

}  // namespace skiff::cgroups::systemd
