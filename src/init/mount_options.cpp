#include "init/mount_options.hpp"

#include <linux/mount.h>
#include <sys/mount.h>

#include <cstring>

namespace skiff::init {
namespace {

struct FlagOption {
    const char* name;
    bool clear;  // true: the option clears the flag ("rw", "suid", ...)
    unsigned long flag;
};

const FlagOption kFlags[] = {
    {"async", true, MS_SYNCHRONOUS},   {"atime", true, MS_NOATIME},
    {"defaults", false, 0},            {"dev", true, MS_NODEV},
    {"diratime", true, MS_NODIRATIME}, {"dirsync", false, MS_DIRSYNC},
    {"exec", true, MS_NOEXEC},         {"iversion", false, MS_I_VERSION},
    {"lazytime", false, MS_LAZYTIME},  {"loud", true, MS_SILENT},
    {"mand", false, MS_MANDLOCK},      {"noatime", false, MS_NOATIME},
    {"nodev", false, MS_NODEV},        {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},      {"noiversion", true, MS_I_VERSION},
    {"nolazytime", true, MS_LAZYTIME}, {"nomand", true, MS_MANDLOCK},
    {"norelatime", true, MS_RELATIME}, {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},      {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"relatime", false, MS_RELATIME},  {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},          {"rw", true, MS_RDONLY},
    {"silent", false, MS_SILENT},      {"strictatime", false, MS_STRICTATIME},
    {"suid", true, MS_NOSUID},         {"sync", false, MS_SYNCHRONOUS},
};

struct PropagationOption {
    const char* name;
    unsigned long flag;
};

const PropagationOption kPropagation[] = {
    {"private", MS_PRIVATE},          {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},            {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},              {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE},    {"runbindable", MS_UNBINDABLE | MS_REC},
};

struct AttrOption {
    const char* name;
    bool clear;
    uint64_t attr;
};

const AttrOption kAttrs[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},          {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},      {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},        {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},      {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME}, {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rrelatime", false, MOUNT_ATTR_RELATIME},  {"rnorelatime", true, MOUNT_ATTR_RELATIME},
    {"rnoatime", false, MOUNT_ATTR_NOATIME},    {"ratime", true, MOUNT_ATTR_NOATIME},
    {"rstrictatime", false, MOUNT_ATTR_STRICTATIME},
    {"rnostrictatime", true, MOUNT_ATTR_STRICTATIME},
    {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW}, {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
};

}  // namespace

MountOptions parse_mount_options(const std::vector<std::string>& options) {
    MountOptions out;
    for (const auto& o : options) {
        if (o == "bind") { out.bind = true; continue; }
        if (o == "rbind") { out.bind = out.recursive = true; continue; }
        if (o == "idmap") { out.idmap = true; continue; }
        if (o == "ridmap") { out.ridmap = true; continue; }
        if (o == "tmpcopyup") { out.tmpcopyup = true; continue; }
        bool found = false;
        for (const auto& f : kFlags) {
            if (o != f.name) continue;
            if (f.clear) out.flags &= ~f.flag; else out.flags |= f.flag;
            found = true;
            break;
        }
        if (found) continue;
        for (const auto& p : kPropagation) {
            if (o != p.name) continue;
            out.propagation = p.flag;
            found = true;
            break;
        }
        if (found) continue;
        for (const auto& a : kAttrs) {
            if (o != a.name) continue;
            if (a.clear) { out.attr_clr |= a.attr; out.attr_set &= ~a.attr; }
            else { out.attr_set |= a.attr; out.attr_clr &= ~a.attr; }
            // The atime modes are one field: clearing one means setting the field mask.
            if (a.attr & (MOUNT_ATTR_RELATIME | MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME))
                out.attr_clr |= MOUNT_ATTR__ATIME;
            found = true;
            break;
        }
        if (found) continue;
        if (!out.data.empty()) out.data += ",";
        out.data += o;
    }
    return out;
}

TopAttrs bind_top_attrs(const MountOptions& o) {
    TopAttrs t;
    const unsigned long f = o.flags;
    if (f & MS_RDONLY) t.set |= MOUNT_ATTR_RDONLY;
    if (f & MS_NOSUID) t.set |= MOUNT_ATTR_NOSUID;
    if (f & MS_NODEV) t.set |= MOUNT_ATTR_NODEV;
    if (f & MS_NOEXEC) t.set |= MOUNT_ATTR_NOEXEC;
    if (f & MS_NOSYMFOLLOW) t.set |= MOUNT_ATTR_NOSYMFOLLOW;
    // The atime modes share one field: setting one means clearing the field first.
    if (f & MS_NOATIME) { t.set |= MOUNT_ATTR_NOATIME; t.clr |= MOUNT_ATTR__ATIME; }
    if (f & MS_STRICTATIME) { t.set |= MOUNT_ATTR_STRICTATIME; t.clr |= MOUNT_ATTR__ATIME; }
    if (f & MS_NODIRATIME) t.set |= MOUNT_ATTR_NODIRATIME;
    return t;
}

std::vector<std::pair<std::string, std::string>> split_fs_data(const std::string& data) {
    std::vector<std::pair<std::string, std::string>> out;
    size_t start = 0;
    while (start <= data.size()) {
        size_t comma = data.find(',', start);
        if (comma == std::string::npos) comma = data.size();
        std::string item = data.substr(start, comma - start);
        start = comma + 1;
        if (item.empty()) continue;
        size_t eq = item.find('=');
        if (eq == std::string::npos) out.emplace_back(item, "");
        else out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
    return out;
}

std::vector<std::string> known_mount_options() {
    std::vector<std::string> names = {"bind", "rbind", "idmap", "ridmap", "tmpcopyup"};
    for (const auto& f : kFlags) names.push_back(f.name);
    for (const auto& p : kPropagation) names.push_back(p.name);
    for (const auto& a : kAttrs) names.push_back(a.name);
    return names;
}

}  // namespace skiff::init

