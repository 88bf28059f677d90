// Rootless: /etc/subuid parsing, the mapping checks, and the cgroup decision (a delegated
// subtree is used, limits included; without one, no cgroup or one clear error).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroups/manager.hpp"
#include "cgroups/none_manager.hpp"
#include "cgroups_testtree.hpp"
#include "container/rootless.hpp"
#include "base/error.hpp"

namespace skiff {
namespace {

using container::rootless::check_maps;
using container::rootless::sub_ranges;
using container::rootless::SubRange;

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(RootlessSubRanges, TakesTheUsersLinesByNameOrId) {
    const std::string text =
        "# comment\nalice:100000:65536\nbob:165536:65536\n1001:300000:10\nalice:bad:1\nalice:5:0\n";
    auto a = sub_ranges(text, "alice", 1001);
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[0].start, 100000u);
    EXPECT_EQ(a[0].count, 65536u);
    EXPECT_EQ(a[1].start, 300000u);
    EXPECT_TRUE(sub_ranges(text, "carol", 7).empty());
}

TEST(RootlessCheckMaps, OwnIdAndSubordinateRangesPass) {
    std::vector<SubRange> subs = {{100000, 65536}};
    std::vector<oci::IdMapping> maps = {{0, 1000, 1}, {1, 100000, 65536}};
    EXPECT_EQ(error_of([&] { check_maps(maps, "linux.uidMappings", 1000, subs, "/etc/subuid"); }), "");
}

TEST(RootlessCheckMaps, IdsNotOwnedNameTheEntryAndTheRanges) {
    std::vector<SubRange> subs = {{100000, 65536}};
    std::vector<oci::IdMapping> maps = {{0, 1000, 1}, {1, 100000, 65537}};
    std::string e = error_of([&] { check_maps(maps, "linux.uidMappings", 1000, subs, "/etc/subuid"); });
    EXPECT_NE(e.find("linux.uidMappings[1]"), std::string::npos) << e;
    EXPECT_NE(e.find("100000-165536"), std::string::npos) << e;
    EXPECT_NE(e.find("100000-165535 in /etc/subuid"), std::string::npos) << e;
    maps = {{0, 0, 1}};
    e = error_of([&] { check_maps(maps, "linux.gidMappings", 1000, subs, "/etc/subgid"); });
    EXPECT_NE(e.find("linux.gidMappings[0]: host ids 0-0"), std::string::npos) << e;
}

TEST(RootlessCheckMaps, MissingSubordinateIdsSaySo) {
    std::vector<oci::IdMapping> maps = {{0, 1000, 1}, {1, 100000, 10}};
    std::string e = error_of([&] { check_maps(maps, "linux.uidMappings", 1000, {}, "/etc/subuid"); });
    EXPECT_NE(e.find("gives the caller no subordinate ids"), std::string::npos) << e;
}

TEST(RootlessCheckMaps, OverlapsAreRefused) {
    std::vector<SubRange> subs = {{100000, 65536}};
    std::vector<oci::IdMapping> by_container = {{0, 100000, 10}, {5, 100100, 10}};
    EXPECT_NE(error_of([&] { check_maps(by_container, "linux.uidMappings", 1000, subs, "f"); })
                  .find("container ids overlap linux.uidMappings[0]"),
              std::string::npos);
    std::vector<oci::IdMapping> by_host = {{0, 100000, 10}, {100, 100005, 10}};
    EXPECT_NE(error_of([&] { check_maps(by_host, "linux.uidMappings", 1000, subs, "f"); })
                  .find("host ids overlap"),
              std::string::npos);
}

TEST(RootlessLimits, OnlyRealLimitsNeedACgroup) {
    EXPECT_FALSE(cgroups::asks_for_limits(nullptr));
    oci::Resources r;
    r.devices.push_back({});
    EXPECT_FALSE(cgroups::asks_for_limits(&r));
    r.memory = oci::Memory{};
    EXPECT_FALSE(cgroups::asks_for_limits(&r));  // an empty object limits nothing
    r.memory->limit = 1 << 20;
    EXPECT_TRUE(cgroups::asks_for_limits(&r));
    oci::Resources p;
    p.pids = oci::Pids{64};
    EXPECT_TRUE(cgroups::asks_for_limits(&p));
}

// A pure cgroup v2 tree whose /deleg subtree is owned by `owner`, as systemd delegates one.
void make_tree(const cgroups::testing::TempTree& t, uid_t owner) {
    t.file("cgroup.controllers", "memory pids\n");
    t.file("cgroup.subtree_control");
    for (const char* f : {"cgroup.controllers", "cgroup.subtree_control", "c1/cgroup.procs",
                          "c1/pids.max", "c1/cgroup.controllers", "c1/cgroup.freeze"})
        t.file(std::string("deleg/") + f, std::string(f).find("controllers") != std::string::npos ? "memory pids\n" : "");
    ::chmod(t.root().c_str(), 0755);  // mkdtemp's 0700 would keep the other uid out
    std::string cmd = "chown -R " + std::to_string(owner) + " " + t.path("deleg");
    ASSERT_EQ(::system(cmd.c_str()), 0);
}

// Runs fn as uid/gid 65534 in a child; its exit code: 0 passed, else a failed check's number.
int as_nobody(const std::function<int()>& fn) {
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::setresgid(65534, 65534, 65534) < 0 || ::setresuid(65534, 65534, 65534) < 0) ::_exit(90);
        ::_exit(fn());
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

cgroups::Options tree_opts(const cgroups::testing::TempTree& t) {
    cgroups::Options o;
    o.root = t.root();
    o.layout = "unified";
    o.container_id = "c1";
    o.cgroups_path = "/deleg/c1";
    o.warn = [](const std::string&) {};
    return o;
}

TEST(RootlessCgroup, DelegatedSubtreeIsUsedWithItsLimits) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to hand the tree to another uid";
    cgroups::testing::TempTree t;
    make_tree(t, 65534);
    oci::Resources r;
    r.pids = oci::Pids{42};
    int rc = as_nobody([&] {
        try {
            auto m = cgroups::create_or_go_without(cgroups::open(tree_opts(t)), &r, "/deleg/c1");
            return cgroups::is_none(*m) ? 1 : 0;
        } catch (const Error& e) {
            fprintf(stderr, "%s\n", e.what());
            return 2;
        }
    });
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(t.read("deleg/c1/pids.max"), "42");
}

TEST(RootlessCgroup, WithoutDelegationNoCgroupOrOneErrorForLimits) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to hand the tree to another uid";
    cgroups::testing::TempTree t;
    make_tree(t, 0);  // root's: not delegated
    int rc = as_nobody([&] {
        try {
            auto m = cgroups::create_or_go_without(cgroups::open(tree_opts(t)), nullptr, "");
            if (!cgroups::is_none(*m)) return 1;
            if (!m->pids().empty()) return 2;  // no init yet
        } catch (const Error& e) {
            fprintf(stderr, "%s\n", e.what());
            return 3;
        }
        oci::Resources r;
        r.pids = oci::Pids{7};
        try {
            cgroups::create_or_go_without(cgroups::open(tree_opts(t)), &r, "/deleg/c1");
            return 4;
        } catch (const Error& e) {
            std::string m = e.what();
            if (m.rfind("linux.resources: ", 0) != 0 || m.find("/deleg/c1") == std::string::npos) {
                fprintf(stderr, "%s\n", m.c_str());
                return 5;
            }
        }
        return 0;
    });
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(t.read("deleg/c1/pids.max"), "");
}

}  // namespace
}  // namespace skiff
