#include "cgroups/systemd_path.hpp"

#include <cerrno>
#include <vector>

#include "base/error.hpp"

namespace skiff::cgroups::systemd {
namespace {

// systemd's UNIT_NAME_MAX is 256 with the terminating NUL.
constexpr size_t kUnitNameMax = 255;

bool unit_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '\\' || c == '@';
}

[[noreturn]] void bad(const std::string& path, const std::string& why) {
    throw Error("linux.cgroupsPath: \"" + path + "\": " + why, EINVAL);
}

// A piece of a unit name: systemd's characters only, no path separator, no "..".
void check_piece(const std::string& path, const std::string& what, const std::string& s) {
    if (s.find('/') != std::string::npos) bad(path, what + " \"" + s + "\" must not contain '/'");
    if (s.find("..") != std::string::npos) bad(path, what + " \"" + s + "\" must not contain \"..\"");
    for (char c : s)
        if (!unit_char(c)) bad(path, what + " \"" + s + "\" has a character systemd refuses in a unit name");
}

}  // namespace

std::string expand_slice(const std::string& slice, const std::string& what) {
    const std::string suffix = ".slice";
    if (slice.size() <= suffix.size() || slice.compare(slice.size() - suffix.size(), suffix.size(), suffix) != 0)
        throw Error(what + ": \"" + slice + "\" is not a slice name (it must end in .slice)", EINVAL);
    if (slice.find('/') != std::string::npos)
        throw Error(what + ": slice \"" + slice + "\" must not contain '/'", EINVAL);
    std::string base = slice.substr(0, slice.size() - suffix.size());
    if (base == "-") return "/";
    std::string out, prefix;
    size_t start = 0;
    for (;;) {
        size_t dash = base.find('-', start);
        std::string part = base.substr(start, dash == std::string::npos ? std::string::npos : dash - start);
        // "a--b.slice" and "-a.slice" name no slice systemd would make.
        if (part.empty()) throw Error(what + ": slice \"" + slice + "\" has an empty component", EINVAL);
        out += "/" + prefix + part + suffix;
        prefix += part + "-";
        if (dash == std::string::npos) break;
        start = dash + 1;
    }
    return out;
}

UnitPlace parse_cgroups_path(const std::string& cgroups_path, const std::string& id) {
    std::string slice, prefix, name;
    if (cgroups_path.empty()) {
        slice = "system.slice";
        prefix = "skiff";
        name = id;
    } else {
        std::vector<std::string> parts;
        size_t start = 0;
        for (;;) {
            size_t colon = cgroups_path.find(':', start);
            parts.push_back(cgroups_path.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
            if (colon == std::string::npos) break;
            start = colon + 1;
        }
        if (parts.size() != 3)
            bad(cgroups_path, "the systemd cgroup driver expects \"slice:prefix:name\"");
        slice = parts[0].empty() ? "system.slice" : parts[0];
        prefix = parts[1];
        name = parts[2];
    }
    if (name.empty()) bad(cgroups_path, "the name (after the second ':') is empty");
    check_piece(cgroups_path, "slice", slice);
    check_piece(cgroups_path, "prefix", prefix);
    check_piece(cgroups_path, "name", name);

    UnitPlace p;
    p.slice = slice;
    std::string parent = expand_slice(slice, "linux.cgroupsPath");
    const std::string suffix = ".slice";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        // A slice unit sits where its own name says, whatever the parent field holds.
        p.unit = name;
        p.is_slice = true;
        p.cgroup = expand_slice(name, "linux.cgroupsPath");
    } else {
        p.unit = (prefix.empty() ? "" : prefix + "-") + name + ".scope";
        p.cgroup = (parent == "/" ? "" : parent) + "/" + p.unit;
    }
    if (p.unit.size() > kUnitNameMax)
        bad(cgroups_path, "unit name \"" + p.unit + "\" is longer than systemd's " +
                              std::to_string(kUnitNameMax) + " characters");
    return p;
}

}  // namespace skiff::cgroups::systemd
