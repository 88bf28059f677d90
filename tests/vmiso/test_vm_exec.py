"""`exec` and `ps` in a VM-isolated container: through the guest agent over a virtio-serial
session port, the process runs in the container the guest made (its namespaces and root), with
the flags or --process of runc's exec, stdio passed through, and its exit status back.

One boot for all of it (software emulation makes each boot cost tens of seconds)."""

import json
import os
import signal
import subprocess
import time

from test_vmiso import BOOT, create_detached, gone, state_root_entries, vm_bundle, wait_for


def exec_cmd(rt, cid, *args, stdin=b"", timeout=BOOT):
    p = subprocess.run([rt.binary, "--root", rt.root, "exec", *args], input=stdin,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def test_exec_ps_in_the_guest(rt, bundle, workdir):
    vm_bundle(bundle, 'trap "exit 5" TERM; echo ready; while :; do sleep 1; done')
    out_path = os.path.join(workdir, "vm.out")
    cid = create_detached(rt, bundle, out_path)
    # Not booted before start: refused with a clear error.
    rc, out, err = exec_cmd(rt, cid, cid, "true")
    assert rc != 0 and "cannot exec before it" in err, (rc, err)
    rt.start(cid, timeout=BOOT)  # start returns once the guest is up
    qemu = rt.state(cid)["pid"]
    # At once after start: exec waits for the guest to boot and its container to run.
    rc, out, err = exec_cmd(rt, cid, cid, "echo", "early")
    assert rc == 0 and out.strip() == "early", (rc, out, err)
    wait_for(out_path, b"ready", qemu, "the container process")

    # The guest's kernel, the namespaces and root of the container's process 1.
    rc, out, err = exec_cmd(rt, cid, cid, "sh", "-c",
                            'echo "uname=$(uname -r)"; echo "pid1=$(cat /proc/1/cmdline | tr "\\0" " ")"; '
                            '[ "$(readlink /proc/1/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ] && echo same-mnt; '
                            '[ "$(readlink /proc/1/ns/pid)" = "$(readlink /proc/self/ns/pid)" ] && echo same-pid; '
                            '[ "$(stat -c %i /proc/1/root/)" = "$(stat -c %i /)" ] && echo same-root; '
                            'echo "host=$(hostname)"')
    assert rc == 0, (rc, out, err)
    assert "uname=6.12." in out and os.uname().release not in out, out
    assert "pid1=sh -c trap" in out, out
    assert "same-mnt" in out and "same-pid" in out and "same-root" in out, out
    assert "host=skiff-it" in out, out

    # Flags: env, cwd, user; stdin, stdout, stderr; the exact exit status.
    rc, out, err = exec_cmd(rt, cid, "--env", "FOO=bar", "--cwd", "/tmp", "--user", "1000:1001",
                            cid, "sh", "-c", 'read l; echo "$FOO $(pwd) $(id -u):$(id -g) $l"; '
                            'echo to-err >&2; exit 42', stdin=b"from-stdin\n")
    assert rc == 42, (rc, out, err)
    assert out.strip() == "bar /tmp 1000:1001 from-stdin", out
    assert "to-err" in err, err

    # --process json
    proc = os.path.join(workdir, "process.json")
    with open(proc, "w") as f:
        json.dump({"args": ["sh", "-c", 'echo "via-process $X $(pwd)"; exit 3'], "cwd": "/etc",
                   "env": ["X=1", "PATH=/bin:/usr/bin"], "user": {"uid": 0, "gid": 0}}, f)
    rc, out, err = exec_cmd(rt, cid, "--process", proc, cid)
    assert rc == 3 and out.strip() == "via-process 1 /etc", (rc, out, err)

    # A command that is not there: the guest skiff's error, a failure status.
    rc, out, err = exec_cmd(rt, cid, cid, "/no/such/binary")
    assert rc != 0 and "/no/such/binary" in err, (rc, out, err)

    # Detached: returns once the process started; the pid file names the host process that
    # relays its stdio and ends with it. ps lists the guest's processes.
    pid_file = os.path.join(workdir, "exec.pid")
    # (through files: the relay holds the caller's stdio, as the process itself does with runc)
    res = rt.run(["exec", "-d", "--pid-file", pid_file, cid, "sh", "-c",
                  "echo detached > /tmp/d; exec sleep 1000"], timeout=BOOT)
    assert res.returncode == 0, res
    relay = int(open(pid_file).read())
    assert not gone(relay)
    ps = rt.run(["ps", "--format", "json", cid], timeout=BOOT)
    pids = json.loads(ps.stdout)
    # pids of the guest's kernel (as runc's are the host's): sh, the detached sleep (and the
    # sleep 1 of sh's loop, at times)
    assert len(pids) >= 2, ps
    table = rt.run(["ps", cid], timeout=BOOT).stdout
    assert table.splitlines()[0].split() == ["UID", "PID", "PPID", "CMD"], table
    rows = [l.split(None, 3) for l in table.splitlines()[1:]]
    assert len(rows) >= 2, table
    assert any("sh -c trap" in r[3] for r in rows), table
    assert "sleep 1000" in table, table
    rc, out, err = exec_cmd(rt, cid, cid, "cat", "/tmp/d")
    assert out.strip() == "detached", (rc, out, err)

    # A signal to a foreground exec reaches its process (its trap runs, its status is exec's),
    # while another exec runs beside it.
    log = os.path.join(workdir, "trap.out")
    with open(log, "wb") as lf:
        p = subprocess.Popen([rt.binary, "--root", rt.root, "exec", cid, "sh", "-c",
                              'trap "echo got-term; exit 9" TERM; echo ready; while :; do sleep 0.2; done'],
                             stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT)
        try:
            wait_for(log, b"ready", p.pid, "the exec'd process")
            rc, out, err = exec_cmd(rt, cid, cid, "echo", "beside")
            assert rc == 0 and out.strip() == "beside", (rc, out, err)
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=120) == 9
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert b"got-term" in open(log, "rb").read()

    # The container ends: the detached relay ends with it.
    rt.kill(cid, "TERM")
    rt.wait_status(cid, "stopped", timeout=120)
    deadline = time.monotonic() + 30
    while not gone(relay):
        assert time.monotonic() < deadline, "the detached exec's relay outlived the VM"
        time.sleep(0.2)
    rt.delete(cid)
    assert state_root_entries(rt) == []
