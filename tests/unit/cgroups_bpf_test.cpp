// The v2 device filter: its decisions (through a small interpreter of the emitted code), and
// on a host with a v2 mount, the kernel's verdict for a process in a cgroup carrying it.
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "cgroups/devices_bpf.hpp"
#include "cgroups/fs.hpp"
#include "cgroups/resources.hpp"
#include "base/error.hpp"

using namespace skiff;
using namespace skiff::cgroups;

namespace {

oci::DeviceRule R(bool allow, const char* type, int64_t major, int64_t minor, const char* access) {
    oci::DeviceRule r;
    r.allow = allow;
    r.type = type;
    if (major >= 0) r.major = major;
    if (minor >= 0) r.minor = minor;
    r.access = access;
    return r;
}

constexpr uint32_t C = BPF_DEVCG_DEV_CHAR, B = BPF_DEVCG_DEV_BLOCK;
constexpr uint32_t RD = BPF_DEVCG_ACC_READ, WR = BPF_DEVCG_ACC_WRITE, MK = BPF_DEVCG_ACC_MKNOD;

}  // namespace

TEST(CgroupsBpf, DenyAllThenAllowList) {
    std::vector<oci::DeviceRule> rules = {R(false, "a", -1, -1, "rwm"), R(true, "c", 1, 3, "rwm"),
                                          R(true, "c", 136, -1, "rw"), R(true, "b", -1, -1, "m")};
    auto p = bpf::device_program(rules);
    EXPECT_TRUE(bpf::evaluate(p, C, RD | WR, 1, 3));   // /dev/null
    EXPECT_FALSE(bpf::evaluate(p, C, RD, 1, 4));       // not listed
    EXPECT_TRUE(bpf::evaluate(p, C, RD, 136, 7));      // any pts
    EXPECT_FALSE(bpf::evaluate(p, C, MK, 136, 7));     // but no mknod of it
    EXPECT_TRUE(bpf::evaluate(p, B, MK, 8, 0));        // mknod of any block device
    EXPECT_FALSE(bpf::evaluate(p, B, RD, 8, 0));       // but not reading it
}

TEST(CgroupsBpf, LaterRulesWin) {
    std::vector<oci::DeviceRule> rules = {R(false, "a", -1, -1, "rwm"), R(true, "c", 1, -1, "rwm"),
                                          R(false, "c", 1, 5, "w")};
    auto p = bpf::device_program(rules);
    EXPECT_TRUE(bpf::evaluate(p, C, RD, 1, 5));        // read still allowed
    EXPECT_FALSE(bpf::evaluate(p, C, WR, 1, 5));       // write denied by the later rule
    EXPECT_FALSE(bpf::evaluate(p, C, RD | WR, 1, 5));  // any denied bit denies
    EXPECT_TRUE(bpf::evaluate(p, C, WR, 1, 3));
}

TEST(CgroupsBpf, EmptyRulesDenyEverything) {
    auto p = bpf::device_program({});
    EXPECT_FALSE(bpf::evaluate(p, C, RD, 1, 3));
}

TEST(CgroupsBpf, InvalidAccessIsRefused) {
    EXPECT_THROW(bpf::device_program({R(true, "c", 1, 3, "rx")}), Error);
    EXPECT_THROW(bpf::device_program({R(true, "z", 1, 3, "r")}), Error);
}

// What create and update install on v2: the config's rules, then runc's defaults, and no
// rule for the nodes of linux.devices. A deny-all keeps /dev/kmsg (1:11) shut while the
// defaults stay open.
TEST(CgroupsBpf, AllowlistIsTheRulesThenTheDefaults) {
    auto p = bpf::device_program(device_allowlist({R(false, "a", -1, -1, "rwm")}));
    EXPECT_FALSE(bpf::evaluate(p, C, WR, 1, 11));
    EXPECT_FALSE(bpf::evaluate(p, C, RD, 1, 11));
    EXPECT_TRUE(bpf::evaluate(p, C, MK, 1, 11));  // mknod of anything (runc's default)
    EXPECT_FALSE(bpf::evaluate(p, B, RD, 8, 0));
    for (auto [major, minor] : {std::pair{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 2},
                                {136, 0}, {136, 42}})
        EXPECT_TRUE(bpf::evaluate(p, C, RD | WR, uint32_t(major), uint32_t(minor)))
            << major << ":" << minor;
    // The defaults come last, so no rule of the config can take them away (runc's order).
    auto q = bpf::device_program(device_allowlist({R(false, "c", 1, 3, "rwm")}));
    EXPECT_TRUE(bpf::evaluate(q, C, RD | WR, 1, 3));
}

// The kernel accepts the program and enforces it for a process in the cgroup. Needs root and
// a cgroup2 mount (pure v2, or /sys/fs/cgroup/unified on hybrid hosts).
TEST(CgroupsBpf, KernelEnforcesTheProgram) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    std::string mount = fs::is_cgroupfs("/sys/fs/cgroup/unified") ? "/sys/fs/cgroup/unified"
                                                                   : "/sys/fs/cgroup";
    if (!fs::exists(mount + "/cgroup.procs") || !fs::exists(mount + "/cgroup.controllers"))
        GTEST_SKIP() << "no cgroup2 mount";
    std::string dir = mount + "/skiff-unit-bpf-" + std::to_string(::getpid());
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    struct Cleanup {
        std::string d;
        ~Cleanup() { fs::remove_dir(d); }
    } cleanup{dir};
    Placement p;
    p.unified_dir = dir;
    p.pure_v2 = true;
    // /dev/zero allowed, /dev/null (1:3) not.
    apply_devices(p, {R(false, "a", -1, -1, "rwm"), R(true, "c", 1, 5, "rwm")});
    // Replacing the program must leave exactly one in place (no gap, no pile-up).
    apply_devices(p, {R(false, "a", -1, -1, "rwm"), R(true, "c", 1, 5, "rwm")});

    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        if (fs::try_write(dir + "/cgroup.procs", "0") != 0) ::_exit(10);
        int zero = ::open("/dev/zero", O_RDONLY);
        int null = ::open("/dev/null", O_RDONLY);
        ::_exit(zero >= 0 && null < 0 && errno == EPERM ? 0 : 11);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "10: could not join, 11: wrong verdicts";

    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    uint32_t ids[8] = {};
    bpf_attr q{};
    q.query.target_fd = static_cast<uint32_t>(fd);
    q.query.attach_type = BPF_CGROUP_DEVICE;
    q.query.prog_ids = reinterpret_cast<uint64_t>(ids);
    q.query.prog_cnt = 8;
    ASSERT_EQ(::syscall(__NR_bpf, BPF_PROG_QUERY, &q, sizeof q), 0);
    EXPECT_EQ(q.query.prog_cnt, 1u);
    ::close(fd);
}
