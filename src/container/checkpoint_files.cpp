#include "container/checkpoint_files.hpp"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "container/criu_externals.hpp"
#include "base/error.hpp"
#include "base/text.hpp"

namespace skiff::container {
namespace {

const char* const kDescriptors = "descriptors.json";
const char* const kManifest = "skiff-checkpoint.json";

// Written to a temp file and renamed: a checkpoint killed half way leaves no half file.
void write_whole(const std::string& path, const std::string& data) {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw_errno("open " + tmp);
    Fd f(fd);
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("write " + tmp);
        done += size_t(n);
    }
    f.reset();
    if (::rename(tmp.c_str(), path.c_str()) < 0) throw_errno("rename " + tmp);
}

nlohmann::json shape(const oci::Spec& spec) {
    nlohmann::json mounts = nlohmann::json::array();
    for (const auto& m : spec.mounts)
        mounts.push_back({{"destination", criu::mount_key(m.destination)},
                          {"type", criu::is_bind(m) ? std::string("bind") : m.type}});
    std::vector<std::string> ns;
    if (spec.linux)
        for (const auto& n : spec.linux->namespaces) ns.push_back(n.type);
    std::sort(ns.begin(), ns.end());
    return {{"mounts", mounts},
            {"namespaces", ns},
            {"terminal", spec.process && spec.process->terminal}};
}

}  // namespace

std::string absolute_dir(const std::string& path, const char* what) {
    if (::mkdir(path.c_str(), 0700) < 0 && errno != EEXIST) throw_errno(std::string(what) + " " + path);
    char buf[PATH_MAX];
    if (!::realpath(path.c_str(), buf)) throw_errno(std::string(what) + " " + path);
    struct stat st;
    if (::stat(buf, &st) < 0 || !S_ISDIR(st.st_mode))
        throw Error(std::string(what) + " " + path + " is not a directory", ENOTDIR);
    return buf;
}

void write_descriptors(const std::string& images, const std::vector<std::string>& targets) {
    write_whole(images + "/" + kDescriptors, nlohmann::json(targets).dump());
}

std::vector<std::string> read_descriptors(const std::string& images) {
    std::string path = images + "/" + kDescriptors;
    std::string text;
    try {
        text = text::read_file(path);
    } catch (const Error& e) {
        throw Error("restore: cannot read " + path + ": " + e.what(), e.errnum() ? e.errnum() : EINVAL);
    }
    try {
        auto j = nlohmann::json::parse(text);
        return j.get<std::vector<std::string>>();
    } catch (const std::exception&) {
        throw Error("restore: " + path + " is not a JSON array of strings (a corrupt checkpoint?)", EINVAL);
    }
}

void write_manifest(const std::string& images, const Record& r, const oci::Spec& spec) {
    nlohmann::json j = shape(spec);
    j["id"] = r.id;
    j["bundle"] = r.bundle;
    write_whole(images + "/" + kManifest, j.dump(2) + "\n");
}

void check_manifest(const std::string& images, const oci::Spec& spec) {
    std::string path = images + "/" + kManifest;
    if (::access(path.c_str(), F_OK) < 0) return;
    nlohmann::json saved;
    try {
        saved = nlohmann::json::parse(text::read_file(path));
    } catch (const std::exception&) {
        throw Error("restore: " + path + " is not valid JSON (a corrupt checkpoint?)", EINVAL);
    }
    nlohmann::json now = shape(spec);
    const std::string from = saved.value("bundle", std::string("?"));
    auto differs = [&](const std::string& what) {
        throw Error("restore: the bundle's config.json differs from the checkpointed container's (bundle " + from +
                        "): " + what,
                    EINVAL);
    };
    if (saved.value("terminal", false) != now["terminal"].get<bool>()) differs("process.terminal");
    if (saved["namespaces"] != now["namespaces"]) differs("linux.namespaces");
    // By destination, not by position: a client that writes the config anew for the restore
    // (podman's --import) may list the same mounts in another order, and CRIU matches the
    // external ones by their mount point.
    auto by_destination = [](const nlohmann::json& list) {
        std::map<std::string, std::string> out;
        for (const auto& m : list) out[m["destination"].get<std::string>()] = m["type"].get<std::string>();
        return out;
    };
    const auto a = by_destination(saved["mounts"]);
    const auto b = by_destination(now["mounts"]);
    for (const auto& [dest, type] : a) {
        auto it = b.find(dest);
        if (it == b.end()) differs("mounts: " + dest + " is missing");
        if (it->second != type) differs("mounts: " + dest + " is " + it->second + ", it was " + type);
    }
    for (const auto& [dest, type] : b)
        if (!a.count(dest)) differs("mounts: " + dest + " (" + type + ") was not checkpointed");
}

std::vector<std::pair<std::string, std::string>> hierarchy_paths(cgroups::Manager& cg) {
    std::vector<std::pair<std::string, std::string>> out;
    auto hs = cg.hierarchies();
    bool pure_v2 = hs.size() == 1 && hs[0].fstype == "cgroup2" && hs[0].name.empty();
    for (const auto& h : hs) out.push_back({pure_v2 ? std::string() : h.name, h.host_path});
    return out;
}

void check_image_dir(const std::string& images) {
    struct stat st;
    if (::stat(images.c_str(), &st) < 0) throw Error("restore: image path " + images + " does not exist", ENOENT);
    if (!S_ISDIR(st.st_mode)) throw Error("restore: image path " + images + " is not a directory", ENOTDIR);
    if (::access((images + "/inventory.img").c_str(), F_OK) < 0)
        throw Error("restore: " + images + " holds no checkpoint (no inventory.img)", ENOENT);
}

}  // namespace skiff::container
