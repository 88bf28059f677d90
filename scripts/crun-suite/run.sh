#!/bin/sh
# crun's own test suite (tests/test_*.py of the crun Debian ships, 1.8.1) against a runtime.
#   scripts/crun-suite/run.sh WORKDIR NAME RUNTIME [ns]
# WORKDIR (outside the repo) gets crun's source from Debian (apt-get source, deb-src lists
# kept in WORKDIR: the host's apt configuration is not touched), the suite's init built
# static, and results in WORKDIR/out-NAME (one TAP file per test file). RUNTIME is crun,
# or skiff / runc, which run through runtime-wrap (crun-only flags dropped). With "ns" every
# test file runs in a private mount namespace with a tmpfs over /sys/fs/cgroup/unified: crun
# 1.8 refuses a hybrid cgroup host otherwise. A test file still running after $TIMEOUT seconds
# (default 300) is stopped: seccomp-listener waits forever for a runtime that, as runc, sends
# nothing to listenerPath without an SCMP_ACT_NOTIFY rule.
# Then: scripts/crun-suite/table.py WORKDIR/out-crun WORKDIR/out-skiff
set -e
W=$(realpath -m "$1"); NAME=$2; RT=$(realpath "$3"); NS=$4
HERE=$(dirname "$(realpath "$0")")
mkdir -p "$W"
if [ ! -d "$W/crun-1.8.1/tests" ]; then
    mkdir -p "$W/apt/lists/partial"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" > "$W/apt/sources.list"
    O="-o Dir::Etc::sourcelist=$W/apt/sources.list -o Dir::Etc::sourceparts=/dev/null -o Dir::State::Lists=$W/apt/lists"
    apt-get $O update >/dev/null
    (cd "$W" && apt-get $O source --download-only crun=1.8.1-1+deb12u1 >/dev/null && tar xf crun_1.8.1.orig.tar.xz)
fi
if [ ! -x "$W/init" ]; then
    printf '#define HAVE_ERROR_H 1\n#define HAVE_SECCOMP 1\n' > "$W/config.h"
    gcc -static -O2 -I"$W" -o "$W/init" "$W/crun-1.8.1/tests/init.c"
fi
case "$(basename "$RT")" in
    crun*) export OCI_RUNTIME="$RT" ;;
    *) export OCI_RUNTIME="$HERE/runtime-wrap" RUNTIME_BIN="$RT" ;;
esac
export INIT="$W/init" CRUN_FEATURES="${CRUN_FEATURES-}"
D="$W/out-$NAME"; rm -rf "$D"; mkdir -p "$D/tests"; cp "$W/init" "$D/tests/init"; cd "$D"
for t in "$W"/crun-1.8.1/tests/test_*.py; do
    b=$(basename "$t" .py)
    if [ "$NS" = ns ]; then
        timeout ${TIMEOUT:-300} unshare -m sh -c "mount --make-rprivate / && mount -t tmpfs tmpfs /sys/fs/cgroup/unified && exec python3 $t" > "$b.tap" 2> "$b.err" || true
    else
        timeout ${TIMEOUT:-300} python3 "$t" > "$b.tap" 2> "$b.err" || true
    fi
    echo "$b done"
done
# What the suite leaves behind. test_simple_delete moves a container's init into a host freezer
# cgroup it makes (freezer/frozen), freezes it and expects `delete -f` to cope: the process
# stays there, frozen, for every runtime. A test that stops half-way (a hung listener, a
# runtime without crun's `delete --regex`) leaves its containers' cgroups. Container ids of
# the suite are mkdtemp names, test-tmp*; rmdir leaves any cgroup that still has processes.
F=/sys/fs/cgroup/freezer/frozen
if [ -d "$F" ]; then
    for p in $(cat "$F/tasks"); do kill -9 "$p" 2>/dev/null || true; done
    echo THAWED > "$F/freezer.state"; sleep 1; rmdir "$F" || true
fi
for c in $(find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -name 'test-tmp*' | sort -r); do
    for p in $(cat "$c/cgroup.procs" 2>/dev/null); do
        # only the suite's own init (argv[0] /init), a container left running
        [ "$(tr '\0' '\n' < /proc/"$p"/cmdline 2>/dev/null | head -n 1)" = /init ] && kill -9 "$p" 2>/dev/null || true
    done
done
sleep 1
find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -name 'test-tmp*' -exec rmdir {} + 2>/dev/null || true
rm -rf "$D"/.testsuite-run-*
