// runc's v1 → v2 conversions, value by value.
#include <gtest/gtest.h>

#include "cgroups/convert.hpp"
#include "base/error.hpp"

using namespace skiff::cgroups::convert;

TEST(CgroupsConvert, CpuSharesToWeight) {
    EXPECT_EQ(cpu_shares_to_weight(0), 0u);        // unset stays unset
    EXPECT_EQ(cpu_shares_to_weight(2), 1u);        // minimum
    EXPECT_EQ(cpu_shares_to_weight(1024), 39u);    // the default: 1 + 1022*9999/262142
    EXPECT_EQ(cpu_shares_to_weight(262144), 10000u);  // maximum
}

TEST(CgroupsConvert, BlkioWeightToIoWeight) {
    EXPECT_EQ(blkio_weight_to_io_weight(0), 0u);
    EXPECT_EQ(blkio_weight_to_io_weight(10), 1u);
    EXPECT_EQ(blkio_weight_to_io_weight(500), 4950u);  // 1 + 490*9999/990
    EXPECT_EQ(blkio_weight_to_io_weight(1000), 10000u);
}

TEST(CgroupsConvert, MemorySwapV2IsSwapMinusLimit) {
    EXPECT_EQ(memory_swap_v2(200, 100), "100");
    EXPECT_EQ(memory_swap_v2(100, 100), "0");  // memsw == limit: no swap at all
    EXPECT_EQ(memory_swap_v2(-1, 100), "max");
    EXPECT_EQ(memory_swap_v2(0, -1), "max");   // unlimited memory, swap unset: both unlimited
    EXPECT_EQ(memory_swap_v2(0, 100), "");     // swap unset: leave it
    EXPECT_THROW(memory_swap_v2(50, 100), skiff::Error);  // memsw below the limit
    EXPECT_THROW(memory_swap_v2(200, 0), skiff::Error);   // swap without a memory limit
    EXPECT_THROW(memory_swap_v2(200, -1), skiff::Error);
}

TEST(CgroupsConvert, CpuMax) {
    EXPECT_EQ(cpu_max(0, 0), "");
    EXPECT_EQ(cpu_max(50000, 100000), "50000 100000");
    EXPECT_EQ(cpu_max(-1, 100000), "max 100000");
    EXPECT_EQ(cpu_max(50000, 0), "50000");
    EXPECT_EQ(cpu_max(0, 250000), "max 250000");
}

TEST(CgroupsConvert, LimitOrMaxAndPageSizes) {
    EXPECT_EQ(limit_or_max(-1), "max");
    EXPECT_EQ(limit_or_max(4096), "4096");
    EXPECT_TRUE(valid_page_size("2MB"));
    EXPECT_TRUE(valid_page_size("1GB"));
    EXPECT_TRUE(valid_page_size("64KB"));
    EXPECT_FALSE(valid_page_size("2M"));
    EXPECT_FALSE(valid_page_size("MB"));
    EXPECT_FALSE(valid_page_size("../x/MB"));
}
