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

// Signal by name ("KILL", "SIGKILL", "kill") or number; throws for anything else.
int parse_signal(const std::string& text);

// An error message as printed: control characters and bytes that are not UTF-8 (user input
// echoed in the message) escaped, so an error is always one non-empty line on stderr and a
// valid JSON string in --log.
std::string one_line(const std::string& message);

// The container id argument (the first positional); "container id cannot be empty" if absent.
std::string container_id(const Args& args, const char* command);

}  // namespace skiff::cli
