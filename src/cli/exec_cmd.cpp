// exec: runc's flags, and the command line after the container id.
#include <fcntl.h>
#include <unistd.h>

#include "cli/cli.hpp"
#include "container/exec.hpp"
#include "base/error.hpp"

namespace skiff::cli {
namespace {

int cmd_exec(const container::Globals& g, const Args& a) {
    container::ExecOptions o;
    o.id = container_id(a, "exec");
    o.args.assign(a.positional().begin() + 1, a.positional().end());
    if (!a.has("process") && o.args.empty()) throw Error("exec: a command to run, or --process, is required", EINVAL);
    set_failure_exit_code(255);
    if (a.has("process")) o.process_json = read_input(a.value("process"));
    o.tty = a.flag("tty");
    o.detach = a.flag("detach");
    o.console_socket = a.value("console-socket");
    o.pid_file = a.value("pid-file");
    o.pidfd_socket = a.value("pidfd-socket");
    o.cwd = a.value("cwd");
    o.user = a.value("user");
    o.env = a.values("env");
    o.additional_gids = a.values("additional-gids");
    o.caps = a.values("cap");
    o.no_new_privs = a.flag("no-new-privs");
    o.ignore_paused = a.flag("ignore-paused");
    o.preserve_fds = a.int_value("preserve-fds", 0);
    o.sub_cgroups = a.values("cgroup");
    o.apparmor = a.value("apparmor");
    o.process_label = a.value("process-label");
    return container::exec(g, o);
}

}  // namespace

Command exec_command() {
    return {"exec", "<container-id> <command> [command options]", "execute new process inside the container",
            {{{"console-socket"}, true, "path to an AF_UNIX socket which will receive the pty master fd"},
             {{"pidfd-socket"}, true, "path to an AF_UNIX socket which will receive the process's pidfd"},
             {{"cwd"}, true, "current working directory in the container"},
             {{"env", "e"}, true, "set environment variables (repeatable)"},
             {{"tty", "t"}, false, "allocate a pseudo-TTY"},
             {{"user", "u"}, true, "UID (format: <uid>[:<gid>])"},
             {{"additional-gids", "g"}, true, "additional gids (repeatable)"},
             {{"process", "p"}, true, "path to the process.json"},
             {{"detach", "d"}, false, "detach from the container's process"},
             {{"pid-file"}, true, "specify the file to write the process id to"},
             {{"process-label"}, true, "set the SELinux label of the process (default: the container's)"},
             {{"apparmor"}, true, "set the AppArmor profile of the process (default: the container's)"},
             {{"no-new-privs"}, false, "set the no new privileges value for the process"},
             {{"cap", "c"}, true, "add a capability to the bounding set for the process (repeatable)"},
             {{"preserve-fds"}, true, "pass N additional file descriptors to the container"},
             {{"cgroup"}, true, "run the process in an (existing) sub-cgroup: [controller:]path (repeatable)"},
             {{"ignore-paused"}, false, "allow exec in a paused container"}},
            cmd_exec, -1};
}

}  // namespace skiff::cli
