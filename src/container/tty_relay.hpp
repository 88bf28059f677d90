// `run` in the foreground with process.terminal and no --console-socket (what `skiff spec`
// writes): the runtime takes the pty master from the init itself and relays it to its own
// stdin/stdout, as runc does. Our stdin goes raw while it runs when it is a terminal.
#pragma once
#include <termios.h>

#include "linux/channel.hpp"
#include "linux/fd.hpp"

namespace skiff::container {

class TtyRelay {
public:
    TtyRelay();  // the socketpair; one end goes to create() as CreateOptions::console_fd
    ~TtyRelay();
    TtyRelay(const TtyRelay&) = delete;
    TtyRelay& operator=(const TtyRelay&) = delete;

    int console_end() const { return theirs_.fd(); }
    // After create(): receives the master, copies our window size, makes our stdin raw.
    void take_master();

    // For the caller's poll(): -1 once a side is done.
    int stdin_fd() const { return stdin_open_ ? 0 : -1; }
    int master_fd() const { return master_open_ ? master_.get() : -1; }
    void on_stdin();   // stdin readable: copy to the pty (end of input sends the EOF char)
    void on_master();  // pty readable: copy to stdout
    void on_winch();   // our window changed: the pty follows (the kernel signals the container)
    void drain();      // the process exited: what is still buffered in the pty goes out

private:
    Channel ours_, theirs_;
    Fd master_;
    bool stdin_open_ = false, master_open_ = false;
    bool raw_ = false;
    struct termios saved_ {};
};

}  // namespace skiff::container
