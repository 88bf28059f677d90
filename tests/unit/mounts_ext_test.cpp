// Mount extensions without containers: option helpers, the mount-mapping checks of config.json,
// id map rendering, and the tmpcopyup tree copy between two temp directories.
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "init/idmap.hpp"
#include "init/mount_options.hpp"
#include "init/tmpcopyup.hpp"
#include "base/error.hpp"
#include "oci/config.hpp"
#include "oci_test_util.hpp"

namespace skiff {
namespace {

using nlohmann::json;

// --- option helpers ------------------------------------------------------------------------

TEST(MountOptionsExt, SplitFsDataKeysValuesAndFlags) {
    auto items = init::split_fs_data("mode=755,,size=64k,huge,uid=0");
    ASSERT_EQ(items.size(), 4u);
    EXPECT_EQ(items[0], std::make_pair(std::string("mode"), std::string("755")));
    EXPECT_EQ(items[1], std::make_pair(std::string("size"), std::string("64k")));
    EXPECT_EQ(items[2], std::make_pair(std::string("huge"), std::string("")));
    EXPECT_EQ(items[3], std::make_pair(std::string("uid"), std::string("0")));
    EXPECT_TRUE(init::split_fs_data("").empty());
}

TEST(MountOptionsExt, TmpcopyupParsedAndNotFsData) {
    auto o = init::parse_mount_options({"tmpcopyup", "mode=1777", "nosuid"});
    EXPECT_TRUE(o.tmpcopyup);
    EXPECT_EQ(o.data, "mode=1777");
}

TEST(MountOptionsExt, BindTopAttrsFromPlainFlags) {
    auto t = init::bind_top_attrs(init::parse_mount_options({"ro", "nosuid", "nodev", "noatime"}));
    EXPECT_EQ(t.set, uint64_t(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                              MOUNT_ATTR_NOATIME));
    EXPECT_EQ(t.clr, uint64_t(MOUNT_ATTR__ATIME));
    auto none = init::bind_top_attrs(init::parse_mount_options({"rbind", "rro"}));
    EXPECT_EQ(none.set, 0u);  // the recursive forms are not top-only attributes
    EXPECT_EQ(none.clr, 0u);
}

// --- idmap helpers -------------------------------------------------------------------------

TEST(Idmap, RenderIdMap) {
    std::vector<oci::IdMapping> maps = {{0, 100000, 65536}, {65536, 1, 1}};
    EXPECT_EQ(init::render_id_map(maps), "0 100000 65536\n65536 1 1\n");
}

TEST(Idmap, WantsIdmap) {
    oci::Mount m;
    m.type = "bind";
    m.options = {"rbind"};
    EXPECT_FALSE(init::wants_idmap(m));
    m.options = {"rbind", "ridmap"};
    EXPECT_TRUE(init::wants_idmap(m));
    m.options = {"bind"};
    m.uid_mappings = m.gid_mappings = {{0, 1000, 1}};
    EXPECT_TRUE(init::wants_idmap(m));
}

// --- config.json checks --------------------------------------------------------------------

json bind_mount(json options) {
    return {{"destination", "/data"}, {"type", "bind"}, {"source", "/srv"},
            {"options", std::move(options)}};
}

json maps(std::initializer_list<std::array<uint32_t, 3>> list) {
    json out = json::array();
    for (const auto& m : list) out.push_back({{"containerID", m[0]}, {"hostID", m[1]}, {"size", m[2]}});
    return out;
}

std::string parse_error(const json& config) {
    try {
        oci::parse_config(config.dump());
    } catch (const Error& e) {
        return e.message();
    }
    return "";
}

TEST(MountMappings, ValidBindWithMappings) {
    json j = oci::testing::base_config();
    json m = bind_mount({"rbind", "ridmap"});
    m["uidMappings"] = maps({{0, 100000, 1000}, {1000, 300000, 10}});
    m["gidMappings"] = maps({{0, 100000, 1000}});
    j["mounts"].push_back(m);
    EXPECT_EQ(parse_error(j), "");
}

TEST(MountMappings, MappingsOnANonBindMount) {
    json j = oci::testing::base_config();
    j["mounts"][1]["uidMappings"] = maps({{0, 100000, 10}});
    j["mounts"][1]["gidMappings"] = maps({{0, 100000, 10}});
    std::string err = parse_error(j);
    EXPECT_EQ(err.rfind("mounts[1].uidMappings: ", 0), 0u) << err;
    EXPECT_NE(err.find("bind mounts"), std::string::npos) << err;
}

TEST(MountMappings, IdmapOptionOnANonBindMount) {
    json j = oci::testing::base_config();
    j["mounts"][1]["options"].push_back("idmap");
    std::string err = parse_error(j);
    EXPECT_EQ(err.rfind("mounts[1].options: ", 0), 0u) << err;
}

TEST(MountMappings, OverlappingContainerRanges) {
    json j = oci::testing::base_config();
    json m = bind_mount({"bind"});
    m["uidMappings"] = maps({{0, 100000, 100}, {99, 500000, 5}});
    m["gidMappings"] = maps({{0, 100000, 100}});
    j["mounts"].push_back(m);
    std::string err = parse_error(j);
    EXPECT_EQ(err.rfind("mounts[2].uidMappings[1]: containerID range overlaps that of [0]", 0), 0u)
        << err;
}

TEST(MountMappings, OverlappingHostRanges) {
    json j = oci::testing::base_config();
    json m = bind_mount({"bind"});
    m["uidMappings"] = maps({{0, 100000, 100}});
    m["gidMappings"] = maps({{0, 100000, 100}, {100, 100050, 10}});
    j["mounts"].push_back(m);
    std::string err = parse_error(j);
    EXPECT_EQ(err.rfind("mounts[2].gidMappings[1]: hostID range overlaps", 0), 0u) << err;
}

TEST(MountMappings, AdjacentRangesAreFine) {
    json j = oci::testing::base_config();
    json m = bind_mount({"bind"});
    m["uidMappings"] = maps({{0, 100000, 100}, {100, 100100, 100}});
    m["gidMappings"] = maps({{0, 100000, 100}});
    j["mounts"].push_back(m);
    EXPECT_EQ(parse_error(j), "");
}

TEST(MountMappings, TooManyRanges) {
    json j = oci::testing::base_config();
    json m = bind_mount({"bind"});
    json many = json::array();
    for (uint32_t i = 0; i < 341; ++i)
        many.push_back({{"containerID", i}, {"hostID", 100000 + i}, {"size", 1}});
    m["uidMappings"] = many;
    m["gidMappings"] = maps({{0, 100000, 1}});
    j["mounts"].push_back(m);
    EXPECT_EQ(parse_error(j).rfind("mounts[2].uidMappings: at most 340", 0), 0u);
}

TEST(MountMappings, IdmapWithoutMappingsNeedsUserns) {
    json j = oci::testing::base_config();
    j["mounts"].push_back(bind_mount({"bind", "idmap"}));
    std::string err = parse_error(j);
    EXPECT_EQ(err.rfind("mounts[2].options: ", 0), 0u) << err;
    EXPECT_NE(err.find("user namespace"), std::string::npos) << err;

    j["linux"]["namespaces"].push_back({{"type", "user"}});
    j["linux"]["uidMappings"] = maps({{0, 100000, 65536}});
    j["linux"]["gidMappings"] = maps({{0, 100000, 65536}});
    EXPECT_EQ(parse_error(j), "");
}

// --- tmpcopyup's copy ----------------------------------------------------------------------

class CopyTree : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/skiff-copytree-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        top_ = tmpl;
        std::filesystem::create_directory(top_ / "src");
        std::filesystem::create_directory(top_ / "dst");
    }
    void TearDown() override { std::filesystem::remove_all(top_); }

    void copy() {
        int s = ::open((top_ / "src").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int d = ::open((top_ / "dst").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_GE(s, 0);
        ASSERT_GE(d, 0);
        init::copy_tree(s, d);
        init::copy_dir_attributes(s, d);
        ::close(s);
        ::close(d);
    }
    std::filesystem::path src(const char* rel) { return top_ / "src" / rel; }
    std::filesystem::path dst(const char* rel) { return top_ / "dst" / rel; }

    std::filesystem::path top_;
};

struct stat lstat_of(const std::filesystem::path& p) {
    struct stat st = {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st;
}

TEST_F(CopyTree, FilesDirsSymlinksFifosWithAttributes) {
    std::filesystem::create_directories(src("a/b"));
    { std::ofstream(src("a/b/file")) << "content"; }
    ASSERT_EQ(::chmod(src("a/b/file").c_str(), 04751), 0);
    ASSERT_EQ(::symlink("/etc/passwd", src("abs-link").c_str()), 0);
    ASSERT_EQ(::symlink("a/b", src("dir-link").c_str()), 0);
    ASSERT_EQ(::mkfifo(src("fifo").c_str(), 0620), 0);
    ASSERT_EQ(::chmod(src("fifo").c_str(), 0620), 0);  // past the umask
    ASSERT_EQ(::chmod(src("a").c_str(), 0705), 0);
    ASSERT_EQ(::chmod((top_ / "src").c_str(), 0751), 0);
    if (::geteuid() == 0) {
        ASSERT_EQ(::lchown(src("a/b/file").c_str(), 1234, 5678), 0);
        ASSERT_EQ(::chmod(src("a/b/file").c_str(), 04751), 0);  // chown cleared set-uid
        ASSERT_EQ(::lchown(src("abs-link").c_str(), 42, 43), 0);
    }
    struct timespec times[2] = {{1000, 0}, {2000, 5}};
    ASSERT_EQ(::utimensat(AT_FDCWD, src("a/b/file").c_str(), times, 0), 0);
    ASSERT_EQ(::utimensat(AT_FDCWD, src("a").c_str(), times, 0), 0);
    ASSERT_EQ(::utimensat(AT_FDCWD, src("abs-link").c_str(), times, AT_SYMLINK_NOFOLLOW), 0);

    copy();

    std::ifstream in(dst("a/b/file"));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "content");
    auto f = lstat_of(dst("a/b/file"));
    EXPECT_EQ(f.st_mode & 07777, 04751u);
    EXPECT_EQ(f.st_mtim.tv_sec, 2000);
    EXPECT_EQ(f.st_mtim.tv_nsec, 5);
    EXPECT_EQ(lstat_of(dst("a")).st_mode & 07777, 0705u);
    EXPECT_EQ(lstat_of(dst("a")).st_mtim.tv_sec, 2000);  // kept although filled after
    EXPECT_EQ(lstat_of(top_ / "dst").st_mode & 07777, 0751u);
    EXPECT_TRUE(S_ISLNK(lstat_of(dst("abs-link")).st_mode));
    EXPECT_EQ(std::filesystem::read_symlink(dst("abs-link")), "/etc/passwd");
    EXPECT_EQ(std::filesystem::read_symlink(dst("dir-link")), "a/b");
    EXPECT_EQ(lstat_of(dst("abs-link")).st_mtim.tv_sec, 2000);
    auto fifo = lstat_of(dst("fifo"));
    EXPECT_TRUE(S_ISFIFO(fifo.st_mode));
    EXPECT_EQ(fifo.st_mode & 07777, 0620u);
    if (::geteuid() == 0) {
        EXPECT_EQ(f.st_uid, 1234u);
        EXPECT_EQ(f.st_gid, 5678u);
        EXPECT_EQ(lstat_of(dst("abs-link")).st_uid, 42u);
    }
}

TEST_F(CopyTree, HardLinksStayLinked) {
    { std::ofstream(src("one")) << "x"; }
    std::filesystem::create_directory(src("d"));
    ASSERT_EQ(::link(src("one").c_str(), src("d/two").c_str()), 0);
    copy();
    auto a = lstat_of(dst("one"));
    auto b = lstat_of(dst("d/two"));
    EXPECT_EQ(a.st_ino, b.st_ino);
    EXPECT_EQ(a.st_nlink, 2u);
}

TEST_F(CopyTree, SymlinkedDirectoryIsNotEntered) {
    char outside[] = "/tmp/skiff-copytree-out-XXXXXX";
    ASSERT_NE(::mkdtemp(outside), nullptr);
    { std::ofstream(std::filesystem::path(outside) / "secret") << "s"; }
    ASSERT_EQ(::symlink(outside, src("escape").c_str()), 0);
    copy();
    EXPECT_TRUE(S_ISLNK(lstat_of(dst("escape")).st_mode));
    // The copy is the link itself and nothing it points at.
    size_t entries = 0;
    for (auto it = std::filesystem::recursive_directory_iterator(top_ / "dst");
         it != std::filesystem::recursive_directory_iterator(); ++it)
        ++entries;
    EXPECT_EQ(entries, 1u);
    std::filesystem::remove_all(outside);
}

TEST_F(CopyTree, ExistingNameInDestinationFails) {
    { std::ofstream(src("f")) << "x"; }
    { std::ofstream(dst("f")) << "y"; }
    EXPECT_THROW(copy(), Error);
}

}  // namespace
}  // namespace skiff
