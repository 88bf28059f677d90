"""Settings that must be applied or refused, never dropped (issue 15): linux.netDevices,
linux.memoryPolicy, process.execCPUAffinity, linux.personality.flags, linux.intelRdt and
update's RDT flags, and what `features` says of them. Bad input names its JSON path and
leaves nothing behind."""

import json
import os
import subprocess
import time
import uuid

import pytest


def one_error_line(stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {stderr!r}"
    return lines[0]


def host_links():
    return set(os.listdir("/sys/class/net"))


@pytest.fixture
def dummies():
    """Makes virtual interfaces on the host (short, unique names); removes what is left.
    `ifb`, not `dummy`: this host's kernel has no dummy driver; both are single virtual
    devices that a dying namespace destroys."""
    made = []

    def make(n=1):
        names = []
        for _ in range(n):
            name = "sk" + uuid.uuid4().hex[:8]
            subprocess.run(["ip", "link", "add", name, "type", "ifb"], check=True)
            made.append(name)
            names.append(name)
        return names

    yield make
    for name in made:
        subprocess.run(["ip", "link", "del", name], stderr=subprocess.DEVNULL)


def container_links(out):
    """Interface names from /proc/net/dev as the container printed it."""
    return {line.split(":")[0].strip() for line in out.splitlines()[2:] if ":" in line}


# --- linux.netDevices -------------------------------------------------------------------

@pytest.mark.skiff_only(reason="linux.netDevices is runtime-spec 1.3; runc 1.1.5 ignores it")
def test_net_device_moved_and_renamed_then_returned_on_delete(rt, bundle, dummies):
    a, b = dummies(2)
    bundle.config["linux"]["netDevices"] = {a: {}, b: {"name": "ctr0"}}
    bundle.args("cat /proc/net/dev > /tmp/links; sleep 100")
    cid, _ = rt.create(bundle)
    # moved before the init's go: the host has lost both already
    assert a not in host_links() and b not in host_links()
    rt.start(cid)
    res = rt.run(["exec", cid, "cat", "/proc/net/dev"])
    inside = container_links(res.stdout)
    assert a in inside and "ctr0" in inside and b not in inside
    rt.delete(cid, force=True)
    # back on the host, under their own names
    assert a in host_links() and b in host_links()


@pytest.mark.skiff_only(reason="linux.netDevices is runtime-spec 1.3; runc 1.1.5 ignores it")
def test_net_device_keeps_its_addresses_and_state_moving_in(rt, bundle, dummies):
    (a,) = dummies(1)
    subprocess.run(["ip", "addr", "add", "169.254.169.13/32", "dev", a], check=True)
    subprocess.run(["ip", "link", "set", a, "up"], check=True)
    bundle.config["linux"]["netDevices"] = {a: {"name": "ctr0"}}
    for kind in ("bounding", "effective", "permitted"):
        bundle.config["process"]["capabilities"][kind].append("CAP_NET_ADMIN")
    bundle.args("sleep 100")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    res = rt.run(["exec", cid, "ip", "addr", "show", "dev", "ctr0"])
    assert "169.254.169.13/32" in res.stdout and "UP" in res.stdout.splitlines()[0], res.stdout
    # what the container's processes made of the device does not reach the host: it comes
    # back down and without addresses (as runc)
    rt.run(["exec", cid, "ip", "addr", "add", "10.99.0.1/32", "dev", "ctr0"])
    rt.delete(cid, force=True)
    back = subprocess.run(["ip", "addr", "show", "dev", a], capture_output=True, text=True, check=True)
    assert "10.99.0.1" not in back.stdout and "169.254" not in back.stdout, back.stdout
    assert ",UP" not in back.stdout.splitlines()[0], back.stdout


@pytest.mark.skiff_only(reason="linux.netDevices is runtime-spec 1.3; runc 1.1.5 ignores it")
def test_delete_returns_the_moved_device_not_one_renamed_to_its_name(rt, bundle, dummies):
    # A container with CAP_NET_ADMIN renames its device and makes a decoy under the name it
    # was given; delete must return the device create moved in (found by its ifindex), not
    # hand the container's decoy to the host.
    (a,) = dummies(1)
    with open(f"/sys/class/net/{a}/address") as f:
        mac = f.read().strip()  # random per device (ifb cannot be given one): the identity
    bundle.config["linux"]["netDevices"] = {a: {"name": "ctr0"}}
    for kind in ("bounding", "effective", "permitted"):
        bundle.config["process"]["capabilities"][kind].append("CAP_NET_ADMIN")
    bundle.args("ip link set ctr0 name moved0 && ip link add ctr0 type ifb && sleep 100")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    for _ in range(100):
        inside = container_links(rt.run(["exec", cid, "cat", "/proc/net/dev"]).stdout)
        if {"moved0", "ctr0"} <= inside:
            break
        time.sleep(0.1)
    assert {"moved0", "ctr0"} <= inside, inside
    rt.delete(cid, force=True)
    back = subprocess.run(["ip", "link", "show", "dev", a], capture_output=True, text=True)
    assert back.returncode == 0 and mac in back.stdout, back.stdout + back.stderr


@pytest.mark.skiff_only(reason="linux.netDevices is runtime-spec 1.3; runc 1.1.5 ignores it")
def test_delete_does_not_return_another_device_made_under_the_moved_ones_index(rt, bundle, dummies):
    # A container with CAP_NET_ADMIN deletes its device and makes another kind under the same
    # ifindex (rtnetlink lets a creator choose it): delete must see that it is not the device
    # create moved in, and leave it where it is. (Two devices of one virtual kind without a
    # permanent address, such as two ifb, cannot be told apart; physical ones can.)
    (a,) = dummies(1)
    bundle.config["linux"]["netDevices"] = {a: {"name": "ctr0"}}
    bundle.args("sleep 100")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    pid = rt.state(cid)["pid"]
    netns = f"--net=/proc/{pid}/ns/net"
    # "N: ctr0: <...>": the host's /sys shows the host's namespace, so ask rtnetlink there
    index = subprocess.run(["nsenter", netns, "ip", "-o", "link", "show", "ctr0"],
                           capture_output=True, text=True, check=True).stdout.split(":")[0].strip()
    # what the container could do for itself, done from outside to need no iproute2 inside
    subprocess.run(["nsenter", netns, "ip", "link", "del", "ctr0"], check=True)
    # a veth whose peer lives in a namespace that outlives the container (one its processes
    # keep): on the host that veth would be a way from the host's network into theirs
    keep = "skns" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", keep], check=True)
    try:
        subprocess.run(["nsenter", netns, "ip", "link", "add", "ctr0", "index", index, "type", "veth",
                        "peer", "name", "peer0", "netns", f"/run/netns/{keep}"], check=True)
        res = rt.delete(cid, force=True)
        back = subprocess.run(["ip", "-d", "link", "show", "dev", a], capture_output=True, text=True)
    finally:
        subprocess.run(["ip", "netns", "del", keep], check=True)
    assert back.returncode != 0 or "veth" not in back.stdout, back.stdout
    assert "no longer the device that was moved in" in res.stderr, res.stderr


@pytest.mark.skiff_only(reason="linux.netDevices is runtime-spec 1.3; runc 1.1.5 ignores it")
def test_net_device_in_a_namespace_joined_by_path(rt, bundle, dummies):
    (a,) = dummies(1)
    ns = "skns" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        bundle.ns("network", path=f"/run/netns/{ns}")
        bundle.config["linux"]["netDevices"] = {a: {"name": "ctr1"}}
        bundle.args("cat /proc/net/dev")
        rc, out, err = rt.run_container(bundle)
        assert rc == 0, err
        assert "ctr1" in container_links(out)
        # run deleted the container: the device is back although the namespace lives on
        assert a in host_links()
    finally:
        subprocess.run(["ip", "netns", "del", ns])


@pytest.mark.skiff_only(reason="linux.netDevices is runtime-spec 1.3; runc 1.1.5 ignores it")
def test_net_device_created_container_delete_returns_it(rt, bundle, dummies):
    (a,) = dummies(1)
    bundle.config["linux"]["netDevices"] = {a: {"name": "eth7"}}
    cid, _ = rt.create(bundle)
    assert a not in host_links()
    rt.delete(cid)
    assert a in host_links() and "eth7" not in host_links()


@pytest.mark.skiff_only(reason="linux.netDevices is runtime-spec 1.3; runc 1.1.5 ignores it")
def test_net_device_missing_moves_nothing(rt, bundle, dummies):
    (a,) = dummies(1)
    bundle.config["linux"]["netDevices"] = {a: {}, "sknosuchdev0": {}}
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    line = one_error_line(res.stderr)
    assert "linux.netDevices.sknosuchdev0" in line and "no network interface" in line
    assert a in host_links()  # checked before anything moved


@pytest.mark.skiff_only(reason="linux.netDevices is runtime-spec 1.3; runc 1.1.5 ignores it")
def test_net_device_name_clash_in_container(rt, bundle, dummies):
    (a,) = dummies(1)
    bundle.config["linux"]["netDevices"] = {a: {"name": "lo"}}
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    line = one_error_line(res.stderr)
    assert f"linux.netDevices.{a}" in line and "already in use" in line
    assert a in host_links()


@pytest.mark.skiff_only(reason="linux.netDevices is runtime-spec 1.3; runc 1.1.5 ignores it")
def test_net_devices_two_with_one_name(rt, bundle, dummies):
    a, b = dummies(2)
    bundle.config["linux"]["netDevices"] = {a: {"name": "ctr0"}, b: {"name": "ctr0"}}
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    assert "linux.netDevices." in one_error_line(res.stderr)
    assert a in host_links() and b in host_links()


@pytest.mark.skiff_only(reason="linux.netDevices is runtime-spec 1.3; runc 1.1.5 ignores it")
def test_net_devices_need_a_network_namespace(rt, bundle, dummies):
    (a,) = dummies(1)
    bundle.ns("network", present=False)
    bundle.config["linux"]["netDevices"] = {a: {}}
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    line = one_error_line(res.stderr)
    assert "linux.netDevices" in line and "without a NET namespace" in line
    assert a in host_links()


@pytest.mark.skiff_only(reason="linux.netDevices is runtime-spec 1.3; runc 1.1.5 ignores it")
def test_net_device_returned_when_create_fails_later(rt, bundle, dummies):
    (a,) = dummies(1)
    bundle.config["linux"]["netDevices"] = {a: {"name": "ctr0"}}
    bundle.config["process"]["cwd"] = "/"
    bundle.config["mounts"].append({"destination": "/x", "type": "nosuchfs", "source": "none"})
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    assert a in host_links(), "a failed create must give the device back, not let it die"


@pytest.mark.parametrize("value, path", [
    ({"eth0": "x"}, "linux.netDevices.eth0"),
    ({"eth0": {"name": 7}}, "linux.netDevices.eth0.name"),
    ({"a/b": {}}, "linux.netDevices"),
    ({"eth0": {"name": "way-too-long-name0"}}, "linux.netDevices.eth0.name"),
])
@pytest.mark.skiff_only(reason="linux.netDevices is runtime-spec 1.3; runc 1.1.5 ignores it")
def test_net_devices_bad_values_name_their_path(rt, bundle, value, path):
    bundle.config["linux"]["netDevices"] = value
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    assert path in one_error_line(res.stderr)


# --- linux.memoryPolicy ------------------------------------------------------------------

def first_numa_policy(out):
    return out.split()[1]


@pytest.mark.skiff_only(reason="linux.memoryPolicy is runtime-spec 1.3; runc 1.1.5 ignores it")
@pytest.mark.parametrize("policy, want", [
    ({"mode": "MPOL_BIND", "nodes": "0"}, "bind:0"),
    ({"mode": "MPOL_INTERLEAVE", "nodes": "0"}, "interleave:0"),
    ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}, "bind=static:0"),
    ({"mode": "MPOL_PREFERRED", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"]}, "prefer=relative:0"),
    ({"mode": "MPOL_DEFAULT"}, "default"),
])
def test_memory_policy_applied(rt, bundle, policy, want):
    bundle.config["linux"]["memoryPolicy"] = policy
    out = rt.sh(bundle, "head -n 1 /proc/self/numa_maps")
    assert first_numa_policy(out) == want


@pytest.mark.skiff_only(reason="linux.memoryPolicy is runtime-spec 1.3; runc 1.1.5 ignores it")
def test_memory_policy_applies_to_exec(rt, bundle):
    bundle.config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0"}
    bundle.args("sleep 100")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    res = rt.run(["exec", cid, "head", "-n", "1", "/proc/self/numa_maps"])
    assert first_numa_policy(res.stdout) == "bind:0"


@pytest.mark.parametrize("policy, path", [
    ({"mode": "INTERLEAVE", "nodes": "0"}, "linux.memoryPolicy.mode"),
    ({"nodes": "0"}, "linux.memoryPolicy.mode"),
    ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["badflag"]}, "linux.memoryPolicy.flags[0]"),
    ({"mode": "MPOL_BIND", "nodes": "0-9876543210"}, "linux.memoryPolicy.nodes"),
    ({"mode": "MPOL_BIND", "nodes": "x"}, "linux.memoryPolicy.nodes"),
    ({"mode": "MPOL_BIND", "nodes": 0}, "linux.memoryPolicy.nodes"),
    # the kernel refuses nodes with MPOL_DEFAULT: the init says which field
    ({"mode": "MPOL_DEFAULT", "nodes": "0"}, "linux.memoryPolicy"),
    # node 1000 does not exist on this host
    ({"mode": "MPOL_BIND", "nodes": "1000"}, "linux.memoryPolicy"),
])
@pytest.mark.skiff_only(reason="linux.memoryPolicy is runtime-spec 1.3; runc 1.1.5 ignores it")
def test_memory_policy_bad_values_name_their_path(rt, bundle, policy, path):
    bundle.config["linux"]["memoryPolicy"] = policy
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    assert path in one_error_line(res.stderr)


def test_memory_policy_empty_object_is_no_policy(rt, bundle):
    # The spec wants a mode, but an empty object requests nothing: runc 1.1.5 runs it, and so
    # does skiff, with the default policy (README: the runc that reads memoryPolicy refuses it).
    bundle.config["linux"]["memoryPolicy"] = {}
    out = rt.sh(bundle, "head -n 1 /proc/self/numa_maps")
    assert first_numa_policy(out) == "default"


# --- process.execCPUAffinity -------------------------------------------------------------

def cpus_allowed(out):
    for line in out.splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split()[1]
    raise AssertionError(out)


def exec_with_process(rt, bundle, cid, proc):
    path = os.path.join(rt.workdir, f"process-{uuid.uuid4().hex[:6]}.json")
    with open(path, "w") as f:
        json.dump(proc, f)
    return rt.run(["exec", "--process", path, cid], check=False)


@pytest.fixture
def running(rt, bundle):
    bundle.args("sleep 100")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    return cid


@pytest.mark.skipif(os.cpu_count() < 2, reason="needs two CPUs")
@pytest.mark.skiff_only(reason="execCPUAffinity is runtime-spec 1.2; runc 1.1.5 ignores it")
@pytest.mark.parametrize("affinity, want", [
    ({"final": "1"}, "1"),
    ({"initial": "0", "final": "1"}, "1"),
    ({"initial": "1"}, "0-1"),  # without final: back to the cgroup's CPUs (runc)
])
def test_exec_cpu_affinity(rt, bundle, running, affinity, want):
    proc = {"args": ["cat", "/proc/self/status"], "cwd": "/", "env": ["PATH=/bin"],
            "execCPUAffinity": affinity}
    res = exec_with_process(rt, bundle, running, proc)
    assert res.returncode == 0, res
    assert cpus_allowed(res.stdout) == want


@pytest.mark.skiff_only(reason="execCPUAffinity is runtime-spec 1.2; runc 1.1.5 ignores it")
@pytest.mark.parametrize("affinity, path", [
    ({"initial": "99"}, "process.execCPUAffinity.initial"),   # no CPU 99 here
    ({"final": "99"}, "process.execCPUAffinity.final"),
    # process.json's own paths
    ({"final": "1-0"}, "execCPUAffinity.final"),
    ({"initial": 1}, "execCPUAffinity.initial"),
])
def test_exec_cpu_affinity_bad_values(rt, bundle, running, affinity, path):
    proc = {"args": ["true"], "cwd": "/", "env": ["PATH=/bin"], "execCPUAffinity": affinity}
    res = exec_with_process(rt, bundle, running, proc)
    assert res.returncode != 0
    assert path in one_error_line(res.stderr)


# --- linux.personality -------------------------------------------------------------------

@pytest.mark.skiff_only(reason="runc warns and ignores personality flags")
def test_personality_flags_refused(rt, bundle):
    bundle.config["linux"]["personality"] = {"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    assert "linux.personality.flags[0]" in one_error_line(res.stderr)


@pytest.mark.skiff_only(reason="runc 1.1.5 predates linux.personality (runc 1.2)")
def test_personality_applies_to_exec(rt, bundle, running_linux32):
    res = rt.run(["exec", running_linux32, "uname", "-m"])
    assert res.stdout.strip() == "i686"


@pytest.fixture
def running_linux32(rt, bundle):
    bundle.config["linux"]["personality"] = {"domain": "LINUX32"}
    bundle.args("sleep 100")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    return cid


# --- linux.intelRdt ----------------------------------------------------------------------

def resctrl_mounted():
    with open("/proc/self/mountinfo") as f:
        return any(" - resctrl " in line for line in f)


@pytest.mark.skipif(resctrl_mounted(), reason="tests the host without resctrl")
@pytest.mark.parametrize("rdt, path", [
    ({"closID": "guaranteed"}, "linux.intelRdt"),
    ({"l3CacheSchema": "L3:0=ff"}, "linux.intelRdt"),
    ({"schemata": ["MB:0=20"]}, "linux.intelRdt"),
])
@pytest.mark.skiff_only(reason="runc 1.1.5 fails without naming the field")
def test_intel_rdt_without_resctrl_is_refused(rt, bundle, rdt, path):
    bundle.config["linux"]["intelRdt"] = rdt
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    line = one_error_line(res.stderr)
    assert path in line and "resctrl" in line


@pytest.mark.skipif(resctrl_mounted(), reason="tests the host without resctrl")
@pytest.mark.parametrize("flag, words", [
    ("--l3-cache-schema", "Intel RDT/CAT: l3 cache schema is not enabled"),
    ("--mem-bw-schema", "Intel RDT/MBA: memory bandwidth schema is not enabled"),
])
def test_update_rdt_flags_without_resctrl(rt, running, flag, words):
    res = rt.run(["update", flag, "L3:0=f", running], check=False)
    assert res.returncode != 0
    assert words in res.stderr


@pytest.mark.parametrize("rdt, path", [
    ({"closID": "a/b"}, "linux.intelRdt.closID"),
    ({"closID": 5}, "linux.intelRdt.closID"),
    ({"schemata": "L3:0=f"}, "linux.intelRdt.schemata"),
])
@pytest.mark.skiff_only(reason="runc 1.1.5 fails without naming the field")
def test_intel_rdt_bad_values_name_their_path(rt, bundle, rdt, path):
    bundle.config["linux"]["intelRdt"] = rdt
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    assert path in one_error_line(res.stderr)


# --- features ----------------------------------------------------------------------------

@pytest.mark.skiff_only(reason="runtime-spec 1.3 features; runc 1.1.5 predates them")
def test_features_report_the_new_settings(rt):
    feats = json.loads(rt.run(["features"]).stdout)["linux"]
    assert feats["netDevices"] == {"enabled": True}
    assert set(feats["memoryPolicy"]["modes"]) == {
        "MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE",
        "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL"}
    assert set(feats["memoryPolicy"]["flags"]) == {
        "MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"}
    rdt = resctrl_mounted()
    assert feats["intelRdt"] == {"enabled": rdt, "schemata": rdt, "monitoring": rdt}
