"""A containerd CRI pod as one pod VM (Kata's way): the runtime handler's BinaryName is skiff
invoked as `skiff-vm`, and the runtime passes the pod annotation run.oci.skiff.vm.pod=shared
(`pod_annotations`) to the sandbox, which becomes the pod's VM; two app containers (an app and
a sidecar) then run at once inside it, on the pod's address, with no QEMU of their own;
stopping and removing the pod leaves no QEMU or virtiofsd. One boot."""

import json
import os
import subprocess

import pytest

import test_containerd
from conftest import REPO, require
from helpers import wait_until
from test_containerd import IMAGE, containerd_session
from test_containerd_vm import CNI_LOOPBACK, CNI_PLUGIN, POD_IP, vm_pids

POD_ANNOTATION = "run.oci.skiff.vm.pod"
RUNTIME_TABLE = '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.skiff]\n'


@pytest.fixture(scope="module")
def pod_ctrd(clients_installed, settled, runtime, session_dir, token, rootfs_tar):
    require("containerd", "ctr", "containerd-shim-runc-v2", "nsenter")
    kernel = subprocess.run([os.path.join(REPO, "scripts", "vm-kernel.sh")], check=True,
                            capture_output=True, text=True, timeout=900).stdout.strip().splitlines()[-1]
    base = os.path.join(session_dir, "containerd-vmpod")
    handler = os.path.join(session_dir, "skiff-vm-pod", "skiff-vm")
    os.makedirs(os.path.dirname(handler), exist_ok=True)
    os.symlink(runtime, handler)
    for d, name, text in (("cni/bin", "skvpod", CNI_PLUGIN), ("cni/bin", "loopback", CNI_LOOPBACK),
                          ("cni/conf", "10-skvpod.conflist", json.dumps(
                              {"cniVersion": "0.4.0", "name": "skvpod", "plugins": [{"type": "skvpod"}]}))):
        os.makedirs(os.path.join(base, d), exist_ok=True)
        with open(os.path.join(base, d, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(base, d, name), 0o755)
    original = test_containerd.config_toml

    def with_pod_annotation(base_dir, rt):
        text = original(base_dir, rt)
        assert RUNTIME_TABLE in text
        return text.replace(RUNTIME_TABLE, RUNTIME_TABLE + f'  pod_annotations = ["{POD_ANNOTATION}"]\n')

    saved = os.environ.get("SKIFF_VM_DIR")
    os.environ["SKIFF_VM_DIR"] = kernel
    test_containerd.config_toml = with_pod_annotation
    try:
        with containerd_session(base, handler, token, rootfs_tar, settled=settled) as c:
            yield c
    finally:
        test_containerd.config_toml = original
        if saved is None:
            os.environ.pop("SKIFF_VM_DIR", None)
        else:
            os.environ["SKIFF_VM_DIR"] = saved


def test_cri_pod_vm_holds_an_app_and_a_sidecar(pod_ctrd, token):
    import cri
    from cri import map_entries, msg
    base = pod_ctrd.base
    svc = cri.RuntimeService(pod_ctrd.address)
    pod = None
    try:
        security = msg((1, msg((1, 0), (2, 1), (3, 0))))  # pod network, container pid, pod ipc
        linux = msg((1, f"/{token}_vmpodvm"), (2, security))
        cfg = msg((1, msg((1, "vmpodvm"), (2, "uid-vmpodvm"), (3, "default"), (4, 0))), (2, "vmpodvm"),
                  (3, f"{base}/logs"), *map_entries(7, {POD_ANNOTATION: "shared"}), (8, linux))
        pod = svc.run_pod(cfg, "skiff")
        status, info = svc.pod_status(pod)
        sandbox_pid = json.loads(info["info"])["pid"]
        with open(f"/proc/{sandbox_pid}/cmdline", "rb") as f:
            assert b"qemu-system" in f.read(), "the sandbox is not the pod's VM"

        probe = ('echo "uname=$(uname -r)"; echo "addr=$(ip -4 -o addr show eth0 | awk \'{print $4}\')"; '
                 'echo "hostname=$(hostname)"; echo ready; sleep 1000')
        cids = []
        for name in ("app", "sidecar"):
            cid = svc.create_container(pod, cfg, name, IMAGE, ["sh", "-c", probe], f"{name}.log")
            svc.start_container(cid)
            cids.append(cid)
        for name, cid in zip(("app", "sidecar"), cids):
            log = f"{base}/logs/{name}.log"
            wait_until(lambda: os.path.exists(log) and "ready" in open(log).read(), timeout=600,
                       what=f"the {name} container in the pod VM")
            text = open(log).read()
            assert f"addr={POD_IP}/24" in text, text
            assert "hostname=vmpodvm" in text, text
            assert f"uname={os.uname().release}" not in text and "uname=6." in text, text
            st, _ = svc.container_status(cid)
            assert st["state"] == 1, st  # CONTAINER_RUNNING
            assert not vm_pids(cid), f"{name} has a VM of its own"

        svc.call("StopPodSandbox", msg((1, pod)), timeout=300)
        svc.remove_pod(pod)
        assert not vm_pids(pod), "QEMU or virtiofsd outlived the pod"
        pod = None
    finally:
        if pod:
            try:
                svc.call("StopPodSandbox", msg((1, pod)), timeout=300)
                svc.remove_pod(pod)
            except Exception:
                pass
        svc.close()
