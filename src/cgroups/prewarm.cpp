#include "cgroups/prewarm.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

namespace skiff::cgroups {
namespace {

std::thread g_thread;

// Rewrites our own pid into the cgroup.procs of the cgroup we are already in, in the first
// v1 hierarchy named in /proc/self/cgroup: no move, but the kernel takes the lock.
void touch_own_cgroup() {
    int fd = ::open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return;
    buf[n] = 0;
    for (char* line = buf; line && *line;) {
        char* next = std::strchr(line, '\n');
        if (next) *next++ = 0;
        // "N:controllers:/path"; v2 is "0::/path"
        char* c1 = std::strchr(line, ':');
        char* c2 = c1 ? std::strchr(c1 + 1, ':') : nullptr;
        if (c1 && c2 && c2 > c1 + 1 && std::strncmp(c1 + 1, "name=", 5) != 0) {
            std::string controllers(c1 + 1, c2);
            std::string path = "/sys/fs/cgroup/" + controllers + (c2[1] == '/' && c2[2] ? c2 + 1 : "") + "/cgroup.procs";
            int out = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
            if (out >= 0) {
                std::string pid = std::to_string(::getpid());
                ssize_t ignored = ::write(out, pid.data(), pid.size());
                (void)ignored;
                ::close(out);
                return;
            }
        }
        line = next;
    }
}

}  // namespace

void prewarm() {
    struct statfs sf;
    if (::statfs("/sys/fs/cgroup", &sf) < 0 || sf.f_type == CGROUP2_SUPER_MAGIC) return;
    try {
        g_thread = std::thread(touch_own_cgroup);
    } catch (...) {
    }
}

void prewarm_join() {
    if (g_thread.joinable()) g_thread.join();
}

}  // namespace skiff::cgroups
