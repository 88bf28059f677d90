"""The time a guest gets to come up at `start` (and `run -d`), not only at a foreground `run`:
a guest that is not up in time, or whose QEMU ends first, fails the command with one error
naming the limit and leaves nothing behind (no QEMU, virtiofsd or state). No real boot here:
the "kernel" is a multiboot image that spins forever, or garbage QEMU refuses to load."""

import os
import struct
import subprocess

from conftest import vm_processes
from test_vmiso import ANNOTATION, state_root_entries, vm_bundle


def kernel_dir(workdir, name, image):
    d = os.path.join(workdir, name)
    os.makedirs(d)
    with open(os.path.join(d, "vmlinuz"), "wb") as f:
        f.write(image)
    return d


def spinning_kernel():
    """A multiboot image (loaded at 1 MiB by QEMU's own loader) whose entry is `jmp .`."""
    magic, flags, base = 0x1BADB002, 0x00010000, 0x100000
    header = struct.pack("<8I", magic, flags, -(magic + flags) & 0xffffffff, base, base, 0, 0,
                         base + 32)
    return header + b"\xeb\xfe" + bytes(30)


def command(rt, env, *args):
    """The command's status and output, through a file: a container's process inherits the
    stdio of create (and run -d), and a pipe would stay open while it lives."""
    path = os.path.join(rt.workdir, "command.out")
    with open(path, "wb") as out:
        p = subprocess.run([rt.binary, "--root", rt.root, *args], stdout=out,
                           stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL, timeout=120)
    with open(path, errors="replace") as f:
        return subprocess.CompletedProcess(p.args, p.returncode, f.read(), f.read())


def assert_nothing_left(rt, workdir, cid):
    assert vm_processes(workdir, "skiff-" + cid) == []
    assert state_root_entries(rt) == []
    res = command(rt, os.environ, "state", cid)
    assert res.returncode != 0 and "does not exist" in res.stdout, res


def test_start_gives_the_guest_a_time_limit_and_leaves_nothing(rt, bundle, workdir):
    vm_bundle(bundle, "true")
    bundle.config["annotations"] = dict(ANNOTATION, **{"run.oci.skiff.vm.boot-timeout": "3"})
    bundle.write()
    env = dict(os.environ, SKIFF_VM_DIR=kernel_dir(workdir, "spin", spinning_kernel()))

    # create, then a start that waits 3 s (the annotation) for a guest that never comes up.
    cid = rt.track(rt.new_id())
    res = command(rt, env, "create", "--bundle", bundle.path, cid)
    assert res.returncode == 0, res
    res = command(rt, env, "start", cid)
    assert res.returncode != 0, res
    assert ("VM isolation: the guest did not come up within 3 s "
            "(annotation run.oci.skiff.vm.boot-timeout)") in res.stdout, res.stdout
    assert_nothing_left(rt, workdir, cid)

    # run -d, the limit from the environment this time.
    bundle.config["annotations"] = dict(ANNOTATION)
    bundle.write()
    cid = rt.track(rt.new_id())
    res = command(rt, dict(env, SKIFF_VM_BOOT_TIMEOUT="2"), "run", "-d", "--bundle", bundle.path, cid)
    assert res.returncode != 0, res
    assert ("VM isolation: the guest did not come up within 2 s (SKIFF_VM_BOOT_TIMEOUT)"
            in res.stdout), res.stdout
    assert_nothing_left(rt, workdir, cid)


def test_start_fails_when_qemu_ends_before_the_guest_is_up(rt, bundle, workdir):
    vm_bundle(bundle, "true")
    env = dict(os.environ, SKIFF_VM_DIR=kernel_dir(workdir, "garbage", b"not a kernel\n" * 64))
    cid = rt.track(rt.new_id())
    res = command(rt, env, "create", "--bundle", bundle.path, cid)
    assert res.returncode == 0, res
    res = command(rt, env, "start", cid)
    assert res.returncode != 0, res
    assert "VM isolation: the guest did not come up: QEMU exited" in res.stdout, res.stdout
    assert_nothing_left(rt, workdir, cid)


def test_a_boot_timeout_that_is_not_seconds_is_refused(rt, bundle, workdir):
    vm_bundle(bundle, "true")
    bundle.config["annotations"] = dict(ANNOTATION, **{"run.oci.skiff.vm.boot-timeout": "soon"})
    bundle.write()
    cid = rt.track(rt.new_id())
    res = command(rt, os.environ, "create", "--bundle", bundle.path, cid)
    assert res.returncode != 0, res
    assert 'annotations.run.oci.skiff.vm.boot-timeout: "soon" is not a number of seconds' in res.stdout
    assert_nothing_left(rt, workdir, cid)
