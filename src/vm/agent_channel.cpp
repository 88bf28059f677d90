// Framing of the agent channel (agent_channel.hpp), shared by host and guest.
#include "vm/agent_channel.hpp"

#include <unistd.h>

#include <cerrno>

#include "base/error.hpp"

namespace skiff::vm::channel {

std::string encode(char type, const std::string& payload) {
    std::string out(1, type);
    uint32_t n = uint32_t(payload.size());
    for (int i = 0; i < 4; ++i) out += char((n >> (8 * i)) & 0xff);
    return out + payload;
}

bool decode(std::string& buf, char& type, std::string& payload) {
    if (buf.size() < 5) return false;
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= uint32_t(uint8_t(buf[1 + i])) << (8 * i);
    if (n > kMaxPayload) throw Error("agent channel: a frame of " + std::to_string(n) + " bytes", EPROTO);
    if (buf.size() < 5 + size_t(n)) return false;
    type = buf[0];
    payload = buf.substr(5, n);
    buf.erase(0, 5 + size_t(n));
    return true;
}

bool write_all(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
        ssize_t w = ::write(fd, data.data() + off, data.size() - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        off += size_t(w);
    }
    return true;
}

}  // namespace skiff::vm::channel
