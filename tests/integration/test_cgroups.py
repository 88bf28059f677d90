"""cgroups: resources read back from the container's cgroup files (v1, v2 and hybrid hosts),
and the behaviour they cause (OOM kill, pids.max, pause). The container's cgroup is found from
the host side through /proc/<init pid>/cgroup, so the same test runs on any layout and with any
runtime (SKIFF_RUNTIME=/usr/sbin/runc checks the test itself).
"""

import json
import os
import subprocess
import time

import pytest

SLEEPER = "sleep 1000"
MiB = 1024 * 1024


# ------------------------------------------------------------------------------------------
# where a process's cgroups are, seen from the host


def _cgroup_mounts():
    """{controller or 'name=x' or '' (v2): mount point}"""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            dash = fields.index("-")
            fstype, opts = fields[dash + 1], fields[dash + 3]
            mp = fields[4].encode().decode("unicode_escape")
            if fstype == "cgroup2":
                mounts.setdefault("", mp)
            elif fstype == "cgroup":
                for o in opts.split(","):
                    if o not in ("rw", "ro") and not o.startswith("release_agent"):
                        mounts.setdefault(o, mp)
    return mounts


MOUNTS = _cgroup_mounts()
PURE_V2 = "" in MOUNTS and not any(k for k in MOUNTS if k)
HAS_V1 = any(k for k in MOUNTS if k)


def v2_controllers():
    if "" not in MOUNTS:
        return set()
    with open(os.path.join(MOUNTS[""], "cgroup.controllers")) as f:
        return set(f.read().split())


class Cgroups:
    """The cgroup directories of one process, per controller."""

    def __init__(self, pid):
        self.dirs = {}  # controller -> (dir, is_v2)
        self.v2_dir = None
        with open(f"/proc/{pid}/cgroup") as f:
            lines = [line.rstrip("\n").split(":", 2) for line in f]
        for hid, ctrls, path in lines:
            if hid == "0" and ctrls == "" and "" in MOUNTS:
                self.v2_dir = MOUNTS[""] + path.rstrip("/")
        for hid, ctrls, path in lines:
            for c in ctrls.split(","):
                if c and c in MOUNTS:
                    self.dirs[c] = (MOUNTS[c] + path.rstrip("/"), False)
        if self.v2_dir:
            for c in v2_controllers():
                self.dirs.setdefault(c, (self.v2_dir, True))
            self.dirs.setdefault("blkio", self.dirs.get("io", (self.v2_dir, True)))

    def is_v2(self, controller):
        return self.dirs[controller][1]

    def path(self, controller, name):
        return os.path.join(self.dirs[controller][0], name)

    def read(self, controller, name):
        with open(self.path(controller, name)) as f:
            return f.read().strip()

    def has(self, controller, name=None):
        if controller not in self.dirs:
            return False
        return name is None or os.path.exists(self.path(controller, name))


def created(rt, bundle, resources=None, script=SLEEPER, cgroups_path=None, extra=()):
    bundle.args(script)
    if resources is not None:
        bundle.config["linux"]["resources"] = resources
    if cgroups_path is not None:
        bundle.config["linux"]["cgroupsPath"] = cgroups_path
    cid, _ = rt.create(bundle, extra=extra)
    return cid, rt.state(cid)["pid"]


def fails(rt, bundle, resources=None, cgroups_path=None, global_args=()):
    bundle.args("true")
    if resources is not None:
        bundle.config["linux"]["resources"] = resources
    if cgroups_path is not None:
        bundle.config["linux"]["cgroupsPath"] = cgroups_path
    bundle.write()
    cid = rt.new_id()
    res = rt.run(["create", "--bundle", bundle.path, cid], check=False, global_args=global_args)
    assert res.returncode != 0, f"create succeeded: {res}"
    return res.stderr


# ------------------------------------------------------------------------------------------
# resources → files


def test_memory_limit_reservation_swap(rt, bundle):
    res = {"memory": {"limit": 64 * MiB, "reservation": 32 * MiB, "swap": 96 * MiB}}
    cid, pid = created(rt, bundle, res)
    cg = Cgroups(pid)
    if cg.is_v2("memory"):
        assert cg.read("memory", "memory.max") == str(64 * MiB)
        assert cg.read("memory", "memory.low") == str(32 * MiB)
        if cg.has("memory", "memory.swap.max"):  # v2 swap.max is swap alone: 96M - 64M
            assert cg.read("memory", "memory.swap.max") == str(32 * MiB)
    else:
        assert cg.read("memory", "memory.limit_in_bytes") == str(64 * MiB)
        assert cg.read("memory", "memory.soft_limit_in_bytes") == str(32 * MiB)
        if cg.has("memory", "memory.memsw.limit_in_bytes"):  # v1 memsw is memory + swap
            assert cg.read("memory", "memory.memsw.limit_in_bytes") == str(96 * MiB)


def test_memory_unlimited(rt, bundle):
    cid, pid = created(rt, bundle, {"memory": {"limit": -1}})
    cg = Cgroups(pid)
    if cg.is_v2("memory"):
        assert cg.read("memory", "memory.max") == "max"
    else:
        assert int(cg.read("memory", "memory.limit_in_bytes")) >= 2**62


def test_memory_v1_only_knobs(rt, bundle):
    if not HAS_V1 or "memory" not in MOUNTS:
        pytest.skip("memory controller is not on cgroup v1 here")
    res = {"memory": {"limit": 64 * MiB, "swappiness": 10, "disableOOMKiller": True}}
    cid, pid = created(rt, bundle, res)
    cg = Cgroups(pid)
    assert cg.read("memory", "memory.swappiness") == "10"
    assert "oom_kill_disable 1" in cg.read("memory", "memory.oom_control")


def test_cpu_shares_quota_period(rt, bundle):
    res = {"cpu": {"shares": 512, "quota": 20000, "period": 100000}}
    cid, pid = created(rt, bundle, res)
    cg = Cgroups(pid)
    if cg.is_v2("cpu"):
        assert cg.read("cpu", "cpu.weight") == "20"  # 1 + (512-2)*9999/262142
        assert cg.read("cpu", "cpu.max") == "20000 100000"
    else:
        assert cg.read("cpu", "cpu.shares") == "512"
        assert cg.read("cpu", "cpu.cfs_quota_us") == "20000"
        assert cg.read("cpu", "cpu.cfs_period_us") == "100000"


@pytest.mark.skiff_only("runc 1.1 predates cpu.burst")
def test_cpu_burst_and_idle(rt, bundle):
    cid, pid = created(rt, bundle, {"cpu": {"quota": 20000, "period": 100000, "burst": 10000,
                                            "idle": 1}})
    cg = Cgroups(pid)
    if cg.is_v2("cpu"):
        assert cg.read("cpu", "cpu.max.burst") == "10000"
    else:
        assert cg.read("cpu", "cpu.cfs_burst_us") == "10000"
    assert cg.read("cpu", "cpu.idle") == "1"


def test_cpuset(rt, bundle):
    cid, pid = created(rt, bundle, {"cpu": {"cpus": "0", "mems": "0"}})
    cg = Cgroups(pid)
    assert cg.read("cpuset", "cpuset.cpus") == "0"
    assert cg.read("cpuset", "cpuset.mems") == "0"
    with open(f"/proc/{pid}/status") as f:
        assert "Cpus_allowed_list:\t0\n" in f.read()


def test_pids_limit(rt, bundle):
    cid, pid = created(rt, bundle, {"pids": {"limit": 50}})
    assert Cgroups(pid).read("pids", "pids.max") == "50"


def _a_block_device():
    for name in sorted(os.listdir("/sys/block")):
        if name.startswith(("loop", "zram", "ram")):
            continue
        with open(f"/sys/block/{name}/dev") as f:
            return f.read().strip()
    pytest.skip("no disk to throttle")


def test_blkio_throttle(rt, bundle):
    dev = _a_block_device()
    major, minor = map(int, dev.split(":"))
    res = {"blockIO": {
        "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": MiB}],
        "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]}}
    cid, pid = created(rt, bundle, res)
    cg = Cgroups(pid)
    if cg.is_v2("blkio"):
        line = [ln for ln in cg.read("blkio", "io.max").splitlines() if ln.startswith(dev + " ")]
        assert line and f"rbps={MiB}" in line[0] and "wiops=100" in line[0], line
    else:
        assert f"{dev} {MiB}" in cg.read("blkio", "blkio.throttle.read_bps_device")
        assert f"{dev} 100" in cg.read("blkio", "blkio.throttle.write_iops_device")


def _weight_files(cg):
    """(file, per-device value for weight 500, default line) for this cgroup's I/O weight."""
    if not cg.is_v2("blkio"):
        return "blkio.weight", "500", "500"
    if cg.has("blkio", "io.bfq.weight"):  # bfq keeps the v1 range
        return "io.bfq.weight", "500", "default 500"
    return "io.weight", "4950", "default 4950"  # 1 + (500-10)*9999/990


def test_blkio_weight(rt, bundle):
    cid, pid = created(rt, bundle, {})
    cg = Cgroups(pid)
    weight_file, _, expect = _weight_files(cg)
    have = cg.has("blkio", weight_file)
    rt.delete(cid, force=True)
    if not have:
        pytest.skip(f"{weight_file} is not offered by this kernel's I/O scheduler")
    cid, pid = created(rt, bundle, {"blockIO": {"weight": 500}})
    assert Cgroups(pid).read("blkio", weight_file).splitlines()[0] == expect


def _page_size():
    sizes = sorted(os.listdir("/sys/kernel/mm/hugepages")) if os.path.isdir(
        "/sys/kernel/mm/hugepages") else []
    if "hugepages-2048kB" not in sizes:
        pytest.skip("no 2MB huge pages")
    return "2MB"


def test_hugepage_limit(rt, bundle):
    size = _page_size()
    if not runtime_is_skiff(rt) and not PURE_V2 and "hugetlb" not in MOUNTS:
        pytest.skip("runc 1.1 does not drive hugetlb on the v2 mount of a hybrid host")
    cid, pid = created(rt, bundle, {"hugepageLimits": [{"pageSize": size, "limit": 4 * MiB}]})
    cg = Cgroups(pid)
    v2 = cg.is_v2("hugetlb")
    limit, rsvd = (".max", ".rsvd.max") if v2 else (".limit_in_bytes", ".rsvd.limit_in_bytes")
    assert cg.read("hugetlb", f"hugetlb.{size}{limit}") == str(4 * MiB)
    if cg.has("hugetlb", f"hugetlb.{size}{rsvd}"):  # reservations are limited alike
        assert cg.read("hugetlb", f"hugetlb.{size}{rsvd}") == str(4 * MiB)


def test_unified_keys_on_v2(rt, bundle):
    if not PURE_V2:
        pytest.skip("unified resources need a pure cgroup v2 host")
    cid, pid = created(rt, bundle, {"unified": {"memory.high": str(48 * MiB)}})
    assert Cgroups(pid).read("memory", "memory.high") == str(48 * MiB)


@pytest.mark.skiff_only("runc ignores network resources without net_cls")
def test_network_without_net_cls_is_a_clear_error(rt, bundle):
    if "net_cls" in MOUNTS:
        pytest.skip("this host has net_cls")
    err = fails(rt, bundle, {"network": {"classID": 1048577}})
    assert "linux.resources.network.classID" in err and "net_cls" in err, err


@pytest.mark.skiff_only("runc clamps '..' silently")
def test_dotdot_cgroups_path_is_refused(rt, bundle):
    err = fails(rt, bundle, cgroups_path="/../../escape")
    assert "linux.cgroupsPath" in err, err


@pytest.mark.skiff_only("runc has a systemd driver")
def test_systemd_driver_is_a_clear_error(rt, bundle):
    err = fails(rt, bundle, cgroups_path="system.slice:skiff:x", global_args=["--systemd-cgroup"])
    assert "systemd cgroup driver is not available" in err, err


def test_devices_allow_list(rt, bundle):
    """/dev/mem (1:1) is not in the allow list: mknod works (c *:* m), opening it does not."""
    bundle.config["process"]["capabilities"]["bounding"].append("CAP_MKNOD")
    bundle.config["process"]["capabilities"]["effective"].append("CAP_MKNOD")
    bundle.config["process"]["capabilities"]["permitted"].append("CAP_MKNOD")
    bundle.config["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    out = rt.sh(bundle, "mknod /tmp/mem c 1 1 && (head -c1 /tmp/mem >/dev/null 2>&1 && "
                        "echo mem-open || echo mem-denied); head -c1 /dev/zero | wc -c")
    assert out.split() == ["mem-denied", "1"], out


def test_devices_list_on_v1(rt, bundle):
    if "devices" not in MOUNTS:
        pytest.skip("no v1 devices controller")
    res = {"devices": [{"allow": False, "access": "rwm"},
                       {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"}]}
    cid, pid = created(rt, bundle, res)
    rules = Cgroups(pid).read("devices", "devices.list").splitlines()
    assert "a *:* rwm" not in rules
    assert "c 10:229 rw" in rules and "c 1:3 rwm" in rules, rules


def test_cpu_realtime(rt, bundle):
    """v1: the cgroup needs a parent with a realtime budget, so it hangs from the root here.
    v2 has no realtime bandwidth at all: asking for it must fail, not be dropped."""
    res = {"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 10000}}
    if "cpu" not in MOUNTS:
        if not runtime_is_skiff(rt):
            pytest.skip("checks skiff's refusal")
        err = fails(rt, bundle, res)
        assert "realtime" in err, err
        return
    cid, pid = created(rt, bundle, res, cgroups_path=f"/{rt.id_prefix}-rt")
    cg = Cgroups(pid)
    if not cg.has("cpu", "cpu.rt_runtime_us"):
        pytest.skip("kernel without RT group scheduling")
    assert cg.read("cpu", "cpu.rt_period_us") == "1000000"
    assert cg.read("cpu", "cpu.rt_runtime_us") == "10000"


def runtime_is_skiff(rt):
    return os.path.basename(rt.binary) != "runc"


def test_memory_use_hierarchy_v1(rt, bundle):
    if "memory" not in MOUNTS:
        pytest.skip("memory controller is not on cgroup v1 here")
    cid, pid = created(rt, bundle, {"memory": {"useHierarchy": True}})
    assert Cgroups(pid).read("memory", "memory.use_hierarchy") == "1"


@pytest.mark.skiff_only("checks skiff's warning text")
def test_kernel_memory_is_accepted_with_a_warning(rt, bundle):
    bundle.args(SLEEPER)
    bundle.config["linux"]["resources"] = {"memory": {"limit": 64 * MiB, "kernel": 32 * MiB}}
    cid, res = rt.create(bundle)
    assert "memory.kernel" in res.stderr, res


@pytest.mark.skiff_only("runc 1.1 has no checkBeforeUpdate")
def test_check_before_update_refuses_a_limit_below_usage(rt, bundle, workdir):
    cid, pid = created(rt, bundle, {"memory": {"limit": 64 * MiB}})
    rt.start(cid)
    path = os.path.join(workdir, "res.json")
    with open(path, "w") as f:
        json.dump({"memory": {"limit": 4096, "checkBeforeUpdate": True}}, f)
    res = rt.run(["update", "--resources", path, cid], check=False)
    assert res.returncode != 0 and "checkBeforeUpdate" in res.stderr, res
    cg = Cgroups(pid)
    mem = "memory.max" if cg.is_v2("memory") else "memory.limit_in_bytes"
    assert cg.read("memory", mem) == str(64 * MiB)


def test_blkio_weight_device(rt, bundle):
    dev = _a_block_device()
    major, minor = map(int, dev.split(":"))
    cid, pid = created(rt, bundle, {})
    cg = Cgroups(pid)
    v1 = not cg.is_v2("blkio")
    weight_file, value, _ = _weight_files(cg)
    if v1:
        weight_file = "blkio.weight_device"
    ok = cg.has("blkio", weight_file) and (v1 or weight_file == "io.bfq.weight")
    rt.delete(cid, force=True)
    if not ok:
        pytest.skip("per-device weights need bfq here")
    cid, pid = created(rt, bundle, {"blockIO": {"weightDevice": [
        {"major": major, "minor": minor, "weight": 500}]}})
    assert f"{dev} {value}" in Cgroups(pid).read("blkio", weight_file).splitlines()


@pytest.mark.skiff_only("runc ignores rdma without the controller")
def test_rdma_without_controller_is_a_clear_error(rt, bundle):
    if "rdma" in MOUNTS or "rdma" in v2_controllers():
        pytest.skip("this host has the rdma controller")
    err = fails(rt, bundle, {"rdma": {"mlx5_0": {"hcaHandles": 3}}})
    assert "linux.resources.rdma" in err and "rdma" in err, err


@pytest.mark.skiff_only("runc 1.1 refuses unified keys on hybrid hosts")
def test_unified_keys_reach_the_v2_mount_of_a_hybrid_host(rt, bundle):
    if PURE_V2 or "" not in MOUNTS or "hugetlb" not in v2_controllers():
        pytest.skip("needs a hybrid host with hugetlb on its v2 mount")
    size = _page_size()
    cid, pid = created(rt, bundle, {"unified": {f"hugetlb.{size}.max": str(6 * MiB)}})
    assert Cgroups(pid).read("hugetlb", f"hugetlb.{size}.max") == str(6 * MiB)


# ------------------------------------------------------------------------------------------
# cgroupsPath


@pytest.mark.skiff_only("runc's default is <its own cgroup>/<id>")
def test_default_path_is_under_skiff(rt, bundle):
    cid, pid = created(rt, bundle)
    cg = Cgroups(pid)
    for c, (d, _) in cg.dirs.items():
        assert d.endswith(f"/skiff/{cid}"), (c, d)


def test_absolute_path_hangs_from_each_root(rt, bundle):
    parent = f"{rt.id_prefix}-abs"
    cid, pid = created(rt, bundle, cgroups_path=f"/{parent}/inner")
    cg = Cgroups(pid)
    try:
        for c, (d, _) in cg.dirs.items():
            assert d.endswith(f"/{parent}/inner"), (c, d)
            assert os.path.dirname(os.path.dirname(d)) in MOUNTS.values(), (c, d)
        rt.delete(cid, force=True)
        for c, (d, _) in cg.dirs.items():
            assert not os.path.exists(d), d
    finally:
        # the parent was made for this container; runtimes leave such parents, like runc
        rt.delete(cid, force=True, check=False)
        for d in {os.path.dirname(d) for d, _ in cg.dirs.values()}:
            try:
                os.rmdir(d)
            except OSError:
                pass


def test_relative_path_hangs_from_the_callers_cgroup(rt, bundle):
    """v1: under the caller's own cgroup; v2: under its parent (the caller's leaf holds
    processes, so it cannot delegate controllers), as runc's cgroupfs driver does."""
    rel = f"{rt.id_prefix}-rel"
    cid, pid = created(rt, bundle, cgroups_path=rel)
    mine = Cgroups(os.getpid())
    cg = Cgroups(pid)
    checked = 0
    for c in ("memory", "pids"):
        if c in cg.dirs and not cg.is_v2(c):
            assert cg.dirs[c][0] == os.path.join(mine.dirs[c][0], rel), c
            checked += 1
    if cg.v2_dir:
        mount = MOUNTS[""]
        parent = os.path.dirname(mine.v2_dir) if mine.v2_dir != mount else mount
        assert cg.v2_dir == os.path.join(parent, rel), (cg.v2_dir, mine.v2_dir)
        checked += 1
    assert checked


# ------------------------------------------------------------------------------------------
# behaviour


def _oom_kills(cg):
    if cg.is_v2("memory"):
        text = cg.read("memory", "memory.events")
    else:
        text = cg.read("memory", "memory.oom_control")
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return None


@pytest.mark.slow
def test_memory_hog_is_oom_killed(rt, bundle):
    """tail keeps the whole endless "line" of /dev/zero in memory: the kernel kills it, and
    only it; the container's init survives to tell."""
    res = {"memory": {"limit": 32 * MiB, "swap": 32 * MiB}}
    cid, pid = created(rt, bundle, res, script="tail /dev/zero; echo $? > /tmp/rc; exec sleep 1000")
    rt.start(cid)
    cg = Cgroups(pid)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not os.path.exists(bundle.in_rootfs("tmp/rc")):
        time.sleep(0.1)
    with open(bundle.in_rootfs("tmp/rc")) as f:
        assert f.read().strip() == "137"  # 128 + SIGKILL
    kills = _oom_kills(cg)
    if kills is not None:
        assert kills >= 1
    assert rt.state(cid)["status"] == "running"


@pytest.mark.slow
def test_memory_hog_as_init_ends_the_container(rt, bundle):
    bundle.config["linux"]["resources"] = {"memory": {"limit": 32 * MiB, "swap": 32 * MiB}}
    bundle.args("exec tail /dev/zero")
    rc, out, err = rt.run_container(bundle, timeout=60)
    assert rc == 137, (rc, out, err)


def test_fork_bomb_stops_at_pids_max(rt, bundle):
    limit = 16
    # busybox sh gives up at the first failed fork, so the bomb is not the init itself
    script = "sh -c 'for i in $(seq 1 60); do sleep 1000 & done' 2>/dev/null; exec sleep 1000"
    cid, pid = created(rt, bundle, {"pids": {"limit": limit}}, script=script)
    rt.start(cid)
    cg = Cgroups(pid)
    deadline = time.monotonic() + 10
    events = ""
    while time.monotonic() < deadline:
        events = cg.read("pids", "pids.events") if cg.has("pids", "pids.events") else ""
        if "max" in events and int(events.split()[1]) > 0:
            break
        time.sleep(0.1)
    current = int(cg.read("pids", "pids.current"))
    assert current <= limit
    assert current >= limit - 2  # it did fill up: the limit, not the script, stopped it
    if events:
        assert int(events.split()[1]) > 0, events


def test_kill_and_delete_remove_nested_cgroups(rt, bundle):
    cid, pid = created(rt, bundle)
    rt.start(cid)
    cg = Cgroups(pid)
    dirs = {d for d, _ in cg.dirs.values()}
    for d in dirs:  # what a container with a writable cgroup mount could make
        os.makedirs(os.path.join(d, "nested", "deeper"), exist_ok=True)
    rt.kill(cid, "KILL", extra=["--all"])
    rt.wait_status(cid, "stopped")
    rt.delete(cid)
    for d in dirs:
        assert not os.path.exists(d), d


def test_cgroup_namespace_and_mount(rt, bundle):
    bundle.ns("cgroup")
    bundle.config["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup",
                                    "source": "cgroup",
                                    "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]})
    bundle.config["linux"]["resources"] = {"pids": {"limit": 77}}
    out = rt.sh(bundle, "cat /proc/self/cgroup; echo ---; "
                        "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null; true")
    own, _, limits = out.partition("---")
    for line in own.split():
        assert line.endswith(":/"), f"cgroup namespace shows the host path: {line}"
    assert "77" in limits.split(), out


def test_cgroup_mount_without_namespace_binds_the_containers_own_cgroups(rt, bundle):
    """The `runc spec` default: a "cgroup" mount and no cgroup namespace. On v1 (and the v1
    part of a hybrid host) each hierarchy is the container's own cgroup bound read-only."""
    bundle.config["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup",
                                    "source": "cgroup",
                                    "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]})
    bundle.config["linux"]["resources"] = {"pids": {"limit": 77}}
    out = rt.sh(bundle, "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; "
                        "echo ---; grep ' /sys/fs/cgroup' /proc/self/mountinfo; "
                        "echo 5 > /sys/fs/cgroup/pids/pids.max 2>/dev/null && echo WRITABLE; true")
    limits, _, mounts = out.partition("---")
    assert "77" in limits.split(), out
    assert "WRITABLE" not in out
    for line in mounts.strip().splitlines():
        assert " ro," in line or line.split()[5].startswith("ro"), line


# ------------------------------------------------------------------------------------------
# commands over the cgroup: update, pause/resume, events


def test_update_resources(rt, bundle):
    cid, pid = created(rt, bundle, {"memory": {"limit": 64 * MiB}, "pids": {"limit": 40}})
    rt.start(cid)
    rt.run(["update", "--memory", str(128 * MiB), "--pids-limit", "30",
            "--cpu-quota", "30000", "--cpu-period", "100000", cid])
    cg = Cgroups(pid)
    mem = "memory.max" if cg.is_v2("memory") else "memory.limit_in_bytes"
    assert cg.read("memory", mem) == str(128 * MiB)
    assert cg.read("pids", "pids.max") == "30"
    if cg.is_v2("cpu"):
        assert cg.read("cpu", "cpu.max") == "30000 100000"
    else:
        assert cg.read("cpu", "cpu.cfs_quota_us") == "30000"


def test_update_from_resources_json(rt, bundle, workdir):
    cid, pid = created(rt, bundle)
    rt.start(cid)
    path = os.path.join(workdir, "res.json")
    with open(path, "w") as f:
        json.dump({"pids": {"limit": 25}}, f)
    rt.run(["update", "--resources", path, cid])
    assert Cgroups(pid).read("pids", "pids.max") == "25"


def _counter(bundle):
    return bundle.in_rootfs("tmp/count")


def _read_count(bundle):
    try:
        return os.path.getsize(_counter(bundle))
    except OSError:
        return 0


def test_pause_stops_the_container_and_resume_continues(rt, bundle):
    # appends only: a reader never sees a half-rewritten file
    cid, pid = created(rt, bundle, script="while true; do echo x >> /tmp/count; done")
    rt.start(cid)
    time.sleep(0.3)
    assert _read_count(bundle) > 0
    rt.run(["pause", cid])
    assert rt.state(cid)["status"] == "paused"
    cg = Cgroups(pid)
    if "freezer" in cg.dirs and not cg.is_v2("freezer"):
        assert cg.read("freezer", "freezer.state") == "FROZEN"
    else:
        assert cg.read("memory" if "memory" in cg.dirs else "pids", "cgroup.freeze") == "1"
    before = _read_count(bundle)
    time.sleep(0.3)
    assert _read_count(bundle) == before, "a paused container kept running"
    rt.run(["resume", cid])
    assert rt.state(cid)["status"] == "running"
    time.sleep(0.3)
    assert _read_count(bundle) > before, "a resumed container did not run again"


def test_events_stats_schema(rt, bundle):
    cid, pid = created(rt, bundle, {"memory": {"limit": 64 * MiB}, "pids": {"limit": 20}})
    rt.start(cid)
    res = rt.run(["events", "--stats", cid])
    ev = json.loads(res.stdout.strip().splitlines()[0])
    assert ev["type"] == "stats" and ev["id"] == cid
    data = ev["data"]
    assert data["pids"]["current"] >= 1 and data["pids"]["limit"] == 20
    assert data["memory"]["usage"]["limit"] == 64 * MiB
    assert data["memory"]["usage"]["usage"] > 0
    assert "usage" in data["cpu"] and "throttling" in data["cpu"]
    assert "blkio" in data and "hugetlb" in data


def _device_update(rt, cid, workdir, rules):
    path = os.path.join(workdir, "res.json")
    with open(path, "w") as f:
        json.dump({"devices": rules}, f)
    rt.run(["update", "--resources", path, cid])


def test_linux_devices_get_no_rule_at_create_or_update(rt, bundle, workdir):
    """linux.devices makes nodes and grants nothing: the device rules are the config's plus
    runc's defaults, at create and after an update that sends device rules (runc's update
    leaves devices alone; skiff's applies the sent rules under the same defaults)."""
    if "devices" not in MOUNTS:
        pytest.skip("no v1 devices controller")
    # 1:4 (/dev/port): in no default allow list.
    bundle.config["linux"]["devices"] = [{"path": "/dev/xport", "type": "c", "major": 1,
                                          "minor": 4, "fileMode": 0o600}]
    cid, pid = created(rt, bundle, {"devices": [{"allow": False, "access": "rwm"}]})
    rules = Cgroups(pid).read("devices", "devices.list").splitlines()
    assert not [r for r in rules if r.startswith("c 1:4 ")], rules
    assert "c 1:3 rwm" in rules and "c 136:* rwm" in rules, rules
    rt.start(cid)
    _device_update(rt, cid, workdir, [{"allow": False, "access": "rwm"}])
    rules = Cgroups(pid).read("devices", "devices.list").splitlines()
    assert not [r for r in rules if r.startswith("c 1:4 ")], rules
    assert "c 1:3 rwm" in rules and "c 136:* rwm" in rules, rules


@pytest.mark.skiff_only(reason="runc's update never changes device rules (SkipDevices)")
def test_update_device_rules_replace_the_configs_under_the_defaults(rt, bundle, workdir):
    """An update with device rules replaces the config's: a device it allows becomes
    usable with exactly the access it names, and the defaults stay."""
    if "devices" not in MOUNTS:
        pytest.skip("no v1 devices controller")
    cid, pid = created(rt, bundle, {"devices": [{"allow": False, "access": "rwm"}]})
    rt.start(cid)
    _device_update(rt, cid, workdir, [{"allow": False, "access": "rwm"},
                                      {"allow": True, "type": "c", "major": 1, "minor": 4,
                                       "access": "r"}])
    rules = Cgroups(pid).read("devices", "devices.list").splitlines()
    assert "c 1:4 r" in rules, rules
    assert "c 1:3 rwm" in rules and "c 5:2 rwm" in rules, rules


def _cgroup_lines(text):
    """/proc/self/cgroup as {controllers or "" (v2): path}."""
    out = {}
    for line in text.splitlines():
        _, ctrls, path = line.split(":", 2)
        out[ctrls] = path
    return out


def test_exec_into_a_sub_cgroup(rt, bundle):
    """exec --cgroup path runs the process in an existing sub-cgroup of the container's, in every
    hierarchy; --cgroup ctrl:path only in that controller's."""
    cid, pid = created(rt, bundle)
    rt.start(cid)
    dirs = sorted({d for d, _ in Cgroups(pid).dirs.values()})
    made = []
    try:
        for d in dirs:
            os.mkdir(os.path.join(d, "sub"))
            made.append(os.path.join(d, "sub"))
            for name in ("cpuset.cpus", "cpuset.mems"):  # a v1 cpuset starts empty: unusable
                if os.path.exists(os.path.join(d, name)) and not d.startswith(MOUNTS.get("", "\0")):
                    with open(os.path.join(d, name)) as src, \
                            open(os.path.join(d, "sub", name), "w") as dst:
                        dst.write(src.read().strip())
        before = _cgroup_lines(rt.run(["exec", cid, "cat", "/proc/self/cgroup"]).stdout)
        every = _cgroup_lines(rt.run(["exec", "--cgroup", "sub", cid,
                                      "cat", "/proc/self/cgroup"]).stdout)
        for key, path in every.items():
            if key == "name=systemd" and not before[key].strip("/"):
                continue
            assert path == before[key].rstrip("/") + "/sub", (key, path, before[key])
        # runc's absolute form names the same sub-cgroup: joined to the container's cgroup
        assert _cgroup_lines(rt.run(["exec", "--cgroup", "/sub", cid,
                                     "cat", "/proc/self/cgroup"]).stdout) == every
        if HAS_V1 and "memory" in MOUNTS:
            one = _cgroup_lines(rt.run(["exec", "--cgroup", "memory:sub", cid,
                                        "cat", "/proc/self/cgroup"]).stdout)
            for key, path in one.items():
                want = before[key].rstrip("/") + "/sub" if "memory" in key.split(",") else before[key]
                assert path == want, (key, path)
    finally:
        rt.kill(cid, "KILL", check=False)
        rt.wait_status(cid, "stopped")
        for m in made:
            for _ in range(50):
                try:
                    os.rmdir(m)
                    break
                except OSError:
                    time.sleep(0.05)


@pytest.mark.parametrize("arg,why", [
    ("nosuch", "/nosuch/cgroup.procs: no such file or directory"),
    ("../escape", "../escape is not a sub cgroup path"),
    ("a/../../escape", "a/../../escape is not a sub cgroup path"),
    ("..", ".. is not a sub cgroup path"),
    ("nosuchctrl:sub", "unknown controller nosuchctrl"),
])
def test_exec_sub_cgroup_must_exist_below_the_container(rt, bundle, arg, why):
    """Each bad --cgroup is refused for its own reason, in runc's words (its own integration
    suite matches them), and runs nothing: the exec'd command would leave a marker behind."""
    cid, pid = created(rt, bundle)
    rt.start(cid)
    res = rt.run(["exec", "--cgroup", arg, cid, "touch", "/ran"], check=False)
    assert res.returncode != 0
    assert why in res.stderr, res
    if "cgroup.procs" in why:
        assert " adding pid " in res.stderr, res
    assert not os.path.exists(bundle.in_rootfs("/ran"))


@pytest.mark.parametrize("arg", ["/", "", "sub/..", "/."])
def test_exec_sub_cgroup_that_names_the_container_cgroup_itself(rt, bundle, arg):
    """As in runc, the path is joined to the container's cgroup: "/" (and any path that
    cleans to it) is that cgroup itself, not the host's root."""
    cid, pid = created(rt, bundle)
    rt.start(cid)
    before = _cgroup_lines(rt.run(["exec", cid, "cat", "/proc/self/cgroup"]).stdout)
    res = rt.run(["exec", "--cgroup", arg, cid, "cat", "/proc/self/cgroup"], check=False)
    assert res.returncode == 0, res
    assert _cgroup_lines(res.stdout) == before


def test_concurrent_create_and_delete_share_the_default_parent(rt, bundle):
    """Default cgroup paths share a /skiff parent that the last container's delete removes. A
    create racing with that delete must make the parent again, not fail with ENOENT."""
    import threading
    errors = []
    bundle.write()

    def churn():
        try:
            for _ in range(40):
                cid, res = rt.create(bundle.path, check=False)
                if res.returncode != 0:
                    errors.append(res.stderr)
                    continue
                rt.delete(cid, force=True, check=False)
        except Exception as e:  # a thread's exception would not fail the test
            errors.append(repr(e))

    workers = [threading.Thread(target=churn) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors[:3]


def test_a_shared_non_empty_cgroup_is_warned_about(rt, make_bundle):
    # a second container put into a cgroup that already holds another container's processes
    # is allowed (runc 1.1) but not silently: its limits, pause and kill --all reach them too
    path = "/" + rt.new_id()  # named after a test id, so the leak check covers it
    first, second = make_bundle(), make_bundle()
    cid1, _ = created(rt, first, cgroups_path=path)
    second.args(SLEEPER)
    second.config["linux"]["cgroupsPath"] = path
    cid2, res = rt.create(second)
    assert "container's cgroup is not empty: 1 process(es) found" in res.stderr, res
    for cid in (cid2, cid1):
        rt.delete(cid, force=True)
