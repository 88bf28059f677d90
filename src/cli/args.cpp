#include "cli/args.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "base/error.hpp"

namespace skiff::cli {
namespace {

// The spec of a defined flag spelt `arg` ("-x", "--x", "--x=v"), or nullptr.
const FlagSpec* defined_flag(const std::vector<FlagSpec>& specs, const std::string& arg) {
    if (arg.size() < 2 || arg[0] != '-' || arg == "--") return nullptr;
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    name = name.substr(0, name.find('='));
    for (const auto& s : specs)
        for (const auto& n : s.names)
            if (n == name) return &s;
    return nullptr;
}

// argv with the defined flags (and their values) after `start` moved in front of the other
// arguments, keeping their order; nothing after "--" moves.
std::vector<std::string> flags_first(const std::vector<FlagSpec>& specs, const std::vector<std::string>& argv,
                                     size_t start) {
    std::vector<std::string> flags(argv.begin(), argv.begin() + long(std::min(start, argv.size()))), rest;
    for (size_t i = start; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a == "--") {
            rest.insert(rest.end(), argv.begin() + long(i), argv.end());
            break;
        }
        const FlagSpec* spec = defined_flag(specs, a);
        if (!spec) {
            rest.push_back(a);
            continue;
        }
        flags.push_back(a);
        if (spec->takes_value && a.find('=') == std::string::npos && i + 1 < argv.size()) flags.push_back(argv[++i]);
    }
    flags.insert(flags.end(), rest.begin(), rest.end());
    return flags;
}

}  // namespace

Args::Args(const std::vector<FlagSpec>& specs, const std::vector<std::string>& in, size_t start, bool reorder) {
    const std::vector<std::string>& argv = reorder ? flags_first(specs, in, start) : in;
    size_t i = start;
    for (; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a == "--") { ++i; break; }
        if (a.size() < 2 || a[0] != '-') break;
        std::string body = a.substr(a[1] == '-' ? 2 : 1);
        std::string name = body, value;
        bool has_value = false;
        if (auto eq = body.find('='); eq != std::string::npos) {
            name = body.substr(0, eq);
            value = body.substr(eq + 1);
            has_value = true;
        }
        const FlagSpec* spec = nullptr;
        for (const auto& s : specs)
            for (const auto& n : s.names)
                if (n == name) spec = &s;
        if (!spec) throw Error("flag provided but not defined: -" + name, EINVAL);
        if (spec->takes_value && !has_value) {
            if (i + 1 >= argv.size()) throw Error("flag needs an argument: -" + name, EINVAL);
            value = argv[++i];
        } else if (!spec->takes_value && !has_value) {
            value = "true";
        } else if (!spec->takes_value && value != "true" && value != "false" && value != "1" && value != "0") {
            throw Error("invalid boolean value \"" + value + "\" for -" + name, EINVAL);
        }
        values_[spec->names[0]].push_back(value);
    }
    for (; i < argv.size(); ++i) positional_.push_back(argv[i]);
}

bool Args::has(const std::string& name) const { return values_.count(name) != 0; }

bool Args::flag(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) return false;
    const std::string& v = it->second.back();
    return v == "true" || v == "1";
}

std::string Args::value(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second.back();
}

std::vector<std::string> Args::values(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int Args::int_value(const std::string& name, int fallback) const {
    if (!has(name)) return fallback;
    std::string v = value(name);
    char* end = nullptr;
    errno = 0;
    long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || errno || n < 0 || n > 1 << 20)
        throw Error("invalid value \"" + v + "\" for flag -" + name, EINVAL);
    return int(n);
}

std::string describe_flags(const std::vector<FlagSpec>& specs) {
    std::string out;
    for (const auto& s : specs) {
        std::string names;
        for (const auto& n : s.names) names += (names.empty() ? "" : ", ") + std::string(n.size() == 1 ? "-" : "--") + n;
        if (s.takes_value) names += " value";
        out += "   " + names + std::string(names.size() < 30 ? 30 - names.size() : 1, ' ') + s.help + "\n";
    }
    return out;
}

}  // namespace skiff::cli
