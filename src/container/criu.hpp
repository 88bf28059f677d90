// Driving CRIU through its command line (criu dump / pre-dump / restore / check): the
// argument list, the child that runs it, and its failures as one line naming its log.
// checkpoint.cpp and restore.cpp decide WHAT to declare; this file only knows HOW.
#pragma once
#include <sys/types.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace skiff::container::criu {

// The criu binary: --criu as given when it holds a '/', else looked up in $PATH (and the
// sbin directories, which a non-login PATH may lack). Throws the one-line refusal when there
// is none.
std::string locate(const std::string& criu_flag, const char* command);

// `criu check` on this kernel; throws "<command> is not supported on this host: CRIU cannot
// work here (criu check: <its reason>)". A success is remembered in /run/skiff-criu-check
// (keyed by the kernel release and the criu binary), so only the first command pays for it.
void ensure_usable(const std::string& criu, const char* command);

// Whether `criu check --feature NAME` passes (mem_dirty_track, lazy_pages, ...).
bool has_feature(const std::string& criu, const std::string& feature);

// "soft" | "full" | "strict" | "ignore" ("" = soft, CRIU's default); throws for others.
std::string cgroups_mode(const std::string& flag);

struct Invocation {
    std::vector<std::string> args;  // after argv[0]: "dump", "-t", "42", ...
    std::string log_path;           // where -o points, for the error line
    // (fd open here, number it must have in criu) for --inherit-fd and --status-fd.
    std::vector<std::pair<int, int>> pass_fds;
    // Runs in the child before exec (a private mount namespace for restore); may throw.
    std::function<void()> in_child;
    // Runs in the runtime once the child exists and before it goes on (restore puts it in the
    // container's cgroup, so the restored tasks start there); may throw, which kills it.
    std::function<void(pid_t)> on_spawned;
    // Restore: called with the restored init's pid once CRIU made its namespaces, before the
    // tree runs (runc's prestart/createRuntime point). CRIU reaches us through an action
    // script in hook_dir and two fifos there; all three are removed afterwards. May throw:
    // CRIU then fails and run() rethrows that error instead of CRIU's.
    std::function<void(pid_t)> on_setup_namespaces;
    std::string hook_dir;
    // Restore of a terminal container: CRIU is driven through its RPC (criu_rpc.hpp) instead
    // of its command line, with the same options, and hands over the new pty master of the
    // restored terminal here (the fd is closed afterwards). on_setup_namespaces then comes
    // from CRIU's notification instead of an action script.
    std::function<void(int)> on_pts_master;
    // criu's stdin/stdout/stderr: ours unless given (a restored process inherits them).
    int stdio[3] = {0, 1, 2};
};

// Runs criu to its end (through its RPC when inv.on_pts_master is set); throws "criu <verb> failed: <CRIU's last error line> (see <log>)".
void run(const std::string& criu, const Invocation& inv);

// The first "Error" line of a CRIU log (the cause), without its timestamp; "" when there is none.
std::string last_error(const std::string& log_path);

}  // namespace skiff::container::criu
