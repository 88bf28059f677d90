// The guest agent's terminal for process 1 (agent_terminal.hpp).
#include "vm/agent_terminal.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "vm/agent_channel.hpp"
#include "vm/agent_sessions.hpp"

namespace skiff::vm {
namespace {
constexpr const char* kConsole = "/run/agent/console.sock";
}

std::vector<std::string> GuestTerminal::listen() {
    listener_ = listen_console(kConsole);
    if (listener_ < 0) return {};
    return {"--console-socket", kConsole};
}

bool GuestTerminal::take_master(pid_t skiff, int& status, bool& ended) {
    if (listener_ < 0) return false;
    master_ = receive_pty_master(listener_, skiff, status, ended);
    ::close(listener_);
    listener_ = -1;
    if (master_ < 0) return false;
    set_size(rows_, cols_);
    return true;
}

void GuestTerminal::set_size(unsigned rows, unsigned cols) {
    rows_ = rows;
    cols_ = cols;
    if (master_ < 0 || !rows || !cols) return;
    struct winsize ws = {};
    ws.ws_row = (unsigned short)rows;
    ws.ws_col = (unsigned short)cols;
    ::ioctl(master_, TIOCSWINSZ, &ws);
}

void GuestTerminal::add_polls(std::vector<struct pollfd>& polls, int stdin_port) {
    polled_ = 0;
    if (master_ < 0) return;
    polls.push_back({master_, POLLIN, 0});
    polls.push_back({stdin_open_ ? stdin_port : -1, POLLIN, 0});
    polled_ = 2;
}

void GuestTerminal::handle(const std::vector<struct pollfd>& polls, size_t from, int stdin_port, int stdout_port) {
    if (polled_ < 2) return;
    char buf[65536];
    if (polls[from].revents) {
        ssize_t n = ::read(master_, buf, sizeof buf);
        if (n > 0) channel::write_all(stdout_port, std::string(buf, size_t(n)));
        else if (n < 0 && errno != EINTR && errno != EAGAIN) {  // EIO: no one holds the terminal
            ::close(master_);
            master_ = -1;
        }
    }
    if (master_ >= 0 && polls[from + 1].revents) {
        ssize_t n = ::read(stdin_port, buf, sizeof buf);
        if (n > 0) channel::write_all(master_, std::string(buf, size_t(n)));
        else if (n == 0 || (errno != EINTR && errno != EAGAIN)) stdin_open_ = false;
    }
}

void GuestTerminal::drain(int stdout_port) {
    if (master_ < 0) return;
    ::fcntl(master_, F_SETFL, ::fcntl(master_, F_GETFL) | O_NONBLOCK);
    char buf[65536];
    for (int i = 0; i < 64; ++i) {
        ssize_t n = ::read(master_, buf, sizeof buf);
        if (n <= 0) break;
        channel::write_all(stdout_port, std::string(buf, size_t(n)));
    }
    ::close(master_);
    master_ = -1;
}

}  // namespace skiff::vm
