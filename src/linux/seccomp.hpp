// A typed wrapper over libseccomp and seccomp(2): its names of actions, comparisons,
// architectures and filter flags, a filter under construction, and the loader. Knows nothing
// of the OCI config; init/seccomp_profile.hpp compiles linux.seccomp with it.
#pragma once
#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

namespace skiff::seccomp {

// libseccomp's (and the spec's) names, with their values.
struct ActionName {
    const char* name;   // "SCMP_ACT_ERRNO"
    uint32_t value;     // libseccomp/kernel action, data bits zero
    bool takes_errno;   // ERRNO and TRACE carry a 16-bit value
};
struct OperatorName {
    const char* name;  // "SCMP_CMP_EQ"
    int op;            // enum scmp_compare
};
struct ArchName {
    const char* name;  // "SCMP_ARCH_X86_64"
    uint32_t token;
};
struct FlagName {
    const char* name;  // "SECCOMP_FILTER_FLAG_LOG"
    unsigned long bit;
};

// nullptr for a name libseccomp does not have.
const ActionName* find_action(const std::string& name);
const OperatorName* find_operator(const std::string& name);
const ArchName* find_arch(const std::string& name);
const FlagName* find_flag(const std::string& name);

// The syscall number on the native architecture, or kUnknownSyscall when libseccomp does not
// know it.
// A syscall not native to this arch (socketcall on x86_64) resolves to a negative
// pseudo-number that libseccomp maps onto the other arches of the filter: a valid number.
constexpr int kUnknownSyscall = -1;  // libseccomp's __NR_SCMP_ERROR
int resolve_syscall(const std::string& name);

// One comparison of a syscall argument.
struct ArgCompare {
    unsigned index;
    int op;  // enum scmp_compare
    uint64_t value, value_two;
};

// A filter being built: libseccomp's context, released with the object.
class Filter {
public:
    explicit Filter(uint32_t default_action);
    ~Filter();
    Filter(const Filter&) = delete;
    Filter& operator=(const Filter&) = delete;
    // False when libseccomp refused the default action.
    bool valid() const { return ctx_ != nullptr; }
    // 0, or a negative errno (the caller names what it was adding).
    int add_arch(uint32_t token);
    int add_rule(uint32_t action, int syscall, const std::vector<ArgCompare>& args);
    // The BPF program, as seccomp(2) wants it; and as libseccomp's readable pseudo-code.
    std::vector<sock_filter> program() const;
    std::string text() const;

private:
    void* ctx_;
};

// The largest program the kernel loads.
constexpr size_t kMaxInstructions = BPF_MAXINSNS;

// Installs prog with seccomp(SECCOMP_SET_MODE_FILTER, flags). Returns the listener fd when
// flags ask for one (SECCOMP_FILTER_FLAG_NEW_LISTENER), else 0. Never sets no_new_privs.
long install(std::vector<sock_filter>& prog, unsigned flags);

// runc's -ENOSYS stub, put before `prog`: on the native arch, a syscall numbered above
// `max_listed` (the highest the profile names) fails with ENOSYS rather than the default
// action, so that a program newer than the profile (glibc trying clone3 first) falls back
// as it does on an older kernel. x32 numbers and other arches go to `prog` unchanged.
void prepend_enosys_stub(std::vector<sock_filter>& prog, int max_listed);

// What `features` reports: the names this libseccomp and kernel really support.
std::vector<std::string> supported_actions();
std::vector<std::string> supported_operators();
std::vector<std::string> supported_architectures();
std::vector<std::string> known_flags();      // every flag name libseccomp's table has
std::vector<std::string> supported_flags();  // those this kernel accepts (probed)

}  // namespace skiff::seccomp
