// linux.seccomp → a BPF program built by libseccomp and loaded with seccomp(2) directly.
//
// We let libseccomp compile the rules (it knows every arch's syscall table) but install
// the program ourselves: libseccomp 2.5 cannot pass SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
// and its loader would set no_new_privs behind our back (the config decides that).
#include "linux/seccomp.hpp"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "linux/error.hpp"
#include "linux/fd.hpp"

namespace skiff::seccomp {
namespace {

struct ActionName {
    const char* name;
    uint32_t value;       // libseccomp/kernel action, data bits zero
    bool takes_errno;     // ERRNO and TRACE carry a 16-bit value
};

constexpr ActionName kActions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL, false},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false},
};

struct OperatorName {
    const char* name;
    scmp_compare op;
};

constexpr OperatorName kOperators[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE}, {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

struct ArchName {
    const char* name;
    uint32_t token;
};

// Every architecture libseccomp 2.5.4 can generate code for.
constexpr ArchName kArchs[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
};

struct FlagName {
    const char* name;
    unsigned long bit;
};

constexpr FlagName kFlags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

const ActionName* find_action(const std::string& name) {
    for (const auto& a : kActions)
        if (name == a.name) return &a;
    return nullptr;
}

const OperatorName* find_operator(const std::string& name) {
    for (const auto& o : kOperators)
        if (name == o.name) return &o;
    return nullptr;
}

const ArchName* find_arch(const std::string& name) {
    for (const auto& a : kArchs)
        if (name == a.name) return &a;
    return nullptr;
}

const FlagName* find_flag(const std::string& name) {
    for (const auto& f : kFlags)
        if (name == f.name) return &f;
    return nullptr;
}

long sys_seccomp(unsigned op, unsigned flags, void* args) {
    return ::syscall(SYS_seccomp, op, flags, args);
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// Checks one action name and its errno value; `errno_path` names the errnoRet field.
const ActionName& check_action(const std::string& path, const std::string& name,
                               const std::optional<uint32_t>& errno_ret,
                               const std::string& errno_path) {
    const ActionName* a = find_action(name);
    if (!a) throw Error(path + ": unknown action " + quoted(name));
    // The spec: an errno on an action that cannot carry one is an error.
    if (errno_ret && !a->takes_errno)
        throw Error(errno_path + ": action " + name + " does not take an errno");
    if (errno_ret && *errno_ret > 0xffff)
        throw Error(errno_path + ": " + std::to_string(*errno_ret) + " is out of range");
    return *a;
}

// The final 32-bit action; ERRNO and TRACE default to EPERM as runc does.
uint32_t action_value(const ActionName& a, const std::optional<uint32_t>& errno_ret) {
    if (!a.takes_errno) return a.value;
    return a.value | (errno_ret.value_or(EPERM) & 0xffffu);
}

struct CtxDeleter {
    void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

// Compiles the config into a libseccomp context; the caller validated it.
Ctx build(const oci::Seccomp& config) {
    const std::string base = "linux.seccomp";
    const ActionName& def = *find_action(config.default_action);
    const uint32_t def_value = action_value(def, config.default_errno_ret);

    Ctx ctx(seccomp_init(def_value));
    if (!ctx) throw Error(base + ".defaultAction: libseccomp refused " + config.default_action);

    for (size_t i = 0; i < config.architectures.size(); ++i) {
        int rc = seccomp_arch_add(ctx.get(), find_arch(config.architectures[i])->token);
        // The native arch is always in a new filter; adding it again is harmless.
        if (rc < 0 && rc != -EEXIST)
            throw_errno(base + ".architectures[" + std::to_string(i) + "]: add " +
                            config.architectures[i],
                        -rc);
    }

    for (size_t i = 0; i < config.syscalls.size(); ++i) {
        const auto& sc = config.syscalls[i];
        const std::string path = base + ".syscalls[" + std::to_string(i) + "]";
        const uint32_t act = action_value(*find_action(sc.action), sc.errno_ret);
        // libseccomp refuses a rule that repeats the default action; it would change nothing.
        if (act == def_value) continue;

        std::vector<scmp_arg_cmp> conds;
        bool repeated_index = false;
        unsigned seen = 0;
        for (const auto& arg : sc.args) {
            conds.push_back({arg.index, find_operator(arg.op)->op, arg.value, arg.value_two});
            if (seen & (1u << arg.index)) repeated_index = true;
            seen |= 1u << arg.index;
        }

        for (const auto& name : sc.names) {
            // Like runc: a name this libseccomp cannot resolve (a newer syscall, a typo, a
            // name of another OS) is skipped, so one profile can serve many hosts.
            int nr = seccomp_syscall_resolve_name(name.c_str());
            if (nr == __NR_SCMP_ERROR) continue;
            auto add = [&](unsigned n, const scmp_arg_cmp* c) {
                int rc = seccomp_rule_add_array(ctx.get(), act, nr, n, c);
                if (rc < 0) throw_errno(path + ": add rule for " + quoted(name), -rc);
            };
            if (conds.empty()) {
                add(0, nullptr);
            } else if (repeated_index) {
                // Like runc: two comparisons of the same argument cannot both hold in one
                // libseccomp rule, so each becomes its own rule (they are OR'ed).
                for (const auto& c : conds) add(1, &c);
            } else {
                add(static_cast<unsigned>(conds.size()), conds.data());
            }
        }
    }
    return ctx;
}

// The BPF program of ctx, as seccomp(2) wants it.
std::vector<sock_filter> export_program(void* ctx) {
    Fd mem(::memfd_create("skiff-seccomp", MFD_CLOEXEC));
    if (!mem) throw_errno("seccomp: memfd_create");
    int rc = seccomp_export_bpf(ctx, mem.get());
    if (rc < 0) throw_errno("seccomp: export filter", -rc);
    off_t size = ::lseek(mem.get(), 0, SEEK_END);
    if (size < 0) throw_errno("seccomp: size of filter");
    std::vector<sock_filter> prog(static_cast<size_t>(size) / sizeof(sock_filter));
    size_t want = prog.size() * sizeof(sock_filter);
    size_t got = 0;
    while (got < want) {
        ssize_t n = ::pread(mem.get(), reinterpret_cast<char*>(prog.data()) + got, want - got,
                            static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_errno("seccomp: read filter");
        got += static_cast<size_t>(n);
    }
    return prog;
}

}  // namespace

bool uses_notify(const oci::Seccomp& config) {
    for (const auto& sc : config.syscalls)
        if (sc.action == "SCMP_ACT_NOTIFY") return true;
    return false;
}

void validate(const oci::Seccomp& config) {
    const std::string base = "linux.seccomp";
    if (config.default_action.empty()) throw Error(base + ".defaultAction: is required");
    check_action(base + ".defaultAction", config.default_action, config.default_errno_ret,
                 base + ".defaultErrnoRet");
    // A NOTIFY default would trap the runtime's own syscalls before execve (runc refuses too).
    if (config.default_action == "SCMP_ACT_NOTIFY")
        throw Error(base + ".defaultAction: SCMP_ACT_NOTIFY cannot be the default action");

    for (size_t i = 0; i < config.architectures.size(); ++i)
        if (!find_arch(config.architectures[i]))
            throw Error(base + ".architectures[" + std::to_string(i) +
                        "]: unknown architecture " + quoted(config.architectures[i]));
    for (size_t i = 0; i < config.flags.size(); ++i)
        if (!find_flag(config.flags[i]))
            throw Error(base + ".flags[" + std::to_string(i) + "]: unknown flag " +
                        quoted(config.flags[i]));

    for (size_t i = 0; i < config.syscalls.size(); ++i) {
        const auto& sc = config.syscalls[i];
        const std::string path = base + ".syscalls[" + std::to_string(i) + "]";
        if (sc.names.empty()) throw Error(path + ".names: must contain at least one name");
        for (size_t n = 0; n < sc.names.size(); ++n)
            if (sc.names[n].empty())
                throw Error(path + ".names[" + std::to_string(n) + "]: empty syscall name");
        if (sc.action.empty()) throw Error(path + ".action: is required");
        check_action(path + ".action", sc.action, sc.errno_ret, path + ".errnoRet");
        for (size_t a = 0; a < sc.args.size(); ++a) {
            const auto& arg = sc.args[a];
            const std::string apath = path + ".args[" + std::to_string(a) + "]";
            if (arg.index >= 6)
                throw Error(apath + ".index: " + std::to_string(arg.index) +
                            " is not a syscall argument (0-5)");
            if (!find_operator(arg.op))
                throw Error(apath + ".op: unknown operator " + quoted(arg.op));
        }
    }

    // The spec: a NOTIFY rule needs somewhere to send the fd, and listenerMetadata MUST NOT
    // be set without listenerPath. A listenerPath without NOTIFY is ignored (spec wording).
    if (uses_notify(config) && config.listener_path.empty())
        throw Error(base + ".listenerPath: SCMP_ACT_NOTIFY is used but no listenerPath is set");
    if (!config.listener_metadata.empty() && config.listener_path.empty())
        throw Error(base + ".listenerMetadata: set without listenerPath");
}

int load(const oci::Seccomp& config) {
    validate(config);
    const bool notify = uses_notify(config);

    unsigned flags = 0;
    const auto supported = supported_flags();
    for (size_t i = 0; i < config.flags.size(); ++i) {
        const FlagName* f = find_flag(config.flags[i]);
        bool ok = false;
        for (const auto& s : supported) ok = ok || s == f->name;
        if (!ok)
            throw Error("linux.seccomp.flags[" + std::to_string(i) + "]: " + f->name +
                        " is not supported by this kernel");
        flags |= static_cast<unsigned>(f->bit);
    }
    if (notify) {
        flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        // TSYNC's error reporting collides with NEW_LISTENER's fd return; ESRCH mode fixes it.
        if (flags & SECCOMP_FILTER_FLAG_TSYNC) flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    } else {
        // WAIT_KILLABLE_RECV only means something for a listener; the kernel rejects it alone.
        flags &= ~static_cast<unsigned>(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
    }

    Ctx ctx = build(config);
    std::vector<sock_filter> prog = export_program(ctx.get());
    ctx.reset();
    sock_fprog fprog{};
    fprog.len = static_cast<unsigned short>(prog.size());
    fprog.filter = prog.data();
    if (prog.size() > BPF_MAXINSNS)
        throw Error("linux.seccomp: filter has " + std::to_string(prog.size()) +
                    " instructions, the kernel allows " + std::to_string(BPF_MAXINSNS));

    long rc = sys_seccomp(SECCOMP_SET_MODE_FILTER, flags, &fprog);
    if (rc < 0) {
        if (errno == EACCES)
            throw_errno("load seccomp filter (needs no_new_privs or CAP_SYS_ADMIN)");
        throw_errno("load seccomp filter");
    }
    return notify ? static_cast<int>(rc) : -1;
}

std::string filter_text(const oci::Seccomp& config) {
    validate(config);
    Ctx ctx = build(config);
    Fd mem(::memfd_create("skiff-seccomp-pfc", MFD_CLOEXEC));
    if (!mem) throw_errno("seccomp: memfd_create");
    int rc = seccomp_export_pfc(ctx.get(), mem.get());
    if (rc < 0) throw_errno("seccomp: export filter text", -rc);
    std::string out;
    char buf[4096];
    off_t off = 0;
    for (;;) {
        ssize_t n = ::pread(mem.get(), buf, sizeof buf, off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("seccomp: read filter text");
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        off += n;
    }
    return out;
}

std::vector<std::string> supported_actions() {
    std::vector<std::string> out;
    const unsigned api = seccomp_api_get();
    for (const auto& a : kActions) {
        uint32_t ret = a.value & SECCOMP_RET_ACTION_FULL;
        // libseccomp's API level gates what it will compile; the kernel what it will run.
        if ((a.value == SCMP_ACT_LOG || a.value == SCMP_ACT_KILL_PROCESS) && api < 3) continue;
        if (a.value == SCMP_ACT_NOTIFY && api < 5) continue;
        if (sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &ret) == 0) out.emplace_back(a.name);
    }
    return out;
}

std::vector<std::string> supported_operators() {
    std::vector<std::string> out;
    for (const auto& o : kOperators) out.emplace_back(o.name);
    return out;
}

std::vector<std::string> supported_architectures() {
    std::vector<std::string> out;
    for (const auto& a : kArchs) out.emplace_back(a.name);
    return out;
}

std::vector<std::string> known_flags() {
    std::vector<std::string> out;
    for (const auto& f : kFlags) out.emplace_back(f.name);
    return out;
}

std::vector<std::string> supported_flags() {
    std::vector<std::string> out;
    for (const auto& f : kFlags) {
        unsigned flags = static_cast<unsigned>(f.bit);
        if (f.bit == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
            flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        // The kernel checks the flags before it reads the program: EFAULT on a null program
        // means the flags were accepted, EINVAL that one is unknown. Nothing gets loaded.
        errno = 0;
        if (sys_seccomp(SECCOMP_SET_MODE_FILTER, flags, nullptr) < 0 && errno == EFAULT)
            out.emplace_back(f.name);
    }
    return out;
}

}  // namespace skiff::seccomp
