// Which cgroup hierarchies are mounted under the root, and where the runtime itself sits in
// them (relative cgroupsPaths are anchored there, as runc does).
#pragma once
#include <string>
#include <vector>

namespace skiff::cgroups {

enum class Mode { Unified, Legacy, Hybrid };

struct MountedHierarchy {
    std::string name;                      // directory under root; "" for a pure v2 root
    std::string mount_point;               // absolute
    bool v2 = false;
    std::vector<std::string> controllers;  // v1: from mount options; v2: cgroup.controllers
    std::string options;                   // mount data to mount it again
};

struct Layout {
    Mode mode = Mode::Unified;
    std::vector<MountedHierarchy> hierarchies;
};

// From /proc/self/mountinfo (forced empty), or from the directories under root when forced
// is "unified", "legacy" or "hybrid" (test trees: "cpu,cpuacct" holds cpu and cpuacct,
// "systemd" is name=systemd, "unified" is the v2 mount of a hybrid layout).
Layout detect_layout(const std::string& root, const std::string& forced,
                     const std::string& mountinfo = "/proc/self/mountinfo");

// The mount options of a cgroup mount reduced to what mounting it again needs.
std::string remount_options(const std::string& super_options, bool v2,
                            std::vector<std::string>* controllers);

// The path of this process's cgroup in hierarchy h, from a /proc/<pid>/cgroup text.
// "" when the file has no line for it.
std::string own_cgroup(const std::string& proc_cgroup_text, const MountedHierarchy& h);

}  // namespace skiff::cgroups
