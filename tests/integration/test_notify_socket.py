"""NOTIFY_SOCKET: systemd's sd_notify protocol through the runtime, as runc relays it.

create/run with NOTIFY_SOCKET set give the container /run/notify (read-only, holding only
notify.sock) and NOTIFY_SOCKET=/run/notify/notify.sock; start (and run) return once the
container sent READY=, after passing READY, MAINPID and a BARRIER on to the host's socket.
Busybox cannot send a datagram, so the container uses a tiny static C sender built here.
"""

import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import runtime_is_runc


SENDER_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
int main(int argc, char **argv) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || argc != 2) { fprintf(stderr, "usage: NOTIFY_SOCKET=... notify MESSAGE\n"); return 2; }
    struct sockaddr_un addr = {0};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (s < 0 || sendto(s, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("notify");
        return 1;
    }
    return 0;
}
"""


@pytest.fixture(scope="session")
def sender(tmp_path_factory):
    if not shutil.which("gcc"):
        pytest.skip("gcc is needed to build the static sd_notify sender")
    d = tmp_path_factory.mktemp("notify-sender")
    src = d / "notify.c"
    src.write_text(SENDER_C)
    out = d / "notify"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(out), str(src)], check=True)
    return str(out)


class HostSocket:
    """The host's NOTIFY_SOCKET (systemd's part): collects datagrams with their arrival time
    and closes the barrier fds it is handed, as systemd does."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.messages = []  # (monotonic time, text, number of fds)
        self.stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stop:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(16))
            except socket.timeout:
                continue
            except OSError:
                return
            fds = []
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds += [int.from_bytes(payload[i:i + 4], "little") for i in range(0, len(payload), 4)]
            self.messages.append((time.monotonic(), data.decode(), len(fds)))
            for fd in fds:
                os.close(fd)

    def texts(self):
        return [m[1] for m in self.messages]

    def wait_for(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.texts()

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()
        os.unlink(self.path)


@pytest.fixture
def host(workdir):
    h = HostSocket(os.path.join(workdir, "host-notify.sock"))
    yield h
    h.close()


def notify_env(host):
    return dict(os.environ, NOTIFY_SOCKET=host.path)


def with_sender(bundle, sender, script):
    shutil.copy(sender, bundle.in_rootfs("notify"))
    bundle.args(script)
    return bundle


# What the container sees of /run/notify, written before it notifies.
REPORT = ("echo env=$NOTIFY_SOCKET > /report; ls -A /run/notify >> /report; "
          "touch /run/notify/x 2>/dev/null && echo writable >> /report; "
          "grep ' /run/notify ' /proc/self/mountinfo >> /report; ")


def check_report(bundle):
    with open(bundle.in_rootfs("report")) as f:
        lines = f.read().splitlines()
    assert lines[0] == "env=/run/notify/notify.sock", lines
    assert lines[1] == "notify.sock", f"/run/notify should hold only the socket: {lines}"
    assert "writable" not in lines, lines
    options = lines[2].split()[5].split(",")
    for opt in ("ro", "nosuid", "nodev", "noexec"):
        assert opt in options, f"/run/notify mount lacks {opt}: {lines[2]}"


def test_create_start_waits_for_ready_and_relays_it(rt, bundle, sender, host):
    with_sender(bundle, sender, REPORT + "sleep 1; /notify \"$(printf 'READY=1\\nSTATUS=up')\"; sleep 100")
    env = notify_env(host)
    cid, _ = rt.create(bundle, env=env)
    t0 = time.monotonic()
    rt.run(["start", cid], env=env)
    returned = time.monotonic()
    assert returned - t0 >= 0.9, "start returned before the container sent READY"
    msgs = host.wait_for(3)
    pid = rt.state(cid)["pid"]
    assert msgs[:2] == ["READY=1\n", f"MAINPID={pid}\n"], msgs
    if not runtime_is_runc():  # runc 1.1.5 predates the barrier; later runc sends it
        assert msgs[2] == "BARRIER=1" and host.messages[2][2] == 1, msgs
    assert host.messages[0][0] <= returned
    check_report(bundle)
    rt.kill(cid)
    rt.wait_status(cid, "stopped")
    rt.delete(cid)
    assert os.listdir(rt.root) == [], "delete left state behind"


def test_run_detached_relays_ready_with_the_container_pid(rt, bundle, sender, host):
    with_sender(bundle, sender, REPORT + "sleep 1; /notify READY=1; sleep 100")
    bundle.write()
    cid = rt.new_id()
    t0 = time.monotonic()
    rt.run(["run", "-d", "--bundle", bundle.path, cid], env=notify_env(host))
    assert time.monotonic() - t0 >= 0.9, "run -d returned before the container sent READY"
    msgs = host.wait_for(3)
    assert msgs[:2] == ["READY=1\n", f"MAINPID={rt.state(cid)['pid']}\n"], msgs
    check_report(bundle)
    rt.delete(cid, force=True)
    assert os.listdir(rt.root) == []


def test_run_foreground_relays_ready_with_its_own_pid(rt, bundle, sender, host, workdir):
    with_sender(bundle, sender, "/notify READY=1; sleep 0.5; exit 3")
    bundle.write()
    pid_file = os.path.join(workdir, "runtime.pid")
    cid = rt.new_id()
    # runc names itself the main pid in the foreground: it lives exactly as long as the container
    res = rt.run(["run", "--bundle", bundle.path, cid], check=False, env=notify_env(host),
                 prefix=["sh", "-c", f'echo $$ > {pid_file}; exec "$@"', "sh"])
    assert res.returncode == 3, res
    with open(pid_file) as f:
        runtime_pid = int(f.read())
    assert host.wait_for(2)[:2] == ["READY=1\n", f"MAINPID={runtime_pid}\n"]
    assert os.listdir(rt.root) == []


def test_start_returns_when_the_container_exits_without_ready(rt, bundle, sender, host):
    with_sender(bundle, sender, "/notify STATUS=starting && echo sent > /report; sleep 0.5; exit 0")
    env = notify_env(host)
    cid, _ = rt.create(bundle, env=env)
    rt.run(["start", cid], env=env, timeout=20)
    rt.wait_status(cid, "stopped")
    time.sleep(0.2)
    assert host.texts() == [], "nothing is forwarded without READY"
    with open(bundle.in_rootfs("report")) as f:
        assert f.read() == "sent\n", "the container could not reach its notify socket"
    rt.delete(cid)
    assert os.listdir(rt.root) == []


@pytest.mark.skiff_only(reason="runc's foreground run waits for READY after the container exited")
def test_foreground_run_returns_when_the_container_exits_without_ready(rt, bundle, sender, host):
    with_sender(bundle, sender, "cat /proc/self/mountinfo; echo env=$NOTIFY_SOCKET")
    rc, out, err = rt.run_container(bundle, env=notify_env(host))
    assert rc == 0, err
    assert "env=/run/notify/notify.sock" in out
    assert any(line.split()[4] == "/run/notify" for line in out.splitlines() if len(line.split()) > 4), out
    assert host.texts() == []


@pytest.mark.skiff_only(reason="runc binds its socket in start whatever create did and fails")
def test_start_without_notify_directory_is_unchanged(rt, bundle, sender, host):
    # Created without NOTIFY_SOCKET: a start that has one relays nothing and does not wait.
    with_sender(bundle, sender, "sleep 100")
    cid, _ = rt.create(bundle)
    t0 = time.monotonic()
    rt.run(["start", cid], env=notify_env(host), timeout=20)
    assert time.monotonic() - t0 < 5
    assert rt.state(cid)["status"] == "running"
    rt.delete(cid, force=True)


@pytest.mark.skiff_only(reason="runc execs the process first and fails only when it dials the host")
def test_unreachable_host_socket_fails_start_before_the_process_runs(rt, bundle, sender, host, workdir):
    with_sender(bundle, sender, "touch /ran; sleep 100")
    cid, _ = rt.create(bundle, env=notify_env(host))
    bad = dict(os.environ, NOTIFY_SOCKET=os.path.join(workdir, "missing.sock"))
    res = rt.run(["start", cid], env=bad, check=False)
    assert res.returncode != 0
    assert "NOTIFY_SOCKET" in res.stderr and "missing.sock" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert rt.state(cid)["status"] == "created"
    assert not os.path.exists(bundle.in_rootfs("ran"))
    rt.delete(cid, force=True)
    assert os.listdir(rt.root) == []


@pytest.mark.skiff_only(reason="runc's foreground run holds signals back until READY")
def test_foreground_run_forwards_signals_while_waiting_for_ready(rt, bundle, sender, host, workdir):
    with_sender(bundle, sender, "echo $NOTIFY_SOCKET > /report; trap 'exit 7' TERM; "
                                "while true; do sleep 0.1; done")
    bundle.write()
    pid_file = os.path.join(workdir, "runtime.pid")
    cid = rt.new_id()

    def stop_it():  # a stop before READY (systemctl stop, ^C) reaches the container
        deadline = time.monotonic() + 10
        while not os.path.exists(bundle.in_rootfs("report")) and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(pid_file) as f:
            os.kill(int(f.read()), signal.SIGTERM)

    killer = threading.Thread(target=stop_it)
    killer.start()
    res = rt.run(["run", "--bundle", bundle.path, cid], check=False, env=notify_env(host), timeout=20,
                 prefix=["sh", "-c", f'echo $$ > {pid_file}; exec "$@"', "sh"])
    killer.join()
    assert res.returncode == 7, res
    with open(bundle.in_rootfs("report")) as f:
        assert f.read() == "/run/notify/notify.sock\n"
    assert host.texts() == []


@pytest.mark.skiff_only(reason="runc relays its pty in goroutines; this checks skiff's single loop")
def test_foreground_run_relays_its_terminal_while_waiting_for_ready(rt, bundle, sender, host):
    # 100 KB on the terminal before READY: more than a pty holds, so an unrelayed pty stalls it.
    with_sender(bundle, sender, "seq 1 20000; /notify READY=1; echo after-ready; exit 4")
    bundle.config["process"]["terminal"] = True
    bundle.write()
    cid = rt.new_id()
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["NOTIFY_SOCKET"] = host.path
        os.execv(rt.binary, [rt.binary, "--root", rt.root, "run", "--bundle", bundle.path, cid])
    out = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], 1)[0]:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the runtime closed the terminal
            break
        if not data:
            break
        out += data
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 4, out[-200:]
    assert b"20000" in out and b"after-ready" in out
    assert host.wait_for(2)[:2] == ["READY=1\n", f"MAINPID={pid}\n"]
