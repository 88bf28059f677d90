#include "container/tty_relay.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <tuple>

#include "base/error.hpp"

namespace skiff::container {
namespace {

// Writes all of buf, waiting out a full pty or pipe; false when the other side is gone.
bool write_all(int fd, const char* buf, size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, buf, n);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (w <= 0) return false;
        buf += w;
        n -= size_t(w);
    }
    return true;
}

}  // namespace

TtyRelay::TtyRelay() { std::tie(ours_, theirs_) = Channel::pair(); }

TtyRelay::~TtyRelay() {
    if (raw_) ::tcsetattr(0, TCSANOW, &saved_);
}

void TtyRelay::take_master() {
    theirs_.close();
    Message msg;  // the init's send_fds("/dev/console", {master})
    if (!ours_.receive(msg) || msg.fds.empty()) throw Error("the container's init sent no terminal", EPROTO);
    master_ = std::move(msg.fds[0]);
    ours_.close();
    master_open_ = true;
    stdin_open_ = true;
    on_winch();
    if (::isatty(0) && ::tcgetattr(0, &saved_) == 0) {
        struct termios raw = saved_;
        ::cfmakeraw(&raw);
        raw_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
    }
}

void TtyRelay::on_stdin() {
    char buf[4096];
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        // End of our input: the pty sees end-of-file as a terminal would (^D at a line start).
        struct termios t;
        char eof = (::tcgetattr(master_.get(), &t) == 0 && t.c_cc[VEOF]) ? char(t.c_cc[VEOF]) : '\x04';
        write_all(master_.get(), &eof, 1);
        stdin_open_ = false;
        return;
    }
    if (!write_all(master_.get(), buf, size_t(n))) stdin_open_ = false;
}

void TtyRelay::on_master() {
    char buf[8192];
    ssize_t n = ::read(master_.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    // EIO: every slave fd is closed (the container's processes are gone).
    if (n <= 0 || !write_all(1, buf, size_t(n))) master_open_ = false;
}

void TtyRelay::on_winch() {
    struct winsize ws;
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master_.get(), TIOCSWINSZ, &ws);
}

void TtyRelay::drain() {
    if (!master_open_) return;
    int flags = ::fcntl(master_.get(), F_GETFL);
    ::fcntl(master_.get(), F_SETFL, flags | O_NONBLOCK);
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(master_.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || !write_all(1, buf, size_t(n))) break;
    }
    master_open_ = false;
}

}  // namespace skiff::container
