"""VM isolation: bind mounts and volumes shared into the guest, and the guest sized from the
config's resources while the host cgroup keeps QEMU and virtiofsd. One boot checks it all."""

import math
import os

from conftest import vm_processes
from test_vmiso import BOOT, create_detached, state_root_entries, vm_bundle, wait_for

MIB = 1024 * 1024
OVERHEAD_MIB = 32  # src/vm/sizing.hpp kOverheadMiB


def cgroup_of(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        return f.read()


def test_binds_and_resources_in_one_boot(rt, bundle, workdir):
    vol = os.path.join(workdir, "vol")
    ro = os.path.join(workdir, "ro")
    os.mkdir(vol)
    os.mkdir(ro)
    with open(os.path.join(ro, "seen"), "w") as f:
        f.write("ro-content\n")
    single = os.path.join(workdir, "single.txt")
    with open(single, "w") as f:
        f.write("file-bind-content\n")
    bundle.config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": vol, "options": ["rbind", "rw"]},
        {"destination": "/ro", "type": "bind", "source": ro, "options": ["rbind", "ro"]},
        {"destination": "/etc/single.txt", "type": "bind", "source": single, "options": ["bind", "ro"]},
    ]
    limit_mib = 384
    bundle.config["linux"]["resources"] = {
        "memory": {"limit": limit_mib * MIB},
        "cpu": {"quota": 150000, "period": 100000},
    }
    vm_bundle(bundle, 'echo "mem=$(awk \'/^MemTotal/ {print $2}\' /proc/meminfo)"; echo "nproc=$(nproc)"; '
                      'echo "ro=$(cat /ro/seen)"; echo "file=$(cat /etc/single.txt)"; '
                      'echo from-guest > /data/written; '
                      'if touch /ro/x 2>/dev/null; then echo ro-write=allowed; else echo ro-write=refused; fi; '
                      'if echo x >> /etc/single.txt 2>/dev/null; then echo file-write=allowed; '
                      'else echo file-write=refused; fi; '
                      'echo ready; while :; do sleep 1; done')
    out_path = os.path.join(workdir, "vm.out")
    cid = create_detached(rt, bundle, out_path)
    rt.start(cid, timeout=BOOT)  # start returns once the guest is up
    pid = rt.state(cid)["pid"]
    wait_for(out_path, b"ready", pid, "the container process")
    text = open(out_path, "rb").read().decode(errors="replace")
    lines = dict(l.split("=", 1) for l in text.splitlines() if "=" in l)
    # The host side while it runs: virtiofsd (and its sandboxed child) in QEMU's cgroup.
    helpers = vm_processes(rt.root, programs=("virtiofsd",))
    assert helpers, "no virtiofsd"
    qemu_cg = cgroup_of(pid)
    # Host memory beyond the guest's RAM: QEMU keeps the initrd it boots mapped for the VM's
    # life, so the per-VM file is gzip'd (the agent binary alone is ~3 MiB uncompressed); and
    # QEMU's anonymous memory, the part no other VM shares (TCG's translation cache bounded by
    # tb-size, heap; no copy of the kernel since the PVH boot maps it), stays bounded: ~30 MiB
    # with 2 vCPUs here, ~43 when QEMU copied the bzImage.
    initrd = os.path.join(rt.root, cid + ":vm", "initrd")
    initrd_size = os.path.getsize(initrd)
    with open(initrd, "rb") as f:
        initrd_magic = f.read(2)
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        qemu_args = f.read().decode(errors="replace").split("\0")
    qemu_status = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status").read().splitlines() if ":" in l)
    anon_kib = int(qemu_status["RssAnon"].split()[0])
    assert all(cgroup_of(h) == qemu_cg for h in helpers), (qemu_cg, [cgroup_of(h) for h in helpers])
    rt.kill(cid, "KILL")
    rt.wait_status(cid, "stopped", timeout=60)
    rt.delete(cid)
    assert state_root_entries(rt) == []

    assert initrd_magic == b"\x1f\x8b" and initrd_size < 2 * MIB, (initrd_magic, initrd_size)
    machine = qemu_args[qemu_args.index("-machine") + 1].split(",")
    assert "acpi=off" in machine, machine  # its table blob was a 2 MiB huge page per VM
    # A PVH boot of the ELF kernel: QEMU maps it (page cache every VM shares) where it copies a
    # bzImage into its own memory. scripts/vm-kernel.sh (the guest_kernel fixture) extracts it.
    kernel = qemu_args[qemu_args.index("-kernel") + 1]
    assert kernel.endswith("/vmlinux"), kernel
    assert anon_kib < 36 * 1024, f"QEMU's anonymous memory beyond the guest's RAM: {anon_kib} KiB"

    # Binds: rw written through to the host, ro refused, a single file shared.
    assert open(os.path.join(vol, "written")).read() == "from-guest\n", text
    assert lines.get("ro") == "ro-content", text
    assert lines.get("ro-write") == "refused" and not os.path.exists(os.path.join(ro, "x")), text
    assert lines.get("file") == "file-bind-content", text
    assert lines.get("file-write") == "refused", text
    assert open(single).read() == "file-bind-content\n"
    # Sizing: guest RAM = limit - overhead (MemTotal is that less what the kernel reserves);
    # vCPUs = ceil(quota / period), at most the host's.
    guest_kib = (limit_mib - OVERHEAD_MIB) * 1024
    mem = int(lines.get("mem", "0"))
    assert guest_kib * 0.85 < mem <= guest_kib, (mem, guest_kib, text)
    assert int(lines.get("nproc", "0")) == min(math.ceil(150000 / 100000), len(os.sched_getaffinity(0))), text
