#include "linux/sealed_exe.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/global_flags.h"
#include "linux/syscalls.hpp"

extern char** environ;

namespace skiff::sealed_exe {
namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

// The command word: the first argument that is not a global flag or a global flag's value.
std::string command_of(int argc, char** argv) {
    const char* word = skiff_command_word(argc, argv);
    return word ? word : "";
}

// Sealed memfd, or any read-only mount (our own detached bind, or an install on a read-only
// /usr): either way no handle on our exe can be reopened for writing.
bool running_sealed() {
    int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    int seals = ::fcntl(fd, F_GET_SEALS);
    struct statvfs vfs;
    bool ro = ::fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
    ::close(fd);
    return ro || (seals >= 0 && (seals & kSeals) == kSeals);
}

// The cheap way: a detached, read-only bind mount of the binary itself (open_tree clone of the
// file, then mount_setattr), exec'd through its fd. Same inode and page cache, so nothing is
// copied; a write reopen through /proc/<pid>/exe meets the read-only mount (EROFS). The mount
// lives exactly as long as a process runs from it. Needs CAP_SYS_ADMIN; returns on failure.
void exec_from_readonly_bind(char** argv) {
    int tree = sys::open_tree(AT_FDCWD, "/proc/self/exe", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) return;
    struct mount_attr attr = {};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if (sys::mount_setattr(tree, "", AT_EMPTY_PATH, &attr) == 0)
        ::syscall(SYS_execveat, tree, "", argv, environ, AT_EMPTY_PATH);
    ::close(tree);
}

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "skiff: sealed copy of the runtime binary: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

}  // namespace

// Defined by src/early_entry.c in the static build, which checked before the C library ran.
extern "C" __attribute__((weak)) int skiff_exe_sealed;

void ensure(int argc, char** argv) {
    std::string cmd = command_of(argc, argv);
    if (cmd != "create" && cmd != "run" && cmd != "exec") return;
    if ((&skiff_exe_sealed && skiff_exe_sealed) || running_sealed()) {
        // fexecve names the process after its fd; take the runtime's name back for ps.
        const char* base = std::strrchr(argv[0], '/');
        ::prctl(PR_SET_NAME, base ? base + 1 : argv[0], 0, 0, 0);
        return;
    }
    exec_from_readonly_bind(argv);
    // Rootless or an old kernel: a sealed copy in memory (costs a copy and cold pages).
    int src = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (src < 0) die("open /proc/self/exe");
    struct stat st;
    if (::fstat(src, &st) < 0) die("stat /proc/self/exe");
    int mem = ::memfd_create("skiff", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mem < 0) die("memfd_create");
    off_t off = 0;
    while (off < st.st_size) {
        ssize_t n = ::sendfile(mem, src, &off, size_t(st.st_size - off));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("copy");
    }
    ::close(src);
    if (::fcntl(mem, F_ADD_SEALS, kSeals) < 0) die("seal");
    ::fexecve(mem, argv, environ);
    die("exec");
}

}  // namespace skiff::sealed_exe
