"""maskedPaths must be masked with a verified null device, never a path the image (or a hook
running before the masking) can swap (CVE-2025-31133 class)."""

import os
import stat

import pytest

from secutil import assert_host_untouched, drop_mount, plant_symlink


def _no_dev_tmpfs(bundle):
    # Without the /dev tmpfs the image's own /dev is what the runtime sees.
    drop_mount(bundle, "/dev")
    for sub in ("/dev/pts", "/dev/shm", "/dev/mqueue"):
        os.makedirs(bundle.in_rootfs(sub), exist_ok=True)


def _check_mask_is_null(out):
    # `stat -c %F:%t:%T /etc/masked` then the first bytes read from it
    lines = out.splitlines()
    assert lines[0] == "character special file:1:3", out
    assert lines[1:] == ["end"], out


MASK_PROBE = "stat -c %F:%t:%T /etc/masked; head -c 16 /etc/masked; echo end"


def _add_masked_file(bundle):
    """A file of the image to mask: kernels without /proc/kcore would mask nothing."""
    with open(bundle.in_rootfs("/etc/masked"), "w") as f:
        f.write("image-secret\n")
    bundle.config["linux"]["maskedPaths"].append("/etc/masked")


@pytest.mark.parametrize("plant", ["symlink", "regular"])
def test_image_dev_null_swapped(rt, bundle, host_dir, plant):
    """The image's /dev/null is a symlink to a host file, or a regular file of the image.
    The mask over the masked file must still be the real null device; a runtime that bind-mounts
    "/dev/null" by path mounts the host file (or the image's file) over the masked file, and the
    container then reads (and may write) it."""
    target = host_dir("victim")
    victim = os.path.join(target, "secret")
    with open(victim, "w") as f:
        f.write("host-secret\n")
    _no_dev_tmpfs(bundle)
    if plant == "symlink":
        plant_symlink(bundle, "/dev/null", victim)
    else:
        with open(bundle.in_rootfs("/dev/null"), "w") as f:
            f.write("image-data\n")
    _add_masked_file(bundle)
    rc, out, err = rt.run_container(bundle.args(MASK_PROBE))
    if rc == 0:
        _check_mask_is_null(out)
    assert open(victim).read() == "host-secret\n"
    assert_host_untouched(target, ["secret"])


@pytest.mark.parametrize("plant", ["symlink", "regular"])
def test_dev_null_swapped_by_hook_before_masking(rt, bundle, host_dir, workdir, plant):
    """A createContainer hook (running after /dev is populated and before maskedPaths are
    applied: the window a racing container process would use) swaps the rootfs's /dev/null
    for a symlink to a host file, or a regular file. The runtime must refuse or mask with a
    real null device; one that trusts the path masks with the attacker's file."""
    target = host_dir("victim")
    victim = os.path.join(target, "secret")
    with open(victim, "w") as f:
        f.write("host-secret\n")
    null = bundle.in_rootfs("/dev/null")
    swap = f"ln -s {victim} {null}" if plant == "symlink" else f"echo image-data > {null}"
    hook = os.path.join(workdir, "swap-null.sh")
    with open(hook, "w") as f:
        f.write(f"#!/bin/sh\nrm -f {null}\n{swap}\n")
    os.chmod(hook, 0o755)
    bundle.config["hooks"] = {"createContainer": [{"path": hook}]}
    _add_masked_file(bundle)
    rc, out, err = rt.run_container(bundle.args(MASK_PROBE))
    if rc == 0:
        _check_mask_is_null(out)
    else:
        assert "null" in err, err
    assert open(victim).read() == "host-secret\n"
    assert_host_untouched(target, ["secret"])
    assert not stat.S_ISCHR(os.lstat(victim).st_mode)


def test_masked_file_write_does_not_reach_host(rt, bundle, host_dir):
    """Writing to a masked file must go to the null device; with a swapped /dev/null pointing
    at a host file (planted in the image), the host file must keep its contents."""
    target = host_dir("victim")
    victim = os.path.join(target, "secret")
    with open(victim, "w") as f:
        f.write("host-secret\n")
    _no_dev_tmpfs(bundle)
    plant_symlink(bundle, "/dev/null", victim)
    bundle.config["linux"]["maskedPaths"].append("/etc/hostname-masked")
    with open(bundle.in_rootfs("/etc/hostname-masked"), "w") as f:
        f.write("x\n")
    rt.run_container(bundle.args("echo pwned > /etc/hostname-masked"))
    assert open(victim).read() == "host-secret\n"
    assert_host_untouched(target, ["secret"])
