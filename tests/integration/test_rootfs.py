"""Root filesystem, mounts, /dev, devices, masked and read-only paths, sysctl, propagation."""

import os
import subprocess

import pytest


def mountinfo_line(out, mountpoint):
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4] == mountpoint:
            return line
    return None


def test_readonly_root(rt, bundle):
    bundle.config["root"]["readonly"] = True
    out = rt.sh(bundle, "touch /newfile 2>/dev/null && echo writable || echo refused")
    assert out.strip() == "refused"
    assert not os.path.exists(bundle.in_rootfs("/newfile"))


def test_readonly_root_mount_flag(rt, bundle):
    bundle.config["root"]["readonly"] = True
    line = mountinfo_line(rt.sh(bundle, "cat /proc/self/mountinfo"), "/")
    assert line is not None
    assert "ro" in line.split()[5].split(",")


def test_writable_root(rt, bundle):
    rt.sh(bundle, "echo data > /newfile")
    with open(bundle.in_rootfs("/newfile")) as f:
        assert f.read() == "data\n"


def test_bind_mount_rw(rt, bundle, host_dir):
    src = host_dir("shared")
    with open(os.path.join(src, "from-host"), "w") as f:
        f.write("hello\n")
    bundle.config["mounts"].append({"destination": "/mnt/shared", "type": "bind", "source": src,
                                    "options": ["rbind", "rw"]})
    out = rt.sh(bundle, "cat /mnt/shared/from-host; echo back > /mnt/shared/from-ctr")
    assert out == "hello\n"
    with open(os.path.join(src, "from-ctr")) as f:
        assert f.read() == "back\n"


def test_bind_mount_ro(rt, bundle, host_dir):
    src = host_dir("ro")
    with open(os.path.join(src, "file"), "w") as f:
        f.write("keep\n")
    bundle.config["mounts"].append({"destination": "/mnt/ro", "type": "bind", "source": src,
                                    "options": ["bind", "ro"]})
    out = rt.sh(bundle, "cat /mnt/ro/file; (echo x > /mnt/ro/file) 2>/dev/null && echo wrote "
                        "|| echo refused")
    assert out.split() == ["keep", "refused"]
    with open(os.path.join(src, "file")) as f:
        assert f.read() == "keep\n"


def test_bind_mount_of_file(rt, bundle, host_dir):
    src = os.path.join(host_dir("files"), "conf")
    with open(src, "w") as f:
        f.write("single-file\n")
    bundle.config["mounts"].append({"destination": "/etc/single.conf", "type": "bind",
                                    "source": src, "options": ["bind", "ro"]})
    assert rt.sh(bundle, "cat /etc/single.conf") == "single-file\n"


def test_tmpfs_size_and_mode(rt, bundle):
    bundle.config["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["size=2m", "mode=1770", "nosuid"]})
    out = rt.sh(bundle, "stat -c %a /scratch; grep ' /scratch ' /proc/self/mounts")
    mode, mount = out.splitlines()
    assert mode == "1770"
    fields = mount.split()
    assert fields[2] == "tmpfs"
    opts = fields[3].split(",")
    assert "size=2048k" in opts
    assert "nosuid" in opts


def test_tmpfs_destination_created(rt, bundle):
    bundle.config["mounts"].append({"destination": "/a/b/c", "type": "tmpfs", "source": "tmpfs"})
    out = rt.sh(bundle, "grep ' /a/b/c ' /proc/self/mounts")
    assert out.split()[2] == "tmpfs"


CHAR_DEVICES = {"/dev/null": (1, 3), "/dev/zero": (1, 5), "/dev/full": (1, 7),
                "/dev/random": (1, 8), "/dev/urandom": (1, 9), "/dev/tty": (5, 0)}


@pytest.mark.parametrize("path", sorted(CHAR_DEVICES))
def test_default_device_node(rt, bundle, path):
    out = rt.sh(bundle, f"stat -c '%F %t %T %a' {path}")
    kind, major, minor, mode = out.rsplit(" ", 3)
    assert kind == "character special file"
    assert (int(major, 16), int(minor, 16)) == CHAR_DEVICES[path]
    assert mode.strip() == "666"


def test_default_devices_usable(rt, bundle):
    out = rt.sh(bundle, "echo x > /dev/null && head -c 5 /dev/zero | wc -c && "
                        "head -c 7 /dev/urandom | wc -c")
    assert out.split() == ["5", "7"]


def test_dev_ptmx_points_to_pts(rt, bundle):
    out = rt.sh(bundle, "readlink /dev/ptmx")
    assert out.strip() in ("pts/ptmx", "/dev/pts/ptmx")


@pytest.mark.parametrize("link,target", [("/dev/fd", "/proc/self/fd"),
                                         ("/dev/stdin", "/proc/self/fd/0"),
                                         ("/dev/stdout", "/proc/self/fd/1"),
                                         ("/dev/stderr", "/proc/self/fd/2")])
def test_dev_std_links(rt, bundle, link, target):
    assert rt.sh(bundle, f"readlink {link}").strip() == target


@pytest.mark.parametrize("path,fstype", [("/dev/pts", "devpts"), ("/dev/shm", "tmpfs"),
                                         ("/dev/mqueue", "mqueue"), ("/dev", "tmpfs"),
                                         ("/proc", "proc"), ("/sys", "sysfs")])
def test_standard_mounts(rt, bundle, path, fstype):
    out = rt.sh(bundle, f"grep ' {path} ' /proc/self/mounts")
    assert out.split()[2] == fstype


def test_no_extra_devices(rt, bundle):
    out = rt.sh(bundle, "ls /dev")
    names = set(out.split())
    assert names <= {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm",
                     "mqueue", "fd", "stdin", "stdout", "stderr", "console", "core"}, names


def test_linux_devices_node(rt, bundle):
    bundle.config["linux"]["devices"] = [{"path": "/dev/mynull", "type": "c", "major": 1,
                                          "minor": 3, "fileMode": 0o640, "uid": 1000,
                                          "gid": 1001}]
    out = rt.sh(bundle, "stat -c '%F|%t|%T|%a|%u|%g' /dev/mynull")
    kind, major, minor, mode, uid, gid = out.strip().split("|")
    assert kind == "character special file"
    assert (int(major, 16), int(minor, 16)) == (1, 3)
    assert (mode, uid, gid) == ("640", "1000", "1001")


def _new_user_ns(bundle):
    bundle.ns("user")
    maps = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["uidMappings"] = maps
    bundle.config["linux"]["gidMappings"] = maps


def test_linux_devices_node_in_a_user_namespace(rt, bundle):
    """In a new user namespace (no mknod there) the node is still the config's: a path the
    host has no node at, its type, numbers and mode, owned by the given ids as the container
    sees them, and usable (1:5 reads zeros)."""
    _new_user_ns(bundle)
    bundle.config["linux"]["devices"] = [{"path": "/dev/skiff-no-such-host-node", "type": "c",
                                          "major": 1, "minor": 5, "fileMode": 0o604,
                                          "uid": 1000, "gid": 1001}]
    out = rt.sh(bundle, "stat -c '%F|%t|%T|%a|%u|%g' /dev/skiff-no-such-host-node;"
                        " head -c 3 /dev/skiff-no-such-host-node | od -An -tx1")
    node, data = out.strip().splitlines()
    kind, major, minor, mode, uid, gid = node.split("|")
    assert kind == "character special file"
    assert (int(major, 16), int(minor, 16)) == (1, 5)
    assert (mode, uid, gid) == ("604", "1000", "1001")
    assert data.split() == ["00", "00", "00"]


def test_linux_devices_in_a_user_namespace_never_take_the_hosts_node(rt, bundle):
    """A host node at the same path with other numbers (/dev/kmsg is 1:11) is not what the
    container gets when the config says 1:5."""
    if not os.path.exists("/dev/kmsg"):
        pytest.skip("the host has no /dev/kmsg")
    _new_user_ns(bundle)
    bundle.config["linux"]["devices"] = [{"path": "/dev/kmsg", "type": "c", "major": 1,
                                          "minor": 5, "fileMode": 0o600}]
    out = rt.sh(bundle, "stat -c '%t|%T|%a' /dev/kmsg")
    major, minor, mode = out.strip().split("|")
    assert (int(major, 16), int(minor, 16), mode) == (1, 5, "600")


def test_linux_devices_block_and_fifo(rt, bundle):
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/myfifo", "type": "p", "fileMode": 0o600},
        {"path": "/dev/sub/myblk", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600}]
    out = rt.sh(bundle, "stat -c '%F' /dev/myfifo; stat -c '%F %t %T' /dev/sub/myblk")
    fifo, blk = out.splitlines()
    assert fifo == "fifo"
    kind, major, minor = blk.rsplit(" ", 2)
    assert kind == "block special file"
    assert (int(major, 16), int(minor, 16)) == (7, 200)


def test_masked_file_reads_empty(rt, bundle):
    with open(bundle.in_rootfs("/secret.txt"), "w") as f:
        f.write("top secret\n")
    bundle.config["linux"]["maskedPaths"] = ["/secret.txt"]
    out = rt.sh(bundle, "cat /secret.txt | wc -c")
    assert out.strip() == "0"


def test_masked_dir_is_empty(rt, bundle):
    os.makedirs(bundle.in_rootfs("/secrets"))
    with open(bundle.in_rootfs("/secrets/key"), "w") as f:
        f.write("k\n")
    bundle.config["linux"]["maskedPaths"] = ["/secrets"]
    assert rt.sh(bundle, "ls -A /secrets").strip() == ""


def test_masked_proc_kcore(rt, bundle):
    assert rt.sh(bundle, "cat /proc/kcore | wc -c").strip() == "0"


def test_masked_missing_path_ignored(rt, bundle):
    bundle.config["linux"]["maskedPaths"] = ["/does/not/exist"]
    assert rt.sh(bundle, "echo ok").strip() == "ok"


def test_readonly_path_write_fails(rt, bundle):
    os.makedirs(bundle.in_rootfs("/rodir"))
    bundle.config["linux"]["readonlyPaths"] = ["/rodir"]
    out = rt.sh(bundle, "touch /rodir/x 2>/dev/null && echo wrote || echo refused; "
                        "touch /other && echo other-ok")
    assert out.split() == ["refused", "other-ok"]


def test_readonly_proc_sys(rt, bundle):
    out = rt.sh(bundle, "(echo 1 > /proc/sys/kernel/domainname) 2>/dev/null && echo wrote "
                        "|| echo refused")
    assert out.strip() == "refused"


def test_sysctl_net_in_new_netns(rt, bundle):
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    assert rt.sh(bundle, "cat /proc/sys/net/ipv4/ip_forward").strip() == "1"


def test_sysctl_does_not_touch_host(rt, bundle):
    before = open("/proc/sys/net/ipv4/ip_forward").read()
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "0" if before.strip() == "1"
                                        else "1"}
    rt.sh(bundle, "true")
    assert open("/proc/sys/net/ipv4/ip_forward").read() == before


def test_sysctl_kernel_shmmax_in_ipc_ns(rt, bundle):
    bundle.config["linux"]["sysctl"] = {"kernel.shmmax": "123456789"}
    assert rt.sh(bundle, "cat /proc/sys/kernel/shmmax").strip() == "123456789"


def test_sysctl_netns_sysctl_without_netns_rejected(rt, bundle):
    """A net.* sysctl with the host's network namespace would change the host: refused."""
    path = "/proc/sys/net/ipv4/ip_forward"
    before = open(path).read().strip()
    bundle.ns("network", present=False)
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "0" if before == "1" else "1"}
    bundle.args("true")
    try:
        rc, _, err = rt.run_container(bundle)
        after = open(path).read().strip()
    finally:
        with open(path, "w") as f:
            f.write(before)
    assert after == before, "the host's sysctl was changed"
    assert rc != 0
    assert err.strip()


@pytest.fixture
def shared_workdir(workdir):
    """Makes the test's temp dir a shared mount (of itself), so propagation can be observed."""
    subprocess.run(["mount", "--bind", workdir, workdir], check=True)
    subprocess.run(["mount", "--make-rshared", workdir], check=True)
    yield workdir
    subprocess.run(["umount", "-R", "-l", workdir], check=False)


@pytest.mark.parametrize("prop,visible", [
    ("rslave", True),
    pytest.param("rshared", True, marks=pytest.mark.xfail(strict=True,
        reason="known gap (skiff and runc 1.1.5): pivot_root refuses a rootfs in the host's "
               "peer group, so an rshared rootfs gets a peer group of its own")),
    ("private", False),
    ("rprivate", False)])
def test_rootfs_propagation_host_mount_seen(rt, shared_workdir, make_bundle, prop, visible):
    """A mount made on the host under the rootfs after start reaches a (r)slave/shared
    container, and not a private one."""
    bundle = make_bundle()
    os.makedirs(bundle.in_rootfs("/mnt/late"))
    bundle.config["linux"]["rootfsPropagation"] = prop
    bundle.args("while [ ! -e /go ]; do sleep 0.05; done; "
                "ls /mnt/late > /result.tmp; mv /result.tmp /result")
    cid, _ = rt.create(bundle)
    late = bundle.in_rootfs("/mnt/late")
    try:
        rt.start(cid)
        subprocess.run(["mount", "-t", "tmpfs", "late", late], check=True)
        open(os.path.join(late, "marker"), "w").close()
        open(bundle.in_rootfs("/go"), "w").close()
        rt.wait_status(cid, "stopped")
    finally:
        subprocess.run(["umount", "-l", late], check=False)
    with open(bundle.in_rootfs("/result")) as f:
        seen = f.read().split()
    assert seen == (["marker"] if visible else [])


def test_mount_through_symlink_stays_in_rootfs(rt, bundle, host_dir):
    # /link in the image points at an absolute host path; it must resolve inside the rootfs
    outside = host_dir("outside")
    os.symlink(outside, bundle.in_rootfs("/link"))
    bundle.config["mounts"].append({"destination": "/link/sub", "type": "tmpfs",
                                    "source": "tmpfs"})
    out = rt.sh(bundle, "echo x > /link/sub/f && grep -c ' /link/sub \\| "
                        f"{outside}/sub ' /proc/self/mounts")
    assert int(out.strip()) >= 1
    assert os.listdir(outside) == [], "the mount escaped the rootfs"
    assert os.path.isdir(bundle.in_rootfs(os.path.join(outside, "sub")))


def test_bind_source_symlink_to_dir_in_rootfs(rt, bundle):
    # a relative symlink inside the rootfs as destination: the target dir gets the mount
    os.makedirs(bundle.in_rootfs("/real"))
    os.symlink("real", bundle.in_rootfs("/alias"))
    bundle.config["mounts"].append({"destination": "/alias", "type": "tmpfs", "source": "tmpfs"})
    out = rt.sh(bundle, "echo y > /alias/f; cat /real/f")
    assert out.strip() == "y"
    assert not os.path.exists(bundle.in_rootfs("/real/f"))


def test_mount_options_nosuid_nodev_noexec(rt, bundle):
    bundle.config["mounts"].append({"destination": "/opts", "type": "tmpfs", "source": "tmpfs",
                                    "options": ["nosuid", "nodev", "noexec"]})
    opts = rt.sh(bundle, "grep ' /opts ' /proc/self/mounts").split()[3].split(",")
    assert {"nosuid", "nodev", "noexec"} <= set(opts)


# --- read-only tmpfs with mounts below it -----------------------------------------------------

def test_readonly_dev_tmpfs_gets_its_submounts_and_devices(rt, bundle):
    """A `ro` /dev tmpfs: /dev/pts, /dev/shm, /dev/mqueue and the default nodes are still made
    below it (runc mounts it writable and makes it read-only at the end), and the container
    then cannot write there."""
    dev = next(m for m in bundle.config["mounts"] if m["destination"] == "/dev")
    dev["options"].append("ro")
    out = rt.sh(bundle, "test -c /dev/null && test -c /dev/pts/ptmx && echo nodes; "
                        "grep ' /dev ' /proc/self/mounts; grep -c ' /dev/pts ' /proc/self/mounts; "
                        "touch /dev/newfile 2>/dev/null && echo writable || echo refused")
    lines = out.splitlines()
    assert lines[0] == "nodes", out
    assert "ro" in lines[1].split()[3].split(","), out
    assert lines[2] == "1", out
    assert lines[3] == "refused", out


@pytest.mark.skiff_only("runc 1.1.5 opens /dev/tty and fails without a controlling terminal")
def test_readonly_dev_tmpfs_with_a_terminal(rt, bundle):
    """The console is bound at /dev/console inside a `ro` /dev, so ro comes after it."""
    dev = next(m for m in bundle.config["mounts"] if m["destination"] == "/dev")
    dev["options"].append("ro")
    bundle.config["process"]["terminal"] = True
    bundle.args("true")
    bundle.write()
    res = subprocess.run([rt.binary, "--root", rt.root, "run", "--bundle", bundle.path,
                          rt.track(rt.new_id())], stdin=subprocess.DEVNULL,
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res


def test_readonly_tmpfs_with_a_mount_below(rt, bundle, host_dir):
    """Any `ro` tmpfs with another mount below it: the mountpoint is made before ro."""
    src = host_dir("src")
    with open(os.path.join(src, "f"), "w") as f:
        f.write("below\n")
    bundle.config["mounts"] += [
        {"destination": "/ro", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "size=1m"]},
        {"destination": "/ro/sub", "type": "bind", "source": src, "options": ["rbind"]},
    ]
    out = rt.sh(bundle, "cat /ro/sub/f; touch /ro/x 2>/dev/null && echo writable || echo refused")
    assert out.split() == ["below", "refused"], out


# --- mount destinations that are dangling symlinks in the image -------------------------------

def _resolv_conf(host_dir):
    src = os.path.join(host_dir("resolv"), "resolv.conf")
    with open(src, "w") as f:
        f.write("nameserver 192.0.2.53\n")
    return src


def test_file_bind_onto_dangling_symlink_creates_its_target(rt, bundle, host_dir):
    """Ubuntu-style images ship /etc/resolv.conf -> ../run/systemd/resolve/stub-resolv.conf
    and engines bind a resolv.conf onto it: the link is resolved inside the root, its missing
    target made (a file, for a file source) and the bind lands there, as with runc and crun."""
    if os.path.lexists(bundle.in_rootfs("/etc/resolv.conf")):
        os.unlink(bundle.in_rootfs("/etc/resolv.conf"))
    os.symlink("../run/systemd/resolve/stub-resolv.conf", bundle.in_rootfs("/etc/resolv.conf"))
    bundle.config["mounts"].append({"destination": "/etc/resolv.conf", "type": "bind",
                                    "source": _resolv_conf(host_dir), "options": ["rbind", "ro"]})
    out = rt.sh(bundle, "cat /etc/resolv.conf; cat /run/systemd/resolve/stub-resolv.conf")
    assert out.split() == ["nameserver", "192.0.2.53"] * 2, out
    made = bundle.in_rootfs("/run/systemd/resolve/stub-resolv.conf")
    assert os.path.isfile(made) and not os.path.islink(made)
    assert os.path.islink(bundle.in_rootfs("/etc/resolv.conf"))


def test_file_bind_onto_absolute_dangling_symlink_stays_inside(rt, bundle, host_dir):
    """An absolute dangling link naming a host path is read inside the root: the file is made
    under the rootfs and the host dir stays empty."""
    victim = host_dir("victim")
    os.symlink(os.path.join(victim, "resolv.conf"), bundle.in_rootfs("/etc/resolv2.conf"))
    bundle.config["mounts"].append({"destination": "/etc/resolv2.conf", "type": "bind",
                                    "source": _resolv_conf(host_dir), "options": ["bind"]})
    out = rt.sh(bundle, "cat /etc/resolv2.conf")
    assert out.split() == ["nameserver", "192.0.2.53"], out
    assert os.listdir(victim) == []
    assert os.path.isfile(bundle.in_rootfs(os.path.join(victim, "resolv.conf")))


def test_dir_bind_onto_dangling_symlink_creates_a_dir(rt, bundle, host_dir):
    """A directory source onto a dangling link: the link's target is made a directory."""
    src = host_dir("vol")
    with open(os.path.join(src, "f"), "w") as f:
        f.write("vol\n")
    os.symlink("srv/data", bundle.in_rootfs("/data"))
    bundle.config["mounts"].append({"destination": "/data", "type": "bind", "source": src,
                                    "options": ["rbind"]})
    assert rt.sh(bundle, "cat /data/f /srv/data/f").split() == ["vol", "vol"]
    assert os.path.isdir(bundle.in_rootfs("/srv/data"))


def test_dangling_symlink_chain_onto_file(rt, bundle, host_dir):
    """A chain of links (a -> b -> missing) is followed to its end, inside the root."""
    os.symlink("b", bundle.in_rootfs("/etc/a.conf"))
    os.symlink("/var/lib/c.conf", bundle.in_rootfs("/etc/b"))
    bundle.config["mounts"].append({"destination": "/etc/a.conf", "type": "bind",
                                    "source": _resolv_conf(host_dir), "options": ["bind"]})
    assert rt.sh(bundle, "cat /var/lib/c.conf").split() == ["nameserver", "192.0.2.53"]


def test_symlink_loop_destination_fails_cleanly(rt, bundle, host_dir):
    """A destination that is a symlink loop fails with one error, and nothing is left."""
    os.symlink("loop2", bundle.in_rootfs("/etc/loop1"))
    os.symlink("loop1", bundle.in_rootfs("/etc/loop2"))
    bundle.config["mounts"].append({"destination": "/etc/loop1", "type": "bind",
                                    "source": _resolv_conf(host_dir), "options": ["bind"]})
    bundle.args("true")
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    assert "/etc/loop1" in res.stderr, res.stderr
    assert rt.state(cid, check=False) is None


# --- bind sources the container's root cannot reach -------------------------------------------

def _userns(bundle):
    bundle.ns("user")
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def _locked_dir(host_dir):
    """A root-owned 0700 dir: the container's mapped root (host uid 100000) cannot search
    it, so it cannot look up a bind source below it."""
    locked = host_dir("locked")
    os.chmod(locked, 0o700)
    data = os.path.join(locked, "data")
    os.makedirs(data)
    with open(os.path.join(data, "f"), "w") as f:
        f.write("reached\n")
    with open(os.path.join(locked, "file.conf"), "w") as f:
        f.write("conf\n")
    return locked


def test_bind_source_unreachable_by_mapped_root(rt, bundle, host_dir):
    """In a user namespace, a bind source below a dir only host root can search: runc opens it
    as host root and mounts through the descriptor, so the container gets the mount."""
    locked = _locked_dir(host_dir)
    _userns(bundle)
    # the mountpoints exist: the mapped root cannot create them in a host-owned rootfs
    os.makedirs(bundle.in_rootfs("/mnt/data"))
    open(bundle.in_rootfs("/etc/x.conf"), "w").close()
    bundle.config["mounts"] += [
        {"destination": "/mnt/data", "type": "bind", "source": os.path.join(locked, "data"),
         "options": ["rbind", "ro"]},
        {"destination": "/etc/x.conf", "type": "bind", "source": os.path.join(locked, "file.conf"),
         "options": ["bind"]},
    ]
    out = rt.sh(bundle, "cat /mnt/data/f /etc/x.conf; grep ' /mnt/data ' /proc/self/mounts")
    lines = out.splitlines()
    assert lines[:2] == ["reached", "conf"], out
    assert "ro" in lines[2].split()[3].split(","), out


def test_bind_source_missing_in_user_namespace_fails_cleanly(rt, bundle, host_dir):
    """A source that does not exist still fails, naming it, and leaves nothing."""
    locked = _locked_dir(host_dir)
    _userns(bundle)
    bundle.config["mounts"].append({"destination": "/mnt/none", "type": "bind",
                                    "source": os.path.join(locked, "missing"),
                                    "options": ["rbind"]})
    bundle.args("true")
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    assert "missing" in res.stderr, res.stderr
    assert rt.state(cid, check=False) is None



def _host_mounts_of_type(fstype):
    with open("/proc/self/mountinfo") as f:
        lines = [line.split() for line in f]
    return sorted(fields[4] for fields in lines if fields[fields.index("-") + 1] == fstype)


@pytest.mark.parametrize("propagation", ["rslave", "rshared"])
def test_no_pivot_leaves_the_hosts_proc_and_sys_mounted(rt, bundle, propagation):
    """--no-pivot detaches the old root's proc and sysfs mounts in the container's mount
    namespace (runc's msMoveRoot). The detach must stay there, also with a shared root
    propagation: the host keeps every proc and sysfs mount it had. The container's own /proc
    and /sys work."""
    before = (_host_mounts_of_type("proc"), _host_mounts_of_type("sysfs"))
    bundle.config["linux"]["rootfsPropagation"] = propagation
    bundle.args("cat /proc/1/comm; ls /sys/kernel >/dev/null && echo sys-ok")
    rc, out, err = rt.run_container(bundle, extra=["--no-pivot"])
    assert rc == 0, err
    assert out.split() == ["sh", "sys-ok"], out
    assert (_host_mounts_of_type("proc"), _host_mounts_of_type("sysfs")) == before


@pytest.mark.parametrize("allow_fuse", [False, True], ids=["deny-all", "deny-all-allow-fuse"])
def test_device_access_is_the_rules_plus_the_defaults(rt, bundle, allow_fuse):
    """resources.devices deny-all (docker's and `runc spec`'s first rule): runc's default
    devices still open; /dev/fuse from linux.devices opens only with a rule of its own (what
    docker and podman send for --device), never because it is listed."""
    bundle.config["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10,
                                          "minor": 229, "fileMode": 0o666}]
    rules = [{"allow": False, "access": "rwm"}]
    if allow_fuse:
        rules.append({"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"})
    bundle.config["linux"]["resources"] = {"devices": rules}
    out = rt.sh(bundle, "for d in null zero full random urandom ptmx fuse; do "
                        "(exec 3<>/dev/$d) 2>/dev/null && echo $d-ok || echo $d-denied; done")
    assert out.split() == ["null-ok", "zero-ok", "full-ok", "random-ok", "urandom-ok",
                           "ptmx-ok", "fuse-ok" if allow_fuse else "fuse-denied"], out
