// The runtime re-executes itself from a read-only detached bind mount of its binary (or, when
// it may not mount, from a sealed in-memory copy) before it clones a container init, so
// /proc/<init>/exe can never be reopened for writing (CVE-2019-5736 class:
// a container holding CAP_SYS_PTRACE, which overrides non-dumpability, could otherwise keep a
// handle on the host binary and rewrite it once the runtime has exited).
#pragma once

namespace skiff::sealed_exe {

// The static build does the read-only re-exec earlier, at its ELF entry point
// (src/early_entry.c); this then finds the binary read-only and only restores the name.
// For the commands that start container processes (create, run, exec): when not already
// running from a read-only or sealed binary, makes one and execs it with the same argv and environment.
// Returns only when already sealed or for other commands; exits with a message on failure.
void ensure(int argc, char** argv);

}  // namespace skiff::sealed_exe
