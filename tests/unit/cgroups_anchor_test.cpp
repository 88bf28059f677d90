// cgroups/fs anchors: paths below an anchored directory are opened relative to its fd.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cgroups/fs.hpp"

namespace fs = skiff::cgroups::fs;

namespace {
std::string temp_dir() {
    char tmpl[] = "/tmp/skiff-anchor-XXXXXX";
    return ::mkdtemp(tmpl);
}
}  // namespace

TEST(CgroupsAnchor, PathsBelowAnAnchorAreRelativeToItsFd) {
    std::string root = temp_dir();
    fs::anchor(root);
    int fd = fs::anchor_fd(root);
    ASSERT_GE(fd, 0);
    fs::At a = fs::at(root + "/cpu/skiff/c1/tasks");
    EXPECT_EQ(a.fd, fd);
    EXPECT_EQ(a.rel, "cpu/skiff/c1/tasks");
    EXPECT_EQ(a.dir, root);
    EXPECT_EQ(fs::at(root).rel, ".");
    EXPECT_EQ(fs::at(root + "x/y").fd, AT_FDCWD);  // a sibling with the same prefix is not below
    // The helpers go through the anchor: made, written, read, removed below it.
    fs::mkdir_p(root + "/cpu/skiff/c1");
    std::ofstream(root + "/cpu/skiff/c1/tasks") << "";
    fs::write(root + "/cpu/skiff/c1/tasks", "42");
    EXPECT_EQ(fs::read(root + "/cpu/skiff/c1/tasks"), "42");
    EXPECT_TRUE(fs::exists(root + "/cpu/skiff/c1"));
    ::unlink((root + "/cpu/skiff/c1/tasks").c_str());
    EXPECT_EQ(fs::rmdir_at(root + "/cpu/skiff/c1"), 0);
    EXPECT_FALSE(fs::exists(root + "/cpu/skiff/c1"));
    fs::forget(root);
    EXPECT_EQ(fs::anchor_fd(root), -1);
    std::filesystem::remove_all(root);
}
