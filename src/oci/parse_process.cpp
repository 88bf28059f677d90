// "process": config.md "Process" plus the Linux process fields (config.md, Linux process).
#include <algorithm>
#include <array>
#include <set>
#include <string_view>

#include "base/cpulist.hpp"
#include "oci/parse_internal.hpp"

namespace skiff::oci::detail {

namespace {

// Every resource setrlimit(2) knows on Linux.
constexpr std::array<std::string_view, 16> kRlimits = {
    "RLIMIT_AS",      "RLIMIT_CORE",   "RLIMIT_CPU",     "RLIMIT_DATA",
    "RLIMIT_FSIZE",   "RLIMIT_LOCKS",  "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",    "RLIMIT_NOFILE", "RLIMIT_NPROC",   "RLIMIT_RSS",
    "RLIMIT_RTPRIO",  "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"};

constexpr std::array<std::string_view, 7> kSchedPolicies = {
    "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH",
    "SCHED_ISO",   "SCHED_IDLE", "SCHED_DEADLINE"};

constexpr std::array<std::string_view, 7> kSchedFlags = {
    "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM",        "SCHED_FLAG_DL_OVERRUN",
    "SCHED_FLAG_KEEP_POLICY",   "SCHED_FLAG_KEEP_PARAMS",    "SCHED_FLAG_UTIL_CLAMP_MIN",
    "SCHED_FLAG_UTIL_CLAMP_MAX"};

constexpr std::array<std::string_view, 3> kIoClasses = {"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE",
                                                        "IOPRIO_CLASS_IDLE"};

User read_user(const Node& n) {
    n.want_object();
    User u;
    // uid/gid are REQUIRED by the spec, but every runtime we follow defaults them to 0.
    u.uid = n.opt_int<uint32_t>("uid").value_or(0);
    u.gid = n.opt_int<uint32_t>("gid").value_or(0);
    u.umask = n.opt_int<uint32_t>("umask");
    if (u.umask && *u.umask > 0777) n.child("umask").fail("must be at most 0777 (511)");
    if (auto g = n.get("additionalGids"))
        for (auto& e : g->elements()) u.additional_gids.push_back(e.integer<uint32_t>());
    u.username = n.opt_str("username").value_or("");
    return u;
}

Capabilities read_capabilities(const Node& n) {
    n.want_object();
    // Names are checked when applied: an unknown one is a warning there, not an error here.
    Capabilities c;
    c.bounding = n.opt_strings("bounding");
    c.effective = n.opt_strings("effective");
    c.inheritable = n.opt_strings("inheritable");
    c.permitted = n.opt_strings("permitted");
    c.ambient = n.opt_strings("ambient");
    return c;
}

std::vector<Rlimit> read_rlimits(const Node& n) {
    std::vector<Rlimit> out;
    std::set<std::string> seen;
    for (auto& e : n.elements()) {
        e.want_object();
        Rlimit r;
        auto type = e.required("type");
        r.type = type.str();
        if (!one_of(kRlimits, r.type)) type.fail("unknown rlimit type \"" + r.type + "\"");
        if (!seen.insert(r.type).second) type.fail("duplicate rlimit type \"" + r.type + "\"");
        r.soft = e.req_int<uint64_t>("soft");
        r.hard = e.req_int<uint64_t>("hard");
        // setrlimit(2) would fail with EINVAL; say why before anything is created.
        if (r.soft > r.hard) e.child("soft").fail("soft limit is greater than the hard limit");
        out.push_back(std::move(r));
    }
    return out;
}

Scheduler read_scheduler(const Node& n) {
    n.want_object();
    Scheduler s;
    auto policy = n.required("policy");
    s.policy = policy.str();
    if (!one_of(kSchedPolicies, s.policy))
        policy.fail("unknown scheduler policy \"" + s.policy + "\"");
    s.nice = n.opt_int<int32_t>("nice");
    if (s.nice && (*s.nice < -20 || *s.nice > 19))
        n.child("nice").fail(std::to_string(*s.nice) + " is out of range (-20..19)");
    s.priority = n.opt_int<int32_t>("priority");
    if (auto f = n.get("flags")) {
        s.flags = f->strings();
        for (size_t i = 0; i < s.flags.size(); ++i)
            if (!one_of(kSchedFlags, s.flags[i]))
                f->child(i).fail("unknown scheduler flag \"" + s.flags[i] + "\"");
    }
    s.runtime = n.opt_int<uint64_t>("runtime");
    s.deadline = n.opt_int<uint64_t>("deadline");
    s.period = n.opt_int<uint64_t>("period");
    return s;
}

IoPriority read_io_priority(const Node& n) {
    n.want_object();
    IoPriority p;
    auto cls = n.required("class");
    p.io_class = cls.str();
    if (!one_of(kIoClasses, p.io_class)) cls.fail("unknown io priority class \"" + p.io_class + "\"");
    p.priority = n.opt_int<int32_t>("priority").value_or(0);
    if (p.priority < 0 || p.priority > 7)
        n.child("priority").fail(std::to_string(p.priority) + " is out of range (0..7)");
    return p;
}

// A cpu list as in cpuset(7): "0-3,7", below the kernel's largest NR_CPUS. Empty means
// "not set".
void check_cpu_list(const Node& n, const std::string& v) {
    if (!cpulist::parse(v, 8192)) n.fail("invalid cpu list \"" + v + "\"");
}

ExecCpuAffinity read_exec_cpu_affinity(const Node& n) {
    n.want_object();
    ExecCpuAffinity a;
    a.initial = n.opt_str("initial").value_or("");
    check_cpu_list(n.child("initial"), a.initial);
    a.final_ = n.opt_str("final").value_or("");
    check_cpu_list(n.child("final"), a.final_);
    return a;
}

}  // namespace

void require_absolute(const Node& n, const std::string& value) {
    if (value.empty() || value[0] != '/') n.fail("must be an absolute path, got \"" + value + "\"");
}

Process read_process(const Node& n) {
    n.want_object();
    Process p;
    p.terminal = n.opt_bool("terminal").value_or(false);
    if (auto cs = n.get("consoleSize")) {
        cs->want_object();
        p.console_size = ConsoleSize{cs->opt_int<uint32_t>("height").value_or(0),
                                     cs->opt_int<uint32_t>("width").value_or(0)};
    }
    if (auto u = n.get("user")) p.user = read_user(*u);

    // args is REQUIRED on Linux and names the executable, so it cannot be empty.
    auto args = n.required("args");
    p.args = args.strings();
    if (p.args.empty()) args.fail("must contain at least the executable");
    p.command_line = n.opt_str("commandLine").value_or("");

    if (auto env = n.get("env")) {
        p.env = env->strings();
        for (size_t i = 0; i < p.env.size(); ++i) {
            const auto eq = p.env[i].find('=');
            if (eq == std::string::npos || eq == 0)
                env->child(i).fail("expected KEY=value, got \"" + p.env[i] + "\"");
        }
    }

    auto cwd = n.required("cwd");
    p.cwd = cwd.str();
    require_absolute(cwd, p.cwd);

    if (auto c = n.get("capabilities")) p.capabilities = read_capabilities(*c);
    if (auto r = n.get("rlimits")) p.rlimits = read_rlimits(*r);
    p.no_new_privileges = n.opt_bool("noNewPrivileges").value_or(false);
    p.apparmor_profile = n.opt_str("apparmorProfile").value_or("");
    p.oom_score_adj = n.opt_int<int32_t>("oomScoreAdj");
    if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000))
        n.child("oomScoreAdj").fail(std::to_string(*p.oom_score_adj) +
                                    " is out of range (-1000..1000)");
    if (auto s = n.get("scheduler")) p.scheduler = read_scheduler(*s);
    p.selinux_label = n.opt_str("selinuxLabel").value_or("");
    if (auto io = n.get("ioPriority")) p.io_priority = read_io_priority(*io);
    if (auto a = n.get("execCPUAffinity")) p.exec_cpu_affinity = read_exec_cpu_affinity(*a);
    return p;
}

}  // namespace skiff::oci::detail
