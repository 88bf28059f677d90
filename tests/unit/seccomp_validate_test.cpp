// linux.seccomp validation: every bad value is refused with its JSON path, nothing loaded.
#include <gtest/gtest.h>

#include "base/error.hpp"
#include "init/seccomp_profile.hpp"
#include "seccomp_test_util.hpp"

using namespace skiff;
using skiff::test::arg;
using skiff::test::rule;

namespace {

oci::Seccomp base() {
    oci::Seccomp s;
    s.default_action = "SCMP_ACT_ALLOW";
    s.syscalls.push_back(rule({"getcwd"}, "SCMP_ACT_ERRNO"));
    s.syscalls.push_back(rule({"mkdir"}, "SCMP_ACT_ERRNO"));
    return s;
}

// The message validate() throws, or "" when it accepts the config.
std::string error_of(const oci::Seccomp& s) {
    try {
        seccomp::validate(s);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(SeccompValidate, AcceptsAGoodConfig) {
    oci::Seccomp s = base();
    s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"};
    s.flags = {"SECCOMP_FILTER_FLAG_LOG"};
    s.syscalls[0].args = {arg(0, "SCMP_CMP_MASKED_EQ", 1, 1)};
    EXPECT_EQ(error_of(s), "");
}

TEST(SeccompValidate, UnknownActionNamesItsPath) {
    oci::Seccomp s = base();
    s.syscalls[1].action = "SCMP_ACT_FOO";
    EXPECT_EQ(error_of(s), "linux.seccomp.syscalls[1].action: unknown action \"SCMP_ACT_FOO\"");
}

TEST(SeccompValidate, UnknownDefaultAction) {
    oci::Seccomp s = base();
    s.default_action = "SCMP_ACT_NOPE";
    EXPECT_EQ(error_of(s), "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\"");
    s.default_action = "";
    EXPECT_EQ(error_of(s), "linux.seccomp.defaultAction: is required");
}

TEST(SeccompValidate, UnknownOperator) {
    oci::Seccomp s = base();
    s.syscalls[1].args = {arg(0, "SCMP_CMP_EQ", 1), arg(1, "SCMP_CMP_ABOUT", 2)};
    EXPECT_EQ(error_of(s),
              "linux.seccomp.syscalls[1].args[1].op: unknown operator \"SCMP_CMP_ABOUT\"");
}

TEST(SeccompValidate, ArgumentIndexOutOfRange) {
    oci::Seccomp s = base();
    s.syscalls[0].args = {arg(6, "SCMP_CMP_EQ", 1)};
    EXPECT_EQ(error_of(s),
              "linux.seccomp.syscalls[0].args[0].index: 6 is not a syscall argument (0-5)");
}

TEST(SeccompValidate, UnknownArchitecture) {
    oci::Seccomp s = base();
    s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"};
    EXPECT_EQ(error_of(s),
              "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_VAX\"");
}

TEST(SeccompValidate, UnknownFlag) {
    oci::Seccomp s = base();
    s.flags = {"SECCOMP_FILTER_FLAG_BOGUS"};
    EXPECT_EQ(error_of(s), "linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_BOGUS\"");
}

TEST(SeccompValidate, ErrnoOnlyOnErrnoAndTrace) {
    oci::Seccomp s = base();
    s.syscalls[1].action = "SCMP_ACT_ALLOW";
    s.syscalls[1].errno_ret = 1;
    EXPECT_EQ(error_of(s),
              "linux.seccomp.syscalls[1].errnoRet: action SCMP_ACT_ALLOW does not take an errno");
    s.syscalls[1].action = "SCMP_ACT_TRACE";
    EXPECT_EQ(error_of(s), "");

    oci::Seccomp d = base();
    d.default_action = "SCMP_ACT_KILL";
    d.default_errno_ret = 1;
    EXPECT_EQ(error_of(d),
              "linux.seccomp.defaultErrnoRet: action SCMP_ACT_KILL does not take an errno");
}

TEST(SeccompValidate, EmptyNames) {
    oci::Seccomp s = base();
    s.syscalls[0].names.clear();
    EXPECT_EQ(error_of(s), "linux.seccomp.syscalls[0].names: must contain at least one name");
}

TEST(SeccompValidate, NotifyNeedsListenerPath) {
    oci::Seccomp s = base();
    s.syscalls[1].action = "SCMP_ACT_NOTIFY";
    EXPECT_EQ(error_of(s),
              "linux.seccomp.listenerPath: SCMP_ACT_NOTIFY is used but no listenerPath is set");
    s.listener_path = "/run/agent.sock";
    EXPECT_EQ(error_of(s), "");
}

TEST(SeccompValidate, NotifyCannotBeTheDefault) {
    oci::Seccomp s = base();
    s.default_action = "SCMP_ACT_NOTIFY";
    s.listener_path = "/run/agent.sock";
    EXPECT_EQ(error_of(s),
              "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
}

TEST(SeccompValidate, ListenerPathWithoutNotifyIsIgnored) {
    // runtime-spec: "If the SCMP_ACT_NOTIFY action is not used this value is ignored."
    oci::Seccomp s = base();
    s.listener_path = "/run/agent.sock";
    EXPECT_EQ(error_of(s), "");
}

TEST(SeccompValidate, MetadataWithoutListenerPath) {
    oci::Seccomp s = base();
    s.listener_metadata = "foo";
    EXPECT_EQ(error_of(s), "linux.seccomp.listenerMetadata: set without listenerPath");
}

TEST(SeccompValidate, LoadValidatesFirst) {
    oci::Seccomp s = base();
    s.syscalls[0].action = "SCMP_ACT_FOO";
    // Throws before anything reaches the kernel, so this is safe in the test process.
    EXPECT_THROW(seccomp::load(s), Error);
}
