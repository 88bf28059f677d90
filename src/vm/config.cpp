// VM isolation, host half, before anything is created: is it wanted, can it be honoured,
// and the two configs it splits into (QEMU's on the host, the container's in the guest).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "linux/log.hpp"
#include "base/text.hpp"
#include "vm/agent_channel.hpp"
#include "vm/boot_limit.hpp"
#include "vm/paths.hpp"
#include "vm/pod.hpp"
#include "vm/pod_vm.hpp"
#include "vm/shares.hpp"
#include "vm/sizing.hpp"
#include "vm/terminal_watch.hpp"
#include "vm/vm.hpp"
#include "vm/host_spec.hpp"

namespace skiff::vm {
namespace {

std::string g_invoked_as;

bool executable(const std::string& p) { return ::access(p.c_str(), X_OK) == 0; }

// The namespaces the guest stands for: the host's own cannot be shared with a VM. A CRI
// pod's app container joins its sandbox's by path: the network one QEMU joins (network.hpp),
// ipc, uts and pid become the guest's own (pod.hpp).
void check_namespaces(const oci::Spec& spec) {
    const auto& lx = *spec.linux;
    static const char* const kNeeded[] = {"pid", "mount", "network", "ipc", "uts"};
    bool pod_member = is_cri_app_container(spec);
    for (size_t i = 0; i < lx.namespaces.size(); ++i)
        if (!lx.namespaces[i].path.empty() && lx.namespaces[i].type != "network" &&
            !(pod_member && pod_namespace_becomes_guests(lx.namespaces[i].type)))
            throw Error("linux.namespaces[" + std::to_string(i) + "].path: a namespace joined by path (" +
                            lx.namespaces[i].path + ") cannot cross the VM boundary",
                        EINVAL);
    for (const char* t : kNeeded) {
        bool found = false;
        for (const auto& ns : lx.namespaces) found |= ns.type == t;
        if (!found)
            throw Error(std::string("linux.namespaces: VM isolation cannot share the host's ") + t +
                            " namespace (add a new one)",
                        EINVAL);
    }
}

// What this first version of the VM mode cannot carry into the guest: refused by name.
void check_supported(const oci::Spec& spec, int preserve_fds) {
    const auto& lx = *spec.linux;
    check_namespaces(spec);
    if (!lx.devices.empty())
        throw Error("linux.devices[0]: device " + lx.devices[0].path + " cannot be passed into the VM", EINVAL);
    if (!lx.net_devices.empty())
        throw Error("linux.netDevices: network devices cannot be passed into the VM", EINVAL);
    if (lx.seccomp && !lx.seccomp->listener_path.empty())
        throw Error("linux.seccomp.listenerPath: a seccomp agent cannot reach into the VM", EINVAL);
    if (preserve_fds > 0)
        throw Error("--preserve-fds: file descriptors cannot be passed into the VM", EINVAL);
}

// /dev/kvm that can run a stock kernel: a PVM /dev/kvm (no vmx/svm) cannot.
bool kvm_usable() {
    if (::access("/dev/kvm", R_OK | W_OK) != 0) return false;
    std::string cpu;
    try {
        cpu = text::read_file("/proc/cpuinfo");
    } catch (const Error&) {
        return false;
    }
    for (auto line : text::lines(cpu)) {
        if (line.rfind("flags", 0) != 0) continue;
        for (auto f : text::fields(line))
            if (f == "vmx" || f == "svm") return true;
        return false;
    }
    return false;
}

std::string annotation(const oci::Spec& spec, const std::string& key, const std::string& dflt) {
    auto it = spec.annotations.find(key);
    return it == spec.annotations.end() ? dflt : it->second;
}

// The agent channel's session ports (agent_channel.hpp), on a virtio-serial device of their
// own: each a socket that `exec` and `ps` connect to on the host.
void add_agent_ports(std::vector<std::string>& a, const std::string& dir) {
    a.insert(a.end(), {"-device", "virtio-serial-pci,id=agentser,max_ports=" + std::to_string(channel::kSessions + 1)});
    for (int i = 0; i < channel::kSessions; ++i) {
        std::string n = "agent" + std::to_string(i);
        a.insert(a.end(), {"-chardev", "socket,id=" + n + ",path=" + dir + "/" + n + ".sock,server=on,wait=off",
                           "-device", "virtserialport,bus=agentser.0,chardev=" + n + ",name=skiff." + n + ",nr=" +
                                          std::to_string(i + 1)});
    }
}

std::vector<std::string> qemu_argv(const oci::Spec& spec, const Plan& p, const std::string& qemu, bool kvm,
                                   const std::string& kernel) {
    std::vector<std::string> a = {qemu, "-name", "skiff-" + p.id};
    auto machine = qemu_machine_args();
    a.insert(a.end(), machine.begin(), machine.end());
    auto accel = qemu_accel_args(kvm);
    a.insert(a.end(), accel.begin(), accel.end());
    auto size = qemu_size_args(guest_size(spec));
    a.insert(a.end(), size.begin(), size.end());
    auto port = [&](const std::string& chardev, const std::string& name, int nr) {
        a.insert(a.end(), {"-chardev", chardev, "-device",
                           "virtserialport,chardev=" + name + ",name=skiff." + name + ",nr=" + std::to_string(nr)});
    };
    a.insert(a.end(),
             {"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
              "-kernel", p.kernel_dir + "/" + kernel, "-initrd", p.dir + "/initrd",
              "-append", std::string("console=ttyS0 quiet panic=-1 rdinit=/init mitigations=off random.trust_cpu=on ") +
                             kGuestReboot,
              "-serial", "file:" + p.dir + "/console.log",
              "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
              "-chardev", "socket,id=fs,path=" + p.dir + "/fs.sock",
              "-device", "vhost-user-fs-pci,chardev=fs,tag=rootfs",
              "-device", "virtio-serial-pci,max_ports=8"});
    // stdin: QEMU's own stdio (its end of file reaches the guest as the port's end of file);
    // stdout and stderr: reopened through /proc, appending, so a file given is not truncated.
    port("stdio,id=stdin,signal=off", "stdin", 1);
    port("file,id=stdout,path=/proc/self/fd/1,append=on", "stdout", 2);
    port("file,id=stderr,path=/proc/self/fd/2,append=on", "stderr", 3);
    port("file,id=status,path=" + p.dir + "/status", "status", 4);
    port("pipe,id=ctl,path=" + p.dir + "/ctl", "ctl", 5);
    if (p.net) {
        auto net = qemu_net_args(*p.net);
        a.insert(a.end(), net.begin(), net.end());
    }
    add_agent_ports(a, p.dir);
    return a;
}

// The host side of the container: QEMU as the process, with no capabilities, in a small root
// of its own (<vm dir>/root: the host's /usr read-only, the kernel and the VM's directory,
// a fresh /proc, a /dev with the default nodes and /dev/kvm when it is used). The cgroup,
// hooks and namespaces (but the user namespace: the guest makes its own) stay as configured.
void make_host_spec(oci::Spec& spec, const Plan& p, const std::string& qemu, bool kvm) {
    auto& proc = *spec.process;
    oci::Process host;
    Plan inside = p;  // the paths QEMU sees
    inside.kernel_dir = kGuestKernelDir;
    inside.dir = kGuestVmDir;
    host.args = qemu_argv(spec, inside, qemu, kvm, boot_kernel_name(p.kernel_dir));
    // Resizes of the host's pty after start reach the guest through a watcher (terminal_watch.hpp).
    if (proc.terminal) host.args = behind_terminal_watch(host.args, inside.dir + "/ctl.in");
    host.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    host.cwd = "/";
    host.capabilities = oci::Capabilities{};
    host.capabilities->bounding = host.capabilities->effective = host.capabilities->permitted =
        std::vector<std::string>{};
    host.no_new_privileges = true;
    host.oom_score_adj = proc.oom_score_adj;
    host.terminal = proc.terminal;  // QEMU's stdio is the pty; the guest agent bridges it (agent_terminal.hpp)
    proc = std::move(host);
    use_small_root(spec, p.dir + "/root",
                   {small_root_bind("/usr", "/usr", true), small_root_bind(p.kernel_dir, kGuestKernelDir, true),
                    small_root_bind(p.dir, kGuestVmDir, false)});
    for (const auto& d : host_root_links())
        if (!d.second) spec.mounts.push_back(small_root_bind("/" + d.first, "/" + d.first, true));  // not merged-usr
    if (spec.process->terminal) {  // the pty is made in QEMU's own devpts
        oci::Mount pts;
        pts.destination = "/dev/pts";
        pts.type = pts.source = "devpts";
        pts.options = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"};
        spec.mounts.push_back(pts);
    }
    drop_what_the_guest_applies(spec);
    if (p.net) allow_tun(spec);
    if (kvm) grant_char_device(spec, "/dev/kvm", 10, 232, 0660);
}

// The container's config as the guest's skiff runs it: the rootfs is the virtio-fs share at
// /rootfs; hooks ran on the host; the guest's cgroup is the guest's own (devices rules only);
// the annotation is gone so the guest does not start a VM again.
std::string make_guest_config(const std::string& config_text, const std::vector<Share>& shares, bool connected) {
    nlohmann::json j = nlohmann::json::parse(config_text);
    j["root"]["path"] = std::string(kGuestShare) + "/rootfs";
    make_pod_namespaces_the_guests(j);  // reads the host's hostname file: before the mounts move to the share
    share_guest_mounts(j, shares);
    drop_joined_network_namespace(j, connected);
    drop_host_only_settings(j);
    return j.dump();
}

}  // namespace

oci::Mount small_root_bind(const std::string& src, const std::string& dst, bool ro, bool recursive) {
    oci::Mount m;
    m.destination = dst;
    m.source = src;
    m.type = "bind";
    m.options = {recursive ? "rbind" : "bind", "nosuid", "nodev"};
    if (ro) m.options.push_back("ro");
    return m;
}

void use_small_root(oci::Spec& spec, const std::string& root, const std::vector<oci::Mount>& binds) {
    spec.root->path = root;
    spec.root->readonly = true;
    oci::Mount procfs;
    procfs.destination = "/proc";
    procfs.type = procfs.source = "proc";
    procfs.options = {"nosuid", "noexec", "nodev"};
    oci::Mount dev;
    dev.destination = "/dev";
    dev.type = dev.source = "tmpfs";
    dev.options = {"nosuid", "mode=755", "size=64k"};
    spec.mounts = {procfs, dev};
    spec.mounts.insert(spec.mounts.end(), binds.begin(), binds.end());
}

void drop_host_only_settings(nlohmann::json& j) {
    j.erase("hooks");
    if (j.contains("annotations") && j["annotations"].is_object()) j["annotations"].erase(kAnnotation);
    if (!j.contains("linux") || !j["linux"].is_object()) return;
    auto& lx = j["linux"];
    lx.erase("cgroupsPath");
    if (lx.contains("resources") && lx["resources"].is_object()) {
        nlohmann::json r = nlohmann::json::object();
        if (lx["resources"].contains("devices")) r["devices"] = lx["resources"]["devices"];
        lx["resources"] = r;
    }
}

void drop_what_the_guest_applies(oci::Spec& spec) {
    spec.hostname.clear();
    spec.domainname.clear();
    auto& lx = *spec.linux;
    std::vector<oci::Namespace> keep;
    for (auto& ns : lx.namespaces)
        if (ns.type != "user" && ns.type != "time") keep.push_back(ns);
    lx.namespaces = keep;
    lx.uid_mappings.clear();
    lx.gid_mappings.clear();
    lx.time_offsets.clear();
    lx.sysctl.clear();
    lx.seccomp.reset();
    lx.masked_paths.reset();
    lx.readonly_paths.reset();
    lx.mount_label.clear();
    lx.personality.reset();
    lx.intel_rdt.reset();
    lx.rootfs_propagation.clear();
    lx.devices.clear();
}

void grant_char_device(oci::Spec& spec, const std::string& path, int major, int minor, unsigned mode) {
    auto& lx = *spec.linux;
    oci::Device node;
    node.type = "c";
    node.path = path;
    node.major = major;
    node.minor = minor;
    node.file_mode = mode;
    lx.devices.push_back(node);
    if (!lx.resources) lx.resources.emplace();
    oci::DeviceRule rule;
    rule.allow = true;
    rule.type = "c";
    rule.major = major;
    rule.minor = minor;
    rule.access = "rwm";
    lx.resources->devices.push_back(rule);
}

void set_invoked_as(const char* argv0) {
    const char* base = argv0 ? std::strrchr(argv0, '/') : nullptr;
    g_invoked_as = base ? base + 1 : (argv0 ? argv0 : "");
}

bool wanted(const oci::Spec& spec) {
    if (::getenv("SKIFF_VM_GUEST")) return false;  // the guest's own skiff runs it plainly
    // It only holds the pod's namespaces (pod.hpp), unless it is to be the pod's VM (pod_vm.hpp).
    if (is_cri_sandbox(spec) && !wants_pod_vm(spec)) return false;
    auto it = spec.annotations.find(kAnnotation);
    if (it != spec.annotations.end()) {
        if (it->second == "vm") return true;
        if (it->second == "container" || it->second.empty()) return false;
        throw Error(std::string("annotations.") + kAnnotation + ": unknown isolation \"" + it->second +
                        "\" (vm or container)",
                    EINVAL);
    }
    return g_invoked_as == kHandlerName;
}

Plan prepare(oci::Spec& spec, const std::string& config_text, std::string& rootfs, const std::string& bundle,
             const std::string& state_root, const std::string& id, int preserve_fds) {
    if (auto sandbox = pod_vm_of(spec, state_root))  // into its pod's VM, not one of its own
        return prepare_pod_member(spec, config_text, rootfs, bundle, state_root, id, *sandbox);
    check_supported(spec, preserve_fds);
    std::vector<Share> shares = plan_shares(spec, bundle);
    Plan p;
    p.id = id;
    p.state_root = state_root;
    p.rootfs = rootfs;
    p.dir = vm_dir(state_root, id);
    p.kernel_dir = kernel_dir();
    std::string qemu = qemu_binary();
    if (!executable(qemu))
        throw Error("VM isolation: no QEMU: " + qemu + " is missing (apt-get install qemu-system-x86)", ENOENT);
    if (!executable(kVirtiofsd))
        throw Error(std::string("VM isolation: no virtiofsd: ") + kVirtiofsd +
                        " is missing (apt-get install qemu-system-x86)",
                    ENOENT);
    if (::access((p.kernel_dir + "/vmlinuz").c_str(), R_OK) != 0)
        throw Error("VM isolation: no guest kernel: " + p.kernel_dir +
                        "/vmlinuz is missing (scripts/vm-kernel.sh installs one; SKIFF_VM_DIR names another directory)",
                    ENOENT);
    std::string accel = annotation(spec, "run.oci.skiff.vm.accel", "auto");
    bool kvm = kvm_usable();
    if (accel == "kvm" && !kvm)
        throw Error("annotations.run.oci.skiff.vm.accel: kvm asked for, but /dev/kvm is absent or cannot boot a stock kernel",
                    ENODEV);
    if (accel == "tcg") kvm = false;
    else if (accel != "kvm" && accel != "auto")
        throw Error("annotations.run.oci.skiff.vm.accel: unknown value \"" + accel + "\" (auto, kvm or tcg)", EINVAL);
    else if (!kvm)
        log::warn("VM isolation: /dev/kvm is absent or cannot boot a stock kernel; the guest runs under software emulation (slow)");
    p.shares = std::move(shares);
    p.pod_vm = wants_pod_vm(spec);
    p.boot_limit = configured_boot_limit(spec);
    p.net = plan_network(spec, state_root);
    p.guest_config = make_guest_config(config_text, p.shares, p.net.has_value());
    make_host_spec(spec, p, qemu, kvm);
    rootfs = spec.root->path;  // made by start_host_side
    return p;
}

}  // namespace skiff::vm
