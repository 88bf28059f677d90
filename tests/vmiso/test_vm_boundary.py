"""The VM boundary, batched in one boot: root inside a VM-isolated container with every
capability and /proc/sys writable changes the guest's kernel only (a sysctl, a module it
loads), sees none of the host's devices or mounts, and crashing the guest kernel through
/proc/sysrq-trigger ends that container with an error status while the host and another
running container are untouched."""

import os
import shutil

from test_vmiso import run_fg, state_root_entries, vm_bundle

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
    host_swappiness = read("/proc/sys/vm/swappiness")
    new_swappiness = "13" if host_swappiness != "13" else "17"
    host_has_dummy = os.path.exists("/sys/module/dummy")
    p = bundle.config["process"]
    p["capabilities"] = {k: list(ALL_CAPS) for k in ("bounding", "effective", "permitted")}
    p["noNewPrivileges"] = False
    bundle.config["linux"]["readonlyPaths"] = []
    bundle.config["linux"]["maskedPaths"] = []
    vm_bundle(bundle, f'echo {new_swappiness} > /proc/sys/vm/swappiness; '
                      'echo "swappiness=$(cat /proc/sys/vm/swappiness)"; '
                      'insmod /dummy.ko && [ -d /sys/module/dummy ] && echo module-loaded; '
                      'echo "blockdevs=$(ls /sys/class/block | wc -l)"; '
                      'echo "procs=$(ls -d /proc/[0-9]* | wc -l)"; '
                      f'grep -q "{rt.workdir}" /proc/self/mountinfo && echo host-path-visible; '
                      'echo "virtiofs=$(grep -c " - virtiofs " /proc/self/mountinfo)"; '
                      'echo crashing; echo c > /proc/sysrq-trigger; sleep 30; echo survived')
    rc, out, err = run_fg(rt, bundle, rt.new_id())
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
