// runc's `events --stats` "data" object, read from v1 or v2 files into one schema.
#pragma once
#include <string>

#include "cgroups/resources.hpp"

namespace skiff::cgroups {

std::string stats_json(const Placement& p);

}  // namespace skiff::cgroups
