// What the init sends to linux.seccomp.listenerPath once the filter is loaded: the "container
// process state" of runtime-spec config-linux.md, with the listener fd attached.
#pragma once
#include <string>

namespace skiff::init {

// {"ociVersion","fds":["seccompFd"],"pid","metadata"?,"state"}; `state_json` is the runtime
// state document, already JSON, and is embedded as it is. metadata is left out when empty.
std::string listener_message(const std::string& state_json, int pid, const std::string& metadata);

// Sends listener_message(...) with `listener_fd` over the connected unix socket `socket_fd`.
void send_listener(int socket_fd, const std::string& state_json, int pid,
                   const std::string& metadata, int listener_fd);

}  // namespace skiff::init
