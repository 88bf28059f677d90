// The agent channel: how the host reaches the guest agent for `exec` and `ps`. The VM has a
// few session ports (virtio-serial, named skiff.agent<N>); on the host each is a QEMU socket
// chardev <vm dir>/agent<N>.sock that one client at a time holds (flock on agent<N>.lock).
//
// On a session port both sides write frames: a type byte, a 4-byte little-endian length and
// the payload. The host opens a session with `start` (JSON: the guest skiff's arguments, files
// to write first, the terminal's size); the agent runs `/skiff --root /run/skiff <args>` in
// the guest and relays its stdio. With "follow", the arguments are an `exec -d --pid-file`
// and the session then follows the exec'd process (the guest's init reaps it) until it ends.
#pragma once
#include <cstdint>
#include <string>

namespace skiff::vm::channel {

inline constexpr int kSessions = 6;            // concurrent exec/ps sessions per VM
inline constexpr uint32_t kMaxPayload = 1 << 20;
inline constexpr const char* kGuestDir = "/run/agent";  // the agent's per-session files

enum Frame : char {
    // host -> guest
    start = 'S',   // JSON {"nonce":hex, "args":[...], "files":{path:text}, "follow":bool, "tty":bool, "rows":n, "cols":n}
    input = 'I',   // bytes for the process's stdin (or its terminal)
    input_end = 'E',
    signal = 'K',  // decimal signal number, for the process
    resize = 'W',  // "rows cols"
    // guest -> host
    hello = 'H',    // the start request's "nonce", before anything else of the session: the
                    // host skips what comes before it (a previous client's unsent output that
                    // QEMU still held for the port)
    started = 'P',  // decimal guest pid of the process (follow sessions)
    output = 'O',
    errout = 'R',
    exited = 'X',  // decimal exit status (128+N for a signal)
};

std::string encode(char type, const std::string& payload);

// Takes one whole frame off the front of `buf`; false until one is complete. Throws on a
// length beyond kMaxPayload (a confused or hostile peer).
bool decode(std::string& buf, char& type, std::string& payload);

// Writes all of `data` to a blocking fd; false on error.
bool write_all(int fd, const std::string& data);

}  // namespace skiff::vm::channel
