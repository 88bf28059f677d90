/* A tiny seccomp agent for tests: listens on a unix socket, receives one container process
 * state with the seccomp listener fd (SCM_RIGHTS), answers every notification, and exits
 * when the filtered process is gone.
 *
 *   seccomp_agent SOCKET MODE
 *     MODE  errno:N   the syscall fails with errno N
 *           continue  the kernel runs the syscall as if there were no filter
 *           fake:V    the syscall "succeeds" with return value V without running
 *
 * stdout, one line each: "ready", "state <json>", "notif <syscall nr>", "done".
 * Exit status 0 on success, 1 on any error (the reason goes to stderr). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int fail(const char *what) {
    fprintf(stderr, "seccomp_agent: %s: %s\n", what, strerror(errno));
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SOCKET errno:N|continue|fake:V\n", argv[0]);
        return 2;
    }
    int answer_errno = 0, cont = 0;
    long long fake_val = 0;
    if (strncmp(argv[2], "errno:", 6) == 0)
        answer_errno = atoi(argv[2] + 6);
    else if (strcmp(argv[2], "continue") == 0)
        cont = 1;
    else if (strncmp(argv[2], "fake:", 5) == 0)
        fake_val = atoll(argv[2] + 5);
    else {
        fprintf(stderr, "seccomp_agent: bad mode %s\n", argv[2]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof addr.sun_path) return 2;
    strcpy(addr.sun_path, argv[1]);
    int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (srv < 0) return fail("socket");
    unlink(argv[1]);
    if (bind(srv, (struct sockaddr *)&addr, sizeof addr) < 0) return fail("bind");
    if (listen(srv, 1) < 0) return fail("listen");
    printf("ready\n");

    int conn = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) return fail("accept");
    close(srv);
    unlink(argv[1]);

    /* The fd arrives with the first bytes; the rest of the JSON may follow until EOF. */
    static char buf[1 << 16];
    size_t len = 0;
    int notify_fd = -1;
    for (;;) {
        union {
            struct cmsghdr hdr;
            char space[CMSG_SPACE(sizeof(int))];
        } control;
        struct iovec iov = {buf + len, sizeof buf - 1 - len};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        msg.msg_control = control.space;
        msg.msg_controllen = sizeof control.space;
        ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail("recvmsg");
        if (n == 0) break;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
            memcpy(&notify_fd, CMSG_DATA(cm), sizeof(int));
        len += (size_t)n;
        if (len >= sizeof buf - 1) break;
    }
    close(conn);
    buf[len] = 0;
    printf("state %s\n", buf);
    if (notify_fd < 0) {
        fprintf(stderr, "seccomp_agent: no fd received\n");
        return 1;
    }

    struct seccomp_notif req;
    struct seccomp_notif_resp resp;
    for (;;) {
        struct pollfd pfd = {.fd = notify_fd, .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR) continue;
            return fail("poll");
        }
        /* POLLHUP: no process uses the filter any more. */
        if (!(pfd.revents & POLLIN)) break;
        memset(&req, 0, sizeof req);
        if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
            if (errno == EINTR || errno == ENOENT) continue; /* target died meanwhile */
            return fail("SECCOMP_IOCTL_NOTIF_RECV");
        }
        printf("notif %d\n", req.data.nr);
        memset(&resp, 0, sizeof resp);
        resp.id = req.id;
        if (cont)
            resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        else if (answer_errno)
            resp.error = -answer_errno;
        else
            resp.val = fake_val;
        if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT)
            return fail("SECCOMP_IOCTL_NOTIF_SEND");
    }
    printf("done\n");
    return 0;
}
