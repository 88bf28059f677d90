"""A containerd CRI pod under a VM-isolated handler: the handler's BinaryName is skiff invoked
as `skiff-vm`, so no annotation is needed. The sandbox (pause) runs as a plain container; the
app container becomes a VM on the pod's network (made by a CNI plugin), reachable at the pod's
address; a second VM-isolated container in the pod is refused by name; stopping and removing
the pod leaves nothing behind. One boot.

The pod network comes from a minimal CNI plugin written here (a veth with a fixed address):
this host has no CNI plugins package, and the point is the runtime's side of the pod network."""

import json
import os
import socket
import subprocess
import time

import pytest

from conftest import REPO, require
from helpers import wait_until
from test_containerd import IMAGE, containerd_session

POD_IP, GW_IP = "10.213.10.2", "10.213.10.1"

CNI_PLUGIN = f"""#!/bin/bash
# A veth per pod: the pod's end is CNI_IFNAME with {POD_IP}/24, the host's {GW_IP}/24.
host="skc${{CNI_CONTAINERID:0:10}}"
case "$CNI_COMMAND" in
ADD)
  ip link add "$host" type veth peer name "$CNI_IFNAME" netns "$CNI_NETNS" >&2 || exit 1
  ip addr add {GW_IP}/24 dev "$host" && ip link set "$host" up || exit 1
  nsenter --net="$CNI_NETNS" ip addr add {POD_IP}/24 dev "$CNI_IFNAME" || exit 1
  nsenter --net="$CNI_NETNS" ip link set "$CNI_IFNAME" up || exit 1
  nsenter --net="$CNI_NETNS" ip route add default via {GW_IP} || exit 1
  echo '{{"cniVersion":"0.4.0","interfaces":[{{"name":"'"$CNI_IFNAME"'","sandbox":"'"$CNI_NETNS"'"}}],"ips":[{{"version":"4","interface":0,"address":"{POD_IP}/24","gateway":"{GW_IP}"}}]}}'
  ;;
DEL) ip link del "$host" 2>/dev/null; exit 0 ;;
VERSION) echo '{{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1","0.4.0"]}}' ;;
*) exit 0 ;;
esac
"""

# containerd's CRI plugin always adds a loopback network (the "loopback" plugin).
CNI_LOOPBACK = """#!/bin/bash
case "$CNI_COMMAND" in
ADD) nsenter --net="$CNI_NETNS" ip link set lo up || exit 1
     echo '{"cniVersion":"0.4.0","interfaces":[{"name":"lo","sandbox":"'"$CNI_NETNS"'"}],"ips":[{"version":"4","interface":0,"address":"127.0.0.1/8"}]}' ;;
VERSION) echo '{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1","0.4.0"]}' ;;
*) exit 0 ;;
esac
"""


@pytest.fixture(scope="module")
def vm_ctrd(clients_installed, settled, runtime, session_dir, token, rootfs_tar):
    require("containerd", "ctr", "containerd-shim-runc-v2", "nsenter")
    kernel = subprocess.run([os.path.join(REPO, "scripts", "vm-kernel.sh")], check=True,
                            capture_output=True, text=True, timeout=900).stdout.strip().splitlines()[-1]
    base = os.path.join(session_dir, "containerd-vm")
    handler = os.path.join(session_dir, "skiff-vm")
    os.symlink(runtime, handler)
    for d, name, text in (("cni/bin", "skvpod", CNI_PLUGIN), ("cni/bin", "loopback", CNI_LOOPBACK),
                          ("cni/conf", "10-skvpod.conflist", json.dumps(
                              {"cniVersion": "0.4.0", "name": "skvpod", "plugins": [{"type": "skvpod"}]}))):
        os.makedirs(os.path.join(base, d), exist_ok=True)
        with open(os.path.join(base, d, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(base, d, name), 0o755)
    # containerd hands its environment to the shim, and the shim to the runtime.
    saved = os.environ.get("SKIFF_VM_DIR")
    os.environ["SKIFF_VM_DIR"] = kernel
    try:
        with containerd_session(base, handler, token, rootfs_tar, settled=settled) as c:
            yield c
    finally:
        if saved is None:
            os.environ.pop("SKIFF_VM_DIR", None)
        else:
            os.environ["SKIFF_VM_DIR"] = saved


def vm_pids(marker):
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if (b"qemu-system" in cmd or b"virtiofsd" in cmd) and marker.encode() in cmd:
            out.append(int(pid))
    return out


def test_cri_pod_with_a_vm_isolated_handler(vm_ctrd, token):
    import cri
    from cri import msg
    base = vm_ctrd.base
    svc = cri.RuntimeService(vm_ctrd.address)
    pod = None
    try:
        security = msg((1, msg((1, 0), (2, 1), (3, 0))))  # pod network, container pid, pod ipc
        linux = msg((1, f"/{token}_vmpod"), (2, security))
        cfg = msg((1, msg((1, "vmpod"), (2, "uid-vmpod"), (3, "default"), (4, 0))), (2, "vmpod"),
                  (3, f"{base}/logs"), (8, linux))
        pod = svc.run_pod(cfg, "skiff")
        status, info = svc.pod_status(pod)
        sandbox_pid = json.loads(info["info"])["pid"]
        with open(f"/proc/{sandbox_pid}/cmdline", "rb") as f:
            assert b"sleep" in f.read(), "the sandbox is not the plain pause process"

        script = ('echo "uname=$(uname -r)"; echo "addr=$(ip -4 -o addr show eth0 | awk \'{print $4}\')"; '
                  'echo "hostname=$(hostname)"; echo ready; echo "served-by-$(uname -r)" | nc -l -p 8080; sleep 1000')
        cid = svc.create_container(pod, cfg, "app", IMAGE, ["sh", "-c", script], "app.log")
        svc.start_container(cid)
        assert vm_pids(cid), "the app container is not a VM"
        log = f"{base}/logs/app.log"
        wait_until(lambda: os.path.exists(log) and "ready" in open(log).read(), timeout=600,
                   what="the app container in its VM")
        served = b""
        for _ in range(60):
            try:
                with socket.create_connection((POD_IP, 8080), timeout=10) as s:
                    served = s.recv(100)
                    if served:
                        break
            except OSError:
                time.sleep(1)
        text = open(log).read()
        assert f"addr={POD_IP}/24" in text, text
        assert "hostname=vmpod" in text, text  # the pod's, in the guest's own uts namespace
        assert f"uname={os.uname().release}" not in text and "uname=6." in text, text
        assert served.startswith(b"served-by-") and \
            served != f"served-by-{os.uname().release}\n".encode(), served

        with pytest.raises(Exception) as refused:
            cid2 = svc.create_container(pod, cfg, "second", IMAGE, ["sleep", "100"], "second.log")
            svc.start_container(cid2)
        assert "already connected to a VM-isolated container" in str(refused.value), refused.value

        svc.call("StopPodSandbox", msg((1, pod)), timeout=300)
        svc.remove_pod(pod)
        pod = None
        assert not vm_pids(cid), "QEMU or virtiofsd outlived the pod"
    finally:
        if pod:
            try:
                svc.call("StopPodSandbox", msg((1, pod)), timeout=300)
                svc.remove_pod(pod)
            except Exception:
                pass
        svc.close()
