// The sd_notify relay of notify_socket.hpp.
#include "container/notify_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "base/error.hpp"
#include "container/tty_relay.hpp"
#include "linux/log.hpp"
#include "linux/syscalls.hpp"

namespace skiff::container::notify {
namespace {

const char* const kSocketName = "notify.sock";
const char* const kDirInContainer = "/run/notify";

// Beside the record <root>/<id> and its fifo; ':' is never in an id, so list skips it.
std::string dir_path(const std::string& state_root, const std::string& id) {
    return state_root + "/" + id + ":notify";
}

// Binds <dir>/notify.sock through the directory's fd: the path stays short whatever the
// length of the state root and the id (sun_path holds 108 bytes).
Fd bind_in(int dir_fd, const std::string& dir) {
    if (::unlinkat(dir_fd, kSocketName, 0) < 0 && errno != ENOENT)  // a failed start's
        throw_errno("remove " + dir + "/" + kSocketName);
    Fd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) throw_errno("socket");
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dir_fd, kSocketName);
    if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        throw_errno("bind notify socket " + dir + "/" + kSocketName);
    // Any user of the container may notify (runc's mode); the directory is read-only there.
    if (::fchmodat(dir_fd, kSocketName, 0777, 0) < 0) throw_errno("chmod " + dir + "/" + kSocketName);
    return sock;
}

Fd open_dir(const std::string& dir) {
    return Fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

void send_all(int host, const std::string& message) {
    if (::send(host, message.data(), message.size(), MSG_NOSIGNAL) < 0) throw_errno("send to NOTIFY_SOCKET");
}

// sd_notify_barrier: BARRIER=1 with the write end of a pipe; the host closes it once it has
// handled everything before. A host that ignores barriers is waited for 30 s, as runc does.
void barrier(int host) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) < 0) throw_errno("pipe");
    Fd read_end(ends[0]), write_end(ends[1]);
    char payload[] = "BARRIER=1";
    struct iovec iov = {payload, sizeof payload - 1};
    char control[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int fd = write_end.get();
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (::sendmsg(host, &msg, MSG_NOSIGNAL) < 0) throw_errno("sendmsg to NOTIFY_SOCKET");
    write_end.reset();
    struct pollfd p = {read_end.get(), POLLIN, 0};
    int n;
    while ((n = ::poll(&p, 1, 30000)) < 0 && errno == EINTR) {
    }
    if (n == 0) {
        log::warn("Timeout after waiting 30s for barrier. Ignored.");
        return;
    }
    char byte;
    if (::read(read_end.get(), &byte, 1) != 0) throw Error("unexpected read from synchronization pipe", EPROTO);
}

// The READY= line of a datagram, or "".
std::string ready_line(const char* data, size_t size) {
    std::string text(data, size);
    size_t at = 0;
    while (at <= text.size()) {
        size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        if (text.compare(at, 6, "READY=") == 0) return text.substr(at, end - at);
        at = end + 1;
    }
    return "";
}

}  // namespace

const char* host_address() {
    const char* value = ::getenv("NOTIFY_SOCKET");
    return value ? value : "";
}

Fd setup_for_create(oci::Spec& spec, const std::string& state_root, const std::string& id, bool bind) {
    if (!*host_address()) return Fd();
    std::string dir = dir_path(state_root, id);
    // The id is new (its lock is ours), so anything here is a crashed run's.
    if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) throw_errno("mkdir " + dir);
    oci::Mount mount;
    mount.destination = kDirInContainer;
    mount.source = dir;
    mount.type = "bind";
    mount.options = {"bind", "nosuid", "noexec", "nodev", "ro"};  // runc's set
    spec.mounts.push_back(std::move(mount));
    auto& env = spec.process->env;
    env.erase(std::remove_if(env.begin(), env.end(),
                             [](const std::string& e) { return e.rfind("NOTIFY_SOCKET=", 0) == 0; }),
              env.end());
    env.push_back(std::string("NOTIFY_SOCKET=") + kDirInContainer + "/" + kSocketName);
    if (!bind) return Fd();
    Fd dir_fd = open_dir(dir);
    if (!dir_fd) throw_errno("open " + dir);
    return bind_in(dir_fd.get(), dir);
}

Fd bind_for_start(const std::string& state_root, const std::string& id) {
    if (!*host_address()) return Fd();
    std::string dir = dir_path(state_root, id);
    Fd dir_fd = open_dir(dir);
    if (!dir_fd) {
        if (errno == ENOENT) return Fd();  // created without NOTIFY_SOCKET: nothing to relay
        throw_errno("open " + dir);
    }
    return bind_in(dir_fd.get(), dir);
}

Fd connect_host() {
    std::string address = host_address();
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    if (address.size() >= sizeof addr.sun_path)
        throw Error("NOTIFY_SOCKET: path too long: " + address, ENAMETOOLONG);
    std::memcpy(addr.sun_path, address.data(), address.size());
    socklen_t length = socklen_t(offsetof(struct sockaddr_un, sun_path) + address.size() + 1);
    if (address[0] == '@') {  // an abstract address, as systemd may hand out
        addr.sun_path[0] = '\0';
        length = socklen_t(offsetof(struct sockaddr_un, sun_path) + address.size());
    }
    Fd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) throw_errno("socket");
    if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), length) < 0)
        throw_errno("connect to NOTIFY_SOCKET " + address);
    return sock;
}

bool relay_ready(int own, int host, int pidfd, pid_t main_pid, const sigset_t* signals, TtyRelay* tty) {
    // SIGCHLD and SIGWINCH stay pending for the foreground wait that follows.
    sigset_t forwarded;
    if (signals) {
        forwarded = *signals;
        sigdelset(&forwarded, SIGCHLD);
        sigdelset(&forwarded, SIGWINCH);
    }
    Fd sig_fd(signals ? ::signalfd(-1, &forwarded, SFD_CLOEXEC) : -1);
    std::string ready;
    while (ready.empty()) {
        struct pollfd p[5] = {{own, POLLIN, 0}, {pidfd, POLLIN, 0}, {sig_fd.get(), POLLIN, 0},
                              {tty ? tty->stdin_fd() : -1, POLLIN, 0}, {tty ? tty->master_fd() : -1, POLLIN, 0}};
        if (::poll(p, 5, -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll notify socket");
        }
        if (tty && (p[3].revents & (POLLIN | POLLHUP | POLLERR))) tty->on_stdin();
        if (tty && (p[4].revents & (POLLIN | POLLHUP | POLLERR))) tty->on_master();
        // The socket first: a READY sent just before the exit is still passed on.
        if (p[0].revents & POLLIN) {
            char buf[4096];
            ssize_t n = ::recv(own, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) ready = ready_line(buf, size_t(n));
            continue;
        }
        if (p[1].revents) return false;  // exited without READY: nothing to tell the host
        struct signalfd_siginfo si;
        if ((p[2].revents & POLLIN) && ::read(sig_fd.get(), &si, sizeof si) == sizeof si)
            sys::pidfd_send_signal(pidfd, int(si.ssi_signo));
    }
    send_all(host, ready + "\n");
    send_all(host, "MAINPID=" + std::to_string(main_pid) + "\n");
    barrier(host);
    return true;
}

void remove_dir(const std::string& state_root, const std::string& id) {
    std::string dir = dir_path(state_root, id);
    ::unlink((dir + "/" + kSocketName).c_str());
    ::rmdir(dir.c_str());
}

}  // namespace skiff::container::notify
