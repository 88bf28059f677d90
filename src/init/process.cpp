// The process attributes of "process" and the final execve.
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <sys/ioctl.h>

#include "init/seccomp_listener.hpp"
#include "linux/channel.hpp"
#include "init/steps.hpp"
#include "linux/caps.hpp"
#include "base/error.hpp"
#include "base/text.hpp"
#include "linux/log.hpp"
#include "init/seccomp_profile.hpp"
#include "linux/syscalls.hpp"

namespace skiff::init {
namespace {

const std::pair<const char*, int> kRlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

std::string env_value(const std::vector<std::string>& env, const std::string& name) {
    for (const auto& e : env)
        if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=')
            return e.substr(name.size() + 1);
    return {};
}

bool is_executable_file(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string home_of(uint32_t uid) {
    std::string passwd;
    try {
        passwd = text::read_file("/etc/passwd");
    } catch (const Error&) {
        return "/";
    }
    for (auto view : text::lines(passwd)) {
        std::string line(view);
        // name:pw:uid:gid:gecos:home:shell
        size_t p[6];
        size_t pos = 0;
        int n = 0;
        for (; n < 6 && (pos = line.find(':', pos)) != std::string::npos; ++n, ++pos) p[n] = pos;
        if (n < 6) continue;
        if (line.substr(p[1] + 1, p[2] - p[1] - 1) != std::to_string(uid)) continue;
        return line.substr(p[4] + 1, p[5] - p[4] - 1);
    }
    return "/";
}

int sched_policy(const std::string& name) {
    if (name == "SCHED_OTHER") return SCHED_OTHER;
    if (name == "SCHED_FIFO") return SCHED_FIFO;
    if (name == "SCHED_RR") return SCHED_RR;
    if (name == "SCHED_BATCH") return SCHED_BATCH;
    if (name == "SCHED_ISO") return 4;
    if (name == "SCHED_IDLE") return SCHED_IDLE;
    if (name == "SCHED_DEADLINE") return SCHED_DEADLINE;
    throw Error("process.scheduler.policy: unknown policy \"" + name + "\"", EINVAL);
}

uint64_t sched_flag(const std::string& name) {
    if (name == "SCHED_FLAG_RESET_ON_FORK") return SCHED_FLAG_RESET_ON_FORK;
    if (name == "SCHED_FLAG_RECLAIM") return SCHED_FLAG_RECLAIM;
    if (name == "SCHED_FLAG_DL_OVERRUN") return SCHED_FLAG_DL_OVERRUN;
    if (name == "SCHED_FLAG_KEEP_POLICY") return SCHED_FLAG_KEEP_POLICY;
    if (name == "SCHED_FLAG_KEEP_PARAMS") return SCHED_FLAG_KEEP_PARAMS;
    if (name == "SCHED_FLAG_UTIL_CLAMP_MIN") return SCHED_FLAG_UTIL_CLAMP_MIN;
    if (name == "SCHED_FLAG_UTIL_CLAMP_MAX") return SCHED_FLAG_UTIL_CLAMP_MAX;
    throw Error("process.scheduler.flags: unknown flag \"" + name + "\"", EINVAL);
}

struct SchedAttr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};

// Clears close-on-exec on the preserved fds 3..3+preserved-1 and sets it on every fd above
// them, each call checked. close_range does it in one call; without it (kernels before 5.11,
// or a filter the runtime itself runs under) the fds listed in /proc/self/fd are marked one
// by one. Failing to mark one fails the start rather than leaking it.
void keep_only_stdio_and_preserved(unsigned preserved) {
    unsigned first = 3 + preserved;
    for (unsigned fd = 3; fd < first; ++fd)
        if (::fcntl(int(fd), F_SETFD, 0) < 0 && errno != EBADF)
            throw_errno("keep preserved fd " + std::to_string(fd));
    if (sys::close_range(first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    int range_errno = errno;
    int dir_fd = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0)
        throw_errno("mark fds close-on-exec: close_range failed (" +
                    std::string(std::strerror(range_errno)) + ") and /proc/self/fd");
    DIR* dir = ::fdopendir(dir_fd);
    if (!dir) {
        ::close(dir_fd);
        throw_errno("mark fds close-on-exec: read /proc/self/fd");
    }
    std::vector<int> fds;
    while (struct dirent* e = ::readdir(dir)) {
        char* end = nullptr;
        long fd = std::strtol(e->d_name, &end, 10);
        if (*end == '\0' && end != e->d_name && fd >= long(first) && fd != dir_fd) fds.push_back(int(fd));
    }
    ::closedir(dir);
    for (int fd : fds)
        if (::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
            throw_errno("mark fd " + std::to_string(fd) + " close-on-exec");
}

}  // namespace

std::string find_executable(const oci::Process& process) {
    const std::string& name = process.args.at(0);
    if (name.find('/') != std::string::npos) {
        if (!is_executable_file(name))
            throw Error("exec: \"" + name + "\": " + (::access(name.c_str(), F_OK) == 0
                                                         ? "permission denied"
                                                         : "stat " + name + ": no such file or directory"),
                        ENOENT);
        return name;
    }
    std::string path = env_value(process.env, "PATH");
    size_t start = 0;
    while (!path.empty() && start <= path.size()) {
        size_t end = path.find(':', start);
        if (end == std::string::npos) end = path.size();
        std::string dir = path.substr(start, end - start);
        if (dir.empty()) dir = ".";
        std::string candidate = dir + "/" + name;
        if (is_executable_file(candidate)) return candidate;
        start = end + 1;
    }
    // The exact words docker matches to answer 127.
    throw Error("exec: \"" + name + "\": executable file not found in $PATH", ENOENT);
}

std::vector<std::string> process_env(const oci::Process& process) {
    std::vector<std::string> env = process.env;
    if (env_value(env, "HOME").empty()) env.push_back("HOME=" + home_of(process.user.uid));
    return env;
}

void set_limits_and_scheduling(const oci::Process& p) {
    for (const auto& r : p.rlimits) {
        int resource = -1;
        for (const auto& [name, value] : kRlimits)
            if (r.type == name) resource = value;
        if (resource < 0) throw Error("process.rlimits: unknown type \"" + r.type + "\"", EINVAL);
        struct rlimit lim = {r.soft, r.hard};
        if (::setrlimit(resource, &lim) < 0) throw_errno("setting rlimit type " + r.type);
    }
    if (p.scheduler) {
        SchedAttr attr = {};
        attr.size = sizeof attr;
        attr.sched_policy = uint32_t(sched_policy(p.scheduler->policy));
        for (const auto& f : p.scheduler->flags) attr.sched_flags |= sched_flag(f);
        attr.sched_nice = p.scheduler->nice.value_or(0);
        attr.sched_priority = uint32_t(p.scheduler->priority.value_or(0));
        attr.sched_runtime = p.scheduler->runtime.value_or(0);
        attr.sched_deadline = p.scheduler->deadline.value_or(0);
        attr.sched_period = p.scheduler->period.value_or(0);
        if (::syscall(SYS_sched_setattr, 0, &attr, 0) < 0) throw_errno("process.scheduler: sched_setattr");
    }
    if (p.io_priority) {
        int cls = 0;
        const auto& c = p.io_priority->io_class;
        if (c == "IOPRIO_CLASS_RT") cls = 1;
        else if (c == "IOPRIO_CLASS_BE") cls = 2;
        else if (c == "IOPRIO_CLASS_IDLE") cls = 3;
        else throw Error("process.ioPriority.class: unknown class \"" + c + "\"", EINVAL);
        if (sys::ioprio_set(1 /*IOPRIO_WHO_PROCESS*/, 0, (cls << 13) | p.io_priority->priority) < 0)
            throw_errno("process.ioPriority: ioprio_set");
    }
}

void drop_privileges(Context& ctx) {
    const oci::Process& p = *ctx.spec->process;
    const oci::Seccomp* seccomp =
        ctx.spec->linux && ctx.spec->linux->seccomp ? &*ctx.spec->linux->seccomp : nullptr;

    caps::Sets sets;
    std::vector<std::string> unknown;
    if (p.capabilities) {
        const auto& c = *p.capabilities;
        if (c.bounding) sets.bounding = caps::mask_of(*c.bounding, &unknown);
        if (c.effective) sets.effective = caps::mask_of(*c.effective, &unknown);
        if (c.permitted) sets.permitted = caps::mask_of(*c.permitted, &unknown);
        if (c.inheritable) sets.inheritable = caps::mask_of(*c.inheritable, &unknown);
        if (c.ambient) sets.ambient = caps::mask_of(*c.ambient, &unknown);
    }
    // An absent bounding list means an empty one, as in runc: nothing is kept implicitly.
    if (!sets.bounding) sets.bounding = 0;
    for (const auto& u : unknown) log::warn("unknown capability \"" + u + "\" ignored");
    // config.md: a capability that cannot be granted is logged as a warning, and runtimes
    // SHOULD NOT fail. What our own bounding set lacks (the host's may) can never be granted.
    uint64_t grantable = 0, wanted = sets.effective | sets.permitted | sets.inheritable |
                                     sets.ambient | sets.bounding.value_or(0);
    // Our permitted set is what we can hand on: the bounding set masked it at our exec (and a
    // new user namespace gives a full one). One capget, not a PR_CAPBSET_READ per capability.
    {
        struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct data[2] = {};
        if (::syscall(SYS_capget, &header, data) == 0)
            grantable = uint64_t(data[0].permitted) | (uint64_t(data[1].permitted) << 32);
        else
            grantable = ~uint64_t(0);
    }
    int last = caps::last_cap();
    for (int c = 0; c <= last; ++c)
        if ((wanted & ~grantable) & (uint64_t(1) << c))
            log::warn("capability " + caps::all_names()[size_t(c)] +
                      " cannot be granted (not in the runtime's bounding set): ignored");
    sets.effective &= grantable;
    sets.permitted &= grantable;
    sets.inheritable &= grantable;
    sets.ambient &= grantable;
    if (sets.bounding) *sets.bounding &= grantable;

    // Only stdio and the preserved fds may cross execve. Marked now, before the filter, so a
    // profile that refuses close_range, fcntl or close cannot keep one open.
    keep_only_stdio_and_preserved(unsigned(ctx.preserve_fds));

    int listener = -1;
    // Without no_new_privs an unprivileged filter load is refused, so load it while we still
    // hold CAP_SYS_ADMIN (runc's order); the filter must then allow the calls that follow.
    if (seccomp && !p.no_new_privileges) listener = seccomp::load(*seccomp);

    caps::drop_bounding(sets);
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) throw_errno("prctl keepcaps");
    const auto& gids = p.user.additional_gids;
    if (::setgroups(gids.size(), reinterpret_cast<const gid_t*>(gids.data())) < 0 &&
        !(errno == EPERM && gids.empty()))
        throw_errno("setgroups");
    if (::setresgid(p.user.gid, p.user.gid, p.user.gid) < 0) throw_errno("setgid " + std::to_string(p.user.gid));
    if (::setresuid(p.user.uid, p.user.uid, p.user.uid) < 0) throw_errno("setuid " + std::to_string(p.user.uid));
    // A uid change resets dumpability to fs.suid_dumpable, which a host may set to 1; the init
    // now waits for `start` as this user, so it is made non-dumpable again.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) throw_errno("prctl dumpable");
    caps::apply(sets);
    if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) throw_errno("prctl keepcaps");
    if (p.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        throw_errno("prctl no_new_privs");
    if (seccomp && p.no_new_privileges) listener = seccomp::load(*seccomp);
    if (listener >= 0) {
        send_listener(ctx.listener_socket_fd, ctx.state_json, ctx.host_pid,
                      seccomp->listener_metadata, listener);
        ::close(listener);  // close-on-exec too (the kernel makes it so), should close be refused
    }
}

void exec_process(Context& ctx, const std::string& executable, const std::vector<std::string>& env) {
    const oci::Process& p = *ctx.spec->process;
    ::signal(SIGPIPE, SIG_DFL);  // the runtime ignores it; the container gets the default
    std::vector<char*> argv, envp;
    for (const auto& a : p.args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    ::execve(executable.c_str(), argv.data(), envp.data());
    throw_errno("exec " + executable);
}

void detach_from_runtime(bool stay_dumpable) {
    if (!stay_dumpable) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    // `run` and `exec` block the signals they forward; the container must not inherit that mask.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
}

void connect_seccomp_listener(Context& ctx) {
    const auto& seccomp = ctx.spec->linux ? ctx.spec->linux->seccomp : std::nullopt;
    if (seccomp && seccomp::uses_notify(*seccomp))
        ctx.listener_socket_fd = connect_unix(seccomp->listener_path, "seccomp listener");
}

void make_console_stdio(Fd& console) {
    if (!console) return;
    if (::setsid() < 0) throw_errno("setsid");
    if (::ioctl(console.get(), TIOCSCTTY, 0) < 0) throw_errno("set controlling terminal");
    for (int i = 0; i < 3; ++i)
        if (::dup2(console.get(), i) < 0) throw_errno("dup2 console");
    console.reset();
}

ProcessImage take_process_attributes(const oci::Process& process) {
    if (!process.cwd.empty() && ::chdir(process.cwd.c_str()) < 0)
        throw_errno("chdir to cwd (\"" + process.cwd + "\")");
    // A cwd reached through a leaked directory fd would be outside the new root
    // (CVE-2024-21626 class); the kernel then reports it as unreachable.
    char cwd[4096];
    if (!::getcwd(cwd, sizeof cwd) || cwd[0] != '/')
        throw Error("process.cwd " + process.cwd + " is outside the container's root", EPERM);
    ProcessImage image{find_executable(process), process_env(process)};
    set_limits_and_scheduling(process);
    ::umask(process.user.umask.value_or(022));
    ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    return image;
}

}  // namespace skiff::init
