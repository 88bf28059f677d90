// The unit properties on a v1/hybrid host: the v1 values under their v1 names.
#include <gtest/gtest.h>

#include "cgroups/systemd_legacy.hpp"
#include "cgroups/systemd_props.hpp"

using namespace skiff::cgroups::systemd;

namespace {

const Property* find(const std::vector<Property>& props, const std::string& name) {
    for (const auto& p : props)
        if (p.name == name) return &p;
    return nullptr;
}

}  // namespace

TEST(SystemdLegacy, WeightsAndLimitsKeepTheirV1Values) {
    skiff::oci::Resources r;
    r.cpu.emplace();
    r.cpu->shares = 512;
    r.memory.emplace();
    r.memory->limit = 64 << 20;
    r.block_io.emplace();
    r.block_io->weight = 500;
    r.block_io->weight_device.push_back({8, 0, 300, std::nullopt});
    r.block_io->throttle_read_bps_device.push_back({8, 0, 1 << 20});
    auto props = legacy_properties(resource_properties(r, {}), r);
    ASSERT_TRUE(find(props, "CPUShares"));
    EXPECT_EQ(find(props, "CPUShares")->value, "512");  // not 204, systemd's way back from CPUWeight=20
    EXPECT_EQ(find(props, "BlockIOWeight")->value, "500");
    EXPECT_EQ(find(props, "BlockIODeviceWeight")->value, "/dev/block/8%3A0=300");
    EXPECT_EQ(find(props, "MemoryLimit")->value, std::to_string(64 << 20));
    EXPECT_EQ(find(props, "BlockIOReadBandwidth")->value, "/dev/block/8%3A0=1048576");
    for (const char* v2 : {"CPUWeight", "IOWeight", "IODeviceWeight", "MemoryMax", "IOReadBandwidthMax"})
        EXPECT_FALSE(find(props, v2)) << v2;
}

TEST(SystemdLegacy, OtherPropertiesPassThrough) {
    skiff::oci::Resources r;
    r.pids.emplace();
    r.pids->limit = 50;
    auto base = base_properties("c1", "system.slice", false);
    auto props = legacy_properties(base, r);
    EXPECT_EQ(find(props, "Delegate")->value, "1");
    EXPECT_EQ(find(props, "BlockIOAccounting")->value, "1");
    auto res = legacy_properties(resource_properties(r, {}), r);
    EXPECT_EQ(find(res, "TasksMax")->value, "50");
}
