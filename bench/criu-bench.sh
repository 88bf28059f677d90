#!/usr/bin/env bash
# checkpoint and restore times, skiff against runc, for the same container (a busybox shell
# counting), on a kernel where CRIU works:
#
#   bench/criu-bench.sh [ROUNDS]              # here (criu check must pass)
#   tests/vm/run-in-vm.sh -- bench/criu-bench.sh 3    # in the tests/vm guest
#
# Each round: run -d, let it count, time `checkpoint`, time `restore -d`, delete. Prints the
# median of each per runtime and skiff's time as a share of runc's.
set -euo pipefail
ROUNDS=${1:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SKIFF=${SKIFF_RUNTIME:-$HERE/build/skiff}
RUNC=${RUNC:-/usr/sbin/runc}
criu check >/dev/null 2>&1 || { echo "criu-bench: criu check fails here" >&2; exit 1; }
W=$(mktemp -d /tmp/criu-bench.XXXXXX)
cleanup() {
    for id in $(ls "$W/root-skiff" 2>/dev/null); do "$SKIFF" --root "$W/root-skiff" delete -f "$id"; done
    for id in $(ls "$W/root-runc" 2>/dev/null); do "$RUNC" --root "$W/root-runc" delete -f "$id"; done
    rm -rf "$W"
}
trap cleanup EXIT

mkdir -p "$W/bundle/rootfs/bin" "$W/bundle/rootfs/proc" "$W/bundle/rootfs/dev" "$W/bundle/rootfs/sys"
cp /bin/busybox "$W/bundle/rootfs/bin/"
for a in sh sleep; do ln -s busybox "$W/bundle/rootfs/bin/$a"; done
(cd "$W/bundle" && "$SKIFF" spec)
jq '.process.terminal = false | .root.readonly = false
    | .process.args = ["sh", "-c", "exec </dev/null >/dev/null 2>&1; i=0; while :; do i=$((i+1)); echo $i > /count; sleep 0.1; done"]' \
    "$W/bundle/config.json" > "$W/c.json" && mv "$W/c.json" "$W/bundle/config.json"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Alternating, round by round: a load that changes meanwhile (a shared machine, an emulated
# guest) falls on both runtimes alike.
: > "$W/skiff.ck"; : > "$W/skiff.rs"; : > "$W/runc.ck"; : > "$W/runc.rs"
for i in $(seq "$ROUNDS"); do
    for rt in skiff runc; do
        bin=$SKIFF; [ $rt = runc ] && bin=$RUNC
        id=bench-$rt-$i
        "$bin" --root "$W/root-$rt" run -d -b "$W/bundle" "$id" </dev/null >/dev/null 2>&1
        sleep 1
        t0=$(now)
        "$bin" --root "$W/root-$rt" checkpoint --image-path "$W/img-$rt-$i" "$id"
        t1=$(now)
        "$bin" --root "$W/root-$rt" restore -d --image-path "$W/img-$rt-$i" -b "$W/bundle" "$id" </dev/null >/dev/null
        t2=$(now)
        "$bin" --root "$W/root-$rt" delete -f "$id"
        awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}' >> "$W/$rt.ck"
        awk -v a="$t1" -v b="$t2" 'BEGIN {print b - a}' >> "$W/$rt.rs"
    done
done
echo "rounds: skiff checkpoint $(tr '\n' ' ' < "$W/skiff.ck")/ runc $(tr '\n' ' ' < "$W/runc.ck")"
echo "rounds: skiff restore $(tr '\n' ' ' < "$W/skiff.rs")/ runc $(tr '\n' ' ' < "$W/runc.rs")"
sck=$(median < "$W/skiff.ck"); srs=$(median < "$W/skiff.rs")
rck=$(median < "$W/runc.ck"); rrs=$(median < "$W/runc.rs")
printf '%-10s %12s %12s\n' median checkpoint restore
printf '%-10s %11.3fs %11.3fs\n' skiff "$sck" "$srs" runc "$rck" "$rrs"
awk -v a="$sck" -v b="$rck" -v c="$srs" -v d="$rrs" 'BEGIN {printf "%-10s %12.2f %12.2f\n", "skiff/runc", a / b, c / d}'
