// The systemd driver for a rootless caller: the user's defaults, where its cgroup lies and
// how the companion is pointed at the user's bus.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "base/error.hpp"
#include "cgroups/systemd_user.hpp"

using namespace skiff::cgroups::systemd;

namespace {

const std::string kManager = "/user.slice/user-1000.slice/user@1000.service";

// Sets or unsets an environment variable for one test, restoring it afterwards.
class EnvVar {
public:
    EnvVar(const char* name, const char* value) : name_(name) {
        if (const char* old = ::getenv(name)) old_ = old, had_ = true;
        if (value) ::setenv(name, value, 1);
        else ::unsetenv(name);
    }
    ~EnvVar() {
        if (had_) ::setenv(name_, old_.c_str(), 1);
        else ::unsetenv(name_);
    }

private:
    const char* name_;
    std::string old_;
    bool had_ = false;
};

bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST(SystemdUser, DefaultIsUserSliceBelowTheManager) {
    auto p = parse_user_cgroups_path("", "c1", kManager);
    EXPECT_EQ(p.slice, "user.slice");
    EXPECT_EQ(p.unit, "skiff-c1.scope");
    EXPECT_FALSE(p.is_slice);
    EXPECT_EQ(p.cgroup, kManager + "/user.slice/skiff-c1.scope");
    EXPECT_EQ(user_manager_cgroup(1000), kManager);
}

TEST(SystemdUser, GivenSliceAndEmptySlice) {
    auto p = parse_user_cgroups_path("user.slice:libpod:abc", "x", kManager);
    EXPECT_EQ(p.cgroup, kManager + "/user.slice/libpod-abc.scope");
    auto e = parse_user_cgroups_path(":pfx:abc", "x", kManager);
    EXPECT_EQ(e.slice, "user.slice");
    EXPECT_EQ(e.cgroup, kManager + "/user.slice/pfx-abc.scope");
    auto n = parse_user_cgroups_path("a-b.slice:p:c", "x", kManager);
    EXPECT_EQ(n.cgroup, kManager + "/a.slice/a-b.slice/p-c.scope");
    auto r = parse_user_cgroups_path("-.slice:p:c", "x", kManager);
    EXPECT_EQ(r.cgroup, kManager + "/p-c.scope");
    auto s = parse_user_cgroups_path("user.slice::mine.slice", "x", kManager);
    EXPECT_TRUE(s.is_slice);
    EXPECT_EQ(s.cgroup, kManager + "/mine.slice");
}

TEST(SystemdUser, BadPathNamesTheField) {
    try {
        parse_user_cgroups_path("user.slice:only-two", "x", kManager);
        FAIL() << "accepted";
    } catch (const skiff::Error& e) {
        EXPECT_NE(std::string(e.what()).find("linux.cgroupsPath"), std::string::npos) << e.what();
    }
}

TEST(SystemdUser, HostUidOfThisProcess) {
    // Not in a user namespace with a partial map in the unit tests: the euid itself.
    EXPECT_EQ(host_uid(), ::geteuid());
}

TEST(SystemdUser, BusAddresses) {
    char tmpl[] = "/tmp/skiff-xdg-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    std::string xdg = tmpl;
    EnvVar x("XDG_RUNTIME_DIR", xdg.c_str());
    EnvVar d("DBUS_SESSION_BUS_ADDRESS", nullptr);
    // Nothing there: one error that says what was looked for.
    try {
        user_bus_environment();
        FAIL() << "no error";
    } catch (const skiff::Error& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("DBUS_SESSION_BUS_ADDRESS"), std::string::npos) << m;
        EXPECT_NE(m.find(xdg + "/bus"), std::string::npos) << m;
    }
    std::ofstream(xdg + "/bus").put('\n');
    auto env = user_bus_environment();
    EXPECT_EQ(env, std::vector<std::string>{"SKIFF_SYSTEMD_USER_BUS=unix:path=" + xdg + "/bus"});
    std::filesystem::create_directory(xdg + "/systemd");
    std::ofstream(xdg + "/systemd/private").put('\n');
    env = user_bus_environment();
    EXPECT_TRUE(has(env, "SKIFF_SYSTEMD_USER_PRIVATE=unix:path=" + xdg + "/systemd/private"));
    EXPECT_TRUE(has(env, "SKIFF_SYSTEMD_USER_BUS=unix:path=" + xdg + "/bus"));
    {
        EnvVar d2("DBUS_SESSION_BUS_ADDRESS", "unix:path=/elsewhere");
        EXPECT_TRUE(has(user_bus_environment(), "SKIFF_SYSTEMD_USER_BUS=unix:path=/elsewhere"));
    }
    std::filesystem::remove_all(xdg);
}

TEST(SystemdUser, UnifiedCgroupOfThisProcess) {
    std::string own = unified_cgroup_of(::getpid());
    std::ifstream f("/proc/self/cgroup");
    std::string line, want;
    while (std::getline(f, line))
        if (line.rfind("0::", 0) == 0) want = line.substr(3);
    EXPECT_EQ(own, want);
    EXPECT_EQ(unified_cgroup_of(-1), "");
}
