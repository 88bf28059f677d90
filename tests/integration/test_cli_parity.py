"""Command-line behaviours where skiff must do what runc does (issue 20 and issue 15 item 9):
a frozen cgroup, every `update` flag, flags after the container id, signal 0, ps and exec on
containers that are not running, --debug exec, exec's exit code, sysctls that fight the
hostname, --rootless values, checkpoint/restore flags.
"""

import json
import os
import re
import subprocess

import pytest

from test_cgroups import MOUNTS, PURE_V2, Cgroups, runtime_is_skiff

MiB = 1024 * 1024


def _sleeping(rt, bundle, cgroups_path=None):
    bundle.args("sleep 1000")
    if cgroups_path:
        bundle.config["linux"]["cgroupsPath"] = cgroups_path
    cid, _ = rt.create(bundle)
    rt.start(cid)
    return cid, rt.state(cid)["pid"]


def _one_error_line(res):
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res
    return lines[0]


# ---- item 5: a cgroup that is frozen before create ----------------------------------------

def _run_detached_bounded(rt, bundle, cid):
    bundle.write()
    try:
        return rt.run(["run", "-d", "--bundle", bundle.path, cid], check=False, timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail("`run -d` into a frozen cgroup did not return within 15 s")


def _assert_refused_and_nothing_left(rt, res, cid, user_dir):
    assert res.returncode != 0, res
    assert "frozen" in _one_error_line(res), res
    assert not os.path.exists(os.path.join(rt.root, cid)), "state left behind"
    # The cgroup was the user's: it stays, as it was.
    assert os.path.isdir(user_dir)
    with open(os.path.join(user_dir, "cgroup.procs")) as f:
        assert f.read().split() == [], "a process was left in the frozen cgroup"


def _remove_tree(path):
    for dirpath, _, _ in sorted(os.walk(path), key=lambda t: -len(t[0])):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


def test_run_into_a_frozen_v1_cgroup_is_refused(rt, bundle):
    if "freezer" not in MOUNTS:
        pytest.skip("no cgroup v1 freezer on this host")
    rel = f"{rt.id_prefix}-frozen"
    user_dir = os.path.join(MOUNTS["freezer"], rel)
    os.mkdir(user_dir)
    try:
        with open(os.path.join(user_dir, "freezer.state"), "w") as f:
            f.write("FROZEN")
        bundle.args("true")
        bundle.config["linux"]["cgroupsPath"] = "/" + rel
        cid = rt.new_id()
        res = _run_detached_bounded(rt, bundle, cid)
        _assert_refused_and_nothing_left(rt, res, cid, user_dir)
        with open(os.path.join(user_dir, "freezer.state")) as f:
            assert f.read().strip() == "FROZEN"
    finally:
        with open(os.path.join(user_dir, "freezer.state"), "w") as f:
            f.write("THAWED")
        for ctrl, mount in MOUNTS.items():
            _remove_tree(os.path.join(mount, rel))


@pytest.mark.skiff_only("runc 1.1 reads only the v1 freezer on a hybrid host")
def test_run_into_a_frozen_v2_cgroup_is_refused(rt, bundle):
    if "" not in MOUNTS:
        pytest.skip("no cgroup v2 mount on this host")
    rel = f"{rt.id_prefix}-frozen2"
    user_dir = os.path.join(MOUNTS[""], rel)
    os.mkdir(user_dir)
    try:
        freeze = os.path.join(user_dir, "cgroup.freeze")
        if not os.path.exists(freeze):
            pytest.skip("kernel without the cgroup v2 freezer")
        with open(freeze, "w") as f:
            f.write("1")
        bundle.args("true")
        bundle.config["linux"]["cgroupsPath"] = "/" + rel
        cid = rt.new_id()
        res = _run_detached_bounded(rt, bundle, cid)
        _assert_refused_and_nothing_left(rt, res, cid, user_dir)
    finally:
        if os.path.exists(os.path.join(user_dir, "cgroup.freeze")):
            with open(os.path.join(user_dir, "cgroup.freeze"), "w") as f:
                f.write("0")
        for ctrl, mount in MOUNTS.items():
            _remove_tree(os.path.join(mount, rel))


# ---- item 6: every flag `update --help` lists writes its value or fails -------------------

def _cpu_max(cg):
    return cg.read("cpu", "cpu.max").split()


def _weight_of_shares(shares):
    return str(1 + ((shares - 2) * 9999) // 262142)


# flag -> (value, reader(cg) -> what the cgroup shows, or None when this host has no file for
# it, expected). Order matters: memory-swap follows memory (swap must not be below the limit).
def _update_table(cg):
    def v1_or_v2(ctrl, v1file, v2file, v2read=None):
        def read(cg):
            if ctrl not in cg.dirs:
                return None
            name = v2file if cg.is_v2(ctrl) else v1file
            if name is None or not cg.has(ctrl, name):
                return None
            if cg.is_v2(ctrl) and v2read:
                return v2read(cg)
            return cg.read(ctrl, name)
        return read

    v2cpu = lambda i: (lambda cg: _cpu_max(cg)[i])  # noqa: E731
    return [
        ("cpu-quota", "20000", v1_or_v2("cpu", "cpu.cfs_quota_us", "cpu.max", v2cpu(0)), "20000"),
        ("cpu-period", "50000", v1_or_v2("cpu", "cpu.cfs_period_us", "cpu.max", v2cpu(1)), "50000"),
        ("cpu-burst", "1000", v1_or_v2("cpu", "cpu.cfs_burst_us", "cpu.max.burst"), "1000"),
        ("cpu-share", "512", v1_or_v2("cpu", "cpu.shares", "cpu.weight"),
         "512" if not cg.is_v2("cpu") else _weight_of_shares(512)),
        ("cpu-idle", "1", v1_or_v2("cpu", "cpu.idle", "cpu.idle"), "1"),
        ("cpuset-cpus", "0", v1_or_v2("cpuset", "cpuset.cpus", "cpuset.cpus"), "0"),
        ("cpuset-mems", "0", v1_or_v2("cpuset", "cpuset.mems", "cpuset.mems"), "0"),
        ("memory", "64m", v1_or_v2("memory", "memory.limit_in_bytes", "memory.max"), str(64 * MiB)),
        ("memory-reservation", "32m",
         v1_or_v2("memory", "memory.soft_limit_in_bytes", "memory.low"), str(32 * MiB)),
        ("memory-swap", "128m",
         v1_or_v2("memory", "memory.memsw.limit_in_bytes", "memory.swap.max"),
         str(128 * MiB) if not cg.is_v2("memory") else str(64 * MiB)),
        ("pids-limit", "42", v1_or_v2("pids", "pids.max", "pids.max"), "42"),
        ("blkio-weight", "500", v1_or_v2("blkio", "blkio.weight", "io.weight",
                                         lambda cg: cg.read("blkio", "io.weight").split()[-1]),
         "500" if not cg.is_v2("blkio") else "50"),
        ("kernel-memory", "64m", v1_or_v2("memory", "memory.kmem.limit_in_bytes", None), str(64 * MiB)),
        ("kernel-memory-tcp", "64m",
         v1_or_v2("memory", "memory.kmem.tcp.limit_in_bytes", None), str(64 * MiB)),
        # realtime bandwidth: checked as a pair below; Intel RDT: no resctrl on these hosts
        ("cpu-rt-period", None, None, None),
        ("cpu-rt-runtime", None, None, None),
        ("l3-cache-schema", "L3:0=f", lambda cg: None, None),
        ("mem-bw-schema", "MB:0=70", lambda cg: None, None),
    ]


def _listed_update_flags(rt):
    out = rt.run(["update", "--help"]).stdout
    names = set(re.findall(r"--([a-z0-9-]+)", out))
    return names - {"help", "resources", "cpu-shares", "r"}


@pytest.mark.parametrize("after_id", [False, True], ids=["flags-first", "flags-after-id"])
def test_every_update_flag_writes_its_value_or_fails(rt, bundle, after_id):
    """Also after the id, where runc takes its flags too. What must never happen is exit 0
    with nothing changed."""
    cid, pid = _sleeping(rt, bundle)
    cg = Cgroups(pid)
    table = _update_table(cg)
    assert _listed_update_flags(rt) <= {t[0] for t in table}, \
        "a flag `update --help` lists has no entry here"
    for flag, value, read, want in table:
        if value is None:
            continue
        before = read(cg)
        args = [cid, f"--{flag}", value] if after_id else [f"--{flag}", value, cid]
        res = rt.run(["update", *args], check=False)
        after = read(cg)
        if res.returncode != 0:
            assert res.stderr.strip(), res
            if runtime_is_skiff(rt):
                assert any(w in res.stderr for w in (flag, "linux.resources", "Intel RDT")), res
            assert after == before, f"--{flag} failed but changed {before!r} to {after!r}"
            continue
        if flag.startswith("kernel-memory") and "ignored" in res.stderr:
            continue  # runc 1.1 ignores kernel memory limits too, and says so
        assert after is not None, f"--{flag} {value}: exit 0, but there is no file for it: {res}"
        assert after == want, f"--{flag} {value}: exit 0 but the cgroup shows {after!r} (was {before!r})"


def test_update_realtime_pair(rt, bundle):
    """--cpu-rt-period with --cpu-rt-runtime, as -r FILE does; v2 has no realtime bandwidth."""
    cid, pid = _sleeping(rt, bundle, cgroups_path=f"/{rt.id_prefix}-rt")
    cg = Cgroups(pid)
    res = rt.run(["update", "--cpu-rt-period", "900000", "--cpu-rt-runtime", "1000", cid], check=False)
    if "cpu" not in cg.dirs or cg.is_v2("cpu") or not cg.has("cpu", "cpu.rt_runtime_us"):
        assert res.returncode != 0, res
        return
    assert res.returncode == 0, res
    assert cg.read("cpu", "cpu.rt_period_us") == "900000"
    assert cg.read("cpu", "cpu.rt_runtime_us") == "1000"


@pytest.mark.skiff_only("runc 1.1.5 writes the period first and fails")
def test_update_realtime_period_below_the_runtime_in_force(rt, bundle):
    """A shorter period than the runtime in force: the new runtime has to go in first."""
    cid, pid = _sleeping(rt, bundle, cgroups_path=f"/{rt.id_prefix}-rt")
    cg = Cgroups(pid)
    if "cpu" not in cg.dirs or cg.is_v2("cpu") or not cg.has("cpu", "cpu.rt_runtime_us"):
        pytest.skip("needs v1 realtime group scheduling")
    rt.run(["update", "--cpu-rt-period", "900000", "--cpu-rt-runtime", "500000", cid])
    rt.run(["update", "--cpu-rt-period", "100000", "--cpu-rt-runtime", "10000", cid])
    assert cg.read("cpu", "cpu.rt_period_us") == "100000"
    assert cg.read("cpu", "cpu.rt_runtime_us") == "10000"


def test_update_period_alone_keeps_the_quota(rt, bundle):
    cid, pid = _sleeping(rt, bundle)
    cg = Cgroups(pid)
    rt.run(["update", "--cpu-quota", "30000", "--cpu-period", "100000", cid])
    rt.run(["update", "--cpu-period", "60000", cid])
    if cg.is_v2("cpu"):
        assert _cpu_max(cg) == ["30000", "60000"]
    else:
        assert cg.read("cpu", "cpu.cfs_period_us") == "60000"
        assert cg.read("cpu", "cpu.cfs_quota_us") == "30000"


@pytest.mark.parametrize("argv", [["update", "{id}", "--pids-limit", "5", "x"],
                                  ["update", "{id}", "--no-such-flag", "5"],
                                  ["kill", "{id}", "KILL", "x"], ["pause", "{id}", "x"],
                                  ["state", "{id}", "x"], ["delete", "{id}", "x"]],
                         ids=["update-extra", "update-unknown-flag", "kill", "pause", "state",
                              "delete"])
def test_arguments_past_the_id_are_refused(rt, bundle, argv):
    """As runc: an extra argument (an unknown flag after the id, say) is an error, never a
    silent no-op."""
    cid, pid = _sleeping(rt, bundle)
    pids_max = Cgroups(pid).read("pids", "pids.max")
    res = rt.run([a.replace("{id}", cid) for a in argv], check=False)
    assert res.returncode != 0, res
    assert "argument" in _one_error_line(res), res
    assert rt.state(cid)["status"] == "running"
    assert Cgroups(pid).read("pids", "pids.max") == pids_max


@pytest.mark.parametrize("flag,value", [("pids-limit", "abc"), ("cpu-quota", "1x"),
                                        ("cpu-rt-runtime", "9z"), ("cpu-idle", "one"),
                                        ("memory", "lots"), ("cpu-period", "-5"),
                                        pytest.param("blkio-weight", "99999", marks=pytest.mark.skiff_only(
                                            "runc 1.1 truncates it to 16 bits for the kernel"))])
def test_update_refuses_garbage_numbers(rt, bundle, flag, value):
    cid, pid = _sleeping(rt, bundle)
    cg = Cgroups(pid)
    pids_before = cg.read("pids", "pids.max")
    res = rt.run(["update", f"--{flag}", value, cid], check=False)
    assert res.returncode != 0, res
    assert value in res.stderr or flag in res.stderr, res
    if runtime_is_skiff(rt):
        assert value in _one_error_line(res)
    assert cg.read("pids", "pids.max") == pids_before


# ---- item 13: signal 0 ----------------------------------------------------------------

def test_flags_after_the_id_count(rt, bundle):
    cid, pid = _sleeping(rt, bundle)
    rt.run(["update", cid, "--pids-limit", "7"])
    assert Cgroups(pid).read("pids", "pids.max") == "7"
    out = rt.run(["events", cid, "--stats"]).stdout
    assert json.loads(out)["type"] == "stats"
    rt.run(["kill", cid, "KILL", "--all"])
    rt.wait_status(cid, "stopped")
    rt.run(["delete", cid, "--force"])
    assert rt.state(cid, check=False) is None


def test_kill_signal_zero_probes(rt, bundle):
    cid, _ = _sleeping(rt, bundle)
    rt.run(["kill", cid, "0"])
    rt.run(["kill", "--all", cid, "0"])
    assert rt.state(cid)["status"] == "running"
    rt.kill(cid, "KILL")
    rt.wait_status(cid, "stopped")
    res = rt.run(["kill", cid, "0"], check=False)
    assert res.returncode != 0 and "not running" in res.stderr, res
    rt.run(["kill", "--all", cid, "0"])


# ---- item 14: exec into a created container --------------------------------------------

def test_exec_into_a_created_container(rt, bundle):
    bundle.args("sleep 1000")
    cid, _ = rt.create(bundle)
    init = rt.state(cid)["pid"]
    res = rt.run(["exec", cid, "sh", "-c", "readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; hostname"])
    pid_ns, mnt_ns, host = res.stdout.split()
    assert pid_ns == os.readlink(f"/proc/{init}/ns/pid")
    assert mnt_ns == os.readlink(f"/proc/{init}/ns/mnt")
    assert host == bundle.config["hostname"]
    # and its cgroups, seen from the host
    pid_file = os.path.join(rt.workdir, "exec.pid")
    rt.run(["exec", "-d", "--pid-file", pid_file, cid, "sleep", "1000"])
    with open(pid_file) as f:
        pid = int(f.read())
    with open(f"/proc/{pid}/cgroup") as a, open(f"/proc/{init}/cgroup") as b:
        assert a.read() == b.read()
    assert rt.state(cid)["status"] == "created"
    rt.start(cid)
    assert rt.state(cid)["status"] == "running"


# ---- item 15: ps on a stopped container ------------------------------------------------

def test_ps_on_a_stopped_container_prints_the_header(rt, bundle):
    bundle.args("true")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    rt.wait_status(cid, "stopped")
    res = rt.run(["ps", cid])
    lines = res.stdout.splitlines()
    assert len(lines) == 1 and "PID" in lines[0].split(), res
    assert json.loads(rt.run(["ps", "--format", "json", cid]).stdout) in ([], None)


# ---- item 18: --debug exec ---------------------------------------------------------------

def test_debug_exec_prints_debug_lines(rt, bundle):
    cid, _ = _sleeping(rt, bundle)
    res = rt.run(["exec", cid, "true"], global_args=["--debug"])
    assert re.search(r"level=debug", res.stderr), res


# ---- item 19: exec's own failures exit 255 -------------------------------------------------

def test_exec_failure_exits_255(rt, bundle):
    cid, _ = _sleeping(rt, bundle)
    rt.run(["pause", cid])
    try:
        res = rt.run(["exec", cid, "true"], check=False)
        assert res.returncode == 255 and "paused" in res.stderr, res
    finally:
        rt.run(["resume", cid])
    res = rt.run(["exec", cid, "sh", "-c", "exit 3"], check=False)
    assert res.returncode == 3, res


# ---- item 12: kernel.hostname / kernel.domainname against hostname / domainname -----------

@pytest.mark.parametrize("key,field", [
    ("kernel.hostname", "hostname"),
    pytest.param("kernel.domainname", "domainname", marks=pytest.mark.skiff_only(
        "runc 1.1 lets the kernel.domainname sysctl win over domainname"))])
def test_sysctl_that_conflicts_with_the_name_is_refused(rt, bundle, key, field):
    bundle.args("true")
    bundle.config[field] = "from-the-field"
    bundle.config["linux"]["sysctl"] = {key: "from-the-sysctl"}
    bundle.write()
    cid = rt.new_id()
    res = rt.run(["create", "--bundle", bundle.path, cid], check=False)
    assert res.returncode != 0, res
    line = _one_error_line(res)
    assert key in line and field in line, line
    if runtime_is_skiff(rt):
        assert "linux.sysctl" in line, line
    assert not os.path.exists(os.path.join(rt.root, cid))


@pytest.mark.skiff_only("runc refuses kernel.hostname even when it agrees with hostname")
def test_sysctl_that_agrees_with_the_name_is_accepted(rt, bundle):
    bundle.config["hostname"] = "same-name"
    bundle.config["domainname"] = "same.domain"
    bundle.config["linux"]["sysctl"] = {"kernel.hostname": "same-name",
                                        "kernel.domainname": "same.domain"}
    out = rt.sh(bundle, "cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname")
    assert out.split() == ["same-name", "same.domain"]


# ---- issue 15 item 9: --rootless values, checkpoint/restore flags --------------------------

@pytest.mark.skiff_only("runc parses --rootless only where it uses it (not in list)")
def test_rootless_takes_only_true_false_auto(rt, bundle):
    for good in ("true", "false", "auto"):
        rt.run(["list"], global_args=["--rootless", good])
    res = rt.run(["list"], check=False, global_args=["--rootless", "maybe"])
    assert res.returncode != 0 and "maybe" in _one_error_line(res), res


# checkpoint/restore flags: tests/integration/test_checkpoint.py
