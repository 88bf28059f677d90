// Which namespaces the init gets and how: created by clone3, or joined by path. Namespaces
// joined by path (except user and mount, which the init joins itself) are joined by the
// runtime around clone3 and left right after, so the init is born inside them.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "linux/fd.hpp"
#include "oci/spec.hpp"

namespace skiff::container {

struct NamespacePlan {
    uint64_t clone_flags = 0;  // CLONE_NEW* created by clone3 itself
    bool new_user = false, new_cgroup = false, new_uts = false, new_time = false;
    bool has_mount = false;
    uint64_t listed = 0;  // every CLONE_NEW* the config names, new or joined
    std::vector<std::pair<int, std::string>> parent_joins;  // (CLONE_NEW*, path)
};

// Throws for unknown types, duplicates and unsupported joins (JSON path in the message).
NamespacePlan plan_namespaces(const oci::Spec& spec);

// runc's rules for linux.sysctl: a key must belong to a namespace the container does not
// share with the host (net.* needs a network namespace, kernel.shm* an ipc one, ...).
void validate_sysctl(const oci::Spec& spec, const NamespacePlan& plan);

// Joins plan.parent_joins and the new time namespace for the next child; restores the
// runtime's own namespaces when destroyed.
class ParentNamespaces {
public:
    ParentNamespaces(const NamespacePlan& plan, const oci::Spec& spec);
    // exec: the container's namespaces for the next child, opened: (CLONE_NEW*, fd).
    explicit ParentNamespaces(std::vector<std::pair<int, Fd>> joins);
    ~ParentNamespaces();
    ParentNamespaces(const ParentNamespaces&) = delete;
    ParentNamespaces& operator=(const ParentNamespaces&) = delete;
    void restore();

private:
    void save(int flag);
    std::vector<std::pair<int, Fd>> saved_;
};

// Writes /proc/<pid>/uid_map and gid_map from linux.uidMappings / gidMappings.
void write_id_maps(pid_t pid, const oci::Linux& lx);

}  // namespace skiff::container
