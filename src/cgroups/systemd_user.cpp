#include "cgroups/systemd_user.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "base/error.hpp"
#include "base/text.hpp"
#include "cgroups/fs.hpp"

namespace skiff::cgroups::systemd {
namespace {

bool user_manager = false;

std::string env_or_empty(const char* name) {
    const char* v = ::getenv(name);
    return v ? v : "";
}

}  // namespace

void use_user_manager(bool on) { user_manager = on; }
bool user_manager_used() { return user_manager; }

uid_t host_uid() {
    uid_t euid = ::geteuid();
    std::string map;
    try {
        map = text::read_file("/proc/self/uid_map");
    } catch (const Error&) {
        return euid;
    }
    for (auto line : text::lines(map)) {
        auto f = text::fields(line);
        if (f.size() != 3) continue;
        unsigned long long inside = std::strtoull(std::string(f[0]).c_str(), nullptr, 10);
        unsigned long long outside = std::strtoull(std::string(f[1]).c_str(), nullptr, 10);
        unsigned long long count = std::strtoull(std::string(f[2]).c_str(), nullptr, 10);
        if (euid >= inside && euid - inside < count) return uid_t(outside + (euid - inside));
    }
    return euid;
}

std::vector<std::string> user_bus_environment() {
    std::string xdg = env_or_empty("XDG_RUNTIME_DIR");
    if (xdg.empty()) xdg = "/run/user/" + std::to_string(host_uid());
    std::vector<std::string> env;
    std::string priv = xdg + "/systemd/private";
    if (fs::exists(priv)) env.push_back("SKIFF_SYSTEMD_USER_PRIVATE=unix:path=" + priv);
    std::string bus = env_or_empty("DBUS_SESSION_BUS_ADDRESS");
    if (bus.empty() && fs::exists(xdg + "/bus")) bus = "unix:path=" + xdg + "/bus";
    if (!bus.empty()) env.push_back("SKIFF_SYSTEMD_USER_BUS=" + bus);
    if (env.empty())
        throw Error("systemd cgroup driver: no bus to the user's systemd: $DBUS_SESSION_BUS_ADDRESS is unset and "
                    "neither " + xdg + "/bus nor " + priv +
                        " exists (is user@" + std::to_string(host_uid()) +
                        ".service running? `loginctl enable-linger` starts it without a login)",
                    ENOENT);
    return env;
}

std::string user_manager_cgroup(uid_t uid) {
    std::string u = std::to_string(uid);
    return "/user.slice/user-" + u + ".slice/user@" + u + ".service";
}

UnitPlace parse_user_cgroups_path(const std::string& cgroups_path, const std::string& id,
                                  const std::string& manager_cgroup) {
    std::string path = cgroups_path;
    if (path.empty()) path = "user.slice:skiff:" + id;
    else if (path.front() == ':') path = "user.slice" + path;
    UnitPlace p = parse_cgroups_path(path, id);
    // "-.slice" is the manager's own root; anything else nests below it as on the system.
    p.cgroup = manager_cgroup + p.cgroup;
    if (p.cgroup.size() > 1 && p.cgroup.back() == '/') p.cgroup.pop_back();
    return p;
}

std::string unified_cgroup_of(pid_t pid) {
    auto text = fs::read_opt("/proc/" + std::to_string(pid) + "/cgroup");
    if (!text) return {};
    for (auto line : text::lines(*text))
        if (line.substr(0, 3) == "0::") return std::string(line.substr(3));
    return {};
}

}  // namespace skiff::cgroups::systemd
