// linux.devices for a container in a new user namespace. The init cannot mknod there, and
// binding the host's node at the same path (runc's way) fails when the host has no node of
// that name, and gives the container whatever node the host has there, of any type and
// number, with the host's owner. So the runtime, still privileged over the host's devices,
// makes each node as the config describes it (type, major:minor, fileMode, uid and gid
// mapped to the host) in a detached tmpfs of its own, and the init only binds it into place,
// as crun does. Where the runtime cannot mknod either (rootless), the init binds the host's.
#pragma once
#include <vector>

#include "linux/fd.hpp"
#include "oci/spec.hpp"

namespace skiff::init {

class DeviceNodes {
public:
    // Runs in the runtime, in the host's namespaces, before clone3; nothing unless
    // `new_user_ns` (a user namespace made with the config's own uid/gid mappings).
    static DeviceNodes prepare(const oci::Spec& spec, bool new_user_ns);

    // Per linux.devices[i]: a detached bind of its node (inherited by the init), or -1.
    std::vector<int> fds() const;

private:
    std::vector<Fd> nodes_;
};

}  // namespace skiff::init
