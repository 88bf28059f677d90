"""podman with skiff as its runtime and the VM annotation: `podman run --annotation
run.oci.skiff.isolation=vm` of the busybox image the client scenarios build, on a netavark
network of podman's own making. One boot checks what podman relies on: the files podman binds
(/etc/hosts, /etc/resolv.conf, /etc/hostname) reach the guest, the guest has the container's
address from podman's network, `-p` publishes a server that runs in the guest, `podman exec`
runs in the guest, and `podman stop` delivers SIGTERM to the container's process, after which
`podman rm` leaves no QEMU or virtiofsd behind.

podman runs on private roots (storage, run root, network configs, a network and bridge of its
own), as in tests/clients, so nothing of the host's podman is touched."""

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import REPO, vm_processes
from test_vmiso import BOOT

IMAGE = "localhost/skiff-busybox:latest"
SUBNET, GATEWAY = "10.213.9.0/24", "10.213.9.1"


def clients_helpers():
    spec = importlib.util.spec_from_file_location(
        "skiff_clients_helpers", os.path.join(REPO, "tests", "clients", "helpers.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Podman:
    """podman on roots under `base`, its runtime skiff; conmon hands the runtime only the
    environment containers.conf names, so SKIFF_VM_DIR (the guest kernel) is passed there."""

    def __init__(self, base, runtime, kernel_dir):
        conf = os.path.join(base, "containers.conf")
        with open(conf, "w") as f:
            f.write(f"""[containers]
default_ulimits = ["nofile=1024:4096", "nproc=4096:4096"]
[engine]
conmon_env_vars = ["PATH={os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}", "SKIFF_VM_DIR={kernel_dir}"]
lock_type = "file"
events_logger = "file"
events_logfile_path = "{base}/events.log"
tmp_dir = "{base}/tmp"
volume_path = "{base}/volumes"
image_copy_tmp_dir = "{base}/copytmp"
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "skiff"]
[network]
network_config_dir = "{base}/net"
network_backend = "netavark"
""")
        for d in ("root", "runroot", "tmp", "net", "volumes", "copytmp"):
            os.makedirs(os.path.join(base, d), exist_ok=True)
        self.base = base
        self.argv = ["podman", "--root", f"{base}/root", "--runroot", f"{base}/runroot",
                     "--tmpdir", f"{base}/tmp", "--runtime", runtime,
                     "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                     "--storage-driver", "overlay", "--network-config-dir", f"{base}/net",
                     "--volumepath", f"{base}/volumes"]
        self.env = dict(os.environ, CONTAINERS_CONF=conf, TMPDIR=f"{base}/tmp")

    def __call__(self, *args, check=True, timeout=120):
        p = subprocess.run(self.argv + list(args), env=self.env, capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} exited {p.returncode}:\n"
                                 f"{p.stdout}\n{p.stderr}")
        return p


@pytest.fixture
def podman(guest_kernel):
    for tool in ("podman", "conmon"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (tests/clients/setup.sh installs it)")
    if not os.path.exists("/usr/lib/podman/netavark"):
        pytest.skip("netavark is not installed (tests/clients/setup.sh installs it)")
    runtime = os.path.abspath(os.environ.get("SKIFF_RUNTIME")
                              or os.path.join(REPO, "build", "skiff"))
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        ip_forward = f.read()
    # podman refuses a run root longer than 50 characters
    base = tempfile.mkdtemp(prefix="vmpm", dir="/tmp")
    pm = Podman(base, runtime, guest_kernel)
    net = f"skvpm{os.getpid() % 100000}"
    try:
        tar = os.path.join(base, "rootfs.tar")
        with open(tar, "wb") as f:
            f.write(clients_helpers().rootfs_tar_bytes())
        pm("import", tar, IMAGE)
        # A network and bridge of its own: the default one's bridge (podman0, 10.88/16) may be
        # in use by another podman root on this host, with its own address allocations. podman
        # names the bridge after the host's free podmanN.
        pm("network", "create", "--subnet", SUBNET, "--gateway", GATEWAY, net)
        pm.net = net
        yield pm
    finally:
        pm("rm", "-a", "-f", "-t", "0", check=False)
        pm("network", "rm", "-f", net, check=False)
        pm("rmi", "-a", "-f", check=False)
        # c/storage keeps its overlay home as a private bind mount after the last container.
        subprocess.run(["umount", f"{base}/root/overlay"], capture_output=True)
        subprocess.run(["umount", f"{base}/runroot/overlay"], capture_output=True)
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write(ip_forward)
        shutil.rmtree(base, ignore_errors=True)


def test_podman_run_exec_stop_rm_in_a_vm(podman):
    port = free_port()
    script = ('trap "exit 7" TERM; mkdir -p /www; '
              'echo "served-by-$(uname -r)" > /www/index.html; httpd -p 8080 -h /www; '
              'echo "hosts=$(grep -c host.containers.internal /etc/hosts)"; '
              'echo "addr=$(ip -4 -o addr show eth0 | awk \'{print $4}\')"; '
              'echo ready; while :; do sleep 1; done')
    cid = podman("run", "-d", "--network", podman.net, "-p", f"127.0.0.1:{port}:8080",
                 "--annotation", "run.oci.skiff.isolation=vm", IMAGE, "sh", "-c", script,
                 timeout=BOOT).stdout.strip()
    deadline = time.monotonic() + BOOT
    logs = ""
    while "ready" not in logs:
        assert time.monotonic() < deadline, f"the guest did not start the container: {logs}"
        state = podman("inspect", "--format", "{{.State.Status}}", cid).stdout.strip()
        assert state == "running", (state, podman("logs", cid, check=False).stderr)
        time.sleep(1)
        logs = podman("logs", cid).stdout
    host_uname = os.uname().release
    ip = json.loads(podman("inspect", cid).stdout)[0]["NetworkSettings"]["Networks"][podman.net][
        "IPAddress"]
    # podman's /etc/hosts bind reached the guest; the guest has the address podman allocated.
    assert "hosts=1" in logs, logs
    assert f"addr={ip}/24" in logs, (ip, logs)

    # The published port reaches the httpd in the guest, through netavark's forwarding, the
    # veth and the tap's redirect.
    served = ""
    for _ in range(30):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
                served = r.read().decode().strip()
            break
        except OSError:
            time.sleep(1)
    assert served.startswith("served-by-") and served != f"served-by-{host_uname}", served

    # podman exec: in the guest, in the container's namespaces (its process 1 is the script).
    p = podman("exec", cid, "sh", "-c", 'echo "uname=$(uname -r)"; cat /proc/1/cmdline',
               timeout=BOOT)
    assert "uname=" in p.stdout and f"uname={host_uname}" not in p.stdout, p.stdout
    assert "trap" in p.stdout, p.stdout

    # podman stop: SIGTERM reaches the container's process (its trap's status), not a SIGKILL.
    podman("stop", "-t", "60", cid, timeout=BOOT)
    status = podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}",
                    cid).stdout.split()
    assert status == ["exited", "7"], status

    podman("rm", cid)
    assert podman("container", "exists", cid, check=False).returncode == 1
    left = vm_processes(cid, podman.base)
    assert not left, f"VM processes left after podman rm: {left}"


def test_podman_ipv6_network_and_a_second_network_reach_the_guest(podman):
    # One container on podman's IPv4 network and on an IPv6 one: two interfaces in its
    # namespace, so two guest NICs; the host reaches httpd in the guest over IPv6.
    net6 = podman.net + "v6"
    podman("network", "create", "--ipv6", "--subnet", "fd5c:9::/64", net6)
    try:
        script = ('mkdir -p /www; echo "served-by-$(uname -r)" > /www/index.html; '
                  'httpd -p 8080 -h /www; ip -o addr | sed "s/^/A /"; echo ready; '
                  'while :; do sleep 1; done')
        cid = podman("run", "-d", "--network", podman.net, "--network", net6,
                     "--annotation", "run.oci.skiff.isolation=vm", IMAGE, "sh", "-c", script,
                     timeout=BOOT).stdout.strip()
        deadline = time.monotonic() + BOOT
        logs = ""
        while "ready" not in logs:
            assert time.monotonic() < deadline, f"the guest did not start the container: {logs}"
            time.sleep(1)
            logs = podman("logs", cid).stdout
        nets = json.loads(podman("inspect", cid).stdout)[0]["NetworkSettings"]["Networks"]
        ip6 = nets[net6]["GlobalIPv6Address"]
        ip4 = nets[podman.net]["IPAddress"]
        assert ip6.startswith("fd5c:9:"), nets
        assert f"inet6 {ip6}/64" in logs and f"inet {ip4}/24" in logs, (nets, logs)
        served = ""
        for _ in range(30):
            try:
                with socket.create_connection((ip6, 8080), timeout=10) as c:
                    c.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    reply = b""
                    while chunk := c.recv(4096):
                        reply += chunk
                served = reply.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
                break
            except OSError:
                time.sleep(1)
        assert served.startswith("served-by-") and served != f"served-by-{os.uname().release}", served
        podman("rm", "-f", "-t", "0", cid, timeout=BOOT)
        assert not vm_processes(cid, podman.base)
    finally:
        podman("rm", "-a", "-f", "-t", "0", check=False)
        podman("network", "rm", "-f", net6, check=False)
