// The files skiff keeps next to CRIU's images: descriptors.json (as runc writes it: the
// targets of the init's fds 0-2, so a restore can hand the same pipes back) and
// skiff-checkpoint.json (what the checkpointed container looked like, so a restore from a
// bundle that differs is refused with a clear error instead of a CRIU log to decode).
#pragma once
#include <string>
#include <vector>

#include "cgroups/manager.hpp"
#include "container/state.hpp"
#include "oci/spec.hpp"

namespace skiff::container {

// mkdir (one level, as runc; an existing directory is fine) and its absolute path.
std::string absolute_dir(const std::string& path, const char* what);

void write_descriptors(const std::string& images, const std::vector<std::string>& targets);
// Throws "restore: <images>/descriptors.json: ..." when missing or not a JSON string array.
std::vector<std::string> read_descriptors(const std::string& images);

void write_manifest(const std::string& images, const Record& r, const oci::Spec& spec);
// Compares the bundle's config with the checkpointed one where CRIU depends on it (mounts,
// namespaces, terminal); throws naming the first difference. No manifest (runc's images): ok.
void check_manifest(const std::string& images, const oci::Spec& spec);

// The container's cgroup per hierarchy as (name, host path); name "" on a pure v2 host.
std::vector<std::pair<std::string, std::string>> hierarchy_paths(cgroups::Manager& cg);

// Throws a clear error unless `images` is a directory holding a CRIU dump (inventory.img).
void check_image_dir(const std::string& images);

}  // namespace skiff::container
