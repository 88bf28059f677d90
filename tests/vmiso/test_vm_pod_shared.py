"""A pod VM (Kata's way): under a `skiff-vm` handler, a CRI sandbox with the annotation
run.oci.skiff.vm.pod=shared becomes its pod's one VM (the pause process in the guest, the VM
on the pod's interface), and the pod's app containers are made inside it: two at once, each
with its own rootfs, sharing the pod's network and the pause container's pid namespace; exec
and ps reach the right one; each exits with its own status; deleting everything leaves no QEMU,
virtiofsd, tap, staged tree or state. One boot."""

import json
import os
import subprocess
import time

from conftest import vm_processes
from test_vm_pod import CRI_TYPE, HOST_IP, POD_IP, cmdline, handler_cmd, sh
from test_vmiso import BOOT, state_root_entries, wait_for

POD = "run.oci.skiff.vm.pod"
SANDBOX_ID = "io.kubernetes.cri.sandbox-id"


def app_bundle(make_bundle, netns, sid, qemu, script, marker):
    b = make_bundle()
    b.config["annotations"] = {CRI_TYPE: "container", SANDBOX_ID: sid}
    b.config.pop("hostname", None)
    b.ns("network", path=f"/run/netns/{netns}")
    for kind in ("ipc", "uts", "pid"):
        b.ns(kind, path=f"/proc/{qemu}/ns/{kind}")
    b.args(script)
    b.write()
    with open(os.path.join(b.path, "rootfs", "marker"), "w") as f:
        f.write(marker + "\n")
    return b


def foreground_run(handler, rt, b, out_path):
    cid = rt.track(rt.new_id())
    out = open(out_path, "wb")
    p = subprocess.Popen([handler, "--root", rt.root, "run", "--bundle", b.path, cid],
                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    out.close()
    return cid, p


def test_two_app_containers_in_one_pod_vm(rt, make_bundle, workdir):
    handler = os.path.join(workdir, "skiff-vm")
    os.symlink(rt.binary, handler)
    netns = f"skiffpvm{os.getpid()}"
    host_veth = f"skv{os.getpid() % 100000}"
    sh("ip", "netns", "add", netns)
    procs = []
    try:
        sh("ip", "link", "add", host_veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        sh("ip", "addr", "add", HOST_IP + "/24", "dev", host_veth)
        sh("ip", "link", "set", host_veth, "up")
        sh("ip", "-n", netns, "addr", "add", POD_IP + "/24", "dev", "eth0")
        sh("ip", "-n", netns, "link", "set", "eth0", "up")
        sh("ip", "-n", netns, "route", "add", "default", "via", HOST_IP)

        # The sandbox: the pod's VM, its pause process ("sleep") in the guest.
        sandbox = make_bundle()
        sandbox.config["annotations"] = {CRI_TYPE: "sandbox", POD: "shared"}
        sandbox.config["hostname"] = "the-pod"
        sandbox.ns("network", path=f"/run/netns/{netns}")
        sandbox.args("sleep 1000")
        sandbox.write()
        sid = rt.track(rt.new_id())
        handler_cmd(handler, rt, "create", "--bundle", sandbox.path, sid)
        handler_cmd(handler, rt, "start", sid)
        qemu = json.loads(handler_cmd(handler, rt, "state", sid)[1])["pid"]
        assert "qemu-system" in cmdline(qemu), cmdline(qemu)
        status = os.path.join(rt.root, f"{sid}:vm", "status")
        wait_for(status, b"up\n", qemu, "the pod VM")

        probe = ('echo "uname=$(uname -r)"; echo "addr=$(ip -4 -o addr show eth0 | awk \'{print $4}\')"; '
                 'echo "host=$(hostname)"; echo "pid1=$(tr \'\\0\' \' \' < /proc/1/cmdline)"; '
                 'echo "marker=$(cat /marker)"; ')
        one = app_bundle(make_bundle, netns, sid, qemu,
                         probe + 'trap "exit 7" TERM; echo ready; while :; do sleep 0.2; done', "one")
        two = app_bundle(make_bundle, netns, sid, qemu,
                         probe + 'echo ready; while [ ! -e /tmp/stop ]; do sleep 0.2; done; exit 3', "two")
        one_out, two_out = os.path.join(workdir, "one.out"), os.path.join(workdir, "two.out")
        aid1, p1 = foreground_run(handler, rt, one, one_out)
        procs.append(p1)
        wait_for(one_out, b"ready", qemu, "app one")
        aid2, p2 = foreground_run(handler, rt, two, two_out)
        procs.append(p2)
        wait_for(two_out, b"ready", qemu, "app two")

        # Both running, in the one VM: no QEMU or virtiofsd of their own.
        for aid in (aid1, aid2):
            st = json.loads(handler_cmd(handler, rt, "state", aid)[1])
            assert st["status"] == "running", st
            assert "qemu" not in cmdline(st["pid"]), cmdline(st["pid"])
            assert not vm_processes(f"skiff-{aid}", f"{aid}:vm"), aid
        for path, marker in ((one_out, "one"), (two_out, "two")):
            text = open(path).read()
            lines = dict(l.split("=", 1) for l in text.splitlines() if "=" in l)
            assert lines.get("uname") and lines["uname"] != os.uname().release, text
            assert lines.get("addr") == POD_IP + "/24", text   # the pod's network, shared
            assert lines.get("host") == "the-pod", text        # the pause container's uts
            assert "sleep 1000" in lines.get("pid1", ""), text  # and its pid namespace
            assert lines.get("marker") == marker, text          # its own rootfs

        # ps lists the container's own processes, as the guest sees them.
        table = handler_cmd(handler, rt, "ps", aid2)[1]
        assert "/tmp/stop" in table and "exit 7" not in table, table
        # exec reaches the right container; two then ends with its own status.
        rc, out, err = handler_cmd(handler, rt, "exec", aid2, "sh", "-c", "cat /marker; touch /tmp/stop", check=False)
        assert rc == 0 and out.strip() == "two", (rc, out, err)
        assert p2.wait(timeout=120) == 3, open(two_out).read()
        # one: SIGTERM through the relay to the guest process, which exits 7.
        handler_cmd(handler, rt, "kill", aid1, "TERM")
        assert p1.wait(timeout=120) == 7, open(one_out).read()
        for aid in (aid1, aid2):
            handler_cmd(handler, rt, "delete", "-f", aid, check=False)
        # Their trees left the share: virtiofsd's child serves nothing of theirs.
        for pid in vm_processes(f"{sid}:vm", programs=("virtiofsd",)):
            try:
                mounts = open(f"/proc/{pid}/mountinfo").read()
            except OSError:
                continue
            assert f"pod-{aid1}" not in mounts and f"pod-{aid2}" not in mounts, mounts

        handler_cmd(handler, rt, "kill", sid, "KILL")
        rt.wait_status(sid, "stopped", timeout=60)
        handler_cmd(handler, rt, "delete", sid)
        links = subprocess.run(["ip", "-n", netns, "-o", "link"], capture_output=True, text=True).stdout
        assert "skiff-tap0" not in links, links
        assert state_root_entries(rt) == []
        deadline = time.monotonic() + 30
        while vm_processes(workdir, f"skiff-{sid}") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not vm_processes(workdir, f"skiff-{sid}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        subprocess.run(["ip", "link", "del", host_veth], capture_output=True)
