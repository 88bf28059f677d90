// Typed messages between the runtime and the container's init over a SOCK_SEQPACKET pair:
// one message per packet, a type byte and a payload, optionally with descriptors.
#pragma once
#include <string>
#include <vector>

#include "linux/fd.hpp"

namespace skiff {

enum class Msg : char {
    go = 'g',            // parent -> child: id maps written; payload: "<pid> <state JSON>"
    run_hooks = 'h',     // child -> parent: run prestart and createRuntime hooks now
    hooks_done = 'd',    // parent -> child
    mount_source = 'm',  // child -> parent: clone mounts[payload]'s source for me (as host root)
    mount_tree = 't',    // parent -> child: the detached tree as an fd, or the error as payload
    ready = 'r',         // child -> parent: init done, waiting for start
    error = 'e',         // child -> parent: payload is the error text
};

struct Message {
    Msg type{};
    std::string payload;
    std::vector<Fd> fds;
};

class Channel {
public:
    // A connected pair; [0] for the parent, [1] for the child. Both CLOEXEC.
    static std::pair<Channel, Channel> pair();
    Channel() = default;
    explicit Channel(Fd fd) : fd_(std::move(fd)) {}

    void send(Msg type, const std::string& payload = {}, const std::vector<int>& fds = {});
    // Returns false at end of stream (peer closed or died).
    bool receive(Message& out);
    int fd() const { return fd_.get(); }
    void close() { fd_.reset(); }

private:
    Fd fd_;
};

// Sends fds over any unix socket with a one-byte (or given) payload; used for console
// sockets and pidfd sockets as runc does.
void send_fds(int socket_fd, const std::string& payload, const std::vector<int>& fds);

// A connected SOCK_STREAM unix socket (close-on-exec) to path; `what` names it in errors
// ("console socket", "seccomp listener").
int connect_unix(const std::string& path, const char* what);

}  // namespace skiff
