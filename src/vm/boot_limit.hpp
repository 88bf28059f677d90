// How long the host gives a guest to come up (the agent reports "up"): the annotation
// run.oci.skiff.vm.boot-timeout (seconds) of the container, else $SKIFF_VM_BOOT_TIMEOUT of the
// command that waits, else 120. `run` waits in the foreground; `start` (and `run -d`) wait too,
// and a guest that is not up in time, or whose QEMU ends first, fails them and leaves nothing.
#pragma once
#include <string>

#include "oci/spec.hpp"

namespace skiff::vm {

inline constexpr const char* kBootTimeoutAnnotation = "run.oci.skiff.vm.boot-timeout";

// The annotation's limit in seconds, 0 when absent; throws naming the annotation when it is
// not a positive number.
double configured_boot_limit(const oci::Spec& spec);
// At create, into the VM's directory (nothing written for 0).
void record_boot_limit(const std::string& vm_dir, double seconds);
// The limit that applies to the VM whose directory is `vm_dir`, and the words that say
// where it came from.
double boot_limit(const std::string& vm_dir, std::string* source = nullptr);

}  // namespace skiff::vm
