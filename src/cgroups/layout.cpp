#include "cgroups/layout.hpp"

#include <dirent.h>

#include <algorithm>
#include <map>
#include <set>
#include <string_view>

#include "cgroups/fs.hpp"
#include "base/error.hpp"
#include "base/text.hpp"

namespace skiff::cgroups {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    for (auto piece : text::split(s, sep)) out.emplace_back(piece);
    return out;
}

std::string trim_slash(std::string s) {
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

std::vector<std::string> v2_controllers(const std::string& dir) {
    auto text = fs::read_opt(fs::join(dir, "cgroup.controllers"));
    return text ? split(text->substr(0, text->find('\n')), ' ') : std::vector<std::string>{};
}

Layout from_mountinfo(const std::string& root, const std::string& mountinfo) {
    Layout layout;
    std::string info = fs::read(mountinfo);
    bool root_is_v2 = false;
    for (auto line : text::lines(info)) {
        auto fields = text::split(line, ' ');
        auto dash = std::find(fields.begin(), fields.end(), "-");
        if (fields.size() < 5 || std::distance(dash, fields.end()) < 4) continue;
        std::string_view fstype = *(dash + 1);
        std::string super(*(dash + 3));
        std::string mp = trim_slash(text::unescape_mountinfo(fields[4]));
        // A later mount of any type hides what was mounted at or below its mount point
        // (a tmpfs over /sys/fs/cgroup/unified, as the benchmark does for crun).
        std::erase_if(layout.hierarchies, [&](const auto& o) {
            return o.mount_point == mp || o.mount_point.rfind(mp + "/", 0) == 0;
        });
        if (fstype != "cgroup" && fstype != "cgroup2") continue;
        std::string name;
        if (mp == root) {
            name = "";
        } else if (mp.rfind(root + "/", 0) == 0 && mp.find('/', root.size() + 1) == std::string::npos) {
            name = mp.substr(root.size() + 1);
        } else {
            continue;
        }
        MountedHierarchy h;
        h.name = name;
        h.mount_point = mp;
        h.v2 = fstype == "cgroup2";
        h.options = remount_options(super, h.v2, &h.controllers);
        if (h.v2) h.controllers = v2_controllers(mp);
        if (h.v2 && name.empty()) root_is_v2 = true;
        layout.hierarchies.push_back(std::move(h));
    }
    if (root_is_v2) {
        std::erase_if(layout.hierarchies, [](const auto& h) { return !h.name.empty(); });
        layout.mode = Mode::Unified;
        return layout;
    }
    std::erase_if(layout.hierarchies, [](const auto& h) { return h.name.empty(); });
    bool any_v1 = std::any_of(layout.hierarchies.begin(), layout.hierarchies.end(),
                              [](const auto& h) { return !h.v2; });
    if (!any_v1) throw Error("no cgroup hierarchy is mounted under " + root);
    bool any_v2 = std::any_of(layout.hierarchies.begin(), layout.hierarchies.end(),
                              [](const auto& h) { return h.v2; });
    layout.mode = any_v2 ? Mode::Hybrid : Mode::Legacy;
    return layout;
}

Layout from_directories(const std::string& root, const std::string& forced) {
    Layout layout;
    if (forced == "unified") {
        layout.mode = Mode::Unified;
        MountedHierarchy h;
        h.mount_point = root;
        h.v2 = true;
        h.controllers = v2_controllers(root);
        layout.hierarchies.push_back(h);
        return layout;
    }
    if (forced != "legacy" && forced != "hybrid")
        throw Error("unknown cgroup layout \"" + forced + "\"");
    layout.mode = forced == "legacy" ? Mode::Legacy : Mode::Hybrid;
    DIR* d = ::opendir(root.c_str());
    if (!d) throw_errno("open " + root);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (e->d_type == DT_DIR && n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
        MountedHierarchy h;
        h.name = n;
        h.mount_point = fs::join(root, n);
        if (n == "unified") {
            if (layout.mode == Mode::Legacy) continue;
            h.v2 = true;
            h.controllers = v2_controllers(h.mount_point);
        } else if (n == "systemd") {
            h.options = "name=systemd";
        } else {
            h.controllers = split(n, ',');
            h.options = n;
        }
        layout.hierarchies.push_back(h);
    }
    return layout;
}

}  // namespace

std::string remount_options(const std::string& super_options, bool v2,
                            std::vector<std::string>* controllers) {
    if (v2) return "";
    static const std::set<std::string> flags = {"rw", "ro", "noprefix", "xattr", "clone_children",
                                                "cpuset_v2_mode", "favordynmods"};
    std::string out;
    for (const auto& opt : split(super_options, ',')) {
        if (flags.count(opt) || opt.rfind("release_agent=", 0) == 0) continue;
        if (opt.find('=') == std::string::npos && controllers) controllers->push_back(opt);
        if (opt.find('=') != std::string::npos && opt.rfind("name=", 0) != 0) continue;
        if (!out.empty()) out += ',';
        out += opt;
    }
    return out;
}

Layout detect_layout(const std::string& root, const std::string& forced,
                     const std::string& mountinfo) {
    std::string r = trim_slash(root);
    if (!forced.empty()) return from_directories(r, forced);
    // The runtime never mounts in its own namespace, so its own mount table is read once per
    // command (run and delete reopen the cgroup: that was a second parse).
    if (mountinfo != "/proc/self/mountinfo") return from_mountinfo(r, mountinfo);
    static std::map<std::string, Layout> mine;
    auto it = mine.find(r);
    if (it == mine.end()) it = mine.emplace(r, from_mountinfo(r, mountinfo)).first;
    return it->second;
}

std::string own_cgroup(const std::string& proc_cgroup_text, const MountedHierarchy& h) {
    for (auto view : text::lines(proc_cgroup_text)) {
        std::string line(view);
        size_t a = line.find(':');
        size_t b = a == std::string::npos ? a : line.find(':', a + 1);
        if (b == std::string::npos) continue;
        std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
        if (h.v2) {
            if (line.substr(0, a) == "0" && ctrls.empty()) return path;
            continue;
        }
        auto mine = split(h.options, ',');
        auto theirs = split(ctrls, ',');
        std::sort(mine.begin(), mine.end());
        std::sort(theirs.begin(), theirs.end());
        if (!mine.empty() && mine == theirs) return path;
    }
    return "";
}

}  // namespace skiff::cgroups
