// CRIU's RPC (`criu swrk FD` on a SOCK_SEQPACKET socketpair), for what its command line
// cannot do: restoring a terminal container needs CRIU's orphan_pts_master, which hands the
// new pty master back over the socket. Only the few criu_req / criu_opts / criu_resp fields
// skiff uses are encoded, by hand (CRIU's images/rpc.proto gives their numbers).
// criu.cpp decides when to use it; the option list is the same one the command line gets.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>


namespace skiff::container::criu::rpc {

// A restore request with the options of a `criu restore` argument list (as criu.cpp builds
// it: "restore", "--images-dir", DIR, ...), plus notify_scripts and orphan_pts_master.
// CRIU opens the image and work directories as /proc/<socket's creator>/fd/N, and mounts in
// the work directory: criu.cpp opens them in criu's own mount namespace (the process that also
// makes the socket pair) at kImagesFd and kWorkFd; their paths come back in `plan`.
constexpr int kImagesFd = 5;
constexpr int kWorkFd = 6;
struct Plan {
    std::string images, work, pidfile;  // pidfile: where the arguments wanted the restored pid
};
std::string restore_request(const std::vector<std::string>& args, Plan& plan);

// A reply to a notification: whether the caller's action for it succeeded.
std::string notify_reply(bool ok);

struct Response {
    int type = 0;                // criu_req_type: 2 = RESTORE, 6 = NOTIFY
    bool success = false;
    std::string notify_script;   // "setup-namespaces", "orphan-pts-master", ...
    pid_t notify_pid = 0;
    pid_t restored_pid = 0;
    int cr_errno = 0;
    std::string cr_errmsg;
};
constexpr int kRestore = 2;
constexpr int kNotify = 6;

// Throws on a message that is not a criu_resp.
Response parse_response(const std::string& bytes);

}  // namespace skiff::container::criu::rpc
