// A container without a cgroup: what a rootless caller gets where no cgroup subtree is
// delegated to it and the config asks for no limits (runc's rule). Processes are found
// through the init's pid namespace instead; what only a cgroup can do (limits, freezing)
// fails with a message that says why.
#pragma once
#include <sys/types.h>

#include <memory>

#include "cgroups/manager.hpp"

namespace skiff::cgroups {

class NoneManager : public Manager {
public:
    // own_mount_ns: Options::none_own_mount_ns.
    explicit NoneManager(pid_t init, bool own_mount_ns = false) : init_(init), own_mount_ns_(own_mount_ns) {}
    void create(const oci::Resources* resources) override;
    void attach_init(pid_t pid) override { init_ = pid; }
    int clone_into_fd() override { return -1; }
    const std::vector<JoinFile>& join_files() override { return none_; }
    void use_sub_cgroup(const std::string& controller, const std::string& path) override;
    void add_process(pid_t) override {}
    void update(const oci::Resources& resources) override;
    void freeze() override;
    void thaw() override;
    bool frozen() override { return false; }
    std::vector<pid_t> pids() override;
    void kill_all(int signal) override;
    void destroy() override {}
    bool remove_if_empty() override { return true; }
    std::string stats_json() override;
    std::map<std::string, std::string> paths() override { return {}; }
    std::vector<Hierarchy> hierarchies() override { return {}; }

private:
    pid_t init_;
    bool own_mount_ns_;
    std::vector<JoinFile> none_;
};

// Whether linux.resources asks for something only a cgroup gives. Device rules do not count:
// without privilege the container only has the host's device files it was given.
bool asks_for_limits(const oci::Resources* r);

// For a rootless caller: creates the cgroup through `m` when the user may (a delegated
// subtree), else returns a NoneManager when no limits are asked for, else throws one error
// naming linux.resources. Other failures pass through.
std::unique_ptr<Manager> create_or_go_without(std::unique_ptr<Manager> m,
                                              const oci::Resources* resources,
                                              const std::string& cgroups_path);

bool is_none(const Manager& m);

}  // namespace skiff::cgroups
