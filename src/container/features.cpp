#include "container/features.hpp"

#include <fcntl.h>
#include <seccomp.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "container/intel_rdt.hpp"
#include "init/mount_options.hpp"
#include "init/process_attrs.hpp"
#include "linux/caps.hpp"
#include "linux/seccomp.hpp"
#include "linux/syscalls.hpp"
#include "oci/namespace_types.hpp"

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

std::vector<std::string> namespace_types() {
    std::vector<std::string> names;
    for (const auto& t : oci::kNamespaceTypes) names.emplace_back(t.type);
    return names;
}

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
    const bool rdt = !container::resctrl_mount().empty();
    json linux_features = {
        {"namespaces", namespace_types()},
        {"capabilities", caps::all_names()},
        {"cgroup",
         {{"v1", true}, {"v2", true}, {"systemd", true}, {"systemdUser", true}, {"rdma", true}}},
        {"seccomp", std::move(seccomp)},
        // What this host can have applied: create refuses
        // linux.intelRdt (naming it) where resctrl is not mounted.
        {"intelRdt", {{"enabled", rdt}, {"schemata", rdt}, {"monitoring", rdt}}},
        {"memoryPolicy", {{"modes", init::memory_policy_modes()}, {"flags", init::memory_policy_flags()}}},
        {"netDevices", {{"enabled", true}}},
        // features.md: whether support is built in, "unrelated to whether the host supports"
        // the LSM (runc: true). Where the host lacks it, a label warns (init/lsm_labels.hpp).
        {"apparmor", {{"enabled", true}}},
        {"selinux", {{"enabled", true}}},
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
