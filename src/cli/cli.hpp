#pragma once
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "container/lifecycle.hpp"

namespace skiff::cli {

int main(int argc, char** argv);

// One command: its flags, its positional arguments' usage, and what it does.
struct Command {
    const char* name;
    const char* usage;    // "<container-id>"
    const char* summary;
    std::vector<FlagSpec> flags;
    int (*run)(const container::Globals& g, const Args& args);
    // How many positional arguments it takes at most, and whether exactly that many; -1: any,
    // what follows the id belongs to the process (exec, ps). As in runc, the command's own
    // flags count after the id too (`update ID --memory 1g`), except for those two, and any
    // other extra argument is an error, never ignored in silence.
    int max_args = 1;
    bool exact_args = true;
};

// The table --help prints, in its order; src/docgen/ makes the man pages and the bash
// completion from the same two tables, so they cannot drift apart.
const std::vector<FlagSpec>& global_flags();
std::vector<const Command*> all_commands();
// A command's flags as parsed: its table plus --help.
std::vector<FlagSpec> command_flags(const Command& c);

// What `skiff --version` prints: version, commit (when known), spec and libseccomp versions.
std::string version_text();

const std::vector<Command>& lifecycle_commands();
const std::vector<Command>& info_commands();
Command exec_command();
std::vector<Command> cgroup_commands();
std::vector<Command> checkpoint_commands();

// Signal by name ("KILL", "SIGKILL", "kill") or number; throws for anything else.
int parse_signal(const std::string& text);

// An error message as printed: control characters and bytes that are not UTF-8 (user input
// echoed in the message) escaped, so an error is always one non-empty line on stderr and a
// valid JSON string in --log.
std::string one_line(const std::string& message);

// The exit code of a failure from now on (default 1). exec sets 255 once its arguments are
// checked, as runc does, so that its caller tells the runtime's failure from the exit code of
// the process it ran.
void set_failure_exit_code(int code);

// The container id argument (the first positional); "container id cannot be empty" if absent.
std::string container_id(const Args& args, const char* command);

// A file given on the command line, or standard input for "-" (exec --process, update -r).
std::string read_input(const std::string& path);

}  // namespace skiff::cli
