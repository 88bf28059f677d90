#include "container/criu.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>

#include "base/error.hpp"
#include "container/criu_rpc.hpp"
#include "linux/fd.hpp"
#include "linux/program.hpp"
#include "linux/syscalls.hpp"
#include "base/text.hpp"

namespace skiff::container::criu {
namespace {

// Outside every --root: a state root holds containers only.
const char* const kCheckCache = "/run/skiff-criu-check";

bool executable(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    size_t i = 0;
    while (i < s.size() && s[i] == ' ') ++i;
    return s.substr(i);
}

// What `criu check` said last (its reason for failing), without the log decoration.
std::string last_line(const std::string& output) {
    std::string best;
    size_t start = 0;
    while (start < output.size()) {
        size_t end = output.find('\n', start);
        if (end == std::string::npos) end = output.size();
        std::string line = trim(output.substr(start, end - start));
        if (!line.empty()) best = line;
        start = end + 1;
    }
    // "(00.012345) Error (criu/vdso.c:627): Failed to ..." -> "Failed to ..."
    if (!best.empty() && best[0] == '(') {
        size_t p = best.find(") ");
        if (p != std::string::npos) best = best.substr(p + 2);
    }
    if (best.rfind("Error (", 0) == 0) {
        size_t p = best.find("): ");
        if (p != std::string::npos) best = best.substr(p + 3);
    }
    return best;
}

std::string check_key(const std::string& criu) {
    struct utsname u;
    ::uname(&u);
    struct stat st = {};
    ::stat(criu.c_str(), &st);
    return std::string(u.release) + " " + criu + " " + std::to_string(st.st_mtime) + " " +
           std::to_string(st.st_size);
}

[[noreturn]] void child_fail(int err_fd, const std::string& message) {
    ssize_t ignored = ::write(err_fd, message.data(), message.size());
    (void)ignored;
    ::_exit(127);
}

// The action script and its two fifos: the script tells the pid on one and waits for our
// answer on the other, so the hooks run while CRIU waits.
struct HookChannel {
    std::string script, req, ack;
    Fd req_fd;  // read end, opened O_RDWR so that it never reports a hang-up
    Fd ack_fd;  // held open: an answer waits in the fifo until the script opens it
    ~HookChannel() {
        for (const auto& p : {script, req, ack})
            if (!p.empty()) ::unlink(p.c_str());
    }
};

void make_hook_channel(HookChannel& h, const std::string& dir) {
    if (dir.find('\'') != std::string::npos) throw Error("work path " + dir + " holds a quote", EINVAL);
    h.script = dir + "/skiff-restore-hooks.sh";
    h.req = dir + "/skiff-restore-hooks.req";
    h.ack = dir + "/skiff-restore-hooks.ack";
    for (const auto& f : {h.req, h.ack}) {
        ::unlink(f.c_str());
        if (::mkfifo(f.c_str(), 0600) < 0) throw_errno("mkfifo " + f);
    }
    std::string body = "#!/bin/sh\n[ \"$CRTOOLS_SCRIPT_ACTION\" = setup-namespaces ] || exit 0\n"
                       "echo \"$CRTOOLS_INIT_PID\" > '" + h.req + "'\nread r < '" + h.ack + "'\n[ \"$r\" = ok ]\n";
    ::unlink(h.script.c_str());
    int fd = ::open(h.script.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    if (fd < 0) throw_errno("create " + h.script);
    Fd f(fd);
    if (::write(fd, body.data(), body.size()) != ssize_t(body.size())) throw_errno("write " + h.script);
    int r = ::open(h.req.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (r < 0) throw_errno("open " + h.req);
    h.req_fd.reset(r);
    int a = ::open(h.ack.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (a < 0) throw_errno("open " + h.ack);
    h.ack_fd.reset(a);
}

// The criu swrk end of the RPC socket: its fd number in criu.
constexpr int kRpcFd = 3;
constexpr int kRpcOurFd = 4;

// One RPC message and the fd that came with it (orphan-pts-master); "" at the socket's end.
std::string recv_rpc(int sk, Fd& fd_out) {
    std::string buf(1 << 16, '\0');
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {buf.data(), buf.size()};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do n = ::recvmsg(sk, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) throw_errno("read from criu");
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
            fd_out.reset(fd);
        }
    buf.resize(size_t(n));
    return buf;
}

void send_rpc(int sk, const std::string& m) {
    if (::send(sk, m.data(), m.size(), MSG_NOSIGNAL) != ssize_t(m.size())) throw_errno("write to criu");
}

}  // namespace

std::string locate(const std::string& criu_flag, const char* command) {
    std::string name = criu_flag.empty() ? "criu" : criu_flag;
    if (name.find('/') != std::string::npos) {
        if (executable(name)) return name;
        throw Error(std::string(command) + " is not supported on this host: no CRIU at " + name +
                        " (install criu, or give its path with --criu)",
                    ENOTSUP);
    }
    std::string path = ::getenv("PATH") ? ::getenv("PATH") : "";
    path += ":/usr/local/sbin:/usr/sbin:/sbin";
    for (auto dir : text::split(path, ':')) {
        if (dir.empty()) continue;
        std::string candidate = std::string(dir) + "/" + name;
        if (executable(candidate)) return candidate;
    }
    throw Error(std::string(command) + " is not supported on this host: " + name +
                    " was not found (install criu, or give its path with --criu)",
                ENOTSUP);
}

void ensure_usable(const std::string& criu, const char* command) {
    const std::string cache = kCheckCache;
    std::string key = check_key(criu);
    try {
        if (trim(text::read_file(cache)) == key) return;
    } catch (const Error&) {
    }
    program::Result r = program::run_and_wait(criu, {criu, "check"}, {}, "", 60);
    if (r.timed_out || !WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
        std::string why = r.timed_out ? "timed out" : last_line(r.output);
        if (why.empty()) why = program::describe_status(r.status);
        throw Error(std::string(command) + " is not supported on this host: CRIU cannot work here (" + criu +
                        " check: " + why + ")",
                    ENOTSUP);
    }
    // Best effort: where /run is not writable, the next command checks again.
    std::string tmp = cache + ".tmp" + std::to_string(::getpid());
    {
        std::ofstream out(tmp);
        out << key << "\n";
    }
    if (::rename(tmp.c_str(), cache.c_str()) < 0) ::unlink(tmp.c_str());
}

bool has_feature(const std::string& criu, const std::string& feature) {
    program::Result r = program::run_and_wait(criu, {criu, "check", "--feature", feature}, {}, "", 60);
    return !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
}

std::string cgroups_mode(const std::string& flag) {
    if (flag.empty()) return "soft";
    if (flag == "soft" || flag == "full" || flag == "strict" || flag == "ignore") return flag;
    throw Error("invalid manage-cgroups-mode value", EINVAL);  // runc's words
}

std::string last_error(const std::string& log_path) {
    std::ifstream in(log_path);
    // The first error is the cause; the last only says "Dumping FAILED."
    std::string line;
    while (std::getline(in, line))
        if (line.find("Error (") != std::string::npos) return last_line(line);
    return "";
}

void run(const std::string& criu, const Invocation& inv) {
    std::vector<std::string> argv = {criu};
    const bool use_rpc = bool(inv.on_pts_master);
    Fd rpc_sk;
    rpc::Plan plan;
    std::string rpc_request;
    if (use_rpc) {
        rpc_request = rpc::restore_request(inv.args, plan);
        argv.insert(argv.end(), {"swrk", std::to_string(kRpcFd)});
    } else {
        argv.insert(argv.end(), inv.args.begin(), inv.args.end());
    }
    HookChannel hooks;
    if (inv.on_setup_namespaces && !use_rpc) {
        make_hook_channel(hooks, inv.hook_dir);
        argv.insert(argv.end(), {"--action-script", hooks.script});
    }
    std::vector<char*> c_argv;
    for (auto& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    const std::string verb = inv.args.empty() ? "" : inv.args[0];

    int go[2], err[2];
    if (::pipe2(go, O_CLOEXEC) < 0 || ::pipe2(err, O_CLOEXEC) < 0) throw_errno("pipe");
    Fd go_r(go[0]), go_w(go[1]), err_r(err[0]), err_w(err[1]);

    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork criu");
    if (pid == 0) {
        go_w.reset();
        err_r.reset();
        char c;
        if (::read(go_r.get(), &c, 1) != 1) ::_exit(127);  // the runtime gave up on us
        try {
            if (inv.in_child) inv.in_child();
        } catch (const Error& e) {
            child_fail(err_w.get(), e.what());
        }
        // The error pipe and the sources out of the way of the target numbers first, then
        // into place; everything else is closed at exec.
        int err_fd = ::fcntl(err_w.get(), F_DUPFD_CLOEXEC, 200);
        if (err_fd < 0) child_fail(err_w.get(), std::string("criu error pipe: ") + strerror(errno));
        std::vector<std::pair<int, int>> moves;
        for (int i = 0; i < 3; ++i) moves.push_back({inv.stdio[i], i});
        for (auto [from, to] : inv.pass_fds) moves.push_back({from, to});
        if (use_rpc) {
            // In criu's mount namespace (in_child made it): CRIU reaches the directories
            // through /proc/<the socket pair's creator>/fd/N and mounts in the work directory.
            // Our end of the pair waits at kRpcOurFd until the runtime takes it (pidfd_getfd).
            int sv[2];
            if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                child_fail(err_fd, std::string("socketpair for criu: ") + strerror(errno));
            int images_fd = ::open(plan.images.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            int work_fd = ::open(plan.work.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (images_fd < 0 || work_fd < 0)
                child_fail(err_fd, "open " + plan.images + " or " + plan.work + " for criu: " + strerror(errno));
            moves.insert(moves.end(), {{sv[1], kRpcFd}, {sv[0], kRpcOurFd}, {images_fd, rpc::kImagesFd},
                                       {work_fd, rpc::kWorkFd}});
        }
        std::set<int> targets;
        for (auto& m : moves) {
            int high = ::fcntl(m.first, F_DUPFD_CLOEXEC, 100);
            if (high < 0) child_fail(err_fd, "pass fd " + std::to_string(m.first) + " to criu: " + strerror(errno));
            m.first = high;
            targets.insert(m.second);
        }
        for (auto [from, to] : moves)
            if (::dup2(from, to) < 0) child_fail(err_fd, std::string("dup2 for criu: ") + strerror(errno));
        unsigned next = 3;
        for (int t : targets) {
            if (t < int(next)) continue;
            if (unsigned(t) > next) sys::close_range(next, unsigned(t) - 1, CLOSE_RANGE_CLOEXEC);
            next = unsigned(t) + 1;
        }
        sys::close_range(next, ~0U, CLOSE_RANGE_CLOEXEC);
        ::execv(criu.c_str(), c_argv.data());
        child_fail(err_fd, "exec " + criu + ": " + strerror(errno));
    }
    go_r.reset();
    err_w.reset();
    auto reap = [&] {
        int st = 0;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        return st;
    };
    try {
        if (inv.on_spawned) inv.on_spawned(pid);
    } catch (...) {
        ::kill(pid, SIGKILL);
        reap();
        throw;
    }
    if (::write(go_w.get(), "g", 1) != 1) {
        ::kill(pid, SIGKILL);
        reap();
        throw_errno("start criu");
    }
    go_w.reset();
    // Until criu exits: its setup errors (before exec), and the hook requests of its script.
    std::string setup_error;
    std::optional<Error> hook_error;
    std::optional<rpc::Response> rpc_result;
    bool rpc_open = false;
    int raw_pidfd = sys::pidfd_open(pid);
    if (raw_pidfd < 0) {
        ::kill(pid, SIGKILL);
        reap();
        throw_errno("pidfd_open criu");
    }
    Fd criu_exit(raw_pidfd);
    bool err_open = true;
    char buf[512];
    for (;;) {
        struct pollfd p[4] = {{criu_exit.get(), POLLIN, 0},
                              {err_open ? err_r.get() : -1, POLLIN, 0},
                              {hooks.req_fd ? hooks.req_fd.get() : -1, POLLIN, 0},
                              {rpc_open ? rpc_sk.get() : -1, POLLIN, 0}};
        int n = ::poll(p, 4, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("poll criu");
        if (p[1].revents) {
            ssize_t got = ::read(err_r.get(), buf, sizeof buf);
            if (got > 0) setup_error.append(buf, size_t(got));
            else if (got == 0 || errno != EINTR) err_open = false;  // closed by exec
            if (!err_open && use_rpc && setup_error.empty() && !rpc_sk) {
                // criu runs and waits for the request: our end of its socket, then the request
                int sk = int(::syscall(SYS_pidfd_getfd, criu_exit.get(), kRpcOurFd, 0));
                if (sk >= 0) {
                    rpc_sk.reset(sk);
                    try {
                        send_rpc(rpc_sk.get(), rpc_request);
                        rpc_open = true;
                    } catch (const Error&) {
                        // criu died at once: its log or status says why
                    }
                } else {
                    setup_error = std::string("take criu's socket: ") + strerror(errno);
                    ::kill(pid, SIGKILL);
                }
            }
        }
        if (p[2].revents & POLLIN) {
            ssize_t got = ::read(hooks.req_fd.get(), buf, sizeof buf - 1);
            if (got > 0) {
                buf[got] = 0;
                std::string answer = "ok\n";
                try {
                    inv.on_setup_namespaces(pid_t(std::strtol(buf, nullptr, 10)));
                } catch (const Error& e) {
                    hook_error = e;
                    answer = "fail\n";
                }
                ssize_t ignored = ::write(hooks.ack_fd.get(), answer.data(), answer.size());
                (void)ignored;
            }
        }
        if (p[3].revents) {
            // A notification (answered at once, after our action for it) or the result.
            Fd passed;
            std::string m;
            try {
                m = recv_rpc(rpc_sk.get(), passed);
            } catch (const Error&) {
            }
            if (m.empty()) {
                rpc_open = false;
            } else {
                rpc::Response r = rpc::parse_response(m);
                if (r.type != rpc::kNotify) {
                    rpc_result = r;
                    rpc_open = false;
                } else {
                    bool ok = true;
                    try {
                        if (r.notify_script == "orphan-pts-master") {
                            if (!passed) throw Error("criu sent no pty master", EPROTO);
                            inv.on_pts_master(passed.get());
                        } else if (r.notify_script == "setup-namespaces" && inv.on_setup_namespaces) {
                            inv.on_setup_namespaces(r.notify_pid);
                        }
                    } catch (const Error& e) {
                        hook_error = e;
                        ok = false;
                    }
                    try {
                        send_rpc(rpc_sk.get(), rpc::notify_reply(ok));
                    } catch (const Error&) {
                        rpc_open = false;
                    }
                }
            }
        }
        if (p[0].revents && !err_open && !rpc_open) break;
        if (p[0].revents && err_open) {
            // exited before exec: what it wrote is all there is
            while ((n = int(::read(err_r.get(), buf, sizeof buf))) > 0) setup_error.append(buf, size_t(n));
            break;
        }
    }
    int status = reap();
    if (!setup_error.empty()) throw Error("criu " + verb + ": " + setup_error, EIO);
    if (hook_error) throw *hook_error;
    if (use_rpc && rpc_result && rpc_result->success && rpc_result->restored_pid > 0) {
        // where the command line would have written it
        if (!plan.pidfile.empty()) {
            std::ofstream out(plan.pidfile);
            out << rpc_result->restored_pid;
            if (!out.flush()) throw Error("write " + plan.pidfile, EIO);
        }
        return;
    }
    if (!use_rpc && WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    std::string why = last_error(inv.log_path);
    if (why.empty() && rpc_result && !rpc_result->cr_errmsg.empty()) why = rpc_result->cr_errmsg;
    if (why.empty()) why = program::describe_status(status);
    throw Error("criu " + verb + " failed: " + why + " (see " + inv.log_path + ")", EIO);
}

}  // namespace skiff::container::criu
