// The guest agent's non-blocking writes (agent_outbox.hpp).
#include "vm/agent_outbox.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace skiff::vm {

bool Outbox::put(int fd, const std::string& data) {
    data_ += data;
    return flush(fd);
}

bool Outbox::flush(int fd) {
    size_t off = 0;
    while (off < data_.size()) {
        ssize_t n = ::write(fd, data_.data() + off, data_.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n <= 0) {
            data_.clear();
            return false;
        }
        off += size_t(n);
    }
    data_.erase(0, off);
    return true;
}

void set_nonblocking(int fd) {
    if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

}  // namespace skiff::vm
