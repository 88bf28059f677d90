// The lifecycle of runtime.md: create, start, kill, delete, state, and `run` on top.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace skiff::container {

struct Globals {
    std::string root = "/run/skiff";
    bool systemd_cgroup = false;
    bool rootless = false;
    std::string criu = "criu";  // --criu: checkpoint and restore run it
};

struct CreateOptions {
    std::string id;
    std::string bundle = ".";
    std::string pid_file;
    std::string console_socket;
    int console_fd = -1;  // a connected console socket instead of a path (`run -t` in the foreground)
    std::string pidfd_socket;
    bool no_pivot = false;
    bool no_new_keyring = false;
    int preserve_fds = 0;
    // `run`: no exec fifo; the init execs as soon as it is ready, and create returns once it
    // has (so `start` is folded in, without its round trip through the state directory).
    bool start_now = false;
};

// Sets the container up to the point where it waits for `start`. Returns the init's pid.
pid_t create(const Globals& g, const CreateOptions& o);
void start(const Globals& g, const std::string& id);
// create + start; in the foreground waits, forwards signals, deletes, returns the exit code.
int run_container(const Globals& g, const CreateOptions& o, bool detach, bool keep, bool no_subreaper);
void kill(const Globals& g, const std::string& id, int signal, bool all);
void remove(const Globals& g, const std::string& id, bool force);
std::string state(const Globals& g, const std::string& id);

struct ListEntry {
    std::string id, status, bundle, created, owner;
    pid_t pid = 0;
    std::string state_json;
};
std::vector<ListEntry> list(const Globals& g);

}  // namespace skiff::container
