// Which invocations start the systemd companion before the read-only re-exec.
#include <gtest/gtest.h>

#include <vector>

#include "cgroups/systemd_prestart.hpp"

using namespace skiff::cgroups::systemd;

namespace {

bool wants(std::vector<const char*> args) {
    std::vector<char*> argv;
    for (const char* a : args) argv.push_back(const_cast<char*>(a));
    argv.push_back(nullptr);
    return wants_early_companion(int(args.size()), argv.data());
}

}  // namespace

TEST(SystemdPrestart, CreateAndRunWithTheGlobalFlag) {
    EXPECT_TRUE(wants({"skiff", "--systemd-cgroup", "create", "--bundle", "b", "c1"}));
    EXPECT_TRUE(wants({"skiff", "--root", "/run/x", "--systemd-cgroup", "run", "c1"}));
    EXPECT_TRUE(wants({"skiff", "-systemd-cgroup", "--log", "f", "create", "c1"}));
}

TEST(SystemdPrestart, NotOtherwise) {
    EXPECT_FALSE(wants({"skiff", "create", "c1"}));
    EXPECT_FALSE(wants({"skiff", "--systemd-cgroup", "delete", "c1"}));
    EXPECT_FALSE(wants({"skiff", "--systemd-cgroup", "exec", "c1", "true"}));
    // after the command word it is not the global flag
    EXPECT_FALSE(wants({"skiff", "create", "--systemd-cgroup", "c1"}));
    // a flag's value that looks like it
    EXPECT_FALSE(wants({"skiff", "--root", "--systemd-cgroup", "create", "c1"}));
    EXPECT_FALSE(wants({"skiff"}));
}
