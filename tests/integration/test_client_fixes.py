"""Runtime behaviour the podman scenarios in tests/clients found missing: tmpcopyup (podman's
--tmpfs) and a device whose own rule in linux.resources.devices narrows its access (podman's
--device X:r)."""

import os

import pytest


def copyup_mount(dest, options=()):
    return {"destination": dest, "type": "tmpfs", "source": "copyup-src",
            "options": ["rw", "nosuid", "nodev", "tmpcopyup", *options]}


def test_tmpcopyup_copies_the_covered_directory(rt, bundle):
    base = bundle.in_rootfs("/seed")
    os.makedirs(os.path.join(base, "sub"))
    with open(os.path.join(base, "sub", "file"), "w") as f:
        f.write("seeded\n")
    os.chmod(os.path.join(base, "sub", "file"), 0o604)
    os.chown(os.path.join(base, "sub", "file"), 1000, 1001)
    os.symlink("sub/file", os.path.join(base, "link"))
    os.chmod(base, 0o751)
    bundle.config["mounts"].append(copyup_mount("/seed"))
    out = rt.sh(bundle, "grep ' /seed ' /proc/self/mounts | cut -d' ' -f1,3; cat /seed/link; "
                        "stat -c '%a %u %g' /seed/sub/file; "
                        "readlink /seed/link; stat -c %a /seed; echo new > /seed/new && echo wrote")
    assert out.splitlines() == ["copyup-src tmpfs", "seeded", "604 1000 1001", "sub/file", "751",
                                "wrote"], out
    # The writes went to the tmpfs: the image's directory is as it was.
    assert not os.path.exists(os.path.join(base, "new"))


@pytest.mark.skiff_only("runc 1.1 fails to copy a fifo (lchown of a node it never made)")
def test_tmpcopyup_copies_fifos_as_nodes(rt, bundle):
    os.makedirs(bundle.in_rootfs("/seed"))
    os.mkfifo(bundle.in_rootfs("/seed/fifo"))
    os.chmod(bundle.in_rootfs("/seed/fifo"), 0o620)
    bundle.config["mounts"].append(copyup_mount("/seed"))
    out = rt.sh(bundle, "stat -c '%F %a' /seed/fifo")
    assert out.strip() == "fifo 620", out


def test_tmpcopyup_read_only(rt, bundle):
    os.makedirs(bundle.in_rootfs("/seed"))
    with open(bundle.in_rootfs("/seed/f"), "w") as f:
        f.write("ro\n")
    bundle.config["mounts"].append(copyup_mount("/seed", ["ro"]))
    out = rt.sh(bundle, "cat /seed/f; touch /seed/x 2>/dev/null && echo wrote || echo refused")
    assert out.split() == ["ro", "refused"], out


def test_tmpcopyup_of_a_missing_directory_is_an_empty_tmpfs(rt, bundle):
    bundle.config["mounts"].append(copyup_mount("/fresh"))
    out = rt.sh(bundle, "ls -A /fresh | wc -l; grep -c ' /fresh tmpfs ' /proc/self/mounts")
    assert out.split() == ["0", "1"], out


def test_device_with_its_own_read_rule_is_not_writable(rt, bundle):
    # 10:237 (/dev/loop-control) is in no default list: only the config's rules decide.
    bundle.config["linux"]["devices"] = [{"path": "/dev/xloop", "type": "c", "major": 10,
                                          "minor": 237, "fileMode": 0o666}]
    bundle.config["linux"]["resources"] = {"devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 10, "minor": 237, "access": "r"}]}
    out = rt.sh(bundle, "(exec 3</dev/xloop) && echo read-ok; "
                        "(exec 4<>/dev/xloop) 2>/dev/null && echo rw-ok || echo rw-denied")
    assert out.split() == ["read-ok", "rw-denied"], out
