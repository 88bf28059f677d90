"""containerd driving the runtime through its runc shim (io.containerd.runc.v2): `ctr run
--runc-binary <runtime>` for single containers, and a pod over the CRI with the runtime handler
registered by contrib/containerd/skiff-runtime.toml, as a Kubernetes RuntimeClass names it.
containerd runs on this session's own root, state dir and sockets."""

import contextlib
import json
import os
import re
import shutil
import signal
import time

import pytest

from conftest import REPO, require
from helpers import Daemon, read_cgroup, run, wait_until, write_oci_archive

IMAGE = "docker.io/skiff/busybox:latest"
PAUSE = "docker.io/skiff/pause:1"
SNIPPET = os.path.join(REPO, "contrib", "containerd", "skiff-runtime.toml")
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def config_toml(base, runtime):
    with open(SNIPPET) as f:
        snippet = f.read()
    # The snippet as shipped, pointed at the binary under test.
    snippet, n = re.subn(r'BinaryName = "[^"]*"', f'BinaryName = "{runtime}"', snippet)
    assert n == 1, "contrib/containerd/skiff-runtime.toml lost its BinaryName line"
    return f"""version = 2
root = "{base}/root"
state = "{base}/state"

[grpc]
  address = "{base}/containerd.sock"
[ttrpc]
  address = "{base}/containerd.sock.ttrpc"
[debug]
  address = "{base}/debug.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "{base}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # The sandbox asks for oom_score_adj -998; lowering it needs CAP_SYS_RESOURCE, which this
  # host's bounding set lacks (every runtime fails). Keep it at containerd's own value.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{base}/cni/bin"
    conf_dir = "{base}/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
  # The default handler points nowhere: a pod only starts if the "skiff" handler is used.
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      BinaryName = "/nonexistent/default-runtime"

{snippet}
"""


class Containerd:
    def __init__(self, base, runtime, namespace):
        self.base = base
        self.runtime = runtime
        self.namespace = namespace
        self.address = f"{base}/containerd.sock"
        self.daemon = None

    def ctr(self, *args, namespace=None, check=True, timeout=60):
        return run(["ctr", "--address", self.address, "--namespace",
                    namespace or self.namespace, *args], check=check, timeout=timeout)

    def run(self, name, cmd, opts=(), check=False, timeout=60):
        return self.ctr("run", "--rm", "--runc-binary", self.runtime, *opts, IMAGE, name, *cmd,
                        check=check, timeout=timeout)

    @contextlib.contextmanager
    def detached(self, name, cmd, opts=()):
        self.ctr("run", "-d", "--runc-binary", self.runtime, *opts, IMAGE, name, *cmd)
        try:
            yield name
        finally:
            self.remove(name)

    def remove(self, name):
        self.ctr("task", "kill", "-s", "SIGKILL", name, check=False)
        wait_until(lambda: self.task_status(name) in (None, "STOPPED"), timeout=20,
                   what=f"task {name} to stop")
        self.ctr("task", "delete", name, check=False)
        self.ctr("container", "delete", name, check=False)

    def tasks(self, namespace=None):
        """task name -> (pid, status) from `ctr task ls`."""
        out = self.ctr("task", "ls", namespace=namespace).stdout.splitlines()[1:]
        return {f[0]: (int(f[1]), f[2]) for f in (l.split() for l in out) if len(f) >= 3}

    def task_status(self, name):
        return self.tasks().get(name, (0, None))[1]

    def task_pid(self, name):
        return self.tasks()[name][0]


def shim_pids(base):
    """Shims this session's containerd started (they leave its process group on purpose)."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"containerd-shim-runc-v2") and \
                    f"{base}/containerd.sock".encode() in cmd:
                pids.append(int(d))
    return pids


@contextlib.contextmanager
def containerd_session(base, runtime, token, rootfs_tar, systemd_cgroup=False, settled=None):
    """A containerd on its own root and socket under `base`, with the busybox and pause images
    in the test's namespace and in k8s.io; stopped, and its shims and state removed, after.
    systemd_cgroup: the runc shim's SystemdCgroup (the kubeadm default), for a systemd host."""
    for d in ("root", "state", "opt", "cni/bin", "cni/conf", "logs"):
        os.makedirs(os.path.join(base, d), exist_ok=True)
    text = config_toml(base, runtime)
    if systemd_cgroup:
        assert "SystemdCgroup = false" in text
        text = text.replace("SystemdCgroup = false", "SystemdCgroup = true")
    with open(os.path.join(base, "config.toml"), "w") as f:
        f.write(text)
    c = Containerd(base, runtime, token)
    c.daemon = Daemon("containerd", ["containerd", "--config", f"{base}/config.toml"],
                      f"{base}/containerd.log")
    try:
        c.daemon.wait_for_socket(c.address)
        if settled:
            settled()
        with open(rootfs_tar, "rb") as f:
            layer = f.read()
        archive = os.path.join(base, "busybox-oci.tar")
        write_oci_archive(archive, {
            IMAGE: {"Env": [PATH_ENV], "Cmd": ["/bin/sh"]},
            PAUSE: {"Env": [PATH_ENV], "Entrypoint": ["/bin/sleep"], "Cmd": ["100000"]},
        }, layer)
        for ns in (token, "k8s.io"):
            c.ctr("images", "import", archive, namespace=ns, timeout=120)
        yield c
    finally:
        for name in c.tasks().keys() if c.daemon.proc.poll() is None else []:
            c.remove(name)
        for name in c.ctr("containers", "ls", "-q", check=False).stdout.split():
            c.ctr("container", "delete", name, check=False)
        c.daemon.stop()
        for pid in shim_pids(base):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # The runc shim keeps runtime state under /run/containerd/runc/<namespace>.
        for ns in (token, "k8s.io"):
            try:
                os.rmdir(f"/run/containerd/runc/{ns}")
            except OSError:
                pass
        run(["umount", f"{base}/root/io.containerd.snapshotter.v1.overlayfs"], check=False)
        print(c.daemon.log_text()[-3000:] if os.environ.get("SKIFF_CLIENTS_LOGS") else "")


@pytest.fixture(scope="module")
def ctrd(clients_installed, settled, runtime, session_dir, token, rootfs_tar):
    require("containerd", "ctr", "containerd-shim-runc-v2")
    with containerd_session(os.path.join(session_dir, "containerd"), runtime, token, rootfs_tar,
                            settled=settled) as c:
        yield c


# --- ctr ------------------------------------------------------------------------------------

def test_ctr_run_rm_output_and_exit_code(ctrd):
    p = ctrd.run("rm-output", ["sh", "-c", "echo hello from ctr; exit 3"])
    assert (p.returncode, p.stdout) == (3, "hello from ctr\n"), p.stderr
    assert "rm-output" not in ctrd.ctr("containers", "ls", "-q").stdout.split()


def test_ctr_run_env_cwd(ctrd):
    p = ctrd.run("settings", ["sh", "-c", 'echo "$GREETING $(pwd)"'],
                 opts=["--env", "GREETING=hi", "--cwd", "/tmp"])
    assert (p.returncode, p.stdout) == (0, "hi /tmp\n"), p.stderr


def test_ctr_run_missing_executable_fails(ctrd):
    p = ctrd.run("missing-exe", ["/no/such/binary"])
    assert p.returncode != 0
    assert "no such file or directory" in p.stderr or "not found" in p.stderr, p.stderr
    ctrd.ctr("container", "delete", "missing-exe", check=False)


def test_ctr_detached_task_exec(ctrd):
    with ctrd.detached("exec-target", ["sleep", "300"]) as name:
        assert ctrd.task_status(name) == "RUNNING"
        p = ctrd.ctr("task", "exec", "--exec-id", "e1", name, "sh", "-c",
                     "echo $((6 * 7)); exit 4", check=False)
        assert (p.returncode, p.stdout) == (4, "42\n"), p.stderr
        p = ctrd.ctr("task", "exec", "--exec-id", "e2", "--cwd", "/etc", name, "pwd",
                     check=False)
        assert (p.returncode, p.stdout) == (0, "/etc\n"), p.stderr


def test_ctr_task_ps(ctrd):
    # The shim answers `ps` by calling the runtime's own `ps --format json`.
    with ctrd.detached("ps-target", ["sh", "-c", "sleep 300 & wait"]) as name:
        pid = ctrd.task_pid(name)
        rows = ctrd.ctr("task", "ps", name).stdout.split()
        pids = [int(x) for x in rows if x.isdigit()]
        assert pid in pids and len(pids) >= 2, rows


def test_ctr_task_metrics(ctrd):
    with ctrd.detached("metrics-target", ["sleep", "300"], opts=["--memory-limit", "67108864"]) as name:
        out = ctrd.ctr("task", "metrics", name).stdout
        assert "memory.usage_in_bytes" in out or "memory.usage" in out, out
        assert "pids.current" in out, out
        assert read_cgroup(ctrd.task_pid(name), "memory", "memory.limit_in_bytes") == "67108864"


def test_ctr_task_kill(ctrd):
    with ctrd.detached("kill-target", ["sh", "-c", "trap 'exit 9' USR1; while :; do sleep 0.1; done"]) as name:
        ctrd.ctr("task", "kill", "-s", "SIGUSR1", name)
        wait_until(lambda: ctrd.task_status(name) == "STOPPED", what="the task to stop")
        p = ctrd.ctr("task", "delete", name)
        # ctr reports the task's exit status as a warning on stderr and exits 0
        assert f"task {name} exit with non-zero exit code 9" in p.stderr, p.stderr
    with ctrd.detached("kill-target2", ["sleep", "300"]) as name:
        pid = ctrd.task_pid(name)
        ctrd.ctr("task", "kill", "-s", "SIGKILL", name)
        wait_until(lambda: ctrd.task_status(name) == "STOPPED", what="the task to stop")
        assert not os.path.exists(f"/proc/{pid}/cmdline") or open(
            f"/proc/{pid}/cmdline").read() == ""


def test_ctr_task_pause_resume(ctrd):
    with ctrd.detached("pause-target", ["sleep", "300"]) as name:
        pid = ctrd.task_pid(name)
        ctrd.ctr("task", "pause", name)
        assert ctrd.task_status(name) == "PAUSED"
        assert read_cgroup(pid, "freezer", "freezer.state") == "FROZEN"
        ctrd.ctr("task", "resume", name)
        assert ctrd.task_status(name) == "RUNNING"
        assert read_cgroup(pid, "freezer", "freezer.state") == "THAWED"


# --- the runtime handler from contrib/containerd (what a RuntimeClass names) ---------------

def test_cri_pod_with_registered_runtime_handler(ctrd, token):
    import cri
    base = ctrd.base
    svc = cri.RuntimeService(ctrd.address)
    pods = []
    try:
        name, version = svc.version()
        assert name == "containerd", name
        # The default handler's binary does not exist: without the handler nothing starts.
        default_cfg = svc.sandbox_config("default-pod", "uid-default", f"{base}/logs",
                                         f"/{token}_cri")
        with pytest.raises(Exception):
            pods.append(svc.run_pod(default_cfg, ""))

        cfg = svc.sandbox_config("skiff-pod", "uid-skiff", f"{base}/logs", f"/{token}_cri")
        pod = svc.run_pod(cfg, "skiff")
        pods.append(pod)
        status, info = svc.pod_status(pod)
        assert cri.first(status, 3, 0) == 0, "sandbox is not ready"  # SANDBOX_READY
        assert json.loads(info["info"])["runtimeHandler"] == "skiff"

        cid = svc.create_container(pod, cfg, "hello", IMAGE,
                                   ["sh", "-c", "echo hello from the skiff handler; exit 6"],
                                   "hello.log")
        svc.start_container(cid)
        st = wait_until(lambda: (lambda s: s if s["state"] == cri.CONTAINER_EXITED else None)(
            svc.container_status(cid)[0]), timeout=30, what="the CRI container to exit")
        assert st["exit_code"] == 6, st
        _, info = svc.container_status(cid)
        opts = json.loads(info["info"])["runtimeOptions"]
        assert opts.get("binary_name") == ctrd.runtime, opts
        with open(f"{base}/logs/hello.log") as f:
            assert "stdout F hello from the skiff handler" in f.read()
        svc.remove_container(cid)
    finally:
        for pod in pods:
            try:
                svc.stop_pod(pod)
                svc.remove_pod(pod)
            except Exception:
                pass
        svc.close()


# --- more ctr scenarios ---------------------------------------------------------------------

def test_ctr_run_read_only_and_mount(ctrd):
    host = os.path.join(ctrd.base, "ctr-mount")
    os.makedirs(host, exist_ok=True)
    with open(os.path.join(host, "in.txt"), "w") as f:
        f.write("from host\n")
    p = ctrd.run("ro-mount", ["sh", "-c", "cat /data/in.txt; touch /etc/x 2>/dev/null || "
                                          "echo root-refused; touch /data/y 2>/dev/null || "
                                          "echo data-refused"],
                 opts=["--read-only", "--mount",
                       f"type=bind,src={host},dst=/data,options=rbind:ro"])
    assert (p.returncode, p.stdout) == (0, "from host\nroot-refused\ndata-refused\n"), p.stderr


def test_ctr_run_env_file(ctrd):
    env = os.path.join(ctrd.base, "ctr.env")
    with open(env, "w") as f:
        f.write("ONE=1\nTWO=two\n")
    p = ctrd.run("envfile", ["sh", "-c", 'echo "$ONE $TWO"'], opts=["--env-file", env])
    assert (p.returncode, p.stdout) == (0, "1 two\n"), p.stderr


def test_ctr_run_caps_and_privileged(ctrd):
    p = ctrd.run("caps", ["grep", "CapEff", "/proc/self/status"],
                 opts=["--cap-drop", "CAP_CHOWN"])
    caps = int(p.stdout.split()[1], 16)
    assert p.returncode == 0 and not caps & 1 and caps & (1 << 5), p.stdout  # no CHOWN, KILL
    p = ctrd.run("priv", ["sh", "-c", "mount -t tmpfs none /mnt && echo mounted; ls /dev"],
                 opts=["--privileged"])
    assert p.returncode == 0 and p.stdout.startswith("mounted\n"), p.stderr
    assert "kmsg" in p.stdout.split(), p.stdout


def test_ctr_run_seccomp_default(ctrd):
    p = ctrd.run("seccomp", ["grep", "Seccomp:", "/proc/self/status"], opts=["--seccomp"])
    assert (p.returncode, p.stdout.split()) == (0, ["Seccomp:", "2"]), p.stderr
    p = ctrd.run("noseccomp", ["grep", "Seccomp:", "/proc/self/status"])
    assert p.stdout.split() == ["Seccomp:", "0"], p.stdout


def test_ctr_run_cpu_limits(ctrd):
    with ctrd.detached("cpu-target", ["sleep", "300"],
                       opts=["--cpu-quota", "25000", "--cpu-period", "100000",
                             "--cpu-shares", "300"]) as name:
        pid = ctrd.task_pid(name)
        assert read_cgroup(pid, "cpu", "cpu.cfs_quota_us") == "25000"
        assert read_cgroup(pid, "cpu", "cpu.cfs_period_us") == "100000"
        assert read_cgroup(pid, "cpu", "cpu.shares") == "300"


def test_ctr_run_joins_another_tasks_network(ctrd):
    with ctrd.detached("netns-owner", ["sleep", "300"]) as owner:
        pid = ctrd.task_pid(owner)
        netns = os.readlink(f"/proc/{pid}/ns/net")
        p = ctrd.run("netns-joiner", ["readlink", "/proc/self/ns/net"],
                     opts=["--with-ns", f"network:/proc/{pid}/ns/net"])
        assert (p.returncode, p.stdout.strip()) == (0, netns), p.stderr
        assert netns != os.readlink("/proc/self/ns/net")
    p = ctrd.run("net-host", ["readlink", "/proc/self/ns/net"], opts=["--net-host"])
    assert p.stdout.strip() == os.readlink("/proc/self/ns/net"), p.stdout


def test_ctr_task_kill_all_and_exec_user(ctrd):
    with ctrd.detached("killall-target", ["sh", "-c", "sleep 300 & sleep 301 & wait"]) as name:
        p = ctrd.ctr("task", "exec", "--exec-id", "u1", "--user", "1000", name, "id", "-u",
                     check=False)
        assert (p.returncode, p.stdout) == (0, "1000\n"), p.stderr
        ctrd.ctr("task", "kill", "--all", "-s", "SIGKILL", name)
        wait_until(lambda: ctrd.task_status(name) == "STOPPED", what="the task to stop")


def test_ctr_run_tty_through_script(ctrd):
    # ctr -t needs a terminal of its own: script(1) gives it one.
    cmd = (f"ctr --address {ctrd.address} --namespace {ctrd.namespace} run --rm -t "
           f"--runc-binary {ctrd.runtime} {IMAGE} tty-run sh -c 'tty; test -t 1 && echo is-tty'")
    p = run(["script", "-qec", cmd, "/dev/null"], check=False, timeout=60)
    # script echoes a stray ^@ from its own terminal ahead of the container's output.
    lines = [l.strip().lstrip("^@") for l in p.stdout.replace("\r", "").splitlines()]
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert [l for l in lines if l][:2] == ["/dev/pts/0", "is-tty"], p.stdout
