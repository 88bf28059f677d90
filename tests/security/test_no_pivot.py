"""--no-pivot (MS_MOVE of the rootfs onto / and chroot) leaves the old root's mounts in the
container's mount namespace, below the moved root. The kernel lets a user namespace mount a
fresh proc or sysfs (one without the masked paths' covers) while a full, uncovered mount of
that type is in the mount namespace, so a host /proc left there undoes maskedPaths and
readonlyPaths. runc detaches (or covers) every such mount outside the rootfs before the move."""

import pytest

DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
               "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
               "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


def _attempt(rt, bundle, unshare_flags, fstype):
    """In a --no-pivot container, makes a user namespace (and a pid or net namespace the new
    proc or sysfs must belong to) and tries a fresh mount of fstype there. The process has
    docker's default capabilities (busybox's `unshare -r` needs some of them to write its
    id maps)."""
    bundle.config["process"]["capabilities"] = {k: list(DOCKER_CAPS) for k in
                                                ("bounding", "effective", "permitted")}
    bundle.args(
        "mkdir -p /tmp/m; "
        f"unshare {unshare_flags} sh -c 'echo in-userns; "
        f"mount -t {fstype} {fstype} /tmp/m && echo MOUNTED-{fstype}'; exit 0")
    rc, out, err = rt.run_container(bundle, extra=["--no-pivot"])
    assert rc == 0, err
    return out


@pytest.mark.parametrize("fstype,flags", [("proc", "-mrpf"), ("sysfs", "-mrnf")])
def test_no_pivot_leaves_no_fresh_proc_or_sysfs_mountable(rt, bundle, fstype, flags):
    """`unshare -mrpf` then `mount -t proc`: refused (EPERM), because nothing fully visible of
    that type is left in the namespace. The container's own /proc carries the masks, so it
    does not count. (in-userns proves the namespace was made, so the refusal is the kernel's
    visibility rule and not a missing unshare.)"""
    out = _attempt(rt, bundle, flags, fstype)
    assert "in-userns" in out, out
    assert f"MOUNTED-{fstype}" not in out, out


def test_no_pivot_in_a_user_namespace_covers_what_it_cannot_detach(rt, bundle):
    """In a container with its own user namespace the host's mounts are locked: they cannot
    be detached, so they are covered with a tmpfs, which hides them just as well from a
    nested user namespace."""
    bundle.ns("user")
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000,
                                              "size": 65536}]
    bundle.config["linux"]["gidMappings"] = list(bundle.config["linux"]["uidMappings"])
    bundle.config["mounts"] = [m for m in bundle.config["mounts"] if m["destination"] != "/sys"]
    out = _attempt(rt, bundle, "-mrpf", "proc")
    assert "in-userns" in out, out
    assert "MOUNTED-proc" not in out, out


def test_no_pivot_still_masks_proc(rt, bundle):
    """The container's own procfs keeps its covers under --no-pivot, and nothing of the
    host's procfs is reachable: /proc/timer_list reads empty, /proc/sys is read-only."""
    bundle.args("wc -c < /proc/timer_list; (echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null "
                "&& echo sys-writable || echo sys-readonly")
    rc, out, err = rt.run_container(bundle, extra=["--no-pivot"])
    assert rc == 0, err
    assert out.split() == ["0", "sys-readonly"], out
