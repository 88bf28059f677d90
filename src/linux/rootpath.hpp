// Path resolution inside a container's root by descriptor: every lookup goes through
// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so a symlink in the image, absolute or
// relative, resolves inside the root and can never make a mount or mkdir land on the host.
#pragma once
#include <sys/types.h>

#include <string>

#include "linux/fd.hpp"

namespace skiff::rootpath {

// Opens `path` (absolute or relative, taken as inside the root) below root_fd.
// Returns an invalid Fd with errno set when it does not exist; throws on other errors.
Fd open(int root_fd, const std::string& path, int flags, mode_t mode = 0);

// mkdir -p inside the root; returns an O_PATH fd of the final directory.
Fd mkdir_all(int root_fd, const std::string& path, mode_t mode = 0755);

// Makes sure a regular file exists at path (for bind-mounting a file over it); O_PATH fd.
Fd ensure_file(int root_fd, const std::string& path, mode_t mode = 0644);

// "/proc/self/fd/N": the name mount(2) and friends accept for an fd.
std::string fd_name(int fd);

// mount(2) onto what fd names. A directory is mounted on "." after fchdir to it: the same
// place as /proc/self/fd/N without walking procfs (fresh dentries for every fd, per mount).
// Changes the working directory; the init sets it again before pivot_root.
int mount_at(int fd, const char* source, const char* fstype, unsigned long flags, const void* data);

// Splits "a/b/c" into "a/b" and "c" after cleaning "." and duplicate slashes.
std::pair<std::string, std::string> split_parent(const std::string& path);

// Lexically cleans a path: "/a/./b//../c" -> "/a/c" (never climbs above "/").
std::string clean(const std::string& path);

}  // namespace skiff::rootpath
