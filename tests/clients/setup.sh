#!/usr/bin/env bash
# Installs the container clients the tests in tests/clients drive, from Debian's archive only,
# and only the packages that are missing. Idempotent: a second run installs nothing.
set -euo pipefail

# python3-grpcio: the CRI test talks gRPC to containerd, as the kubelet would.
# netavark and aardvark-dns: podman 4's default network backend wherever it is installed; the
# podman scenarios run under it and under CNI.
pkgs=(podman conmon containerd docker.io uidmap catatonit busybox-static python3-pytest
      python3-grpcio netavark aardvark-dns)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# The packages' maintainer scripts would start dockerd/containerd on the host with its default
# bridge and iptables rules; the tests start their own daemons, so forbid service starts.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  own_policy=1
fi
cleanup() { [ "$own_policy" = 1 ] && rm -f "$policy"; true; }
trap cleanup EXIT

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
