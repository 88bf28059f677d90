"""Faults and concurrency: the runtime SIGKILLed during create, an init killed before start,
a hook past its timeout, a full state directory, racing creates of one id, and many containers
in parallel and in a row, each followed by a check that nothing is left behind (the `rt`
fixture's leak check, plus descriptors and zombies of the test process here)."""

import concurrent.futures
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import RUNTIME, runtime_is_runc


# ---- helpers ---------------------------------------------------------------------------------

def wait_for(pred, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def read_pid(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def alive(pid):
    """True for a live process; a zombie counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def processes_naming(text):
    """Live processes whose command line contains text (e.g. an id or a marker)."""
    found = []
    me = os.getpid()
    for ent in os.listdir("/proc"):
        if not ent.isdigit() or int(ent) == me:
            continue
        try:
            with open(f"/proc/{ent}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd and alive(int(ent)):
            found.append((int(ent), cmd))
    return found


def zombie_children():
    me = os.getpid()
    out = []
    for ent in os.listdir("/proc"):
        if not ent.isdigit():
            continue
        try:
            with open(f"/proc/{ent}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == me:
            out.append(int(ent))
    return out


def open_fds():
    return sorted(int(x) for x in os.listdir("/proc/self/fd"))


def assert_gone(rt, cid):
    """What `delete --force` must have removed for cid: record, cgroups, processes."""
    assert rt.run(["state", cid], check=False).returncode != 0
    assert not os.path.exists(os.path.join(rt.root, cid))
    wait_for(lambda: not processes_naming(cid), 5, f"processes of {cid} to exit")
    left = []
    for ctrl in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", ctrl)
        for dirpath, dirnames, _ in os.walk(top):
            left += [os.path.join(dirpath, d) for d in dirnames if cid in d]
            if dirpath.count("/") - top.count("/") >= 3:
                dirnames[:] = []
    assert not left, f"cgroups left: {left}"


def popen_runtime(rt, args):
    """Starts the runtime without waiting; output to files (a dead runtime's children may
    hold a pipe open)."""
    out = tempfile.TemporaryFile(dir=rt.workdir)
    proc = subprocess.Popen([rt.binary, "--root", rt.root, *args], stdin=subprocess.DEVNULL,
                            stdout=out, stderr=out, start_new_session=True)
    proc.out = out
    return proc


def sleeping_hook(marker_dir, name):
    """A host hook that writes its pid, then sleeps until killed."""
    pid_file = os.path.join(marker_dir, f"{name}.pid")
    return pid_file, {"path": "/bin/sh",
                      "args": ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 300"]}


# ---- SIGKILL of `create` ---------------------------------------------------------------------

# runc 1.1.5 leaves the cgroups of a create killed mid-way behind, even after delete --force
RUNC_LEAKS = pytest.mark.skiff_only(reason="runc 1.1.5 leaks cgroups of a killed create")


@RUNC_LEAKS
@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
def test_create_killed_in_hook_then_delete_force(rt, bundle, host_dir, kind):
    """The runtime dies while a hook runs (after the clone, with the init waiting); the
    engine then runs `delete --force`, which must remove init, cgroups and record."""
    markers = host_dir("markers")
    pid_file, hook = sleeping_hook(markers, kind)
    if kind == "createContainer":
        # runs in the container's namespaces before pivot_root, so host paths still resolve,
        # but $$ is a pid of the container's pid namespace: only a marker here
        hook = {"path": "/bin/sh",
                "args": ["sh", "-c", f"echo 1 > {pid_file}; exec sleep 300"]}
    bundle.config["hooks"] = {kind: [hook]}
    bundle.args("sleep 300")
    bundle.write()
    cid = rt.new_id()
    proc = popen_runtime(rt, ["create", "--bundle", bundle.path, cid])
    try:
        hook_pid = wait_for(lambda: read_pid(pid_file), 10, f"the {kind} hook")
        proc.send_signal(signal.SIGKILL)  # the runtime only, as an engine's timeout does
        assert proc.wait(10) == -signal.SIGKILL
        st = rt.state(cid, check=False)
        assert st is None or st["status"] in ("creating", "created", "stopped"), st
        rt.delete(cid, force=True)
        assert_gone(rt, cid)
        if kind != "createContainer":
            # a runtime-side hook is the runtime's child: it must not outlive it
            wait_for(lambda: not alive(hook_pid), 5, f"{kind} hook {hook_pid} to die")
    finally:
        os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
        hp = read_pid(pid_file)
        if hp and hp != 1 and alive(hp):
            os.kill(hp, signal.SIGKILL)
        proc.out.close()


@RUNC_LEAKS
@pytest.mark.parametrize("delay_ms", [0, 1, 3, 6, 10, 20, 40])
def test_create_killed_at_any_moment_then_delete_force(rt, bundle, delay_ms):
    """SIGKILL after a growing delay lands in successive stages of create (parse, record,
    cgroup, clone, hand-shake, state write); `delete --force` always leaves nothing."""
    bundle.args("sleep 300")
    bundle.write()
    cid = rt.new_id()
    proc = popen_runtime(rt, ["create", "--bundle", bundle.path, cid])
    time.sleep(delay_ms / 1000)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.out.close()
    res = rt.run(["delete", "--force", cid], check=False)
    assert res.returncode == 0, res
    assert_gone(rt, cid)


def test_init_killed_between_create_and_start(rt, bundle):
    cid, _ = rt.create(bundle.args("sleep 300"))
    pid = rt.state(cid)["pid"]
    os.kill(pid, signal.SIGKILL)
    st = rt.wait_status(cid, "stopped")
    assert st["pid"] == 0 or not alive(st["pid"])
    assert rt.start(cid, check=False).returncode != 0
    rt.delete(cid)  # stopped: no --force needed
    assert_gone(rt, cid)


# ---- hooks and disks -------------------------------------------------------------------------

@pytest.mark.skiff_only(reason="runc 1.1.5 kills only the hook process on timeout")
def test_hook_past_timeout_leaves_no_process(rt, bundle, host_dir):
    """A hook that hangs (and started a helper) is killed, with its helper, at its timeout."""
    markers = host_dir("markers")
    helper = os.path.join(markers, "helper.pid")
    bundle.config["hooks"] = {"createRuntime": [{
        "path": "/bin/sh", "timeout": 1,
        "args": ["sh", "-c", f"sleep 300 & echo $! > {helper}; sleep 300"]}]}
    cid = rt.new_id()
    t0 = time.monotonic()
    _, res = rt.create(bundle, cid, check=False)
    assert res.returncode != 0
    assert time.monotonic() - t0 < 5
    assert "timed out" in res.stderr and len(res.stderr.strip().splitlines()) == 1, res
    hp = wait_for(lambda: read_pid(helper), 5, "helper pid")
    try:
        wait_for(lambda: not alive(hp), 5, f"hook helper {hp} to die")
    finally:
        if alive(hp):
            os.kill(hp, signal.SIGKILL)
    assert_gone(rt, cid)


@pytest.fixture
def tiny_root(workdir):
    """A 64 KiB tmpfs, filled up, as --root."""
    path = os.path.join(workdir, "tiny-root")
    os.makedirs(path)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", path],
                   check=True)
    try:
        fd = os.open(os.path.join(path, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        yield path
    finally:
        subprocess.run(["umount", path], check=True)


@pytest.mark.skiff_only(reason="runc 1.1.5's message is 'unable to store init state: %!w(<nil>)'")
def test_full_state_disk(rt, bundle, tiny_root):
    cid = rt.new_id()
    res = rt.run(["create", "--bundle", bundle.write().path, cid], check=False,
                 global_args=["--root", tiny_root])
    assert res.returncode > 0, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0], res
    assert sorted(os.listdir(tiny_root)) == ["filler"]
    assert_gone(rt, cid)
    # and once there is room again, the same id works
    os.unlink(os.path.join(tiny_root, "filler"))
    rt.run(["create", "--bundle", bundle.path, cid], global_args=["--root", tiny_root])
    rt.run(["delete", "--force", cid], global_args=["--root", tiny_root])
    assert os.listdir(tiny_root) == []


# ---- concurrency -----------------------------------------------------------------------------

@pytest.mark.skiff_only(reason="runc 1.1.5's create race can orphan the winner's init")
def test_parallel_creates_of_one_id(rt, bundle):
    bundle.args("sleep 300").write()
    cid = rt.new_id()
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(
            lambda _: rt.run(["create", "--bundle", bundle.path, cid], check=False),
            range(20)))
    ok = [r for r in results if r.returncode == 0]
    failed = [r for r in results if r.returncode != 0]
    assert len(ok) == 1, results
    assert len(failed) == 19
    for r in failed:
        assert r.returncode > 0, r
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r
        assert "already exists" in lines[0] or "being created" in lines[0], r
    assert rt.state(cid)["status"] == "created"
    assert rt.run(["list", "-q"]).stdout.split() == [cid]
    rt.delete(cid, force=True)
    assert_gone(rt, cid)


def lifecycle(rt, bundle_path, cid):
    rt.run(["create", "--bundle", bundle_path, cid])
    rt.run(["start", cid])
    rt.wait_status(cid, "stopped", timeout=20)
    rt.run(["delete", cid])


def test_many_containers_parallel_then_sequential(rt, bundle):
    """50 lifecycles at once, then 200 in a row (`true` keeps it quick); afterwards no
    descriptor, zombie, record, cgroup or process may be left."""
    bundle.config["process"]["args"] = ["true"]
    bundle.write()
    fds_before = open_fds()
    ids = [rt.new_id() for _ in range(50)]
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        list(pool.map(lambda cid: lifecycle(rt, bundle.path, cid), ids))
    for _ in range(200):
        cid = rt.new_id()
        rc, out, err = rt.run_container(bundle, cid)
        assert rc == 0, (rc, out, err)
    assert os.listdir(rt.root) == []
    assert open_fds() == fds_before
    assert zombie_children() == []
    for cid in ids[:3] + rt.ids[-3:]:
        assert_gone(rt, cid)
    assert processes_naming(rt.id_prefix) == []


def test_delete_force_while_tasks_drain(rt, bundle):
    """delete --force right after SIGKILL of many tasks: rmdir of the cgroup meets EBUSY while
    the killed tasks exit, and must retry rather than leave the cgroup (or fail)."""
    bundle.args("for i in $(seq 64); do sleep 300 & done; touch /ready; wait")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    wait_for(lambda: os.path.exists(bundle.in_rootfs("/ready")), 10, "64 sleepers")
    res = rt.run(["delete", "--force", cid], check=False)
    assert res.returncode == 0, res
    assert_gone(rt, cid)
