#!/usr/bin/env bash
# The rootless section: `run` (foreground, /bin/true) and `exec <id> /bin/true`, each runtime
# run by the same unprivileged user with the config of `skiff spec --rootless` (a user
# namespace mapping the user's own ids, no cgroup). Medians of ROUNDS, ratios to crun.
#   bench/rootless.sh [ROUNDS]            (as root: makes and removes the user skiffbench-rl)
# On a hybrid host crun refuses the cgroup2 mount at /sys/fs/cgroup/unified: as in run.sh,
# the whole run happens in a private mount namespace with a tmpfs over it (the host's mounts
# are untouched). Runtimes: build/skiff, then crun and runc from PATH (missing ones skipped).
set -euo pipefail
rounds=${1:-20}
here=$(cd "$(dirname "$0")" && pwd)
skiff=${SKIFF:-$here/../build/skiff}
user=skiffbench-rl
if [ -z "${ROOTLESS_BENCH_INNER:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "rootless.sh: run as root (it makes the test user)" >&2; exit 1; }
  scratch=$(mktemp -d /tmp/skiff-bench-rl-XXXXXX)
  chmod 755 "$scratch"
  cleanup() {
    pkill -KILL -u "$user" 2>/dev/null || true
    userdel -r -f "$user" >/dev/null 2>&1 || true
    rm -rf "$scratch"
  }
  trap cleanup EXIT INT TERM HUP
  userdel -r -f "$user" >/dev/null 2>&1 || true
  useradd -m -s /bin/sh "$user"
  mkdir -p "$scratch/bin" "$scratch/xdg" "$scratch/bundle/rootfs/bin" "$scratch/bundle/rootfs"/{proc,sys,dev,tmp,etc}
  cp /bin/busybox "$scratch/bundle/rootfs/bin/"
  for a in sh true sleep; do ln -s busybox "$scratch/bundle/rootfs/bin/$a"; done
  cp "$skiff" "$scratch/bin/skiff"
  for r in crun runc; do p=$(command -v $r || true); [ -n "$p" ] && cp "$p" "$scratch/bin/$r"; done
  chmod 755 "$scratch"/bin/*
  chown -R "$user" "$scratch/xdg" "$scratch/bundle"
  chmod 700 "$scratch/xdg"
  export ROOTLESS_BENCH_INNER=1
  unshare --mount --propagation private bash -c '
    if grep -q " /sys/fs/cgroup/unified " /proc/self/mountinfo; then
      mount -t tmpfs -o size=16m tmpfs /sys/fs/cgroup/unified
      echo "(hybrid host: /sys/fs/cgroup/unified hidden in this mount namespace only)"
    fi
    exec runuser -u "$0" -- env -i PATH=/usr/bin:/bin HOME=/tmp XDG_RUNTIME_DIR="$1/xdg" \
      ROOTLESS_BENCH_INNER=1 bash "$2" "$3" "$1"' "$user" "$scratch" "$0" "$rounds"
  exit 0
fi

# ---- as the user, in the private mount namespace --------------------------------------
rounds=$1
scratch=$2
bundle=$scratch/bundle
cd "$bundle"
"$scratch/bin/skiff" spec --rootless
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/; s/"ociVersion": "1.3.0"/"ociVersion": "1.0.2"/' config.json  # crun 1.8 knows no 1.3.0
cp config.json config.run.json
sed 's/"true"$/"sleep", "1000"/' config.run.json > config.sleep.json

now_us() { local t; t=$(date +%s%N); echo $((t / 1000)); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A run_med exec_med
runtimes=()
for r in skiff crun runc; do [ -x "$scratch/bin/$r" ] && runtimes+=("$r"); done
for r in "${runtimes[@]}"; do
  bin=$scratch/bin/$r
  root=$scratch/xdg/state-$r
  runs=() execs=()
  cp config.run.json config.json
  if ! "$bin" --root "$root" run "probe-$r" >/dev/null 2>&1; then
    echo "$r: cannot run the rootless bundle here, skipped"; continue
  fi
  "$bin" --root "$root" delete -f "probe-$r" >/dev/null 2>&1 || true
  for i in $(seq "$rounds"); do
    t0=$(now_us); "$bin" --root "$root" run "r$i" >/dev/null 2>&1; t1=$(now_us)
    "$bin" --root "$root" delete -f "r$i" >/dev/null 2>&1 || true
    runs+=($((t1 - t0)))
  done
  cp config.sleep.json config.json
  "$bin" --root "$root" run -d "sleeper" >/dev/null 2>&1 </dev/null
  for i in $(seq "$rounds"); do
    t0=$(now_us); "$bin" --root "$root" exec sleeper /bin/true >/dev/null 2>&1; t1=$(now_us)
    execs+=($((t1 - t0)))
  done
  "$bin" --root "$root" delete -f sleeper >/dev/null 2>&1 || true
  run_med[$r]=$(printf '%s\n' "${runs[@]}" | median)
  exec_med[$r]=$(printf '%s\n' "${execs[@]}" | median)
done
echo "rootless, $rounds rounds, median wall time in ms (ratio to crun; the shell's fork+exec of"
echo "date around each command is in every number alike)"
printf '%-8s %14s %14s\n' runtime run exec
for r in "${runtimes[@]}"; do
  [ -n "${run_med[$r]:-}" ] || continue
  ratio() { local base=${2:-}; [ -n "$base" ] && awk -v a="$1" -v b="$base" 'BEGIN{printf " (%.2fx)", a/b}'; }
  printf '%-8s %14s %14s\n' "$r" \
    "$(awk -v v="${run_med[$r]}" 'BEGIN{printf "%.2f", v/1000}')$(ratio "${run_med[$r]}" "${run_med[crun]:-}")" \
    "$(awk -v v="${exec_med[$r]}" 'BEGIN{printf "%.2f", v/1000}')$(ratio "${exec_med[$r]}" "${exec_med[crun]:-}")"
done
