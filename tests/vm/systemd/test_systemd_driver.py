"""skiff --systemd-cgroup on a host that systemd runs (tests/vm/test-systemd.sh boots one).

Each container is a transient scope: these tests check what systemd says about it
(`systemctl show`) and what the kernel holds in its cgroup, through the lifecycle, and that
nothing (unit, cgroup, state) is left afterwards, also after bad input and after a create
killed half way.
"""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import CGROUP_ROOT, RUNTIME, runtime_is_runc

pytestmark = pytest.mark.skipif(not os.path.isdir("/run/systemd/system"),
                                reason="needs a host that systemd runs (tests/vm/test-systemd.sh)")

SD = ["--systemd-cgroup"]
MiB = 1 << 20
PREFIX = "skiff-test"


def show(unit, *props):
    out = subprocess.run(["systemctl", "show", unit, *(f"--property={p}" for p in props)],
                         check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def unit_of(cid):
    return f"{PREFIX}-{cid}.scope"


def cgdir(cid, slice_="system.slice"):
    return os.path.join(CGROUP_ROOT, slice_, unit_of(cid))


def read(cid, name):
    with open(os.path.join(cgdir(cid), name)) as f:
        return f.read().strip()


def sd_create(rt, bundle, script="sleep 1000", resources=None, annotations=None, cid=None,
              path=None):
    bundle.args(script)
    cid = cid or rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = path if path is not None else f"system.slice:{PREFIX}:{cid}"
    if resources is not None:
        bundle.config["linux"]["resources"] = resources
    if annotations is not None:
        bundle.config["annotations"] = annotations
    rt.create(bundle, cid=cid, global_args=SD)
    return cid, rt.state(cid)["pid"]


def assert_unit_gone(unit):
    # systemd unloads a stopped transient unit from its garbage-collection queue, a moment
    # after the stop job or the cgroup's removal (for runc's stop as well)
    deadline = time.monotonic() + 3
    while True:
        props = show(unit, "LoadState", "ActiveState")
        if props.get("LoadState") == "not-found" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert props.get("LoadState") == "not-found", props


def assert_gone(cid):
    assert_unit_gone(unit_of(cid))
    assert not os.path.exists(cgdir(cid))


def sd_fails(rt, bundle, path=None, annotations=None, resources=None):
    bundle.args("true")
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = path if path is not None else f"system.slice:{PREFIX}:{cid}"
    if annotations:
        bundle.config["annotations"] = annotations
    if resources:
        bundle.config["linux"]["resources"] = resources
    bundle.write()
    res = rt.run(["create", "--bundle", bundle.path, cid], check=False, global_args=SD)
    assert res.returncode != 0, f"create succeeded: {res}"
    assert rt.state(cid, check=False) is None, "state left behind"
    assert_no_companion()
    return cid, res.stderr


def assert_no_companion():
    """No skiff-systemd outlives the create that started it (create starts one before it
    reads the config, so a config error must end it too)."""
    def companions():
        found = []
        for d in os.listdir("/proc"):
            try:
                with open(f"/proc/{d}/comm") as f:
                    if f.read().strip() == "skiff-systemd":
                        found.append(int(d))
            except (OSError, ValueError):
                pass
        return found
    deadline = time.monotonic() + 3
    while companions() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not companions(), "skiff-systemd left running"


def test_create_start_puts_the_init_in_its_scope(rt, bundle):
    cid, pid = sd_create(rt, bundle)
    props = show(unit_of(cid), "ActiveState", "Slice", "Delegate", "ControlGroup",
                 "MemoryAccounting", "CPUAccounting", "TasksAccounting", "IOAccounting",
                 "Description")
    assert props["ActiveState"] == "active", props
    assert props["Slice"] == "system.slice"
    assert props["Delegate"] == "yes"
    assert props["ControlGroup"] == f"/system.slice/{unit_of(cid)}"
    for acc in ("MemoryAccounting", "CPUAccounting", "TasksAccounting", "IOAccounting"):
        assert props[acc] == "yes", (acc, props)
    with open(f"/proc/{pid}/cgroup") as f:
        assert f.read().strip() == f"0::/system.slice/{unit_of(cid)}"
    rt.start(cid)
    assert rt.state(cid)["status"] == "running"
    rt.kill(cid, "KILL")
    rt.wait_status(cid, "stopped")
    rt.delete(cid)
    assert_gone(cid)


def test_run_and_default_path(rt, bundle):
    """An empty cgroupsPath is system.slice:skiff:<id>; `run` ends with nothing left."""
    bundle.args("cat /proc/self/cgroup")
    bundle.ns("cgroup")
    cid = rt.new_id()
    rc, out, err = rt.run_container(bundle, cid=cid, global_args=SD)
    assert rc == 0, err
    assert out.strip() == "0::/", out  # its cgroup namespace is rooted at the scope
    assert_unit_gone(f"skiff-{cid}.scope")
    assert not os.path.exists(os.path.join(CGROUP_ROOT, "system.slice", f"skiff-{cid}.scope"))


def test_resources_as_unit_properties_and_files(rt, bundle):
    vda = os.stat("/dev/vda").st_rdev
    major, minor = os.major(vda), os.minor(vda)
    res = {"memory": {"limit": 64 * MiB, "reservation": 16 * MiB, "swap": 96 * MiB},
           "pids": {"limit": 50},
           "cpu": {"shares": 512, "quota": 25000, "period": 100000, "cpus": "0", "mems": "0"},
           "blockIO": {"weight": 500,
                       "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": MiB}]}}
    cid, _ = sd_create(rt, bundle, resources=res)
    props = show(unit_of(cid), "MemoryMax", "MemoryLow", "MemorySwapMax", "TasksMax",
                 "CPUWeight", "CPUQuotaPerSecUSec", "CPUQuotaPeriodUSec", "AllowedCPUs",
                 "AllowedMemoryNodes", "IOWeight", "IOReadBandwidthMax", "DevicePolicy")
    assert props["MemoryMax"] == str(64 * MiB), props
    assert props["MemoryLow"] == str(16 * MiB), props
    assert props["MemorySwapMax"] == str(32 * MiB), props
    assert props["TasksMax"] == "50", props
    assert props["CPUWeight"] == str(1 + ((512 - 2) * 9999) // 262142), props
    assert props["CPUQuotaPerSecUSec"] == "250ms", props
    assert props["CPUQuotaPeriodUSec"] == "100ms", props
    assert props["AllowedCPUs"] == "0" and props["AllowedMemoryNodes"] == "0", props
    assert props["IOWeight"] == str(1 + (490 * 9999) // 990), props
    assert str(MiB) in props["IOReadBandwidthMax"], props
    # ...and the same values in the scope's cgroup files.
    assert read(cid, "memory.max") == str(64 * MiB)
    assert read(cid, "memory.low") == str(16 * MiB)
    assert read(cid, "memory.swap.max") == str(32 * MiB)
    assert read(cid, "pids.max") == "50"
    assert read(cid, "cpu.max") == "25000 100000"
    assert read(cid, "cpu.weight") == props["CPUWeight"]
    assert read(cid, "cpuset.cpus") == "0"
    assert read(cid, "cpuset.mems") == "0"
    assert f"{major}:{minor} rbps={MiB}" in read(cid, "io.max")


def test_devices_are_policed_in_the_scope(rt, bundle):
    """/dev/mem (1:1) is not allowed: mknod works (c *:* m), opening it does not."""
    for k in ("bounding", "effective", "permitted"):
        bundle.config["process"]["capabilities"][k].append("CAP_MKNOD")
    bundle.config["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    bundle.config["linux"]["cgroupsPath"] = f"system.slice:{PREFIX}:{rt.new_id()}"
    bundle.args("mknod /tmp/mem c 1 1 && (head -c1 /tmp/mem >/dev/null 2>&1 && echo mem-open ||"
                " echo mem-denied); head -c1 /dev/zero | wc -c")
    rc, out, err = rt.run_container(bundle, global_args=SD)
    assert rc == 0, err
    assert out.split() == ["mem-denied", "1"], out


def test_exec_joins_the_scope(rt, bundle):
    cid, _ = sd_create(rt, bundle)
    rt.start(cid)
    res = rt.run(["exec", cid, "cat", "/proc/self/cgroup"], global_args=SD)
    assert res.stdout.strip() == f"0::/system.slice/{unit_of(cid)}", res


def test_update_sets_unit_properties_and_files(rt, bundle):
    cid, _ = sd_create(rt, bundle, resources={"memory": {"limit": 64 * MiB}, "pids": {"limit": 50}})
    rt.start(cid)
    rt.run(["update", "--memory", str(128 * MiB), "--pids-limit", "20", "--cpu-quota", "50000",
            "--cpu-period", "100000", cid], global_args=SD)
    props = show(unit_of(cid), "MemoryMax", "TasksMax", "CPUQuotaPerSecUSec")
    assert props == {"MemoryMax": str(128 * MiB), "TasksMax": "20", "CPUQuotaPerSecUSec": "500ms"}
    assert read(cid, "memory.max") == str(128 * MiB)
    assert read(cid, "pids.max") == "20"
    assert read(cid, "cpu.max") == "50000 100000"


def test_pause_resume_through_the_freezer(rt, bundle):
    cid, _ = sd_create(rt, bundle)
    rt.start(cid)
    rt.run(["pause", cid], global_args=SD)
    assert rt.state(cid)["status"] == "paused"
    assert "frozen 1" in read(cid, "cgroup.events")
    rt.run(["resume", cid], global_args=SD)
    assert rt.state(cid)["status"] == "running"
    assert "frozen 0" in read(cid, "cgroup.events")


def test_ps_stats_kill_all_and_delete(rt, bundle):
    cid, pid = sd_create(rt, bundle, script="sleep 1000 & sleep 1000")
    rt.start(cid)
    res = rt.run(["ps", "--format", "json", cid], global_args=SD)
    pids = json.loads(res.stdout)
    assert pid in pids and len(pids) == 2, pids
    ev = json.loads(rt.run(["events", "--stats", cid], global_args=SD).stdout)
    assert ev["data"]["pids"]["current"] == 2, ev
    rt.run(["kill", "--all", cid, "KILL"], global_args=SD)
    rt.wait_status(cid, "stopped")
    rt.run(["delete", cid], global_args=SD)
    assert_gone(cid)


def test_delete_force_of_a_running_container(rt, bundle):
    cid, _ = sd_create(rt, bundle)
    rt.start(cid)
    rt.run(["delete", "--force", cid], global_args=SD)
    assert_gone(cid)
    assert rt.state(cid, check=False) is None


@pytest.mark.parametrize("delay", [0.02, 0.1, 0.3, "hook"])
def test_sigkill_during_create_then_delete_force(rt, bundle, delay):
    """A create killed at some point, then `delete --force`: no unit, cgroup or state."""
    bundle.args("sleep 1000")
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"system.slice:{PREFIX}:{cid}"
    if delay == "hook":
        # the unit exists by then: createRuntime hooks run after the init is placed
        bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"]}]}
    bundle.write()
    proc = subprocess.Popen([RUNTIME, "--root", rt.root, *SD, "create", "--bundle", bundle.path, cid],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    if delay == "hook":
        deadline = time.monotonic() + 60
        while show(unit_of(cid), "ActiveState").get("ActiveState") != "active":
            assert time.monotonic() < deadline, "the scope never came up"
            time.sleep(0.05)
    else:
        time.sleep(delay)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    rt.run(["delete", "--force", cid], check=False, global_args=SD)
    deadline = time.monotonic() + 10
    while show(unit_of(cid), "LoadState").get("LoadState") != "not-found" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert_gone(cid)
    assert rt.state(cid, check=False) is None


def test_annotations_become_unit_properties(rt, bundle):
    cid, _ = sd_create(rt, bundle, annotations={
        "org.systemd.property.TimeoutStopUSec": "uint64 123456789",
        "org.systemd.property.CollectMode": "'inactive-or-failed'"})
    props = show(unit_of(cid), "TimeoutStopUSec", "CollectMode")
    assert props == {"TimeoutStopUSec": "2min 3.456789s", "CollectMode": "inactive-or-failed"}, props


@pytest.mark.parametrize("key,value", [
    ("org.systemd.property.Ab", "1"),
    ("org.systemd.property.CollectMode", "inactive"),        # not GVariant text
    ("org.systemd.property.TimeoutStopSec", "'soon'"),
])
def test_bad_annotation_is_named(rt, bundle, key, value):
    cid, err = sd_fails(rt, bundle, annotations={key: value})
    assert key in err, err
    assert_gone(cid)


def test_systemd_refusing_a_property(rt, bundle):
    cid, err = sd_fails(rt, bundle, annotations={"org.systemd.property.NoSuchThing": "'x'"})
    assert "NoSuchThing" in err, err
    assert_gone(cid)


@pytest.mark.parametrize("path,why", [
    ("a:b", "slice:prefix:name"),
    ("::", "name (after the second ':') is empty"),
    ("x:y:z:w", "slice:prefix:name"),
    ("system:p:n", "not a slice name"),
    ("system.slice:p/q:n", "must not contain '/'"),
    ("system.slice:p:a/b", "must not contain '/'"),
    ("system.slice:..:n", "must not contain \"..\""),
    ("system.slice:p:" + "n" * 300, "longer than systemd's 255 characters"),
])
def test_bad_cgroups_path(rt, bundle, path, why):
    _, err = sd_fails(rt, bundle, path=path)
    assert "linux.cgroupsPath" in err and why in err, err


def test_no_bus_is_a_clear_error(rt, bundle):
    """Neither the system bus nor systemd's private socket answers: one error, nothing left."""
    bundle.args("true")
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"system.slice:{PREFIX}:{cid}"
    bundle.write()
    hide = ("mount -t tmpfs tmpfs /run/dbus && mount --bind /dev/null /run/systemd/private && "
            "exec \"$0\" \"$@\"")
    res = rt.run(["create", "--bundle", bundle.path, cid], check=False, global_args=SD,
                 prefix=["unshare", "-m", "--propagation", "private", "sh", "-c", hide])
    assert res.returncode != 0, res
    assert "cannot connect to systemd over D-Bus" in res.stderr, res
    assert rt.state(cid, check=False) is None
    assert_gone(cid)


def test_a_running_scope_of_the_same_name(rt, bundle, make_bundle):
    cid, pid = sd_create(rt, bundle)
    other = make_bundle()
    _, err = sd_fails(rt, other, path=f"system.slice:{PREFIX}:{cid}")
    assert unit_of(cid) in err, err
    # the first container and its scope are untouched
    assert rt.state(cid)["status"] == "created"
    assert show(unit_of(cid), "ActiveState")["ActiveState"] == "active"
    os.kill(pid, 0)
    rt.delete(cid, force=True)
    assert_gone(cid)


def test_nested_slice(rt, bundle):
    """A nested slice name expands as systemd expands it."""
    cid = rt.new_id()
    cid, pid = sd_create(rt, bundle, cid=cid, path=f"skiff-test-nested.slice:{PREFIX}:{cid}")
    with open(f"/proc/{pid}/cgroup") as f:
        assert f.read().strip() == f"0::/skiff.slice/skiff-test.slice/skiff-test-nested.slice/{unit_of(cid)}"
    rt.delete(cid, force=True)
    assert_unit_gone(unit_of(cid))
    subprocess.run(["systemctl", "stop", "skiff.slice"], check=False)


def test_features_says_systemd(rt):
    doc = json.loads(rt.run(["features"]).stdout)
    assert doc["linux"]["cgroup"]["systemd"] is True


def test_systemd_stopping_the_unit_during_create(rt, bundle):
    """The scope is stopped while create runs (here from a createRuntime hook, after the unit
    started): create fails with one error and leaves no unit, cgroup or state."""
    bundle.args("sleep 1000")
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"system.slice:{PREFIX}:{cid}"
    bundle.config["hooks"] = {"createRuntime": [
        {"path": "/usr/bin/systemctl", "args": ["systemctl", "stop", unit_of(cid)]}]}
    # The init is pid 1 of its namespace and ignores SIGTERM, systemd's default: without this
    # the stop would wait out TimeoutStopSec (90 s) before its SIGKILL.
    bundle.config["annotations"] = {"org.systemd.property.KillSignal": "9"}
    bundle.write()
    res = rt.run(["create", "--bundle", bundle.path, cid], check=False, global_args=SD)
    assert res.returncode != 0, res
    assert res.stderr.strip(), res
    assert rt.state(cid, check=False) is None
    assert_gone(cid)


def loaded(unit):
    """Whether systemd has the unit loaded. GetUnit, unlike `systemctl show`, does not load
    a unit to answer (a slice needs no unit file, so `show` would load any slice name)."""
    res = subprocess.run(["busctl", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                          "org.freedesktop.systemd1.Manager", "GetUnit", "s", unit],
                         capture_output=True, text=True)
    return res.returncode == 0


def test_name_ending_in_slice_makes_a_slice(rt, bundle):
    """As in runc: the container's cgroup is the slice's own, and delete stops the slice;
    the parent slice systemd started with it ("sktXXXX.slice" for "sktXXXX-c.slice") goes
    too once it is empty, so no slice is left loaded."""
    cid = rt.new_id()
    parent = "skt" + cid.replace("-", "") + ".slice"
    unit = parent[:-len(".slice")] + "-c.slice"
    cid, pid = sd_create(rt, bundle, cid=cid, path=f"system.slice:{PREFIX}:{unit}")
    with open(f"/proc/{pid}/cgroup") as f:
        assert f.read().strip() == f"0::/{parent}/{unit}"
    assert loaded(unit) and loaded(parent)
    rt.delete(cid, force=True)
    deadline = time.monotonic() + 3
    while (loaded(unit) or loaded(parent)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not loaded(unit), unit
    assert not loaded(parent), parent
    assert not os.path.exists(os.path.join(CGROUP_ROOT, parent))



COMPANION = os.path.join(os.path.dirname(RUNTIME), "skiff-systemd")


@pytest.mark.parametrize("when", ["at-once", "after-the-unit-started"])
def test_companion_going_away_during_create(rt, bundle, workdir, when):
    """The D-Bus side goes away during create: the companion dies before it does anything, or
    after systemd started the scope but before its answer reached skiff (a wrapper that runs
    the real companion and swallows the answer). One error, and no unit, cgroup or state."""
    wrapper = os.path.join(workdir, "skiff-systemd")
    # Only `start` loses its answer: the cleanup's `stop` reaches systemd as usual.
    start = "exit 1" if when == "at-once" else f'"{COMPANION}" "$@" >/dev/null; exit 1'
    with open(wrapper, "w") as f:
        f.write(f'#!/bin/sh\ncase $1 in start) {start} ;; esac\nexec "{COMPANION}" "$@"\n')
    os.chmod(wrapper, 0o755)
    bundle.args("sleep 1000")
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"system.slice:{PREFIX}:{cid}"
    bundle.write()
    res = rt.run(["create", "--bundle", bundle.path, cid], check=False, global_args=SD,
                 env=dict(os.environ, SKIFF_SYSTEMD_HELPER=wrapper))
    assert res.returncode != 0, res
    assert "skiff-systemd start " + unit_of(cid) + ": no answer" in res.stderr, res
    assert len(res.stderr.strip().splitlines()) == 1, res
    assert rt.state(cid, check=False) is None
    assert_gone(cid)


def test_without_dbus_daemon_systemds_own_socket_answers(rt, bundle):
    """No system bus (dbus-daemon gone): systemd's private socket still serves root, as it
    does systemctl, so the container gets its scope."""
    bundle.args("cat /proc/self/cgroup")
    cid = rt.new_id()
    bundle.config["linux"]["cgroupsPath"] = f"system.slice:{PREFIX}:{cid}"
    bundle.write()
    hide = "mount -t tmpfs tmpfs /run/dbus && exec \"$0\" \"$@\""
    res = rt.run(["run", "--bundle", bundle.path, cid], check=False, global_args=SD,
                 prefix=["unshare", "-m", "--propagation", "private", "sh", "-c", hide])
    assert res.returncode == 0, res
    assert res.stdout.strip() == f"0::/system.slice/{unit_of(cid)}", res
    assert rt.state(cid, check=False) is None
    assert_gone(cid)


def test_start_job_failing(rt, bundle):
    """systemd accepts the unit but its start job fails (it requires a unit that fails):
    create names the unit and the job's result, and leaves no unit, cgroup or state."""
    dep = f"{PREFIX}-failing-{rt.new_id()}.service"
    subprocess.run(["systemd-run", "--quiet", "--unit", dep, "-p", "Type=oneshot",
                    "-p", "RemainAfterExit=yes", "/bin/false"], check=False, capture_output=True)
    try:
        cid, err = sd_fails(rt, bundle, annotations={
            "org.systemd.property.Requires": f"['{dep}']",
            "org.systemd.property.After": f"['{dep}']"})
        assert f"systemd could not start {unit_of(cid)}: job dependency" in err, err
        assert_gone(cid)
    finally:
        subprocess.run(["systemctl", "reset-failed", dep], check=False, capture_output=True)
