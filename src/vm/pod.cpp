// VM isolation in a CRI pod: which container is the sandbox, and what an app container's
// joins of the sandbox's namespaces become in the guest (pod.hpp).
#include "vm/pod.hpp"

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

void make_pod_namespaces_the_guests(nlohmann::json& j) {
    if (!j.contains("linux") || !j["linux"].contains("namespaces") || !j["linux"]["namespaces"].is_array()) return;
    for (auto& ns : j["linux"]["namespaces"])
        if (ns.is_object() && ns.contains("path") && pod_namespace_becomes_guests(ns.value("type", "")))
            ns = nlohmann::json{{"type", ns["type"]}};
}

}  // namespace skiff::vm
