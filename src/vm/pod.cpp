// VM isolation in a CRI pod: which container is the sandbox, and what an app container's
// joins of the sandbox's namespaces become in the guest (pod.hpp).
#include "vm/pod.hpp"

#include "base/text.hpp"

namespace skiff::vm {
namespace {

// containerd's CRI plugin, then CRI-O: "sandbox" or "container".
const char* const kTypeKeys[] = {"io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType"};

bool cri_type_is(const oci::Spec& spec, const char* want) {
    for (const char* key : kTypeKeys) {
        auto it = spec.annotations.find(key);
        if (it != spec.annotations.end()) return it->second == want;
    }
    return false;
}

}  // namespace

bool is_cri_sandbox(const oci::Spec& spec) { return cri_type_is(spec, "sandbox"); }
bool is_cri_app_container(const oci::Spec& spec) { return cri_type_is(spec, "container"); }

bool pod_namespace_becomes_guests(const std::string& type) {
    return type == "ipc" || type == "uts" || type == "pid";
}

namespace {

// The pod's hostname as the CRI plugin wrote it for the sandbox: the source of the
// container's /etc/hostname bind (a file of the pod's own). Empty when there is none.
std::string pod_hostname(const nlohmann::json& j) {
    if (!j.contains("mounts") || !j["mounts"].is_array()) return "";
    for (const auto& m : j["mounts"]) {
        if (!m.is_object() || m.value("destination", "") != "/etc/hostname") continue;
        std::string text = text::read_file_or_empty(m.value("source", ""));
        std::string name = text.substr(0, text.find('\n'));
        return name.size() <= 64 ? name : "";  // HOST_NAME_MAX
    }
    return "";
}

}  // namespace

void make_pod_namespaces_the_guests(nlohmann::json& j) {
    if (!j.contains("linux") || !j["linux"].contains("namespaces") || !j["linux"]["namespaces"].is_array()) return;
    bool uts_joined = false;
    for (auto& ns : j["linux"]["namespaces"])
        if (ns.is_object() && ns.contains("path") && pod_namespace_becomes_guests(ns.value("type", ""))) {
            uts_joined |= ns.value("type", "") == "uts";
            ns = nlohmann::json{{"type", ns["type"]}};
        }
    // The sandbox's uts namespace carried the pod's hostname; the guest's new one takes it.
    if (uts_joined && j.value("hostname", "").empty()) {
        std::string name = pod_hostname(j);
        if (!name.empty()) j["hostname"] = name;
    }
}

}  // namespace skiff::vm
