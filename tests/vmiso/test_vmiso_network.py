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


# Two interfaces in one namespace, as a pod or a podman container on two networks has:
# eth0 with IPv4 and IPv6 (its IPv6 default route via a link-local gateway, as routers
# advertise themselves), net1 with IPv4 only, a smaller MTU and a route to a subnet that is
# not its own. The host's ends of the veths stand in for the networks.
A_HOST4, A_GUEST4, A_HOST6, A_GUEST6 = "10.213.21.1", "10.213.21.2", "fd5c:21::1", "fd5c:21::2"
A_FAR6 = "fd5c:23::1"  # on the host, off every guest subnet: only the IPv6 default route reaches it
B_HOST4, B_GUEST4, B_FAR4 = "10.213.22.1", "10.213.22.2", "10.213.23.1"
A_MAC, B_MAC = "02:5c:21:00:00:02", "02:5c:22:00:00:02"


def serve_peer(listener, got):
    """Accepts one connection; records (peer address, what it sent)."""
    try:
        conn, peer = listener.accept()
    except OSError:
        return
    with conn:
        conn.settimeout(30)
        got.append((peer[0], conn.recv(100)))


def listen(family, addr, port):
    s = socket.socket(family)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(BOOT)
    return s


def fetch(family, addr):
    """The body of GET / from the guest's httpd on port 8080, or ""."""
    deadline = time.monotonic() + 60  # httpd in the guest listens a moment after "ready"
    while time.monotonic() < deadline:
        try:
            with socket.socket(family) as c:
                c.settimeout(10)
                c.connect((addr, 8080))
                c.sendall(b"GET / HTTP/1.0\r\n\r\n")
                reply = b""
                while chunk := c.recv(4096):
                    reply += chunk
            return reply.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
        except OSError:
            time.sleep(1)
    return ""


def test_two_interfaces_with_ipv6_reach_the_guest(rt, bundle, workdir):
    tag = os.getpid() % 100000
    netns, host_a, host_b = f"skvn{tag}", f"skva{tag}", f"skvb{tag}"
    sh("ip", "netns", "add", netns)
    listeners = []
    try:
        sh("ip", "link", "add", host_a, "type", "veth", "peer", "name", "eth0", "netns", netns)
        sh("ip", "link", "add", host_b, "type", "veth", "peer", "name", "net1", "netns", netns)
        for cmd in (["addr", "add", A_HOST4 + "/24", "dev", host_a],
                    ["addr", "add", A_HOST6 + "/64", "dev", host_a, "nodad"],
                    ["addr", "add", "fe80::1/64", "dev", host_a, "nodad"],
                    ["addr", "add", A_FAR6 + "/128", "dev", host_a, "nodad"],
                    ["addr", "add", B_HOST4 + "/24", "dev", host_b],
                    ["addr", "add", B_FAR4 + "/32", "dev", host_b],
                    ["link", "set", host_a, "up"], ["link", "set", host_b, "up"]):
            sh("ip", *cmd)
        for cmd in (["link", "set", "eth0", "address", A_MAC],
                    ["link", "set", "net1", "address", B_MAC, "mtu", "1400"],
                    ["addr", "add", A_GUEST4 + "/24", "dev", "eth0"],
                    ["addr", "add", A_GUEST6 + "/64", "dev", "eth0", "nodad"],
                    ["addr", "add", B_GUEST4 + "/24", "dev", "net1"],
                    ["link", "set", "eth0", "up"], ["link", "set", "net1", "up"],
                    ["route", "add", "default", "via", A_HOST4],
                    ["-6", "route", "add", "default", "via", "fe80::1", "dev", "eth0"],
                    ["route", "add", "10.213.23.0/24", "via", B_HOST4, "dev", "net1"]):
            sh("ip", "-n", netns, *cmd)
        got = {}
        for name, family, addr, port in (("v6-default", socket.AF_INET6, A_FAR6, 9093),
                                         ("v6-link", socket.AF_INET6, A_HOST6, 9091),
                                         ("v4-route", socket.AF_INET, B_FAR4, 9092)):
            listeners.append(listen(family, addr, port))
            got[name] = []
            threading.Thread(target=serve_peer, args=(listeners[-1], got[name]), daemon=True).start()

        bundle.ns("network", path=f"/run/netns/{netns}")
        vm_bundle(bundle, 'ip -o link | sed "s/^/L /"; ip -o addr | sed "s/^/A /"; '
                          'ip route | sed "s/^/R4 /"; ip -6 route | sed "s/^/R6 /"; '
                          f'echo v6-default | nc -w 20 {A_FAR6} 9093; '
                          f'echo v6-link | nc -w 20 {A_HOST6} 9091; '
                          f'echo v4-route | nc -w 20 {B_FAR4} 9092; '
                          'mkdir -p /www; echo "served-by-$(uname -r)" > /www/index.html; '
                          'httpd -p 8080 -h /www; echo ready; sleep 1000')
        out_path = os.path.join(workdir, "vm.out")
        cid = create_detached(rt, bundle, out_path)
        rt.start(cid, timeout=BOOT)  # start returns once the guest is up
        pid = rt.state(cid)["pid"]
        wait_for(out_path, b"ready", pid, "the container process")
        # The host reaches the guest over IPv6 on eth0 and over IPv4 on net1.
        served6 = fetch(socket.AF_INET6, A_GUEST6)
        served4 = fetch(socket.AF_INET, B_GUEST4)
        text = open(out_path, "rb").read().decode(errors="replace")
        links = subprocess.run(["ip", "-n", netns, "-o", "link"], capture_output=True, text=True).stdout
        assert "skiff-tap0" in links and "skiff-tap1" in links, links
        rt.kill(cid, "KILL")
        rt.wait_status(cid, "stopped", timeout=60)
        rt.delete(cid)
        # delete leaves nothing in the namespace: no tap, no qdisc; the interfaces keep their
        # addresses.
        links = subprocess.run(["ip", "-n", netns, "-o", "link"], capture_output=True, text=True).stdout
        assert "skiff-tap" not in links, links
        qdiscs = subprocess.run(["tc", "-n", netns, "qdisc", "show"], capture_output=True, text=True).stdout
        assert "ingress" not in qdiscs, qdiscs
        kept = subprocess.run(["ip", "-n", netns, "-o", "addr"], capture_output=True, text=True).stdout
        assert A_GUEST6 in kept and B_GUEST4 in kept, kept
        assert state_root_entries(rt) == []

        lines = text.splitlines()
        link = {l.split()[2].rstrip(":"): l for l in lines if l.startswith("L ")}
        addrs = [l for l in lines if l.startswith("A ")]
        r4 = [" ".join(l.split()[1:]) for l in lines if l.startswith("R4 ")]
        r6 = [" ".join(l.split()[1:]) for l in lines if l.startswith("R6 ")]
        # Each guest NIC has its interface's name, MAC and MTU.
        assert A_MAC in link.get("eth0", "") and "mtu 1500" in link["eth0"], text
        assert B_MAC in link.get("net1", "") and "mtu 1400" in link["net1"], text
        # Its addresses, IPv6 usable at once (no duplicate address detection pending).
        assert any(" eth0 " in a and f"inet {A_GUEST4}/24" in a for a in addrs), text
        assert any(" eth0 " in a and f"inet6 {A_GUEST6}/64" in a and "tentative" not in a
                   for a in addrs), text
        assert any(" net1 " in a and f"inet {B_GUEST4}/24" in a for a in addrs), text
        assert not any(" net1 " in a and "inet6 fd" in a for a in addrs), text
        # Every route, on its interface.
        assert any(r.startswith(f"default via {A_HOST4} dev eth0") for r in r4), text
        assert any(r.startswith(f"10.213.23.0/24 via {B_HOST4} dev net1") for r in r4), text
        assert any(r.startswith("default via fe80::1 dev eth0") for r in r6), text
        # The guest reaches the host over each: its source shows which interface it left by.
        assert got["v6-default"] == [(A_GUEST6, b"v6-default\n")], (got, text)
        assert got["v6-link"] == [(A_GUEST6, b"v6-link\n")], (got, text)
        assert got["v4-route"] == [(B_GUEST4, b"v4-route\n")], (got, text)
        assert served6.startswith("served-by-6.12."), (served6, text)
        assert served4.startswith("served-by-6.12."), (served4, text)
    finally:
        for s in listeners:
            s.close()
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        for h in (host_a, host_b):
            subprocess.run(["ip", "link", "del", h], capture_output=True)
