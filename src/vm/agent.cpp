// VM isolation, guest half: this binary as the guest's PID 1 (/init of the initramfs).
// It mounts the rootfs that the host shares over virtio-fs, moves into a tmpfs root, and
// runs the container with skiff's own `run` (so mounts, user, capabilities, seccomp,
// rlimits, env and cwd are applied by the same code as on the host). Its stdio are the
// virtio-serial ports skiff.stdin/stdout/stderr; it forwards signal numbers from skiff.ctl,
// writes "up" and then "exit N" to skiff.status, and powers the VM off: status 0 through
// ACPI, any other through isa-debug-exit, so QEMU's own exit status is N for odd N (N+1 for
// even N); `skiff run` reads the exact one from the status file.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/text.hpp"
#include "vm/network.hpp"
#include "vm/agent_sessions.hpp"
#include "vm/agent_terminal.hpp"
#include "vm/vm.hpp"

namespace skiff::vm {
namespace {

std::map<std::string, int> g_ports;  // skiff.<name> -> fd
AgentSessions g_sessions;            // exec and ps from the host (agent_sessions.hpp)
GuestTerminal g_terminal;            // process.terminal (agent_terminal.hpp)

void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    ::nanosleep(&ts, nullptr);
}

void write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::write(fd, s.data() + off, s.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += size_t(n);
    }
}

void say(const std::string& msg) {
    auto it = g_ports.find("stderr");
    write_all(it != g_ports.end() ? it->second : 2, "skiff-vm agent: " + msg + "\n");
}

void mount_or_throw(const char* src, const char* dst, const char* type, unsigned long flags, const char* data) {
    if (::mount(src, dst, type, flags, data) < 0)
        throw_errno(std::string("mount ") + (type ? type : src ? src : "") + " on " + dst);
}

void write_file(const std::string& path, const std::string& data, mode_t mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) throw_errno("create " + path);
    write_all(fd, data);
    ::close(fd);
}

// The virtio-serial ports by name (no udev here: their names are in sysfs).
void open_ports() {
    const char* const names[] = {"stdin", "stdout", "stderr", "status", "ctl"};
    // Polled every 2 ms for up to 5 s: the ports often appear within a few ms of /init.
    for (int tries = 0; tries < 2500 && g_ports.size() < 5; ++tries) {
        if (DIR* d = ::opendir("/sys/class/virtio-ports")) {
            while (struct dirent* e = ::readdir(d)) {
                if (e->d_name[0] == '.') continue;
                std::string name;
                try {
                    name = text::read_file(std::string("/sys/class/virtio-ports/") + e->d_name + "/name");
                } catch (const Error&) {
                    continue;
                }
                while (!name.empty() && (name.back() == '\n' || name.back() == '\0')) name.pop_back();
                for (const char* n : names) {
                    if (name != std::string("skiff.") + n || g_ports.count(n)) continue;
                    int flags = std::strcmp(n, "stdin") == 0 || std::strcmp(n, "ctl") == 0 ? O_RDONLY : O_WRONLY;
                    int fd = ::open((std::string("/dev/") + e->d_name).c_str(), flags | O_CLOEXEC);
                    if (fd >= 0) g_ports[n] = fd;
                }
            }
            ::closedir(d);
        }
        if (g_ports.size() < 5) sleep_ms(2);
    }
    if (g_ports.size() < 5) throw Error("the host's virtio-serial ports did not appear", ENODEV);
}

// The agent's own binary (the initramfs's /init) at `to`, read-only, for the guest's skiff
// commands after the move out of the initramfs. A bind, not a copy: copying 3 MB took 0.11 s
// under TCG, and the bound file shares the page cache the agent already faulted in.
void bind_self(const std::string& to) {
    int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    if (fd < 0) throw_errno("create " + to);
    ::close(fd);
    mount_or_throw("/init", to.c_str(), nullptr, MS_BIND, nullptr);
    mount_or_throw(nullptr, to.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr);
}

// From the initramfs into a tmpfs root that holds the bundle, the share mounted as its rootfs.
std::string enter_guest_root() {
    std::string config = text::read_file("/skiff-vm/config.json");
    std::string id = text::read_file("/skiff-vm/id");
    mount_or_throw("tmpfs", "/newroot", "tmpfs", 0, "mode=0755");
    for (const char* d : {"/newroot/share", "/newroot/bundle", "/newroot/dev", "/newroot/proc", "/newroot/sys",
                          "/newroot/run", "/newroot/tmp"})
        if (::mkdir(d, 0755) < 0) throw_errno(std::string("mkdir ") + d);
    ::chmod("/newroot/tmp", 01777);
    write_file("/newroot/bundle/config.json", config, 0600);
    bind_self("/newroot/skiff");
    int tries = 0;
    while (::mount("rootfs", "/newroot/share", "virtiofs", 0, nullptr) < 0) {
        if (++tries > 1500) throw_errno("mount the shared rootfs (virtio-fs tag rootfs)");
        sleep_ms(2);
    }
    for (const char* m : {"dev", "proc", "sys"})
        mount_or_throw((std::string("/") + m).c_str(), (std::string("/newroot/") + m).c_str(), nullptr, MS_MOVE,
                       nullptr);
    if (::chdir("/newroot") < 0) throw_errno("chdir /newroot");
    mount_or_throw(".", "/", nullptr, MS_MOVE, nullptr);
    if (::chroot(".") < 0) throw_errno("chroot");
    if (::chdir("/") < 0) throw_errno("chdir /");
    mount_or_throw("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate");
    return id;
}

// skiff run in the guest, with the ports as its stdio; signal numbers that arrive on the
// control port go to it (it forwards them to the container process). Returns its status.
int run_container(const std::string& id) {
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigaddset(&chld, SIGIO);  // the host connected to a session port
    ::sigprocmask(SIG_BLOCK, &chld, nullptr);
    int sfd = ::signalfd(-1, &chld, SFD_CLOEXEC);
    if (sfd < 0) throw_errno("signalfd");
    bool terminal = false;
    try {
        auto config = nlohmann::json::parse(text::read_file("/bundle/config.json"));
        terminal = config.value("process", nlohmann::json::object()).value("terminal", false);
    } catch (const std::exception&) {
    }
    // --keep: the guest is gone as soon as the agent reports the status, so tearing the
    // container down in it first (its cgroup, its state) would only delay that (40 ms, TCG).
    std::vector<std::string> args = {"skiff", "--root", "/run/skiff", "run", "--keep", "--bundle", "/bundle"};
    if (terminal) {
        auto more = g_terminal.listen();
        if (more.empty()) throw Error("cannot make the console socket for process.terminal", EIO);
        args.insert(args.end(), more.begin(), more.end());
    }
    args.push_back(id);
    pid_t child = ::fork();
    if (child < 0) throw_errno("fork");
    if (child == 0) {
        ::sigprocmask(SIG_UNBLOCK, &chld, nullptr);
        if (terminal) ::dup2(::open("/dev/null", O_RDONLY), 0);  // the terminal is the agent's to feed
        else ::dup2(g_ports["stdin"], 0);
        ::dup2(g_ports["stdout"], 1);
        ::dup2(g_ports["stderr"], 2);
        ::syscall(SYS_close_range, 3U, ~0U, 0U);
        ::setsid();
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const char* envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SKIFF_VM_GUEST=1", nullptr};
        ::execve("/skiff", argv.data(), const_cast<char**>(envp));
        write_all(2, std::string("skiff-vm agent: exec /skiff: ") + std::strerror(errno) + "\n");
        ::_exit(127);
    }
    write_all(g_ports["status"], "up\n");
    std::string pending;
    if (terminal) {
        int status = 0;
        bool ended = false;
        if (!g_terminal.take_master(child, status, ended)) {
            if (!ended) ::waitpid(child, &status, 0);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        // The host sent the window size at start: in place before the process looks at it.
        struct pollfd c = {g_ports["ctl"], POLLIN, 0};
        char buf[64];
        ssize_t n;
        unsigned rows, cols;
        if (::poll(&c, 1, 0) > 0 && (n = ::read(g_ports["ctl"], buf, sizeof buf - 1)) > 0) {
            buf[n] = 0;
            if (std::sscanf(buf, "winsize %u %u", &rows, &cols) == 2) g_terminal.set_size(rows, cols);
            else pending.assign(buf, size_t(n));  // signals: the loop below delivers them
        }
    }
    bool ctl_open = true;
    for (;;) {
        std::vector<struct pollfd> p = {{sfd, POLLIN, 0}, {ctl_open ? g_ports["ctl"] : -1, POLLIN, 0}};
        g_terminal.add_polls(p, g_ports["stdin"]);
        size_t sessions_from = p.size();
        g_sessions.add_polls(p);
        int ready = ::poll(p.data(), p.size(), g_sessions.poll_timeout());
        if (ready < 0 && errno != EINTR) throw_errno("poll");
        if (ready == 0) g_sessions.recheck();
        if (ready > 0) g_terminal.handle(p, 2, g_ports["stdin"], g_ports["stdout"]);
        g_sessions.handle(p, sessions_from);
        if (p[1].revents) {
            char buf[64];
            ssize_t n = ::read(g_ports["ctl"], buf, sizeof buf);
            if (n <= 0) {
                ctl_open = false;
            } else {
                pending.append(buf, size_t(n));
                size_t nl;
                while ((nl = pending.find('\n')) != std::string::npos) {
                    std::string line = pending.substr(0, nl);
                    pending.erase(0, nl + 1);
                    unsigned rows = 0, cols = 0;
                    if (std::sscanf(line.c_str(), "winsize %u %u", &rows, &cols) == 2) {
                        g_terminal.set_size(rows, cols);
                        continue;
                    }
                    int sig = std::atoi(line.c_str());
                    if (sig > 0 && sig < 65) ::kill(child, sig);
                }
            }
        }
        if (p[0].revents) {
            struct signalfd_siginfo si = {};
            if (::read(sfd, &si, sizeof si) < 0 && errno != EAGAIN) throw_errno("read signalfd");
            if (si.ssi_signo == SIGIO) g_sessions.recheck();
            int status;
            pid_t w;
            while ((w = ::waitpid(-1, &status, WNOHANG)) > 0) {  // PID 1 reaps every orphan
                if (w == child) {
                    g_terminal.drain(g_ports["stdout"]);
                    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                }
                g_sessions.child_exited(w, status);  // exec'd processes are orphans of the guest skiff
            }
        }
    }
}

[[noreturn]] void power_off(int code) {
    auto it = g_ports.find("status");
    if (it != g_ports.end()) write_all(it->second, "exit " + std::to_string(code) + "\n");
    ::sync();
    if (code != 0 && ::ioperm(0xf4, 4, 1) == 0) outl(unsigned(code) >> 1, 0xf4);  // QEMU exits (v<<1)|1
    // A reset, not a power-off: the machine has no ACPI (sizing.hpp), and under -no-reboot
    // QEMU exits 0 at a reset just as at a power-off.
    ::reboot(RB_AUTOBOOT);
    for (;;) ::pause();
}

}  // namespace

bool is_guest_init(int argc, char** argv) {
    return argc >= 1 && ::getpid() == 1 && argv[0] && std::strcmp(argv[0], "/init") == 0;
}

void agent_main() {
    int code = 1;
    try {
        mount_or_throw("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
        mount_or_throw("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
        mount_or_throw("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
        open_ports();
        configure_guest_network();  // before the move: its files are in the initramfs
        std::string id = enter_guest_root();
        g_sessions.open_ports(id);
        code = run_container(id);
    } catch (const Error& e) {
        say(e.what());
        code = 1;
    }
    power_off(code);
}

}  // namespace skiff::vm
