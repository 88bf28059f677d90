// AppArmor and SELinux labels without the LSMs: a temp directory stands in for the host's
// /sys (what is enabled) and for /proc/thread-self/attr (what the init writes).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "init/context.hpp"
#include "init/lsm_labels.hpp"
#include "base/error.hpp"
#include "linux/log.hpp"
#include "linux/lsm_attr.hpp"

namespace skiff {
namespace {

namespace fs = std::filesystem;

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/skiff-lsm-test.XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
    void write(const std::string& rel, const std::string& text) const {
        fs::create_directories((path / rel).parent_path());
        std::ofstream(path / rel) << text;
    }
    std::string read(const std::string& rel) const {
        std::ifstream f(path / rel);
        std::stringstream s;
        s << f.rdbuf();
        return s.str();
    }
    Fd open_dir(const std::string& rel) const {
        fs::create_directories(path / rel);
        return Fd(::open((path / rel).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }
};

// The runtime's warnings of one call, through a --log file.
struct LogCapture {
    TempDir dir;
    LogCapture() { log::configure({(dir.path / "log").string(), false, false}); }
    ~LogCapture() { log::configure({}); }
    std::string text() const { return dir.read("log"); }
};

oci::Spec spec_with(const std::string& profile, const std::string& label, const std::string& mount_label) {
    oci::Spec spec;
    spec.process = oci::Process{};
    spec.process->apparmor_profile = profile;
    spec.process->selinux_label = label;
    spec.linux = oci::Linux{};
    spec.linux->mount_label = mount_label;
    return spec;
}

const char kLabel[] = "system_u:system_r:container_t:s0:c1,c2";
const char kMountLabel[] = "system_u:object_r:container_file_t:s0:c1,c2";

// --- the host -----------------------------------------------------------------------------

TEST(LsmHost, AppArmorNeedsSecurityfsAndTheModuleEnabled) {
    TempDir host;
    EXPECT_FALSE(lsm::apparmor_enabled(host.path));
    host.write("sys/module/apparmor/parameters/enabled", "Y\n");
    EXPECT_FALSE(lsm::apparmor_enabled(host.path));  // securityfs not mounted: runc says off too
    fs::create_directories(host.path / "sys/kernel/security/apparmor");
    EXPECT_TRUE(lsm::apparmor_enabled(host.path));
    host.write("sys/module/apparmor/parameters/enabled", "N\n");
    EXPECT_FALSE(lsm::apparmor_enabled(host.path));
}

TEST(LsmHost, SelinuxIsEnabledWithSelinuxfs) {
    TempDir host;
    EXPECT_FALSE(lsm::selinux_enabled(host.path));
    host.write("sys/fs/selinux/enforce", "0");
    EXPECT_TRUE(lsm::selinux_enabled(host.path));
}

// --- the attr files -------------------------------------------------------------------------

TEST(LsmAttr, AppArmorWritesExecProfileToItsOwnDirectory) {
    TempDir attr;
    attr.write("apparmor/exec", "");
    attr.write("exec", "");
    Fd dir = attr.open_dir("");
    EXPECT_EQ(lsm::set_apparmor_exec(dir.get(), "docker-default"), "attr/apparmor/exec");
    EXPECT_EQ(attr.read("apparmor/exec"), "exec docker-default");
    EXPECT_EQ(attr.read("exec"), "");  // SELinux's (or the first LSM's) file is left alone
}

TEST(LsmAttr, AppArmorFallsBackToAttrExecOnOlderKernels) {
    TempDir attr;
    attr.write("exec", "");
    Fd dir = attr.open_dir("");
    EXPECT_EQ(lsm::set_apparmor_exec(dir.get(), "p"), "attr/exec");
    EXPECT_EQ(attr.read("exec"), "exec p");
}

TEST(LsmAttr, SelinuxWritesTheLabelAsIs) {
    TempDir attr;
    attr.write("exec", "");
    Fd dir = attr.open_dir("");
    EXPECT_EQ(lsm::set_selinux_exec(dir.get(), kLabel), "attr/exec");
    EXPECT_EQ(attr.read("exec"), kLabel);
}

TEST(LsmAttr, SymlinkedAttrFileIsRefused) {
    TempDir attr;
    attr.write("elsewhere", "");
    fs::create_symlink(attr.path / "elsewhere", attr.path / "exec");
    Fd dir = attr.open_dir("");
    EXPECT_THROW(lsm::set_selinux_exec(dir.get(), kLabel), Error);
    EXPECT_EQ(attr.read("elsewhere"), "");
}

TEST(LsmAttr, ThreadAttrDirMustBeProcfs) {
    TempDir fake;
    fs::create_directories(fake.path / "thread-self/attr");
    try {
        lsm::open_thread_attr_dir(fake.path);
        FAIL() << "a directory outside procfs was accepted";
    } catch (const Error& e) {
        EXPECT_NE(e.message().find("not on procfs"), std::string::npos) << e.message();
    }
    EXPECT_TRUE(lsm::open_thread_attr_dir("/proc").valid());
}

TEST(LsmAttr, ContextOptionIsQuotedAndAppended) {
    EXPECT_EQ(lsm::with_context_option("", kMountLabel), std::string("context=\"") + kMountLabel + "\"");
    EXPECT_EQ(lsm::with_context_option("mode=755", kMountLabel),
              std::string("mode=755,context=\"") + kMountLabel + "\"");
    EXPECT_EQ(lsm::with_context_option("mode=755", ""), "mode=755");
}

// --- the init step ---------------------------------------------------------------------------

TEST(LsmLabels, WithoutTheLsmsLabelsAreWarnedAboutAndNotWritten) {
    TempDir host, attr;
    attr.write("apparmor/exec", "");
    attr.write("exec", "");
    oci::Spec spec = spec_with("skiff-test", kLabel, kMountLabel);
    init::Context ctx;
    ctx.spec = &spec;
    LogCapture log;
    init::resolve_lsm_labels(ctx, host.path);
    Fd dir = attr.open_dir("");
    init::apply_lsm_labels(ctx, dir.get());
    EXPECT_EQ(attr.read("apparmor/exec"), "");
    EXPECT_EQ(attr.read("exec"), "");
    EXPECT_EQ(init::mount_context_for(ctx, "tmpfs", false), "");
    std::string text = log.text();
    EXPECT_NE(text.find("process.apparmorProfile \\\"skiff-test\\\" not applied: AppArmor is not enabled"),
              std::string::npos) << text;
    EXPECT_NE(text.find("process.selinuxLabel"), std::string::npos) << text;
    EXPECT_NE(text.find("linux.mountLabel"), std::string::npos) << text;
}

TEST(LsmLabels, NoLabelsReadNothingAndWarnNothing) {
    oci::Spec spec = spec_with("", "", "");
    init::Context ctx;
    ctx.spec = &spec;
    LogCapture log;
    init::resolve_lsm_labels(ctx, "/nonexistent");
    init::apply_lsm_labels(ctx, -1);  // would open /proc if it had anything to write
    EXPECT_EQ(log.text(), "");
}

TEST(LsmLabels, AppArmorHostGetsTheProfile) {
    TempDir host, attr;
    host.write("sys/module/apparmor/parameters/enabled", "Y");
    fs::create_directories(host.path / "sys/kernel/security/apparmor");
    attr.write("apparmor/exec", "");
    attr.write("exec", "");
    oci::Spec spec = spec_with("skiff-test", kLabel, kMountLabel);
    init::Context ctx;
    ctx.spec = &spec;
    LogCapture log;
    init::resolve_lsm_labels(ctx, host.path);
    Fd dir = attr.open_dir("");
    init::apply_lsm_labels(ctx, dir.get());
    EXPECT_EQ(attr.read("apparmor/exec"), "exec skiff-test");
    EXPECT_EQ(attr.read("exec"), "");  // SELinux is off on this host: its label is not written
    EXPECT_EQ(log.text().find("apparmorProfile"), std::string::npos) << log.text();
}

TEST(LsmLabels, SelinuxHostGetsTheProcessLabelAndMountLabel) {
    TempDir host, attr;
    host.write("sys/fs/selinux/enforce", "1");
    attr.write("exec", "");
    oci::Spec spec = spec_with("", kLabel, kMountLabel);
    init::Context ctx;
    ctx.spec = &spec;
    init::resolve_lsm_labels(ctx, host.path);
    Fd dir = attr.open_dir("");
    init::apply_lsm_labels(ctx, dir.get());
    EXPECT_EQ(attr.read("exec"), kLabel);
    // runc's rule: the filesystems SELinux can label get context=; not proc, sysfs, cgroup
    // trees or binds; mqueue is labelled by xattr.
    EXPECT_EQ(init::mount_context_for(ctx, "tmpfs", false), kMountLabel);
    EXPECT_EQ(init::mount_context_for(ctx, "devpts", false), kMountLabel);
    for (const char* t : {"proc", "sysfs", "cgroup", "cgroup2", "mqueue", "bind"})
        EXPECT_EQ(init::mount_context_for(ctx, t, false), "") << t;
    EXPECT_EQ(init::mount_context_for(ctx, "tmpfs", true), "");  // a bind of a tmpfs
}

TEST(LsmLabels, AWriteTheKernelRefusesNamesTheField) {
    TempDir host, attr;
    host.write("sys/fs/selinux/enforce", "1");
    fs::create_directories(attr.path / "exec");  // cannot be opened for writing: EISDIR
    oci::Spec spec = spec_with("", kLabel, "");
    init::Context ctx;
    ctx.spec = &spec;
    init::resolve_lsm_labels(ctx, host.path);
    Fd dir = attr.open_dir("");
    try {
        init::apply_lsm_labels(ctx, dir.get());
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.message().rfind("process.selinuxLabel", 0), 0u) << e.message();
    }
}

// The real kernel: an unknown profile is refused by AppArmor (ENOENT: "is not loaded"), and
// without AppArmor no LSM takes the command. Either way the error names the field, and the
// process's own exec attribute is left as it was.
TEST(LsmLabels, UnknownProfileOnTheRealProcIsAnErrorNamingTheField) {
    oci::Spec spec = spec_with("skiff-unit-test-no-such-profile", "", "");
    init::Context ctx;
    ctx.spec = &spec;
    ctx.lsm.resolved = true;  // as on an AppArmor host, whatever this one runs
    ctx.lsm.apparmor_profile = spec.process->apparmor_profile;
    try {
        init::apply_lsm_labels(ctx);
        FAIL() << "the kernel took an unknown profile";
    } catch (const Error& e) {
        EXPECT_EQ(e.message().rfind("process.apparmorProfile: ", 0), 0u) << e.message();
        if (lsm::apparmor_enabled()) {
            EXPECT_NE(e.message().find("is not loaded"), std::string::npos) << e.message();
        }
    }
}

}  // namespace
}  // namespace skiff
