#include "cgroups/systemd_prestart.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/global_flags.h"
#include "linux/userns.hpp"

namespace skiff::cgroups::systemd {
namespace {

constexpr const char* kEnv = "SKIFF_SYSTEMD_COMPANION";

// Moves fd to the top of the fd table, inheritable: far from 3.., which --preserve-fds and
// LISTEN_FDS hand to the container.
int move_high(int fd, int at) {
    int high = ::fcntl(fd, F_DUPFD, at);
    if (high < 0) return -1;
    ::close(fd);
    return high;
}

}  // namespace

bool wants_early_companion(int argc, char** argv) {
    const char* cmd = skiff_command_word(argc, argv);
    if (!cmd || (std::strcmp(cmd, "create") != 0 && std::strcmp(cmd, "run") != 0)) return false;
    // A user's container talks to the user's manager; so does root of a user namespace
    // (rootless podman), which would otherwise spawn a system companion only to drop it.
    if (::geteuid() != 0 || userns::in_user_namespace()) return false;
    for (int i = 1; i < argc && argv[i] != cmd; ++i) {
        const char* a = argv[i];
        while (*a == '-') ++a;
        if (std::strcmp(a, "systemd-cgroup") == 0 || std::strcmp(a, "systemd-cgroup=true") == 0) return true;
        if (!skiff_has_equals(a) && skiff_global_flag_takes_value(a)) ++i;  // its value
    }
    return false;
}

bool Companion::hand_over() {
    struct rlimit rl;
    if (::getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < 256) {
        abandon();
        return false;
    }
    int at = int(rl.rlim_cur > 4096 ? 4096 : rl.rlim_cur) - 16;
    int to = move_high(to_, at);
    if (to >= 0) to_ = to;
    int from = to < 0 ? -1 : move_high(from_, at);
    if (from >= 0) from_ = from;
    if (to < 0 || from < 0) {
        abandon();
        return false;
    }
    char value[64];
    std::snprintf(value, sizeof value, "%d,%d,%d", int(pid_), to_, from_);
    ::setenv(kEnv, value, 1);
    return true;
}

void Companion::hand_back() {
    ::unsetenv(kEnv);
    for (int fd : {to_, from_})
        if (fd >= 0) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

std::unique_ptr<Companion> adopt_handed_over() {
    const char* env = ::getenv(kEnv);
    if (!env) return nullptr;
    int pid = -1, to = -1, from = -1;
    bool parsed = std::sscanf(env, "%d,%d,%d", &pid, &to, &from) == 3;
    ::unsetenv(kEnv);
    if (!parsed || pid <= 0 || to < 3 || from < 3) return nullptr;
    // Still our child and still running, and both pipes still open here.
    if (::fcntl(to, F_SETFD, FD_CLOEXEC) < 0 || ::fcntl(from, F_SETFD, FD_CLOEXEC) < 0) return nullptr;
    if (::waitpid(pid, nullptr, WNOHANG) != 0) return nullptr;
    return std::make_unique<Companion>(pid, to, from);
}

}  // namespace skiff::cgroups::systemd
