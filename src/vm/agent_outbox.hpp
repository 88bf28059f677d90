// What the guest agent has for a peer that is not reading: a session port whose host client
// stopped (or went away: a virtio-serial write then blocks until someone connects again), or
// an exec'd process that does not read its stdin. The agent is PID 1 and serves every
// session from one poll loop, so it never blocks on such a write: the fd is non-blocking, what
// does not fit waits here, and the loop polls for POLLOUT. Bounded by backpressure: while a
// box holds more than kHigh bytes, the agent stops reading what fills it (the process's output
// pipe or pty, or the host's frames), so the writer blocks as on a full pipe, and no other.
#pragma once
#include <string>

namespace skiff::vm {

class Outbox {
public:
    static constexpr size_t kHigh = 256 * 1024;

    // Queues `data` after what waits, and writes what it can now. False when the fd failed
    // (the peer is gone); what waited is then dropped.
    bool put(int fd, const std::string& data);
    // POLLOUT came: writes what it can. False when the fd failed.
    bool flush(int fd);
    bool waiting() const { return !data_.empty(); }
    bool full() const { return data_.size() >= kHigh; }
    void clear() { data_.clear(); }

private:
    std::string data_;
};

// Makes an fd non-blocking (the agent's side of a port, pipe or pty).
void set_nonblocking(int fd);

}  // namespace skiff::vm
