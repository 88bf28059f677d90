#include "container/features.hpp"

#include <fcntl.h>
#include <seccomp.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "init/mount_options.hpp"
#include "linux/caps.hpp"
#include "linux/seccomp.hpp"
#include "linux/syscalls.hpp"

// The commit, rewritten at each build only when it changed (cmake/commit.cmake).
#include "skiff_commit.h"

// From CMakeLists.txt's project version, for this file alone.
#ifndef SKIFF_VERSION
#error "SKIFF_VERSION is set by CMakeLists.txt from the project version"
#endif

namespace skiff {

const char* version() { return SKIFF_VERSION; }
const char* commit() { return SKIFF_COMMIT; }

std::string libseccomp_version() {
    const scmp_version* v = seccomp_version();
    return std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->micro);
}

namespace {

const char* const kHooks[] = {"prestart",       "createRuntime", "createContainer",
                              "startContainer", "poststart",     "poststop"};

const char* const kNamespaces[] = {"cgroup", "ipc", "mount", "network",
                                   "pid",    "user", "uts",  "time"};

// Straight from the mount option parser, so the document cannot drift from the code.
std::vector<std::string> mount_options() {
    std::vector<std::string> names = init::known_mount_options();
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

// Idmapped mounts need mount_setattr (Linux 5.12); probe the syscall rather than trust a
// kernel version: only ENOSYS means it is missing (an empty change may even succeed).
bool idmap_supported() {
    struct mount_attr attr = {};
    return !(sys::mount_setattr(-1, "", AT_EMPTY_PATH, &attr) < 0 && errno == ENOSYS);
}

}  // namespace

std::string features_json() {
    using nlohmann::json;
    json seccomp = {
        {"enabled", true},
        {"actions", seccomp::supported_actions()},
        {"operators", seccomp::supported_operators()},
        {"archs", seccomp::supported_architectures()},
        {"knownFlags", seccomp::known_flags()},
        {"supportedFlags", seccomp::supported_flags()},
    };
    json linux_features = {
        {"namespaces", kNamespaces},
        {"capabilities", caps::all_names()},
        {"cgroup",
         {{"v1", true}, {"v2", true}, {"systemd", true}, {"systemdUser", false}, {"rdma", true}}},
        {"seccomp", std::move(seccomp)},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}},
        {"intelRdt", {{"enabled", false}}},
        {"mountExtensions", {{"idmap", {{"enabled", idmap_supported()}}}}},
    };
    json doc = {
        {"ociVersionMin", "1.0.0"},
        {"ociVersionMax", kSpecVersion},
        {"hooks", kHooks},
        {"mountOptions", mount_options()},
        {"linux", std::move(linux_features)},
        {"annotations",
         {{"io.github.skiff.version", version()},
          {"io.github.seccomp.libseccomp.version", libseccomp_version()},
          // runc's key: checkpoint/restore are built in (they still need a working CRIU).
          {"org.opencontainers.runc.checkpoint.enabled", "true"}}},
    };
    if (*commit()) doc["annotations"]["io.github.skiff.commit"] = commit();
    return doc.dump(4) + "\n";
}

}  // namespace skiff
