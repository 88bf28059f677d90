// The watcher of a VM's terminal size (terminal_watch.hpp).
#include "vm/terminal_watch.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace skiff::vm {
namespace {

constexpr const char* kWord = "--skiff-vm-winch";

// The agent reads lines from the control fifo; one short write is atomic among its writers
// (`kill` forwards signals there too). QEMU opens the fifo as it starts: until then ENXIO.
void send_size(const char* ctl, const struct winsize& ws) {
    char line[64];
    int n = std::snprintf(line, sizeof line, "winsize %u %u\n", unsigned(ws.ws_row), unsigned(ws.ws_col));
    for (int tries = 0; tries < 500; ++tries) {
        int fd = ::open(ctl, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t w = ::write(fd, line, size_t(n));
            (void)w;
            ::close(fd);
            return;
        }
        if (errno != ENXIO && errno != EINTR) return;
        struct timespec ts = {0, 20000000};
        ::nanosleep(&ts, nullptr);
    }
}

[[noreturn]] void watch(const char* ctl, pid_t qemu) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (::getppid() != qemu) ::_exit(0);
    ::prctl(PR_SET_NAME, "skiff-vm-winch", 0, 0, 0);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        ::dup2(null, 1);
        ::dup2(null, 2);
    }
    ::syscall(SYS_close_range, 3U, ~0U, 0U);  // fd 0 is the pty: all it keeps
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    struct winsize last = {};
    for (;;) {
        if (::sigwaitinfo(&set, nullptr) < 0) continue;
        struct winsize ws = {};
        if (::ioctl(0, TIOCGWINSZ, &ws) < 0) ::_exit(0);  // the terminal is gone
        if (!ws.ws_row || !ws.ws_col || (ws.ws_row == last.ws_row && ws.ws_col == last.ws_col)) continue;
        last = ws;
        send_size(ctl, ws);
    }
}

}  // namespace

std::vector<std::string> behind_terminal_watch(const std::vector<std::string>& qemu_argv, const std::string& ctl) {
    std::vector<std::string> a = {"/proc/self/exe", kWord, ctl, "--"};
    a.insert(a.end(), qemu_argv.begin(), qemu_argv.end());
    return a;
}

bool is_terminal_watch(int argc, char** argv) {
    return argc >= 5 && std::strcmp(argv[1], kWord) == 0 && std::strcmp(argv[3], "--") == 0;
}

void terminal_watch_main(int argc, char** argv) {
    (void)argc;
    pid_t self = ::getpid();
    pid_t child = ::fork();
    if (child == 0) watch(argv[2], self);
    // QEMU keeps this pid (the container's process 1, `state`'s pid); without a watcher the
    // terminal only misses later resizes.
    ::execv(argv[4], argv + 4);
    std::fprintf(stderr, "skiff: exec %s: %s\n", argv[4], std::strerror(errno));
    ::_exit(127);
}

}  // namespace skiff::vm
