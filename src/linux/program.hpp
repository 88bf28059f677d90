// Running a helper program (a hook) with data on its stdin and a deadline.
#pragma once
#include <string>
#include <vector>

namespace skiff::program {

struct Result {
    int status = 0;          // waitpid status
    bool timed_out = false;
    std::string output;      // stdout and stderr, merged, capped at 64 KiB
};

// timeout_s <= 0 waits forever. argv empty: argv[0] = path. env empty: our own environment
// (a hook without "env" gets the runtime's, as runc and crun give it). cwd: the directory it
// starts in ("" = ours). Throws only when it cannot start.
Result run_and_wait(const std::string& path, const std::vector<std::string>& argv,
           const std::vector<std::string>& env, const std::string& stdin_data, int timeout_s,
           const std::string& cwd = "");

// "exited with status 3" / "killed by signal 9" for messages.
std::string describe_status(int status);

}  // namespace skiff::program
