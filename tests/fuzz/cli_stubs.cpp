// cli.cpp (parse_signal's home) refers to the command tables, which pull in the whole
// runtime. The CLI fuzz target never dispatches a command, so empty tables stand in.
#include "cli/cli.hpp"
#include "container/rootless.hpp"

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
std::vector<Command> checkpoint_commands() { return {}; }
std::string version_text() { return {}; }

}  // namespace skiff::cli

// The global flags' defaults, as a root runtime on the host sees them.
namespace skiff::container::rootless {

bool resolve(const std::string& flag) { return flag == "true"; }
std::string default_state_root(bool* xdg) {
    if (xdg) *xdg = false;
    return "/run/skiff";
}

}  // namespace skiff::container::rootless
