#include "init/seccomp_listener.hpp"

#include "linux/channel.hpp"
#include "linux/log.hpp"

namespace skiff::init {

std::string listener_message(const std::string& state_json, int pid, const std::string& metadata) {
    std::string msg = "{\"ociVersion\":\"1.3.0\",\"fds\":[\"seccompFd\"],\"pid\":" + std::to_string(pid);
    if (!metadata.empty()) msg += ",\"metadata\":" + log::json_quote(metadata);
    return msg + ",\"state\":" + state_json + "}";
}

void send_listener(int socket_fd, const std::string& state_json, int pid,
                   const std::string& metadata, int listener_fd) {
    send_fds(socket_fd, listener_message(state_json, pid, metadata), {listener_fd});
}

}  // namespace skiff::init
