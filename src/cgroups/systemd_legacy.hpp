// The unit properties on a v1 or hybrid host, where systemd drives the v1 controllers.
// systemd 252 takes the v2 names there too, but converts CPUWeight and IOWeight back into
// shares and blkio weights that differ from the config's (shares 512 → weight 20 → 204), and
// writes those into the cgroup again whenever it re-applies the unit. So, as runc's v1
// manager does, the v1 values go under their v1 names. Pure logic: no bus here.
#pragma once
#include <vector>

#include "cgroups/systemd_props.hpp"
#include "oci/spec.hpp"

namespace skiff::cgroups::systemd {

// props as resource_properties() made them from r (plus the base ones, which pass through),
// with the weights, memory limit and bandwidths under their cgroup v1 names.
std::vector<Property> legacy_properties(const std::vector<Property>& props, const oci::Resources& r);

}  // namespace skiff::cgroups::systemd
