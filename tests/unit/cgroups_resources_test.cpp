// linux.resources → files, on temp trees laid out as v1 (legacy), v2 (unified) and hybrid.
// Each test pre-creates the files the kernel would offer, then reads back what was written.
#include <gtest/gtest.h>

#include "cgroups/fs_manager.hpp"
#include "cgroups_testtree.hpp"
#include "base/error.hpp"

using namespace skiff;
using namespace skiff::cgroups;
using skiff::cgroups::testing::TempTree;

namespace {

const char* kV1Controllers[] = {"cpu,cpuacct", "cpuset", "memory", "pids", "blkio",
                                "devices", "freezer", "hugetlb", "net_cls,net_prio", "rdma"};

// A legacy tree with container "c1" at /skiff/c1 and every file the writers touch.
void make_v1(const TempTree& t, bool with_hugetlb = true) {
    for (const char* c : kV1Controllers)
        if (with_hugetlb || std::string(c) != "hugetlb") t.mkdir(std::string(c) + "/skiff/c1");
    t.mkdir("systemd/skiff/c1");
    const std::string cpu = "cpu,cpuacct/skiff/c1/";
    for (const char* f : {"cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.cfs_burst_us",
                          "cpu.rt_period_us", "cpu.rt_runtime_us", "cpu.idle"})
        t.file(cpu + f);
    t.file("cpuset/cpuset.cpus", "0-3\n");
    t.file("cpuset/cpuset.mems", "0\n");
    t.file("cpuset/skiff/cpuset.cpus", "");
    t.file("cpuset/skiff/cpuset.mems", "");
    t.file("cpuset/skiff/c1/cpuset.cpus", "");
    t.file("cpuset/skiff/c1/cpuset.mems", "");
    const std::string mem = "memory/skiff/c1/";
    t.file(mem + "memory.limit_in_bytes", "9223372036854771712\n");
    t.file(mem + "memory.usage_in_bytes", "1000\n");
    for (const char* f : {"memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
                          "memory.kmem.tcp.limit_in_bytes", "memory.swappiness",
                          "memory.oom_control", "memory.use_hierarchy"})
        t.file(mem + f);
    t.file("pids/skiff/c1/pids.max");
    for (const char* f : {"blkio.weight", "blkio.leaf_weight", "blkio.weight_device",
                          "blkio.leaf_weight_device", "blkio.throttle.read_bps_device",
                          "blkio.throttle.write_bps_device", "blkio.throttle.read_iops_device",
                          "blkio.throttle.write_iops_device"})
        t.file(std::string("blkio/skiff/c1/") + f);
    t.file("devices/skiff/c1/devices.allow");
    t.file("devices/skiff/c1/devices.deny");
    t.file("freezer/skiff/c1/freezer.state", "THAWED\n");
    if (with_hugetlb) {
        t.file("hugetlb/skiff/c1/hugetlb.2MB.limit_in_bytes");
        t.file("hugetlb/skiff/c1/hugetlb.2MB.rsvd.limit_in_bytes");
    }
    t.file("net_cls,net_prio/skiff/c1/net_cls.classid");
    t.file("net_cls,net_prio/skiff/c1/net_prio.ifpriomap");
    t.file("rdma/skiff/c1/rdma.max");
}

// A unified tree with the container at /skiff/c1.
void make_v2(const TempTree& t, const std::string& base = "") {
    t.file(base + "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma\n");
    t.file(base + "cgroup.subtree_control");
    t.file(base + "skiff/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma\n");
    t.file(base + "skiff/cgroup.subtree_control");
    const std::string d = base + "skiff/c1/";
    for (const char* f : {"cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle", "cpuset.cpus",
                          "cpuset.mems", "memory.max", "memory.low", "memory.swap.max", "pids.max",
                          "io.weight", "io.max", "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max",
                          "rdma.max", "cgroup.procs", "cgroup.freeze", "memory.high"})
        t.file(d + f);
    t.file(d + "memory.current", "5000\n");
}

Options opts(const TempTree& t, const std::string& layout, std::vector<std::string>* warnings) {
    Options o;
    o.root = t.root();
    o.layout = layout;
    o.container_id = "c1";
    o.warn = [warnings](const std::string& w) { warnings->push_back(w); };
    return o;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

oci::Resources full_resources() {
    oci::Resources r;
    r.memory = oci::Memory{};
    r.memory->limit = 100 * 1024 * 1024;
    r.memory->swap = 300 * 1024 * 1024;
    r.memory->reservation = 50 * 1024 * 1024;
    r.memory->swappiness = 10;
    r.memory->disable_oom_killer = true;
    r.memory->use_hierarchy = true;
    r.memory->kernel = 1 << 20;
    r.cpu = oci::Cpu{};
    r.cpu->shares = 1024;
    r.cpu->quota = 50000;
    r.cpu->period = 100000;
    r.cpu->burst = 1000;
    r.cpu->idle = 0;
    r.cpu->cpus = "0-1";
    r.cpu->mems = "0";
    r.pids = oci::Pids{64};
    r.block_io = oci::BlockIo{};
    r.block_io->weight = 500;
    r.block_io->weight_device.push_back({8, 0, 300, std::nullopt});
    r.block_io->throttle_read_bps_device.push_back({8, 0, 1048576});
    r.block_io->throttle_write_iops_device.push_back({8, 16, 100});
    r.hugepage_limits.push_back({"2MB", 4194304});
    r.rdma["mlx5_0"] = oci::Rdma{3, 1000};
    return r;
}

}  // namespace

TEST(CgroupsV1, EveryResourceLandsInItsFile) {
    TempTree t;
    make_v1(t);
    std::vector<std::string> warnings;
    auto r = full_resources();
    r.cpu->realtime_period = 1000000;
    r.cpu->realtime_runtime = 950000;
    r.block_io->leaf_weight = 200;
    r.network = oci::Network{0x100001, {{"eth0", 5}}};
    r.memory->kernel_tcp = 1 << 20;
    FsManager m(opts(t, "legacy", &warnings));
    m.create(&r);
    const std::string mem = "memory/skiff/c1/";
    EXPECT_EQ(t.read(mem + "memory.limit_in_bytes"), "104857600");
    EXPECT_EQ(t.read(mem + "memory.memsw.limit_in_bytes"), "314572800");  // v1: memory+swap as given
    EXPECT_EQ(t.read(mem + "memory.soft_limit_in_bytes"), "52428800");
    EXPECT_EQ(t.read(mem + "memory.swappiness"), "10");
    EXPECT_EQ(t.read(mem + "memory.oom_control"), "1");
    EXPECT_EQ(t.read(mem + "memory.use_hierarchy"), "1");
    EXPECT_EQ(t.read(mem + "memory.kmem.tcp.limit_in_bytes"), "1048576");
    const std::string cpu = "cpu,cpuacct/skiff/c1/";
    EXPECT_EQ(t.read(cpu + "cpu.shares"), "1024");
    EXPECT_EQ(t.read(cpu + "cpu.cfs_quota_us"), "50000");
    EXPECT_EQ(t.read(cpu + "cpu.cfs_period_us"), "100000");
    EXPECT_EQ(t.read(cpu + "cpu.cfs_burst_us"), "1000");
    EXPECT_EQ(t.read(cpu + "cpu.rt_period_us"), "1000000");
    EXPECT_EQ(t.read(cpu + "cpu.rt_runtime_us"), "950000");
    EXPECT_EQ(t.read(cpu + "cpu.idle"), "0");
    EXPECT_EQ(t.read("cpuset/skiff/c1/cpuset.cpus"), "0-1");
    EXPECT_EQ(t.read("cpuset/skiff/c1/cpuset.mems"), "0");
    EXPECT_EQ(t.read("cpuset/skiff/cpuset.cpus"), "0-3");  // parents inherit before a task joins
    EXPECT_EQ(t.read("cpuset/skiff/cpuset.mems"), "0");
    EXPECT_EQ(t.read("pids/skiff/c1/pids.max"), "64");
    EXPECT_EQ(t.read("blkio/skiff/c1/blkio.weight"), "500");
    EXPECT_EQ(t.read("blkio/skiff/c1/blkio.leaf_weight"), "200");
    EXPECT_EQ(t.read("blkio/skiff/c1/blkio.weight_device"), "8:0 300");
    EXPECT_EQ(t.read("blkio/skiff/c1/blkio.throttle.read_bps_device"), "8:0 1048576");
    EXPECT_EQ(t.read("blkio/skiff/c1/blkio.throttle.write_iops_device"), "8:16 100");
    EXPECT_EQ(t.read("hugetlb/skiff/c1/hugetlb.2MB.limit_in_bytes"), "4194304");
    EXPECT_EQ(t.read("hugetlb/skiff/c1/hugetlb.2MB.rsvd.limit_in_bytes"), "4194304");
    EXPECT_EQ(t.read("net_cls,net_prio/skiff/c1/net_cls.classid"), "1048577");
    EXPECT_EQ(t.read("net_cls,net_prio/skiff/c1/net_prio.ifpriomap"), "eth0 5");
    EXPECT_EQ(t.read("rdma/skiff/c1/rdma.max"), "mlx5_0 hca_handle=3 hca_object=1000");
    // "deny a" first, then each default allow rule as its own write() through one open file
    // (a plain file in this tree concatenates them; the kernel takes one rule per write).
    EXPECT_EQ(t.read("devices/skiff/c1/devices.deny"), "a");
    EXPECT_EQ(t.read("devices/skiff/c1/devices.allow"),
              "c *:* mb *:* mc 1:3 rwmc 1:5 rwmc 1:7 rwmc 1:8 rwmc 1:9 rwmc 5:0 rwmc 5:2 rwmc 136:* rwm");
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("memory.kernel"), std::string::npos);
    m.destroy();
    EXPECT_FALSE(t.exists("memory/skiff/c1"));
    EXPECT_FALSE(t.exists("memory/skiff"));  // the shared default parent goes when empty
}

TEST(CgroupsV1, MemoryUnlimitedAlsoUnlimitsSwap) {
    TempTree t;
    make_v1(t);
    std::vector<std::string> w;
    oci::Resources r;
    r.memory = oci::Memory{};
    r.memory->limit = -1;
    FsManager m(opts(t, "legacy", &w));
    m.create(&r);
    EXPECT_EQ(t.read("memory/skiff/c1/memory.limit_in_bytes"), "-1");
    EXPECT_EQ(t.read("memory/skiff/c1/memory.memsw.limit_in_bytes"), "-1");
    m.destroy();
}

TEST(CgroupsV1, ErrorsNameTheJsonPath) {
    TempTree t;
    make_v1(t);
    std::vector<std::string> w;
    FsManager m(opts(t, "legacy", &w));
    oci::Resources r;
    r.memory = oci::Memory{};
    r.memory->swappiness = 101;
    try {
        m.create(&r);
        ADD_FAILURE() << "swappiness 101 accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("linux.resources.memory.swappiness"), std::string::npos);
    }
    EXPECT_FALSE(t.exists("memory/skiff/c1"));  // a failed create leaves nothing behind
}

TEST(CgroupsV1, DeviceRulesKeepTheirOrderAndALeadingDenyAllIsNotRepeated) {
    TempTree t;
    make_v1(t);
    std::vector<std::string> w;
    FsManager m(opts(t, "legacy", &w));
    oci::Resources r;
    // `runc spec`'s deny-all, an allow, then a later deny-all that must still reach the kernel.
    r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"},
                 {true, "c", 10, 200, "rwm"},
                 {false, "a", std::nullopt, std::nullopt, "rwm"}};
    m.create(&r);
    const std::string defaults =
        "c *:* mb *:* mc 1:3 rwmc 1:5 rwmc 1:7 rwmc 1:8 rwmc 1:9 rwmc 5:0 rwmc 5:2 rwmc 136:* rwm";
    // The later deny-all was written between the allow rules, so the allow file was reopened
    // (which truncates a plain file) for the defaults.
    EXPECT_EQ(t.read("devices/skiff/c1/devices.deny"), "a");
    EXPECT_EQ(t.read("devices/skiff/c1/devices.allow"), defaults);
    m.destroy();
    // Without it: one reset in the deny file, not two, and the config's allow rule then the
    // defaults through one open file.
    TempTree t2;
    make_v1(t2);
    FsManager m2(opts(t2, "legacy", &w));
    r.devices.pop_back();
    m2.create(&r);
    EXPECT_EQ(t2.read("devices/skiff/c1/devices.deny"), "a");
    EXPECT_EQ(t2.read("devices/skiff/c1/devices.allow"), "c 10:200 rwm" + defaults);
    m2.destroy();
}

TEST(CgroupsV1, UnifiedIsRefusedOnLegacy) {
    TempTree t;
    make_v1(t);
    std::vector<std::string> w;
    FsManager m(opts(t, "legacy", &w));
    oci::Resources r;
    r.unified["memory.high"] = "1000";
    EXPECT_THROW(m.create(&r), Error);
}

TEST(CgroupsV1, MissingControllerIsAClearError) {
    TempTree t;
    t.mkdir("memory/skiff/c1");
    t.file("memory/skiff/c1/memory.limit_in_bytes", "0");
    std::vector<std::string> w;
    FsManager m(opts(t, "legacy", &w));
    oci::Resources r;
    r.network = oci::Network{7, {}};
    try {
        m.create(&r);
        ADD_FAILURE() << "classID accepted without net_cls";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("linux.resources.network.classID: the net_cls"),
                  std::string::npos)
            << e.what();
    }
}

TEST(CgroupsV1, UpdateChecksUsageAndOrdersSwap) {
    TempTree t;
    make_v1(t);
    std::vector<std::string> w;
    FsManager m(opts(t, "legacy", &w));
    m.create(nullptr);
    oci::Resources r;
    r.memory = oci::Memory{};
    r.memory->limit = 500;  // below usage_in_bytes (1000)
    r.memory->check_before_update = true;
    EXPECT_THROW(m.update(r), Error);
    r.memory->check_before_update = false;
    r.memory->limit = 2000;
    r.memory->swap = 4000;
    m.update(r);
    EXPECT_EQ(t.read("memory/skiff/c1/memory.limit_in_bytes"), "2000");
    EXPECT_EQ(t.read("memory/skiff/c1/memory.memsw.limit_in_bytes"), "4000");
    // An update without device rules keeps the current ones.
    t.file("devices/skiff/c1/devices.deny", "untouched");
    m.update(r);
    EXPECT_EQ(t.read("devices/skiff/c1/devices.deny"), "untouched");
    m.destroy();
}

TEST(CgroupsV1, FreezeThawAndPids) {
    TempTree t;
    make_v1(t);
    std::vector<std::string> w;
    FsManager m(opts(t, "legacy", &w));
    m.create(nullptr);
    m.freeze();
    EXPECT_EQ(t.read("freezer/skiff/c1/freezer.state"), "FROZEN");
    EXPECT_TRUE(m.frozen());
    m.thaw();
    EXPECT_FALSE(m.frozen());
    t.file("pids/skiff/c1/cgroup.procs", "10\n12\n");
    t.file("pids/skiff/c1/sub/cgroup.procs", "11\n");
    EXPECT_EQ(m.pids(), (std::vector<pid_t>{10, 11, 12}));
    m.destroy();
    EXPECT_FALSE(t.exists("pids/skiff/c1"));  // nested sub-cgroups go too
}

TEST(CgroupsV2, EveryResourceLandsInItsFile) {
    TempTree t;
    make_v2(t);
    std::vector<std::string> warnings;
    auto r = full_resources();
    r.unified["memory.high"] = "90000000";
    FsManager m(opts(t, "unified", &warnings));
    EXPECT_EQ(m.mode(), Mode::Unified);
    m.create(&r);
    const std::string d = "skiff/c1/";
    EXPECT_EQ(t.read(d + "memory.max"), "104857600");
    EXPECT_EQ(t.read(d + "memory.swap.max"), "209715200");  // v2: swap alone = 300M - 100M
    EXPECT_EQ(t.read(d + "memory.low"), "52428800");
    EXPECT_EQ(t.read(d + "cpu.weight"), "39");  // shares 1024
    EXPECT_EQ(t.read(d + "cpu.max"), "50000 100000");
    EXPECT_EQ(t.read(d + "cpu.max.burst"), "1000");
    EXPECT_EQ(t.read(d + "cpu.idle"), "0");
    EXPECT_EQ(t.read(d + "cpuset.cpus"), "0-1");
    EXPECT_EQ(t.read(d + "pids.max"), "64");
    EXPECT_EQ(t.read(d + "io.max"), "8:16 wiops=100");  // last of the io.max lines
    EXPECT_EQ(t.read(d + "io.weight"), "8:0 2930");     // weightDevice after the default weight
    EXPECT_EQ(t.read(d + "hugetlb.2MB.max"), "4194304");
    EXPECT_EQ(t.read(d + "hugetlb.2MB.rsvd.max"), "4194304");
    EXPECT_EQ(t.read(d + "rdma.max"), "mlx5_0 hca_handle=3 hca_object=1000");
    EXPECT_EQ(t.read(d + "memory.high"), "90000000");
    // Controllers were delegated down to the container's parent.
    EXPECT_EQ(trim(t.read("cgroup.subtree_control")), "+cpuset +cpu +io +memory +hugetlb +pids +rdma");
    EXPECT_EQ(trim(t.read("skiff/cgroup.subtree_control")), "+cpuset +cpu +io +memory +hugetlb +pids +rdma");
    // swappiness, disableOOMKiller and kernel have no v2 file: warned, not written.
    EXPECT_EQ(warnings.size(), 3u);
    m.destroy();
    EXPECT_FALSE(t.exists("skiff/c1"));
}

TEST(CgroupsV2, WeightAloneIsConverted) {
    TempTree t;
    make_v2(t);
    std::vector<std::string> w;
    oci::Resources r;
    r.block_io = oci::BlockIo{};
    r.block_io->weight = 1000;
    r.pids = oci::Pids{-1};
    FsManager m(opts(t, "unified", &w));
    m.create(&r);
    EXPECT_EQ(t.read("skiff/c1/io.weight"), "10000");
    EXPECT_EQ(t.read("skiff/c1/pids.max"), "max");
    m.destroy();
}

TEST(CgroupsV2, UpdateOfThePeriodAloneKeepsTheQuota) {
    TempTree t;
    make_v2(t);
    std::vector<std::string> w;
    oci::Resources r;
    r.cpu = oci::Cpu{};
    r.cpu->quota = 20000;
    FsManager m(opts(t, "unified", &w));
    m.create(&r);
    t.file("skiff/c1/cpu.max", "20000 100000\n");  // as the kernel shows it
    oci::Resources period;
    period.cpu = oci::Cpu{};
    period.cpu->period = 50000;
    m.update(period);
    EXPECT_EQ(t.read("skiff/c1/cpu.max"), "20000 50000");
    t.file("skiff/c1/cpu.max", "max 50000\n");
    period.cpu->period = 40000;
    m.update(period);
    EXPECT_EQ(t.read("skiff/c1/cpu.max"), "max 40000");
    m.destroy();
}

// What `create` asks before it places an init: either freezer, settled or on its way.
TEST(CgroupsV1, FreezingSeesFrozenAndFreezing) {
    TempTree t;
    make_v1(t);
    std::vector<std::string> w;
    FsManager m(opts(t, "legacy", &w));
    EXPECT_FALSE(m.freezing());
    t.file("freezer/skiff/c1/freezer.state", "FREEZING\n");
    EXPECT_TRUE(m.freezing());
    t.file("freezer/skiff/c1/freezer.state", "FROZEN\n");
    EXPECT_TRUE(m.freezing());
}

TEST(CgroupsV2, FreezingSeesCgroupFreezeAndAFrozenParent) {
    TempTree t;
    make_v2(t);
    std::vector<std::string> w;
    FsManager m(opts(t, "unified", &w));
    EXPECT_FALSE(m.freezing());
    t.file("skiff/c1/cgroup.freeze", "1\n");
    EXPECT_TRUE(m.freezing());
    t.file("skiff/c1/cgroup.freeze", "0\n");
    t.file("skiff/c1/cgroup.events", "populated 0\nfrozen 1\n");  // a parent's freeze
    EXPECT_TRUE(m.freezing());
}

TEST(CgroupsV2, RealtimeAndBadUnifiedKeysAreRefused) {
    TempTree t;
    make_v2(t);
    std::vector<std::string> w;
    FsManager m(opts(t, "unified", &w));
    m.create(nullptr);
    oci::Resources rt;
    rt.cpu = oci::Cpu{};
    rt.cpu->realtime_runtime = 1000;
    EXPECT_THROW(m.update(rt), Error);
    oci::Resources bad;
    bad.unified["../escape"] = "1";
    EXPECT_THROW(m.update(bad), Error);
    oci::Resources missing;
    missing.unified["misc.max"] = "1";
    try {
        m.update(missing);
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("linux.resources.unified.misc.max"), std::string::npos);
    }
    oci::Resources swap_only;
    swap_only.memory = oci::Memory{};
    swap_only.memory->swap = 1000;
    EXPECT_THROW(m.update(swap_only), Error);  // swap needs a memory limit on v2
    m.destroy();
}

TEST(CgroupsV2, FreezeUsesCgroupFreezeAndCloneFdIsOffered) {
    TempTree t;
    make_v2(t);
    std::vector<std::string> w;
    FsManager m(opts(t, "unified", &w));
    m.create(nullptr);
    m.freeze();
    EXPECT_EQ(t.read("skiff/c1/cgroup.freeze"), "1");
    EXPECT_TRUE(m.frozen());
    m.thaw();
    EXPECT_FALSE(m.frozen());
    EXPECT_GE(m.clone_into_fd(), 0);
    EXPECT_EQ(m.clone_into_fd(), m.clone_into_fd());  // one fd, owned by the manager
    m.destroy();
}

TEST(CgroupsHybrid, V1ControllersAndHugetlbOnUnified) {
    TempTree t;
    make_v1(t, false);  // no v1 hugetlb: it lives on the v2 mount, as on this host
    t.file("unified/cgroup.controllers", "hugetlb\n");
    t.file("unified/cgroup.subtree_control");
    t.file("unified/skiff/cgroup.controllers", "hugetlb\n");
    t.file("unified/skiff/cgroup.subtree_control");
    t.file("unified/skiff/c1/hugetlb.2MB.max");
    t.file("unified/skiff/c1/cgroup.procs");
    std::vector<std::string> w;
    FsManager m(opts(t, "hybrid", &w));
    EXPECT_EQ(m.mode(), Mode::Hybrid);
    EXPECT_GE(m.clone_into_fd(), 0);  // the unified part: clone3(CLONE_INTO_CGROUP)
    oci::Resources r;
    r.hugepage_limits.push_back({"2MB", 2097152});
    r.memory = oci::Memory{};
    r.memory->limit = 4096000;
    r.unified["hugetlb.2MB.max"] = "6291456";
    m.create(&r);
    EXPECT_EQ(t.read("memory/skiff/c1/memory.limit_in_bytes"), "4096000");
    // unified keys go to the v2 mount after the spec's own hugepage limit
    EXPECT_EQ(t.read("unified/skiff/c1/hugetlb.2MB.max"), "6291456");
    EXPECT_EQ(trim(t.read("unified/cgroup.subtree_control")), "+hugetlb");
    // pids() reads the v2 cgroup, which holds every process on hybrid hosts
    t.file("unified/skiff/c1/cgroup.procs", "42\n");
    EXPECT_EQ(m.pids(), (std::vector<pid_t>{42}));
    m.destroy();
    EXPECT_FALSE(t.exists("unified/skiff/c1"));
    EXPECT_FALSE(t.exists("memory/skiff/c1"));
}

// `delete` builds its manager from the paths recorded at create, with no cgroupsPath: the
// shared default parent must still go with the last container (it stayed behind once).
TEST(CgroupsV1, DestroyFromRecordedPathsRemovesTheSharedParent) {
    TempTree t;
    make_v1(t);
    std::vector<std::string> w;
    Options made = opts(t, "legacy", &w);
    FsManager creator(made);
    creator.create(nullptr);
    Options recorded = made;
    recorded.paths = creator.paths();
    recorded.cgroups_path.clear();
    FsManager deleter(recorded);
    deleter.destroy();
    EXPECT_FALSE(t.exists("memory/skiff/c1"));
    EXPECT_FALSE(t.exists("memory/skiff"));
    EXPECT_FALSE(t.exists("pids/skiff"));
}
