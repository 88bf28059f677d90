// The systemd driver's pure parts: cgroupsPath forms and the unit properties.
#include <gtest/gtest.h>

#include "cgroups/systemd_path.hpp"
#include "cgroups/systemd_props.hpp"
#include "base/error.hpp"

using namespace skiff::cgroups::systemd;

namespace {

std::string error_of(const std::string& path, const std::string& id = "c1") {
    try {
        parse_cgroups_path(path, id);
    } catch (const skiff::Error& e) {
        return e.what();
    }
    return "";
}

const Property* find(const std::vector<Property>& ps, const std::string& name) {
    for (const auto& p : ps)
        if (p.name == name) return &p;
    return nullptr;
}

}  // namespace

TEST(SystemdPath, SliceScopeAndDefaults) {
    auto p = parse_cgroups_path("machine.slice:libpod:abc", "x");
    EXPECT_EQ(p.slice, "machine.slice");
    EXPECT_EQ(p.unit, "libpod-abc.scope");
    EXPECT_FALSE(p.is_slice);
    EXPECT_EQ(p.cgroup, "/machine.slice/libpod-abc.scope");

    auto d = parse_cgroups_path("", "c1");
    EXPECT_EQ(d.slice, "system.slice");
    EXPECT_EQ(d.unit, "skiff-c1.scope");
    EXPECT_EQ(d.cgroup, "/system.slice/skiff-c1.scope");

    auto e = parse_cgroups_path(":cri-containerd:abc", "x");  // empty slice: system.slice
    EXPECT_EQ(e.cgroup, "/system.slice/cri-containerd-abc.scope");
}

TEST(SystemdPath, NestedSlicesExpandAsSystemdDoes) {
    auto p = parse_cgroups_path("kubepods-burstable-pod1.slice:cri-containerd:abc", "x");
    EXPECT_EQ(p.cgroup,
              "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-abc.scope");
    EXPECT_EQ(expand_slice("a-b.slice", "t"), "/a.slice/a-b.slice");
    EXPECT_EQ(expand_slice("-.slice", "t"), "/");
    EXPECT_EQ(parse_cgroups_path("-.slice:p:n", "x").cgroup, "/p-n.scope");
    EXPECT_THROW(expand_slice("a--b.slice", "t"), skiff::Error);
    EXPECT_THROW(expand_slice("-a.slice", "t"), skiff::Error);
}

TEST(SystemdPath, NameEndingInSliceMakesASlice) {
    auto p = parse_cgroups_path("system.slice:skiff:mine-sub.slice", "x");
    EXPECT_TRUE(p.is_slice);
    EXPECT_EQ(p.unit, "mine-sub.slice");
    EXPECT_EQ(p.cgroup, "/mine.slice/mine-sub.slice");
}

TEST(SystemdPath, BadFormsNameCgroupsPath) {
    std::string long_name(300, 'n');
    for (const std::string& bad : {std::string("a:b"), std::string("::"), std::string("x:y:z:w"),
                                   std::string("system:p:n"), std::string("sys/tem.slice:p:n"),
                                   std::string("system.slice:p/q:n"), std::string("system.slice:p:a/b"),
                                   std::string("system.slice:p:.."), std::string("system.slice:..:n"),
                                   std::string("system.slice:p:a..b"), std::string("system.slice:p:") ,
                                   std::string("system.slice:p:" + long_name),
                                   std::string("/plain/path"), std::string("system.slice:p:sp ace")}) {
        std::string err = error_of(bad);
        EXPECT_NE(err.find("linux.cgroupsPath"), std::string::npos) << bad << " -> " << err;
    }
    EXPECT_NE(error_of("a:b").find("slice:prefix:name"), std::string::npos);
    EXPECT_NE(error_of("system.slice:p:" + long_name).find("longer than"), std::string::npos);
    // The default name is the id: one too long for a unit is refused the same way.
    EXPECT_NE(error_of("", std::string(260, 'i')).find("linux.cgroupsPath"), std::string::npos);
}

TEST(SystemdProps, BaseProperties) {
    auto ps = base_properties("c1", "system.slice", false);
    ASSERT_NE(find(ps, "Slice"), nullptr);
    EXPECT_EQ(find(ps, "Slice")->value, "system.slice");
    EXPECT_EQ(find(ps, "Delegate")->value, "1");
    EXPECT_EQ(find(ps, "DefaultDependencies")->value, "0");
    for (const char* acc : {"MemoryAccounting", "CPUAccounting", "TasksAccounting", "IOAccounting"})
        EXPECT_EQ(find(ps, acc)->value, "1") << acc;
    EXPECT_EQ(find(ps, "Description")->value, "skiff%20container%20c1");
    auto slice = base_properties("c1", "system.slice", true);
    EXPECT_EQ(find(slice, "Slice"), nullptr);
    EXPECT_EQ(find(slice, "Wants")->sig, "as");
    EXPECT_EQ(find(slice, "Delegate"), nullptr);  // "Delegation not available for unit type"
}

TEST(SystemdProps, Resources) {
    skiff::oci::Resources r;
    r.memory.emplace();
    r.memory->limit = 64 << 20;
    r.memory->reservation = 32 << 20;
    r.memory->swap = 96 << 20;
    r.cpu.emplace();
    r.cpu->shares = 1024;
    r.cpu->quota = 12345;
    r.cpu->period = 100000;
    r.cpu->cpus = "0-1,4";
    r.pids.emplace();
    r.pids->limit = 42;
    r.block_io.emplace();
    r.block_io->weight = 500;
    r.block_io->throttle_read_bps_device.push_back({254, 0, 1048576});
    auto ps = resource_properties(r, {});
    EXPECT_EQ(find(ps, "MemoryMax")->value, std::to_string(64 << 20));
    EXPECT_EQ(find(ps, "MemoryLow")->value, std::to_string(32 << 20));
    EXPECT_EQ(find(ps, "MemorySwapMax")->value, std::to_string(32 << 20));  // v2: swap alone
    EXPECT_EQ(find(ps, "CPUWeight")->value, "39");                          // runc's formula
    EXPECT_EQ(find(ps, "CPUQuotaPeriodUSec")->value, "100000");
    EXPECT_EQ(find(ps, "CPUQuotaPerSecUSec")->value, "130000");  // 123450 rounded up to 10 ms
    EXPECT_EQ(find(ps, "AllowedCPUs")->sig, "ay");
    EXPECT_EQ(find(ps, "AllowedCPUs")->value, "13");  // cpus 0,1,4
    EXPECT_EQ(find(ps, "TasksMax")->value, "42");
    EXPECT_EQ(find(ps, "IOWeight")->value, std::to_string(1 + (490 * 9999) / 990));
    EXPECT_EQ(find(ps, "IOReadBandwidthMax")->value, "/dev/block/254%3A0=1048576");
    EXPECT_EQ(find(ps, "DevicePolicy"), nullptr);  // no rules given

    r.pids->limit = -1;
    r.memory->limit = -1;
    r.memory->swap.reset();
    ps = resource_properties(r, {});
    EXPECT_EQ(find(ps, "TasksMax")->value, "18446744073709551615");
    EXPECT_EQ(find(ps, "MemoryMax")->value, "18446744073709551615");
}

TEST(SystemdProps, QuotaRounding) {
    EXPECT_EQ(quota_per_sec_usec(50000, 100000), 500000u);
    EXPECT_EQ(quota_per_sec_usec(1, 100000), 10000u);
    EXPECT_EQ(quota_per_sec_usec(10000, 0), 100000u);  // the default period
    EXPECT_EQ(quota_per_sec_usec(-1, 100000), UINT64_MAX);
}

TEST(SystemdProps, RangeToBits) {
    EXPECT_EQ(range_to_bits("0", "x"), std::vector<uint8_t>({1}));
    EXPECT_EQ(range_to_bits("8-9", "x"), std::vector<uint8_t>({0, 3}));
    EXPECT_THROW(range_to_bits("3-1", "x"), skiff::Error);
    EXPECT_THROW(range_to_bits("a", "x"), skiff::Error);
}

TEST(SystemdProps, DevicePolicy) {
    using skiff::oci::DeviceRule;
    std::vector<DeviceRule> precise = {{false, "a", {}, {}, "rwm"}, {true, "c", 1, 3, "rwm"}, {true, "b", 8, 0, "r"}};
    auto ps = resource_properties({}, precise);
    EXPECT_EQ(find(ps, "DevicePolicy")->value, "strict");
    EXPECT_EQ(find(ps, "DeviceAllow")->value, "/dev/char/1%3A3=rwm,/dev/block/8%3A0=r");
    std::vector<DeviceRule> wild = {{false, "a", {}, {}, "rwm"}, {true, "c", 136, {}, "rwm"}};
    ps = resource_properties({}, wild);
    EXPECT_EQ(find(ps, "DevicePolicy")->value, "auto");
    EXPECT_EQ(find(ps, "DeviceAllow")->value, "");
}

TEST(SystemdProps, Annotations) {
    auto ps = annotation_properties({{"org.systemd.property.TimeoutStopUSec", "uint64 123456789"},
                                     {"org.systemd.property.CollectMode", "'inactive-or-failed'"},
                                     {"org.systemd.property.TimeoutStopSec", "5"},
                                     {"org.systemd.property.Wants", "['a.service', 'b.service']"},
                                     {"org.systemd.property.SendSIGHUP", "true"},
                                     {"other", "x"}});
    ASSERT_EQ(ps.size(), 5u);
    EXPECT_EQ(*find(ps, "CollectMode"), (Property{"CollectMode", "s", "inactive-or-failed"}));
    EXPECT_EQ(*find(ps, "SendSIGHUP"), (Property{"SendSIGHUP", "b", "1"}));
    EXPECT_EQ(*find(ps, "Wants"), (Property{"Wants", "as", "a.service,b.service"}));
    // ...Sec becomes ...USec in microseconds; both forms end up as TimeoutStopUSec.
    int usec = 0;
    for (const auto& p : ps)
        if (p.name == "TimeoutStopUSec") {
            ++usec;
            EXPECT_EQ(p.sig, "t");
            EXPECT_TRUE(p.value == "123456789" || p.value == "5000000") << p.value;
        }
    EXPECT_EQ(usec, 2);
}

TEST(SystemdProps, BadAnnotationsNameTheAnnotation) {
    for (auto [k, v] : std::vector<std::pair<std::string, std::string>>{
             {"org.systemd.property.Ab", "1"},
             {"org.systemd.property.Bad_Name", "1"},
             {"org.systemd.property.CollectMode", "unquoted"},
             {"org.systemd.property.TasksMax", "uint64 -1"},
             {"org.systemd.property.CPUWeight", "uint8 3"},
             {"org.systemd.property.TimeoutStopSec", "'soon'"},
             {"org.systemd.property.Wants", "[1, 2]"}}) {
        try {
            annotation_properties({{k, v}});
            ADD_FAILURE() << k << "=" << v << " accepted";
        } catch (const skiff::Error& e) {
            EXPECT_NE(std::string(e.what()).find(k), std::string::npos) << e.what();
        }
    }
}
