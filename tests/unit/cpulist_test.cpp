// The cpuset(7) list format behind execCPUAffinity and memoryPolicy.nodes.
#include <gtest/gtest.h>

#include "base/cpulist.hpp"

namespace skiff::cpulist {
namespace {

bool has(const Mask& m, unsigned bit) { return (m[bit / 64] >> (bit % 64)) & 1; }

TEST(CpuList, RangesAndSingles) {
    auto m = parse("0-2,5,64", 128);
    ASSERT_TRUE(m);
    for (unsigned b : {0u, 1u, 2u, 5u, 64u}) EXPECT_TRUE(has(*m, b)) << b;
    for (unsigned b : {3u, 4u, 6u, 63u, 65u}) EXPECT_FALSE(has(*m, b)) << b;
}

TEST(CpuList, EmptyIsAnEmptyMask) {
    auto m = parse("", 64);
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)[0], 0UL);
}

TEST(CpuList, MalformedOrTooLargeIsRefused) {
    for (const char* bad : {"x", "1-", "-1", "2-1", "1,", ",1", "1,,2", "1 2", "0-9876543210", "1024"})
        EXPECT_FALSE(parse(bad, 1024)) << bad;
    EXPECT_TRUE(parse("1023", 1024));
}

}  // namespace
}  // namespace skiff::cpulist
