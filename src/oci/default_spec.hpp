// The config.json that `skiff spec` writes: runc's template, with ociVersion 1.3.0.
#pragma once
#include <cstdint>
#include <string>

namespace skiff::oci {

// Pretty-printed (2-space indent) JSON text ending in a newline. rootless: a user namespace
// mapping the calling user's euid/egid to root, no network namespace, /sys bind-mounted.
std::string default_config_json(bool rootless);

// Same, with the host ids of the rootless mapping given (for tests and callers that know them).
std::string default_config_json(bool rootless, uint32_t host_uid, uint32_t host_gid);

}  // namespace skiff::oci
