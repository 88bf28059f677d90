// linux.cgroupsPath → the container's cgroup directory in each hierarchy.
#pragma once
#include <string>

#include "cgroups/layout.hpp"

namespace skiff::cgroups {

// Validates and normalises cgroupsPath: "" becomes "/skiff/<id>"; "." and empty components go;
// ".." is refused (runc silently clamps it at the root; skiff says so instead). The result is
// absolute ("/a/b") or relative ("a/b"). systemd=true is refused: there is no systemd driver.
std::string normalize_cgroups_path(const std::string& cgroups_path, const std::string& id,
                                   bool systemd);

// The host directory of the container's cgroup in hierarchy h. An absolute path hangs from the
// hierarchy's root; a relative one from the runtime's own cgroup in it (v1) or that cgroup's
// parent (v2, whose leaf already holds processes), like runc's cgroupfs driver.
std::string resolve_in(const MountedHierarchy& h, const std::string& normalized,
                       const std::string& proc_cgroup_text);

}  // namespace skiff::cgroups
