// The systemd cgroup driver (--systemd-cgroup): each container is a transient scope (or
// slice) that systemd creates over D-Bus with the container's init in it and Delegate=yes;
// then every resource is also written into the scope's cgroup exactly as the cgroupfs driver
// does, by an FsManager opened on that cgroup. Everything that reads the cgroup (pids, stats,
// freezer, kill, exec's placement) is that FsManager's.
//
// The unit can only be started with a running pid in it, so create() starts the companion
// (it connects to the bus meanwhile) and attach_init() starts the unit once the init exists
// and is still waiting for the runtime's go.
#pragma once
#include <memory>
#include <optional>

#include "cgroups/fs_manager.hpp"
#include "cgroups/manager.hpp"
#include "cgroups/systemd_client.hpp"
#include "cgroups/systemd_path.hpp"

namespace skiff::cgroups::systemd {

class SystemdManager : public Manager {
public:
    explicit SystemdManager(const Options& opts);
    ~SystemdManager() override;

    void create(const oci::Resources* resources) override;
    void attach_init(pid_t pid) override;
    int clone_into_fd() override;
    const std::vector<JoinFile>& join_files() override;
    void use_sub_cgroup(const std::string& controller, const std::string& path) override;
    void add_process(pid_t pid) override;
    void update(const oci::Resources& resources) override;
    void freeze() override;
    void thaw() override;
    bool frozen() override;
    std::vector<pid_t> pids() override;
    void kill_all(int signal) override;
    void destroy() override;
    bool remove_if_empty() override;
    std::string stats_json() override;
    std::map<std::string, std::string> paths() override;
    std::vector<Hierarchy> hierarchies() override;
    std::optional<uint64_t> oom_kill_count() override;

    const UnitPlace& place() const { return place_; }

private:
    std::vector<oci::DeviceRule> device_rules(const std::vector<oci::DeviceRule>& own) const;
    void stop_idle_parent_slices();

    Options opts_;
    UnitPlace place_;
    std::unique_ptr<FsManager> fs_;
    std::unique_ptr<Companion> starting_;  // between create() and attach_init()
    std::optional<oci::Resources> resources_;
    // false from create() until the unit is ours: a failed start must not stop, kill or
    // remove a unit of the same name that someone else runs.
    bool owns_unit_ = true;
    std::vector<JoinFile> no_joins_;
};

}  // namespace skiff::cgroups::systemd
