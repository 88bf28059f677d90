// The namespace types of linux.namespaces, the one table: the spec's name, the kernel's
// CLONE_NEW* flag and the names under /proc/<pid>/ns/. The parser, the namespace plan of
// create, exec's joins and `features` all read it.
#pragma once
#include <sched.h>

#include <string_view>

#include "oci/spec.hpp"

namespace skiff::oci {

struct NamespaceType {
    std::string_view type;     // linux.namespaces[].type: "network"
    int clone_flag;            // CLONE_NEWNET
    const char* proc_name;     // /proc/<pid>/ns/net
    const char* for_children;  // the /proc/self/ns entry setns changes for the next child
};

// In the order exec joins them: user first (it grants the rights over the others), mount
// late (the paths of the others are the host's), pid and time last (they apply to children).
inline constexpr NamespaceType kNamespaceTypes[] = {
    {"user", CLONE_NEWUSER, "user", "user"},
    {"ipc", CLONE_NEWIPC, "ipc", "ipc"},
    {"uts", CLONE_NEWUTS, "uts", "uts"},
    {"network", CLONE_NEWNET, "net", "net"},
    {"cgroup", CLONE_NEWCGROUP, "cgroup", "cgroup"},
    {"mount", CLONE_NEWNS, "mnt", "mnt"},
    {"pid", CLONE_NEWPID, "pid", "pid_for_children"},
    {"time", CLONE_NEWTIME, "time", "time_for_children"},
};

// The entry for a spec type name, or nullptr for an unknown one.
inline const NamespaceType* namespace_type(std::string_view type) {
    for (const auto& t : kNamespaceTypes)
        if (t.type == type) return &t;
    return nullptr;
}

// The entry for a CLONE_NEW* flag, or nullptr.
inline const NamespaceType* namespace_type(int clone_flag) {
    for (const auto& t : kNamespaceTypes)
        if (t.clone_flag == clone_flag) return &t;
    return nullptr;
}

// linux.namespaces' entry of that type, or nullptr when the config does not list it.
inline const Namespace* find_namespace(const Linux& linux_config, std::string_view type) {
    for (const auto& ns : linux_config.namespaces)
        if (ns.type == type) return &ns;
    return nullptr;
}

}  // namespace skiff::oci
