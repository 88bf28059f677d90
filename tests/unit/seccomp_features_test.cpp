// The features document and the seccomp support lists it is made of.
#include <gtest/gtest.h>

#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "container/features.hpp"
#include "init/mount_options.hpp"
#include "linux/seccomp.hpp"

using namespace skiff;

namespace {
bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// The host's answers, asked here rather than copied from a kernel or library we once had.
bool kernel_has_action(uint32_t action) {
    return ::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

bool kernel_has_flag(unsigned flag) {
    // The flags are checked before the (null) program is read: EFAULT means accepted.
    return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, nullptr) < 0 && errno == EFAULT;
}
}  // namespace

TEST(SeccompFeatures, ActionsAreThoseTheKernelOffers) {
    auto actions = seccomp::supported_actions();
    const std::map<std::string, uint32_t> kernel = {
        {"SCMP_ACT_KILL", SECCOMP_RET_KILL_THREAD}, {"SCMP_ACT_KILL_THREAD", SECCOMP_RET_KILL_THREAD},
        {"SCMP_ACT_KILL_PROCESS", SECCOMP_RET_KILL_PROCESS}, {"SCMP_ACT_TRAP", SECCOMP_RET_TRAP},
        {"SCMP_ACT_ERRNO", SECCOMP_RET_ERRNO}, {"SCMP_ACT_TRACE", SECCOMP_RET_TRACE},
        {"SCMP_ACT_ALLOW", SECCOMP_RET_ALLOW}, {"SCMP_ACT_LOG", SECCOMP_RET_LOG},
        {"SCMP_ACT_NOTIFY", SECCOMP_RET_USER_NOTIF}};
    for (const auto& [name, ret] : kernel) EXPECT_EQ(has(actions, name), kernel_has_action(ret)) << name;
}

TEST(SeccompFeatures, FlagsAreThoseTheKernelAccepts) {
    auto known = seccomp::known_flags();
    auto supported = seccomp::supported_flags();
    for (const auto& f : supported) EXPECT_TRUE(has(known, f)) << f;
    const std::map<std::string, unsigned> kernel = {
        {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
        {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
        {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
        // The kernel takes WAIT_KILLABLE_RECV only together with NEW_LISTENER.
        {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", (1U << 5) | SECCOMP_FILTER_FLAG_NEW_LISTENER}};
    for (const auto& [name, bit] : kernel) {
        EXPECT_TRUE(has(known, name)) << name;
        EXPECT_EQ(has(supported, name), kernel_has_flag(bit)) << name;
    }
}

TEST(SeccompFeatures, DocumentHasTheSpecShape) {
    auto doc = nlohmann::json::parse(features_json());
    EXPECT_EQ(doc["ociVersionMin"], "1.0.0");
    EXPECT_EQ(doc["ociVersionMax"], "1.3.0");
    EXPECT_EQ(doc["hooks"].size(), 6u);
    auto opts = doc["mountOptions"].get<std::vector<std::string>>();
    for (const char* o : {"rbind", "rro", "nosymfollow", "tmpcopyup", "idmap", "ridmap"})
        EXPECT_TRUE(has(opts, o)) << o;
    const auto& lx = doc["linux"];
    auto ns = lx["namespaces"].get<std::vector<std::string>>();
    EXPECT_TRUE(has(ns, "time"));
    EXPECT_EQ(ns.size(), 8u);
    auto caps = lx["capabilities"].get<std::vector<std::string>>();
    EXPECT_EQ(caps.front(), "CAP_CHOWN");
    EXPECT_EQ(caps.back(), "CAP_CHECKPOINT_RESTORE");
    EXPECT_EQ(caps.size(), 41u);  // the names skiff knows, whatever this kernel's cap_last_cap
    EXPECT_EQ(lx["cgroup"]["v1"], true);
    EXPECT_EQ(lx["cgroup"]["systemd"], true);
    EXPECT_EQ(lx["cgroup"]["rdma"], true);
    EXPECT_EQ(lx["seccomp"]["enabled"], true);
    EXPECT_EQ(lx["seccomp"]["operators"].size(), 7u);
    EXPECT_TRUE(has(lx["seccomp"]["archs"].get<std::vector<std::string>>(), "SCMP_ARCH_X86_64"));
    EXPECT_EQ(lx["seccomp"]["knownFlags"].size(), 4u);
    // AppArmor and SELinux labels are applied wherever the host runs the LSM; features.md's
    // "enabled" is whether support is built in, whatever the host (runc: true).
    EXPECT_EQ(lx["apparmor"]["enabled"], true);
    EXPECT_EQ(lx["selinux"]["enabled"], true);
    // Intel RDT needs resctrl mounted (create refuses it otherwise): reported from the host.
    EXPECT_EQ(lx["intelRdt"]["enabled"], ::access("/sys/fs/resctrl/schemata", F_OK) == 0);
    EXPECT_EQ(lx["mountExtensions"]["idmap"]["enabled"], true);
    const scmp_version* lib = seccomp_version();  // the library linked in, not a pinned one
    EXPECT_EQ(doc["annotations"]["io.github.seccomp.libseccomp.version"],
              std::to_string(lib->major) + "." + std::to_string(lib->minor) + "." +
                  std::to_string(lib->micro));
    EXPECT_EQ(doc["annotations"]["io.github.skiff.version"], version());
}

TEST(SeccompFeatures, EveryListedMountOptionIsParsedNotPassedAsData) {
    auto doc = nlohmann::json::parse(features_json());
    for (const auto& name : doc["mountOptions"].get<std::vector<std::string>>())
        EXPECT_EQ(init::parse_mount_options({name}).data, "") << name;
}
