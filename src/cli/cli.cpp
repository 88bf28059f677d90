// argv -> global flags -> the command table. Errors are printed once, to stderr and to --log.
#include "cli/cli.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstring>

#include "container/rootless.hpp"
#include "base/global_flags.h"
#include "base/error.hpp"
#include "linux/log.hpp"
#include "base/text.hpp"

namespace skiff::cli {

int g_failure_exit_code = 1;

// From the one list (base/global_flags.h), which the parsers before this one read too.
const std::vector<FlagSpec>& global_flags() {
#define SKIFF_FLAG_SPEC_(long_name, short_name, takes_value, help) \
    {*short_name ? std::vector<std::string>{long_name, short_name} : std::vector<std::string>{long_name}, \
     bool(takes_value), help},
    static const std::vector<FlagSpec> flags = {SKIFF_GLOBAL_FLAGS(SKIFF_FLAG_SPEC_)};
#undef SKIFF_FLAG_SPEC_
    return flags;
}

std::vector<const Command*> all_commands() {
    static const Command exec = exec_command();
    static const std::vector<Command> cgroup = cgroup_commands();
    static const std::vector<Command> criu = checkpoint_commands();
    std::vector<const Command*> out;
    for (const auto& c : lifecycle_commands()) out.push_back(&c);
    out.push_back(&exec);
    for (const auto& c : cgroup) out.push_back(&c);
    for (const auto& c : criu) out.push_back(&c);
    for (const auto& c : info_commands()) out.push_back(&c);
    return out;
}

std::vector<FlagSpec> command_flags(const Command& c) {
    std::vector<FlagSpec> flags = c.flags;
    flags.push_back({{"help", "h"}, false, "show help"});
    return flags;
}

namespace {

void print_help() {
    std::string s = "NAME:\n   skiff - an OCI container runtime\n\nUSAGE:\n   skiff [global options] command [command options] [arguments...]\n\nCOMMANDS:\n";
    for (const Command* c : all_commands()) {
        std::string n = c->name;
        s += "   " + n + std::string(n.size() < 12 ? 12 - n.size() : 1, ' ') + c->summary + "\n";
    }
    s += "\nGLOBAL OPTIONS:\n" + describe_flags(global_flags());
    fputs(s.c_str(), stdout);
}

void print_command_help(const Command& c) {
    std::string s = std::string("NAME:\n   skiff ") + c.name + " - " + c.summary + "\n\nUSAGE:\n   skiff " +
                    c.name + " [command options] " + c.usage + "\n";
    if (!c.flags.empty()) s += "\nOPTIONS:\n" + describe_flags(c.flags);
    fputs(s.c_str(), stdout);
}

}  // namespace

void set_failure_exit_code(int code) { g_failure_exit_code = code; }

std::string container_id(const Args& args, const char* command) {
    if (args.positional().empty() || args.positional()[0].empty())
        throw Error(std::string(command) + ": container id cannot be empty", EINVAL);
    return args.positional()[0];
}

std::string read_input(const std::string& path) {
    return path == "-" ? text::read_fd(0, "standard input") : text::read_file(path);
}

int main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);
    std::vector<std::string> av(argv, argv + argc);
    std::string command_name = "skiff";
    try {
        // Global flags stop at the command name.
        Args global(global_flags(), av, 1);
        log::Config lc;
        lc.path = global.value("log");
        std::string format = global.value("log-format", "text");
        if (format != "text" && format != "json")
            throw Error("invalid log-format: " + format + " (use text or json)", EINVAL);
        lc.json = format == "json";
        lc.debug = global.flag("debug");
        log::configure(lc);

        if (global.flag("version")) {
            fputs(version_text().c_str(), stdout);
            return 0;
        }
        if (global.positional().empty() || global.flag("help")) {
            print_help();
            return global.positional().empty() && !global.flag("help") ? 1 : 0;
        }
        container::Globals g;
        g.root = global.has("root") ? global.value("root") : container::rootless::default_state_root();
        g.systemd_cgroup = global.flag("systemd-cgroup");
        g.criu = global.value("criu", "criu");
        std::string rootless = global.value("rootless", "auto");
        if (rootless != "true" && rootless != "false" && rootless != "auto")
            throw Error("invalid value \"" + rootless + "\" for flag -rootless: use true, false or auto", EINVAL);
        g.rootless = container::rootless::resolve(rootless);

        size_t cmd_index = size_t(argc) - global.positional().size();
        command_name = av[cmd_index];
        if (command_name == "help") {
            print_help();
            return 0;
        }
        for (const Command* c : all_commands()) {
            if (command_name != c->name) continue;
            Args args(command_flags(*c), av, cmd_index + 1, c->max_args >= 0);
            if (args.flag("help")) {
                print_command_help(*c);
                return 0;
            }
            if (c->max_args >= 0 && args.positional().size() > size_t(c->max_args))
                throw Error("\"" + command_name + "\" requires " + (c->exact_args ? "exactly " : "a maximum of ") +
                                std::to_string(c->max_args) + " argument(s)",
                            EINVAL);
            return c->run(g, args);
        }
        throw Error("No help topic for '" + command_name + "'", EINVAL);
    } catch (const std::exception& e) {
        std::string msg = one_line(e.what());
        // One line on stderr, and the same as an "error" line in --log when given.
        fprintf(stderr, "skiff: %s\n", msg.c_str());
        if (log::to_file()) log::error(msg);
        return g_failure_exit_code;
    }
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when the bytes there are not one.
size_t utf8_sequence(const std::string& s, size_t i) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k)
        if ((b(i + k) & 0xc0) != 0x80) return 0;
    // No overlong forms, surrogates or code points past U+10FFFF.
    if (n == 3 && ((c == 0xe0 && b(i + 1) < 0xa0) || (c == 0xed && b(i + 1) > 0x9f))) return 0;
    if (n == 4 && ((c == 0xf0 && b(i + 1) < 0x90) || (c == 0xf4 && b(i + 1) > 0x8f))) return 0;
    return n;
}

}  // namespace

std::string one_line(const std::string& message) {
    std::string out;
    out.reserve(message.size());
    for (size_t i = 0; i < message.size(); ++i) {
        char c = message[i];
        auto u = static_cast<unsigned char>(c);
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (size_t n = u >= 0x80 ? utf8_sequence(message, i) : 0; n > 0) {
            out.append(message, i, n);  // kept: the log must stay valid UTF-8 JSON
            i += n - 1;
        } else if (u < 0x20 || u >= 0x7f) {
            char buf[8];
            snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out.empty() ? "unknown error" : out;
}

int parse_signal(const std::string& text) {
    static const std::pair<const char*, int> kSignals[] = {
        {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT},   {"ILL", SIGILL},
        {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},   {"IOT", SIGIOT},     {"BUS", SIGBUS},
        {"FPE", SIGFPE},   {"KILL", SIGKILL},   {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},
        {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},   {"TERM", SIGTERM},
        {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
        {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},   {"TTOU", SIGTTOU},   {"URG", SIGURG},
        {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},   {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
        {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"POLL", SIGPOLL},   {"PWR", SIGPWR},
        {"SYS", SIGSYS},
    };
    if (!text.empty() && std::all_of(text.begin(), text.end(), ::isdigit)) {
        int n = std::atoi(text.c_str());
        // 0 sends nothing: the liveness probe of kill(2).
        if (n >= 0 && n <= SIGRTMAX && text.size() < 4) return n;
        throw Error("invalid signal \"" + text + "\"", EINVAL);
    }
    std::string name;
    for (char c : text) name += char(::toupper(static_cast<unsigned char>(c)));
    if (name.rfind("SIG", 0) == 0) name = name.substr(3);
    for (const auto& [n, v] : kSignals)
        if (name == n) return v;
    if (name.rfind("RTMIN", 0) == 0 || name.rfind("RTMAX", 0) == 0) {
        int base = name[2] == 'M' && name[3] == 'I' ? SIGRTMIN : SIGRTMAX;
        std::string rest = name.substr(5);
        if (rest.empty()) return base;
        // An optional sign and one or two digits: atoi of a longer number can overflow.
        size_t digits = rest[0] == '+' || rest[0] == '-' ? 1 : 0;
        bool ok = rest.size() > digits && rest.size() - digits <= 2 &&
                  std::all_of(rest.begin() + long(digits), rest.end(), ::isdigit);
        int sig = ok ? base + std::atoi(rest.c_str()) : 0;
        if (ok && sig >= SIGRTMIN && sig <= SIGRTMAX) return sig;
    }
    throw Error("unknown signal \"" + text + "\"", EINVAL);
}

}  // namespace skiff::cli
