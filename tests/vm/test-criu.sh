#!/usr/bin/env bash
# The CRIU tier: checkpoint and restore need a kernel where `criu check` passes, which this
# project's development hosts do not have (a 6.18 kernel that Debian's CRIU 3.17 cannot read
# the vDSO of). Boots tests/vm/run-in-vm.sh once (Debian's 6.12 cloud kernel) and runs
# tests/vm/criu inside it against the built runtime.
#
#   tests/vm/test-criu.sh [pytest args...]
#
# Needs root and criu (scripts/install-deps.sh), podman and containerd (tests/clients/setup.sh).
# Uses build/skiff (or SKIFF_RUNTIME); builds it with cmake first when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
RUNTIME=${SKIFF_RUNTIME:-build/skiff}
if [ ! -x "$RUNTIME" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=MinSizeRel >/dev/null
    cmake --build build -j2 --target skiff
fi
command -v criu >/dev/null || [ -x /usr/sbin/criu ] || {
    echo "test-criu: criu is not installed (scripts/install-deps.sh)" >&2; exit 1; }
# podman, conmon, containerd for test_criu_clients.py: installed on this host (the guest's
# read-only root) by the client tier's idempotent set-up, which keeps their daemons from
# starting here; nothing is installed inside the guest.
[ "${SKIFF_CLIENTS_NO_INSTALL:-0}" = 1 ] || bash tests/clients/setup.sh >/dev/null
export SKIFF_RUNTIME=$(readlink -f "$RUNTIME")
exec tests/vm/run-in-vm.sh --timeout "${SKIFF_VM_TIMEOUT:-900}" -- bash -c '
    echo "== $(uname -r): $(criu --version | head -n1), criu check: $(cd /tmp && criu check 2>&1 | tail -n1)"
    exec /usr/bin/python3 -m pytest -p no:cacheprovider tests/vm/criu -q -rs "$@"' criu "$@"
