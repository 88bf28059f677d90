"""Symlinks planted in the image (absolute and relative) must never make a mount, mkdir, mknod
or write land on the host: CVE-2019-16884/19921, CVE-2023-27561 (/proc or /sys a symlink),
CVE-2021-30465, CVE-2024-45310 (mount destinations and device paths through symlinks).

Every test plants the symlink, runs the container, and then checks the host target: no mount at
or below it and not one file created in it."""

import os

import pytest

from secutil import (assert_host_untouched, drop_mount, mounts_at_or_below, plant_symlink,
                      relative_escape)


@pytest.mark.parametrize("dest,fstype", [("/proc", "proc"), ("/sys", "sysfs")])
@pytest.mark.parametrize("form", ["absolute", "relative"])
def test_proc_or_sys_symlink_refused(rt, bundle, host_dir, dest, fstype, form):
    """/proc or /sys a symlink to a host dir: create must fail. A runtime that follows the
    link mounts procfs/sysfs on the host dir (or writes through it) and the dir is no longer a
    plain empty directory, or create succeeds: both fail this test."""
    target = host_dir("victim")
    text = target if form == "absolute" else relative_escape(bundle, dest, target)
    plant_symlink(bundle, dest, text)
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0, "create accepted a rootfs whose " + dest + " is a symlink"
    assert_host_untouched(target)


def test_proc_symlink_inside_root_refused(rt, bundle):
    """Even a link that stays inside the root (/proc -> /fakeproc) is refused: with it a
    runtime's later writes to /proc/self/attr or /proc/sys go wherever the image says."""
    os.makedirs(bundle.in_rootfs("/fakeproc"))
    plant_symlink(bundle, "/proc", "/fakeproc")
    _, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    assert os.listdir(bundle.in_rootfs("/fakeproc")) == []


@pytest.mark.parametrize("form", ["absolute", "relative"])
def test_tmpfs_destination_through_symlink_stays_inside(rt, bundle, host_dir, form):
    """A tmpfs whose destination goes through /mnt/evil -> <host dir>: the mount and the
    directories made for it must land inside the rootfs. A runtime that follows the link on
    the host mounts the tmpfs on the host dir (its mount appears there) and creates `sub` in
    it."""
    target = host_dir("victim")
    text = target if form == "absolute" else relative_escape(bundle, "/mnt/evil", target)
    plant_symlink(bundle, "/mnt/evil", text)
    bundle.config["mounts"].append({"destination": "/mnt/evil/sub", "type": "tmpfs",
                                    "source": "tmpfs", "options": ["size=1m"]})
    out = rt.sh(bundle, "echo payload > /mnt/evil/sub/file && cat /mnt/evil/sub/file")
    assert out.split()[-1] == "payload"
    assert_host_untouched(target)
    # the link resolved inside the root: the runtime made the dirs under the rootfs
    if form == "absolute":
        assert os.path.isdir(bundle.in_rootfs(os.path.join(target, "sub")))


@pytest.mark.parametrize("form", ["absolute", "relative"])
def test_bind_destination_through_symlink_stays_inside(rt, bundle, host_dir, form):
    """A bind mount (the volume case) whose destination is reached through a symlink to a
    host dir: the bind must land inside the rootfs, never over the host dir."""
    target = host_dir("victim")
    volume = host_dir("volume")
    with open(os.path.join(volume, "data"), "w") as f:
        f.write("volume-data\n")
    text = target if form == "absolute" else relative_escape(bundle, "/srv/vol", target)
    plant_symlink(bundle, "/srv/vol", text)
    bundle.config["mounts"].append({"destination": "/srv/vol", "type": "bind",
                                    "source": volume, "options": ["rbind", "rw"]})
    out = rt.sh(bundle, "cat /srv/vol/data")
    assert out.strip() == "volume-data"
    assert_host_untouched(target)


def test_bind_destination_dangling_symlink_in_volume(rt, bundle, host_dir):
    """CVE-2021-30465 shape: a volume holds a symlink `link -> <host dir>`; a second mount's
    destination goes through it. The link is read inside the root, so the second mount lands
    in the rootfs and the host dir stays empty."""
    target = host_dir("victim")
    volume = host_dir("volume")
    os.symlink(target, os.path.join(volume, "link"))
    bundle.config["mounts"] += [
        {"destination": "/vol", "type": "bind", "source": volume, "options": ["rbind", "rw"]},
        {"destination": "/vol/link/inner", "type": "tmpfs", "source": "tmpfs",
         "options": ["size=1m"]},
    ]
    rc, out, err = rt.run_container(bundle.args("touch /vol/link/inner/x && echo ok"))
    # refusing is also safe; what must never happen is a mount or a file on the host
    assert rc == 0 or "inner" in err, (rc, out, err)
    assert_host_untouched(target)


def test_device_path_through_symlink_stays_inside(rt, bundle, host_dir):
    """linux.devices entry /dev/evil/node where the image's /dev/evil -> <host dir> (no
    /dev tmpfs hides it): mknod must happen inside the rootfs, not in the host dir."""
    target = host_dir("victim")
    drop_mount(bundle, "/dev")
    for sub in ("/dev/pts", "/dev/shm", "/dev/mqueue"):
        os.makedirs(bundle.in_rootfs(sub), exist_ok=True)
    plant_symlink(bundle, "/dev/evil", target)
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/evil/node", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666}]
    rt.sh(bundle, "test -c /dev/evil/node")
    assert_host_untouched(target)


def test_device_path_symlink_to_host_file_replaced(rt, bundle, host_dir):
    """The image's /dev/null2 is a symlink to a host file; linux.devices asks for /dev/null2.
    The symlink must be replaced by the node inside the root; the host file keeps its type,
    mode, owner and contents (a runtime that follows it chmods/chowns or replaces it)."""
    target = host_dir("victim")
    victim = os.path.join(target, "file")
    with open(victim, "w") as f:
        f.write("host\n")
    os.chmod(victim, 0o600)
    before = os.stat(victim)
    drop_mount(bundle, "/dev")
    for sub in ("/dev/pts", "/dev/shm", "/dev/mqueue"):
        os.makedirs(bundle.in_rootfs(sub), exist_ok=True)
    plant_symlink(bundle, "/dev/null2", victim)
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/null2", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666,
         "uid": 1000, "gid": 1000}]
    rt.sh(bundle, "test -c /dev/null2 && echo x > /dev/null2")
    after = os.stat(victim)
    assert (after.st_mode, after.st_uid, after.st_gid, after.st_ino) == \
        (before.st_mode, before.st_uid, before.st_gid, before.st_ino)
    assert open(victim).read() == "host\n"
    assert_host_untouched(target, ["file"])


@pytest.mark.parametrize("kind", ["maskedPaths", "readonlyPaths"])
def test_masked_and_readonly_paths_through_symlink(rt, bundle, host_dir, kind):
    """maskedPaths/readonlyPaths entry /etc/link -> <host dir>: resolved inside the root the
    link names nothing, so nothing is mounted; a runtime that follows it on the host mounts a
    tmpfs or a read-only bind over the host dir."""
    target = host_dir("victim")
    with open(os.path.join(target, "keep"), "w") as f:
        f.write("keep\n")
    plant_symlink(bundle, "/etc/link", target)
    bundle.config["linux"][kind] = ["/etc/link"]
    rt.sh(bundle, "true")
    assert_host_untouched(target, ["keep"])
    # still writable on the host
    with open(os.path.join(target, "keep"), "a") as f:
        f.write("more\n")


def test_masked_path_symlink_resolves_in_root(rt, bundle):
    """A masked path reached through a link inside the image masks the link's target as the
    container sees it: /etc/secret-link -> /srv/secret, so /srv/secret reads empty."""
    os.makedirs(bundle.in_rootfs("/srv"), exist_ok=True)
    with open(bundle.in_rootfs("/srv/secret"), "w") as f:
        f.write("secret\n")
    plant_symlink(bundle, "/etc/secret-link", "/srv/secret")
    bundle.config["linux"]["maskedPaths"].append("/etc/secret-link")
    assert rt.sh(bundle, "cat /srv/secret; echo end").split() == ["end"]
    assert mounts_at_or_below(bundle.in_rootfs("/srv")) == []
