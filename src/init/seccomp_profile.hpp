// linux.seccomp, compiled into a filter through the libseccomp wrapper (linux/seccomp.hpp).
// Every error names its JSON path under "linux.seccomp".
#pragma once
#include <string>

#include "oci/spec.hpp"

namespace skiff::seccomp {

// Checks names of actions, operators, architectures and flags without loading anything.
// Throws skiff::Error naming the JSON path under "linux.seccomp" on the first bad value.
void validate(const oci::Seccomp& config);

// Builds and loads the filter into the calling process (call it last before execve).
// Returns the SCMP_ACT_NOTIFY listener fd when the filter uses NOTIFY, else -1.
// It never sets no_new_privs itself (the config decides), so the kernel demands NNP or
// CAP_SYS_ADMIN. Ordering in init, as runc does: with noNewPrivileges, set NNP and load last,
// right before execve; without it, load while CAP_SYS_ADMIN is still held (before dropping
// caps / changing uid), so the profile must then allow the few syscalls that follow.
// The listener fd must go back to the runtime over the sync socket (SCM_RIGHTS): the init
// cannot reach listenerPath from inside the container's mount/net namespaces.
int load(const oci::Seccomp& config);

// Whether any rule (or the default) is SCMP_ACT_NOTIFY: only then is there a listener fd.
bool uses_notify(const oci::Seccomp& config);

// The filter libseccomp would build, as readable pseudo-code (tests and debugging).
std::string filter_text(const oci::Seccomp& config);

}  // namespace skiff::seccomp
