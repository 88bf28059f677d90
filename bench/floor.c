// floor: the least any runtime has to do to start /bin/true in a container, so the benchmark can
// show how far each runtime is from the limit. One clone with the namespaces of the bench config
// (pid, mount, uts, ipc, net), pivot_root into the rootfs, /proc, exec; the parent waits.
// No cgroup, no config parsing, no state: everything a real runtime adds is above this line.
//
// usage: floor ROOTFS [CMD...]   (CMD defaults to /bin/true; exit status is the child's)
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *rootfs;
static char *const *cmd;
static char *const default_cmd[] = {"/bin/true", NULL};

// The child never returns from clone's function except by exec or _exit, so a static stack is
// enough and saves an mmap.
static char child_stack[64 * 1024] __attribute__((aligned(16)));

static void die(const char *what) {
  fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
  _exit(127);
}

static int child(void *arg) {
  (void)arg;
  // Our mounts must not propagate back to the benchmark's namespace.
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make / private");
  // pivot_root needs the new root to be a mount point.
  if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) != 0) die("bind rootfs");
  if (chdir(rootfs) != 0) die("chdir rootfs");
  // pivot_root(".", ".") stacks the old root under the new one; detaching "." then drops it.
  if (syscall(SYS_pivot_root, ".", ".") != 0) die("pivot_root");
  if (umount2(".", MNT_DETACH) != 0) die("detach old root");
  if (chdir("/") != 0) die("chdir /");
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) die("mount proc");
  execv(cmd[0], cmd);
  die("exec");
  return 127;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: floor ROOTFS [CMD...]\n");
    return 2;
  }
  rootfs = argv[1];
  cmd = argc > 2 ? argv + 2 : default_cmd;
  int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD;
  pid_t pid = clone(child, child_stack + sizeof child_stack, flags, NULL);
  if (pid < 0) {
    perror("floor: clone");
    return 127;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      perror("floor: waitpid");
      return 127;
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
