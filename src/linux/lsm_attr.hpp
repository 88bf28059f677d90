// Linux security module labels, as the kernel takes them: whether AppArmor or SELinux is
// enabled, the calling thread's "exec" attribute (the label its next execve takes), and the
// SELinux context= mount option. Nothing here knows config.json.
#pragma once
#include <string>

#include "linux/fd.hpp"

namespace skiff::lsm {

// What the host runs. `root` prefixes every path read (tests point it at a fake tree).
// AppArmor: /sys/kernel/security/apparmor exists and /sys/module/apparmor/parameters/enabled
// starts with 'Y' (runc's test). SELinux: /sys/fs/selinux/enforce exists (selinuxfs mounted).
bool apparmor_enabled(const std::string& root = "");
bool selinux_enabled(const std::string& root = "");

// The calling thread's attr directory, /proc/thread-self/attr of the procfs at `proc`,
// refused unless it is procfs: a directory the container's image could have put there must
// never receive a label (CVE-2019-16884 class).
Fd open_thread_attr_dir(const std::string& proc = "/proc");

// Sets the profile the next execve of this thread enters ("exec <profile>" to
// apparmor/exec below attr_dir, or attr/exec on kernels without the per-LSM directory).
// Throws Error with errno ENOENT when the profile is not loaded. Returns the file written.
std::string set_apparmor_exec(int attr_dir, const std::string& profile);

// Sets the SELinux context the next execve of this thread enters (attr/exec).
// Returns the file written.
std::string set_selinux_exec(int attr_dir, const std::string& label);

// Mount data with the SELinux context= option appended ("mode=755" ->
// `mode=755,context="system_u:object_r:container_file_t:s0:c1,c2"`): quoted, because a
// label's category set has commas. `data` unchanged for an empty label.
std::string with_context_option(const std::string& data, const std::string& label);

}  // namespace skiff::lsm
