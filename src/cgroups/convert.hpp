// The v1 → v2 value conversions runc uses, so a config means the same on either layout.
#pragma once
#include <cstdint>
#include <string>

namespace skiff::cgroups::convert {

// cpu.shares [2, 262144] → cpu.weight [1, 10000]; 0 stays "unset".
uint64_t cpu_shares_to_weight(uint64_t shares);
// blkio.weight [10, 1000] → io.weight [1, 10000]; 0 stays "unset".
uint64_t blkio_weight_to_io_weight(uint64_t weight);
// v1 memsw is memory+swap; v2 memory.swap.max is swap alone. Returns the memory.swap.max
// value to write ("max", a number), or "" for "leave it". Throws for impossible pairs.
// memory/swap use runc's convention: 0 = unset, -1 = unlimited.
std::string memory_swap_v2(int64_t swap, int64_t memory);
// -1 (or any negative) → "max", else the number.
std::string limit_or_max(int64_t value);
// cpu.max from quota/period (0 = unset): "" when neither is set.
std::string cpu_max(int64_t quota, uint64_t period);
// "2MB" → true for the page size names the kernel uses in hugetlb file names.
bool valid_page_size(const std::string& size);

}  // namespace skiff::cgroups::convert
