"""A CRI pod under a `skiff-vm` handler whose containers run one after another, as kubelet runs
an init container before the app container: the init container's VM takes the pod's
interface, exits, and stays (stopped, not deleted: CRI-O keeps it until the pod goes); the app
container's VM then takes the interface over. Deleting the init container afterwards leaves
the app container's tap and redirects alone. Two boots."""

import json
import os
import socket
import subprocess
import time

from conftest import vm_processes
from test_vm_pod import CRI_TYPE, HOST_IP, POD_IP, cmdline, handler_cmd, sh
from test_vmiso import BOOT, state_root_entries, wait_for


def links(netns):
    return subprocess.run(["ip", "-n", netns, "-o", "link"], capture_output=True, text=True).stdout


def app_bundle(make_bundle, netns, spid, script):
    b = make_bundle()
    b.config["annotations"] = {CRI_TYPE: "container"}
    b.config.pop("hostname", None)
    b.ns("network", path=f"/run/netns/{netns}")
    for kind in ("ipc", "uts", "pid"):
        b.ns(kind, path=f"/proc/{spid}/ns/{kind}")
    b.args(script)
    b.write()
    return b


def create_start(handler, rt, b, out_path):
    cid = rt.track(rt.new_id())
    with open(out_path, "wb") as out:
        subprocess.run([handler, "--root", rt.root, "create", "--bundle", b.path, cid],
                       stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                       check=True, timeout=120)
    handler_cmd(handler, rt, "start", cid)
    return cid


def test_init_container_then_app_container_take_the_pod_interface_in_turn(rt, make_bundle, workdir):
    handler = os.path.join(workdir, "skiff-vm")
    os.symlink(rt.binary, handler)
    netns = f"skiffseq{os.getpid()}"
    host_veth = f"sks{os.getpid() % 100000}"
    sh("ip", "netns", "add", netns)
    try:
        sh("ip", "link", "add", host_veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        sh("ip", "addr", "add", HOST_IP + "/24", "dev", host_veth)
        sh("ip", "link", "set", host_veth, "up")
        sh("ip", "-n", netns, "addr", "add", POD_IP + "/24", "dev", "eth0")
        sh("ip", "-n", netns, "link", "set", "eth0", "up")
        sh("ip", "-n", netns, "route", "add", "default", "via", HOST_IP)

        sandbox = make_bundle()
        sandbox.config["annotations"] = {CRI_TYPE: "sandbox"}
        sandbox.ns("network", path=f"/run/netns/{netns}")
        sandbox.args("sleep 1000")
        sandbox.write()
        sid = rt.track(rt.new_id())
        handler_cmd(handler, rt, "create", "--bundle", sandbox.path, sid)
        handler_cmd(handler, rt, "start", sid)
        spid = json.loads(handler_cmd(handler, rt, "state", sid)[1])["pid"]

        # The init container: its VM has the pod's address, and exits.
        init = app_bundle(make_bundle, netns, spid,
                          'echo "init-addr=$(ip -4 -o addr show eth0 | awk \'{print $4}\')"; exit 0')
        init_out = os.path.join(workdir, "init.out")
        iid = create_start(handler, rt, init, init_out)
        rt.wait_status(iid, "stopped", timeout=BOOT)
        assert f"init-addr={POD_IP}/24" in open(init_out).read(), open(init_out).read()
        # Stopped, not deleted: its tap is still there, and its VM is gone.
        assert "skiff-tap0" in links(netns)
        deadline = time.monotonic() + 30
        while vm_processes(f"{iid}:vm", f"skiff-{iid}") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not vm_processes(f"{iid}:vm", f"skiff-{iid}")

        # The app container takes the interface over (old main: "already connected").
        app = app_bundle(make_bundle, netns, spid,
                         'echo ready; echo "served-by-$(uname -r)" | nc -l -p 8080; sleep 1000')
        app_out = os.path.join(workdir, "app.out")
        aid = create_start(handler, rt, app, app_out)
        qemu = json.loads(handler_cmd(handler, rt, "state", aid)[1])["pid"]
        assert "qemu-system" in cmdline(qemu), cmdline(qemu)
        # While it runs, a further VM of the pod is still refused.
        third = make_bundle()
        third.write(json.loads(json.dumps(app.config)))
        tid = rt.track(rt.new_id())
        rc, _, err = handler_cmd(handler, rt, "create", "--bundle", third.path, tid, check=False)
        assert rc != 0 and "already connected to a VM-isolated container" in err, (rc, err)
        assert [e for e in state_root_entries(rt) if tid in e] == []

        # kubelet removes the init container at pod removal; here before the app ends: the
        # app's tap and redirects stay.
        handler_cmd(handler, rt, "delete", iid)
        assert "skiff-tap0" in links(netns)
        wait_for(app_out, b"ready", qemu, "the app container")
        served = b""
        for _ in range(60):  # nc in the guest listens a moment after "ready"
            try:
                with socket.create_connection((POD_IP, 8080), timeout=10) as c:
                    served = c.recv(100)
                    if served:
                        break
            except OSError:
                time.sleep(1)
        assert served.startswith(b"served-by-") and served != f"served-by-{os.uname().release}".encode(), served

        handler_cmd(handler, rt, "kill", aid, "KILL")
        rt.wait_status(aid, "stopped", timeout=60)
        handler_cmd(handler, rt, "delete", aid)
        assert "skiff-tap0" not in links(netns)
        tc = subprocess.run(["tc", "-n", netns, "qdisc", "show", "dev", "eth0"], capture_output=True, text=True).stdout
        assert "ingress" not in tc, tc
        handler_cmd(handler, rt, "kill", sid, "KILL")
        rt.wait_status(sid, "stopped", timeout=30)
        handler_cmd(handler, rt, "delete", sid)
        assert state_root_entries(rt) == []
    finally:
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        subprocess.run(["ip", "link", "del", host_veth], capture_output=True)
