// The features document and the seccomp support lists it is made of.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "container/features.hpp"
#include "init/mount_options.hpp"
#include "linux/seccomp.hpp"

using namespace skiff;

namespace {
bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

TEST(SeccompFeatures, KernelSupportsEveryActionOnThisHost) {
    auto actions = seccomp::supported_actions();
    for (const char* a : {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                          "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW",
                          "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"})
        EXPECT_TRUE(has(actions, a)) << a;
}

TEST(SeccompFeatures, FlagsAreProbedAndASubsetOfKnown) {
    auto known = seccomp::known_flags();
    auto supported = seccomp::supported_flags();
    for (const auto& f : supported) EXPECT_TRUE(has(known, f)) << f;
    // Kernel 6.18 has all four (WAIT_KILLABLE_RECV since 5.19).
    for (const char* f : {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                          "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                          "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"})
        EXPECT_TRUE(has(supported, f)) << f;
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
    EXPECT_EQ(caps.size(), 41u);
    EXPECT_EQ(lx["cgroup"]["v1"], true);
    EXPECT_EQ(lx["cgroup"]["systemd"], true);
    EXPECT_EQ(lx["cgroup"]["rdma"], true);
    EXPECT_EQ(lx["seccomp"]["enabled"], true);
    EXPECT_EQ(lx["seccomp"]["operators"].size(), 7u);
    EXPECT_TRUE(has(lx["seccomp"]["archs"].get<std::vector<std::string>>(), "SCMP_ARCH_X86_64"));
    EXPECT_EQ(lx["seccomp"]["knownFlags"].size(), 4u);
    EXPECT_EQ(lx["apparmor"]["enabled"], false);
    EXPECT_EQ(lx["selinux"]["enabled"], false);
    EXPECT_EQ(lx["intelRdt"]["enabled"], false);
    EXPECT_EQ(lx["mountExtensions"]["idmap"]["enabled"], true);
    EXPECT_EQ(doc["annotations"]["io.github.seccomp.libseccomp.version"], "2.5.4");
    EXPECT_EQ(doc["annotations"]["io.github.skiff.version"], version());
}

TEST(SeccompFeatures, EveryListedMountOptionIsParsedNotPassedAsData) {
    auto doc = nlohmann::json::parse(features_json());
    for (const auto& name : doc["mountOptions"].get<std::vector<std::string>>())
        EXPECT_EQ(init::parse_mount_options({name}).data, "") << name;
}
