// The guest agent's terminal for the container's process 1 (process.terminal): the guest's
// skiff sends it the pty master over a console socket, and the agent relays the master to the
// stdin and stdout ports, behind which QEMU's stdio is the host's pty (the one whose master
// went to the caller's console socket, or that `run` relays). The window size arrives on the
// control port as "winsize ROWS COLS".
#pragma once
#include <poll.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace skiff::vm {

class GuestTerminal {
public:
    // Before the guest's skiff starts: the console socket; returns the arguments it needs.
    std::vector<std::string> listen();
    // After it started: the master (false when it ended first; its status in `status`).
    bool take_master(pid_t skiff, int& status, bool& ended);
    void set_size(unsigned rows, unsigned cols);
    void add_polls(std::vector<struct pollfd>& polls, int stdin_port);
    void handle(const std::vector<struct pollfd>& polls, size_t from, int stdin_port, int stdout_port);
    // The process ended: what the pty still holds goes out.
    void drain(int stdout_port);

private:
    int listener_ = -1, master_ = -1;
    bool stdin_open_ = true;
    unsigned rows_ = 0, cols_ = 0;
    size_t polled_ = 0;
};

}  // namespace skiff::vm
