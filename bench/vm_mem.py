#!/usr/bin/env python3
"""Host memory of VM-isolated containers, from /proc/<pid>/smaps (bench/vm.sh).

  vm_mem.py QEMU_PID [VIRTIOFSD_PID...]     one VM: its costs beyond guest RAM, by kind
  vm_mem.py --total PID...                  PSS and private+shared of a set of processes

Kinds, told apart by the mapping's shape (QEMU 7.2 on x86-64):
  guest RAM   the memfd backend (memfd:mem), excluded from every figure
  tcg cache   the one anonymous rwx mapping: TCG's translation cache (tb-size; none under KVM)
  stacks      anonymous rw mappings of 8 MiB (less the guard page): thread stacks
  heap        [heap] and glibc's per-thread arenas (a 64 MiB reservation, partly mapped)
  buffers     other anonymous mappings of 1 MiB or more: QEMU's own copies of the kernel
              (fw_cfg, for -kernel), option ROMs, firmware
  anon small  the rest of the anonymous memory
  kernel      the ELF kernel QEMU maps for a PVH boot: clean page cache, shared between VMs
  code        file-backed mappings: the binaries and shared libraries (shared between VMs)
  files       other file-backed mappings (the -initrd file QEMU maps, one per VM)
"""
import os
import sys

KIB = 1024


def mappings(pid):
    """Yields (header fields, {key: kB}) per mapping of /proc/pid/smaps."""
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and not parts[0].endswith(":"):
                if cur:
                    yield cur
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                cur = ({"size": (hi - lo) // KIB, "perms": parts[1], "inode": parts[4],
                        "name": " ".join(parts[5:])}, {})
            elif parts[0].endswith(":") and len(parts) >= 2 and parts[1].isdigit():
                cur[1][parts[0][:-1]] = int(parts[1])
    if cur:
        yield cur


def classify(pid):
    """{kind: {Rss, Pss, Private}} in kB."""
    maps = list(mappings(pid))
    out = {}
    for i, (h, v) in enumerate(maps):
        name, perms, size = h["name"], h["perms"], h["size"]
        anon = h["inode"] == "0" and (name == "" or name.startswith("["))
        if "memfd:mem" in name:
            kind = "guest RAM"
        elif not anon:
            is_code = ".so" in name or name.endswith(("qemu-system-x86_64", "virtiofsd"))
            kind = "code" if is_code else "kernel" if name.endswith("/vmlinux") else "files"
        elif name == "[heap]":
            kind = "heap"
        elif name.startswith("["):
            kind = "stacks" if name == "[stack]" else "anon small"
        elif "x" in perms and "w" in perms:
            kind = "tcg cache"
        elif perms.startswith("rw") and size in (8188, 8192):
            kind = "stacks"
        elif perms.startswith("rw") and i + 1 < len(maps) and maps[i + 1][0]["perms"] == "---p" \
                and size + maps[i + 1][0]["size"] in (65536, 131072):
            kind = "heap"
        elif size >= 1024 and v.get("Rss", 0) >= 512:
            kind = "buffers"
        else:
            kind = "anon small"
        k = out.setdefault(kind, {"Rss": 0, "Pss": 0, "Private": 0, "Shared": 0})
        k["Rss"] += v.get("Rss", 0)
        k["Pss"] += v.get("Pss", 0)
        k["Private"] += v.get("Private_Clean", 0) + v.get("Private_Dirty", 0)
        k["Shared"] += v.get("Shared_Clean", 0) + v.get("Shared_Dirty", 0)
    return out


def mib(kb):
    return f"{kb / 1024:6.1f}"


def one_vm(qemu, helpers):
    rows = []
    for label, pids in (("QEMU", [qemu]), ("virtiofsd", helpers)):
        sums = {}
        for p in pids:
            for kind, v in classify(p).items():
                s = sums.setdefault(kind, {"Rss": 0, "Pss": 0, "Private": 0, "Shared": 0})
                for key in s:
                    s[key] += v[key]
        rows.append((label, sums))
    total = {"Rss": 0, "Pss": 0, "Private": 0}
    print(f"  {'process':<10} {'kind':<11} {'RSS':>6} {'PSS':>6} {'private':>7}  (MiB)")
    for label, sums in rows:
        for kind in ("guest RAM", "tcg cache", "buffers", "heap", "stacks", "anon small", "files", "kernel", "code"):
            if kind not in sums:
                continue
            v = sums[kind]
            note = "  (excluded)" if kind == "guest RAM" else ""
            print(f"  {label:<10} {kind:<11} {mib(v['Rss'])} {mib(v['Pss'])} {mib(v['Private']):>7}{note}")
            if kind != "guest RAM":
                for key in total:
                    total[key] += v[key]
    print(f"  {'both':<10} {'beyond RAM':<11} {mib(total['Rss'])} {mib(total['Pss'])} {mib(total['Private']):>7}")
    tcg = sum(s.get("tcg cache", {}).get("Rss", 0) for _, s in rows)
    print(f"  of which TCG's translation cache (absent under KVM): {mib(tcg).strip()} MiB")


def totals(pids):
    """kB: PSS and private of the set, less guest RAM; shared (less guest RAM) too."""
    pss = priv = shared = 0
    for p in pids:
        for kind, v in classify(p).items():
            if kind == "guest RAM":
                continue
            pss += v["Pss"]
            priv += v["Private"]
            shared += v["Shared"]
    print(pss, priv, shared)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--total":
        totals([int(a) for a in args[1:]])
    elif args:
        one_vm(int(args[0]), [int(a) for a in args[1:]])
    else:
        sys.exit(__doc__)
