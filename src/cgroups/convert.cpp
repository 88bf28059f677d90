#include "cgroups/convert.hpp"

#include "base/error.hpp"

namespace skiff::cgroups::convert {

uint64_t cpu_shares_to_weight(uint64_t shares) {
    if (shares == 0) return 0;
    if (shares < 2) shares = 2;  // the kernel's minimum; keeps the formula from wrapping
    return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t blkio_weight_to_io_weight(uint64_t weight) {
    if (weight == 0) return 0;
    if (weight < 10) weight = 10;
    return 1 + ((weight - 10) * 9999) / 990;
}

std::string memory_swap_v2(int64_t swap, int64_t memory) {
    // Unlimited memory with swap unset means "both unlimited", as on v1.
    if (memory == -1 && swap == 0) return "max";
    if (swap == -1) return "max";
    if (swap == 0) return "";
    if (memory == 0 || memory == -1)
        throw Error("linux.resources.memory.swap: cannot set a swap limit without a memory limit");
    if (memory < 0) throw Error("linux.resources.memory.limit: invalid value " + std::to_string(memory));
    if (swap < memory)
        throw Error("linux.resources.memory.swap: memory+swap limit " + std::to_string(swap) +
                    " must be >= memory limit " + std::to_string(memory));
    return std::to_string(swap - memory);
}

std::string limit_or_max(int64_t value) { return value < 0 ? "max" : std::to_string(value); }

std::string cpu_max(int64_t quota, uint64_t period) {
    if (quota == 0 && period == 0) return "";
    std::string out = quota > 0 ? std::to_string(quota) : "max";
    if (period != 0) out += " " + std::to_string(period);
    return out;
}

bool valid_page_size(const std::string& size) {
    if (size.size() < 3) return false;
    std::string unit = size.substr(size.size() - 2);
    std::string num = size.substr(0, size.size() - 2);
    if (unit != "KB" && unit != "MB" && unit != "GB") return false;
    return !num.empty() && num.find_first_not_of("0123456789") == std::string::npos &&
           num.front() != '0';
}

}  // namespace skiff::cgroups::convert
