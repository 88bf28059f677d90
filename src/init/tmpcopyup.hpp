// tmpcopyup (a runc/crun extension podman sets for `--tmpfs`): the tmpfs starts with a copy of
// what the image had at its destination. The tmpfs is made detached (fsopen/fsmount), filled
// from a descriptor of the destination, and only then moved over it: no path is ever looked
// up by name outside an fd we hold, and no symlink in the image is followed.
#pragma once
#include <string>

#include "init/mount_options.hpp"

namespace skiff::init {

// Mounts a tmpfs with options o at dest (inside root_fd), pre-filled with dest's content.
// source: the mount's "source", shown in /proc/mounts as mount(2) would show it.
// selinux_context: the SELinux context= of the tmpfs ("" for none).
void mount_tmpfs_copyup(int root_fd, const std::string& dest, const MountOptions& o,
                        const std::string& source, const std::string& selinux_context = "");

// Copies the content of directory src_dir into directory dst_dir (both fds, O_RDONLY
// directories): files, directories, symlinks, fifos, sockets and (where allowed) device
// nodes, with modes, owners, times and hard links. Never follows a symlink of src.
void copy_tree(int src_dir, int dst_dir);

// Gives dst_dir the mode, owner and times of src_dir (the tmpfs root takes the image dir's).
void copy_dir_attributes(int src_dir, int dst_dir);

}  // namespace skiff::init
