"""podman and containerd driving skiff with the systemd cgroup driver, as they do on systemd
hosts by default (podman's cgroup_manager = "systemd", kubeadm's SystemdCgroup = true). Runs in
the systemd guest (tests/vm/test-systemd.sh); each container must become a scope under the
client's slice, carry its limits as unit properties and cgroup files, and leave nothing."""

import json
import os
import subprocess
import tomllib

import pytest

from conftest import require
from helpers import run, wait_until
import podman_env
import test_containerd as tc

pytestmark = pytest.mark.skipif(not os.path.isdir("/run/systemd/system"),
                                reason="needs a host that systemd runs (tests/vm/test-systemd.sh)")
MiB = 1 << 20


def show(unit, *props):
    out = subprocess.run(["systemctl", "show", unit, *(f"--property={p}" for p in props)],
                         check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def scope_cgroup(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        path = f.read().strip().split("::", 1)[1]
    return path, os.path.basename(path)


def cgfile(path, name):
    with open(f"/sys/fs/cgroup{path}/{name}") as f:
        return f.read().strip()


# --- podman --cgroup-manager systemd ----------------------------------------------------------

@pytest.fixture(scope="module")
def pms(clients_installed, runtime, session_dir, token, rootfs_tar):
    require("podman", "conmon")
    base = os.path.join(session_dir, "podman-systemd")
    for d in ("root", "runroot", "tmp", "net", "volumes", "copytmp"):
        os.makedirs(os.path.join(base, d), exist_ok=True)
    with open(podman_env.DROPIN, "rb") as f:
        conf = tomllib.load(f)
    podman_env.merge(conf, {"engine": {
        "lock_type": "file", "events_logger": "file", "events_logfile_path": f"{base}/events.log",
        "tmp_dir": f"{base}/tmp", "volume_path": f"{base}/volumes",
        "image_copy_tmp_dir": f"{base}/copytmp", "runtimes": {"skiff": [runtime]}},
        "network": {"network_config_dir": f"{base}/net", "network_backend": "netavark"}})
    conf_path = os.path.join(base, "containers.conf")
    with open(conf_path, "w") as f:
        f.write(podman_env.toml_dump(conf))
    slice_ = f"{token}podman.slice"
    p = podman_env.Podman(base, runtime, conf_path, slice_, "netavark")
    p.globals[p.globals.index("cgroupfs")] = "systemd"
    try:
        p("import", rootfs_tar, podman_env.IMAGE)
        yield p
    finally:
        p("rm", "-a", "-f", "-t", "0", check=False)
        run(["umount", f"{base}/root/overlay"], check=False)
        run(["systemctl", "stop", slice_], check=False)


def test_podman_systemd_lifecycle(pms):
    opts = ["--memory", "64m", "--cpus", "0.5", "--pids-limit", "50"]
    with pms.detached(opts, ["sleep", "1000"]) as cid:
        pid = pms.pid(cid)
        path, unit = scope_cgroup(pid)
        assert unit == f"libpod-{cid}.scope", path
        assert path.startswith(f"/{pms.cgroup_parent}/"), path
        props = show(unit, "ActiveState", "MemoryMax", "TasksMax", "CPUQuotaPerSecUSec", "Delegate")
        assert props == {"ActiveState": "active", "MemoryMax": str(64 * MiB), "TasksMax": "50",
                         "CPUQuotaPerSecUSec": "500ms", "Delegate": "yes"}, props
        assert cgfile(path, "memory.max") == str(64 * MiB)
        assert cgfile(path, "pids.max") == "50"
        assert cgfile(path, "cpu.max") == "50000 100000"
        p = pms("exec", cid, "sh", "-c", "echo $((6 * 7))")
        assert p.stdout.strip() == "42"
        stats = json.loads(pms("stats", "--no-stream", "--format", "json", cid).stdout)
        assert stats and stats[0]["id"].startswith(cid[:12]), stats
        pms("pause", cid)
        assert pms.inspect(cid)["State"]["Status"] == "paused"
        assert "frozen 1" in cgfile(path, "cgroup.events")
        pms("unpause", cid)
        pms("stop", "-t", "1", cid)
        assert pms.inspect(cid)["State"]["Status"] == "exited"
    wait_until(lambda: show(unit, "LoadState")["LoadState"] == "not-found", timeout=5,
               what=f"{unit} to go")
    assert not os.path.exists(f"/sys/fs/cgroup{path}")


def test_podman_applies_its_default_apparmor_profile(pms):
    """podman asks for its default AppArmor profile (containers-default-<version>, which it
    loads itself) where the host enables AppArmor, as in this guest; skiff must apply it to
    the container and to what `podman exec` runs."""
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            enabled = f.read().startswith("Y") and os.path.isdir("/sys/kernel/security/apparmor")
    except OSError:
        enabled = False
    if not enabled:
        pytest.skip("AppArmor is not enabled on this host")
    with pms.detached([], ["sleep", "1000"]) as cid:
        with open(f"/proc/{pms.pid(cid)}/attr/current") as f:
            current = f.read().strip()
        assert current.startswith("containers-default-") and current.endswith(" (enforce)"), current
        assert pms.inspect(cid)["AppArmorProfile"] == current.split()[0]
        assert pms("exec", cid, "cat", "/proc/self/attr/current").stdout.strip() == current


# --- containerd with SystemdCgroup = true -----------------------------------------------------

@pytest.fixture(scope="module")
def ctrd_sd(clients_installed, runtime, session_dir, token, rootfs_tar):
    require("containerd", "ctr", "containerd-shim-runc-v2")
    try:
        with tc.containerd_session(os.path.join(session_dir, "containerd-systemd"), runtime,
                                   token, rootfs_tar, systemd_cgroup=True) as c:
            yield c
    finally:
        run(["systemctl", "stop", f"{token}pod.slice"], check=False)


def test_ctr_run_systemd_cgroup(ctrd_sd, token):
    opts = ["--runc-systemd-cgroup", "--cgroup", f"system.slice:{token}:sd-ctr"]
    with ctrd_sd.detached("sd-ctr", ["sleep", "300"], opts=opts) as name:
        pid = ctrd_sd.task_pid(name)
        path, unit = scope_cgroup(pid)
        assert path == f"/system.slice/{token}-sd-ctr.scope", path
        assert show(unit, "ActiveState")["ActiveState"] == "active"
        p = ctrd_sd.ctr("task", "exec", "--exec-id", "e1", name, "sh", "-c", "cat /proc/self/cgroup")
        assert path in p.stdout or p.stdout.strip() == "0::/", p.stdout
    wait_until(lambda: show(unit, "LoadState")["LoadState"] == "not-found", timeout=5,
               what=f"{unit} to go")
    assert not os.path.exists(f"/sys/fs/cgroup{path}")


def test_cri_pod_with_systemd_cgroup(ctrd_sd, token):
    import cri
    base = ctrd_sd.base
    svc = cri.RuntimeService(ctrd_sd.address)
    pods = []
    try:
        cfg = svc.sandbox_config("sd-pod", "uid-sd", f"{base}/logs", f"{token}pod.slice")
        pod = svc.run_pod(cfg, "skiff")
        pods.append(pod)
        cid = svc.create_container(pod, cfg, "sleeper", tc.IMAGE, ["sleep", "300"], "sleeper.log")
        svc.start_container(cid)
        tasks = ctrd_sd.tasks(namespace="k8s.io")
        pid = tasks[cid][0]
        path, unit = scope_cgroup(pid)
        assert unit == f"cri-containerd-{cid}.scope", path
        assert path.startswith(f"/{token}pod.slice/"), path
        assert show(unit, "ActiveState", "Delegate") == {"ActiveState": "active", "Delegate": "yes"}
        p = ctrd_sd.ctr("task", "exec", "--exec-id", "e1", cid, "sh", "-c", "echo $((6 * 7))",
                        namespace="k8s.io")
        assert p.stdout.strip() == "42"
        m = ctrd_sd.ctr("task", "metrics", cid, namespace="k8s.io")
        assert "pids.current" in m.stdout or "memory" in m.stdout, m.stdout
        svc.stop_pod(pod)
        svc.remove_container(cid)
        svc.remove_pod(pod)
        pods.clear()
        wait_until(lambda: show(unit, "LoadState")["LoadState"] == "not-found", timeout=20,
                   what=f"{unit} to go")
        assert not os.path.exists(f"/sys/fs/cgroup{path}")
    finally:
        for pod in pods:
            try:
                svc.stop_pod(pod)
                svc.remove_pod(pod)
            except Exception:
                pass
        svc.close()


# --- docker with native.cgroupdriver=systemd --------------------------------------------------

@pytest.fixture(scope="module")
def dks(clients_installed, runtime, session_dir, token, rootfs_tar):
    """A dockerd of this session's own (data root, exec root, socket), with the systemd cgroup
    driver and skiff registered as "skiff"; no bridge, no iptables. Skipped, with dockerd's
    last words, when dockerd cannot start in this guest."""
    import test_docker as td
    from helpers import Daemon
    require("dockerd", td.DOCKER, "containerd")
    base = os.path.join(session_dir, "docker-systemd")
    for d in ("data", "exec", "cli"):
        os.makedirs(os.path.join(base, d), exist_ok=True)
    with open(f"{base}/daemon.json", "w") as f:
        json.dump({"runtimes": {"skiff": {"path": runtime}}}, f)
    slice_ = f"{token}docker.slice"
    # A containerd of our own, waited for patiently: the one dockerd starts itself gets less
    # time than an emulated guest needs to bring it up.
    with open(f"{base}/containerd.toml", "w") as f:
        f.write(f'version = 2\nroot = "{base}/ctrd-root"\nstate = "{base}/ctrd-state"\n'
                f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                f'[grpc]\n  address = "{base}/containerd.sock"\n'
                f'[ttrpc]\n  address = "{base}/containerd.sock.ttrpc"\n')
    ctrd = Daemon("containerd", ["containerd", "--config", f"{base}/containerd.toml"],
                  f"{base}/containerd.log")
    args = ["dockerd", "--config-file", f"{base}/daemon.json",
            "--containerd", f"{base}/containerd.sock",
            "--data-root", f"{base}/data", "--exec-root", f"{base}/exec",
            "--pidfile", f"{base}/docker.pid", "-H", f"unix://{base}/docker.sock",
            "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
            "--ip-masq=false", "--exec-opt", "native.cgroupdriver=systemd",
            "--cgroup-parent", slice_, "--storage-driver", "overlay2"]
    d = td.Docker(base)
    try:
        ctrd.wait_for_socket(f"{base}/containerd.sock", timeout=180)
    except AssertionError as e:
        ctrd.stop(grace=10)
        pytest.skip("containerd for dockerd cannot start in the systemd guest: "
                    + str(e).splitlines()[0][:200])
    daemon = Daemon("dockerd", args, f"{base}/dockerd.log")
    try:
        # Up means answering `docker info` (dockerd listens before its containerd is up, and
        # exits when that fails).
        try:
            daemon.wait_for_socket(f"{base}/docker.sock", timeout=90)
            wait_until(lambda: daemon.proc.poll() is not None
                       or d("info", check=False).returncode == 0, timeout=90, interval=1,
                       what="dockerd to answer")
        except AssertionError as e:
            pytest.skip("dockerd cannot start in the systemd guest: " + str(e).splitlines()[0][:200])
        if daemon.proc.poll() is not None:
            last = [l for l in daemon.log_text().splitlines() if l.strip()][-1:] or ["(no log)"]
            pytest.skip(f"dockerd cannot start in the systemd guest: it exited "
                        f"{daemon.proc.returncode}: {last[0][:300]}")
        d("import", "--change", 'CMD ["/bin/sh"]', rootfs_tar, td.IMAGE, timeout=120)
        yield d
    finally:
        if daemon.proc.poll() is None:
            ids = d("ps", "-a", "-q", check=False).stdout.split()
            if ids:
                d("rm", "-f", *ids, check=False)
        daemon.stop(grace=20)
        ctrd.stop(grace=20)
        for pid in td.leftover_pids(base):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        # overlay2 keeps its home, and dockerd its data root, as private bind mounts while it
        # runs; a dockerd that died at start-up leaves them.
        run(["umount", f"{base}/data/overlay2"], check=False)
        run(["umount", f"{base}/data"], check=False)
        run(["systemctl", "stop", slice_], check=False)


def test_docker_systemd_lifecycle(dks, token):
    with dks.detached(["--memory", "64m", "--cpus", "0.5"], ["sleep", "1000"]) as cid:
        pid = dks.inspect(cid)["State"]["Pid"]
        path, unit = scope_cgroup(pid)
        assert unit == f"docker-{cid}.scope", path
        assert path == f"/{token}docker.slice/{unit}", path
        props = show(unit, "ActiveState", "MemoryMax", "CPUQuotaPerSecUSec", "Delegate")
        assert props == {"ActiveState": "active", "MemoryMax": str(64 * MiB),
                         "CPUQuotaPerSecUSec": "500ms", "Delegate": "yes"}, props
        assert cgfile(path, "memory.max") == str(64 * MiB)
        assert cgfile(path, "cpu.max") == "50000 100000"
        p = dks("exec", cid, "sh", "-c", "echo $((6 * 7)); cat /proc/self/cgroup")
        assert p.stdout.split()[0] == "42", p.stdout
        p = dks.run(["--memory", "32m"], ["cat", "/sys/fs/cgroup/memory.max"])
        assert (p.returncode, p.stdout.strip()) == (0, str(32 * MiB)), p.stderr
    wait_until(lambda: show(unit, "LoadState")["LoadState"] == "not-found", timeout=10,
               what=f"{unit} to go")
    assert not os.path.exists(f"/sys/fs/cgroup{path}")
