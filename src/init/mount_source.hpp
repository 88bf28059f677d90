// Bind sources the container's root cannot reach. In a user namespace the init is root only
// over what its namespace maps: a source below a directory that only the host's root may
// search fails with EACCES. The init then asks the runtime (Msg::mount_source), which clones
// the source as host root from inside the init's mount namespace and sends the detached tree
// back (Msg::mount_tree); the init moves it into place. runc does the same.
#pragma once
#include <sys/types.h>

#include <string>

#include "init/context.hpp"
#include "linux/fd.hpp"
#include "oci/spec.hpp"

namespace skiff::init {

// Init side: the detached tree of mounts[index], cloned by the runtime. Throws its error.
Fd mount_tree_from_runtime(Context& ctx, size_t index);

// Runtime side: a forked child joins the mount namespace of the process behind init_pidfd
// (so the clone is of the container's view, with the locks that view carries), clones m's
// source with m's flags, and hands the tree back. Throws when it cannot.
Fd clone_source_for_init(int init_pidfd, const oci::Mount& m, const std::string& bundle);

}  // namespace skiff::init
