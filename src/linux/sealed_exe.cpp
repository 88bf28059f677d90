#include "linux/sealed_exe.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

extern char** environ;

namespace skiff::sealed_exe {
namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

// The command word: the first argument that is not a global flag or a global flag's value.
std::string command_of(int argc, char** argv) {
    static const char* const with_value[] = {"root", "log", "log-format", "rootless", "criu"};
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        if (a[0] != '-') return a;
        while (*a == '-') ++a;
        if (std::strchr(a, '=')) continue;
        for (const char* f : with_value)
            if (std::strcmp(a, f) == 0) {
                ++i;
                break;
            }
    }
    return {};
}

bool running_sealed() {
    int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    int seals = ::fcntl(fd, F_GET_SEALS);
    ::close(fd);
    return seals >= 0 && (seals & kSeals) == kSeals;
}

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "skiff: sealed copy of the runtime binary: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

}  // namespace

void ensure(int argc, char** argv) {
    std::string cmd = command_of(argc, argv);
    if (cmd != "create" && cmd != "run" && cmd != "exec") return;
    if (running_sealed()) {
        // fexecve names the process after its fd; take the runtime's name back for ps.
        const char* base = std::strrchr(argv[0], '/');
        ::prctl(PR_SET_NAME, base ? base + 1 : argv[0], 0, 0, 0);
        return;
    }
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
