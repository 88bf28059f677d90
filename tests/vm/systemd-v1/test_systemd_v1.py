"""skiff --systemd-cgroup on a v1 (hybrid) host that systemd runs: tests/vm/test-systemd.sh
boots its guest a second time with systemd.unified_cgroup_hierarchy=0 for these.

As runc's v1 systemd manager does, the container's init is put into a transient scope, and
then its cgroup is the scope's path on every mounted hierarchy: systemd makes that directory
on the hierarchies whose controllers it manages, skiff makes it on the others (freezer,
net_cls, ...). The resources are in the v1 files; delete leaves no unit and no directory on
any hierarchy.
"""
import json
import os
import subprocess
import time

import pytest

from conftest import CGROUP_ROOT

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/run/systemd/system") or not os.path.isdir(os.path.join(CGROUP_ROOT, "pids")),
    reason="needs a v1 or hybrid host that systemd runs (tests/vm/test-systemd.sh)")

SD = ["--systemd-cgroup"]
MiB = 1 << 20
PREFIX = "skiff-v1"
NOT_CONTROLLERS = ("rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode",
                   "favordynmods", "nsdelegate")


def hierarchies():
    """{name: mount point} of every cgroup mount: v1 ones by their controllers (name=systemd
    as "name=systemd"), the v2 one as ""."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ")
            fstype, _, opts = post.split()
            mnt = pre.split()[4]
            if fstype == "cgroup2":
                out[""] = mnt
            elif fstype == "cgroup":
                names = [o for o in opts.split(",") if o.startswith("name=") or
                         ("=" not in o and o not in NOT_CONTROLLERS)]
                out[",".join(sorted(names))] = mnt
    return out


def unit_of(cid):
    return f"{PREFIX}-{cid}.scope"


def scope_cgroup(cid):
    return f"/system.slice/{unit_of(cid)}"


def mount_of(controller):
    for names, mnt in hierarchies().items():
        if controller in names.split(","):
            return mnt
    return None


def read(cid, controller, name):
    with open(os.path.join(mount_of(controller) + scope_cgroup(cid), name)) as f:
        return f.read().strip()


def show(unit, *props):
    out = subprocess.run(["systemctl", "show", unit, *(f"--property={p}" for p in props)],
                         check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def assert_gone(cid):
    deadline = time.monotonic() + 3
    while True:
        props = show(unit_of(cid), "LoadState")
        if props.get("LoadState") == "not-found" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert props.get("LoadState") == "not-found", props
    left = [mnt + scope_cgroup(cid) for mnt in hierarchies().values()
            if os.path.exists(mnt + scope_cgroup(cid))]
    assert not left, left


def sd_create(rt, bundle, script="sleep 1000", resources=None):
    bundle.args(script)
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"system.slice:{PREFIX}:{cid}"
    if resources is not None:
        bundle.config["linux"]["resources"] = resources
    rt.create(bundle, cid=cid, global_args=SD)
    return cid, rt.state(cid)["pid"]


def cgroup_lines(text):
    """{hierarchy (controllers or name=..., "" for v2): path} from a /proc/<pid>/cgroup text."""
    out = {}
    for line in text.strip().splitlines():
        _, names, path = line.split(":", 2)
        out[",".join(sorted(names.split(","))) if names else ""] = path
    return out


def test_the_host_is_v1_with_systemd():
    h = hierarchies()
    assert "name=systemd" in h, h
    for c in ("cpu", "pids", "freezer", "devices"):
        assert mount_of(c) and mount_of(c) != h.get(""), (c, h)


def test_run_places_the_init_in_the_scope_on_every_hierarchy(rt, bundle):
    bundle.args("cat /proc/self/cgroup")
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"system.slice:{PREFIX}:{cid}"
    rc, out, err = rt.run_container(bundle, cid=cid, global_args=SD)
    assert rc == 0, err
    lines = cgroup_lines(out)
    # every hierarchy the host mounts, v1 controllers, name=systemd and the unified one
    assert set(lines) >= set(hierarchies()) - {""}, (lines, hierarchies())
    wrong = {k: v for k, v in lines.items() if v != scope_cgroup(cid) and k in hierarchies()}
    assert not wrong, wrong
    assert_gone(cid)


def test_limits_in_the_v1_files_and_the_unit(rt, bundle):
    res = {"memory": {"limit": 64 * MiB},
           "pids": {"limit": 50},
           "cpu": {"shares": 512, "quota": 25000, "period": 100000}}
    cid, pid = sd_create(rt, bundle, resources=res)
    props = show(unit_of(cid), "ActiveState", "Delegate", "ControlGroup", "TasksMax",
                 "CPUShares", "CPUQuotaPerSecUSec", "MemoryLimit", "MemoryMax")
    assert props["ActiveState"] == "active" and props["Delegate"] == "yes", props
    assert props["ControlGroup"] == scope_cgroup(cid), props
    assert props["TasksMax"] == "50", props
    # on v1, shares as shares: a CPUWeight would come back from systemd as 204
    assert props["CPUShares"] == "512", props
    assert props["CPUQuotaPerSecUSec"] == "250ms", props
    assert str(64 * MiB) in (props["MemoryLimit"], props["MemoryMax"]), props
    assert read(cid, "pids", "pids.max") == "50"
    assert read(cid, "cpu", "cpu.shares") == "512"
    assert read(cid, "cpu", "cpu.cfs_quota_us") == "25000"
    assert read(cid, "cpu", "cpu.cfs_period_us") == "100000"
    if mount_of("memory") != hierarchies().get(""):
        assert read(cid, "memory", "memory.limit_in_bytes") == str(64 * MiB)
    for c in ("pids", "cpu", "freezer", "devices", "name=systemd"):
        assert str(pid) in read(cid, c, "cgroup.procs").split(), c
    rt.delete(cid, force=True)
    assert_gone(cid)


def test_exec_joins_the_scope_on_every_hierarchy(rt, bundle):
    cid, _ = sd_create(rt, bundle)
    rt.start(cid)
    res = rt.run(["exec", cid, "cat", "/proc/self/cgroup"], global_args=SD)
    lines = cgroup_lines(res.stdout)
    wrong = {k: v for k, v in lines.items() if v != scope_cgroup(cid) and k in hierarchies()}
    assert not wrong, wrong
    rt.delete(cid, force=True)
    assert_gone(cid)


def test_update_sets_the_unit_and_the_v1_files(rt, bundle):
    cid, _ = sd_create(rt, bundle, resources={"memory": {"limit": 64 * MiB}, "pids": {"limit": 50}})
    rt.start(cid)
    rt.run(["update", "--memory", str(128 * MiB), "--pids-limit", "20", "--cpu-quota", "50000",
            "--cpu-period", "100000", "--cpu-share", "256", cid], global_args=SD)
    props = show(unit_of(cid), "TasksMax", "CPUQuotaPerSecUSec", "CPUShares")
    assert props == {"TasksMax": "20", "CPUQuotaPerSecUSec": "500ms", "CPUShares": "256"}, props
    assert read(cid, "pids", "pids.max") == "20"
    assert read(cid, "cpu", "cpu.cfs_quota_us") == "50000"
    assert read(cid, "cpu", "cpu.shares") == "256"
    if mount_of("memory") != hierarchies().get(""):
        assert read(cid, "memory", "memory.limit_in_bytes") == str(128 * MiB)
    rt.delete(cid, force=True)
    assert_gone(cid)


def test_pause_resume_through_the_v1_freezer(rt, bundle):
    cid, _ = sd_create(rt, bundle)
    rt.start(cid)
    rt.run(["pause", cid], global_args=SD)
    assert rt.state(cid)["status"] == "paused"
    assert read(cid, "freezer", "freezer.state") == "FROZEN"
    rt.run(["resume", cid], global_args=SD)
    assert rt.state(cid)["status"] == "running"
    assert read(cid, "freezer", "freezer.state") == "THAWED"
    rt.delete(cid, force=True)
    assert_gone(cid)


def test_ps_stats_kill_all_and_delete_leave_nothing(rt, bundle):
    cid, pid = sd_create(rt, bundle, script="sleep 1000 & sleep 1000")
    rt.start(cid)
    pids = json.loads(rt.run(["ps", "--format", "json", cid], global_args=SD).stdout)
    assert pid in pids and len(pids) == 2, pids
    ev = json.loads(rt.run(["events", "--stats", cid], global_args=SD).stdout)
    assert ev["data"]["pids"]["current"] == 2, ev
    rt.run(["kill", "--all", cid, "KILL"], global_args=SD)
    rt.wait_status(cid, "stopped")
    rt.run(["delete", cid], global_args=SD)
    assert_gone(cid)
    assert rt.state(cid, check=False) is None


@pytest.mark.parametrize("path,why", [
    ("a:b", "slice:prefix:name"),
    ("system:p:n", "not a slice name"),
    ("system.slice:p:a/b", "must not contain '/'"),
])
def test_bad_cgroups_path(rt, bundle, path, why):
    bundle.args("true")
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = path
    bundle.write()
    res = rt.run(["create", "--bundle", bundle.path, cid], check=False, global_args=SD)
    assert res.returncode != 0, res
    assert "linux.cgroupsPath" in res.stderr and why in res.stderr, res
    assert rt.state(cid, check=False) is None
