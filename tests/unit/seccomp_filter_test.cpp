// Loads real filters into forked children and checks what the kernel then does.
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>

#include "init/seccomp_profile.hpp"
#include "seccomp_test_util.hpp"

using namespace skiff;
using skiff::test::arg;
using skiff::test::rule;
using skiff::test::run_in_child;

namespace {

oci::Seccomp allow_all() {
    oci::Seccomp s;
    s.default_action = "SCMP_ACT_ALLOW";
    return s;
}

// errno of a failed call, 0 when it succeeded.
int errno_of(long rc) { return rc < 0 ? errno : 0; }

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

}  // namespace

TEST(SeccompFilter, ErrnoActionWithDefaultEperm) {
    oci::Seccomp s = allow_all();
    s.syscalls.push_back(rule({"getcwd"}, "SCMP_ACT_ERRNO"));
    int status = run_in_child([&] {
        seccomp::load(s);
        char buf[256];
        return ::getcwd(buf, sizeof buf) ? 0 : errno;
    });
    EXPECT_EQ(exit_code(status), EPERM);
}

TEST(SeccompFilter, ErrnoRetIsReturned) {
    oci::Seccomp s = allow_all();
    auto r = rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO");
    r.errno_ret = EROFS;
    s.syscalls.push_back(r);
    int status = run_in_child([&] {
        seccomp::load(s);
        return errno_of(::mkdir("/tmp/skiff-seccomp-never-made", 0700));
    });
    EXPECT_EQ(exit_code(status), EROFS);
    struct stat st;
    EXPECT_NE(::stat("/tmp/skiff-seccomp-never-made", &st), 0);
    ::rmdir("/tmp/skiff-seccomp-never-made");  // only there if the filter failed
}

TEST(SeccompFilter, KillProcessKillsWithSigsys) {
    oci::Seccomp s = allow_all();
    s.syscalls.push_back(rule({"getppid"}, "SCMP_ACT_KILL_PROCESS"));
    int status = run_in_child([&] {
        seccomp::load(s);
        ::syscall(SYS_getppid);
        return 0;
    });
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

TEST(SeccompFilter, KillAndTrapEndTheProcess) {
    for (const char* action : {"SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"}) {
        oci::Seccomp s = allow_all();
        s.syscalls.push_back(rule({"getppid"}, action));
        int status = run_in_child([&] {
            seccomp::load(s);
            ::syscall(SYS_getppid);
            return 0;
        });
        ASSERT_TRUE(WIFSIGNALED(status)) << action;
        EXPECT_EQ(WTERMSIG(status), SIGSYS) << action;
    }
}

TEST(SeccompFilter, TraceWithoutTracerGivesEnosys) {
    oci::Seccomp s = allow_all();
    s.syscalls.push_back(rule({"getppid"}, "SCMP_ACT_TRACE"));
    int status = run_in_child([&] {
        seccomp::load(s);
        return errno_of(::syscall(SYS_getppid));
    });
    EXPECT_EQ(exit_code(status), ENOSYS);
}

TEST(SeccompFilter, LogAllowsTheCall) {
    oci::Seccomp s = allow_all();
    s.syscalls.push_back(rule({"getppid"}, "SCMP_ACT_LOG"));
    int status = run_in_child([&] {
        seccomp::load(s);
        return ::syscall(SYS_getppid) > 0 ? 0 : 1;
    });
    EXPECT_EQ(exit_code(status), 0);
}

TEST(SeccompFilter, DefaultErrnoWithAllowList) {
    oci::Seccomp s;
    s.default_action = "SCMP_ACT_ERRNO";
    s.default_errno_ret = ENOTSUP;
    s.syscalls.push_back(rule({"exit", "exit_group", "getpid"}, "SCMP_ACT_ALLOW"));
    int status = run_in_child([&] {
        // Without CAP_SYS_ADMIN this path would need NNP: take it, as an unprivileged init.
        ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        seccomp::load(s);
        if (::syscall(SYS_getpid) <= 0) return 1;
        return errno_of(::syscall(SYS_getppid));
    });
    EXPECT_EQ(exit_code(status), ENOTSUP);
}

TEST(SeccompFilter, ArgumentEqualityAndAndOfDifferentIndexes) {
    // getpriority(PRIO_PROCESS, 0) refused; the same call on our own pid passes: the two
    // comparisons on different arguments must both hold.
    oci::Seccomp s = allow_all();
    auto r = rule({"getpriority"}, "SCMP_ACT_ERRNO",
                  {arg(0, "SCMP_CMP_EQ", PRIO_PROCESS), arg(1, "SCMP_CMP_EQ", 0)});
    r.errno_ret = EDOM;
    s.syscalls.push_back(r);
    int status = run_in_child([&] {
        seccomp::load(s);
        if (errno_of(::syscall(SYS_getpriority, PRIO_PROCESS, 0)) != EDOM) return 1;
        if (errno_of(::syscall(SYS_getpriority, PRIO_PROCESS, ::getpid())) != 0) return 2;
        if (errno_of(::syscall(SYS_getpriority, PRIO_PGRP, 0)) != 0) return 3;
        return 0;
    });
    EXPECT_EQ(exit_code(status), 0);
}

TEST(SeccompFilter, SameIndexArgsAreOred) {
    // runc's rule: comparisons on one argument index become separate rules.
    oci::Seccomp s = allow_all();
    auto r = rule({"getpriority"}, "SCMP_ACT_ERRNO",
                  {arg(0, "SCMP_CMP_EQ", PRIO_PROCESS), arg(0, "SCMP_CMP_EQ", PRIO_PGRP)});
    r.errno_ret = EDOM;
    s.syscalls.push_back(r);
    int status = run_in_child([&] {
        seccomp::load(s);
        if (errno_of(::syscall(SYS_getpriority, PRIO_PROCESS, 0)) != EDOM) return 1;
        if (errno_of(::syscall(SYS_getpriority, PRIO_PGRP, 0)) != EDOM) return 2;
        if (errno_of(::syscall(SYS_getpriority, PRIO_USER, 0)) != 0) return 3;
        return 0;
    });
    EXPECT_EQ(exit_code(status), 0);
}

TEST(SeccompFilter, MaskedEqUsesValueAsMaskAndValueTwoAsDatum) {
    oci::Seccomp s = allow_all();
    auto r = rule({"umask"}, "SCMP_ACT_ERRNO", {arg(0, "SCMP_CMP_MASKED_EQ", 0077, 0022)});
    r.errno_ret = EDOM;
    s.syscalls.push_back(r);
    int status = run_in_child([&] {
        seccomp::load(s);
        if (errno_of(::syscall(SYS_umask, 0022)) != EDOM) return 1;
        if (errno_of(::syscall(SYS_umask, 0722)) != EDOM) return 2;  // masked off bits
        if (errno_of(::syscall(SYS_umask, 0027)) != 0) return 3;
        return 0;
    });
    EXPECT_EQ(exit_code(status), 0);
}

TEST(SeccompFilter, OrderingOperators) {
    // getpriority's `which` argument: GT 1 refuses only PRIO_USER (2); LE 0 only PRIO_PROCESS.
    struct Case {
        const char* op;
        uint64_t value;
        bool refused[3];  // for which = 0, 1, 2
    } cases[] = {
        {"SCMP_CMP_NE", 1, {true, false, true}}, {"SCMP_CMP_LT", 1, {true, false, false}},
        {"SCMP_CMP_LE", 0, {true, false, false}}, {"SCMP_CMP_GE", 1, {false, true, true}},
        {"SCMP_CMP_GT", 1, {false, false, true}},
    };
    for (const auto& c : cases) {
        oci::Seccomp s = allow_all();
        auto r = rule({"getpriority"}, "SCMP_ACT_ERRNO", {arg(0, c.op, c.value)});
        r.errno_ret = EDOM;
        s.syscalls.push_back(r);
        int status = run_in_child([&] {
            seccomp::load(s);
            for (int which = 0; which < 3; ++which) {
                bool refused = errno_of(::syscall(SYS_getpriority, which, 0)) == EDOM;
                if (refused != c.refused[which]) return 10 + which;
            }
            return 0;
        });
        EXPECT_EQ(exit_code(status), 0) << c.op;
    }
}

TEST(SeccompFilter, UnknownSyscallNamesAreSkipped) {
    oci::Seccomp s = allow_all();
    s.syscalls.push_back(rule({"no_such_syscall_skiff", "getcwd"}, "SCMP_ACT_ERRNO"));
    int status = run_in_child([&] {
        seccomp::load(s);
        char buf[256];
        return ::getcwd(buf, sizeof buf) ? 0 : errno;
    });
    EXPECT_EQ(exit_code(status), EPERM);

    // A name libseccomp knows only on other arches (x86's socketcall) is no error either.
    oci::Seccomp other = allow_all();
    other.syscalls.push_back(rule({"socketcall"}, "SCMP_ACT_ERRNO"));
    EXPECT_NO_THROW(seccomp::filter_text(other));
}

TEST(SeccompFilter, RuleEqualToDefaultActionIsSkipped) {
    oci::Seccomp s = allow_all();
    s.syscalls.push_back(rule({"getcwd"}, "SCMP_ACT_ALLOW"));
    auto r = rule({"getppid"}, "SCMP_ACT_ERRNO");
    s.syscalls.push_back(r);
    int status = run_in_child([&] {
        seccomp::load(s);
        return errno_of(::syscall(SYS_getppid));
    });
    EXPECT_EQ(exit_code(status), EPERM);

    // ERRNO(EPERM) as default and a rule with the same errno: skipped, not an error.
    oci::Seccomp d;
    d.default_action = "SCMP_ACT_ERRNO";
    auto same = rule({"getppid"}, "SCMP_ACT_ERRNO");
    same.errno_ret = EPERM;
    d.syscalls.push_back(same);
    EXPECT_NO_THROW(seccomp::filter_text(d));
}

TEST(SeccompFilter, ExtraArchitecturesAndFlagsLoad) {
    oci::Seccomp s = allow_all();
    s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
    s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
               "SECCOMP_FILTER_FLAG_TSYNC"};
    // socketcall only exists on x86: it must be accepted through the multi-arch filter.
    s.syscalls.push_back(rule({"getcwd", "socketcall"}, "SCMP_ACT_ERRNO"));
    int status = run_in_child([&] {
        seccomp::load(s);
        char buf[256];
        return ::getcwd(buf, sizeof buf) ? 0 : errno;
    });
    EXPECT_EQ(exit_code(status), EPERM);
}

TEST(SeccompFilter, LoadWithoutNotifyReturnsMinusOne) {
    oci::Seccomp s = allow_all();
    s.syscalls.push_back(rule({"getcwd"}, "SCMP_ACT_ERRNO"));
    int status = run_in_child([&] { return seccomp::load(s) == -1 ? 0 : 1; });
    EXPECT_EQ(exit_code(status), 0);
}

TEST(SeccompFilter, FilterTextShowsRules) {
    oci::Seccomp s = allow_all();
    s.syscalls.push_back(rule({"getcwd"}, "SCMP_ACT_ERRNO"));
    std::string text = seccomp::filter_text(s);
    EXPECT_NE(text.find("getcwd"), std::string::npos) << text;
}

// podman's default profile on x86_64 with the x86 and x32 arches: socketcall is allowed (a
// pseudo-syscall here, real on x86), then socket gets rules on its arguments. Skipping the
// pseudo-syscall made libseccomp refuse the third socket rule with EEXIST.
TEST(SeccompFilter, PodmanSocketRulesWithTheX86SocketcallCompile) {
    oci::Seccomp s;
    s.default_action = "SCMP_ACT_ERRNO";
    s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
    s.syscalls.push_back(rule({"socketcall", "getpid"}, "SCMP_ACT_ALLOW"));
    auto audit = rule({"socket"}, "SCMP_ACT_ERRNO");
    audit.errno_ret = EINVAL;
    audit.args = {arg(0, "SCMP_CMP_EQ", 16), arg(2, "SCMP_CMP_EQ", 9)};
    s.syscalls.push_back(audit);
    auto not_audit = rule({"socket"}, "SCMP_ACT_ALLOW");
    not_audit.args = {arg(2, "SCMP_CMP_NE", 9)};
    s.syscalls.push_back(not_audit);
    auto not_netlink = rule({"socket"}, "SCMP_ACT_ALLOW");
    not_netlink.args = {arg(0, "SCMP_CMP_NE", 16)};
    s.syscalls.push_back(not_netlink);
    EXPECT_NO_THROW(seccomp::filter_text(s));
    EXPECT_NE(seccomp::filter_text(s).find("socketcall"), std::string::npos);
}
