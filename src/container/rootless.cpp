#include "container/rootless.hpp"

#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/error.hpp"
#include "linux/fd.hpp"
#include "linux/program.hpp"
#include "linux/userns.hpp"
#include "base/text.hpp"

namespace skiff::container::rootless {
namespace {

bool parse_u64(std::string_view s, uint64_t& out) {
    if (s.empty() || s.size() > 20) return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + uint64_t(c - '0');
    }
    out = v;
    return true;
}

void write_proc(const std::string& path, const std::string& data, const std::string& what) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw_errno(what + ": open " + path);
    Fd f(fd);
    if (::write(fd, data.data(), data.size()) != ssize_t(data.size()))
        throw_errno(what + ": write " + path);
}

// The ':'-separated fields of a line, empty ones kept (text::split drops them).
std::vector<std::string_view> colon_fields(std::string_view line) {
    std::vector<std::string_view> out;
    size_t from = 0;
    for (;;) {
        size_t at = line.find(':', from);
        out.push_back(line.substr(from, at == std::string_view::npos ? at : at - from));
        if (at == std::string_view::npos) return out;
        from = at + 1;
    }
}

std::string render(const std::vector<oci::IdMapping>& maps) {
    std::string s;
    for (const auto& m : maps)
        s += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
             std::to_string(m.size) + "\n";
    return s;
}

bool single_own_id(const std::vector<oci::IdMapping>& maps, uint32_t own) {
    return maps.size() == 1 && maps[0].host_id == own && maps[0].size == 1;
}

// A program of $PATH by name, or "" (the helpers are looked up the way a shell would).
std::string find_in_path(const std::string& name) {
    const char* path = ::getenv("PATH");
    std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
    for (auto dir : text::split(p, ':')) {
        std::string full = std::string(dir) + "/" + name;
        if (::access(full.c_str(), X_OK) == 0) return full;
    }
    return "";
}

// newuidmap PID CID HID SIZE ...: the setuid helper checks the ranges against /etc/subuid.
void run_helper(const std::string& helper, pid_t pid, const std::vector<oci::IdMapping>& maps,
                const std::string& what) {
    std::string path = find_in_path(helper);
    if (path.empty())
        throw Error(what + ": mapping more than the caller's own id needs " + helper +
                        " (Debian package uidmap), which is not in $PATH",
                    ENOENT);
    std::vector<std::string> argv = {helper, std::to_string(pid)};
    for (const auto& m : maps) {
        argv.push_back(std::to_string(m.container_id));
        argv.push_back(std::to_string(m.host_id));
        argv.push_back(std::to_string(m.size));
    }
    program::Result r = program::run_and_wait(path, argv, {}, "", 10);
    if (r.timed_out || !WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
        std::string said = r.output;
        while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
        for (char& c : said)
            if (c == '\n') c = ' ';
        throw Error(what + ": " + helper + " " + program::describe_status(r.status) +
                        (said.empty() ? "" : ": " + said),
                    EPERM);
    }
}

std::string read_or_empty(const std::string& path) {
    try {
        return text::read_file(path);
    } catch (const Error&) {
        return "";
    }
}

}  // namespace

bool in_user_namespace() { return userns::in_user_namespace(); }

bool resolve(const std::string& flag) {
    if (flag == "true") return true;
    if (flag == "false") return false;
    return ::geteuid() != 0 || in_user_namespace();
}

std::string default_state_root(bool* xdg) {
    if (xdg) *xdg = false;
    const char* dir = ::getenv("XDG_RUNTIME_DIR");
    if (!dir || !*dir) return "/run/skiff";
    bool honor = ::geteuid() != 0;
    if (!honor && in_user_namespace()) {
        // root of a user namespace: honoured unless $USER says it is the real root.
        const char* user = ::getenv("USER");
        honor = !user || std::string(user) != "root";
    }
    if (!honor) return "/run/skiff";
    if (xdg) *xdg = true;
    return std::string(dir) + "/skiff";
}

std::vector<SubRange> sub_ranges(const std::string& text, const std::string& name, uid_t id) {
    std::vector<SubRange> out;
    const std::string num = std::to_string(id);
    for (auto line : text::lines(text)) {
        if (line.empty() || line[0] == '#') continue;
        auto parts = colon_fields(line);
        if (parts.size() != 3) continue;
        if (parts[0] != name && parts[0] != num) continue;
        SubRange r;
        if (!parse_u64(parts[1], r.start) || !parse_u64(parts[2], r.count) || r.count == 0)
            continue;
        out.push_back(r);
    }
    return out;
}

void check_maps(const std::vector<oci::IdMapping>& maps, const std::string& what, uint32_t own_id,
                const std::vector<SubRange>& subs, const std::string& path) {
    for (size_t i = 0; i < maps.size(); ++i) {
        const auto& a = maps[i];
        const std::string at = what + "[" + std::to_string(i) + "]";
        for (size_t j = 0; j < i; ++j) {
            const auto& b = maps[j];
            auto overlap = [](uint64_t s1, uint64_t n1, uint64_t s2, uint64_t n2) {
                return s1 < s2 + n2 && s2 < s1 + n1;
            };
            if (overlap(a.container_id, a.size, b.container_id, b.size))
                throw Error(at + ": container ids overlap " + what + "[" + std::to_string(j) + "]",
                            EINVAL);
            if (overlap(a.host_id, a.size, b.host_id, b.size))
                throw Error(at + ": host ids overlap " + what + "[" + std::to_string(j) + "]", EINVAL);
        }
        const uint64_t from = a.host_id, to = uint64_t(a.host_id) + a.size;  // [from, to)
        if (a.size == 1 && a.host_id == own_id) continue;
        bool owned = std::any_of(subs.begin(), subs.end(), [&](const SubRange& r) {
            return from >= r.start && to <= r.start + r.count;
        });
        if (owned) continue;
        std::string range = std::to_string(from) + "-" + std::to_string(to - 1);
        if (subs.empty())
            throw Error(at + ": host ids " + range + " are not the caller's (id " +
                            std::to_string(own_id) + "), and " + path +
                            " gives the caller no subordinate ids",
                        EPERM);
        std::string have;
        for (const auto& r : subs)
            have += (have.empty() ? "" : ", ") + std::to_string(r.start) + "-" +
                    std::to_string(r.start + r.count - 1);
        throw Error(at + ": host ids " + range + " are not the caller's (id " +
                        std::to_string(own_id) + ", and " + have + " in " + path + ")",
                    EPERM);
    }
}

void check_config_maps(const oci::Linux& lx) {
    // Root of a user namespace (podman's) writes the maps itself; the kernel judges them.
    if (::geteuid() == 0) return;
    const uid_t uid = ::geteuid();
    const std::string name = user_name(uid);
    if (!single_own_id(lx.uid_mappings, uid))
        check_maps(lx.uid_mappings, "linux.uidMappings", uid,
                   sub_ranges(read_or_empty("/etc/subuid"), name, uid), "/etc/subuid");
    const gid_t gid = ::getegid();
    if (!single_own_id(lx.gid_mappings, gid))
        check_maps(lx.gid_mappings, "linux.gidMappings", gid,
                   sub_ranges(read_or_empty("/etc/subgid"), name, uid), "/etc/subgid");
}

void write_maps(pid_t pid, const oci::Linux& lx) {
    const std::string base = "/proc/" + std::to_string(pid);
    const bool root = ::geteuid() == 0;
    if (!lx.uid_mappings.empty()) {
        if (root || single_own_id(lx.uid_mappings, ::geteuid()))
            write_proc(base + "/uid_map", render(lx.uid_mappings), "linux.uidMappings");
        else
            run_helper("newuidmap", pid, lx.uid_mappings, "linux.uidMappings");
    }
    if (!lx.gid_mappings.empty()) {
        if (root) {
            write_proc(base + "/gid_map", render(lx.gid_mappings), "linux.gidMappings");
        } else if (single_own_id(lx.gid_mappings, ::getegid())) {
            // Unprivileged, a gid map needs setgroups denied first (user_namespaces(7)).
            write_proc(base + "/setgroups", "deny", "linux.gidMappings");
            write_proc(base + "/gid_map", render(lx.gid_mappings), "linux.gidMappings");
        } else {
            run_helper("newgidmap", pid, lx.gid_mappings, "linux.gidMappings");
        }
    }
}

void enter_user_ns_for_exec(std::vector<std::pair<int, int>>& child_joins) {
    if (::geteuid() == 0) return;
    for (auto it = child_joins.begin(); it != child_joins.end(); ++it) {
        if (it->first != CLONE_NEWUSER) continue;
        if (::setns(it->second, CLONE_NEWUSER) < 0) throw_errno("join the container's user namespace");
        ::close(it->second);
        child_joins.erase(it);
        return;
    }
}

std::string user_name(uid_t uid) {
    // /etc/passwd read directly: NSS does not work from a static binary.
    const std::string num = std::to_string(uid);
    std::string passwd = read_or_empty("/etc/passwd");
    for (auto line : text::lines(passwd)) {
        auto parts = colon_fields(line);
        if (parts.size() >= 3 && parts[2] == num) return std::string(parts[0]);
    }
    return num;
}

}  // namespace skiff::container::rootless
