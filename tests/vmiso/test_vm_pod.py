"""VM isolation in a CRI pod, as containerd's runc shim drives it under a `skiff-vm` handler
(the binary invoked as skiff-vm, no isolation annotation): the sandbox (pause) container, which
only holds the pod's namespaces, runs as a plain container; an app container joins the
sandbox's network, ipc, uts and pid namespaces by path and becomes a VM on the pod's network
(tap + redirect to the veth), its ipc, uts and pid namespaces the guest's own; a second
VM-isolated app container in the same pod is refused, since the veth has one taker. One boot."""

import json
import os
import socket
import subprocess
import time

from conftest import vm_processes
from test_vmiso import BOOT, state_root_entries, wait_for

HOST_IP, POD_IP = "10.213.8.1", "10.213.8.2"
CRI_TYPE = "io.kubernetes.cri.container-type"


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def handler_cmd(handler, rt, *args, check=True):
    """The runtime invoked as skiff-vm; output through files (a detached container keeps a
    pipe it inherits open): (rc, stdout, stderr)."""
    with open(os.path.join(rt.workdir, "cmd.out"), "w+b") as out, \
            open(os.path.join(rt.workdir, "cmd.err"), "w+b") as err:
        rc = subprocess.run([handler, "--root", rt.root, *args], stdin=subprocess.DEVNULL,
                            stdout=out, stderr=err, timeout=BOOT).returncode
        out.seek(0)
        err.seek(0)
        res = rc, out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if check:
        assert rc == 0, (args, res)
    return res


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode()


def test_cri_pod_sandbox_plain_app_container_vm(rt, make_bundle, workdir):
    handler = os.path.join(workdir, "skiff-vm")
    os.symlink(rt.binary, handler)
    netns = f"skiffpod{os.getpid()}"
    host_veth = f"skp{os.getpid() % 100000}"
    sh("ip", "netns", "add", netns)
    try:
        sh("ip", "link", "add", host_veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        sh("ip", "addr", "add", HOST_IP + "/24", "dev", host_veth)
        sh("ip", "link", "set", host_veth, "up")
        sh("ip", "-n", netns, "addr", "add", POD_IP + "/24", "dev", "eth0")
        sh("ip", "-n", netns, "link", "set", "eth0", "up")
        sh("ip", "-n", netns, "route", "add", "default", "via", HOST_IP)

        # The sandbox: under the skiff-vm handler, but a plain container (no QEMU).
        sandbox = make_bundle()
        sandbox.config["annotations"] = {CRI_TYPE: "sandbox"}
        sandbox.config["hostname"] = "the-pod"
        sandbox.ns("network", path=f"/run/netns/{netns}")
        sandbox.args("sleep 1000")
        sandbox.write()
        sid = rt.track(rt.new_id())
        handler_cmd(handler, rt, "create", "--bundle", sandbox.path, sid)
        handler_cmd(handler, rt, "start", sid)
        spid = json.loads(handler_cmd(handler, rt, "state", sid)[1])["pid"]
        assert "sleep 1000" in cmdline(spid) and not vm_processes(sid), cmdline(spid)

        # The app container joins the sandbox's namespaces, as containerd's CRI plugin writes.
        app = make_bundle()
        app.config["annotations"] = {CRI_TYPE: "container"}
        app.config.pop("hostname", None)
        # containerd binds the pod's hostname file; the guest's own uts namespace takes it.
        with open(os.path.join(workdir, "hostname"), "w") as f:
            f.write("the-pod\n")
        app.config["mounts"].append({"destination": "/etc/hostname", "type": "bind",
                                     "source": os.path.join(workdir, "hostname"),
                                     "options": ["rbind", "ro"]})
        app.ns("network", path=f"/run/netns/{netns}")
        for kind in ("ipc", "uts", "pid"):
            app.ns(kind, path=f"/proc/{spid}/ns/{kind}")
        app.args('echo "uname=$(uname -r)"; echo "addr=$(ip -4 -o addr show eth0 | awk \'{print $4}\')"; '
                 'echo "pid=$$"; echo "hostname=$(hostname)"; '
                 'echo ready; echo "served-by-$(uname -r)" | nc -l -p 8080; sleep 1000')
        app.write()
        out_path = os.path.join(workdir, "app.out")
        aid = rt.track(rt.new_id())
        with open(out_path, "wb") as out:
            subprocess.run([handler, "--root", rt.root, "create", "--bundle", app.path, aid],
                           stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                           check=True, timeout=120)
        handler_cmd(handler, rt, "start", aid)
        qemu = json.loads(handler_cmd(handler, rt, "state", aid)[1])["pid"]
        assert "qemu-system" in cmdline(qemu), cmdline(qemu)
        wait_for(out_path, b"ready", qemu, "the app container")

        # A second VM-isolated container of the pod: refused, naming why, nothing left behind.
        second = make_bundle()
        second.write(json.loads(json.dumps(app.config)))
        bid = rt.track(rt.new_id())
        rc, _, err = handler_cmd(handler, rt, "create", "--bundle", second.path, bid, check=False)
        assert rc != 0 and "already connected to a VM-isolated container" in err, (rc, err)
        assert sorted(e for e in state_root_entries(rt) if bid in e) == []

        served = b""
        for _ in range(60):  # nc in the guest listens a moment after "ready"
            try:
                with socket.create_connection((POD_IP, 8080), timeout=10) as c:
                    served = c.recv(100)
                    if served:
                        break
            except OSError:
                time.sleep(1)
        text = open(out_path, "rb").read().decode(errors="replace")
        lines = dict(l.split("=", 1) for l in text.splitlines() if "=" in l)
        assert lines.get("uname") != os.uname().release and lines.get("uname"), text
        assert lines.get("addr") == POD_IP + "/24", text
        # ipc, uts, pid: the guest's own, not the sandbox's (documented in README); the uts
        # namespace has the pod's hostname.
        assert lines.get("pid") == "1", text
        assert lines.get("hostname") == "the-pod", text
        assert served.startswith(b"served-by-") and served != f"served-by-{os.uname().release}".encode(), served

        handler_cmd(handler, rt, "kill", aid, "KILL")
        rt.wait_status(aid, "stopped", timeout=60)
        handler_cmd(handler, rt, "delete", aid)
        links = subprocess.run(["ip", "-n", netns, "-o", "link"], capture_output=True, text=True).stdout
        assert "skiff-tap0" not in links, links
        handler_cmd(handler, rt, "kill", sid, "KILL")
        rt.wait_status(sid, "stopped", timeout=30)
        handler_cmd(handler, rt, "delete", sid)
        assert state_root_entries(rt) == []
    finally:
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        subprocess.run(["ip", "link", "del", host_veth], capture_output=True)
