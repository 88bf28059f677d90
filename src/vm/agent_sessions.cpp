// The guest agent's sessions (agent_sessions.hpp). Each runs the guest's own skiff on the
// container the guest's `skiff run` made, so `exec` gets the container's namespaces, root,
// user, capabilities and seccomp from the code that applies them on a host.
#include "vm/agent_sessions.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/text.hpp"
#include "vm/agent_channel.hpp"

namespace skiff::vm {
namespace {

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

}  // namespace

// The pty master that the guest skiff sends over the console socket.
int receive_pty_master(int listener, pid_t launcher, int& launcher_status, bool& launcher_done) {
    for (;;) {
        struct pollfd p = {listener, POLLIN, 0};
        int n = ::poll(&p, 1, 50);
        if (n > 0) {
            int conn = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
            if (conn < 0) return -1;
            char byte;
            struct iovec iov = {&byte, 1};
            alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
            struct msghdr msg = {};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = ctl;
            msg.msg_controllen = sizeof ctl;
            int fd = -1;
            if (::recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) > 0)
                for (auto* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
            ::close(conn);
            return fd;
        }
        if (!launcher_done && ::waitpid(launcher, &launcher_status, WNOHANG) == launcher) launcher_done = true;
        if (launcher_done) return -1;
    }
}

int listen_console(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    ::unlink(path.c_str());
    if (fd < 0 || ::bind(fd, (struct sockaddr*)&sa, sizeof sa) < 0 || ::listen(fd, 1) < 0) {
        close_fd(fd);
        return -1;
    }
    return fd;
}

namespace {

// For `ps`: each pid of the guest skiff's JSON list with its parent, owner and command line.
std::string describe_processes(const std::string& pid_list) {
    nlohmann::json out = nlohmann::json::array();
    nlohmann::json pids;
    try {
        pids = nlohmann::json::parse(pid_list);
    } catch (const std::exception&) {
        return "[]";
    }
    for (auto& p : pids) {
        if (!p.is_number_integer()) continue;
        long pid = p.get<long>();
        std::string base = "/proc/" + std::to_string(pid);
        std::string stat = text::read_file_or_empty(base + "/stat"), status = text::read_file_or_empty(base + "/status");
        std::string cmd = text::read_file_or_empty(base + "/cmdline");
        if (stat.empty()) continue;
        for (auto& c : cmd)
            if (c == '\0') c = ' ';
        while (!cmd.empty() && cmd.back() == ' ') cmd.pop_back();
        size_t close = stat.rfind(')');
        long ppid = 0, uid = 0;
        if (close != std::string::npos) std::sscanf(stat.c_str() + close + 1, " %*c %ld", &ppid);
        if (cmd.empty() && close != std::string::npos) {
            size_t open = stat.find('(');
            cmd = "[" + stat.substr(open + 1, close - open - 1) + "]";
        }
        size_t u = status.find("\nUid:");
        if (u != std::string::npos) uid = std::atol(status.c_str() + u + 5);
        out.push_back({{"pid", pid}, {"ppid", ppid}, {"uid", uid}, {"cmd", cmd}});
    }
    return out.dump();
}

int status_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace

void AgentSessions::open_ports(const std::string& id) {
    id_ = id;
    for (int tries = 0; tries < 200 && int(sessions_.size()) < channel::kSessions; ++tries) {
        if (DIR* d = ::opendir("/sys/class/virtio-ports")) {
            while (struct dirent* e = ::readdir(d)) {
                if (e->d_name[0] == '.') continue;
                std::string name = text::read_file_or_empty(std::string("/sys/class/virtio-ports/") + e->d_name + "/name");
                while (!name.empty() && (name.back() == '\n' || name.back() == '\0')) name.pop_back();
                if (name.rfind("skiff.agent", 0) != 0) continue;
                int nr = std::atoi(name.c_str() + 11);
                bool have = false;
                for (auto& s : sessions_) have |= s.nr == nr;
                if (have) continue;
                int fd = ::open((std::string("/dev/") + e->d_name).c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK);
                if (fd < 0) continue;
                ::fcntl(fd, F_SETOWN, ::getpid());
                ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_ASYNC);
                Session s;
                s.nr = nr;
                s.port = fd;
                sessions_.push_back(s);
            }
            ::closedir(d);
        }
        if (int(sessions_.size()) < channel::kSessions) {
            struct timespec ts = {0, 10000000};
            ::nanosleep(&ts, nullptr);
        }
    }
    ::mkdir(channel::kGuestDir, 0700);
    recheck();
}

void AgentSessions::recheck() {
    for (auto& s : sessions_) {
        if (s.connected) continue;
        struct pollfd p = {s.port, POLLIN, 0};
        if (::poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP)) s.connected = true;
    }
}

int AgentSessions::poll_timeout() const {
    for (const auto& s : sessions_)
        if (!s.connected) return 1000;  // SIGIO should come first; this is the safety net
    return -1;
}

// Backpressure (agent_outbox.hpp): what fills a full box is not read; a box that waits asks
// for POLLOUT. An fd with nothing to wait for is left out (-1: poll skips it), but the port,
// whose hangup (the host's client gone) must still be seen.
void AgentSessions::add_polls(std::vector<struct pollfd>& polls) {
    polled_.clear();
    for (size_t i = 0; i < sessions_.size(); ++i) {
        auto& s = sessions_[i];
        for (int* fd : {&s.port, &s.out, &s.err, &s.master, &s.in}) {
            if (*fd < 0 || (fd == &s.port && !s.connected)) continue;
            short events = 0;
            if (fd == &s.port) events = short((s.to_process.full() ? 0 : POLLIN) | (s.to_host.waiting() ? POLLOUT : 0));
            else if (fd == &s.in) events = s.to_process.waiting() ? POLLOUT : 0;
            else events = s.to_host.full() ? 0 : POLLIN;
            if (fd == &s.master && s.to_process.waiting()) events |= POLLOUT;
            polls.push_back({events || fd == &s.port ? *fd : -1, events, 0});
            polled_.push_back({i, fd});
        }
    }
}

void AgentSessions::send(Session& s, char type, const std::string& payload) {
    if (s.connected) s.to_host.put(s.port, channel::encode(type, payload));  // a failure: the port's hangup drops it
}

void AgentSessions::to_process(Session& s, const std::string& bytes) {
    int& fd = s.in >= 0 ? s.in : s.master;
    if (fd >= 0) flushed_to_process(s, fd, s.to_process.put(fd, bytes));
}

// The process closed its stdin (EPIPE): the rest is dropped. Its end of input follows what waited.
void AgentSessions::flushed_to_process(Session& s, int& fd, bool ok) {
    if (!ok) s.to_process.clear();
    if (&fd == &s.in && (!ok || (s.in_end && !s.to_process.waiting()))) close_fd(s.in);
}

// Relays what `fd` has as `type` frames; false (and fd closed) at its end.
bool AgentSessions::pump(Session& s, int& fd, char type) {
    char buf[65536];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) {  // EIO from a pty master once the terminal's last user is gone
        close_fd(fd);
        return false;
    }
    if (s.describe && type == channel::output) s.captured.append(buf, size_t(n));
    else send(s, type, std::string(buf, size_t(n)));
    return true;
}

void AgentSessions::handle(const std::vector<struct pollfd>& polls, size_t from) {
    for (size_t k = 0; k < polled_.size(); ++k) {
        const auto& p = polls[from + k];
        if (!p.revents) continue;
        Session& s = sessions_[polled_[k].first];
        int* fd = polled_[k].second;
        if (*fd != p.fd) continue;  // closed by an earlier entry of this round
        if ((p.revents & POLLOUT) && fd == &s.port) s.to_host.flush(s.port);
        if ((p.revents & POLLOUT) && (fd == &s.in || fd == &s.master) && s.to_process.waiting())
            flushed_to_process(s, *fd, s.to_process.flush(*fd));
        if (*fd < 0 || !(p.revents & ~POLLOUT)) continue;
        if (fd == &s.in) {  // POLLERR: the process closed its stdin
            s.to_process.clear();
            close_fd(s.in);
            continue;
        }
        if (fd == &s.port) {
            char buf[65536];
            ssize_t n = (p.revents & POLLIN) ? ::read(s.port, buf, sizeof buf) : 0;
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) {  // the host's client is gone
                drop(s);
                continue;
            }
            s.inbuf.append(buf, size_t(n));
            char type;
            std::string payload;
            try {
                while (channel::decode(s.inbuf, type, payload)) on_frame(s, type, payload);
            } catch (const Error&) {
                drop(s);
            }
        } else {
            pump(s, *fd, fd == &s.err ? channel::errout : channel::output);
        }
    }
}

void AgentSessions::on_frame(Session& s, char type, const std::string& payload) {
    switch (type) {
    case channel::start:
        // One client per port (the host holds its lock): a start while a process is followed
        // comes from a new client, after the last one went without its hangup seen here.
        if (s.pid >= 0) forget_process(s);
        launch(s, payload);
        break;
    case channel::input:
        to_process(s, payload);
        break;
    case channel::input_end:
        s.in_end = true;
        if (!s.to_process.waiting()) close_fd(s.in);
        break;
    case channel::signal: {
        int sig = std::atoi(payload.c_str());
        if (s.pid > 0 && sig > 0 && sig < 65) ::kill(s.pid, sig);
        break;
    }
    case channel::resize: {
        struct winsize ws = {};
        unsigned rows = 0, cols = 0;
        if (std::sscanf(payload.c_str(), "%u %u", &rows, &cols) == 2 && s.master >= 0) {
            ws.ws_row = (unsigned short)rows;
            ws.ws_col = (unsigned short)cols;
            ::ioctl(s.master, TIOCSWINSZ, &ws);
        }
        break;
    }
    default:
        break;
    }
}

// The guest skiff with the session's arguments. For a follow session (exec -d --pid-file)
// the launcher is waited for here; the exec'd process is then the init's, as an orphan.
void AgentSessions::launch(Session& s, const std::string& request) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(request);
    } catch (const std::exception& e) {
        send(s, channel::errout, std::string("skiff-vm agent: bad start request: ") + e.what() + "\n");
        send(s, channel::exited, "255");
        return;
    }
    if (j.contains("nonce") && j["nonce"].is_string()) send(s, channel::hello, j["nonce"].get<std::string>());
    std::string dir = std::string(channel::kGuestDir) + "/" + std::to_string(s.nr);
    for (const char* f : {"/pid", "/console.sock", "/process.json"}) ::unlink((dir + f).c_str());
    ::mkdir(dir.c_str(), 0700);
    if (j.contains("files"))
        for (auto& [name, text] : j["files"].items()) {
            if (name.find('/') != std::string::npos || name.empty() || name[0] == '.') continue;
            int fd = ::open((dir + "/" + name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
            if (fd >= 0) {
                channel::write_all(fd, text.get<std::string>());
                ::close(fd);
            }
        }
    std::vector<std::string> args = {"/skiff", "--root", "/run/skiff"};
    for (auto& a : j.value("args", nlohmann::json::array())) args.push_back(a.get<std::string>());
    bool follow = j.value("follow", false), tty = j.value("tty", false);
    s.describe = j.value("describe", false);
    s.in_end = false;
    s.to_process.clear();
    s.captured.clear();
    if (follow) {
        // The host may ask as soon as the guest is up: wait until the guest's `skiff run` has
        // started the container (its record is written and its exec fifo is gone).
        // (create holds a lock on the record until the process runs.)
        std::string rec = "/run/skiff/" + id_;
        for (int i = 0; i < 6000; ++i) {
            int fd = ::open(rec.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            struct stat st;
            bool unlocked = fd >= 0 && ::fstat(fd, &st) == 0 && st.st_size > 0 && ::flock(fd, LOCK_SH | LOCK_NB) == 0;
            if (fd >= 0) ::close(fd);
            if (unlocked && ::access((rec + ":exec.fifo").c_str(), F_OK) != 0) break;
            struct timespec ts = {0, 10000000};
            ::nanosleep(&ts, nullptr);
        }
    }

    int listener = -1;
    if (tty) {
        listener = listen_console(dir + "/console.sock");
        if (listener < 0) {
            send(s, channel::errout, "skiff-vm agent: cannot make the console socket\n");
            send(s, channel::exited, "255");
            return;
        }
    }
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    if (::pipe2(err, O_CLOEXEC) < 0 || (!tty && (::pipe2(in, O_CLOEXEC) < 0 || ::pipe2(out, O_CLOEXEC) < 0))) {
        for (int* fd : {&in[0], &in[1], &out[0], &out[1], &err[0], &err[1], &listener}) close_fd(*fd);
        send(s, channel::exited, "255");
        return;
    }
    pid_t child = ::fork();
    if (child == 0) {
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        int null = ::open("/dev/null", O_RDWR);
        ::dup2(tty ? null : in[0], 0);
        ::dup2(tty ? err[1] : out[1], 1);
        ::dup2(err[1], 2);
        ::syscall(SYS_close_range, 3U, ~0U, 0U);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const char* envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SKIFF_VM_GUEST=1", nullptr};
        ::execve("/skiff", argv.data(), const_cast<char**>(envp));
        ::_exit(127);
    }
    for (int* fd : {&in[0], &out[1], &err[1]}) close_fd(*fd);
    set_nonblocking(in[1]);  // the agent's ends only: the process's are other open files
    s.in = in[1];
    s.out = out[0];
    s.err = err[0];
    if (child < 0) {
        close_fd(listener);
        end_process(s, 255);
        return;
    }
    if (!follow) {
        s.pid = child;
        return;
    }
    int status = 0;
    bool done = false;
    if (tty) s.master = receive_pty_master(listener, child, status, done);
    close_fd(listener);
    while (!done && ::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    std::string pid_text = text::read_file_or_empty(dir + "/pid");
    pid_t pid = pid_t(std::atoi(pid_text.c_str()));
    if (status != 0 || pid <= 0 || (tty && s.master < 0)) {
        while (s.err >= 0 && pump(s, s.err, channel::errout)) {
        }
        if (status == 0) send(s, channel::errout, "skiff-vm agent: the exec'd process did not start\n");
        end_process(s, status != 0 ? status_code(status) : 255);
        return;
    }
    set_nonblocking(s.master);
    if (s.master >= 0) {
        struct winsize ws = {};
        ws.ws_row = (unsigned short)j.value("rows", 0);
        ws.ws_col = (unsigned short)j.value("cols", 0);
        if (ws.ws_row && ws.ws_col) ::ioctl(s.master, TIOCSWINSZ, &ws);
    }
    s.pid = pid;
    send(s, channel::started, std::to_string(pid));
}

void AgentSessions::child_exited(pid_t pid, int status) {
    for (auto& s : sessions_)
        if (s.pid == pid) end_process(s, status_code(status));
}

// The process ended: what it wrote before it did, then its status.
void AgentSessions::end_process(Session& s, int code) {
    for (int* fd : {&s.out, &s.err, &s.master}) {
        if (*fd < 0) continue;
        ::fcntl(*fd, F_SETFL, ::fcntl(*fd, F_GETFL) | O_NONBLOCK);
        for (int i = 0; i < 64 && *fd >= 0; ++i) {
            char buf[65536];
            ssize_t n = ::read(*fd, buf, sizeof buf);
            if (n <= 0) break;
            if (s.describe && *fd == s.out) s.captured.append(buf, size_t(n));
            else send(s, *fd == s.err ? channel::errout : channel::output, std::string(buf, size_t(n)));
        }
        close_fd(*fd);
    }
    close_fd(s.in);
    if (s.describe && code == 0) send(s, channel::output, describe_processes(s.captured));
    send(s, channel::exited, std::to_string(code));
    s.pid = -1;
}

// The host's client went away: the process keeps running, without its stdio (as with runc
// when the caller's pipes close: EOF on its stdin, EPIPE or SIGPIPE when it writes, SIGHUP
// from its terminal's hangup).
void AgentSessions::forget_process(Session& s) {
    for (int* fd : {&s.in, &s.out, &s.err, &s.master}) close_fd(*fd);
    s.pid = -1;
    s.to_host.clear();
    s.to_process.clear();
    s.in_end = false;
}

void AgentSessions::drop(Session& s) {
    forget_process(s);
    s.inbuf.clear();
    s.connected = false;
}

}  // namespace skiff::vm
