"""process.terminal with `run` in the foreground and no --console-socket (what `spec` writes):
the runtime keeps the pty master and relays it to its own stdio, as runc does. Needs root."""

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time

import pytest


def _terminal_bundle(bundle, script):
    bundle.config["process"]["terminal"] = True
    bundle.args(script)
    bundle.write()
    return bundle.path


def _run_on_pty(rt, bundle_path, cid, typed, rows=33, cols=101, timeout=10, argv=None):
    """Runs `run` (or the runtime with argv) with a pty as its stdio; types `typed` once
    "ready" shows; returns (output, exit code)."""
    argv = argv or ["run", "--bundle", bundle_path, cid]
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(rt.binary, [rt.binary, "--root", rt.root, *argv])
        finally:
            os._exit(127)
    out = b""
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        sent = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not sent and b"ready" in out:
                os.write(fd, typed)
                sent = True
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the runtime closed its side
                break
            if not chunk:
                break
            out += chunk
    finally:
        try:
            _, status = os.waitpid(pid, 0)
        finally:
            os.close(fd)
    return out.decode(errors="replace"), os.waitstatus_to_exitcode(status)


def test_foreground_run_relays_a_terminal(rt, bundle):
    cid = rt.new_id()
    path = _terminal_bundle(bundle, "tty; stty size; echo ready; read line; echo got:$line; exit 3")
    out, rc = _run_on_pty(rt, path, cid, b"hello\n")
    lines = [l.strip() for l in out.splitlines()]
    assert rc == 3, out
    assert lines[0].startswith("/dev/pts/"), out  # stdio is a terminal inside
    assert "33 101" in lines, out                 # with our window size
    assert "got:hello" in lines, out              # and what we type reaches it
    assert rt.state(cid, check=False) is None     # run deleted it


@pytest.mark.skiff_only("runc 1.1.5 opens /dev/tty and fails without a controlling terminal")
def test_foreground_terminal_with_piped_input(rt, bundle, workdir):
    cid = rt.track(rt.new_id())
    path = _terminal_bundle(bundle, "read line; echo got:$line; tty; exit 4")
    res = subprocess.run([rt.binary, "--root", rt.root, "run", "--bundle", path, cid],
                         input=b"piped\n", capture_output=True, timeout=20)
    out = res.stdout.decode(errors="replace")
    assert res.returncode == 4, (out, res.stderr)
    assert "got:piped" in out and "/dev/pts/" in out, out


def test_detached_terminal_needs_a_console_socket(rt, bundle):
    path = _terminal_bundle(bundle, "true")
    cid = rt.new_id()
    res = rt.run(["run", "--detach", "--bundle", path, cid], check=False)
    assert res.returncode != 0
    assert "console socket" in res.stderr, res.stderr
    assert rt.state(cid, check=False) is None


def _running_container(rt, bundle):
    bundle.args("sleep 1000")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    return cid


def test_foreground_exec_relays_a_terminal(rt, bundle):
    """`exec -t` in the foreground without --console-socket: the runtime makes the pty and
    relays it to its own stdio, as runc does and as `run` does."""
    cid = _running_container(rt, bundle)
    out, rc = _run_on_pty(rt, None, cid, b"hello\n", argv=[
        "exec", "-t", cid, "sh", "-c",
        "tty; stty size; echo ready; read line; echo got:$line; exit 5"])
    lines = [l.strip() for l in out.splitlines()]
    assert rc == 5, out
    assert lines[0].startswith("/dev/pts/"), out
    assert "33 101" in lines, out
    assert "got:hello" in lines, out
    assert rt.state(cid)["status"] == "running"


def test_exec_terminal_belongs_to_the_process_user(rt, bundle):
    """The exec'd process's pty is owned by its uid; the group stays devpts' gid=5 (tty), as
    runc leaves it."""
    cid = _running_container(rt, bundle)
    out, rc = _run_on_pty(rt, None, cid, b"", argv=[
        "exec", "-t", "--user", "1000:1000", cid, "sh", "-c", "stat -c owner=%u:%g $(tty)"])
    assert rc == 0, out
    assert "owner=1000:5" in out, out


@pytest.mark.skiff_only("runc 1.1.5 opens /dev/tty and fails without a controlling terminal")
def test_run_terminal_belongs_to_the_process_user(rt, bundle):
    """process.user 1000:1000 with a terminal: /dev/pts/N is 1000:5, not 0:5 (runc)."""
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    path = _terminal_bundle(bundle, "stat -c owner=%u:%g $(tty)")
    res = subprocess.run([rt.binary, "--root", rt.root, "run", "--bundle", path,
                          rt.track(rt.new_id())], stdin=subprocess.DEVNULL,
                         capture_output=True, timeout=20)
    out = res.stdout.decode(errors="replace")
    assert res.returncode == 0, (out, res.stderr)
    assert "owner=1000:5" in out, out


def test_run_terminal_on_a_pty_belongs_to_the_process_user(rt, bundle):
    """The same through a real terminal (runc can run this one)."""
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    path = _terminal_bundle(bundle, "stat -c owner=%u:%g $(tty)")
    out, rc = _run_on_pty(rt, path, rt.track(rt.new_id()), b"")
    assert rc == 0, out
    assert "owner=1000:5" in out, out
