// driver: runs and times the benchmark's commands for bench.py, which talks to it over a pipe.
//
// Why a C process and not Python's subprocess: the kernel folds the pre-exec memory of a spawned
// child into its peak RSS (ru_maxrss), so anything spawned from a 15 MB Python shows at least
// 15 MB. Spawned from this small static process, a runtime's peak RSS is its own. The clock is
// read here, around vfork+exec+wait4 only, so the driver's pipe traffic is outside every number.
// It is a child subreaper, so container inits orphaned by `create` become its children and can be
// waited for exactly, the same way for every runtime.
//
// Protocol (stdin -> stdout, one request at a time):
//   "X <n> <errfile>\n" then n commands, each "<argc>\n" followed by argc lines (the arguments).
//       Runs them one after another (stopping at the first failure) with stdin/stdout on
//       /dev/null and stderr into errfile. Answers one line per command run:
//       "<exit code> <wall ns> <peak rss KiB> <user+sys us>".
//       A command whose first argument is "?<path>" runs only if <path> exists (the rest is the
//       command); when skipped its answer line is "-1 0 0 0".
//   "W <pid>\n"  waits until pid has exited; answers "0 <wall ns> 0 0".
//   "R\n"        reaps exited orphans; answers "0 0 0 0".
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_CMDS = 8, MAX_ARGS = 64, MAX_LINE = 4096 };

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int read_line(char *buf, size_t size) {
  if (!fgets(buf, (int)size, stdin)) return -1;
  buf[strcspn(buf, "\n")] = 0;
  return 0;
}

static int devnull = -1;

// Runs argv to completion; fills wall ns and rusage. Returns the exit code (128+sig if killed).
static int run_one(char **argv, int errfd, long long *ns, struct rusage *ru) {
  long long t0 = now_ns();
  pid_t pid = vfork();
  if (pid == 0) {
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(errfd, 2);
    execv(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  if (pid < 0) {
    *ns = 0;
    memset(ru, 0, sizeof *ru);
    return 127;
  }
  while (wait4(pid, &status, 0, ru) < 0 && errno == EINTR) {
  }
  *ns = now_ns() - t0;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

static void do_exec(int n, const char *errfile) {
  static char args[MAX_CMDS][MAX_ARGS][MAX_LINE];
  static char *argv[MAX_CMDS][MAX_ARGS + 1];
  char line[MAX_LINE];
  if (n < 1 || n > MAX_CMDS) n = 0;
  for (int c = 0; c < n; c++) {
    if (read_line(line, sizeof line) < 0) exit(1);
    int argc = atoi(line);
    if (argc < 1 || argc > MAX_ARGS) exit(2);
    for (int i = 0; i < argc; i++) {
      if (read_line(args[c][i], MAX_LINE) < 0) exit(1);
      argv[c][i] = args[c][i];
    }
    argv[c][argc] = NULL;
  }
  int errfd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (errfd < 0) errfd = devnull;
  for (int c = 0; c < n; c++) {
    long long ns;
    struct rusage ru;
    char **cmd = argv[c];
    if (cmd[0][0] == '?') {
      if (access(cmd[0] + 1, F_OK) != 0) {
        printf("-1 0 0 0\n");
        continue;
      }
      cmd++;
    }
    int rc = run_one(cmd, errfd, &ns, &ru);
    long long cpu = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
                    ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    printf("%d %lld %ld %lld\n", rc, ns, ru.ru_maxrss, cpu);
    if (rc != 0) break;
  }
  if (errfd != devnull) close(errfd);
  fflush(stdout);
}

static void do_wait(pid_t pid) {
  long long t0 = now_ns();
  if (waitpid(pid, NULL, 0) < 0 && errno == ECHILD) {
    // Not our child (a runtime that keeps its own parent around): watch it through a pidfd.
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
      struct pollfd p = {.fd = fd, .events = POLLIN};
      while (poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
      close(fd);
    }
  }
  printf("0 %lld 0 0\n", now_ns() - t0);
  fflush(stdout);
}

int main(void) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    perror("driver: PR_SET_CHILD_SUBREAPER");
    return 1;
  }
  devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) {
    perror("driver: /dev/null");
    return 1;
  }
  char line[MAX_LINE];
  while (read_line(line, sizeof line) == 0) {
    if (line[0] == 'X') {
      int n = 0;
      char errfile[MAX_LINE] = "/dev/null";
      sscanf(line + 1, "%d %4095s", &n, errfile);
      do_exec(n, errfile);
    } else if (line[0] == 'W') {
      do_wait((pid_t)atoi(line + 1));
    } else if (line[0] == 'R') {
      while (waitpid(-1, NULL, WNOHANG) > 0) {
      }
      printf("0 0 0 0\n");
      fflush(stdout);
    } else {
      fprintf(stderr, "driver: bad request '%s'\n", line);
      return 2;
    }
  }
  // stdin closed: reap what is left and go; anything still running is reparented to bench.py.
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  return 0;
}
