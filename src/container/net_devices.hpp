// linux.netDevices: host interfaces handed to the container's network namespace (runtime-spec
// 1.3), moved over rtnetlink by the runtime, and given back to the host on delete.
#pragma once
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "container/namespaces.hpp"
#include "linux/fd.hpp"
#include "oci/spec.hpp"

namespace skiff::container {

// Before anything is made: the devices need a network namespace (new or joined by path).
void validate_net_devices(const oci::Spec& spec, const NamespacePlan& plan);

// The devices one `create` moved; all of them go back when create fails after moving.
class NetDevices {
public:
    NetDevices() = default;
    NetDevices(const NetDevices&) = delete;
    NetDevices& operator=(const NetDevices&) = delete;
    ~NetDevices() = default;

    // Moves every device of linux.netDevices into the network namespace of `pid` (the init,
    // still waiting for its go), renamed where asked. All or nothing: every name is checked
    // first, and a failure part way moves back what had moved.
    void move_in(const oci::Spec& spec, pid_t pid);
    // Back to the runtime's namespace under their host names (create failed). Never throws.
    void give_back() noexcept;
    // Create succeeded: delete gives them back from now on.
    void keep() { moved_.clear(); }
    // Host name -> ifindex in the container's namespace, for the record (Record::net_device_indexes).
    std::map<std::string, int> indexes() const;
    // Host name -> netlink::Route::identity() of the moved device (Record::net_device_identities).
    std::map<std::string, std::string> identities() const;

private:
    struct Moved {
        std::string host_name, container_name;
        int container_index = 0;  // 0 until the move is done
        std::string identity;
    };
    std::vector<Moved> moved_;
    Fd netns_;
};

// `delete`: the devices of `config` (the saved config.json) go back to the host, down and
// without the addresses the container gave them, from the
// network namespace of `pid` (the init, alive), or with pid 0 from the namespace joined by
// path. A namespace that already died gave its physical devices back to the host's initial
// namespace and destroyed its virtual ones (the kernel's rule); nothing is left to do then.
// Each device is found by the ifindex create recorded (`indexes`), not by its name: a
// container with CAP_NET_ADMIN may rename its device and give another one that name. A
// record without indexes (made by an older skiff) falls back to the name. Nor may it delete
// the device and make another one under its ifindex: a device whose identity is not the one
// recorded (`identities`, where there is one) stays where it is.
// Problems are warnings: delete must go on.
void return_net_devices(const std::string& config, const std::map<std::string, int>& indexes,
                        const std::map<std::string, std::string>& identities, pid_t pid);

}  // namespace skiff::container
