// Process attributes set just before execve, for the container's init and for exec alike:
// linux.memoryPolicy, linux.personality, process.execCPUAffinity. Each error names its field.
#pragma once
#include <string>
#include <vector>

#include "oci/spec.hpp"

namespace skiff::init {

// The modes and flags apply_memory_policy knows (for `features`).
std::vector<std::string> memory_policy_modes();
std::vector<std::string> memory_policy_flags();
// set_mempolicy(2) with linux.memoryPolicy's mode, nodes and flags.
void apply_memory_policy(const oci::Spec& spec);
// personality(2) with linux.personality.domain (the spec defines no flags; the parser
// refuses any).
void apply_personality(const oci::Spec& spec);
// process.execCPUAffinity.initial: the CPUs the exec'd process runs on while it joins the
// container (called first thing in its init, before the cgroup join).
void apply_initial_cpu_affinity(const oci::Process& proc);
// process.execCPUAffinity.final just before execve; without one, after an initial, the
// affinity goes back to every CPU, which the kernel clamps to the cgroup's cpuset (runc).
void apply_final_cpu_affinity(const oci::Process& proc);

}  // namespace skiff::init
