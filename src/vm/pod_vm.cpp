// A pod VM (pod_vm.hpp): which containers it concerns, the host side of an app container in
// it (prepare, its directory and staged trees, teardown), and the relay that runs it.
#include "vm/pod_vm.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/text.hpp"
#include "linux/fd.hpp"
#include "vm/agent_channel.hpp"
#include "vm/agent_client.hpp"
#include "vm/paths.hpp"
#include "vm/pod.hpp"
#include "vm/host_spec.hpp"
#include "vm/vm.hpp"

namespace skiff::vm {
namespace {

// containerd's CRI plugin, then CRI-O: the sandbox an app container belongs to.
const char* const kSandboxKeys[] = {"io.kubernetes.cri.sandbox-id", "io.kubernetes.cri-o.SandboxID"};

// Where the relay finds its pieces in its own small root.
constexpr const char* kRelayPodRoot = "/vm";       // the pod VM's directory is /vm/pod:vm
constexpr const char* kRelayPodId = "pod";
constexpr const char* kRelayApp = "/app";          // config.json, sandbox

// The app container's entry in the pod VM's share (its binds: <name>-m<i>): apart from the
// sandbox's own rootfs/ and m<i>.
std::string member_name(const std::string& id) { return "pod-" + id; }

void write_file(const std::string& path, const std::string& data, mode_t mode) {
    Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
    if (!f || !channel::write_all(f.get(), data)) throw_errno("write " + path);
}

std::vector<std::string> staged_names(const std::string& dir) {
    std::vector<std::string> out;
    std::string listed = text::read_file_or_empty(dir + "/staged");
    for (auto l : text::lines(listed))
        if (!l.empty()) out.emplace_back(l);
    return out;
}

}  // namespace

bool wants_pod_vm(const oci::Spec& spec) {
    auto it = spec.annotations.find(kPodAnnotation);
    if (it == spec.annotations.end() || it->second.empty() || it->second == "none") return false;
    if (it->second != "shared")
        throw Error(std::string("annotations.") + kPodAnnotation + ": unknown value \"" + it->second + "\" (shared or none)",
                    EINVAL);
    return is_cri_sandbox(spec);
}

std::optional<std::string> pod_vm_of(const oci::Spec& spec, const std::string& root) {
    if (!is_cri_app_container(spec)) return std::nullopt;
    for (const char* key : kSandboxKeys) {
        auto it = spec.annotations.find(key);
        if (it == spec.annotations.end() || it->second.empty() || it->second.find('/') != std::string::npos) continue;
        struct stat st;
        if (::stat((vm_dir(root, it->second) + "/pod-vm").c_str(), &st) == 0) return it->second;
    }
    return std::nullopt;
}

namespace {

// The app container's config as the guest's skiff runs it: its rootfs and binds from the
// share (staged at create), the pod's network the guest's own (the pause container's too);
// its joins of ipc, uts and pid stay, and the relay points them at the guest pause process.
std::string pod_member_guest_config(const std::string& config_text, const std::string& id,
                                    const std::vector<Share>& shares) {
    nlohmann::json j = nlohmann::json::parse(config_text);
    j["root"]["path"] = std::string(kGuestShare) + "/" + member_name(id);
    for (const auto& s : shares)
        j["mounts"].at(s.index)["source"] = std::string(kGuestShare) + "/" + member_name(id) + "-" + s.name;
    drop_joined_network_namespace(j, true);
    drop_host_only_settings(j);
    return j.dump();
}

// The host side of an app container in a pod VM: the relay as its process, with no
// capabilities, in a small root (<vm dir>/root) holding this binary, the pod VM's directory
// and the app's guest config. Namespaces and cgroup stay as configured.
void make_pod_member_host_spec(oci::Spec& spec, const Plan& p) {
    oci::Process relay;
    relay.args = {"/skiff"};
    relay.env = {"PATH=/", "SKIFF_VM_POD_RELAY=1"};
    relay.cwd = "/";
    relay.capabilities = oci::Capabilities{};
    relay.no_new_privileges = true;
    relay.oom_score_adj = spec.process->oom_score_adj;
    spec.process = std::move(relay);
    use_small_root(spec, p.dir + "/root",
                   {small_root_bind(p.dir + "/app", kRelayApp, true, false),
                    small_root_bind(vm_dir(p.state_root, p.pod_sandbox),
                                    std::string(kRelayPodRoot) + "/" + kRelayPodId + ":vm", false, false)});
    drop_what_the_guest_applies(spec);
}

}  // namespace

Plan prepare_pod_member(oci::Spec& spec, const std::string& config_text, std::string& rootfs, const std::string& bundle,
                        const std::string& state_root, const std::string& id, const std::string& sandbox) {
    if (spec.process && spec.process->terminal)
        throw Error("process.terminal: an app container in a pod VM has no terminal yet", EINVAL);
    if (spec.linux && !spec.linux->devices.empty())
        throw Error("linux.devices[0]: device " + spec.linux->devices[0].path + " cannot be passed into the VM", EINVAL);
    Plan p;
    p.id = id;
    p.state_root = state_root;
    p.rootfs = rootfs;
    p.dir = vm_dir(state_root, id);
    p.pod_sandbox = sandbox;
    p.shares = plan_shares(spec, bundle);
    p.guest_config = pod_member_guest_config(config_text, id, p.shares);
    make_pod_member_host_spec(spec, p);
    rootfs = spec.root->path;
    return p;
}

void start_pod_member(const Plan& p) {
    if (::mkdir(p.dir.c_str(), 0700) < 0) throw_errno("mkdir " + p.dir);
    std::string root = p.dir + "/root";
    for (const std::string d : {"", "/proc", "/dev", "/app", "/vm", "/vm/pod:vm"})
        if (::mkdir((root + d).c_str(), 0755) < 0) throw_errno("mkdir " + root + d);
    // This binary, copied: the relay runs it (the runtime's own may be a sealed copy that no
    // bind mount can take).
    write_file(root + "/skiff", text::read_file("/proc/self/exe"), 0755);
    if (::mkdir((p.dir + "/app").c_str(), 0700) < 0) throw_errno("mkdir " + p.dir + "/app");
    write_file(p.dir + "/app/config.json", p.guest_config, 0600);
    write_file(p.dir + "/app/sandbox", p.pod_sandbox, 0600);
    write_file(p.dir + "/app/id", p.id, 0600);
    write_file(p.dir + "/pod", vm_dir(p.state_root, p.pod_sandbox), 0600);  // exec and ps go there
    std::vector<StagedTree> trees = {{p.rootfs, member_name(p.id), false, false}};
    for (const auto& s : p.shares) trees.push_back({s.source, member_name(p.id) + "-" + s.name, s.file, s.readonly});
    std::string names;
    for (const auto& t : trees) names += t.name + "\n";
    write_file(p.dir + "/staged", names, 0600);  // before: a failure half way is undone by delete
    stage_into_pod_vm(p.state_root, p.pod_sandbox, trees);
}

bool teardown_pod_member(const std::string& root, const std::string& id) {
    std::string dir = vm_dir(root, id);
    std::string sandbox = text::read_file_or_empty(dir + "/app/sandbox");
    if (sandbox.empty()) return false;
    // The guest container first (its mounts hold the staged trees), then the trees.
    try {
        if (is_vm(root, sandbox)) {
            nlohmann::json req = {{"args", {"delete", "-f", id}}};
            std::string out;
            agent_session(root, sandbox, req, &out);
        }
    } catch (const Error&) {
    }
    unstage_from_pod_vm(root, sandbox, staged_names(dir));
    return true;
}

[[noreturn]] void pod_relay_main() {
    int code = 255;
    try {
        std::string sandbox = text::read_file(std::string(kRelayApp) + "/sandbox");
        std::string id = text::read_file(std::string(kRelayApp) + "/id");
        auto config = nlohmann::json::parse(text::read_file(std::string(kRelayApp) + "/config.json"));
        // The guest pause container's pid: the app's joins of ipc, uts and pid go to it. The
        // guest reports "up" as its skiff starts making that container (a pod just started
        // may not have its record yet): until it runs, wait.
        long pause = 0;
        std::string status = "not there";
        for (int i = 0; i < 600 && pause <= 0; ++i) {
            std::string out;
            nlohmann::json state_req = {{"args", nlohmann::json::array({"state", sandbox})}};
            nlohmann::json st = nlohmann::json::object();
            if (agent_session(kRelayPodRoot, kRelayPodId, state_req, &out) == 0) st = nlohmann::json::parse(out);
            status = st.value("status", "not there");
            if (status == "stopped") break;
            if (status == "running") pause = st.value("pid", 0L);
            if (pause <= 0) {
                struct timespec ts = {0, 200000000};
                ::nanosleep(&ts, nullptr);
            }
        }
        if (pause <= 0) throw Error("the pod VM's pause container is not running (" + status + ")", ESRCH);
        for (auto& ns : config["linux"]["namespaces"]) {
            if (!ns.contains("path")) continue;
            std::string type = ns.value("type", "");
            type = type == "network" ? "net" : type == "mount" ? "mnt" : type;
            ns["path"] = "/proc/" + std::to_string(pause) + "/ns/" + type;
        }
        nlohmann::json run_req = {{"args", {"run", "--bundle", "{dir}", id}},
                                  {"files", {{"config.json", config.dump()}}}};
        code = agent_session(kRelayPodRoot, kRelayPodId, run_req, nullptr);
    } catch (const std::exception& e) {
        std::string msg = std::string("skiff: pod VM relay: ") + e.what() + "\n";
        channel::write_all(2, msg);
    }
    ::_exit(code & 0xff);
}

}  // namespace skiff::vm
