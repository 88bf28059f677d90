// Small file helpers for cgroup interface files. Errors name the file and the value, as
// runc's do: "write 100 to /sys/fs/cgroup/pids/skiff/a/pids.max: Invalid argument".
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace skiff::cgroups::fs {

std::string join(const std::string& dir, const std::string& name);

// Anchors: directories opened once per process, so that a path below one is resolved from its
// fd. A walk from "/" revalidates /sys's dentries under sysfs's kernfs lock, which network
// namespaces being made and removed take for writing; in a burst of containers that wait
// was most of create's idle time. FsManager anchors the cgroup root; paths below it then
// walk only tmpfs and the hierarchy's own kernfs.
void anchor(const std::string& dir);
// Closes the anchor of dir and those below it (before dir is removed).
void forget(const std::string& dir);
// The anchor's fd for exactly dir, or -1.
int anchor_fd(const std::string& dir);
// (fd, rest): path relative to the deepest anchor above it (dir), or (AT_FDCWD, path, "").
struct At {
    int fd;
    std::string rel;
    std::string dir;
};
At at(const std::string& path);
// open/openat through at(); -1 and errno on failure.
int open_at(const std::string& path, int flags);
// rmdir through at(); 0 or -1 and errno.
int rmdir_at(const std::string& path);
bool exists(const std::string& path);

// Whole file, or nullopt when it does not exist. Other errors throw.
std::optional<std::string> read_opt(const std::string& path);
std::string read(const std::string& path);
// First line without the newline and surrounding blanks.
std::string read_line(const std::string& path);

// One write(2) of value (no O_CREAT: a missing file means the controller is missing).
void write(const std::string& path, const std::string& value);
// Like write, but returns the errno instead of throwing (0 on success).
int try_write(const std::string& path, const std::string& value);

// "key value" lines (memory.stat, cpu.stat, memory.events, ...).
std::map<std::string, uint64_t> read_flat_keyed(const std::string& path);
// A decimal or "max" (mapped to max_value).
uint64_t parse_u64(const std::string& text, uint64_t max_value = UINT64_MAX);
std::vector<uint64_t> read_u64_list(const std::string& path);

// mkdir -p; existing directories are fine. Returns the directories it created, top first.
std::vector<std::string> mkdir_p(const std::string& path);
// Directories of the tree rooted at path, deepest first (path itself last).
std::vector<std::string> subtree_dirs_deepest_first(const std::string& path);
// rmdir, retrying EBUSY/ENOTEMPTY a few times within a few ms; ENOENT is fine.
void remove_dir(const std::string& path);

bool is_cgroupfs(const std::string& path);

}  // namespace skiff::cgroups::fs
