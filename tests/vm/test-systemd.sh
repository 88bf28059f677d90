#!/usr/bin/env bash
# The systemd cgroup driver tier: boots tests/vm/run-in-vm.sh --systemd (Debian's systemd as
# PID 1, a cgroup v2 host with a system bus) once, and runs inside it the driver's unit tests
# tests/vm/systemd against the built runtime and its companion, skiff-systemd, then the podman,
# containerd and docker scenarios of tests/vm/systemd-clients (a second pytest session: the two
# directories load different harnesses; with --junitxml=F its results are merged into F).
# Then it boots the guest a second time as a hybrid cgroup host (v1 controllers, systemd's
# name=systemd hierarchy, a process-tracking v2 mount; Debian 12's 6.1 kernel, as the 6.12 one
# has no v1 memory or cpuset controller; SKIFF_VM_V1_KERNEL names another) and runs
# tests/vm/systemd-v1 there. SKIFF_SYSTEMD_V1=0 skips that boot.
#
#   tests/vm/test-systemd.sh [pytest args...]
#
# Needs root. Uses build/skiff (or SKIFF_RUNTIME), build/skiff-systemd beside it and
# build/unit_tests (or SKIFF_UNIT_TESTS); builds them with cmake first when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
UNIT=${SKIFF_UNIT_TESTS:-build/unit_tests}
RUNTIME=${SKIFF_RUNTIME:-build/skiff}
if [ ! -x "$RUNTIME" ] || [ ! -x "$UNIT" ] || [ ! -x "$(dirname "$RUNTIME")/skiff-systemd" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=MinSizeRel >/dev/null
    cmake --build build -j2 --target skiff skiff-systemd unit_tests
fi
export SKIFF_RUNTIME=$(readlink -f "$RUNTIME")
rc=0
tests/vm/run-in-vm.sh --systemd --timeout "${SKIFF_VM_TIMEOUT:-1200}" -- bash -c '
    set -u
    echo "== $(uname -r): systemd $(systemctl --version | head -n1 | cut -d" " -f2), $(systemctl is-system-running)"
    "$0" --gtest_filter="Systemd*" --gtest_brief=1; unit=$?
    /usr/bin/python3 -m pytest -p no:cacheprovider tests/vm/systemd -q -rs "$@"
    it=$?
    xml=""; rest=()
    for a in "$@"; do case $a in --junitxml=*) xml=${a#--junitxml=} ;; *) rest+=("$a") ;; esac; done
    SKIFF_CLIENTS_NO_INSTALL=1 /usr/bin/python3 -m pytest -p no:cacheprovider tests/vm/systemd-clients \
        -q -rs ${xml:+--junitxml=$xml.clients} "${rest[@]}"
    cl=$?
    if [ -n "$xml" ] && [ -s "$xml.clients" ]; then
        /usr/bin/python3 -c "
import sys, xml.etree.ElementTree as ET
main, extra = ET.parse(sys.argv[1]), ET.parse(sys.argv[2])
for s in extra.getroot().iter(\"testsuite\"):
    main.getroot().append(s)
main.write(sys.argv[1])" "$xml" "$xml.clients" && rm -f "$xml.clients"
    fi
    [ $unit = 0 ] && [ $it = 0 ] && [ $cl = 0 ]' "$(readlink -f "$UNIT")" "$@" || rc=$?
[ "${SKIFF_SYSTEMD_V1:-1}" = 0 ] && exit $rc
xml=""; rest=()
for a in "$@"; do case $a in --junitxml=*) xml=${a#--junitxml=} ;; *) rest+=("$a") ;; esac; done
v1=0
SKIFF_VM_KERNEL=${SKIFF_VM_V1_KERNEL:-linux-image-cloud-amd64} tests/vm/run-in-vm.sh --systemd \
    --cgroup hybrid --timeout "${SKIFF_VM_TIMEOUT:-1200}" -- bash -c '
    echo "== $(uname -r): systemd, hybrid cgroups, $(systemctl is-system-running)"
    exec /usr/bin/python3 -m pytest -p no:cacheprovider tests/vm/systemd-v1 -q -rs "$@"' \
    systemd-v1 ${xml:+--junitxml=$xml.v1} "${rest[@]}" || v1=$?
if [ -n "$xml" ] && [ -s "$xml.v1" ]; then
    /usr/bin/python3 -c "
import sys, xml.etree.ElementTree as ET
main, extra = ET.parse(sys.argv[1]), ET.parse(sys.argv[2])
for s in extra.getroot().iter('testsuite'):
    main.getroot().append(s)
main.write(sys.argv[1])" "$xml" "$xml.v1" && rm -f "$xml.v1"
fi
[ $rc = 0 ] && exit $v1
exit $rc
