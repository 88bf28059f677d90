"""The container can never get hold of the runtime's binary through /proc/<pid>/exe while a
runtime process (the waiting init, an exec's init) sits in its namespaces: those processes are
non-dumpable until they execve (CVE-2019-5736 class).

The attacker is root of the container's user namespace with every capability there, in the
container's pid namespace, so the kernel's uid and capability-subset checks all pass: only
non-dumpability stands between it and the host's runtime binary. A runtime that leaves its
init dumpable lets the attacker stat and open /proc/1/exe (the host binary), and keep an O_PATH
handle to rewrite it once the runtime exits."""

import os
import subprocess
import time
import uuid

from secutil import harness

ALL_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
            "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
            "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
            "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
            "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
            "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
            "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
            "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
            "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]

MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]

# What the attacker tries, one line per outcome the host side reads back.
PROBE = ("echo comm=$(cat /proc/1/comm); "
         "stat -L -c stat=%d:%i /proc/1/exe 2>/dev/null; "
         "cat /proc/1/exe >/dev/null 2>&1 && echo read-ok; "
         "(exec 3>>/proc/1/exe) 2>/dev/null && echo write-ok; "
         "readlink /proc/1/exe 2>/dev/null | sed 's/^/link=/'; exit 0")


def _userns(bundle):
    bundle.ns("user")
    bundle.config["linux"]["uidMappings"] = list(MAP)
    bundle.config["linux"]["gidMappings"] = list(MAP)
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["destination"] != "/sys"]
    caps = list(ALL_CAPS)
    bundle.config["process"]["capabilities"] = {"bounding": caps, "effective": caps,
                                                "permitted": caps}
    bundle.config["process"]["noNewPrivileges"] = False
    return bundle


def _runtime_id():
    st = os.stat(harness.RUNTIME)
    return f"{st.st_dev}:{st.st_ino}"


def _assert_no_handle(out, what):
    lines = out.split()
    assert "read-ok" not in lines, f"{what}: opened the runtime's binary for reading"
    assert "write-ok" not in lines, f"{what}: opened the runtime's binary for writing"
    stats = [ln[len("stat="):] for ln in lines if ln.startswith("stat=")]
    assert _runtime_id() not in stats, f"{what}: reached the runtime's binary: {out}"
    assert not [ln for ln in lines if ln.startswith("link=")], f"{what}: readlink exe: {out}"


def test_waiting_init_is_non_dumpable_and_unreachable(rt, bundle):
    """Between create and start the init (a copy of the runtime) waits in the container's
    pid namespace. A process joined into its user, pid and mount namespaces, root there with
    every capability, must not reach /proc/1/exe."""
    victim = _userns(bundle).args("true")
    vid, _ = rt.create(victim)
    init_pid = rt.state(vid)["pid"]
    # nsenter plays the process inside: it becomes root of the container's user namespace
    # (every capability there, none on the host) in its pid and mount namespaces.
    res = subprocess.run(["nsenter", "-t", str(init_pid), "--user", "--pid", "--mount",
                          "/bin/sh", "-c", PROBE], capture_output=True, text=True, timeout=20)
    rc, out, err = res.returncode, res.stdout, res.stderr
    assert rc == 0, err
    # the attack really reached the waiting init: pid 1 of that namespace is the runtime
    comm = [ln for ln in out.split() if ln.startswith("comm=")]
    assert len(comm) == 1 and comm[0].startswith("comm=" + os.path.basename(harness.RUNTIME)[:10]), out
    _assert_no_handle(out, "attacker in the pid namespace of a created container")
    # From the host: a dumpable task's /proc/<pid> files belong to its euid (100000 here); a
    # non-dumpable one's to root (the directory itself always shows the euid).
    assert os.stat(f"/proc/{init_pid}/status").st_uid == 0, "the waiting init is dumpable"

    rt.start(vid)
    rt.wait_status(vid, "stopped")
    rt.delete(vid)


def test_start_hook_cannot_reach_init_binary(rt, bundle, workdir):
    """A startContainer hook runs inside the container (in its namespaces, after start) while
    the init has not exec'd yet: it must not open /proc/<init>/exe either."""
    _userns(bundle).args("true")
    out_file = f"/tmp/probe-{uuid.uuid4().hex[:8]}"
    bundle.config["hooks"] = {"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", f"({PROBE}) > {out_file}"]}]}
    cid, _ = rt.create(bundle)
    rt.start(cid)
    rt.wait_status(cid, "stopped")
    with open(bundle.in_rootfs(out_file)) as f:
        out = f.read()
    assert "comm=" in out
    _assert_no_handle(out, "startContainer hook")
    rt.delete(cid)


def test_exec_init_is_unreachable_from_container(rt, bundle, workdir):
    """While `exec` runs, its init (a copy of the runtime) joins the container. A process in
    the container polls /proc/*/exe and writes down every exe it could stat; none may be the
    runtime's binary."""
    _userns(bundle)
    bundle.args("while :; do for e in /proc/[0-9]*/exe; do stat -L -c %d:%i $e; "
                "done 2>/dev/null >> /tmp/seen; [ -e /tmp/stop ] && exit 0; done")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    for _ in range(15):
        rt.run(["exec", cid, "true"])
    # The poller (pid 1) exits as soon as the file exists, and the pid namespace's end may
    # SIGKILL `touch` before it exits itself: 137 is a finished exec here too.
    res = rt.run(["exec", cid, "touch", "/tmp/stop"], check=False)
    assert res.returncode in (0, 137), res
    rt.wait_status(cid, "stopped")
    with open(bundle.in_rootfs("/tmp/seen")) as f:
        seen = set(f.read().split())
    assert seen, "the poller saw no exe at all: the probe is broken"
    assert _runtime_id() not in seen
    rt.delete(cid)


def test_ptrace_capable_container_cannot_keep_runtime_binary(rt, make_bundle):
    """The full CVE-2019-5736 sequence from a container that holds CAP_SYS_PTRACE (which
    overrides non-dumpability): grab /proc/1/exe of a created container's waiting init, wait
    until every runtime process has exec'd or exited (so ETXTBSY no longer guards the file),
    then reopen the handle for writing. Nothing is written: the open alone is the breach. A
    runtime that runs its init from the host binary itself (no sealed copy) fails here."""
    victim = make_bundle().args("sleep 2")
    vid, _ = rt.create(victim)
    init_pid = rt.state(vid)["pid"]
    runtime_name = os.path.basename(harness.RUNTIME)[:15]
    attacker = make_bundle().ns("pid", f"/proc/{init_pid}/ns/pid")
    caps = ["CAP_SYS_PTRACE", "CAP_KILL", "CAP_AUDIT_WRITE"]
    attacker.config["process"]["capabilities"] = {"bounding": caps, "effective": caps,
                                                  "permitted": caps}
    attacker.args(
        "exec 3</proc/1/exe || { echo no-handle > /tmp/res; exit 0; }; "
        "stat -L -c %d:%i /proc/self/fd/3 > /tmp/handle; "
        f"while [ \"$(cat /proc/1/comm)\" = '{runtime_name}' ]; do sleep 0.05; done; "
        "sleep 1; (exec 4>>/proc/self/fd/3) 2>/dev/null && echo writable > /tmp/res "
        "|| echo blocked > /tmp/res")
    aid, _ = rt.create(attacker)
    rt.start(aid)
    handle = attacker.in_rootfs("/tmp/handle")
    res = attacker.in_rootfs("/tmp/res")
    for _ in range(100):
        if os.path.exists(handle) or os.path.exists(res):
            break
        time.sleep(0.05)
    rt.start(vid)
    rt.wait_status(aid, "stopped", timeout=15)
    with open(res) as f:
        verdict = f.read().strip()
    got = open(handle).read().strip() if os.path.exists(handle) else "no handle"
    rt.wait_status(vid, "stopped", timeout=15)
    rt.delete(vid)
    rt.delete(aid)
    # A handle on a read-only bind of the binary (runc 1.1) or on a sealed copy (another
    # inode) is harmless; a writable reopen of the host's file is the breakout.
    assert not (verdict == "writable" and got == _runtime_id()), (verdict, got)
