// VM isolation, host half, once the container exists: its directory <root>/<id>:vm (the
// initramfs, virtiofsd's socket, the status file the guest writes, the control fifo that
// carries signals to the agent), virtiofsd, and their teardown.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/error.hpp"
#include "linux/fd.hpp"
#include "linux/syscalls.hpp"
#include "base/text.hpp"
#include "vm/boot_limit.hpp"
#include "vm/clock.hpp"
#include "vm/paths.hpp"
#include "vm/pod_vm.hpp"
#include "vm/shares.hpp"
#include "vm/vm.hpp"

namespace skiff::vm {
namespace {

bool exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

void write_file(const std::string& path, const std::string& data, mode_t mode) {
    Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
    if (!f) throw_errno("create " + path);
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(f.get(), data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("write " + path);
        off += size_t(n);
    }
}

// A copy of the base archive with this container's config appended.
void write_initrd(const Plan& p) {
    std::string base;
    std::string cache = p.kernel_dir;
    try {
        base = text::read_file(base_initramfs(cache));
    } catch (const Error&) {
        base = text::read_file(base_initramfs(p.dir));  // a read-only kernel directory
    }
    std::vector<CpioEntry> files = {{"skiff-vm", S_IFDIR | 0755, ""},
                                    {"skiff-vm/config.json", S_IFREG | 0600, p.guest_config},
                                    {"skiff-vm/id", S_IFREG | 0600, p.id}};
    if (p.net)
        for (auto& f : guest_net_files(*p.net, p.kernel_dir)) files.push_back(std::move(f));
    base += cpio(files, true);
    write_file(p.dir + "/initrd", base, 0600);
}

// virtiofsd, detached from us (it outlives `create`), its pid in virtiofsd.pid.
pid_t spawn_virtiofsd(const Plan& p) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) < 0) throw_errno("pipe");
    std::string sock = p.dir + "/fs.sock", log = p.dir + "/virtiofsd.log";
    std::string share = p.dir + "/share";
    std::string source = "source=" + share;
    pid_t child = ::fork();
    if (child < 0) throw_errno("fork");
    if (child == 0) {
        ::setsid();
        pid_t grand = ::fork();
        if (grand == 0) {
            int in = ::open("/dev/null", O_RDONLY);
            int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (in < 0 || out < 0) ::_exit(127);
            ::dup2(in, 0);
            ::dup2(out, 1);
            ::dup2(out, 2);
            ::syscall(SYS_close_range, 3U, ~0U, 0U);
            try {
                stage_shares(share, p.rootfs, p.shares);
            } catch (const Error& e) {
                std::string msg = std::string(e.what()) + "\n";
                ssize_t w = ::write(2, msg.data(), msg.size());
                (void)w;
                ::_exit(126);
            }
            std::string sp = "--socket-path=" + sock;
            const char* argv[] = {kVirtiofsd, sp.c_str(), "-o", source.c_str(), "-o", "cache=auto",
                                  "-o", "log_level=err", "-o", "announce_submounts", "--thread-pool-size=1", nullptr};
            const char* envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", nullptr};
            ::execve(kVirtiofsd, const_cast<char**>(argv), const_cast<char**>(envp));
            ::_exit(127);
        }
        ssize_t w = ::write(pipefd[1], &grand, sizeof grand);
        ::_exit(w == sizeof grand && grand > 0 ? 0 : 1);
    }
    ::close(pipefd[1]);
    pid_t pid = -1;
    ssize_t n = ::read(pipefd[0], &pid, sizeof pid);
    ::close(pipefd[0]);
    while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (n != sizeof pid || pid <= 0) throw Error("VM isolation: cannot start virtiofsd", ECHILD);
    write_file(p.dir + "/virtiofsd.pid", std::to_string(pid), 0600);
    // QEMU connects to the socket when it starts: wait until virtiofsd listens.
    double until = monotonic_seconds() + 10;
    while (!exists(sock)) {
        if (::kill(pid, 0) < 0 || monotonic_seconds() > until) {
            std::string why = text::read_file_or_empty(log);
            throw Error("VM isolation: virtiofsd did not start" + (why.empty() ? "" : ": " + why), ECHILD);
        }
        struct timespec ts = {0, 2000000};
        ::nanosleep(&ts, nullptr);
    }
    return pid;
}

// Whether `pid` is still the virtiofsd serving `dir` (not a recycled pid).
bool is_our_virtiofsd(pid_t pid, const std::string& dir) {
    std::string cmd = text::read_file_or_empty("/proc/" + std::to_string(pid) + "/cmdline");
    return cmd.find(dir + "/fs.sock") != std::string::npos;
}

// Our own files only: nothing is mounted here on the host (the binds are in the
// container's mount namespace), and symlinks are removed, never followed.
void remove_tree(const std::string& dir) {
    if (DIR* d = ::opendir(dir.c_str())) {
        while (struct dirent* e = ::readdir(d)) {
            if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
            std::string path = dir + "/" + e->d_name;
            struct stat st;
            if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(path);
            else ::unlink(path.c_str());
        }
        ::closedir(d);
    }
    ::rmdir(dir.c_str());
}

}  // namespace

std::string qemu_binary() {
    const char* q = ::getenv("SKIFF_VM_QEMU");
    return q && *q ? q : "/usr/bin/qemu-system-x86_64";
}

std::string kernel_dir() {
    const char* d = ::getenv("SKIFF_VM_DIR");
    return d && *d ? d : "/var/lib/skiff/vm";
}

std::vector<std::pair<std::string, bool>> host_root_links() {
    std::vector<std::pair<std::string, bool>> out;
    for (const char* n : {"bin", "sbin", "lib", "lib32", "lib64", "libx32"}) {
        struct stat st;
        if (::lstat((std::string("/") + n).c_str(), &st) < 0) continue;
        if (S_ISLNK(st.st_mode)) out.push_back({n, true});
        else if (S_ISDIR(st.st_mode)) out.push_back({n, false});
    }
    return out;
}

void start_host_side(const Plan& p) {
    if (!p.pod_sandbox.empty()) return start_pod_member(p);
    if (::mkdir(p.dir.c_str(), 0700) < 0) throw_errno("mkdir " + p.dir);
    // QEMU's root: mount points and the host's merged-/usr links.
    std::string root = p.dir + "/root";
    for (const std::string d : {"", "/usr", "/proc", "/dev", "/vm", "/vm/kernel", "/vm/run"})
        if (::mkdir((root + d).c_str(), 0755) < 0) throw_errno("mkdir " + root + d);
    for (const auto& [name, link] : host_root_links()) {
        std::string at = root + "/" + name;
        if (!link) {
            if (::mkdir(at.c_str(), 0755) < 0) throw_errno("mkdir " + at);
            continue;
        }
        char target[4096];
        ssize_t n = ::readlink(("/" + name).c_str(), target, sizeof target - 1);
        if (n < 0) throw_errno("readlink /" + name);
        target[n] = 0;
        if (::symlink(target, at.c_str()) < 0) throw_errno("symlink " + at);
    }
    if (::mkdir((p.dir + "/share").c_str(), 0700) < 0) throw_errno("mkdir " + p.dir + "/share");
    write_initrd(p);
    for (const char* f : {"/ctl.in", "/ctl.out"})
        if (::mkfifo((p.dir + f).c_str(), 0600) < 0) throw_errno("mkfifo " + p.dir + f);
    write_file(p.dir + "/status", "", 0600);
    if (p.pod_vm) write_file(p.dir + "/pod-vm", "", 0600);  // its pod's app containers come in (pod_vm.hpp)
    record_boot_limit(p.dir, p.boot_limit);
    if (p.net) connect_network(*p.net, p.dir);
    spawn_virtiofsd(p);
}

std::vector<pid_t> helper_pids(const std::string& root, const std::string& id) {
    std::string dir = vm_dir(root, id);
    pid_t pid = pid_t(std::atoi(text::read_file_or_empty(dir + "/virtiofsd.pid").c_str()));
    std::vector<pid_t> out;
    if (pid <= 0 || !is_our_virtiofsd(pid, dir)) return out;
    out.push_back(pid);
    // Its sandboxed child (namespace sandbox): forked right after it started listening.
    std::string kids = text::read_file_or_empty("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    for (auto f : text::fields(kids))
        out.push_back(pid_t(std::atoi(std::string(f).c_str())));
    return out;
}

// QEMU's leader can be a zombie while its last thread still closes the tap (an RCU grace
// period, long on a loaded host): that thread is still in the cgroup. Waits while the
// leader is a zombie with threads left, at most 5 s; a live or recycled pid is not waited for.
void await_threads(pid_t pid) {
    if (pid <= 0) return;
    std::string base = "/proc/" + std::to_string(pid);
    for (int i = 0; i < 2500; ++i) {
        std::string st = text::read_file_or_empty(base + "/stat");
        size_t paren = st.rfind(')');
        if (st.empty() || paren == std::string::npos || paren + 2 >= st.size() || st[paren + 2] != 'Z') return;
        int threads = 0;
        if (DIR* d = ::opendir((base + "/task").c_str())) {
            while (struct dirent* e = ::readdir(d)) threads += e->d_name[0] != '.';
            ::closedir(d);
        }
        if (threads <= 1) return;
        struct timespec ts = {0, 2000000};
        ::nanosleep(&ts, nullptr);
    }
}

void stop_helpers(const std::string& root, const std::string& id, pid_t vm_pid) {
    if (!exists(vm_dir(root, id))) return;
    await_threads(vm_pid);
    // virtiofsd and its sandboxed child: both, and until both are gone (they are in the
    // container's cgroup, which `delete` removes next).
    std::vector<pid_t> pids = helper_pids(root, id);
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    for (pid_t pid : pids)
        for (int i = 0; i < 2500; ++i) {
            ::waitpid(pid, nullptr, WNOHANG);  // ours when `run` is its subreaper
            std::string st = text::read_file_or_empty("/proc/" + std::to_string(pid) + "/stat");
            size_t paren = st.rfind(')');
            if (st.empty() || (paren != std::string::npos && paren + 2 < st.size() &&
                               (st[paren + 2] == 'Z' || st[paren + 2] == 'X')))
                break;
            struct timespec ts = {0, 2000000};
            ::nanosleep(&ts, nullptr);
        }
}

void teardown(const std::string& root, const std::string& id) {
    std::string dir = vm_dir(root, id);
    if (!exists(dir)) return;
    teardown_pod_member(root, id);
    stop_helpers(root, id, 0);
    disconnect_network(dir);
    remove_tree(dir);
}

bool forward_signal(const std::string& root, const std::string& id, int signal) {
    // KILL ends the VM itself; 0 probes QEMU as for any container.
    if (signal == SIGKILL || signal == 0) return false;
    std::string ctl = vm_dir(root, id) + "/ctl.in";
    // O_NONBLOCK: ENXIO when QEMU does not hold it open (not started, or gone).
    Fd f(::open(ctl.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!f) return false;
    std::string msg = std::to_string(signal) + "\n";
    return ::write(f.get(), msg.data(), msg.size()) == ssize_t(msg.size());
}

void await_guest(const std::string& root, const std::string& id, int pidfd, bool at_start) {
    std::string dir = vm_dir(root, id);
    if (!exists(dir) || exists(dir + "/pod")) return;  // an app container of a pod VM: it booted with the pod
    std::string source;
    double limit = boot_limit(dir, &source);
    double until = monotonic_seconds() + limit;
    auto console = [&] {
        std::string c = text::read_file_or_empty(dir + "/console.log");
        if (c.size() > 600) c = "..." + c.substr(c.size() - 600);
        return c.empty() ? std::string() : "; its console:\n" + c;
    };
    for (;;) {
        if (text::read_file_or_empty(dir + "/status").find("up\n") != std::string::npos) return;
        struct pollfd pf = {pidfd, POLLIN, 0};
        if (pidfd < 0 || ::poll(&pf, 1, 20) > 0) {  // QEMU ended: in the foreground the caller's wait reports it
            if (!at_start || text::read_file_or_empty(dir + "/status").find("up\n") != std::string::npos) return;
            throw Error("VM isolation: the guest did not come up: QEMU exited" + console(), ECHILD);
        }
        if (monotonic_seconds() > until) {
            sys::pidfd_send_signal(pidfd, SIGKILL);
            char secs[32];
            std::snprintf(secs, sizeof secs, "%g", limit);
            throw Error("VM isolation: the guest did not come up within " + std::string(secs) + " s (" + source + ")" +
                            console(),
                        ETIMEDOUT);
        }
    }
}

int exit_status(const std::string& root, const std::string& id, int fallback) {
    std::string s = text::read_file_or_empty(vm_dir(root, id) + "/status");
    size_t at = s.find("exit ");
    // The guest came up but never reported: its kernel died (a panic reboots it, and QEMU
    // exits 0 at a reboot). An error, not QEMU's 0.
    if (at == std::string::npos) return fallback == 0 && s.find("up\n") != std::string::npos ? 255 : fallback;
    return std::atoi(s.c_str() + at + 5);
}

}  // namespace skiff::vm
