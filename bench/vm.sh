#!/usr/bin/env bash
# VM isolation against its floor: a VM-isolated `skiff run` of /bin/true (start to exit),
# side by side with a bare `qemu-system-x86_64 -kernel` boot of the same guest kernel, the
# same machine options, and an initramfs whose init (busybox sh) only powers off. Rounds are
# interleaved; medians in seconds; the ratio is the median of the per-round ratios. Then the
# host memory one running VM costs beyond its guest RAM: QEMU's and virtiofsd's RSS.
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
    "$SKIFF" --root "$W/state" delete --force vmrss >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT

"$REPO/scripts/make-bundle.sh" "$W/b" >/dev/null
jq '.annotations={"run.oci.skiff.isolation":"vm"} | .process.args=["/bin/true"]' "$W/b/config.json" > "$W/c"
mv "$W/c" "$W/b/config.json"

# The floor's initramfs: busybox and an init that powers off.
mkdir -p "$W/floor/bin" "$W/floor/dev" "$W/floor/proc"
cp /bin/busybox "$W/floor/bin/"
printf '#!/bin/busybox sh\n/bin/busybox poweroff -f\n' > "$W/floor/init"
chmod 0755 "$W/floor/init"
(cd "$W/floor" && find . | busybox cpio -o -H newc 2>/dev/null > "$W/floor.cpio")
# The machine skiff builds (src/vm/sizing.cpp: machine, accel, size), without the devices the
# floor has no use for.
floor() {
    qemu-system-x86_64 -machine q35,memory-backend=mem,sata=off,smbus=off,vmport=off,i8042=off \
        -accel tcg,thread=multi,tb-size=${SKIFF_VM_TB_SIZE:-16} -cpu max \
        -m 256M -smp 1 -object memory-backend-memfd,id=mem,size=256M,share=on \
        -nodefaults -no-user-config -display none -no-reboot \
        -kernel "$KDIR/vmlinuz" -initrd "$W/floor.cpio" \
        -append "console=ttyS0 quiet panic=-1 rdinit=/init mitigations=off random.trust_cpu=on" \
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

# Memory: one VM running `sleep`, measured once the guest has started it.
jq '.process.args=["sleep","600"]' "$W/b/config.json" > "$W/c" && mv "$W/c" "$W/b/config.json"
"$SKIFF" --root "$W/state" run -d --bundle "$W/b" vmrss </dev/null >/dev/null 2>&1
for _ in $(seq 600); do grep -q '^up' "$W/state/vmrss:vm/status" 2>/dev/null && break; sleep 0.5; done
sleep 2
kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
roll() { awk -v k="$2:" '$1 == k { s += $2 } END { print s + 0 }' "/proc/$1/smaps_rollup"; }
qpid=$("$SKIFF" --root "$W/state" state vmrss | jq .pid)
# The guest's RAM is QEMU's shared memfd (RssShmem, all of it private to this VM); what the
# VM costs beyond it is QEMU's anonymous and file-backed memory, plus virtiofsd's. File pages
# (QEMU's code and libraries) are shared by every VM on the host: RSS counts them whole, PSS
# splits them, Private_* (beyond the guest RAM) is what one more VM adds.
vr=0 vp=0 vq=0
for p in $(pgrep -f "$W/state/vmrss:vm/fs.sock"); do
    vr=$((vr + $(kib "$p" VmRSS))); vp=$((vp + $(roll "$p" Pss)))
    vq=$((vq + $(roll "$p" Private_Clean) + $(roll "$p" Private_Dirty)))
done
shm=$(kib "$qpid" RssShmem)
q_anon=$(kib "$qpid" RssAnon) q_file=$(kib "$qpid" RssFile)
q_pss=$(( $(roll "$qpid" Pss) - shm ))
q_priv=$(( $(roll "$qpid" Private_Clean) + $(roll "$qpid" Private_Dirty) - shm ))
m() { echo $(( ($1 + 512) / 1024 )); }
echo "memory of one VM (MiB), guest RAM 256 MiB of which touched $(m "$shm"):"
echo "  QEMU beyond guest RAM: RSS $(m $((q_anon + q_file))) (anonymous $(m "$q_anon") + files $(m "$q_file")), PSS $(m "$q_pss"), private $(m "$q_priv")"
echo "  virtiofsd: RSS $(m "$vr"), PSS $(m "$vp"), private $(m "$vq")"
echo "  overhead beyond guest RAM: RSS $(m $((q_anon + q_file + vr))), PSS $(m $((q_pss + vp))), private (one more VM) $(m $((q_priv + vq)))"
