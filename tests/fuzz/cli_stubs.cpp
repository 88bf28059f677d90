// cli.cpp (parse_signal's home) refers to the command tables, which pull in the whole
// runtime. The CLI fuzz target never dispatches a command, so empty tables stand in.
#include "cli/cli.hpp"

namespace skiff::cli {

const std::vector<Command>& lifecycle_commands() {
    static const std::vector<Command> none;
    return none;
}
const std::vector<Command>& info_commands() {
    static const std::vector<Command> none;
    return none;
}
Command exec_command() { return Command{"exec", "", "", {}, nullptr}; }
std::vector<Command> cgroup_commands() { return {}; }
std::string version_text() { return {}; }

}  // namespace skiff::cli
