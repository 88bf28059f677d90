// The list format of cpuset(7) ("0-3,7"), as bit masks for sched_setaffinity and
// set_mempolicy.
#pragma once
#include <optional>
#include <string_view>
#include <vector>

namespace skiff::cpulist {

using Mask = std::vector<unsigned long>;  // bit i of the whole = cpu (or node) i

// Parses `list` ("" is an empty mask). Nothing when it is malformed or names a number
// >= limit.
std::optional<Mask> parse(std::string_view list, unsigned limit);

}  // namespace skiff::cpulist
