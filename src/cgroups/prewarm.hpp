// On cgroup v1 the first write to a cgroup.procs file after a quiet spell waits for an RCU
// grace period (the kernel's cgroup_threadgroup_rwsem switching to writer mode): ~6 ms here,
// most of a container's start. prewarm() starts a no-op migration of the runtime into its
// own cgroup on a background thread at the very start of a command, so the grace period
// runs while the runtime parses, makes the cgroup and clones; the real placement then
// finds the lock warm.
#pragma once

namespace skiff::cgroups {

// Fire and forget; does nothing on a pure cgroup v2 host (clone3 CLONE_INTO_CGROUP there).
void prewarm();

// Waits for the prewarm thread, if one runs (before changing namespaces of the process).
void prewarm_join();

}  // namespace skiff::cgroups
