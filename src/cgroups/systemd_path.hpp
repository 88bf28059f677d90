// linux.cgroupsPath under the systemd driver: "slice:prefix:name" → the unit to start and
// where its cgroup sits. Pure string logic (no systemd needed), so it is checked first and
// bad input fails before anything exists.
#pragma once
#include <string>

namespace skiff::cgroups::systemd {

struct UnitPlace {
    std::string slice;   // the parent slice: "system.slice" when the path left it empty
    std::string unit;    // "prefix-name.scope", or "name.slice" when the name is a slice
    bool is_slice = false;
    std::string cgroup;  // below the cgroup root: "/system.slice/prefix-name.scope"
};

// "" means "system.slice:skiff:<id>". Errors name linux.cgroupsPath.
UnitPlace parse_cgroups_path(const std::string& cgroups_path, const std::string& id);

// "a-b.slice" → "/a.slice/a-b.slice", as systemd nests slices; "-.slice" → "/" (the root).
// Errors name `what`.
std::string expand_slice(const std::string& slice, const std::string& what);

}  // namespace skiff::cgroups::systemd
