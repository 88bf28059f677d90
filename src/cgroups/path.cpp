#include "cgroups/path.hpp"

#include <vector>

#include "cgroups/fs.hpp"
#include "base/error.hpp"
#include "base/text.hpp"

namespace skiff::cgroups {

std::string normalize_cgroups_path(const std::string& cgroups_path, const std::string& id,
                                   bool systemd) {
    if (systemd)
        throw Error("linux.cgroupsPath: systemd cgroup driver is not available: no systemd on "
                    "this host");
    std::string p = cgroups_path;
    if (p.empty()) {
        // runc's cgroupfs driver puts an empty cgroupsPath at "<id>" relative to its own
        // cgroup; skiff uses a fixed absolute parent instead, so every container of this
        // runtime is found in one place whatever cgroup the caller happened to run in.
        if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..")
            throw Error("container id \"" + id + "\" cannot name a cgroup");
        return "/skiff/" + id;
    }
    if (p.find('\0') != std::string::npos || p.find('\n') != std::string::npos)
        throw Error("linux.cgroupsPath: invalid character in \"" + cgroups_path + "\"");
    bool absolute = p.front() == '/';
    std::vector<std::string> parts;
    for (auto piece : text::split(p, '/')) {
        std::string part(piece);
        if (part == ".") continue;
        if (part == "..")
            throw Error("linux.cgroupsPath: \"" + cgroups_path +
                        "\" must not contain \"..\" (it would leave the cgroup tree)");
        parts.push_back(part);
    }
    std::string out = absolute ? "/" : "";
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? "/" : "") + parts[i];
    if (parts.empty())
        throw Error("linux.cgroupsPath: \"" + cgroups_path +
                    "\" names the root cgroup; a container needs its own");
    return out;
}

std::string resolve_in(const MountedHierarchy& h, const std::string& normalized,
                       const std::string& proc_cgroup_text) {
    if (normalized.front() == '/') return fs::join(h.mount_point, normalized);
    std::string own = own_cgroup(proc_cgroup_text, h);
    if (own.empty()) own = "/";
    if (h.v2 && own != "/") own = own.substr(0, own.rfind('/'));
    return fs::join(fs::join(h.mount_point, own), normalized);
}

}  // namespace skiff::cgroups
