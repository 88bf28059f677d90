// libseccomp behind a typed interface, and seccomp(2) called directly.
//
// We let libseccomp compile the rules (it knows every arch's syscall table) but install
// the program ourselves: libseccomp 2.5 cannot pass SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
// and its loader would set no_new_privs behind our back (the config decides that).
#include "linux/seccomp.hpp"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <iterator>
#include <cstring>

#include "base/error.hpp"
#include "linux/fd.hpp"

namespace skiff::seccomp {
namespace {

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

constexpr OperatorName kOperators[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE}, {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
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

constexpr FlagName kFlags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

template <class Entry, size_t N>
const Entry* find_named(const Entry (&table)[N], const std::string& name) {
    for (const auto& e : table)
        if (name == e.name) return &e;
    return nullptr;
}

long sys_seccomp(unsigned op, unsigned flags, void* args) {
    return ::syscall(SYS_seccomp, op, flags, args);
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

// Everything a memfd holds, from the start.
std::string read_all(int fd, const char* what) {
    std::string out;
    char buf[4096];
    off_t off = 0;
    for (;;) {
        ssize_t n = ::pread(fd, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno(what);
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        off += n;
    }
    return out;
}

}  // namespace

const ActionName* find_action(const std::string& name) { return find_named(kActions, name); }
const OperatorName* find_operator(const std::string& name) { return find_named(kOperators, name); }
const ArchName* find_arch(const std::string& name) { return find_named(kArchs, name); }
const FlagName* find_flag(const std::string& name) { return find_named(kFlags, name); }

int resolve_syscall(const std::string& name) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    return nr == __NR_SCMP_ERROR ? kUnknownSyscall : nr;
}

Filter::Filter(uint32_t default_action) : ctx_(seccomp_init(default_action)) {}

Filter::~Filter() {
    if (ctx_) seccomp_release(ctx_);
}

int Filter::add_arch(uint32_t token) {
    int rc = seccomp_arch_add(ctx_, token);
    // The native arch is always in a new filter; adding it again is harmless.
    return rc == -EEXIST ? 0 : rc;
}

int Filter::add_rule(uint32_t action, int syscall, const std::vector<ArgCompare>& args) {
    std::vector<scmp_arg_cmp> conds;
    for (const auto& a : args)
        conds.push_back({a.index, static_cast<scmp_compare>(a.op), a.value, a.value_two});
    return seccomp_rule_add_array(ctx_, action, syscall, static_cast<unsigned>(conds.size()),
                                  conds.empty() ? nullptr : conds.data());
}

std::vector<sock_filter> Filter::program() const { return export_program(ctx_); }

std::string Filter::text() const {
    Fd mem(::memfd_create("skiff-seccomp-pfc", MFD_CLOEXEC));
    if (!mem) throw_errno("seccomp: memfd_create");
    int rc = seccomp_export_pfc(ctx_, mem.get());
    if (rc < 0) throw_errno("seccomp: export filter text", -rc);
    return read_all(mem.get(), "seccomp: read filter text");
}

long install(std::vector<sock_filter>& prog, unsigned flags) {
    sock_fprog fprog{};
    fprog.len = static_cast<unsigned short>(prog.size());
    fprog.filter = prog.data();
    long rc = sys_seccomp(SECCOMP_SET_MODE_FILTER, flags, &fprog);
    if (rc < 0) {
        if (errno == EACCES)
            throw_errno("load seccomp filter (needs no_new_privs or CAP_SYS_ADMIN)");
        throw_errno("load seccomp filter");
    }
    return rc;
}

void prepend_enosys_stub(std::vector<sock_filter>& prog, int max_listed) {
    constexpr uint32_t kX32Bit = 0x40000000;
    const uint32_t arch = seccomp_arch_native();  // libseccomp's tokens are AUDIT_ARCH values
    const sock_filter stub[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 4),  // another arch: to prog
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, 2, 0),  // x32: to prog
        BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, uint32_t(max_listed), 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
    };
    prog.insert(prog.begin(), std::begin(stub), std::end(stub));
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
