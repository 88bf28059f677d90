// Idmapped bind mounts (config.md: mounts[].uidMappings / gidMappings, options idmap / ridmap).
// The kernel lets only a caller privileged over the filesystem's user namespace (the host's)
// idmap a mount, and the init is born inside the container's user namespace. So the runtime
// builds each idmapped tree detached, before clone3; the init inherits the fd and only moves
// the tree into place (mounts.cpp), as runc and crun do with their mount fds.
#pragma once
#include <string>
#include <vector>

#include "linux/fd.hpp"
#include "oci/spec.hpp"

namespace skiff::init {

// /proc/<pid>/uid_map text: one "containerID hostID size" line per mapping.
std::string render_id_map(const std::vector<oci::IdMapping>& maps);

// True when the mount asks for an idmapped mount: mappings given, or idmap / ridmap.
bool wants_idmap(const oci::Mount& m);

// A user namespace with exactly these maps, made by a short-lived child: the fd keeps the
// namespace alive after the child is gone. Runs in the runtime (host user namespace).
Fd make_userns(const std::vector<oci::IdMapping>& uids, const std::vector<oci::IdMapping>& gids);

// The detached idmapped trees of one container, indexed like spec.mounts.
class IdmappedMounts {
public:
    // Runs in the runtime, in the host's namespaces, before clone3. A mount with idmap /
    // ridmap but no mappings of its own uses the container's user namespace: its path when
    // joined, else a namespace with linux.uidMappings / gidMappings.
    static IdmappedMounts prepare(const oci::Spec& spec, const std::string& bundle);

    // Per mounts[i]: the tree's fd, or -1 (what Context::idmapped_trees holds).
    std::vector<int> fds() const;
    bool empty() const { return trees_.empty(); }

private:
    std::vector<Fd> trees_;
};

}  // namespace skiff::init
