// Bind mounts and volumes of a VM-isolated container: one virtiofsd serves a staging directory
// that holds the rootfs and every bind source, made in virtiofsd's own mount namespace (so
// nothing is mounted on the host and nothing needs unmounting at delete); the guest's skiff
// bind-mounts them from the share as it would from the host, with the config's options.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "oci/spec.hpp"

namespace skiff::vm {

// Where the guest mounts the share, and the rootfs inside it.
inline constexpr const char* kGuestShare = "/share";

struct Share {
    size_t index;        // mounts[index]
    std::string source;  // absolute, on the host
    std::string name;    // its entry in the staging directory
    bool readonly;
    bool file;  // a regular file, not a directory
};

// The config's bind mounts, checked (errors name mounts[i]): sources must exist and be
// directories or regular files (a device node or socket would be the guest's own there).
std::vector<Share> plan_shares(const oci::Spec& spec, const std::string& bundle);

// The guest config's bind mounts take their sources from the share.
void share_guest_mounts(nlohmann::json& config, const std::vector<Share>& shares);

// In virtiofsd's child before exec: a private mount namespace with a tmpfs on `dir` holding
// rootfs/ (the rootfs, recursively) and each share (read-only where asked). Throws Error.
void stage_shares(const std::string& dir, const std::string& rootfs, const std::vector<Share>& shares);

}  // namespace skiff::vm
