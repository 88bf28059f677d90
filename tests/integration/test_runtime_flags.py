"""The create/run/exec flags that change how the runtime sets a process up, each seen from
inside and outside the container: --no-pivot, --no-new-keyring, --pidfd-socket."""
import os
import signal
import socket
import threading

import pytest


# --- --no-pivot -------------------------------------------------------------------------------

@pytest.mark.parametrize("flag", [[], ["--no-pivot"]])
def test_root_is_the_rootfs_with_and_without_pivot(rt, bundle, workdir, flag):
    """--no-pivot moves the rootfs onto / and chroots instead of pivot_root (what it leaves
    in the mount namespace is checked in tests/security/test_no_pivot*). Either way the init's
    root, seen from the host, is the bundle's rootfs, and inside no host mount is visible."""
    bundle.args("cat /proc/self/mountinfo > /tmp/m; mv /tmp/m /tmp/mounts; sleep 60")
    cid, _ = rt.create(bundle, extra=flag)
    rt.start(cid)
    pid = rt.state(cid)["pid"]
    try:
        assert os.path.samefile(f"/proc/{pid}/root", bundle.in_rootfs("/"))
        wait_for_file(bundle.in_rootfs("/tmp/mounts"))
        points = [line.split()[4] for line in open(bundle.in_rootfs("/tmp/mounts"))]
        assert points[0] == "/" and "/proc" in points
        assert not any(p.startswith(workdir) or p.startswith("/work") for p in points), points
    finally:
        rt.delete(cid, force=True)


# --- --no-new-keyring ---------------------------------------------------------------------------

def session_keyrings():
    with open("/proc/keys") as f:
        return {line.split()[8].rstrip(":") for line in f if " keyring " in line}


@pytest.mark.parametrize("flag", [[], ["--no-new-keyring"]])
def test_session_keyring(rt, bundle, flag):
    """By default the container gets a session keyring of its own, `_ses.<id>` (runc's name),
    so keys do not leak between containers; --no-new-keyring keeps the runtime's."""
    if not os.path.exists("/proc/keys"):
        pytest.skip("kernel without CONFIG_KEYS /proc/keys")
    # /proc/keys is masked by runc spec's defaults; unmask it to look from inside
    bundle.config["linux"]["maskedPaths"] = [p for p in bundle.config["linux"]["maskedPaths"]
                                             if p != "/proc/keys"]
    bundle.args("grep -o '_ses[^:]*' /proc/keys > /tmp/k; mv /tmp/k /tmp/keys; sleep 60")
    cid, _ = rt.create(bundle, extra=flag)
    rt.start(cid)
    own = f"_ses.{cid}"
    try:
        # outside: the host sees the container's keyring while it exists
        assert (own in session_keyrings()) == (not flag)
        wait_for_file(bundle.in_rootfs("/tmp/keys"))
        inside = open(bundle.in_rootfs("/tmp/keys")).read().split()
        # inside: its own keyring, or none of its own
        assert (own in inside) == (not flag), inside
    finally:
        rt.delete(cid, force=True)


# --- --pidfd-socket ---------------------------------------------------------------------------

class PidfdReceiver:
    """A unix socket that accepts one connection and keeps the fds sent over it."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.fds = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        conn, _ = self.sock.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 64, 4)
            self.fds.extend(fds)

    def fd(self):
        self.thread.join(10)
        assert len(self.fds) == 1, self.fds
        return self.fds[0]

    def close(self):
        for fd in self.fds:
            os.close(fd)
        self.sock.close()


def wait_for_file(path, timeout=10):
    for _ in range(int(timeout / 0.05)):
        if os.path.exists(path):
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"{path} did not appear")


def pid_of_pidfd(fd):
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    raise AssertionError(f"fd {fd} is not a pidfd")


def test_create_pidfd_socket_gets_the_inits_pidfd(rt, bundle, workdir):
    recv = PidfdReceiver(os.path.join(workdir, "pidfd.sock"))
    try:
        # `exec >file` first: a plain `ls >file` makes ash keep fd 1 as fd 10 meanwhile
        bundle.args("exec >/tmp/f; ls /proc/$$/fd; mv /tmp/f /tmp/fds; exec sleep 60")
        cid, _ = rt.create(bundle, extra=["--pidfd-socket", recv.path])
        fd = recv.fd()
        pid = rt.state(cid)["pid"]
        assert pid_of_pidfd(fd) == pid  # outside: a pidfd of the container's init
        rt.start(cid)
        wait_for_file(bundle.in_rootfs("/tmp/fds"))
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        rt.wait_status(cid, "stopped")
        # inside: the container holds nothing of it
        assert open(bundle.in_rootfs("/tmp/fds")).read().split() == ["0", "1", "2"]
        rt.delete(cid)
    finally:
        recv.close()


def test_exec_pidfd_socket_gets_the_exec_processs_pidfd(rt, bundle, workdir):
    bundle.args("sleep 60")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    recv = PidfdReceiver(os.path.join(workdir, "exec-pidfd.sock"))
    try:
        rt.run(["exec", "-d", "--pidfd-socket", recv.path, "--pid-file",
                os.path.join(workdir, "exec.pid"), cid, "sh", "-c",
                "exec >/tmp/f; ls /proc/$$/fd; mv /tmp/f /tmp/exec-fds; exec sleep 60"])
        fd = recv.fd()
        wait_for_file(bundle.in_rootfs("/tmp/exec-fds"))
        pid = int(open(os.path.join(workdir, "exec.pid")).read())
        assert pid_of_pidfd(fd) == pid
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        for _ in range(100):
            if not os.path.exists(f"/proc/{pid}") or \
                    open(f"/proc/{pid}/stat").read().split()[2] == "Z":
                break
            threading.Event().wait(0.05)
        assert open(bundle.in_rootfs("/tmp/exec-fds")).read().split() == ["0", "1", "2"]
        assert rt.state(cid)["status"] == "running"  # only the exec'd process was hit
    finally:
        recv.close()
        rt.delete(cid, force=True)
