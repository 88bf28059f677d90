"""Helpers of the attack tests: plant hostile paths in an image, check the host afterwards,
receive a console pty. Imported by the tests and by conftest.py."""

import array
import importlib.util
import os
import socket
import threading

_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "skiff_security_harness", os.path.join(_HERE, "..", "integration", "conftest.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)


# ---------------------------------------------------------------------------------------------
# host-side checks


def mounts_at_or_below(path):
    """Mount points at or below `path` in the host's mount namespace."""
    path = os.path.realpath(path)
    return [m for m in harness._mountinfo_paths() if m == path or m.startswith(path + "/")]


def tree(path):
    """Every name below `path` (relative), so a test can assert a host dir stayed empty."""
    out = []
    for dirpath, dirnames, filenames in os.walk(path):
        for n in dirnames + filenames:
            out.append(os.path.relpath(os.path.join(dirpath, n), path))
    return sorted(out)


def assert_host_untouched(path, expect=()):
    """`path` on the host has no mount at or below it and holds exactly `expect`."""
    assert mounts_at_or_below(path) == [], f"a mount landed on the host at {path}"
    assert tree(path) == sorted(expect), f"the host dir {path} was written to"


def plant_symlink(bundle, inside, target):
    """Replaces `inside` (a path in the rootfs) with a symlink to `target`."""
    p = bundle.in_rootfs(inside)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    if os.path.lexists(p):
        if os.path.isdir(p) and not os.path.islink(p):
            os.rmdir(p)
        else:
            os.unlink(p)
    os.symlink(target, p)
    return p


def relative_escape(bundle, inside, target):
    """A relative symlink text that climbs from `inside`'s directory to the host's `target`."""
    depth = len(os.path.dirname(bundle.in_rootfs(inside)).strip("/").split("/"))
    return "../" * (depth + 3) + target.lstrip("/")


def drop_mount(bundle, destination):
    bundle.config["mounts"] = [m for m in bundle.config["mounts"]
                               if m["destination"] != destination]


# ---------------------------------------------------------------------------------------------
# console socket


class ConsoleSocket:
    """A --console-socket listener that keeps the pty master it receives."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.master = None
        self.output = b""
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        self.sock.settimeout(30)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            fds = array.array("i")
            _, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4 * fds.itemsize))
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
            if fds:
                self.master = fds[0]
                for extra in fds[1:]:
                    os.close(extra)
        while self.master is not None:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk

    def wait(self, timeout=20):
        self._thread.join(timeout)
        return self.output.decode(errors="replace")

    def close(self):
        self.sock.close()
        if self.master is not None:
            try:
                os.close(self.master)
            except OSError:
                pass
            self.master = None
        self._thread.join(5)
