#!/usr/bin/env bash
# The cgroup tests on a pure cgroup v2 host: boots tests/vm/run-in-vm.sh and runs, inside it,
# the cgroup unit tests (those that touch the real hierarchy and the kernel's BPF device check)
# and tests/integration/test_cgroups.py against the built runtime.
#
#   tests/vm/test-cgroups-v2.sh [pytest args...]
#
# Needs root. Uses build/skiff (or SKIFF_RUNTIME) and build/unit_tests (or SKIFF_UNIT_TESTS);
# builds them with cmake first when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
UNIT=${SKIFF_UNIT_TESTS:-build/unit_tests}
RUNTIME=${SKIFF_RUNTIME:-build/skiff}
if [ ! -x "$RUNTIME" ] || [ ! -x "$UNIT" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=MinSizeRel >/dev/null
    cmake --build build -j2 --target skiff unit_tests
fi
export SKIFF_RUNTIME=$(readlink -f "$RUNTIME")
exec tests/vm/run-in-vm.sh --timeout "${SKIFF_VM_TIMEOUT:-900}" -- bash -c '
    set -u
    echo "== $(uname -r): cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
    "$0" --gtest_filter="Cgroups*:HostCgroup*" --gtest_brief=1; unit=$?
    /usr/bin/python3 -m pytest -p no:cacheprovider tests/integration/test_cgroups.py -q -rs "$@"
    it=$?
    [ $unit = 0 ] && [ $it = 0 ]' "$(readlink -f "$UNIT")" "$@"
