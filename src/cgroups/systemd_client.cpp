#include "cgroups/systemd_client.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "base/error.hpp"
#include "cgroups/systemd_prestart.hpp"
#include "cgroups/systemd_user.hpp"

extern char** environ;

namespace skiff::cgroups::systemd {
namespace {

constexpr const char* kName = "skiff-systemd";

bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

std::string dir_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash ? slash : 1);
}

// argv[0] of this process, as the caller spelled it (the read-only re-exec keeps argv).
std::string own_argv0() {
    int fd = ::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    char buf[PATH_MAX + 1];
    ssize_t n = ::read(fd, buf, PATH_MAX);
    ::close(fd);
    if (n <= 0) return {};
    buf[n] = 0;
    return buf;
}

}  // namespace

bool host_runs_systemd() {
    struct stat st;
    return ::lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

std::string companion_path() {
    if (const char* env = ::getenv("SKIFF_SYSTEMD_HELPER"); env && *env) return env;
    std::string argv0 = own_argv0();
    std::string dir;
    if (argv0.find('/') != std::string::npos) {
        char real[PATH_MAX];
        dir = dir_of(::realpath(argv0.c_str(), real) ? std::string(real) : argv0);
    } else if (const char* path = ::getenv("PATH"); path && !argv0.empty()) {
        std::string p = path;
        size_t start = 0;
        for (;;) {
            size_t colon = p.find(':', start);
            std::string d = p.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
            if (!d.empty() && executable(d + "/" + argv0)) {
                char real[PATH_MAX];
                std::string found = d + "/" + argv0;
                dir = dir_of(::realpath(found.c_str(), real) ? std::string(real) : found);
                break;
            }
            if (colon == std::string::npos) break;
            start = colon + 1;
        }
    }
    if (!dir.empty() && executable(dir + "/" + kName)) return dir + "/" + kName;
    // make install and the package: <prefix>/sbin/skiff and <prefix>/libexec/skiff/skiff-systemd
    if (!dir.empty() && executable(dir + "/../libexec/skiff/" + kName)) return dir + "/../libexec/skiff/" + kName;
    for (const char* d : {"/usr/libexec/skiff", "/usr/local/libexec/skiff"})
        if (executable(std::string(d) + "/" + kName)) return std::string(d) + "/" + kName;
    throw Error(std::string("systemd cgroup driver: cannot find its companion ") + kName + " (looked beside " +
                    (dir.empty() ? std::string("the skiff binary") : dir) +
                    " and in /usr/libexec/skiff; $SKIFF_SYSTEMD_HELPER names another place)",
                ENOENT);
}

Companion::Companion(const std::string& verb, const std::string& unit) : verb_(verb), unit_(unit) { spawn(); }

Companion::Companion() : verb_("start"), unit_("-") { spawn(); }

void Companion::name_unit(const std::string& unit) {
    unit_ = unit;
    write_line("UNIT " + unit);
}

void Companion::spawn() {
    std::string path = companion_path();
    // The user's manager: its bus addresses go to the companion in its environment (and
    // only ours: inherited ones would send a system request to some user's manager).
    std::vector<std::string> user_env = user_manager_used() ? user_bus_environment() : std::vector<std::string>{};
    std::vector<char*> envp;
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "SKIFF_SYSTEMD_USER_", 19) != 0) envp.push_back(*e);
    for (auto& e : user_env) envp.push_back(e.data());
    envp.push_back(nullptr);
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) < 0) throw_errno("pipe");
    if (::pipe2(out, O_CLOEXEC) < 0) {
        int e = errno;
        ::close(in[0]);
        ::close(in[1]);
        throw_errno("pipe", e);
    }
    const char* argv[] = {kName, verb_.c_str(), unit_.c_str(), nullptr};
    // posix_spawn, not fork: glibc's is a vfork (CLONE_VM), so the runtime's pages are not
    // made copy-on-write while it goes on parsing and cloning (each such fault is dear under
    // emulation). The child's stdio are the pipes, stderr /dev/null, nothing else of the
    // runtime's (fds preserved for the container are not close-on-exec), and no blocked
    // signal: it finishes its request whatever the runtime's fate.
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    int e = ::posix_spawn(&pid, path.c_str(), &fa, &attr, const_cast<char**>(argv), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (e != 0) {
        for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
        throw_errno("systemd cgroup driver: cannot execute " + path, e);
    }
    ::close(in[0]);
    ::close(out[1]);
    pid_ = pid;
    to_ = in[1];
    from_ = out[0];
}

Companion::~Companion() { abandon(); }

void Companion::write_line(const std::string& line) {
    std::string data = line + "\n";
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(to_, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            // EPIPE: it already gave up (no bus); finish() reads why.
            if (errno == EPIPE) return;
            throw_errno("write to " + std::string(kName));
        }
        off += size_t(n);
    }
}

void Companion::send(const Property& p) { write_line(wire_line(p)); }

void Companion::finish(const std::string& last_line) {
    if (pid_ <= 0) throw Error(std::string(kName) + " is not running", ECHILD);
    if (!last_line.empty()) write_line(last_line);
    ::close(to_);
    to_ = -1;
    std::string answer;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(from_, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        answer.append(buf, size_t(n));
    }
    ::close(from_);
    from_ = -1;
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    while (!answer.empty() && answer.back() == '\n') answer.pop_back();
    if (answer == "OK") return;
    if (answer.rfind("ERR ", 0) == 0) throw Error(answer.substr(4), EIO);
    throw Error(std::string(kName) + " " + verb_ + " " + unit_ + ": no answer (exit status " +
                    std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) + ")",
                EIO);
}

void Companion::abandon() {
    if (to_ >= 0) ::close(to_);
    if (from_ >= 0) ::close(from_);
    to_ = from_ = -1;
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }
}

namespace {
std::unique_ptr<Companion> prestarted;
}

void prestart_across_exec(int argc, char** argv) {
    if (!wants_early_companion(argc, argv) || !host_runs_systemd()) return;
    try {
        prestarted = std::make_unique<Companion>();
    } catch (const Error&) {
        return;  // create() starts one again and reports why it cannot
    }
    if (!prestarted->hand_over()) prestarted.reset();
}

void prestart_companion() {
    if (prestarted) prestarted->hand_back();  // no exec happened since prestart_across_exec
    else prestarted = adopt_handed_over();
    // main() starts it before the rootless decision, for the system manager: a user's
    // container needs one that was given the user bus.
    if (prestarted && user_manager_used()) prestarted.reset();
    if (prestarted || !host_runs_systemd()) return;  // the driver's own error comes later
    try {
        prestarted = std::make_unique<Companion>();
    } catch (const Error&) {
        // create() starts one again and reports why it cannot
    }
}

std::unique_ptr<Companion> take_prestarted_companion() { return std::move(prestarted); }

void set_properties(const std::string& unit, const std::vector<Property>& props) {
    if (props.empty()) return;
    Companion c("set", unit);
    for (const auto& p : props) c.send(p);
    c.finish("END");
}

void stop_unit(const std::string& unit, bool if_idle) {
    Companion c(if_idle ? "stop-idle" : "stop", unit);
    c.finish("");
}

}  // namespace skiff::cgroups::systemd
