// Shared by the seccomp unit tests: run a function in a forked child and report how it ended,
// so a filter (which can never be removed) only ever lands in a throw-away process.
#pragma once
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "oci/spec.hpp"

namespace skiff::test {

// Exit codes the child uses for its own failures (kept away from errno values).
constexpr int kChildThrew = 200;

// Runs fn() in a child; its return value is the exit code. Returns the raw wait status.
inline int run_in_child(const std::function<int()>& fn) {
    pid_t pid = ::fork();
    if (pid == 0) {
        // Deaths by SIGSYS are expected: no core files in the test's cwd.
        struct rlimit no_core = {0, 0};
        ::setrlimit(RLIMIT_CORE, &no_core);
        int code = kChildThrew;
        try {
            code = fn();
        } catch (...) {
        }
        ::_exit(code);
    }
    int status = 0;
    if (pid < 0) return -1;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

inline oci::SeccompSyscall rule(std::vector<std::string> names, std::string action,
                                std::vector<oci::SeccompArg> args = {}) {
    oci::SeccompSyscall s;
    s.names = std::move(names);
    s.action = std::move(action);
    s.args = std::move(args);
    return s;
}

inline oci::SeccompArg arg(uint32_t index, std::string op, uint64_t value,
                           uint64_t value_two = 0) {
    oci::SeccompArg a;
    a.index = index;
    a.op = std::move(op);
    a.value = value;
    a.value_two = value_two;
    return a;
}

}  // namespace skiff::test
