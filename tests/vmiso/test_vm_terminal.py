"""Terminals and the cgroup verbs of a VM-isolated container, batched in one boot:
process.terminal with --console-socket (the host's pty master goes to the socket, the guest
agent bridges it to a pty in the guest, at the host pty's size, and follows the master's
resizes after start), exec -t -d with its own
console socket, then pause/resume (the VM's cgroup frozen) and events --stats from the host."""

import fcntl
import json
import os
import select
import socket
import struct
import subprocess
import termios
import time

from test_vmiso import BOOT, state_root_entries, vm_bundle


class ConsoleSocket:
    def __init__(self, path):
        self.path = path
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)
        self.srv.settimeout(BOOT)

    def master(self):
        conn, _ = self.srv.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
        self.srv.close()
        return fds[0]


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def read_until(fd, text, what, seen=b""):
    deadline = time.monotonic() + BOOT
    while text not in seen:
        assert time.monotonic() < deadline, f"{what}: never saw {text!r} in {seen!r}"
        r, _, _ = select.select([fd], [], [], 1)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_terminal_exec_tty_pause_resume_events(rt, bundle, workdir):
    bundle.config["process"]["terminal"] = True
    vm_bundle(bundle, 'echo "tty=$(tty)"; echo ready; read l; echo "got=$l size=$(stty size)"; '
                      'while read l; do echo "line=$l size=$(stty size)"; done')
    cs = ConsoleSocket(os.path.join(workdir, "console.sock"))
    cid = rt.track(rt.new_id())
    create = subprocess.Popen([rt.binary, "--root", rt.root, "create", "--bundle", bundle.path,
                               "--console-socket", cs.path, cid],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    master = cs.master()
    try:
        assert create.wait(timeout=60) == 0, create.stderr.read()
        set_size(master, 33, 101)  # as a client does once it holds the master
        rt.start(cid, timeout=BOOT)  # start returns once the guest is up
        seen = read_until(master, b"ready", "the container process on its terminal")
        assert b"tty=/dev/pts/0" in seen, seen  # a pty of the guest's own
        os.write(master, b"through-the-pty\r")
        seen = read_until(master, b"size=33 101", "the guest's pty size", seen)
        assert b"got=through-the-pty" in seen, seen
        # A resize of the master after start reaches the guest's pty (the kernel signals
        # the host pty's foreground group; nothing polls): probe until the size shows.
        set_size(master, 41, 117)
        deadline = time.monotonic() + 120
        for n in range(1000):
            os.write(master, b"probe%d\r" % n)
            seen = read_until(master, b"line=probe%d size=" % n, "the guest's reply", seen)
            seen = read_until(master, b"\n", "the end of the reply", seen.split(b"line=probe%d " % n)[-1])
            if b"size=41 117" in seen:
                break
            assert time.monotonic() < deadline, f"the guest's pty never took the new size: {seen!r}"
            time.sleep(0.5)

        # exec -t -d with a console socket of its own; its size follows the master's.
        cs2 = ConsoleSocket(os.path.join(workdir, "console2.sock"))
        res = rt.run(["exec", "-t", "-d", "--console-socket", cs2.path, cid, "sh", "-c",
                      'echo "etty=$(tty)"; read x; echo "egot=$x size=$(stty size)"; sleep 2'],
                     timeout=BOOT, check=False)
        assert res.returncode == 0, res
        master2 = cs2.master()
        try:
            seen2 = read_until(master2, b"etty=/dev/pts/", "the exec'd process on its terminal")
            set_size(master2, 20, 70)
            time.sleep(1)
            os.write(master2, b"hi\r")
            read_until(master2, b"egot=hi size=20 70", "the exec'd process's input and size", seen2)
        finally:
            os.close(master2)

        # pause freezes the VM (its cgroup, QEMU in it): exec and ps wait for resume.
        rt.run(["pause", cid])
        assert rt.state(cid)["status"] == "paused"
        res = rt.run(["exec", cid, "true"], check=False)
        assert res.returncode != 0 and "paused" in res.stderr, res
        res = rt.run(["ps", cid], check=False)
        assert res.returncode != 0 and "paused" in res.stderr, res
        stats = json.loads(rt.run(["events", "--stats", cid]).stdout.splitlines()[0])
        assert stats["type"] == "stats" and stats["id"] == cid, stats
        rt.run(["resume", cid])
        assert rt.state(cid)["status"] == "running"
        res = rt.run(["exec", cid, "echo", "after-resume"], timeout=BOOT)
        assert res.stdout.strip() == "after-resume", res
        # (before the master closes: that hangs up QEMU's terminal, which ends it as SIGHUP
        # ends any container process on a terminal)
        rt.kill(cid, "KILL")
        rt.wait_status(cid, "stopped", timeout=60)
    finally:
        os.close(master)
    rt.delete(cid)
    assert state_root_entries(rt) == []
