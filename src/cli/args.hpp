// runc-style flag parsing: "-b DIR", "-b=DIR", "--bundle DIR", "--bundle=DIR", "-bundle DIR"
// (Go's flag package treats one and two dashes alike); parsing stops at the first positional
// argument or "--". With `reorder`, a command's defined flags that follow its positional
// arguments are taken as well (`update ID --memory 1g`), as runc's command-line library
// reorders them for every command but exec and ps.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace skiff::cli {

struct FlagSpec {
    std::vector<std::string> names;  // long name first, then short ones
    bool takes_value = false;
    std::string help;
};

class Args {
public:
    // Throws skiff::Error("flag provided but not defined: -x") and friends.
    Args(const std::vector<FlagSpec>& specs, const std::vector<std::string>& argv, size_t start,
         bool reorder = false);

    bool has(const std::string& name) const;
    bool flag(const std::string& name) const;  // a bool flag; "--x=false" counts as false
    std::string value(const std::string& name, const std::string& fallback = "") const;
    std::vector<std::string> values(const std::string& name) const;  // repeatable flags
    int int_value(const std::string& name, int fallback) const;
    const std::vector<std::string>& positional() const { return positional_; }

private:
    std::map<std::string, std::vector<std::string>> values_;  // by long name
    std::vector<std::string> positional_;
};

// "Usage" text of a flag table, for --help.
std::string describe_flags(const std::vector<FlagSpec>& specs);

}  // namespace skiff::cli
