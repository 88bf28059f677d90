"""Namespaces: new, joined by path, or shared with the host, seen from inside the container."""

import os
import subprocess

import pytest

# config type -> name under /proc/<pid>/ns
NS_FILE = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
           "cgroup": "cgroup", "user": "user", "time": "time"}


def host_ns(kind, pid="self"):
    return os.readlink(f"/proc/{pid}/ns/{NS_FILE[kind]}")


def inside_ns(rt, bundle, kind):
    return rt.sh(bundle, f"readlink /proc/self/ns/{NS_FILE[kind]}").strip()


@pytest.fixture
def unshared_proc(workdir):
    """A host process in its own net, uts and ipc namespaces, as a join target."""
    proc = subprocess.Popen(["unshare", "--net", "--uts", "--ipc", "sleep", "1000"],
                            cwd="/", stdin=subprocess.DEVNULL)
    # wait until unshare has exec'd sleep inside the new namespaces
    for _ in range(100):
        try:
            if os.readlink(f"/proc/{proc.pid}/ns/net") != host_ns("network"):
                break
        except OSError:
            pass
        subprocess.run(["sleep", "0.02"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_pid_is_1_inside(rt, bundle):
    assert rt.sh(bundle, "echo $$").strip() == "1"


def test_pid_ns_hides_host_processes(rt, bundle):
    pids = rt.sh(bundle, "ls /proc | grep -E '^[0-9]+$'").split()
    # sh itself and the grep/ls pipeline: nothing from the host
    assert "1" in pids
    assert len(pids) <= 4, pids


def test_hostname(rt, bundle):
    bundle.config["hostname"] = "box-one"
    assert rt.sh(bundle, "hostname").strip() == "box-one"


@pytest.mark.skiff_only(reason="runc 1.1.5 ignores domainname (added in runc 1.2)")
def test_domainname(rt, bundle):
    bundle.config["domainname"] = "example.test"
    assert rt.sh(bundle, "cat /proc/sys/kernel/domainname").strip() == "example.test"


def test_hostname_in_joined_uts_namespace(rt, bundle, unshared_proc):
    """runc accepts a hostname with a uts namespace joined by path (it is not the host's)."""
    bundle.ns("uts", path=f"/proc/{unshared_proc}/ns/uts")
    bundle.config["hostname"] = "joined-name"
    assert rt.sh(bundle, "hostname").strip() == "joined-name"


def test_hostname_does_not_change_host(rt, bundle):
    before = open("/proc/sys/kernel/hostname").read()
    bundle.config["hostname"] = "not-the-host"
    rt.sh(bundle, "true")
    assert open("/proc/sys/kernel/hostname").read() == before


@pytest.mark.parametrize("kind", ["uts", "ipc", "network", "mount", "pid"])
def test_new_namespace_differs_from_host(rt, bundle, kind):
    assert inside_ns(rt, bundle, kind) != host_ns(kind)


@pytest.mark.parametrize("kind", ["uts", "ipc", "network"])
def test_absent_namespace_is_shared_with_host(rt, bundle, kind):
    bundle.ns(kind, present=False)
    if kind == "uts":
        bundle.config.pop("hostname", None)
    assert inside_ns(rt, bundle, kind) == host_ns(kind)


@pytest.mark.parametrize("kind", ["uts", "ipc", "network"])
def test_join_namespace_of_host_process_by_path(rt, bundle, unshared_proc, kind):
    bundle.ns(kind, path=f"/proc/{unshared_proc}/ns/{NS_FILE[kind]}")
    # this test is about joining; setting a hostname in a joined uts ns is another question
    bundle.config.pop("hostname", None)
    target = host_ns(kind, unshared_proc)
    assert target != host_ns(kind)
    assert inside_ns(rt, bundle, kind) == target


def test_join_netns_of_another_container(rt, make_bundle):
    first = make_bundle()
    first.args("sleep 1000")
    cid, _ = rt.create(first)
    pid = rt.state(cid)["pid"]
    second = make_bundle()
    second.ns("network", path=f"/proc/{pid}/ns/net")
    assert inside_ns(rt, second, "network") == host_ns("network", pid)


def test_join_ns_bad_path_fails(rt, bundle, workdir):
    bundle.ns("network", path=os.path.join(workdir, "no-such-ns"))
    bundle.args("true")
    rc, _, err = rt.run_container(bundle)
    assert rc != 0
    assert err.strip()


def test_new_netns_has_only_loopback(rt, bundle):
    out = rt.sh(bundle, "ls /sys/class/net")
    assert out.split() == ["lo"]


IFF_UP = 0x1


def test_new_netns_brings_loopback_up(rt, bundle):
    """A new network namespace's `lo` starts down; runc and crun bring it up (podman's
    netavark backend with --network none relies on it), so 127.0.0.1 works inside."""
    flags = int(rt.sh(bundle, "cat /sys/class/net/lo/flags").strip(), 16)
    assert flags & IFF_UP
    out = rt.sh(bundle, "nc -l -p 4711 -e echo hi & sleep 0.2; nc 127.0.0.1 4711 </dev/null")
    assert out.strip() == "hi"


def test_new_netns_loopback_up_in_a_user_namespace(rt, bundle):
    bundle.ns("user")
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    assert int(rt.sh(bundle, "cat /sys/class/net/lo/flags").strip(), 16) & IFF_UP


def test_joined_netns_loopback_is_left_as_it_is(rt, bundle, unshared_proc):
    """A namespace joined by path belongs to whoever made it: its `lo` stays down."""
    bundle.ns("network", path=f"/proc/{unshared_proc}/ns/net")
    assert not int(rt.sh(bundle, "cat /sys/class/net/lo/flags").strip(), 16) & IFF_UP


def test_user_namespace_maps(rt, bundle):
    bundle.ns("user")
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    out = rt.sh(bundle, "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; id -u")
    uid_map, gid_map, uid = out.split("--")
    assert uid_map.split() == ["0", "100000", "65536"]
    assert gid_map.split() == ["0", "200000", "65536"]
    assert uid.strip() == "0"


def test_user_namespace_is_new(rt, bundle):
    bundle.ns("user")
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    assert inside_ns(rt, bundle, "user") != host_ns("user")


def test_user_namespace_process_runs_as_mapped_host_uid(rt, bundle):
    bundle.ns("user")
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.args("sleep 1000")
    cid, _ = rt.create(bundle)
    pid = rt.state(cid)["pid"]
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    assert status["Uid"].split()[0] == "100000"
    assert status["Gid"].split()[0] == "100000"


def test_cgroup_namespace_root(rt, bundle):
    bundle.ns("cgroup")
    out = rt.sh(bundle, "cat /proc/self/cgroup")
    # every hierarchy's path is the namespace root
    paths = [line.split(":", 2)[2] for line in out.splitlines() if line]
    assert paths and all(p == "/" for p in paths), out


def test_cgroup_namespace_is_new(rt, bundle):
    bundle.ns("cgroup")
    assert inside_ns(rt, bundle, "cgroup") != host_ns("cgroup")


TIMENS = pytest.mark.skiff_only(reason="runc 1.1.5 has no time namespace support")


@TIMENS
def test_time_namespace_offsets(rt, bundle):
    bundle.ns("time")
    bundle.config["linux"]["timeOffsets"] = {"monotonic": {"secs": 86400 * 3, "nanosecs": 0},
                                             "boottime": {"secs": 86400 * 5, "nanosecs": 0}}
    out = rt.sh(bundle, "cat /proc/self/timens_offsets")
    offsets = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert offsets["monotonic"] == [str(86400 * 3), "0"]
    assert offsets["boottime"] == [str(86400 * 5), "0"]


@TIMENS
def test_time_namespace_shifts_uptime(rt, bundle):
    bundle.ns("time")
    bundle.config["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 10, "nanosecs": 0}}
    host_uptime = float(open("/proc/uptime").read().split()[0])
    inside = float(rt.sh(bundle, "cat /proc/uptime").split()[0])
    assert inside - host_uptime >= 86400 * 10 - 60


@TIMENS
def test_time_namespace_is_new(rt, bundle):
    bundle.ns("time")
    assert inside_ns(rt, bundle, "time") != host_ns("time")
