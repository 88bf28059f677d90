#!/usr/bin/env bash
# The one command of the benchmark: bench/run.sh [--rounds N] [--runtimes a,b,c] [--quick]
#   [--baseline crun] [--burst 20] [--json FILE] [--syscalls] [--strict] [--no-install]
# Installs runc, crun, time and strace from Debian if missing (unless --no-install), builds the floor,
# then runs bench.py inside a private mount namespace. On a hybrid-cgroup host a small tmpfs hides
# /sys/fs/cgroup/unified there, so crun (which refuses hybrid hosts) sees pure v1 and every runtime
# sees the same host; the tmpfs lives only in that namespace and disappears with it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

if [[ "${SKIFF_BENCH_INSIDE:-}" != 1 ]]; then
  [[ $(id -u) == 0 ]] || { echo "bench: must run as root" >&2; exit 1; }
  install=1
  for a in "$@"; do [[ $a == --no-install ]] && install=0; done
  if [[ $install == 1 ]]; then
    missing=()
    for p in runc crun time strace busybox-static gcc libc6-dev; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
      echo "bench: installing ${missing[*]}"
      if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
               apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
        echo "bench: could not install ${missing[*]}; runtimes that are missing will be skipped" >&2
      fi
    fi
  fi
  make -s -C "$here" tools
  export SKIFF_BENCH_INSIDE=1
  exec unshare --mount --propagation private -- "$0" "$@"
fi

# From here on we are in our own mount namespace.
work=$(mktemp -d /tmp/skiff-bench.XXXXXX)
cleanup() {
  # bench.py cleans up after itself; this catches what a killed bench.py left behind
  "$PY" "$here/bench.py" --workdir "$work" --cleanup-only || true
  rm -rf "$work"
}
trap cleanup EXIT

note="cgroups as found"
if [[ $(stat -fc %T /sys/fs/cgroup) == tmpfs && $(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null) == cgroup2fs ]]; then
  mount -t tmpfs -o size=16m,mode=0755 skiff-bench-hide-unified /sys/fs/cgroup/unified
  note="hybrid host: ran in a private mount namespace with a tmpfs over /sys/fs/cgroup/unified (all runtimes see cgroup v1; crun leaves empty cgroup.procs files there, gone with the namespace)"
elif [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then
  note="cgroup v2 host"
else
  note="cgroup v1 host"
fi
echo "bench: $note"
# In the background so that a TERM to this script reaches bench.py at once (it cleans up and exits).
"$PY" "$here/bench.py" --workdir "$work" --cgroup-note "$note" "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || true' INT TERM HUP
rc=0
wait "$child" || rc=$?
while kill -0 "$child" 2>/dev/null; do wait "$child" || rc=$?; done
exit "$rc"
