// linux.resources → cgroup files. Each controller's settings go to the hierarchy that holds
// that controller: a v1 one ("memory.limit_in_bytes") or the v2 one ("memory.max"). On hybrid
// hosts both kinds are used at once (here: hugetlb lives only on the v2 mount).
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "oci/spec.hpp"

namespace skiff::cgroups {

struct Target {
    std::string dir;  // the container's cgroup directory in that hierarchy
    bool v2 = false;
};

struct Placement {
    // Keyed by the v1 controller name ("blkio" also for v2's "io").
    std::map<std::string, Target> controllers;
    std::string unified_dir;  // the container's v2 cgroup ("" on legacy hosts)
    bool pure_v2 = false;

    // The hierarchy holding `controller`, or nullptr when the host has none.
    const Target* find(const std::string& controller) const {
        auto it = controllers.find(controller);
        return it == controllers.end() ? nullptr : &it->second;
    }
};

struct ApplyOptions {
    bool updating = false;  // `update` (memory.checkBeforeUpdate applies only then)
    std::function<void(const std::string&)> warn;
};

// Writes every setting present in r. Throws an Error naming the JSON path on the first failure.
void apply_resources(const Placement& p, const oci::Resources& r, const ApplyOptions& o);

// Replaces the device rules: v1 "deny a" then each rule in order; v2 a BPF program.
void apply_devices(const Placement& p, const std::vector<oci::DeviceRule>& rules);

// The rules every container gets after its own (runc's defaults): mknod of anything, and the
// standard devices /dev/null, zero, full, random, urandom, tty, ptmx and pts.
std::vector<oci::DeviceRule> default_device_rules();
// What a container may use: linux.resources.devices, then the defaults. linux.devices only
// makes nodes; listing one grants no access to it (as in runc and crun), so a device the
// config's rules deny stays denied.
std::vector<oci::DeviceRule> device_allowlist(const std::vector<oci::DeviceRule>& own);

// Per-layout writers (resources_v1.cpp, resources_v2.cpp).
namespace v1 {
void memory(const std::string& dir, const oci::Memory& m, const ApplyOptions& o);
void cpu(const std::string& dir, const oci::Cpu& c);
void cpuset(const std::string& dir, const oci::Cpu& c);
void pids(const std::string& dir, const oci::Pids& p);
void blkio(const std::string& dir, const oci::BlockIo& b);
void hugetlb(const std::string& dir, const std::vector<oci::HugepageLimit>& limits);
void devices(const std::string& dir, const std::vector<oci::DeviceRule>& rules);
std::string device_rule_line(const oci::DeviceRule& rule);
// A new v1 cpuset cgroup is empty and refuses tasks: copy cpus/mems down from the parent.
void cpuset_inherit(const std::string& hierarchy_root, const std::string& dir);
}  // namespace v1

namespace v2 {
void memory(const std::string& dir, const oci::Memory& m, const ApplyOptions& o);
void cpu(const std::string& dir, const oci::Cpu& c);
void cpuset(const std::string& dir, const oci::Cpu& c);
void pids(const std::string& dir, const oci::Pids& p);
void io(const std::string& dir, const oci::BlockIo& b, const ApplyOptions& o);
void hugetlb(const std::string& dir, const std::vector<oci::HugepageLimit>& limits);
void unified(const std::string& dir, const std::map<std::string, std::string>& keys);
// Enables in cgroup.subtree_control, from root down to dir's parent, every controller each
// level offers, so that dir gets them all.
void enable_controllers(const std::string& root, const std::string& dir);
}  // namespace v2

// Shared by both: the same file and format on v1 and v2.
void write_rdma(const std::string& dir, const std::map<std::string, oci::Rdma>& rdma);

}  // namespace skiff::cgroups
