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
def dk(clients_installed, settled, runtime, session_dir, token, rootfs_tar):
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
        settled()
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


# --- more of what docker users run -----------------------------------------------------------

def status_of(text, name):
    return next(l.split(":", 1)[1].strip() for l in text.splitlines()
                if l.startswith(name + ":"))


def test_exec_settings_detach_and_errors(dk):
    with dk.detached([], ["sleep", "300"]) as cid:
        p = dk("exec", "-e", "X=y", "-w", "/etc", "-u", "1000:1000", cid,
               "sh", "-c", 'echo "$X $(pwd) $(id -u):$(id -g)"', check=False)
        assert (p.returncode, p.stdout) == (0, "y /etc 1000:1000\n"), p.stderr
        # docker exec reports any start failure as 126 (run says 127), with the runtime's text.
        p = dk("exec", cid, "nosuchcmd", check=False)
        assert p.returncode == 126 and "executable file not found" in p.stdout + p.stderr, p
        dk("exec", "-d", cid, "sh", "-c", "sleep 0.2; echo bg > /tmp/bg")
        pid = dk.inspect(cid)["State"]["Pid"]
        wait_until(lambda: os.path.exists(f"/proc/{pid}/root/tmp/bg"), what="exec -d's file")
        p = run([DOCKER, "-H", dk.host, "exec", "-i", cid, "tr", "a-z", "A-Z"], env=dk.env,
                input="piped\n")
        assert p.stdout == "PIPED\n", p.stderr


def test_run_stdin(dk):
    p = run([DOCKER, "-H", dk.host, "run", "--rm", "-i", "--runtime", "skiff", "--network",
             "none", IMAGE, "sh", "-c", "read line; echo got:$line"], env=dk.env,
            input="hello\n", check=False)
    assert (p.returncode, p.stdout) == (0, "got:hello\n"), p.stderr


def test_top_and_stats(dk):
    with dk.detached(["--memory", "48m"], ["sh", "-c", "sleep 300 & wait"]) as cid:
        out = dk("top", cid).stdout
        assert "sleep 300" in out, out
        stats = json.loads(dk("stats", "--no-stream", "--format", "{{json .}}", cid).stdout)
        assert stats["MemUsage"].endswith(" / 48MiB"), stats
        assert int(stats["PIDs"]) == 2, stats  # sh and sleep


def test_update_resources(dk):
    with dk.detached(["--memory", "64m"], ["sleep", "300"]) as cid:
        pid = dk.inspect(cid)["State"]["Pid"]
        dk("update", "--memory", "96m", "--memory-swap", "192m", "--pids-limit", "40",
           "--cpu-shares", "256", cid)
        assert read_cgroup(pid, "memory", "memory.limit_in_bytes") == str(96 << 20)
        assert read_cgroup(pid, "pids", "pids.max") == "40"
        assert read_cgroup(pid, "cpu", "cpu.shares") == "256"
        assert dk.inspect(cid)["HostConfig"]["Memory"] == 96 << 20


def test_restart(dk):
    with dk.detached([], ["sleep", "300"]) as cid:
        old = dk.inspect(cid)["State"]["Pid"]
        dk("restart", "-t", "0", cid)
        state = dk.inspect(cid)["State"]
        assert state["Running"] and state["Pid"] != old
        assert dk("exec", cid, "echo", "back").stdout == "back\n"


def test_init_reaps_and_forwards(dk):
    p = dk.run(["--init"], ["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$"])
    assert p.returncode == 0, p.stderr
    pid1, sh_pid = p.stdout.splitlines()
    assert "docker-init" in pid1 or "tini" in pid1, pid1
    assert sh_pid != "1"
    with dk.detached(["--init"], ["sh", "-c", "trap 'exit 12' TERM; while :; do sleep 0.1; done"]) as cid:
        dk("stop", "-t", "20", cid)
        assert dk.inspect(cid)["State"]["ExitCode"] == 12


def test_tmpfs_and_read_only(dk):
    p = dk.run(["--read-only", "--tmpfs", "/scratch:size=1m"],
               ["sh", "-c", "grep ' /scratch ' /proc/mounts; touch /scratch/ok && echo ok; "
                            "touch /etc/no 2>/dev/null || echo refused"])
    assert p.returncode == 0, p.stderr
    mount, ok, refused = p.stdout.splitlines()
    assert mount.startswith("tmpfs /scratch tmpfs ") and "size=1024k" in mount, mount
    assert (ok, refused) == ("ok", "refused")


def test_oom_kill_disable(dk):
    with dk.detached(["--memory", "32m", "--oom-kill-disable"], ["sleep", "300"]) as cid:
        pid = dk.inspect(cid)["State"]["Pid"]
        ctl = dict(l.split() for l in read_cgroup(pid, "memory", "memory.oom_control").splitlines())
        assert ctl["oom_kill_disable"] == "1", ctl


def test_limits_pids_cpus(dk):
    with dk.detached(["--pids-limit", "25", "--cpus", "0.5", "--cpu-shares", "512",
                      "--cpuset-cpus", "0"], ["sleep", "300"]) as cid:
        pid = dk.inspect(cid)["State"]["Pid"]
        assert read_cgroup(pid, "pids", "pids.max") == "25"
        period = int(read_cgroup(pid, "cpu", "cpu.cfs_period_us"))
        assert int(read_cgroup(pid, "cpu", "cpu.cfs_quota_us")) == period // 2
        assert read_cgroup(pid, "cpu", "cpu.shares") == "512"
        assert read_cgroup(pid, "cpuset", "cpuset.cpus") == "0"


def test_sysctl_ulimit_hostname(dk):
    p = dk.run(["--sysctl", "kernel.shm_rmid_forced=1", "--ulimit", "nofile=256:512",
                "--hostname", "dock-box"],
               ["sh", "-c", "cat /proc/sys/kernel/shm_rmid_forced; ulimit -Sn; ulimit -Hn; "
                            "hostname"])
    assert (p.returncode, p.stdout) == (0, "1\n256\n512\ndock-box\n"), p.stderr


def test_security_options(dk):
    p = dk.run(["--security-opt", "no-new-privileges"], ["cat", "/proc/self/status"])
    assert p.returncode == 0 and status_of(p.stdout, "NoNewPrivs") == "1", p.stderr
    assert status_of(p.stdout, "Seccomp") == "2"  # docker's default profile
    p = dk.run(["--security-opt", "seccomp=unconfined"], ["cat", "/proc/self/status"])
    assert status_of(p.stdout, "Seccomp") == "0", p.stdout
    # (--privileged asks for every capability, CAP_SYS_RESOURCE too, which this host's
    # bounding set lacks: it fails with any runtime here.)
    p = dk.run(["--cap-add", "SYS_ADMIN", "--security-opt", "apparmor=unconfined"],
               ["sh", "-c", "mount -t tmpfs none /mnt && echo mounted"])
    assert (p.returncode, p.stdout) == (0, "mounted\n"), p.stderr


def test_device_and_cap_add(dk):
    p = dk.run(["--device", "/dev/zero:/dev/dzero", "--cap-drop", "ALL", "--cap-add", "NET_ADMIN"],
               ["sh", "-c", "head -c 3 /dev/dzero | wc -c; grep CapEff /proc/self/status"])
    assert p.returncode == 0, p.stderr
    count, caps = p.stdout.splitlines()
    assert count.strip() == "3" and int(caps.split()[1], 16) == 1 << 12, p.stdout


def test_host_namespaces(dk):
    p = dk.run(["--pid", "host", "--ipc", "host", "--uts", "host"],
               ["sh", "-c", "for n in pid ipc uts; do readlink /proc/self/ns/$n; done"])
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [os.readlink(f"/proc/self/ns/{n}") for n in ("pid", "ipc", "uts")]


def test_create_start_attach_logs_wait(dk):
    cid = dk("create", "--runtime", "skiff", "--network", "none", IMAGE, "sh", "-c",
             "echo out-line; echo err-line >&2; exit 5").stdout.strip()
    try:
        assert dk.inspect(cid)["State"]["Status"] == "created"
        p = dk("start", "-a", cid, check=False)
        assert p.returncode == 5 and "out-line" in p.stdout, (p.stdout, p.stderr)
        assert dk("wait", cid).stdout.strip() == "5"
        logs = dk("logs", cid)
        assert "out-line" in logs.stdout and "err-line" in logs.stderr
    finally:
        dk("rm", "-f", cid, check=False)


def test_events_start_and_die(dk):
    since = str(int(time.time()) - 1)
    with dk.detached([], ["sh", "-c", "exit 2"]) as cid:
        assert dk("wait", cid).stdout.strip() == "2"
        out = dk("events", "--since", since, "--until", str(int(time.time()) + 1), "--filter",
                 f"container={cid}", "--format", "{{.Action}} {{index .Actor.Attributes \"exitCode\"}}"
                 ).stdout.splitlines()
        assert "start " in out and "die 2" in out, out
