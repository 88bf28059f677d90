"""Writes to /proc go to the container's verified procfs (CVE-2025-52881 class), and
/dev/console is the pty peer bound by fd, never a path of the image (CVE-2025-52565 class)."""

import os

from secutil import assert_host_untouched, drop_mount, harness, plant_symlink


def _read(path):
    with open(path) as f:
        return f.read().strip()


def test_sysctl_lands_in_container_procfs(rt, bundle):
    """net.ipv4.ip_forward and kernel.domainname set for the container: the container sees
    them, the host's values are unchanged (a runtime writing through the host's /proc would
    flip the host's)."""
    host_fwd = _read("/proc/sys/net/ipv4/ip_forward")
    host_dom = _read("/proc/sys/kernel/domainname")
    want_fwd = "0" if host_fwd == "1" else "1"
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": want_fwd,
                                        "kernel.domainname": "skiff-sec-dom"}
    out = rt.sh(bundle, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/domainname")
    assert out.split() == [want_fwd, "skiff-sec-dom"]
    assert _read("/proc/sys/net/ipv4/ip_forward") == host_fwd
    assert _read("/proc/sys/kernel/domainname") == host_dom


def test_sysctl_through_fake_proc_sys_refused(rt, bundle, host_dir):
    """A bind mount puts a host directory of look-alike files over /proc/sys. The runtime
    must see that /proc/sys is not procfs and refuse; one that writes by path writes the
    value into the host file."""
    fake = host_dir("fake-sys")
    os.makedirs(os.path.join(fake, "net", "ipv4"))
    victim = os.path.join(fake, "net", "ipv4", "ip_forward")
    with open(victim, "w") as f:
        f.write("host\n")
    bundle.config["mounts"].append({"destination": "/proc/sys", "type": "bind",
                                    "source": fake, "options": ["rbind", "rw"]})
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    bundle.config["linux"]["readonlyPaths"] = []
    rc, out, err = rt.run_container(bundle.args("echo started"))
    assert rc != 0 and "started" not in out, (out, err)
    assert _read(victim) == "host"
    assert_host_untouched(fake, ["net", "net/ipv4", "net/ipv4/ip_forward"])


def test_sysctl_key_cannot_climb_out(rt, bundle):
    """A key with .. (or a leading dot) would walk out of /proc/sys: refused."""
    bundle.config["linux"]["sysctl"] = {"..self.oom_score_adj": "1000"}
    rc, out, err = rt.run_container(bundle.args("echo started"))
    assert rc != 0 and "started" not in out, (out, err)


def _console_run(rt, bundle, console_socket, script):
    bundle.config["process"]["terminal"] = True
    bundle.args(script)
    cs = console_socket()
    cid, _ = rt.create(bundle, extra=["--console-socket", cs.path])
    rt.start(cid)
    rt.wait_status(cid, "stopped")
    out = cs.wait()
    rt.delete(cid)
    return out.replace("\r", "")


def test_console_is_the_pty_peer(rt, bundle, console_socket):
    """/dev/console and stdio are the pty the runtime handed over on the console socket: a
    devpts node (major 136) of the container's own devpts, and the mount at /dev/console is
    devpts, not a file of the image."""
    out = _console_run(rt, bundle, console_socket,
                       "stat -c console=%t:%F /dev/console; tty; "
                       "grep ' /dev/console ' /proc/self/mountinfo | sed 's/.* - //'")
    lines = out.split("\n")
    assert "console=88:character special file" in lines, out
    assert any(ln.startswith("/dev/pts/") for ln in lines), out
    assert any(ln.startswith("devpts ") for ln in lines), out


def test_console_symlink_in_image_does_not_reach_host(rt, bundle, host_dir, console_socket):
    """The image's /dev/console is a symlink to a host file (no /dev tmpfs hides it). The
    console must still be the pty; a runtime that bind-mounts the pty onto the path follows
    the link and mounts over the host file, or chowns/chmods it."""
    target = host_dir("victim")
    victim = os.path.join(target, "console")
    with open(victim, "w") as f:
        f.write("host\n")
    os.chmod(victim, 0o644)
    before = os.stat(victim)
    drop_mount(bundle, "/dev")
    for sub in ("/dev/pts", "/dev/shm", "/dev/mqueue"):
        os.makedirs(bundle.in_rootfs(sub), exist_ok=True)
    plant_symlink(bundle, "/dev/console", victim)
    try:
        out = _console_run(rt, bundle, console_socket,
                           "stat -L -c console=%t:%F /dev/console; echo hi > /dev/console")
        assert "console=88:character special file" in out, out
    except harness.RuntimeFailed as e:
        # refusing the planted link is safe too (skiff does: the link names nothing inside)
        assert "console" in str(e), e
    after = os.stat(victim)
    assert (after.st_mode, after.st_uid, after.st_gid) == \
        (before.st_mode, before.st_uid, before.st_gid)
    assert _read(victim) == "host"
    assert_host_untouched(target, ["console"])
