"""docker driving the runtime: a dockerd of this session's own (data root, exec root, socket,
daemon.json with the runtime registered as "skiff"), no bridge and no iptables, and
`docker run --runtime skiff --network none` for the basic scenarios."""

import contextlib
import json
import os
import resource
import signal
import time

import pytest

from conftest import require
from helpers import Daemon, read_cgroup, run, wait_until

IMAGE = "skiff/busybox:latest"
DOCKER = "/usr/bin/docker"  # Debian's client, matching its dockerd


class Docker:
    def __init__(self, base):
        self.base = base
        self.host = f"unix://{base}/docker.sock"
        self.env = dict(os.environ, DOCKER_CONFIG=f"{base}/cli")

    def __call__(self, *args, check=True, timeout=60):
        return run([DOCKER, "-H", self.host, *args], env=self.env, check=check,
                   timeout=timeout)

    def run(self, opts, cmd, check=False, timeout=60):
        return self("run", "--rm", "--runtime", "skiff", "--network", "none", *opts, IMAGE,
                    *cmd, check=check, timeout=timeout)

    @contextlib.contextmanager
    def detached(self, opts, cmd):
        cid = self("run", "-d", "--runtime", "skiff", "--network", "none", *opts, IMAGE,
                   *cmd).stdout.strip()
        try:
            yield cid
        finally:
            self("rm", "-f", cid, check=False)

    def inspect(self, cid):
        return json.loads(self("inspect", cid).stdout)[0]


def leftover_pids(base):
    """Shims (and their containerd) that dockerd started under this session's exec root."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if b"containerd" in cmd.split(b"\0")[0] and base.encode() in cmd:
                pids.append(int(d))
    return pids


@pytest.fixture(scope="module")
def dk(clients_installed, runtime, session_dir, token, rootfs_tar):
    require("dockerd", DOCKER, "containerd")
    base = os.path.join(session_dir, "docker")
    for d in ("data", "exec", "cli"):
        os.makedirs(os.path.join(base, d), exist_ok=True)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    with open(f"{base}/daemon.json", "w") as f:
        json.dump({"runtimes": {"skiff": {"path": runtime}}}, f)
    args = ["dockerd", "--config-file", f"{base}/daemon.json",
            "--data-root", f"{base}/data", "--exec-root", f"{base}/exec",
            "--pidfile", f"{base}/docker.pid", "-H", f"unix://{base}/docker.sock",
            # No bridge, no iptables, no forwarding: the host's network stays untouched.
            "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
            "--ip-masq=false",
            "--exec-opt", "native.cgroupdriver=cgroupfs", "--cgroup-parent", f"/{token}_docker",
            "--storage-driver", "overlay2",
            # docker's own default (nofile 1048576) is above this host's hard limit, which
            # a bounding set without CAP_SYS_RESOURCE cannot raise: stay at the host's.
            "--default-ulimit", f"nofile={nofile}:{nofile}",
            "--default-ulimit", f"nproc={nproc}:{nproc}"]
    d = Docker(base)
    daemon = Daemon("dockerd", args, f"{base}/dockerd.log")
    try:
        daemon.wait_for_socket(f"{base}/docker.sock", timeout=60)
        d("import", "--change", 'CMD ["/bin/sh"]', rootfs_tar, IMAGE, timeout=120)
        yield d
    finally:
        if daemon.proc.poll() is None:
            ids = d("ps", "-a", "-q", check=False).stdout.split()
            if ids:
                d("rm", "-f", *ids, check=False)
        daemon.stop(grace=20)
        for pid in leftover_pids(base):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # overlay2 keeps its home as a private bind mount while the daemon runs.
        run(["umount", f"{base}/data/overlay2"], check=False)


def test_run_output_and_exit_code(dk):
    p = dk.run([], ["sh", "-c", "echo hello from docker; echo to-stderr >&2; exit 3"])
    assert (p.returncode, p.stdout) == (3, "hello from docker\n"), p.stderr
    assert "to-stderr" in p.stderr


def test_missing_executable_is_127(dk):
    # docker maps the runtime's "executable file not found" to 127.
    p = dk.run([], ["/no/such/binary"])
    assert p.returncode == 127, p.stderr


def test_env_workdir_user(dk):
    p = dk.run(["-e", "GREETING=hi", "-w", "/tmp", "--user", "1000:1000"],
               ["sh", "-c", 'echo "$GREETING $(pwd) $(id -u):$(id -g)"'])
    assert (p.returncode, p.stdout) == (0, "hi /tmp 1000:1000\n"), p.stderr


def test_read_only_and_cap_drop(dk):
    p = dk.run(["--read-only"], ["touch", "/etc/x"])
    assert p.returncode != 0 and "Read-only file system" in p.stderr, p.stderr
    p = dk.run(["--cap-drop", "ALL"], ["grep", "CapEff", "/proc/self/status"])
    assert p.returncode == 0 and p.stdout.split()[1] == "0000000000000000", p.stdout


def test_runtime_is_the_one_registered(dk):
    with dk.detached([], ["sleep", "300"]) as cid:
        info = dk.inspect(cid)
        assert info["HostConfig"]["Runtime"] == "skiff"
        assert info["State"]["Running"]


def test_detached_exec_and_stop(dk):
    with dk.detached([], ["sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done"]) as cid:
        p = dk("exec", cid, "sh", "-c", "echo $((6 * 7)); exit 4", check=False)
        assert (p.returncode, p.stdout) == (4, "42\n"), p.stderr
        t = time.monotonic()
        dk("stop", "-t", "20", cid)
        assert time.monotonic() - t < 10
        assert dk.inspect(cid)["State"]["ExitCode"] == 7


def test_kill_and_pause(dk):
    with dk.detached([], ["sleep", "300"]) as cid:
        pid = dk.inspect(cid)["State"]["Pid"]
        dk("pause", cid)
        assert dk.inspect(cid)["State"]["Status"] == "paused"
        assert read_cgroup(pid, "freezer", "freezer.state") == "FROZEN"
        dk("unpause", cid)
        assert dk.inspect(cid)["State"]["Status"] == "running"
        dk("kill", cid)
        assert dk("wait", cid).stdout.strip() == "137"


def test_memory_limit_and_oom(dk):
    with dk.detached(["--memory", "32m"], ["sleep", "300"]) as cid:
        pid = dk.inspect(cid)["State"]["Pid"]
        assert read_cgroup(pid, "memory", "memory.limit_in_bytes") == str(32 << 20)
    p = dk.run(["--memory", "32m"], ["tail", "/dev/zero"], timeout=120)
    assert p.returncode == 137, p.stderr
