// Seccomp filters from linux.seccomp, through libseccomp. Knows the OCI names (SCMP_ACT_*,
// SCMP_ARCH_*, SCMP_CMP_*, SECCOMP_FILTER_FLAG_*) but nothing else of the container.
#pragma once
#include <string>
#include <vector>

#include "oci/spec.hpp"

namespace skiff::seccomp {

// Checks names of actions, operators, architectures and flags without loading anything.
// Throws skiff::Error naming the JSON path under "linux.seccomp" on the first bad value.
void validate(const oci::Seccomp& config);

// Builds and loads the filter into the calling process (call it last before execve).
// Returns the SCMP_ACT_NOTIFY listener fd when the filter uses NOTIFY, else -1.
int load(const oci::Seccomp& config);

// Sends the container process state (JSON, see runtime-spec config-linux.md "seccomp")
// and the listener fd over SCM_RIGHTS to the unix socket at listener_path.
void send_listener(const std::string& listener_path, const std::string& state_json,
                   int listener_fd);

// What `features` reports: the names this libseccomp and kernel really support.
std::vector<std::string> supported_actions();
std::vector<std::string> supported_operators();
std::vector<std::string> supported_architectures();
std::vector<std::string> supported_flags();

}  // namespace skiff::seccomp
