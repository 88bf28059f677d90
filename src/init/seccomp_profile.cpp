// linux.seccomp → a filter: checked with the JSON path of every bad value, compiled through
// the libseccomp wrapper (linux/seccomp.hpp), loaded with the flags the config names.
#include "init/seccomp_profile.hpp"

#include <linux/seccomp.h>

#include <cerrno>
#include <memory>

#include "base/error.hpp"
#include "linux/seccomp.hpp"

namespace skiff::seccomp {
namespace {

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

// Compiles the config into a filter; the caller validated it.
// highest: set to the highest native syscall number the profile names (-1 for none), from the
// same resolution the rules need: libseccomp's name lookup is a scan of its table.
std::unique_ptr<Filter> build(const oci::Seccomp& config, int* highest = nullptr) {
    if (highest) *highest = -1;
    auto note = [highest](int nr) {
        if (highest && nr != kUnknownSyscall && nr > *highest) *highest = nr;
    };
    const std::string base = "linux.seccomp";
    const ActionName& def = *find_action(config.default_action);
    const uint32_t def_value = action_value(def, config.default_errno_ret);

    auto filter = std::make_unique<Filter>(def_value);
    if (!filter->valid()) throw Error(base + ".defaultAction: libseccomp refused " + config.default_action);

    for (size_t i = 0; i < config.architectures.size(); ++i) {
        int rc = filter->add_arch(find_arch(config.architectures[i])->token);
        if (rc < 0)
            throw_errno(base + ".architectures[" + std::to_string(i) + "]: add " +
                            config.architectures[i],
                        -rc);
    }

    for (size_t i = 0; i < config.syscalls.size(); ++i) {
        const auto& sc = config.syscalls[i];
        const std::string path = base + ".syscalls[" + std::to_string(i) + "]";
        const uint32_t act = action_value(*find_action(sc.action), sc.errno_ret);
        // libseccomp refuses a rule that repeats the default action; it would change nothing.
        if (act == def_value) {
            if (highest)
                for (const auto& name : sc.names) note(resolve_syscall(name));
            continue;
        }

        std::vector<ArgCompare> conds;
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
            int nr = resolve_syscall(name);
            note(nr);
            if (nr == kUnknownSyscall) continue;
            auto add = [&](const std::vector<ArgCompare>& c) {
                int rc = filter->add_rule(act, nr, c);
                if (rc < 0) throw_errno(path + ": add rule for " + quoted(name), -rc);
            };
            if (repeated_index) {
                // Like runc: two comparisons of the same argument cannot both hold in one
                // libseccomp rule, so each becomes its own rule (they are OR'ed).
                for (const auto& c : conds) add({c});
            } else {
                add(conds);
            }
        }
    }
    return filter;
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

    int max_listed = -1;
    std::vector<sock_filter> prog = build(config, &max_listed)->program();
    // As runc: not for a permissive default (an unknown syscall is let through anyway), nor
    // when the default already is ENOSYS, nor for a profile that names no syscall here.
    const std::string& d = config.default_action;
    bool permissive = d == "SCMP_ACT_ALLOW" || d == "SCMP_ACT_LOG" || d == "SCMP_ACT_TRACE";
    bool default_enosys = d == "SCMP_ACT_ERRNO" && config.default_errno_ret && *config.default_errno_ret == ENOSYS;
    if (!permissive && !default_enosys && max_listed >= 0) prepend_enosys_stub(prog, max_listed);
    if (prog.size() > kMaxInstructions)
        throw Error("linux.seccomp: filter has " + std::to_string(prog.size()) +
                    " instructions, the kernel allows " + std::to_string(kMaxInstructions));
    long rc = install(prog, flags);
    return notify ? static_cast<int>(rc) : -1;
}

std::string filter_text(const oci::Seccomp& config) {
    validate(config);
    return build(config)->text();
}

}  // namespace skiff::seccomp
