// vm/initramfs: the cached base archive is one per binary; writing a new one prunes those of
// other binaries, except ones of the last minute (another binary may be about to read its own).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "vm/paths.hpp"

namespace fs = std::filesystem;

namespace {

void touch(const fs::path& p, time_t age_seconds) {
    std::ofstream(p) << "x";
    struct timespec t[2];
    t[0].tv_sec = t[1].tv_sec = ::time(nullptr) - age_seconds;
    t[0].tv_nsec = t[1].tv_nsec = 0;
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), t, 0), 0);
}

}  // namespace

TEST(VmInitramfs, NewArchivePrunesOlderOnesOfOtherBinaries) {
    char tmpl[] = "/tmp/skiff-initrd-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    fs::path dir = tmpl;
    touch(dir / "initrd-skiff-111-1.1.cpio", 3600);       // another binary, an hour ago
    touch(dir / "initrd-skiff-222-2.2.cpio.tmp42", 3600);  // a writer that died
    touch(dir / "initrd-skiff-333-3.3.cpio", 0);           // another binary, just now
    touch(dir / "vmlinuz", 3600);                          // not ours to remove

    std::string made = skiff::vm::base_initramfs(dir);
    EXPECT_TRUE(fs::exists(made));
    EXPECT_FALSE(fs::exists(dir / "initrd-skiff-111-1.1.cpio"));
    EXPECT_FALSE(fs::exists(dir / "initrd-skiff-222-2.2.cpio.tmp42"));
    EXPECT_TRUE(fs::exists(dir / "initrd-skiff-333-3.3.cpio"));
    EXPECT_TRUE(fs::exists(dir / "vmlinuz"));
    // The cached one is reused as it is: a second call writes (and prunes) nothing.
    EXPECT_EQ(skiff::vm::base_initramfs(dir), made);
    fs::remove_all(dir);
}

// QEMU keeps each VM's initrd mapped, so the cached base is gzip'd: smaller than the binary it
// carries, 4-aligned (the container's archive is appended to it uncompressed), and still a newc
// archive inside. No temporary file stays behind.
TEST(VmInitramfs, BaseArchiveIsGzippedAndAligned) {
    if (::access("/usr/bin/gzip", X_OK) != 0 && ::access("/bin/gzip", X_OK) != 0) GTEST_SKIP() << "no gzip";
    char tmpl[] = "/tmp/skiff-initrd-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    fs::path dir = tmpl;
    fs::path made = skiff::vm::base_initramfs(dir);
    std::ifstream f(made, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    ASSERT_GE(data.size(), 2u);
    EXPECT_EQ((unsigned char)data[0], 0x1f);
    EXPECT_EQ((unsigned char)data[1], 0x8b);
    EXPECT_EQ(data.size() % 4, 0u);
    EXPECT_LT(data.size(), fs::file_size("/proc/self/exe") * 3 / 4);
    std::string cmd = "gzip -dc < '" + made.string() + "' 2>/dev/null | head -c 6";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    char magic[7] = {};
    size_t n = ::fread(magic, 1, 6, p);
    ::pclose(p);
    EXPECT_EQ(std::string(magic, n), "070701");
    size_t entries = 0;
    for (auto& e : fs::directory_iterator(dir)) entries += e.path() != made;
    EXPECT_EQ(entries, 0u);
    fs::remove_all(dir);
}
