#!/usr/bin/env bash
# Installs the Debian packages skiff needs to build and test, only those that are missing.
set -euo pipefail
# clang and libclang-rt-dev: the fuzz smoke test's libFuzzer build. runc: a unit test parses
# `runc spec` output, and the integration tests can run against it for comparison.
# dpkg-dev, debhelper, lintian and groff-base: `make deb` and tests/packaging (the package
# build, its lint, the man pages' lint).
# criu: checkpoint/restore (tests/vm/test-criu.sh runs it in a guest whose kernel it supports).
# uidmap: newuidmap/newgidmap for rootless multi-range id maps (tests/rootless).
# apparmor: apparmor_parser, which the tests/vm guests (whose root is this host's, read-only)
# use to load a test profile; inert on a kernel without AppArmor.
# qemu-system-x86 and xz-utils: VM isolation (QEMU, virtiofsd) and the tests/vm tiers' guests;
# zstd: scripts/vm-kernel.sh unpacks the guest kernel's ELF (vmlinux) for a PVH boot.
pkgs=(build-essential cmake libseccomp-dev nlohmann-json3-dev googletest libgtest-dev
      busybox-static python3-pytest jq clang libclang-rt-dev runc libsystemd-dev pkg-config
      dpkg-dev debhelper lintian groff-base uidmap qemu-system-x86 xz-utils zstd
      apparmor criu)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
