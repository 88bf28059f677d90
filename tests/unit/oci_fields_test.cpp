// Nothing can be dropped again (issue 15, item 10). Two structural checks:
//  1. Every field the parser reads (each lookup reports its JSON path through
//     oci::detail::field_lookup_hook) has an entry in kHandled saying which step applies it or
//     which check refuses it, and every entry is a field the parser reads. A key added to the
//     parser without an entry fails here.
//  2. Every struct of oci/spec.hpp has the number of members counted below (aggregate
//     member counting at compile time). A member added without parsing and an entry fails
//     to compile.
#include <map>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "oci/config.hpp"
#include "oci/json_reader.hpp"
#include "oci/spec.hpp"

namespace skiff::oci {
namespace {

// --- 2. member counts ----------------------------------------------------------------------

struct AnyField {
    template <class T>
    operator T() const;  // unevaluated only
};

template <class T, class... A>
constexpr size_t member_count(A... a) {
    if constexpr (requires { T{a..., AnyField{}}; })
        return member_count<T>(a..., AnyField{});
    else
        return sizeof...(A);
}

#define SKIFF_FIELDS(T, n)                                                                       \
    static_assert(member_count<T>() == n, "oci::" #T " changed: parse the new field, then add its " \
                                          "JSON path to kHandled with the step that applies it "    \
                                          "or the check that refuses it, and update this count")
SKIFF_FIELDS(Root, 2);
SKIFF_FIELDS(IdMapping, 3);
SKIFF_FIELDS(Mount, 6);
SKIFF_FIELDS(ConsoleSize, 2);
SKIFF_FIELDS(Rlimit, 3);
SKIFF_FIELDS(Capabilities, 5);
SKIFF_FIELDS(Scheduler, 7);
SKIFF_FIELDS(IoPriority, 2);
SKIFF_FIELDS(ExecCpuAffinity, 2);
SKIFF_FIELDS(User, 5);
SKIFF_FIELDS(Process, 16);
SKIFF_FIELDS(Hook, 4);
SKIFF_FIELDS(Hooks, 6);
SKIFF_FIELDS(Namespace, 2);
SKIFF_FIELDS(TimeOffset, 2);
SKIFF_FIELDS(Device, 7);
SKIFF_FIELDS(DeviceRule, 5);
SKIFF_FIELDS(Memory, 9);
SKIFF_FIELDS(Cpu, 9);
SKIFF_FIELDS(WeightDevice, 4);
SKIFF_FIELDS(ThrottleDevice, 3);
SKIFF_FIELDS(BlockIo, 7);
SKIFF_FIELDS(HugepageLimit, 2);
SKIFF_FIELDS(NetPriority, 2);
SKIFF_FIELDS(Network, 2);
SKIFF_FIELDS(Pids, 1);
SKIFF_FIELDS(Rdma, 2);
SKIFF_FIELDS(Resources, 9);
SKIFF_FIELDS(SeccompArg, 4);
SKIFF_FIELDS(SeccompSyscall, 4);
SKIFF_FIELDS(Seccomp, 7);
SKIFF_FIELDS(Personality, 2);
SKIFF_FIELDS(IntelRdt, 5);
SKIFF_FIELDS(MemoryPolicy, 3);
SKIFF_FIELDS(NetDevice, 1);
SKIFF_FIELDS(Linux, 17);
SKIFF_FIELDS(Spec, 9);

// --- 1. every field the parser reads, and what happens to it --------------------------------

// JSON path (array indices as [], map keys as *) -> where it is applied, or how it is refused.
const std::map<std::string, std::string> kHandled = {
#include "oci_fields_handled.inc"
};

// A config with every object and one element of every array, so that the parser walks all
// of its lookups. Values only need to pass validation.
const char* const kEverything = R"({
  "ociVersion": "1.3.0",
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "h", "domainname": "d",
  "annotations": {"a": "b"},
  "mounts": [{"destination": "/m", "source": "/s", "type": "bind", "options": ["rbind"],
              "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
              "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}],
  "process": {
    "terminal": true, "consoleSize": {"height": 1, "width": 1},
    "user": {"uid": 0, "gid": 0, "umask": 18, "additionalGids": [1], "username": "u"},
    "args": ["sh"], "commandLine": "sh", "env": ["A=b"], "cwd": "/",
    "capabilities": {"bounding": [], "effective": [], "inheritable": [], "permitted": [], "ambient": []},
    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}],
    "noNewPrivileges": true, "apparmorProfile": "p", "oomScoreAdj": 0,
    "scheduler": {"policy": "SCHED_OTHER", "nice": 0, "priority": 0, "flags": [],
                  "runtime": 0, "deadline": 0, "period": 0},
    "selinuxLabel": "l", "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 0},
    "execCPUAffinity": {"initial": "0", "final": "0"}
  },
  "hooks": {"prestart": [{"path": "/h", "args": [], "env": [], "timeout": 1}],
            "createRuntime": [], "createContainer": [], "startContainer": [],
            "poststart": [], "poststop": []},
  "linux": {
    "namespaces": [{"type": "mount"}, {"type": "network"}, {"type": "user"}, {"type": "time"},
                   {"type": "uts"}],
    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
    "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
    "timeOffsets": {"monotonic": {"secs": 1, "nanosecs": 1}},
    "devices": [{"type": "c", "path": "/dev/x", "major": 1, "minor": 3, "fileMode": 438,
                 "uid": 0, "gid": 0}],
    "netDevices": {"X": {"name": "n"}},
    "cgroupsPath": "/c",
    "resources": {
      "devices": [{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}],
      "memory": {"limit": 1, "reservation": 1, "swap": 1, "kernel": 1, "kernelTCP": 1,
                 "swappiness": 1, "disableOOMKiller": true, "useHierarchy": true,
                 "checkBeforeUpdate": true},
      "cpu": {"shares": 1, "quota": 1, "burst": 1, "period": 1000, "realtimeRuntime": 1,
              "realtimePeriod": 1, "cpus": "0", "mems": "0", "idle": 0},
      "pids": {"limit": 1},
      "blockIO": {"weight": 10, "leafWeight": 10,
                  "weightDevice": [{"major": 8, "minor": 0, "weight": 10, "leafWeight": 10}],
                  "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}],
                  "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 1}],
                  "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 1}],
                  "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 1}]},
      "hugepageLimits": [{"pageSize": "2MB", "limit": 1}],
      "network": {"classID": 1, "priorities": [{"name": "eth0", "priority": 1}]},
      "rdma": {"X": {"hcaHandles": 1, "hcaObjects": 1}},
      "unified": {"a.b": "c"}
    },
    "intelRdt": {"closID": "c", "l3CacheSchema": "L3:0=f", "memBwSchema": "MB:0=1",
                 "schemata": ["L2:0=f"], "enableMonitoring": true},
    "memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0", "flags": []},
    "sysctl": {"net.a": "b"},
    "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1, "architectures": [],
                "flags": [], "listenerPath": "/l", "listenerMetadata": "m",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                              "args": [{"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}]},
    "rootfsPropagation": "private",
    "maskedPaths": [], "readonlyPaths": [],
    "mountLabel": "m",
    "personality": {"domain": "LINUX", "flags": []}
  }
})";

std::set<std::string>* g_seen = nullptr;

std::string normalize(const std::string& path) {
    static const std::regex index(R"(\[\d+\])");
    static const std::regex map_key(R"(\.X(\.|$))");
    std::string p = std::regex_replace(path, index, "[]");
    return std::regex_replace(p, map_key, ".*$1");
}

std::set<std::string> fields_the_parser_reads() {
    std::set<std::string> seen;
    g_seen = &seen;
    detail::field_lookup_hook = [](const std::string& path) { g_seen->insert(normalize(path)); };
    // A cross-field rule that fails at the end is no matter: the lookups happened. One that
    // failed early would leave kHandled entries unread, which the second test reports.
    try {
        parse_config(kEverything);
    } catch (const std::exception&) {
    }
    detail::field_lookup_hook = nullptr;
    return seen;
}

TEST(OciFields, EveryFieldTheParserReadsIsAppliedOrRefused) {
    std::string missing;
    for (const auto& path : fields_the_parser_reads())
        if (!kHandled.count(path)) missing += "    {\"" + path + "\", \"?\"},\n";
    EXPECT_EQ(missing, "") << "fields the parser reads that nothing says it applies or refuses:\n" << missing;
}

TEST(OciFields, EveryHandledFieldIsOneTheParserReads) {
    auto seen = fields_the_parser_reads();
    for (const auto& [path, how] : kHandled) {
        EXPECT_TRUE(seen.count(path)) << path << " is listed as handled but the parser never reads it";
        EXPECT_FALSE(how.empty() || how == "?") << path << ": say where it is applied or how it is refused";
    }
}

}  // namespace
}  // namespace skiff::oci
