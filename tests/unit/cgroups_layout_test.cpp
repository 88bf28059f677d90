// Layout detection, mount options, own-cgroup lookup and cgroupsPath rules.
#include <gtest/gtest.h>

#include "cgroups/layout.hpp"
#include "cgroups/manager.hpp"
#include "cgroups/path.hpp"
#include "cgroups_testtree.hpp"
#include "base/error.hpp"

using namespace skiff::cgroups;
using skiff::cgroups::testing::TempTree;

namespace {

const char* kHybridMountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
    "50 23 0:40 / /proc rw - proc proc rw\n";

std::string write_mountinfo(const TempTree& t, const std::string& text) {
    t.file("mountinfo", text);
    return t.path("mountinfo");
}

}  // namespace

TEST(CgroupsLayout, HybridFromMountinfo) {
    TempTree t;
    auto layout = detect_layout("/sys/fs/cgroup", "", write_mountinfo(t, kHybridMountinfo));
    EXPECT_EQ(layout.mode, Mode::Hybrid);
    ASSERT_EQ(layout.hierarchies.size(), 4u);
    EXPECT_EQ(layout.hierarchies[0].name, "cpu,cpuacct");
    EXPECT_EQ(layout.hierarchies[0].options, "cpu,cpuacct");
    EXPECT_EQ(layout.hierarchies[0].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
    EXPECT_EQ(layout.hierarchies[2].options, "name=systemd");
    EXPECT_TRUE(layout.hierarchies[2].controllers.empty());
    EXPECT_TRUE(layout.hierarchies[3].v2);
    EXPECT_EQ(layout.hierarchies[3].name, "unified");
}

TEST(CgroupsLayout, LegacyAndUnifiedFromMountinfo) {
    TempTree t;
    auto legacy = detect_layout(
        "/sys/fs/cgroup", "",
        write_mountinfo(t, "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"));
    EXPECT_EQ(legacy.mode, Mode::Legacy);
    auto unified = detect_layout(
        "/sys/fs/cgroup", "",
        write_mountinfo(t, "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"));
    EXPECT_EQ(unified.mode, Mode::Unified);
    ASSERT_EQ(unified.hierarchies.size(), 1u);
    EXPECT_EQ(unified.hierarchies[0].name, "");
    EXPECT_TRUE(unified.hierarchies[0].v2);
}

TEST(CgroupsLayout, ALaterMountHidesHierarchiesBelowIt) {
    TempTree t;
    // A tmpfs over the v2 mount of a hybrid host (as a benchmark does for crun) leaves legacy.
    std::string text = std::string(kHybridMountinfo) +
                       "60 41 0:50 / /sys/fs/cgroup/unified rw - tmpfs tmpfs rw\n";
    auto layout = detect_layout("/sys/fs/cgroup", "", write_mountinfo(t, text));
    EXPECT_EQ(layout.mode, Mode::Legacy);
    EXPECT_EQ(layout.hierarchies.size(), 3u);
}

TEST(CgroupsLayout, NothingMountedIsAnError) {
    TempTree t;
    EXPECT_THROW(detect_layout("/sys/fs/cgroup", "", write_mountinfo(t, "50 23 0:40 / /proc rw - proc proc rw\n")),
                 skiff::Error);
}

TEST(CgroupsLayout, ThisHostIsDetected) {
    // Whatever this host is, detection must find at least one hierarchy.
    auto layout = detect_layout("/sys/fs/cgroup", "");
    EXPECT_FALSE(layout.hierarchies.empty());
}

TEST(CgroupsLayout, ForcedFromDirectories) {
    TempTree t;
    t.mkdir("cpu,cpuacct");
    t.mkdir("systemd");
    t.mkdir("unified");
    t.file("unified/cgroup.controllers", "hugetlb\n");
    auto hybrid = detect_layout(t.root(), "hybrid");
    EXPECT_EQ(hybrid.mode, Mode::Hybrid);
    ASSERT_EQ(hybrid.hierarchies.size(), 3u);
    EXPECT_EQ(hybrid.hierarchies[2].controllers, (std::vector<std::string>{"hugetlb"}));
    auto legacy = detect_layout(t.root(), "legacy");
    EXPECT_EQ(legacy.hierarchies.size(), 2u);  // "unified" is not a v1 hierarchy
    EXPECT_THROW(detect_layout(t.root(), "weird"), skiff::Error);
}

TEST(CgroupsLayout, RemountOptionsDropFlags) {
    std::vector<std::string> ctrls;
    EXPECT_EQ(remount_options("rw,noexec,cpu,cpuacct,release_agent=/x", false, &ctrls),
              "noexec,cpu,cpuacct");
    EXPECT_EQ(remount_options("rw,nsdelegate", true, nullptr), "");
}

TEST(CgroupsLayout, OwnCgroupMatchesByControllerSet) {
    const char* text = "9:name=systemd:/sys\n4:memory:/a/b\n1:cpuacct,cpu:/c\n0::/u/leaf\n";
    MountedHierarchy mem{"memory", "/x/memory", false, {"memory"}, "memory"};
    MountedHierarchy cpu{"cpu,cpuacct", "/x/cpu", false, {"cpu", "cpuacct"}, "cpu,cpuacct"};
    MountedHierarchy sd{"systemd", "/x/systemd", false, {}, "name=systemd"};
    MountedHierarchy v2{"unified", "/x/unified", true, {}, ""};
    EXPECT_EQ(own_cgroup(text, mem), "/a/b");
    EXPECT_EQ(own_cgroup(text, cpu), "/c");
    EXPECT_EQ(own_cgroup(text, sd), "/sys");
    EXPECT_EQ(own_cgroup(text, v2), "/u/leaf");
}

TEST(CgroupsPath, EmptyDefaultsUnderSkiff) {
    EXPECT_EQ(normalize_cgroups_path("", "abc", false), "/skiff/abc");
    EXPECT_THROW(normalize_cgroups_path("", "a/b", false), skiff::Error);
}

TEST(CgroupsPath, NormalisesAndRefusesEscapes) {
    EXPECT_EQ(normalize_cgroups_path("/a//b/./c/", "x", false), "/a/b/c");
    EXPECT_EQ(normalize_cgroups_path("rel/x", "x", false), "rel/x");
    for (const char* bad : {"/a/../../etc", "..", "a/..", "/../x"}) {
        try {
            normalize_cgroups_path(bad, "x", false);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const skiff::Error& e) {
            EXPECT_NE(std::string(e.what()).find("linux.cgroupsPath"), std::string::npos) << e.what();
        }
    }
    EXPECT_THROW(normalize_cgroups_path("/", "x", false), skiff::Error);
}

TEST(CgroupsPath, SystemdDriverIsRefusedClearly) {
    try {
        normalize_cgroups_path("system.slice:skiff:abc", "abc", true);
        ADD_FAILURE() << "systemd path accepted";
    } catch (const skiff::Error& e) {
        EXPECT_NE(std::string(e.what()).find("systemd cgroup driver is not available"), std::string::npos);
    }
}

TEST(CgroupsPath, ResolveAbsoluteAndRelative) {
    const char* own = "4:memory:/parent/me\n0::/u/me\n";
    MountedHierarchy mem{"memory", "/r/memory", false, {"memory"}, "memory"};
    MountedHierarchy v2{"unified", "/r/unified", true, {}, ""};
    EXPECT_EQ(resolve_in(mem, "/abs/c", own), "/r/memory/abs/c");
    EXPECT_EQ(resolve_in(mem, "rel/c", own), "/r/memory/parent/me/rel/c");
    // v2: the runtime's own leaf holds processes, so relative paths hang from its parent.
    EXPECT_EQ(resolve_in(v2, "rel/c", own), "/r/unified/u/rel/c");
}

TEST(CgroupsPath, ManagerPathsAndHierarchies) {
    TempTree t;
    t.mkdir("memory");
    t.mkdir("systemd");
    t.mkdir("unified");
    t.file("self_cgroup", "2:memory:/outer\n1:name=systemd:/\n0::/top/leaf\n");
    Options o;
    o.root = t.root();
    o.layout = "hybrid";
    o.container_id = "c1";
    o.cgroups_path = "pods/c1";
    o.proc_self_cgroup = t.path("self_cgroup");
    auto m = open(o);
    auto paths = m->paths();
    EXPECT_EQ(paths["memory"], t.path("memory/outer/pods/c1"));
    EXPECT_EQ(paths["systemd"], t.path("systemd/pods/c1"));
    EXPECT_EQ(paths["unified"], t.path("unified/top/pods/c1"));
    auto hs = m->hierarchies();
    ASSERT_EQ(hs.size(), 3u);
    EXPECT_EQ(hs[0].fstype, "cgroup");
    EXPECT_EQ(hs[0].options, "memory");
    EXPECT_EQ(hs[1].options, "name=systemd");
    EXPECT_EQ(hs[2].fstype, "cgroup2");
    EXPECT_EQ(hs[2].host_path, t.path("unified/top/pods/c1"));

    // Reopening from the saved paths finds the same directories, whatever the cgroupsPath.
    Options again;
    again.root = t.root();
    again.layout = "hybrid";
    again.paths = paths;
    EXPECT_EQ(open(again)->paths(), paths);
}
