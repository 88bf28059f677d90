// linux.intelRdt against a temp dir standing in for /sys/fs/resctrl: which group is made or
// joined, what reaches its schemata and tasks, what is refused (naming the field), and that
// a failure leaves no group behind.
#include <functional>

#include <gtest/gtest.h>

#include "cgroups_testtree.hpp"
#include "container/intel_rdt.hpp"
#include "base/error.hpp"

namespace skiff::container {
namespace {

using cgroups::testing::TempTree;

// A resctrl root with CAT, MBA and monitoring.
struct Resctrl : TempTree {
    Resctrl() {
        mkdir("info/L3");
        mkdir("info/MB");
        mkdir("info/L3_MON");
        file("schemata", "L3:0=fff\nMB:0=100\n");
    }
};

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(IntelRdt, GroupNamedAfterTheContainerGetsSchemataAndTask) {
    Resctrl r;
    oci::IntelRdt c;
    c.l3_cache_schema = "L3:0=f0";
    c.mem_bw_schema = "MB:0=20";
    IntelRdt rdt(r.root(), c, "ctr1");
    rdt.apply(4242);
    EXPECT_EQ(rdt.group_dir(), r.path("ctr1"));
    EXPECT_EQ(r.read("ctr1/schemata"), "L3:0=f0\nMB:0=20\n");
    EXPECT_EQ(r.read("ctr1/tasks"), "4242");
}

TEST(IntelRdt, MbLinesOfL3SchemaGiveWayToMemBwSchemaAndSchemataComeLast) {
    Resctrl r;
    oci::IntelRdt c;
    c.l3_cache_schema = "L3:0=f0\nMB:0=90";
    c.mem_bw_schema = "MB:0=20";
    c.schemata = {"L2:0=f"};
    IntelRdt(r.root(), c, "ctr").apply(1);
    EXPECT_EQ(r.read("ctr/schemata"), "L3:0=f0\nMB:0=20\nL2:0=f\n");
}

TEST(IntelRdt, ExistingClosIdIsJoinedWhenItsSchemataMatch) {
    Resctrl r;
    r.file("shared/schemata", "L3:0=0f0\n");
    oci::IntelRdt c;
    c.clos_id = "shared";
    c.l3_cache_schema = "L3:0=0f0";
    IntelRdt(r.root(), c, "ctr").apply(7);
    EXPECT_EQ(r.read("shared/tasks"), "7");
    EXPECT_EQ(r.read("shared/schemata"), "L3:0=0f0\n");  // not rewritten
}

TEST(IntelRdt, ExistingClosIdWithOtherSchemataIsRefused) {
    Resctrl r;
    r.file("shared/schemata", "L3:0=0f0\n");
    oci::IntelRdt c;
    c.clos_id = "shared";
    c.l3_cache_schema = "L3:0=fff";
    auto err = error_of([&] { IntelRdt(r.root(), c, "ctr").apply(7); });
    EXPECT_NE(err.find("linux.intelRdt.closID"), std::string::npos) << err;
    EXPECT_FALSE(r.exists("shared/tasks"));
}

TEST(IntelRdt, MissingClosIdWithoutSchemataIsRefused) {
    Resctrl r;
    oci::IntelRdt c;
    c.clos_id = "nosuch";
    auto err = error_of([&] { IntelRdt(r.root(), c, "ctr").validate(); });
    EXPECT_NE(err.find("linux.intelRdt.closID"), std::string::npos) << err;
}

TEST(IntelRdt, MissingClosIdWithSchemataIsMade) {
    Resctrl r;
    oci::IntelRdt c;
    c.clos_id = "newclos";
    c.schemata = {"L3:0=3"};
    IntelRdt(r.root(), c, "ctr").apply(9);
    EXPECT_EQ(r.read("newclos/schemata"), "L3:0=3\n");
    EXPECT_EQ(r.read("newclos/tasks"), "9");
}

TEST(IntelRdt, EveryMissingFacilityNamesItsField) {
    oci::IntelRdt c;
    c.clos_id = "x";
    EXPECT_NE(error_of([&] { IntelRdt("", c, "ctr").validate(); }).find("linux.intelRdt: "), std::string::npos);
    TempTree bare;  // resctrl without CAT, MBA or monitoring
    oci::IntelRdt l3;
    l3.l3_cache_schema = "L3:0=f";
    EXPECT_NE(error_of([&] { IntelRdt(bare.root(), l3, "c").validate(); }).find("linux.intelRdt.l3CacheSchema"),
              std::string::npos);
    oci::IntelRdt mb;
    mb.mem_bw_schema = "MB:0=10";
    EXPECT_NE(error_of([&] { IntelRdt(bare.root(), mb, "c").validate(); }).find("linux.intelRdt.memBwSchema"),
              std::string::npos);
    oci::IntelRdt mon;
    mon.enable_monitoring = true;
    EXPECT_NE(error_of([&] { IntelRdt(bare.root(), mon, "c").validate(); }).find("linux.intelRdt.enableMonitoring"),
              std::string::npos);
}

TEST(IntelRdt, MonitoringGroupIsMadeAndJoined) {
    Resctrl r;
    r.mkdir("shared/mon_groups");  // the kernel gives every group one
    oci::IntelRdt c;
    c.clos_id = "shared";
    c.enable_monitoring = true;
    IntelRdt(r.root(), c, "ctr").apply(11);
    EXPECT_EQ(r.read("shared/tasks"), "11");
    EXPECT_EQ(r.read("shared/mon_groups/ctr/tasks"), "11");
}

TEST(IntelRdt, RefusalLeavesNoGroupBehind) {
    TempTree bare;  // no CAT
    oci::IntelRdt c;
    c.l3_cache_schema = "L3:0=f";
    EXPECT_THROW(IntelRdt(bare.root(), c, "ctr").apply(1), Error);
    EXPECT_FALSE(bare.exists("ctr"));
}

TEST(IntelRdt, RemoveTakesTheContainersGroupNotASharedOne) {
    Resctrl r;
    r.mkdir("ctr");
    r.mkdir("shared");
    oci::IntelRdt own;
    IntelRdt(r.root(), own, "ctr").remove();
    EXPECT_FALSE(r.exists("ctr"));
    oci::IntelRdt shared;
    shared.clos_id = "shared";
    IntelRdt(r.root(), shared, "ctr").remove();
    EXPECT_TRUE(r.exists("shared"));
}

TEST(IntelRdt, UpdateWritesTheGroupsSchemata) {
    Resctrl r;
    r.mkdir("ctr");
    IntelRdt(r.root(), {}, "ctr").update("L3:0=3", "MB:0=50");
    EXPECT_EQ(r.read("ctr/schemata"), "L3:0=3\nMB:0=50\n");
}

TEST(IntelRdt, UpdateWithoutResctrlSaysWhatIsMissingInRuncsWords) {
    EXPECT_EQ(error_of([] { IntelRdt("", {}, "c").update("L3:0=3", ""); }),
              "Intel RDT/CAT: l3 cache schema is not enabled");
    EXPECT_EQ(error_of([] { IntelRdt("", {}, "c").update("", "MB:0=3"); }),
              "Intel RDT/MBA: memory bandwidth schema is not enabled");
}

}  // namespace
}  // namespace skiff::container
