#!/usr/bin/env bash
# VM isolation against its floor: a VM-isolated `skiff run` of /bin/true (start to exit),
# side by side with a bare `qemu-system-x86_64 -kernel` boot of the same guest kernel, the
# same machine options, and an initramfs whose init (busybox sh) only resets the machine (-no-reboot: QEMU exits). Rounds are
# interleaved; medians in seconds; the ratio is the median of the per-round ratios. Then the
# host memory a running VM costs beyond its guest RAM: QEMU's and virtiofsd's RSS, PSS and
# private memory by kind (bench/vm_mem.py), and what one more VM adds with three running.
#
#   bench/vm.sh [--rounds N]        (root; make bench-vm)
#
# Without a usable /dev/kvm both boot under software emulation, so only the ratio means much.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(dirname "$HERE")
SKIFF=${SKIFF:-$REPO/build/skiff}
ROUNDS=5
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        *) echo "usage: bench/vm.sh [--rounds N]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "bench/vm.sh: needs root" >&2; exit 1; }
KDIR=$("$REPO/scripts/vm-kernel.sh" | tail -n1)
export SKIFF_VM_DIR=$KDIR
W=$(mktemp -d /tmp/skiff-vm-bench.XXXXXX)
cleanup() {
    for v in vmrss vmrss2 vmrss3; do "$SKIFF" --root "$W/state" delete --force "$v" >/dev/null 2>&1 || true; done
    rm -rf "$W"
}
trap cleanup EXIT

"$REPO/scripts/make-bundle.sh" "$W/b" >/dev/null
jq '.annotations={"run.oci.skiff.isolation":"vm"} | .process.args=["/bin/true"]' "$W/b/config.json" > "$W/c"
mv "$W/c" "$W/b/config.json"

# The floor's initramfs: busybox and an init that resets (no ACPI to power off with).
mkdir -p "$W/floor/bin" "$W/floor/dev" "$W/floor/proc"
cp /bin/busybox "$W/floor/bin/"
printf '#!/bin/busybox sh\n/bin/busybox reboot -f\n' > "$W/floor/init"
chmod 0755 "$W/floor/init"
(cd "$W/floor" && find . | busybox cpio -o -H newc 2>/dev/null > "$W/floor.cpio")
# The kernel file skiff boots (src/vm/sizing.cpp boot_kernel_name).
KIMG=vmlinuz
[ -r "$KDIR/vmlinux" ] && KIMG=vmlinux
# The machine skiff builds (src/vm/sizing.cpp: machine, accel, size), without the devices the
# floor has no use for.
floor() {
    qemu-system-x86_64 -machine q35,memory-backend=mem,sata=off,smbus=off,vmport=off,i8042=off,acpi=off \
        -accel tcg,thread=multi,tb-size=${SKIFF_VM_TB_SIZE:-16} -cpu max \
        -m 256M -smp 1 -object memory-backend-memfd,id=mem,size=256M,share=on \
        -nodefaults -no-user-config -display none -no-reboot \
        -kernel "$KDIR/$KIMG" -initrd "$W/floor.cpio" \
        -append "console=ttyS0 quiet panic=-1 rdinit=/init mitigations=off random.trust_cpu=on reboot=t" \
        -serial "file:$W/floor-console.log" </dev/null >/dev/null 2>&1
}
now() { date +%s.%N; }

echo "round  skiff-vm-run  floor  ratio"
: > "$W/rows"
for i in $(seq "$ROUNDS"); do
    t0=$(now)
    "$SKIFF" --root "$W/state" run --bundle "$W/b" "r$i" </dev/null >/dev/null 2>"$W/err" ||
        { cat "$W/err" >&2; exit 1; }
    t1=$(now)
    floor
    t2=$(now)
    awk -v i="$i" -v a="$t0" -v b="$t1" -v c="$t2" \
        'BEGIN { r = b - a; f = c - b; printf "%5d  %12.2f  %5.2f  %5.2f\n", i, r, f, r / f }' | tee -a "$W/rows"
done
awk '{ r[NR] = $2; f[NR] = $3; q[NR] = $4 }
     function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                                        if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                                    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
     END { printf "median %11.2f  %5.2f  %5.2f\n", med(r, NR), med(f, NR), med(q, NR) }' "$W/rows"

# Memory: VMs running `sleep`, measured once each guest has started it (bench/vm_mem.py
# reads smaps). The guest's RAM is QEMU's shared memfd, private to its VM: excluded. File pages
# (QEMU's code and libraries) are shared by every VM on the host: RSS counts them whole, PSS
# splits them. So: one VM's RSS, PSS and private memory beyond its RAM, by kind; then three VMs
# at once, and the host cost of one more VM: the private memory per VM with three running (the
# pages no other process maps: what each added VM brings), and the increase of the total PSS
# per added VM (which also moves when VMs outside the bench share the same pages).
jq '.process.args=["sleep","600"]' "$W/b/config.json" > "$W/c" && mv "$W/c" "$W/b/config.json"
vm_up() {
    "$SKIFF" --root "$W/state" run -d --bundle "$W/b" "$1" </dev/null >/dev/null 2>"$W/err" ||
        { cat "$W/err" >&2; exit 1; }
    for _ in $(seq 1200); do grep -q '^up' "$W/state/$1:vm/status" 2>/dev/null && break; sleep 0.5; done
}
vm_pids() { echo "$("$SKIFF" --root "$W/state" state "$1" | jq .pid)" $(pgrep -f "$W/state/$1:vm/fs.sock"); }
vm_up vmrss
sleep 2
echo "memory of one VM beyond its guest RAM (256 MiB):"
"$HERE/vm_mem.py" $(vm_pids vmrss)
read -r pss1 _ <<<"$("$HERE/vm_mem.py" --total $(vm_pids vmrss))"
vm_up vmrss2
vm_up vmrss3
sleep 2
read -r pss3 priv3 _ <<<"$("$HERE/vm_mem.py" --total $(vm_pids vmrss) $(vm_pids vmrss2) $(vm_pids vmrss3))"
awk -v a="$pss1" -v b="$pss3" -v p="$priv3" 'BEGIN {
    printf "three VMs beyond guest RAM: PSS %.1f MiB, private %.1f MiB\n", b / 1024, p / 1024
    printf "host cost of one more VM: private %.1f MiB per VM with three running; PSS increase %.1f MiB per added VM\n",
           p / 3 / 1024, (b - a) / 2 / 1024 }'
