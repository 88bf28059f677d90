// vm/initramfs: the cached base archive is one per binary; writing a new one prunes those of
// other binaries, except ones of the last minute (another binary may be about to read its own).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>

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
