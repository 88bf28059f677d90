#include "cgroups/manager.hpp"

#include "cgroups/fs_manager.hpp"

namespace skiff::cgroups {

std::unique_ptr<Manager> open(const Options& opts) { return std::make_unique<FsManager>(opts); }

}  // namespace skiff::cgroups
