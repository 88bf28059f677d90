// Invalid config.json documents: each case changes one thing in a valid base config and asserts
// the exact JSON path the error starts with and the key words of the reason.
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/error.hpp"
#include "oci/config.hpp"
#include "oci_test_util.hpp"

namespace skiff::oci {
namespace {

using nlohmann::json;

struct InvalidCase {
    const char* name;
    std::function<void(json&)> mutate;
    const char* path;                   // the message must start with "<path>: "
    std::vector<const char*> keywords;  // and contain each of these
};

json& ns(json& j) { return j["linux"]["namespaces"]; }
json& proc(json& j) { return j["process"]; }
json& res(json& j) { return j["linux"]["resources"]; }

const std::vector<InvalidCase>& cases() {
    static const std::vector<InvalidCase> all = {
        // --- top level, root ---------------------------------------------------------------
        {"NotAnObject", [](json& j) { j = json::array(); }, "config.json",
         {"expected an object", "got array"}},
        {"OciVersionMissing", [](json& j) { j.erase("ociVersion"); }, "ociVersion", {"required"}},
        {"OciVersionNumber", [](json& j) { j["ociVersion"] = 1; }, "ociVersion",
         {"expected a string", "got number"}},
        {"RootMissing", [](json& j) { j.erase("root"); }, "root", {"required"}},
        {"RootPathMissing", [](json& j) { j["root"].erase("path"); }, "root.path", {"required"}},
        {"RootPathNull", [](json& j) { j["root"]["path"] = nullptr; }, "root.path", {"required"}},
        {"RootReadonlyString", [](json& j) { j["root"]["readonly"] = "yes"; }, "root.readonly",
         {"expected a boolean", "got string"}},
        {"HostnameWithoutUts", [](json& j) { ns(j).erase(3); }, "hostname",
         {"uts namespace"}},
        {"AnnotationNotString", [](json& j) { j["annotations"]["com.example/a"] = 1; },
         "annotations[\"com.example/a\"]", {"expected a string", "got number"}},

        // --- mounts --------------------------------------------------------------------------
        {"MountsNotArray", [](json& j) { j["mounts"] = json::object(); }, "mounts",
         {"expected an array", "got object"}},
        {"MountDestinationMissing", [](json& j) { j["mounts"][1].erase("destination"); },
         "mounts[1].destination", {"required"}},
        {"MountDestinationEmpty", [](json& j) { j["mounts"][0]["destination"] = ""; },
         "mounts[0].destination", {"empty"}},
        {"MountOptionsNumber", [](json& j) { j["mounts"][1]["options"] = 3; },
         "mounts[1].options", {"expected an array of strings", "got number"}},
        {"MountOptionElementNumber", [](json& j) { j["mounts"][1]["options"][1] = 3; },
         "mounts[1].options[1]", {"expected a string", "got number"}},
        {"MountUidMapWithoutGidMap",
         [](json& j) {
             j["mounts"][0]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1}, {"size", 1}}};
         },
         "mounts[0].gidMappings", {"required"}},

        // --- process -------------------------------------------------------------------------
        {"ProcessNotObject", [](json& j) { j["process"] = "sh"; }, "process",
         {"expected an object", "got string"}},
        {"ArgsNumber", [](json& j) { proc(j)["args"] = 5; }, "process.args",
         {"expected an array of strings", "got number"}},
        {"ArgsEmpty", [](json& j) { proc(j)["args"] = json::array(); }, "process.args",
         {"at least"}},
        {"ArgsMissing", [](json& j) { proc(j).erase("args"); }, "process.args", {"required"}},
        {"ArgElementBool", [](json& j) { proc(j)["args"][2] = true; }, "process.args[2]",
         {"expected a string", "got boolean"}},
        {"CwdMissing", [](json& j) { proc(j).erase("cwd"); }, "process.cwd", {"required"}},
        {"CwdRelative", [](json& j) { proc(j)["cwd"] = "home"; }, "process.cwd",
         {"absolute path", "\"home\""}},
        {"UidTooBig", [](json& j) { proc(j)["user"]["uid"] = 1099511627776ULL; },
         "process.user.uid", {"1099511627776 is out of range (0..4294967295)"}},
        {"UidNegative", [](json& j) { proc(j)["user"]["uid"] = -1; }, "process.user.uid",
         {"-1 is out of range (0..4294967295)"}},
        {"GidFraction", [](json& j) { proc(j)["user"]["gid"] = 1.5; }, "process.user.gid",
         {"expected an integer", "1.5"}},
        {"GidString", [](json& j) { proc(j)["user"]["gid"] = "0"; }, "process.user.gid",
         {"expected an integer", "got string"}},
        {"AdditionalGidNegative", [](json& j) { proc(j)["user"]["additionalGids"][1] = -5; },
         "process.user.additionalGids[1]", {"out of range"}},
        {"UmaskTooBig", [](json& j) { proc(j)["user"]["umask"] = 512; }, "process.user.umask",
         {"0777"}},
        {"EnvWithoutEquals", [](json& j) { proc(j)["env"][1] = "NOVALUE"; }, "process.env[1]",
         {"KEY=value", "NOVALUE"}},
        {"TerminalString", [](json& j) { proc(j)["terminal"] = "true"; }, "process.terminal",
         {"expected a boolean"}},
        {"ConsoleHeightNegative", [](json& j) { proc(j)["consoleSize"] = {{"height", -1}}; },
         "process.consoleSize.height", {"out of range"}},
        {"RlimitUnknown", [](json& j) { proc(j)["rlimits"][0]["type"] = "RLIMIT_FOO"; },
         "process.rlimits[0].type", {"unknown rlimit type", "RLIMIT_FOO"}},
        {"RlimitDuplicate", [](json& j) { proc(j)["rlimits"][1]["type"] = "RLIMIT_NOFILE"; },
         "process.rlimits[1].type", {"duplicate rlimit type", "RLIMIT_NOFILE"}},
        {"RlimitSoftMissing", [](json& j) { proc(j)["rlimits"][0].erase("soft"); },
         "process.rlimits[0].soft", {"required"}},
        {"RlimitSoftAboveHard", [](json& j) { proc(j)["rlimits"][0]["soft"] = 2048; },
         "process.rlimits[0].soft", {"greater than the hard limit"}},
        {"RlimitHardNegative", [](json& j) { proc(j)["rlimits"][0]["hard"] = -1; },
         "process.rlimits[0].hard", {"-1 is out of range (0..18446744073709551615)"}},
        {"CapabilitiesOldArrayForm", [](json& j) { proc(j)["capabilities"] = json::array({"CAP_KILL"}); },
         "process.capabilities", {"expected an object", "got array"}},
        {"CapabilityNotString", [](json& j) { proc(j)["capabilities"]["bounding"][0] = 7; },
         "process.capabilities.bounding[0]", {"expected a string"}},
        {"OomScoreAdjTooBig", [](json& j) { proc(j)["oomScoreAdj"] = 1001; },
         "process.oomScoreAdj", {"out of range (-1000..1000)"}},
        {"SchedulerPolicyUnknown",
         [](json& j) { proc(j)["scheduler"] = {{"policy", "SCHED_FAST"}}; },
         "process.scheduler.policy", {"unknown scheduler policy", "SCHED_FAST"}},
        {"SchedulerPolicyMissing", [](json& j) { proc(j)["scheduler"] = {{"nice", 1}}; },
         "process.scheduler.policy", {"required"}},
        {"SchedulerFlagUnknown",
         [](json& j) {
             proc(j)["scheduler"] = {{"policy", "SCHED_OTHER"}, {"flags", json::array({"SCHED_FLAG_X"})}};
         },
         "process.scheduler.flags[0]", {"unknown scheduler flag"}},
        {"IoPriorityClassUnknown",
         [](json& j) { proc(j)["ioPriority"] = {{"class", "IOPRIO_CLASS_FAST"}}; },
         "process.ioPriority.class", {"unknown io priority class"}},
        {"IoPriorityLevelTooBig",
         [](json& j) { proc(j)["ioPriority"] = {{"class", "IOPRIO_CLASS_BE"}, {"priority", 8}}; },
         "process.ioPriority.priority", {"out of range (0..7)"}},
        {"ExecCpuAffinityGarbage",
         [](json& j) { proc(j)["execCPUAffinity"] = {{"initial", "all"}}; },
         "process.execCPUAffinity.initial", {"invalid cpu list"}},

        // --- hooks ---------------------------------------------------------------------------
        {"HookPathMissing", [](json& j) { j["hooks"]["prestart"] = {{{"args", {"x"}}}}; },
         "hooks.prestart[0].path", {"required"}},
        {"HookPathRelative",
         [](json& j) { j["hooks"]["poststart"] = {{{"path", "bin/hook"}}}; },
         "hooks.poststart[0].path", {"absolute path"}},
        {"HookTimeoutZero",
         [](json& j) { j["hooks"]["createRuntime"] = {{{"path", "/h"}, {"timeout", 0}}}; },
         "hooks.createRuntime[0].timeout", {"greater than 0"}},
        {"HookTimeoutNegative",
         [](json& j) {
             j["hooks"]["poststop"] = {{{"path", "/a"}}, {{"path", "/h"}, {"timeout", -3}}};
         },
         "hooks.poststop[1].timeout", {"greater than 0", "-3"}},
        {"HookArgsNumber",
         [](json& j) { j["hooks"]["startContainer"] = {{{"path", "/h"}, {"args", 1}}}; },
         "hooks.startContainer[0].args", {"expected an array of strings"}},

        // --- linux: namespaces and mappings --------------------------------------------------
        {"NamespaceUnknown", [](json& j) { ns(j)[2]["type"] = "pidd"; },
         "linux.namespaces[2].type", {"unknown namespace type \"pidd\""}},
        {"NamespaceDuplicate", [](json& j) { ns(j).push_back({{"type", "pid"}}); },
         "linux.namespaces[5].type", {"duplicate namespace type \"pid\""}},
        {"NamespaceTypeMissing", [](json& j) { ns(j)[1] = {{"path", "/proc/1/ns/net"}}; },
         "linux.namespaces[1].type", {"required"}},
        {"NamespacePathRelative", [](json& j) { ns(j)[0]["path"] = "proc/1/ns/pid"; },
         "linux.namespaces[0].path", {"absolute path"}},
        {"UserNamespaceWithoutMappings", [](json& j) { ns(j).push_back({{"type", "user"}}); },
         "linux.uidMappings", {"required", "user namespace"}},
        {"UserNamespaceWithoutGidMappings",
         [](json& j) {
             ns(j).push_back({{"type", "user"}});
             j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
         },
         "linux.gidMappings", {"required", "user namespace"}},
        {"MappingsWithoutUserNamespace",
         [](json& j) {
             j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
         },
         "linux.uidMappings", {"need a user namespace"}},
        {"GidMappingsWithoutUserNamespace",
         [](json& j) {
             j["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
         },
         "linux.gidMappings", {"need a user namespace"}},
        {"MappingHostIdMissing",
         [](json& j) {
             ns(j).push_back({{"type", "user"}});
             j["linux"]["uidMappings"] = {{{"containerID", 0}, {"size", 1}}};
         },
         "linux.uidMappings[0].hostID", {"required"}},
        {"MappingSizeTooBig",
         [](json& j) {
             ns(j).push_back({{"type", "user"}});
             j["linux"]["uidMappings"] = {
                 {{"containerID", 0}, {"hostID", 0}, {"size", 4294967296LL}}};
         },
         "linux.uidMappings[0].size", {"4294967296 is out of range (0..4294967295)"}},
        {"MappingSizeZero",
         [](json& j) {
             ns(j).push_back({{"type", "user"}});
             j["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 0}, {"size", 0}}};
         },
         "linux.gidMappings[0].size", {"greater than 0"}},
        {"MappingRangeOverflows",
         [](json& j) {
             ns(j).push_back({{"type", "user"}});
             j["linux"]["uidMappings"] = {
                 {{"containerID", 0}, {"hostID", 4294967295LL}, {"size", 2}}};
             j["linux"]["gidMappings"] = j["linux"]["uidMappings"];
         },
         "linux.uidMappings[0].size", {"runs past id 4294967295"}},
        {"TimeOffsetsWithoutTimeNamespace",
         [](json& j) { j["linux"]["timeOffsets"] = {{"monotonic", {{"secs", 5}}}}; },
         "linux.timeOffsets", {"time namespace"}},
        {"TimeOffsetsUnknownClock",
         [](json& j) {
             ns(j).push_back({{"type", "time"}});
             j["linux"]["timeOffsets"] = {{"realtime", {{"secs", 5}}}};
         },
         "linux.timeOffsets.realtime", {"unknown clock", "monotonic or boottime"}},
        {"TimeOffsetsNanosecsTooBig",
         [](json& j) {
             ns(j).push_back({{"type", "time"}});
             j["linux"]["timeOffsets"] = {{"boottime", {{"nanosecs", 1000000000}}}};
         },
         "linux.timeOffsets.boottime.nanosecs", {"out of range"}},

        // --- linux: devices, propagation, misc -----------------------------------------------
        {"DeviceTypeUnknown", [](json& j) { j["linux"]["devices"][0]["type"] = "x"; },
         "linux.devices[0].type", {"unknown device type \"x\""}},
        {"DevicePathDuplicate",
         [](json& j) { j["linux"]["devices"][1]["path"] = "/dev/fuse"; },
         "linux.devices[1].path", {"duplicate device path", "/dev/fuse"}},
        {"DevicePathRelative", [](json& j) { j["linux"]["devices"][0]["path"] = "dev/fuse"; },
         "linux.devices[0].path", {"absolute path"}},
        {"DevicePathMissing", [](json& j) { j["linux"]["devices"][1].erase("path"); },
         "linux.devices[1].path", {"required"}},
        {"DeviceTypeMissing", [](json& j) { j["linux"]["devices"][1].erase("type"); },
         "linux.devices[1].type", {"required"}},
        {"DeviceMajorMissing", [](json& j) { j["linux"]["devices"][0].erase("major"); },
         "linux.devices[0].major", {"required"}},
        {"DeviceFileModeNegative", [](json& j) { j["linux"]["devices"][0]["fileMode"] = -1; },
         "linux.devices[0].fileMode", {"out of range"}},
        {"RootfsPropagationUnknown", [](json& j) { j["linux"]["rootfsPropagation"] = "sharedd"; },
         "linux.rootfsPropagation", {"unknown rootfs propagation", "sharedd"}},
        {"SysctlValueNumber",
         [](json& j) { j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", 1}}; },
         "linux.sysctl[\"net.ipv4.ip_forward\"]", {"expected a string", "got number"}},
        {"MaskedPathsString", [](json& j) { j["linux"]["maskedPaths"] = "/proc/kcore"; },
         "linux.maskedPaths", {"expected an array of strings", "got string"}},
        {"MemoryPolicyModeUnknown",
         [](json& j) { j["linux"]["memoryPolicy"] = {{"mode", "MPOL_FAST"}}; },
         "linux.memoryPolicy.mode", {"unknown memory policy mode"}},
        {"MemoryPolicyFlagUnknown",
         [](json& j) {
             j["linux"]["memoryPolicy"] = {{"mode", "MPOL_BIND"}, {"flags", json::array({"MPOL_F_X"})}};
         },
         "linux.memoryPolicy.flags[0]", {"unknown memory policy flag"}},
        {"PersonalityDomainUnknown",
         [](json& j) { j["linux"]["personality"] = {{"domain", "BSD"}}; },
         "linux.personality.domain", {"unknown personality domain", "LINUX32"}},
        {"SeccompSyscallNamesMissing",
         [](json& j) {
             j["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                                      {"syscalls", {{{"action", "SCMP_ACT_ERRNO"}}}}};
         },
         "linux.seccomp.syscalls[0].names", {"required"}},
        {"SeccompDefaultActionMissing", [](json& j) { j["linux"]["seccomp"] = json::object(); },
         "linux.seccomp.defaultAction", {"required"}},
        {"IntelRdtClosIdEscapes", [](json& j) { j["linux"]["intelRdt"] = {{"closID", "../x"}}; },
         "linux.intelRdt.closID", {"invalid closID"}},
        {"NetDeviceBadName",
         [](json& j) { j["linux"]["netDevices"] = {{"eth0", {{"name", "a/b"}}}}; },
         "linux.netDevices.eth0.name", {"invalid network device name"}},

        // --- linux.resources -----------------------------------------------------------------
        {"MemoryLimitString", [](json& j) { res(j)["memory"] = {{"limit", "1G"}}; },
         "linux.resources.memory.limit", {"expected an integer", "got string"}},
        {"MemoryLimitAboveInt64",
         [](json& j) { res(j)["memory"] = {{"limit", 9223372036854775808ULL}}; },
         "linux.resources.memory.limit",
         {"9223372036854775808 is out of range (-9223372036854775808..9223372036854775807)"}},
        {"MemorySwappinessTooBig", [](json& j) { res(j)["memory"] = {{"swappiness", 101}}; },
         "linux.resources.memory.swappiness", {"out of range (0..100)"}},
        {"CpuSharesNegative", [](json& j) { res(j)["cpu"] = {{"shares", -2}}; },
         "linux.resources.cpu.shares", {"-2 is out of range"}},
        {"DeviceRuleAccessBad", [](json& j) { res(j)["devices"][0]["access"] = "rwx"; },
         "linux.resources.devices[0].access", {"invalid access", "rwm"}},
        {"DeviceRuleTypeBad", [](json& j) { res(j)["devices"][0]["type"] = "u"; },
         "linux.resources.devices[0].type", {"unknown device type"}},
        {"DeviceRuleAllowMissing", [](json& j) { res(j)["devices"][0].erase("allow"); },
         "linux.resources.devices[0].allow", {"required"}},
        {"BlkioWeightTooBig", [](json& j) { res(j)["blockIO"] = {{"weight", 70000}}; },
         "linux.resources.blockIO.weight", {"out of range (0..65535)"}},
        {"ThrottleRateMissing",
         [](json& j) {
             res(j)["blockIO"] = {{"throttleReadBpsDevice", {{{"major", 8}, {"minor", 0}}}}};
         },
         "linux.resources.blockIO.throttleReadBpsDevice[0].rate", {"required"}},
        {"HugepagePageSizeMissing",
         [](json& j) { res(j)["hugepageLimits"] = {{{"limit", 1}}}; },
         "linux.resources.hugepageLimits[0].pageSize", {"required"}},
        {"PidsLimitFraction", [](json& j) { res(j)["pids"] = {{"limit", 1.5}}; },
         "linux.resources.pids.limit", {"expected an integer", "1.5"}},
        {"NetworkClassIdTooBig", [](json& j) { res(j)["network"] = {{"classID", 1LL << 33}}; },
         "linux.resources.network.classID", {"out of range (0..4294967295)"}},
    };
    return all;
}

class OciInvalidConfig : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(OciInvalidConfig, NamesPathAndReason) {
    const InvalidCase& c = GetParam();
    json doc = testing::base_config();
    c.mutate(doc);
    try {
        parse_config(doc.dump());
        FAIL() << "accepted: " << doc.dump();
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg.rfind(std::string(c.path) + ": ", 0), 0u)
            << "message: " << msg << "\nwant path: " << c.path;
        for (const char* kw : c.keywords)
            EXPECT_NE(msg.find(kw), std::string::npos) << "message: " << msg << "\nwant: " << kw;
    }
}

INSTANTIATE_TEST_SUITE_P(OciTable, OciInvalidConfig, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(OciInvalidText, NotJson) {
    try {
        parse_config("{\"ociVersion\": ");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("config.json: not valid JSON: ", 0), 0u) << e.what();
        EXPECT_EQ(std::string(e.what()).find("[json.exception"), std::string::npos) << e.what();
    }
}

TEST(OciInvalidText, ProcessJsonErrorsAreRootedAtProcess) {
    try {
        parse_process(R"({"args": ["sh"], "cwd": "tmp"})");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("process.cwd: must be an absolute path", 0), 0u)
            << e.what();
    }
    try {
        parse_process("[1,");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("process.json: not valid JSON: ", 0), 0u)
            << e.what();
    }
}

TEST(OciInvalidText, ResourcesErrorsAreRootedAtResources) {
    try {
        parse_resources(R"({"memory": {"limit": true}})");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("resources.memory.limit: expected an integer", 0),
                  0u)
            << e.what();
    }
}

}  // namespace
}  // namespace skiff::oci
