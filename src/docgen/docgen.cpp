// skiff-docgen: the man pages and the bash completion, written at build time from the same
// tables `skiff --help` prints (cli::global_flags, cli::all_commands), so the three cannot
// drift apart.
//
//   skiff-docgen MAN_DIR COMPLETION_TEMPLATE COMPLETION_OUT
//
// MAN_DIR gets skiff.8 and skiff-<command>.8 (stale pages removed first); COMPLETION_OUT is the
// template with its @SKIFF_TABLES@ line replaced by the tables as bash arrays.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "container/features.hpp"

namespace {

using skiff::cli::Command;
using skiff::cli::FlagSpec;

// Text for a roff text line: backslashes escaped, no control character at the line start.
std::string roff(const std::string& text) {
    std::string out;
    for (char c : text) out += c == '\\' ? std::string("\\e") : std::string(1, c);
    if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
    return out;
}

// Words typed on the command line (flag names, usage): "-" is a minus sign there.
std::string typed(const std::string& text) {
    std::string out;
    for (char c : roff(text)) out += c == '-' ? std::string("\\-") : std::string(1, c);
    return out;
}

std::string dashed(const std::string& name) { return (name.size() == 1 ? "-" : "--") + name; }

// Every spelling of a flag as the completion offers it: --long, -s.
std::vector<std::string> spellings(const FlagSpec& f) {
    std::vector<std::string> out;
    for (const auto& n : f.names) out.push_back(dashed(n));
    return out;
}

// Reproducible: the date of the source (dpkg-buildpackage sets SOURCE_DATE_EPOCH from
// debian/changelog), today otherwise.
std::string page_date() {
    time_t t = time(nullptr);
    if (const char* e = getenv("SOURCE_DATE_EPOCH")) t = time_t(strtoll(e, nullptr, 10));
    char buf[16];
    strftime(buf, sizeof buf, "%Y-%m-%d", gmtime(&t));
    return buf;
}

std::string options_section(const char* title, const std::vector<FlagSpec>& flags) {
    std::string s = std::string(".SH ") + title + "\n";
    for (const auto& f : flags) {
        std::string tag;
        for (const auto& n : f.names) tag += (tag.empty() ? "" : ", ") + std::string("\\fB") + typed(dashed(n)) + "\\fR";
        if (f.takes_value) tag += " \\fIvalue\\fR";
        s += ".TP\n" + tag + "\n" + roff(f.help) + "\n";
    }
    return s;
}

std::string header(const std::string& name, const std::string& summary) {
    std::string upper;
    for (char c : name) upper += char(toupper(static_cast<unsigned char>(c)));
    return ".TH " + typed(upper) + " 8 \"" + page_date() + "\" \"skiff " + skiff::version() +
           "\" \"System Administration\"\n.SH NAME\n" + typed(name) + " \\- " + roff(summary) + "\n";
}

std::string main_page(const std::vector<const Command*>& commands) {
    std::string s = header("skiff", "an OCI container runtime");
    s += ".SH SYNOPSIS\n.B skiff\n[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIcommand options\\fR] "
         "[\\fIarguments\\fR...]\n";
    s += ".SH DESCRIPTION\n"
         "skiff runs an OCI bundle (a root filesystem and a config.json, runtime-spec v" +
         std::string(skiff::kSpecVersion) +
         ") as an isolated Linux process: namespaces, cgroups, capabilities, seccomp, mounts, "
         "devices and hooks, through the lifecycle create, start, kill, delete.\n"
         ".PP\n"
         "Its command line is runc's, so podman, containerd and docker can use it in runc's place. "
         "Flags take runc's spellings: \\fB\\-b\\fR \\fIdir\\fR, \\fB\\-b=\\fR\\fIdir\\fR, "
         "\\fB\\-\\-bundle\\fR \\fIdir\\fR and \\fB\\-bundle\\fR \\fIdir\\fR are the same. "
         "Global options come before the command, a command's options before its arguments.\n";
    s += ".SH COMMANDS\n";
    for (const Command* c : commands)
        s += ".TP\n.BR skiff\\-" + typed(c->name) + " (8)\n" + roff(c->summary) + "\n";
    s += options_section("GLOBAL OPTIONS", skiff::cli::global_flags());
    s += ".SH FILES\n"
         ".TP\n.I /run/skiff\nthe default state root: one file per container\n"
         ".TP\n.I /etc/containers/containers.conf.d/50\\-skiff.conf\n"
         "registers skiff with podman: \\fBpodman \\-\\-runtime skiff\\fR\n";
    s += ".SH SEE ALSO\n";
    for (const Command* c : commands) s += ".BR skiff\\-" + typed(c->name) + " (8),\n";
    s += ".BR runc (8),\n.BR podman (1)\n";
    return s;
}

std::string command_page(const Command& c) {
    std::string s = header(std::string("skiff-") + c.name, c.summary);
    s += ".SH SYNOPSIS\n.B skiff " + typed(c.name) + "\n[\\fIcommand options\\fR]";
    if (*c.usage) s += " \\fI" + typed(c.usage) + "\\fR";
    s += "\n.SH DESCRIPTION\n" + roff(c.summary) + ".\n";
    s += options_section("OPTIONS", skiff::cli::command_flags(c));
    s += ".SH SEE ALSO\n.BR skiff (8)\n";
    return s;
}

std::string joined(const std::vector<std::string>& words) {
    std::string s;
    for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
    return s;
}

// The tables as bash: commands, flags and value-taking flags per command ("-": the global ones).
std::string completion_tables(const std::vector<const Command*>& commands) {
    auto flag_words = [](const std::vector<FlagSpec>& flags, bool values_only) {
        std::vector<std::string> out;
        for (const auto& f : flags)
            if (!values_only || f.takes_value)
                for (const auto& s : spellings(f)) out.push_back(s);
        return joined(out);
    };
    std::vector<std::string> names, with_id;
    std::string flags = "declare -gA _skiff_flags=(\n    [-]=\"" + flag_words(skiff::cli::global_flags(), false) + "\"\n";
    std::string values = "declare -gA _skiff_value_flags=(\n    [-]=\"" + flag_words(skiff::cli::global_flags(), true) + "\"\n";
    for (const Command* c : commands) {
        names.push_back(c->name);
        // create and run name a new container: no existing id to offer there.
        std::string name = c->name;
        if (std::string(c->usage).rfind("<container-id>", 0) == 0 && name != "create" && name != "run")
            with_id.push_back(name);
        std::vector<FlagSpec> fl = skiff::cli::command_flags(*c);
        flags += std::string("    [") + c->name + "]=\"" + flag_words(fl, false) + "\"\n";
        values += std::string("    [") + c->name + "]=\"" + flag_words(fl, true) + "\"\n";
    }
    return "_skiff_commands=\"" + joined(names) + "\"\n" + "_skiff_id_commands=\"" + joined(with_id) +
           "\"\n" + flags + ")\n" + values + ")";
}

void write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
        std::cerr << "skiff-docgen: cannot write " << path << "\n";
        std::exit(1);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: skiff-docgen MAN_DIR COMPLETION_TEMPLATE COMPLETION_OUT\n";
        return 2;
    }
    namespace fs = std::filesystem;
    const std::vector<const Command*> commands = skiff::cli::all_commands();

    fs::path man = argv[1];
    fs::create_directories(man);
    for (const auto& e : fs::directory_iterator(man))
        if (e.path().extension() == ".8") fs::remove(e.path());
    write(man / "skiff.8", main_page(commands));
    for (const Command* c : commands) write(man / (std::string("skiff-") + c->name + ".8"), command_page(*c));

    std::ifstream in(argv[2]);
    std::stringstream tmpl;
    tmpl << in.rdbuf();
    if (!in) {
        std::cerr << "skiff-docgen: cannot read " << argv[2] << "\n";
        return 1;
    }
    std::string text = tmpl.str();
    const std::string marker = "@SKIFF_TABLES@";
    size_t at = text.find(marker);
    if (at == std::string::npos) {
        std::cerr << "skiff-docgen: " << argv[2] << " has no " << marker << " line\n";
        return 1;
    }
    text.replace(at, marker.size(), completion_tables(commands));
    fs::path out = argv[3];
    if (out.has_parent_path()) fs::create_directories(out.parent_path());
    write(out, text);
    return 0;
}
