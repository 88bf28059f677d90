// Valid documents: a full config.json, the default spec, runc's own `runc spec` output,
// process.json and resources JSON, and create's config.json reader.
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "container/internal.hpp"
#include "base/error.hpp"
#include "oci/config.hpp"
#include "oci/default_spec.hpp"
#include "oci_test_util.hpp"

namespace skiff::oci {
namespace {

namespace fs = std::filesystem;

// What `create` does with a bundle's config.json: read it with its own reader, then parse.
Spec load_bundle(const std::string& dir) {
    return parse_config(container::read_config_text(dir));
}

// A temp dir removed on scope exit, even when an assertion fails.
struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "skiff-oci-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

const char* kFullConfig = R"({
  "ociVersion": "1.3.0",
  "root": {"path": "/var/lib/rootfs", "readonly": false},
  "hostname": "full", "domainname": "example.org",
  "unknownTopLevel": {"ignored": [1, 2, 3]},
  "annotations": {"com.example.key": "v"},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "data", "type": "bind", "source": "/srv", "options": ["rbind", "ro"],
     "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
     "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}
  ],
  "process": {
    "terminal": true, "consoleSize": {"height": 24, "width": 80},
    "user": {"uid": 1000, "gid": 1000.0, "umask": 18, "additionalGids": [4294967295],
             "username": "u"},
    "args": ["/bin/app", "--flag"], "env": ["A=1", "B="], "cwd": "/work",
    "capabilities": {"bounding": ["CAP_CHOWN", "CAP_MADE_UP"], "effective": [],
                     "inheritable": [], "permitted": ["CAP_CHOWN"], "ambient": []},
    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 18446744073709551615}],
    "noNewPrivileges": true, "apparmorProfile": "p", "selinuxLabel": "l",
    "oomScoreAdj": -1000,
    "scheduler": {"policy": "SCHED_DEADLINE", "nice": -5, "priority": 0,
                  "flags": ["SCHED_FLAG_RESET_ON_FORK"], "runtime": 10, "deadline": 20,
                  "period": 30},
    "ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 7},
    "execCPUAffinity": {"initial": "0-1,3", "final": "2"}
  },
  "hooks": {
    "prestart": [{"path": "/usr/bin/hook", "args": ["hook", "x"], "env": ["E=1"]}],
    "createRuntime": [{"path": "/h1", "timeout": 5}],
    "createContainer": [{"path": "/h2"}], "startContainer": [{"path": "/h3"}],
    "poststart": [{"path": "/h4"}], "poststop": [{"path": "/h5", "timeout": 1}]
  },
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/x"},
                   {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "user"},
                   {"type": "cgroup"}, {"type": "time"}],
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "timeOffsets": {"monotonic": {"secs": -86400, "nanosecs": 5},
                    "boottime": {"secs": 1}},
    "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                 "fileMode": 438, "uid": 0, "gid": 0},
                {"path": "/dev/fifo", "type": "p"}],
    "netDevices": {"eth1": {"name": "net0"}},
    "cgroupsPath": "/skiff/full",
    "resources": {
      "devices": [{"allow": false, "access": "rwm"},
                  {"allow": true, "type": "c", "major": 10, "minor": -1, "access": "rw"}],
      "memory": {"limit": -1, "reservation": 1048576, "swap": -1, "kernel": 0,
                 "kernelTCP": 0, "swappiness": 18446744073709551615,
                 "disableOOMKiller": true, "useHierarchy": null, "checkBeforeUpdate": true},
      "cpu": {"shares": 1024, "quota": -1, "burst": 0, "period": 100000,
              "realtimeRuntime": 950000, "realtimePeriod": 1000000,
              "cpus": "0-1", "mems": "0", "idle": 1},
      "pids": {"limit": -1},
      "blockIO": {"weight": 500, "leafWeight": 300,
                  "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
                  "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                  "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]},
      "hugepageLimits": [{"pageSize": "2MB", "limit": 9223372036854772000}],
      "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
      "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
      "unified": {"memory.high": "max"}
    },
    "intelRdt": {"closID": "guaranteed", "l3CacheSchema": "L3:0=7f0",
                 "schemata": ["L2:0=ff"], "enableMonitoring": true},
    "memoryPolicy": {"mode": "MPOL_INTERLEAVE", "nodes": "0-1",
                     "flags": ["MPOL_F_STATIC_NODES"]},
    "sysctl": {"net.ipv4.ip_forward": "1"},
    "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                "architectures": ["SCMP_ARCH_X86_64"], "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                "listenerPath": "/run/agent.sock", "listenerMetadata": "m",
                "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW",
                              "args": [{"index": 0, "value": 1, "valueTwo": 0,
                                        "op": "SCMP_CMP_EQ"}]}]},
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/kcore"], "readonlyPaths": [],
    "mountLabel": "ml",
    "personality": {"domain": "LINUX32", "flags": []}
  }
})";

TEST(OciConfig, FullConfigParsesEveryField) {
    const Spec s = parse_config(kFullConfig);
    EXPECT_EQ(s.oci_version, "1.3.0");
    ASSERT_TRUE(s.root);
    EXPECT_EQ(s.root->path, "/var/lib/rootfs");
    EXPECT_EQ(s.domainname, "example.org");
    EXPECT_EQ(s.annotations.at("com.example.key"), "v");

    ASSERT_EQ(s.mounts.size(), 2u);
    EXPECT_EQ(s.mounts[1].destination, "data");  // relative kept; resolved against "/" later
    EXPECT_EQ(s.mounts[1].options, (std::vector<std::string>{"rbind", "ro"}));
    ASSERT_EQ(s.mounts[1].uid_mappings.size(), 1u);
    EXPECT_EQ(s.mounts[1].uid_mappings[0].host_id, 100000u);

    ASSERT_TRUE(s.process);
    const Process& p = *s.process;
    EXPECT_TRUE(p.terminal);
    EXPECT_EQ(p.console_size->width, 80u);
    EXPECT_EQ(p.user.gid, 1000u);  // 1000.0 is integral, so accepted
    EXPECT_EQ(p.user.umask, 18u);
    EXPECT_EQ(p.user.additional_gids, (std::vector<uint32_t>{4294967295u}));
    EXPECT_EQ(p.cwd, "/work");
    ASSERT_TRUE(p.capabilities && p.capabilities->bounding);
    EXPECT_EQ(p.capabilities->bounding->at(1), "CAP_MADE_UP");  // names checked at apply time
    EXPECT_TRUE(p.capabilities->effective && p.capabilities->effective->empty());
    EXPECT_EQ(p.rlimits[0].hard, UINT64_MAX);
    EXPECT_EQ(p.oom_score_adj, -1000);
    EXPECT_EQ(p.scheduler->policy, "SCHED_DEADLINE");
    EXPECT_EQ(p.scheduler->period, 30u);
    EXPECT_EQ(p.io_priority->priority, 7);
    EXPECT_EQ(p.exec_cpu_affinity->final_, "2");

    ASSERT_TRUE(s.hooks);
    EXPECT_EQ(s.hooks->prestart[0].args.size(), 2u);
    EXPECT_EQ(s.hooks->create_runtime[0].timeout, 5);
    EXPECT_EQ(s.hooks->poststop[0].path, "/h5");

    ASSERT_TRUE(s.linux);
    const Linux& l = *s.linux;
    EXPECT_EQ(l.namespaces.size(), 8u);
    EXPECT_EQ(l.namespaces[1].path, "/var/run/netns/x");
    EXPECT_EQ(l.time_offsets.at("monotonic").secs, -86400);
    EXPECT_EQ(l.devices[1].type, "p");
    EXPECT_EQ(l.devices[0].file_mode, 438u);
    EXPECT_EQ(l.net_devices.at("eth1").name, "net0");
    ASSERT_TRUE(l.resources);
    const Resources& r = *l.resources;
    EXPECT_EQ(r.devices[1].minor, -1);
    EXPECT_EQ(r.memory->limit, -1);  // -1 = unlimited survives as a signed value
    EXPECT_FALSE(r.memory->swappiness);  // (uint64)-1 means unset, as in runc
    EXPECT_FALSE(r.memory->use_hierarchy);  // null counts as absent
    EXPECT_EQ(r.memory->check_before_update, true);
    EXPECT_EQ(r.cpu->quota, -1);
    EXPECT_EQ(r.pids->limit, -1);
    EXPECT_EQ(r.block_io->throttle_write_iops_device[0].minor, 16);
    EXPECT_EQ(r.hugepage_limits[0].limit, 9223372036854772000ull);
    EXPECT_EQ(r.network->class_id, 1048577u);
    EXPECT_EQ(r.rdma.at("mlx5_1").hca_objects, 10000u);
    EXPECT_EQ(r.unified.at("memory.high"), "max");
    EXPECT_EQ(l.intel_rdt->schemata, (std::vector<std::string>{"L2:0=ff"}));
    EXPECT_EQ(l.memory_policy->mode, "MPOL_INTERLEAVE");
    EXPECT_EQ(l.sysctl.at("net.ipv4.ip_forward"), "1");
    ASSERT_TRUE(l.seccomp);
    EXPECT_EQ(l.seccomp->syscalls[0].names.size(), 2u);
    EXPECT_EQ(l.seccomp->syscalls[0].args[0].op, "SCMP_CMP_EQ");
    EXPECT_EQ(l.rootfs_propagation, "rslave");
    EXPECT_TRUE(l.readonly_paths && l.readonly_paths->empty());
    EXPECT_EQ(l.personality->domain, "LINUX32");
}

TEST(OciConfig, BaseConfigIsValidAndOptionalsStayAbsent) {
    const Spec s = parse_config(testing::base_config().dump());
    EXPECT_FALSE(s.hooks);
    EXPECT_FALSE(s.process->scheduler);
    EXPECT_FALSE(s.linux->masked_paths);
    EXPECT_TRUE(s.linux->uid_mappings.empty());
}

TEST(OciConfig, MinimalConfigWithoutProcessOrLinux) {
    const Spec s = parse_config(R"({"ociVersion": "1.0.0", "root": {"path": "r"}})");
    EXPECT_FALSE(s.process);
    EXPECT_FALSE(s.linux);
    EXPECT_FALSE(s.root->readonly);
}

TEST(OciConfig, JoiningAUserNamespaceNeedsNoMappings) {
    auto doc = testing::base_config();
    doc["linux"]["namespaces"].push_back({{"type", "user"}, {"path", "/proc/42/ns/user"}});
    const Spec s = parse_config(doc.dump());
    EXPECT_EQ(s.linux->namespaces.back().path, "/proc/42/ns/user");
}

void expect_default_spec(const Spec& s, bool rootless) {
    EXPECT_EQ(s.oci_version, "1.3.0");
    EXPECT_EQ(s.root->path, "rootfs");
    EXPECT_TRUE(s.root->readonly);
    ASSERT_TRUE(s.process);
    EXPECT_EQ(s.process->args, (std::vector<std::string>{"sh"}));
    EXPECT_TRUE(s.process->terminal);
    EXPECT_EQ(s.process->capabilities->bounding->size(), 14u);
    EXPECT_EQ(s.process->capabilities->effective->size(), 14u);
    EXPECT_EQ(s.process->capabilities->permitted->size(), 14u);
    ASSERT_EQ(s.process->rlimits.size(), 1u);
    EXPECT_EQ(s.process->rlimits[0].type, "RLIMIT_NOFILE");
    EXPECT_EQ(s.process->rlimits[0].soft, 1024u);
    ASSERT_EQ(s.mounts.size(), 7u);
    EXPECT_EQ(s.mounts[5].destination, "/sys");
    EXPECT_EQ(s.mounts[5].type, rootless ? "none" : "sysfs");
    EXPECT_EQ(s.mounts[6].type, "cgroup");
    ASSERT_TRUE(s.linux);
    std::vector<std::string> types;
    for (auto& ns : s.linux->namespaces) types.push_back(ns.type);
    if (rootless) {
        EXPECT_EQ(types, (std::vector<std::string>{"pid", "ipc", "uts", "mount", "user"}));
        ASSERT_EQ(s.linux->uid_mappings.size(), 1u);
        EXPECT_EQ(s.linux->uid_mappings[0].host_id, 1234u);
        EXPECT_EQ(s.linux->gid_mappings[0].host_id, 5678u);
        EXPECT_EQ(s.linux->uid_mappings[0].size, 1u);
    } else {
        EXPECT_EQ(types, (std::vector<std::string>{"pid", "network", "ipc", "uts", "mount"}));
        EXPECT_EQ(s.linux->resources->devices.size(), 1u);
    }
    EXPECT_EQ(s.linux->masked_paths->size(), 10u);
    EXPECT_EQ(s.linux->readonly_paths->size(), 5u);
}

TEST(OciDefaultSpec, RoundTripsThroughParseConfig) {
    expect_default_spec(parse_config(default_config_json(false)), false);
}

TEST(OciDefaultSpec, RootlessRoundTripsThroughParseConfig) {
    expect_default_spec(parse_config(default_config_json(true, 1234, 5678)), true);
}

TEST(OciDefaultSpec, RootlessDefaultMapsTheEffectiveIds) {
    const Spec s = parse_config(default_config_json(true));
    EXPECT_EQ(s.linux->uid_mappings.at(0).host_id, geteuid());
    EXPECT_EQ(s.linux->gid_mappings.at(0).host_id, getegid());
}

// Runs `runc spec [--rootless]` in a temp dir and parses what it wrote.
void parse_runc_spec(bool rootless) {
    if (access("/usr/sbin/runc", X_OK) != 0) GTEST_SKIP() << "runc not installed";
    TempDir dir;
    const std::string cmd = "cd '" + dir.path.string() + "' && /usr/sbin/runc spec" +
                            (rootless ? " --rootless" : "") + " >/dev/null 2>&1";
    const int rc = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << cmd;
    const Spec s = load_bundle(dir.path.string());
    EXPECT_EQ(s.process->args, (std::vector<std::string>{"sh"}));
    EXPECT_EQ(s.mounts.size(), 7u);
    EXPECT_EQ(s.linux->masked_paths->size(), 10u);
}

TEST(OciConfig, RuncSpecOutputParses) { parse_runc_spec(false); }
TEST(OciConfig, RuncRootlessSpecOutputParses) { parse_runc_spec(true); }

TEST(OciConfig, LoadConfigReadsBundle) {
    TempDir dir;
    std::ofstream(dir.path / "config.json") << default_config_json(false);
    EXPECT_EQ(load_bundle(dir.path.string()).hostname, "skiff");
}

TEST(OciConfig, LoadConfigMissingFileNamesIt) {
    TempDir dir;
    try {
        load_bundle(dir.path.string());
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "open " + dir.path.string() + "/config.json: No such file or directory");
        EXPECT_EQ(e.errnum(), ENOENT);
    }
}

TEST(OciConfig, LoadConfigDirectoryIsAReadError) {
    TempDir dir;
    fs::create_directory(dir.path / "config.json");
    try {
        load_bundle(dir.path.string());
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "read " + dir.path.string() + "/config.json: Is a directory");
    }
}

TEST(OciConfig, LoadConfigSyntaxErrorNamesTheFile) {
    TempDir dir;
    std::ofstream(dir.path / "config.json") << "{ nope";
    try {
        load_bundle(dir.path.string());
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("config.json: not valid JSON", 0), 0u) << e.what();
    }
}

TEST(OciConfig, ParseProcessForExec) {
    const Process p = parse_process(R"({"args": ["ls", "-l"], "cwd": "/tmp", "env": ["X=1"],
        "user": {"uid": 5, "gid": 6}, "capabilities": {"bounding": ["CAP_KILL"]},
        "terminal": false, "somethingNew": 1})");
    EXPECT_EQ(p.args.size(), 2u);
    EXPECT_EQ(p.user.uid, 5u);
    EXPECT_EQ(p.cwd, "/tmp");
}

TEST(OciConfig, ParseResourcesForUpdate) {
    const Resources r = parse_resources(
        R"({"memory": {"limit": 268435456, "swap": -1}, "cpu": {"quota": 50000, "period": 100000},
            "pids": {"limit": 100}, "blockIO": {"weight": 10}})");
    EXPECT_EQ(r.memory->limit, 268435456);
    EXPECT_EQ(r.memory->swap, -1);
    EXPECT_EQ(r.cpu->quota, 50000);
    EXPECT_EQ(r.pids->limit, 100);
    EXPECT_EQ(r.block_io->weight, 10);
}

}  // namespace
}  // namespace skiff::oci
