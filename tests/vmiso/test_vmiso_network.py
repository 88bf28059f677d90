"""VM isolation: a network namespace made before `create` (as podman or a CNI plugin does),
with a veth whose other end is on the host, is connected to the guest by a tap and tc
redirects; the guest takes the veth's address and route. One boot checks both directions,
through TCP served by the guest itself (a ping could be answered by the namespace's stack)."""

import os
import socket
import subprocess
import threading
import time

from test_vmiso import BOOT, create_detached, state_root_entries, vm_bundle, wait_for

HOST_IP, GUEST_IP = "10.213.7.1", "10.213.7.2"


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def serve_once(listener, got):
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(30)
        got.append(conn.recv(100))


def test_podman_style_network_namespace_reaches_the_guest(rt, bundle, workdir):
    netns = f"skiffvm{os.getpid()}"
    host_veth = f"skv{os.getpid() % 100000}"
    sh("ip", "netns", "add", netns)
    listener = socket.socket()
    try:
        sh("ip", "link", "add", host_veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        sh("ip", "addr", "add", HOST_IP + "/24", "dev", host_veth)
        sh("ip", "link", "set", host_veth, "up")
        sh("ip", "-n", netns, "addr", "add", GUEST_IP + "/24", "dev", "eth0")
        sh("ip", "-n", netns, "link", "set", "eth0", "up")
        sh("ip", "-n", netns, "route", "add", "default", "via", HOST_IP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST_IP, 9090))
        listener.listen(1)
        listener.settimeout(BOOT)
        got = []
        server = threading.Thread(target=serve_once, args=(listener, got), daemon=True)
        server.start()

        bundle.ns("network", path=f"/run/netns/{netns}")
        vm_bundle(bundle, f'echo "addr=$(ip -4 -o addr show eth0 | awk \'{{print $4}}\')"; '
                          f'echo "route=$(ip route | grep default)"; '
                          f'echo "to-host-from-$(uname -r)" | nc {HOST_IP} 9090; '
                          f'echo ready; echo "served-by-$(uname -r)" | nc -l -p 8080; sleep 1000')
        out_path = os.path.join(workdir, "vm.out")
        cid = create_detached(rt, bundle, out_path)
        rt.start(cid, timeout=BOOT)  # start returns once the guest is up
        pid = rt.state(cid)["pid"]
        wait_for(out_path, b"ready", pid, "the container process")
        served = b""
        for _ in range(60):  # nc in the guest listens a moment after "ready"
            try:
                with socket.create_connection((GUEST_IP, 8080), timeout=10) as c:
                    served = c.recv(100)
                    if served:
                        break
            except OSError:
                time.sleep(1)
        server.join(timeout=30)
        text = open(out_path, "rb").read().decode(errors="replace")
        # The namespace holds the tap while the VM runs; delete removes it.
        links = subprocess.run(["ip", "-n", netns, "-o", "link"], capture_output=True, text=True).stdout
        assert "skiff-tap0" in links, links
        rt.kill(cid, "KILL")
        rt.wait_status(cid, "stopped", timeout=60)
        rt.delete(cid)
        links = subprocess.run(["ip", "-n", netns, "-o", "link"], capture_output=True, text=True).stdout
        assert "skiff-tap0" not in links, links
        assert state_root_entries(rt) == []

        lines = dict(l.split("=", 1) for l in text.splitlines() if "=" in l)
        assert lines.get("addr") == GUEST_IP + "/24", text
        assert HOST_IP in lines.get("route", ""), text
        assert got and got[0].startswith(b"to-host-from-6.12."), (got, text)
        assert served.startswith(b"served-by-6.12."), (served, text)
    finally:
        listener.close()
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        subprocess.run(["ip", "link", "del", host_veth], capture_output=True)
