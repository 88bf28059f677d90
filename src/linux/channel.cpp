#include "linux/channel.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "base/error.hpp"

namespace skiff {

std::pair<Channel, Channel> Channel::pair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) throw_errno("socketpair");
    return {Channel(Fd(sv[0])), Channel(Fd(sv[1]))};
}

int connect_unix(const std::string& path, const char* what) {
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path)
        throw Error(std::string(what) + " path too long: " + path, ENAMETOOLONG);
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_errno("socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        throw_errno(std::string("connect to ") + what + " " + path);
    return fd.release();
}

void send_fds(int socket_fd, const std::string& payload, const std::vector<int>& fds) {
    std::string data = payload.empty() ? std::string(1, '\0') : payload;
    struct iovec iov = {data.data(), data.size()};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<char> control;
    if (!fds.empty()) {
        control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    for (;;) {
        if (::sendmsg(socket_fd, &msg, MSG_NOSIGNAL) >= 0) return;
        if (errno != EINTR) throw_errno("sendmsg");
    }
}

void Channel::send(Msg type, const std::string& payload, const std::vector<int>& fds) {
    send_fds(fd_.get(), std::string(1, char(type)) + payload, fds);
}

bool Channel::receive(Message& out) {
    // In .bss, not a zero-filled vector: only the pages a message lands in become resident
    // (a vector would fault in all 32 pages, in the runtime and again in the init).
    static char buf[1 << 17];
    struct iovec iov = {buf, sizeof buf};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == ECONNRESET) return false;
        throw_errno("recvmsg");
    }
    if (n == 0) return false;
    out.type = Msg(buf[0]);
    out.payload.assign(buf + 1, size_t(n - 1));
    out.fds.clear();
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int* fds = reinterpret_cast<int*>(CMSG_DATA(c));
        for (size_t i = 0; i < count; ++i) out.fds.emplace_back(fds[i]);
    }
    return true;
}

}  // namespace skiff
