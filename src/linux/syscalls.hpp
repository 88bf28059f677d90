// Typed wrappers for the syscalls glibc 2.36 does not wrap (clone3, pidfd_*, openat2, the
// mount API). They return -1 and set errno like libc does.
#pragma once
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>

namespace skiff::sys {

inline long clone3(struct clone_args* args) {
    return ::syscall(SYS_clone3, args, sizeof(struct clone_args));
}
inline int pidfd_open(pid_t pid, unsigned flags = 0) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}
inline int pidfd_send_signal(int pidfd, int sig) {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}
inline int openat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how = {};
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
}
inline int mount_setattr(int dirfd, const char* path, unsigned flags, struct mount_attr* attr) {
    return static_cast<int>(::syscall(SYS_mount_setattr, dirfd, path, flags, attr, sizeof(*attr)));
}
inline int open_tree(int dirfd, const char* path, unsigned flags) {
    return static_cast<int>(::syscall(SYS_open_tree, dirfd, path, flags));
}
inline int move_mount(int from_dirfd, const char* from, int to_dirfd, const char* to,
                      unsigned flags) {
    return static_cast<int>(::syscall(SYS_move_mount, from_dirfd, from, to_dirfd, to, flags));
}
inline int close_range(unsigned first, unsigned last, unsigned flags) {
    return static_cast<int>(::syscall(SYS_close_range, first, last, flags));
}
inline int pivot_root(const char* new_root, const char* put_old) {
    return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}
inline int ioprio_set(int which, int who, int ioprio) {
    return static_cast<int>(::syscall(SYS_ioprio_set, which, who, ioprio));
}

}  // namespace skiff::sys
