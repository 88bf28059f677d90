#include "base/cpulist.hpp"

#include <climits>

namespace skiff::cpulist {
namespace {

constexpr unsigned kBits = sizeof(unsigned long) * CHAR_BIT;

// A decimal number below limit at s[i...]; advances i.
std::optional<unsigned> number(std::string_view s, size_t& i, unsigned limit) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return std::nullopt;
    unsigned long v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + unsigned(s[i++] - '0');
        if (v >= limit) return std::nullopt;
    }
    return unsigned(v);
}

}  // namespace

std::optional<Mask> parse(std::string_view s, unsigned limit) {
    Mask mask((limit + kBits - 1) / kBits, 0);
    size_t i = 0;
    while (i < s.size()) {
        auto first = number(s, i, limit);
        if (!first) return std::nullopt;
        unsigned last = *first;
        if (i < s.size() && s[i] == '-') {
            ++i;
            auto end = number(s, i, limit);
            if (!end || *end < *first) return std::nullopt;
            last = *end;
        }
        for (unsigned b = *first; b <= last; ++b) mask[b / kBits] |= 1UL << (b % kBits);
        if (i < s.size()) {
            if (s[i] != ',' || i + 1 == s.size()) return std::nullopt;
            ++i;
        }
    }
    return mask;
}

}  // namespace skiff::cpulist
