// `exec`: run another process inside a running container.
#pragma once
#include <string>
#include <vector>

#include "container/lifecycle.hpp"
#include "oci/spec.hpp"

namespace skiff::container {

struct ExecOptions {
    std::string id;
    std::string process_json;  // --process FILE contents ("" = from the flags below)
    std::vector<std::string> args;
    bool tty = false;
    bool detach = false;
    std::string console_socket, pid_file, pidfd_socket, cwd, user;
    std::vector<std::string> env, additional_gids, caps;
    bool no_new_privs = false;
    bool ignore_paused = false;
    int preserve_fds = 0;
    std::vector<std::string> sub_cgroups;  // --cgroup [controller:]path, below the container's
    std::string apparmor, process_label;   // --apparmor, --process-label ("" = the container's)
};

// The process to run: --process, or the container's process with the flags applied.
oci::Process exec_process(const oci::Spec& spec, const ExecOptions& o);

// Returns the process's exit code (128+signal), or 0 with --detach.
int exec(const Globals& g, const ExecOptions& o);

}  // namespace skiff::container
