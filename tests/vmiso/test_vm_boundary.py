"""The VM boundary, batched in one boot: root inside a VM-isolated container with every
capability and /proc/sys writable changes the guest's kernel only (a sysctl, a module it
loads, a block device it makes, formats and mounts), sees none of the host's devices or
mounts, and crashing the guest kernel through
/proc/sysrq-trigger ends that container with an error status while the host and another
running container are untouched."""

import os
import shutil
import subprocess

from test_vmiso import BOOT, state_root_entries, vm_bundle, wait_for

ALL_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
            "CAP_SETPCAP", "CAP_NET_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_ADMIN",
            "CAP_SYS_BOOT", "CAP_SYS_RESOURCE", "CAP_MKNOD", "CAP_SYS_PTRACE"]


def read(path):
    with open(path) as f:
        return f.read().strip()


def guest_module(kdir, name):
    kver = read(os.path.join(kdir, "kver"))
    for dirpath, _, files in os.walk(os.path.join(kdir, "lib", "modules", kver, "kernel")):
        if name in files:
            return os.path.join(dirpath, name)
    return None


def host_mount_lines(*needles):
    """Lines of any host process's mountinfo that contain one of `needles`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/mountinfo") as f:
                found += [l for l in f if any(n in l for n in needles)]
        except OSError:
            continue
    return found


def host_block_devices():
    with open("/proc/partitions") as f:
        parts = sorted(l.split()[-1] for l in f.read().splitlines()[2:] if l.split())
    return sorted(os.listdir("/sys/block")), parts


def test_guest_kernel_changes_stay_in_the_guest_and_a_crash_ends_only_it(rt, bundle, make_bundle,
                                                                        guest_kernel):
    # Another container (the usual isolation), running all along.
    other = make_bundle()
    other.args("sleep 1000")
    other_id, _ = rt.create(other, timeout=60)
    rt.start(other_id)

    module = guest_module(guest_kernel, "dummy.ko")
    assert module, "the guest kernel's modules have no dummy.ko (scripts/vm-kernel.sh unpacks them)"
    shutil.copy(module, bundle.in_rootfs("/dummy.ko"))
    brd = guest_module(guest_kernel, "brd.ko")
    assert brd, "the guest kernel's modules have no brd.ko"
    shutil.copy(brd, bundle.in_rootfs("/brd.ko"))
    host_blocks = host_block_devices()
    host_swappiness = read("/proc/sys/vm/swappiness")
    new_swappiness = "13" if host_swappiness != "13" else "17"
    host_has_dummy = os.path.exists("/sys/module/dummy")
    p = bundle.config["process"]
    p["capabilities"] = {k: list(ALL_CAPS) for k in ("bounding", "effective", "permitted")}
    p["noNewPrivileges"] = False
    bundle.config["linux"]["readonlyPaths"] = []
    bundle.config["linux"]["maskedPaths"] = []
    # The guest's own device cgroup lets the container use ram disks (block major 1).
    bundle.config["linux"]["resources"] = {"devices": [
        {"allow": False, "access": "rwm"}, {"allow": True, "type": "b", "major": 1, "access": "rwm"}]}
    vm_bundle(bundle, f'echo {new_swappiness} > /proc/sys/vm/swappiness; '
                      'echo "swappiness=$(cat /proc/sys/vm/swappiness)"; '
                      'insmod /dummy.ko && [ -d /sys/module/dummy ] && echo module-loaded; '
                      'echo "blockdevs=$(ls /sys/class/block | wc -l)"; '
                      'echo "procs=$(ls -d /proc/[0-9]* | wc -l)"; '
                      f'grep -q "{rt.workdir}" /proc/self/mountinfo && echo host-path-visible; '
                      'echo "virtiofs=$(grep -c " - virtiofs " /proc/self/mountinfo)"; '
                      # A ram disk of the guest kernel, an ext2 made on it, mounted, written.
                      'insmod /brd.ko rd_nr=1 rd_size=4096 && mknod /dev/ram0 b 1 0 && '
                      'mke2fs /dev/ram0 >/dev/null 2>&1 && mkdir -p /mnt/blk && '
                      'mount -t ext2 /dev/ram0 /mnt/blk && echo on-the-disk > /mnt/blk/file && '
                      'echo "blkfile=$(cat /mnt/blk/file)"; '
                      'echo "blkmount=$(grep " /mnt/blk " /proc/self/mountinfo | grep -c " ext2 /dev/ram0 ")"; '
                      'echo "guestblock=$(grep -c " ram0$" /proc/partitions)"; '
                      'echo blk-mounted; while [ ! -e /go ]; do sleep 0.2; done; '
                      'echo crashing; echo c > /proc/sysrq-trigger; sleep 30; echo survived')
    out_path = os.path.join(rt.workdir, "boundary.out")
    with open(out_path, "wb") as outf:
        run = subprocess.Popen([rt.binary, "--root", rt.root, "run", "--bundle", bundle.path,
                                rt.track(rt.new_id())], stdin=subprocess.DEVNULL, stdout=outf,
                               stderr=subprocess.PIPE)
    try:
        wait_for(out_path, b"blk-mounted", run.pid, "the block device in the guest")
        # While the guest holds its ram disk mounted: the host has no new block device, no
        # process of the host has the mount, and the host's side of the mount point is empty.
        assert host_block_devices() == host_blocks
        assert host_mount_lines("/mnt/blk", "/dev/ram0") == []
        assert os.listdir(bundle.in_rootfs("/mnt/blk")) == []
        open(bundle.in_rootfs("/go"), "w").close()
        _, err = run.communicate(timeout=BOOT)
        rc = run.returncode
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    out = open(out_path, "rb").read().decode(errors="replace")
    err = err.decode(errors="replace")
    lines = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)

    # The guest's sysctl changed; the host's did not.
    assert lines.get("swappiness") == new_swappiness, (out, err)
    assert read("/proc/sys/vm/swappiness") == host_swappiness
    # The module is in the guest's kernel, not the host's.
    assert "module-loaded" in out, (out, err)
    assert os.path.exists("/sys/module/dummy") == host_has_dummy
    # None of the host's block devices, processes or mounts.
    assert lines.get("blockdevs") == "0", out
    assert int(lines.get("procs", "99")) <= 5, out  # sh, and the commands of its pipeline
    assert "host-path-visible" not in out, out
    assert int(lines.get("virtiofs", "0")) >= 1, out  # the root is the share, not a host mount
    # The guest made, formatted and mounted a block device of its own kernel.
    assert lines.get("blkfile") == "on-the-disk", (out, err)
    assert lines.get("blkmount") == "1" and lines.get("guestblock") == "1", (out, err)
    assert host_block_devices() == host_blocks
    # The guest kernel crashed: the container ended with an error, at once.
    assert "crashing" in out and "survived" not in out, out
    assert rc != 0, (rc, out, err)

    # The host and the other container are untouched; nothing of the VM is left.
    assert rt.state(other_id)["status"] == "running"
    assert rt.run(["exec", other_id, "true"]).returncode == 0
    assert [e for e in state_root_entries(rt) if not e.startswith(other_id)] == []
    rt.kill(other_id, "KILL")
    rt.wait_status(other_id, "stopped", timeout=30)
    rt.delete(other_id)
    assert state_root_entries(rt) == []
