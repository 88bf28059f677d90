// The cgroupfs Manager: one class for the three layouts. Each controller is driven in the
// hierarchy that holds it (v1 or v2), so a hybrid host is just both at once; what differs by
// layout (clone into cgroup, freezer, kill) is decided from the placement, not by subclass.
#pragma once
#include "cgroups/layout.hpp"
#include "cgroups/manager.hpp"
#include "cgroups/resources.hpp"

namespace skiff::cgroups {

class FsManager : public Manager {
public:
    explicit FsManager(const Options& opts);
    ~FsManager() override;

    void create(const oci::Resources* resources) override;
    int clone_into_fd() override;
    const std::vector<JoinFile>& join_files() override;
    void use_sub_cgroup(const std::string& controller, const std::string& path) override;
    void add_process(pid_t pid) override;
    void update(const oci::Resources& resources) override;
    void freeze() override;
    void thaw() override;
    bool frozen() override;
    bool freezing() override;
    std::vector<pid_t> pids() override;
    void kill_all(int signal) override;
    void destroy() override;
    bool remove_if_empty() override;
    std::string stats_json() override;
    std::map<std::string, std::string> paths() override;
    std::vector<Hierarchy> hierarchies() override;
    std::optional<uint64_t> oom_kill_count() override;

    Mode mode() const { return layout_.mode; }
    const Placement& placement() const { return placement_; }

private:
    struct Entry {
        MountedHierarchy h;
        std::string path;
    };
    void warn(const std::string& message) const;
    void set_frozen(bool on);
    std::string procs_dir() const;
    void close_clone_fd();
    void remove_shared_parent(const Entry& e);

    Options opts_;
    Layout layout_;
    std::string normalized_;
    std::vector<Entry> entries_;
    Placement placement_;
    int clone_fd_ = -1;
    std::vector<JoinFile> join_files_;
    bool join_opened_ = false;
};

}  // namespace skiff::cgroups
