// Linux capabilities by name, and setting all five sets of the calling process.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace skiff::caps {

// CAP_CHOWN ... CAP_CHECKPOINT_RESTORE, in kernel order.
const std::vector<std::string>& all_names();
// -1 when the name is unknown to this build.
int from_name(const std::string& name);
// Highest capability number the running kernel supports (/proc/sys/kernel/cap_last_cap).
int last_cap();

struct Sets {
    // nullopt: leave the set as the kernel gives it (only meaningful for bounding).
    std::optional<uint64_t> bounding;
    uint64_t effective = 0, permitted = 0, inheritable = 0, ambient = 0;
};

// Turns names into a mask; names unknown to the kernel go to `unknown` (the spec says warn).
uint64_t mask_of(const std::vector<std::string>& names, std::vector<std::string>* unknown);

// Drops from the bounding set every cap not in sets.bounding (needs CAP_SETPCAP).
void drop_bounding(const Sets& sets);
// capset(effective, permitted, inheritable), then raises the ambient set; clears the rest.
void apply(const Sets& sets);

}  // namespace skiff::caps
