// `events --stats` data: the same schema from v1 and v2 files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cgroups/fs_manager.hpp"
#include "cgroups_testtree.hpp"

using namespace skiff::cgroups;
using nlohmann::json;
using skiff::cgroups::testing::TempTree;

namespace {

Options opts(const TempTree& t, const std::string& layout) {
    Options o;
    o.root = t.root();
    o.layout = layout;
    o.container_id = "s1";
    o.warn = [](const std::string&) {};
    return o;
}

}  // namespace

TEST(CgroupsStats, FromV1Files) {
    TempTree t;
    const std::string a = "cpu,cpuacct/skiff/s1/";
    t.file(a + "cpuacct.usage", "3000\n");
    t.file(a + "cpuacct.usage_percpu", "1000 2000 \n");
    t.file(a + "cpuacct.stat", "user 2\nsystem 1\n");
    t.file(a + "cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 777\n");
    const std::string m = "memory/skiff/s1/";
    t.file(m + "memory.usage_in_bytes", "4096\n");
    t.file(m + "memory.limit_in_bytes", "1048576\n");
    t.file(m + "memory.max_usage_in_bytes", "8192\n");
    t.file(m + "memory.failcnt", "2\n");
    t.file(m + "memory.memsw.usage_in_bytes", "5000\n");
    t.file(m + "memory.memsw.limit_in_bytes", "2097152\n");
    t.file(m + "memory.stat", "cache 100\nrss 200\n");
    t.file(m + "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
    t.file("pids/skiff/s1/pids.current", "3\n");
    t.file("pids/skiff/s1/pids.max", "max\n");
    t.file("blkio/skiff/s1/blkio.throttle.io_service_bytes_recursive",
           "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n");
    t.file("hugetlb/skiff/s1/hugetlb.2MB.limit_in_bytes", "0\n");
    t.file("hugetlb/skiff/s1/hugetlb.2MB.usage_in_bytes", "2097152\n");
    t.file("hugetlb/skiff/s1/hugetlb.2MB.failcnt", "1\n");
    FsManager mgr(opts(t, "legacy"));
    auto s = json::parse(mgr.stats_json());
    long hz = ::sysconf(_SC_CLK_TCK);
    EXPECT_EQ(s["cpu"]["usage"]["total"], 3000);
    EXPECT_EQ(s["cpu"]["usage"]["percpu"], json({1000, 2000}));
    EXPECT_EQ(s["cpu"]["usage"]["user"], 2 * (1000000000 / hz));
    EXPECT_EQ(s["cpu"]["usage"]["kernel"], 1 * (1000000000 / hz));
    EXPECT_EQ(s["cpu"]["throttling"]["periods"], 10);
    EXPECT_EQ(s["cpu"]["throttling"]["throttledPeriods"], 3);
    EXPECT_EQ(s["cpu"]["throttling"]["throttledTime"], 777);
    EXPECT_EQ(s["memory"]["usage"], json({{"limit", 1048576}, {"usage", 4096}, {"max", 8192}, {"failcnt", 2}}));
    EXPECT_EQ(s["memory"]["swap"]["usage"], 5000);
    EXPECT_EQ(s["memory"]["cache"], 100);
    EXPECT_EQ(s["memory"]["raw"]["rss"], 200);
    EXPECT_EQ(s["pids"], json({{"current", 3}}));  // "max" reads as no limit
    ASSERT_EQ(s["blkio"]["ioServiceBytesRecursive"].size(), 2u);
    EXPECT_EQ(s["blkio"]["ioServiceBytesRecursive"][0],
              json({{"major", 8}, {"op", "Read"}, {"value", 4096}}));
    EXPECT_EQ(s["hugetlb"]["2MB"], json({{"usage", 2097152}, {"failcnt", 1}}));
    EXPECT_EQ(mgr.oom_kill_count(), 4u);
}

TEST(CgroupsStats, FromV2FilesInTheSameShape) {
    TempTree t;
    t.file("cgroup.controllers", "cpu io memory pids hugetlb\n");
    const std::string d = "skiff/s1/";
    t.file(d + "cpu.stat", "usage_usec 3\nuser_usec 2\nsystem_usec 1\nnr_periods 10\n"
                           "nr_throttled 3\nthrottled_usec 7\n");
    t.file(d + "memory.current", "4096\n");
    t.file(d + "memory.max", "1048576\n");
    t.file(d + "memory.peak", "8192\n");
    t.file(d + "memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n");
    t.file(d + "memory.swap.current", "904\n");
    t.file(d + "memory.swap.max", "max\n");
    t.file(d + "memory.stat", "anon 200\nfile 100\n");
    t.file(d + "pids.current", "3\n");
    t.file(d + "pids.max", "20\n");
    t.file(d + "io.stat", "8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
    t.file(d + "hugetlb.2MB.max", "max\n");
    t.file(d + "hugetlb.2MB.current", "2097152\n");
    t.file(d + "hugetlb.2MB.events", "max 1\n");
    FsManager mgr(opts(t, "unified"));
    auto s = json::parse(mgr.stats_json());
    EXPECT_EQ(s["cpu"]["usage"]["total"], 3000);
    EXPECT_EQ(s["cpu"]["usage"]["user"], 2000);
    EXPECT_EQ(s["cpu"]["usage"]["kernel"], 1000);
    EXPECT_EQ(s["cpu"]["throttling"]["throttledTime"], 7000);
    EXPECT_EQ(s["memory"]["usage"], json({{"limit", 1048576}, {"usage", 4096}, {"max", 8192}, {"failcnt", 2}}));
    // swap is reported as memory+swap, v1's meaning; an unlimited swap stays unlimited
    EXPECT_EQ(s["memory"]["swap"]["usage"], 5000);
    EXPECT_EQ(s["memory"]["swap"]["limit"], UINT64_MAX);
    EXPECT_EQ(s["memory"]["cache"], 100);
    EXPECT_EQ(s["pids"], json({{"current", 3}, {"limit", 20}}));
    EXPECT_EQ(s["blkio"]["ioServiceBytesRecursive"][0],
              json({{"major", 8}, {"op", "Read"}, {"value", 4096}}));
    EXPECT_EQ(s["blkio"]["ioServicedRecursive"][0], json({{"major", 8}, {"op", "Read"}, {"value", 1}}));
    EXPECT_EQ(s["hugetlb"]["2MB"], json({{"usage", 2097152}, {"failcnt", 1}}));
    EXPECT_EQ(mgr.oom_kill_count(), 1u);
}
