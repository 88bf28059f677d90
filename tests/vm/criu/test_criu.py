"""checkpoint and restore with CRIU, in the tests/vm guest (a kernel where `criu check` passes).

Each container sends its stdio to its own /dev/null first: the harness's stdio files live
outside the container's mounts, where CRIU cannot follow them (as with runc).
"""
import glob
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

CRIU = shutil.which("criu") or "/usr/sbin/criu"
QUIET = "exec </dev/null >/dev/null 2>&1; "
BIG = QUIET + "dd if=/dev/zero of=/dev/shm/big bs=1M count=24 2>/dev/null; "
COUNTER = QUIET + "i=0; while :; do i=$((i+1)); echo $i > /count; sleep 0.1; done"


def _criu_works():
    try:
        # from /tmp: a failing check leaves a log file in its working directory
        return subprocess.run([CRIU, "check"], capture_output=True, timeout=60, cwd="/tmp").returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = pytest.mark.skipif(not _criu_works(), reason="criu check fails on this kernel")


def read_count(bundle):
    """The counter's last value; 0 before it wrote one."""
    for _ in range(20):
        try:
            with open(bundle.in_rootfs("count")) as f:
                return int(f.read().strip() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:  # caught half written
            time.sleep(0.05)
    return 0


def wait_count_above(bundle, n, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c = read_count(bundle)
        if c > n:
            return c
        time.sleep(0.1)
    raise AssertionError(f"the counter stayed at {n} or below")


def start_counter(rt, bundle, script=COUNTER):
    bundle.config["process"]["args"] = ["sh", "-c", script]
    cid, _ = rt.create(bundle)
    rt.start(cid)
    wait_count_above(bundle, 2, timeout=120)
    return cid


def _with_log(res, path):
    """Fails with the tail of CRIU's log: the guest's /tmp is gone once the run ends."""
    if res.returncode != 0:
        try:
            tail = open(path).read().splitlines()[-40:]
        except OSError:
            tail = ["(no log)"]
        raise AssertionError(f"{res}\n--- {path}\n" + "\n".join(tail))
    return res


def checkpoint(rt, cid, images, *flags, check=True):
    res = rt.run(["checkpoint", "--image-path", images, *flags, cid], check=False, timeout=120)
    name = "pre-dump.log" if "--pre-dump" in flags else "dump.log"
    return _with_log(res, os.path.join(images, name)) if check else res


def restore(rt, bundle, cid, images, *flags, check=True):
    rt.track(cid)
    res = rt.run(["restore", "-d", "--image-path", images, "--bundle", bundle.path, *flags, cid],
                 check=False, timeout=120)
    return _with_log(res, os.path.join(images, "restore.log")) if check else res


def one_line(res):
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, res
    return lines[0]


def test_round_trip_in_a_limited_cgroup_with_hooks(rt, bundle, workdir):
    log = os.path.join(workdir, "hooks.log")
    hook = lambda name: {"path": "/bin/sh", "args": ["sh", "-c", f"echo {name} >> {log}"]}
    bundle.config["hooks"] = {"prestart": [hook("prestart")], "createRuntime": [hook("createRuntime")],
                              "poststop": [hook("poststop")]}
    bundle.config["linux"]["resources"] = {"memory": {"limit": 64 * 1024 * 1024}, "pids": {"limit": 20}}
    cid = start_counter(rt, bundle)
    images = os.path.join(workdir, "images")
    checkpoint(rt, cid, images)
    # runc's behaviour: the checkpointed container is stopped and deleted (poststop runs)
    assert rt.state(cid, check=False) is None
    assert open(log).read().split() == ["prestart", "createRuntime", "poststop"]
    stopped_at = read_count(bundle)
    time.sleep(0.5)
    assert read_count(bundle) == stopped_at, "the counter went on after the checkpoint"
    assert json.load(open(os.path.join(images, "descriptors.json"))) == ["/dev/null"] * 3

    restore(rt, bundle, cid, images)
    st = rt.state(cid)
    assert st["status"] == "running" and st["pid"] > 0, st
    # prestart and createRuntime ran again, with the restored init's pid, before it ran on
    assert open(log).read().split()[3:] == ["prestart", "createRuntime"]
    after = wait_count_above(bundle, stopped_at)
    assert after <= stopped_at + 50, "the counter restarted instead of going on"
    # in the container's own cgroup, with its limits
    cg = open(f"/proc/{st['pid']}/cgroup").read().strip().split("::", 1)[1]
    assert cid in cg, cg
    assert open(f"/sys/fs/cgroup{cg}/memory.max").read().strip() == str(64 * 1024 * 1024)
    assert open(f"/sys/fs/cgroup{cg}/pids.max").read().strip() == "20"
    # a whole container: ps, pause/resume, exec, events, update, kill, delete
    ps = json.loads(rt.run(["ps", "--format", "json", cid]).stdout)
    assert st["pid"] in ps
    rt.run(["pause", cid])
    assert rt.state(cid)["status"] == "paused"
    rt.run(["resume", cid])
    assert rt.state(cid)["status"] == "running"
    out = rt.run(["exec", cid, "cat", "/count"]).stdout
    assert int(out.strip()) >= stopped_at
    ev = json.loads(rt.run(["events", "--stats", cid]).stdout)
    assert ev["type"] == "stats" and ev["data"]["pids"]["current"] >= 1, ev
    rt.run(["update", "--memory", "48m", cid])
    assert open(f"/sys/fs/cgroup{cg}/memory.max").read().strip() == str(48 * 1024 * 1024)
    rt.kill(cid, "KILL")
    rt.wait_status(cid, "stopped")
    rt.delete(cid)
    assert open(log).read().split()[-1] == "poststop"


# With --leave-running the original goes on writing; a counter file both share would change
# size under the dumped shell's open redirect ("File count has bad size"). This one counts in
# a tmpfs of its own, which CRIU dumps with its content.
TMPFS_COUNTER = QUIET + "i=0; while :; do i=$((i+1)); echo $i > /run/c/count; sleep 0.1; done"
COUNTER_TMPFS = {"destination": "/run/c", "type": "tmpfs", "source": "tmpfs"}


def exec_count(rt, cid):
    res = rt.run(["exec", cid, "cat", "/run/c/count"], check=False)
    try:
        return int(res.stdout.strip() or 0)
    except ValueError:  # caught half written
        return 0


def test_leave_running_then_restore_beside_it(rt, bundle, make_bundle, workdir):
    bundle.config["mounts"].append(dict(COUNTER_TMPFS))
    bundle.config["process"]["args"] = ["sh", "-c", TMPFS_COUNTER]
    cid, _ = rt.create(bundle)
    rt.start(cid)
    deadline = time.monotonic() + 120
    while exec_count(rt, cid) <= 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    pid = rt.state(cid)["pid"]
    images = os.path.join(workdir, "images")
    checkpoint(rt, cid, images, "--leave-running")
    st = rt.state(cid)
    assert st["status"] == "running" and st["pid"] == pid, st
    seen = exec_count(rt, cid)
    deadline = time.monotonic() + 60
    while exec_count(rt, cid) <= seen and time.monotonic() < deadline:
        time.sleep(0.2)
    assert exec_count(rt, cid) > seen, "the original stopped counting after --leave-running"
    # bad input first: the id exists; a bundle whose mounts differ
    res = restore(rt, bundle, cid, images, check=False)
    assert res.returncode != 0 and "already exists" in one_line(res), res
    assert rt.state(cid)["status"] == "running"
    other = rt.new_id()
    changed = make_bundle()
    changed.config["mounts"].append(dict(COUNTER_TMPFS))
    changed.config["mounts"].append({"destination": "/extra", "type": "tmpfs", "source": "tmpfs"})
    changed.write()
    res = restore(rt, changed, other, images, check=False)
    line = one_line(res)
    assert res.returncode != 0 and "differs" in line and "/extra" in line, res
    assert rt.state(other, check=False) is None
    # the same images under another id, while the first runs on
    restore(rt, bundle, other, images)
    assert rt.state(other)["status"] == "running"
    assert rt.state(other)["pid"] != pid
    restored_from = exec_count(rt, other)
    deadline = time.monotonic() + 60
    while exec_count(rt, other) <= restored_from and time.monotonic() < deadline:
        time.sleep(0.2)
    assert exec_count(rt, other) > restored_from, "the restored copy does not count"
    listed = {c["id"]: c["status"] for c in json.loads(rt.run(["list", "--format", "json"]).stdout)}
    assert listed == {cid: "running", other: "running"}, listed
    rt.delete(other, force=True)
    rt.delete(cid, force=True)


def test_pre_dump_then_dump_with_parent_path(rt, bundle, workdir):
    cid = start_counter(rt, bundle)
    pre = os.path.join(workdir, "pre")
    final = os.path.join(workdir, "final")
    checkpoint(rt, cid, pre, "--pre-dump")
    assert rt.state(cid)["status"] == "running"
    assert any(n.startswith("pages-") for n in os.listdir(pre))
    checkpoint(rt, cid, final, "--parent-path", "../pre")
    assert os.readlink(os.path.join(final, "parent")) == "../pre"
    assert rt.state(cid, check=False) is None
    stopped_at = read_count(bundle)
    restore(rt, bundle, cid, final)
    wait_count_above(bundle, stopped_at)
    rt.delete(cid, force=True)


def test_bind_mount_tmpfs_and_masked_path(rt, bundle, workdir):
    data = os.path.join(workdir, "data")
    os.mkdir(data)
    bundle.config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": data, "options": ["rbind", "rw"]},
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
        # as `spec` writes it: without a cgroup namespace, a bind of the container's cgroup
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ]
    bundle.config["linux"]["maskedPaths"].append("/etc/hostname")
    open(bundle.in_rootfs("etc/hostname"), "w").write("secret\n")
    script = (QUIET + "echo kept > /scratch/f; i=0; "
              "while :; do i=$((i+1)); echo $i > /data/count; echo $i > /count; sleep 0.1; done")
    cid = start_counter(rt, bundle, script)
    images = os.path.join(workdir, "images")
    checkpoint(rt, cid, images)
    stopped_at = read_count(bundle)
    restore(rt, bundle, cid, images)
    wait_count_above(bundle, stopped_at)
    assert rt.run(["exec", cid, "cat", "/scratch/f"]).stdout == "kept\n"
    assert rt.run(["exec", cid, "cat", "/etc/hostname"]).stdout == ""
    # /sys/fs/cgroup is the new container's own cgroup: its init (pid 1 there) is listed
    inside = rt.run(["exec", cid, "cat", "/sys/fs/cgroup/cgroup.procs"]).stdout.split()
    assert "1" in inside, inside
    time.sleep(0.5)
    assert int(open(os.path.join(data, "count")).read()) > stopped_at
    rt.delete(cid, force=True)


def test_tcp_established(rt, bundle, workdir):
    # a server and a client in the container's own network namespace, one connection
    # (the server's stdin never ends: busybox nc closes the connection at its end of input)
    script = (QUIET + "sleep 100000 | nc -l -p 5555 > /received & "
              "while ! netstat -ltn | grep -q :5555; do sleep 0.1; done; "
              "(i=0; while :; do i=$((i+1)); echo $i; echo $i > /count; sleep 0.1; done) | nc 127.0.0.1 5555")
    cid = start_counter(rt, bundle, script)
    wait_count_above(bundle, 3)
    images = os.path.join(workdir, "images")
    res = checkpoint(rt, cid, images, check=False)
    assert res.returncode != 0 and "dump.log" in one_line(res), res
    assert rt.state(cid)["status"] == "running", "a failed checkpoint must leave it running"
    wait_count_above(bundle, read_count(bundle))
    checkpoint(rt, cid, images, "--tcp-established")
    stopped_at = read_count(bundle)
    restore(rt, bundle, cid, images, "--tcp-established")
    wait_count_above(bundle, stopped_at + 3)
    time.sleep(0.5)
    got = open(bundle.in_rootfs("received")).read().split()
    assert int(got[-1]) > stopped_at, "the connection carried nothing after the restore"
    rt.delete(cid, force=True)


def test_foreground_restore_waits_and_deletes(rt, bundle, workdir):
    cid = start_counter(rt, bundle, QUIET + "i=0; while [ $i -lt 40 ]; do i=$((i+1)); "
                                            "echo $i > /count; sleep 0.1; done; exit 7")
    images = os.path.join(workdir, "images")
    checkpoint(rt, cid, images)
    rt.track(cid)
    res = rt.run(["restore", "--image-path", images, "--bundle", bundle.path, cid], check=False,
                 timeout=120)
    assert res.returncode == 7, res
    assert rt.state(cid, check=False) is None


# ---- bad input ----------------------------------------------------------------------------

def test_checkpoint_of_a_created_container_is_refused(rt, bundle, workdir):
    bundle.config["process"]["args"] = ["sh", "-c", "sleep 100"]
    cid, _ = rt.create(bundle)
    res = checkpoint(rt, cid, os.path.join(workdir, "images"), check=False)
    assert res.returncode != 0
    assert "cannot be checkpointed in created state" in one_line(res)
    assert rt.state(cid)["status"] == "created"
    rt.delete(cid, force=True)


def test_restore_from_missing_or_corrupt_images(rt, bundle, workdir):
    bundle.write()
    cid = rt.new_id()
    res = restore(rt, bundle, cid, os.path.join(workdir, "nothing"), check=False)
    assert res.returncode != 0 and "does not exist" in one_line(res), res
    images = os.path.join(workdir, "images")
    os.mkdir(images)
    res = restore(rt, bundle, cid, images, check=False)
    assert res.returncode != 0 and "no inventory.img" in one_line(res), res
    open(os.path.join(images, "descriptors.json"), "w").write("{not json")
    open(os.path.join(images, "inventory.img"), "wb").write(b"\x00garbage" * 10)
    res = restore(rt, bundle, cid, images, check=False)
    assert res.returncode != 0 and "descriptors.json" in one_line(res), res
    open(os.path.join(images, "descriptors.json"), "w").write('["/dev/null","/dev/null","/dev/null"]')
    res = restore(rt, bundle, cid, images, check=False)
    line = one_line(res)
    assert res.returncode != 0 and "criu restore failed" in line and "restore.log" in line, res
    assert rt.state(cid, check=False) is None
    assert not os.path.isdir(rt.root) or not os.listdir(rt.root)
    assert not glob.glob(f"/sys/fs/cgroup/**/{cid}", recursive=True)


def _kill_criu_when_it_runs(verb):
    """Waits for a `criu <verb>` process and SIGKILLs it; returns whether it found one."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                argv = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if len(argv) > 1 and argv[0].endswith(b"criu") and argv[1] == verb.encode():
                time.sleep(0.2)
                try:
                    os.kill(int(p), signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return True
        time.sleep(0.01)
    return False


def test_criu_killed_during_dump_leaves_the_container_running(rt, bundle, workdir):
    # memory to dump, so that the kill lands while CRIU works
    cid = start_counter(rt, bundle, BIG + COUNTER.replace(QUIET, ""))
    images = os.path.join(workdir, "images")
    found = []
    t = threading.Thread(target=lambda: found.append(_kill_criu_when_it_runs("dump")))
    t.start()
    res = checkpoint(rt, cid, images, check=False)
    t.join()
    assert found == [True]
    assert res.returncode != 0 and "dump.log" in one_line(res), res
    st = rt.state(cid)
    assert st["status"] == "running", st
    wait_count_above(bundle, read_count(bundle))
    rt.delete(cid, force=True)


def test_criu_killed_during_restore_leaves_nothing(rt, bundle, workdir):
    cid = start_counter(rt, bundle, BIG + COUNTER.replace(QUIET, ""))
    images = os.path.join(workdir, "images")
    checkpoint(rt, cid, images)
    found = []
    t = threading.Thread(target=lambda: found.append(_kill_criu_when_it_runs("restore")))
    t.start()
    res = restore(rt, bundle, cid, images, check=False)
    t.join()
    assert found == [True]
    assert res.returncode != 0 and "restore.log" in one_line(res), res
    assert rt.state(cid, check=False) is None
    assert not glob.glob(f"/sys/fs/cgroup/**/{cid}", recursive=True)
    # and the images still restore
    restore(rt, bundle, cid, images)
    assert rt.state(cid)["status"] == "running"
    rt.delete(cid, force=True)


# ---- a terminal container: CRIU's new pty master reaches the console socket ----------------

class ConsoleSocket:
    """A --console-socket listener: masters() returns each pty master sent to it."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(120)

    def master(self):
        conn, _ = self.sock.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 4096, 4)
        assert len(fds) == 1, fds
        return fds[0]

    def close(self):
        self.sock.close()
        os.unlink(self.path)


def talk(master, line, expect, timeout=60):
    """Writes a line to the terminal and reads until `expect` shows."""
    os.write(master, line)
    out = b""
    deadline = time.monotonic() + timeout
    while expect not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            out += os.read(master, 4096)
    assert expect in out, out
    return out


def test_terminal_container_gets_a_new_console(rt, bundle, workdir):
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["args"] = ["sh"]
    sock = ConsoleSocket(os.path.join(workdir, "console.sock"))
    try:
        cid, _ = rt.create(bundle, extra=["--console-socket", sock.path])
        first = sock.master()
        rt.start(cid)
        # a shell variable only the running shell knows
        talk(first, b"kept=ab$((6*7))cd\n", b"#")
        talk(first, b"echo v=$kept\n", b"v=ab42cd")
        images = os.path.join(workdir, "images")
        checkpoint(rt, cid, images)
        os.close(first)
        assert rt.state(cid, check=False) is None
        restore(rt, bundle, cid, images, "--console-socket", sock.path)
        second = sock.master()
        assert rt.state(cid)["status"] == "running"
        # the same shell, on the new terminal
        out = talk(second, b"echo w=$kept; tty\n", b"w=ab42cd")
        talk(second, b"tty\n", b"/dev/pts/")
        os.close(second)
        rt.delete(cid, force=True)
    finally:
        sock.close()


def test_terminal_restore_needs_a_console_socket(rt, bundle, workdir):
    bundle.config["process"]["terminal"] = True
    bundle.write()
    images = os.path.join(workdir, "images")
    os.mkdir(images)
    cid = rt.new_id()
    res = restore(rt, bundle, cid, images, check=False)
    assert res.returncode != 0 and "--console-socket" in one_line(res), res
    assert rt.state(cid, check=False) is None
