#include "linux/program.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cctype>
#include <cstring>

#include "base/error.hpp"
#include "linux/fd.hpp"
#include "linux/syscalls.hpp"

namespace skiff::program {
namespace {

std::vector<char*> c_strings(const std::vector<std::string>& v) {
    std::vector<char*> out;
    for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

long long now_ms() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

}  // namespace

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        // the signal's name too, lower case as runc prints it ("bad system call" for seccomp)
        std::string name = ::strsignal(WTERMSIG(status)) ? ::strsignal(WTERMSIG(status)) : "";
        if (!name.empty()) name[0] = char(std::tolower(static_cast<unsigned char>(name[0])));
        return "killed by signal " + std::to_string(WTERMSIG(status)) + (name.empty() ? "" : " (" + name + ")");
    }
    return "ended with wait status " + std::to_string(status);
}

Result run_and_wait(const std::string& path, const std::vector<std::string>& argv,
           const std::vector<std::string>& env, const std::string& stdin_data, int timeout_s,
           const std::string& cwd) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) < 0) throw_errno("pipe");
    Fd in_r(in[0]), in_w(in[1]);
    if (::pipe2(out, O_CLOEXEC) < 0) throw_errno("pipe");
    Fd out_r(out[0]), out_w(out[1]);

    std::vector<std::string> args = argv.empty() ? std::vector<std::string>{path} : argv;
    auto c_argv = c_strings(args);
    auto c_env = c_strings(env);

    int pidfd = -1;
    pid_t parent = ::getpid();
    struct clone_args clone_request = {};
    clone_request.flags = CLONE_PIDFD;
    clone_request.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    clone_request.exit_signal = SIGCHLD;
    long pid = sys::clone3(&clone_request);
    if (pid < 0) throw_errno("start " + path);
    if (pid == 0) {
        // Its own process group, so a timeout kills what it started too; and it dies with
        // us, so a runtime killed by its engine leaves no hook running.
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (::getppid() != parent) _exit(126);
        ::dup2(in_r.get(), 0);
        ::dup2(out_w.get(), 1);
        ::dup2(out_w.get(), 2);
        sys::close_range(3, ~0U, 0);
        if (!cwd.empty() && ::chdir(cwd.c_str()) < 0) {
            dprintf(2, "chdir %s: %s\n", cwd.c_str(), strerror(errno));
            _exit(127);
        }
        ::execve(path.c_str(), c_argv.data(), env.empty() ? environ : c_env.data());
        dprintf(2, "exec %s: %s\n", path.c_str(), strerror(errno));
        _exit(127);
    }
    Fd pid_fd(pidfd);
    in_r.reset();
    out_w.reset();

    // The program may not read its stdin at all: never block on it.
    ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
    size_t written = 0;
    Result result;
    long long deadline = timeout_s > 0 ? now_ms() + timeout_s * 1000LL : -1;
    bool exited = false;
    while (!exited) {
        if (written < stdin_data.size() && in_w) {
            ssize_t n = ::write(in_w.get(), stdin_data.data() + written, stdin_data.size() - written);
            if (n > 0) written += size_t(n);
            else if (n < 0 && errno != EAGAIN) in_w.reset();
        }
        if (written >= stdin_data.size()) in_w.reset();
        struct pollfd fds[3] = {{pid_fd.get(), POLLIN, 0}, {out_r.get(), POLLIN, 0},
                                {in_w.valid() ? in_w.get() : -1, POLLOUT, 0}};
        int wait_ms = -1;
        if (deadline >= 0) {
            wait_ms = int(deadline - now_ms());
            if (wait_ms <= 0) {
                sys::pidfd_send_signal(pid_fd.get(), SIGKILL);
                ::kill(-pid_t(pid), SIGKILL);  // the group: helpers the program started
                result.timed_out = true;
                break;
            }
        }
        int n = ::poll(fds, out_r ? 3 : 1, wait_ms);
        if (n < 0 && errno != EINTR) break;
        if (out_r && (fds[1].revents & (POLLIN | POLLHUP))) {
            char buf[4096];
            ssize_t r = ::read(out_r.get(), buf, sizeof buf);
            if (r > 0) {
                if (result.output.size() < 65536) result.output.append(buf, size_t(r));
            } else {
                out_r.reset();
            }
        }
        if (fds[0].revents & POLLIN) exited = true;
    }
    int status = 0;
    while (::waitpid(int(pid), &status, 0) < 0 && errno == EINTR) {
    }
    // Drain what the program wrote last.
    if (out_r) {
        ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
        char buf[4096];
        ssize_t r;
        while ((r = ::read(out_r.get(), buf, sizeof buf)) > 0 && result.output.size() < 65536)
            result.output.append(buf, size_t(r));
    }
    result.status = status;
    return result;
}

}  // namespace skiff::program
