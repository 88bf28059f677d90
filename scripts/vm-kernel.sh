#!/usr/bin/env bash
# The guest kernel of skiff's VM isolation and of the tests/vm tiers: a Debian package
# (SKIFF_VM_KERNEL, default linux-image-6.12-cloud-amd64) downloaded with apt-get and unpacked
# into SKIFF_VM_CACHE (default ~/.cache/skiff/vm); nothing is installed into /boot.
#
#   scripts/vm-kernel.sh             # fetch it (idempotent); prints the directory with vmlinuz
#   scripts/vm-kernel.sh --install   # also points /var/lib/skiff/vm (skiff's default) at it
#
# tests/vm/run-in-vm.sh sources this file for vm_fetch_kernel.

VM_CACHE=${SKIFF_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/skiff/vm}
VM_KPKG=${SKIFF_VM_KERNEL:-linux-image-6.12-cloud-amd64}

vm_fail() { echo "vm-kernel: $*" >&2; exit 125; }
vm_say() { [ "${SKIFF_VM_QUIET:-0}" = 1 ] || echo "vm-kernel: $*" >&2; }

vm_install_pkgs() {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
        --no-install-recommends "$@" >&2 ||
        { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get \
            -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$@" >&2; } ||
        vm_fail "apt-get install $* failed"
}

# A meta package (linux-image-cloud-amd64) depends on the versioned one that holds the files.
vm_concrete_kernel_pkg() {
    local p=$1 next
    for _ in 1 2 3; do
        apt-cache show "$p" >/dev/null 2>&1 || return 1
        next=$(apt-cache depends "$p" | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
        [ -z "$next" ] && { echo "$p"; return 0; }
        p=$next
    done
    return 1
}

# vmlinux: the ELF kernel inside vmlinuz, for QEMU's PVH boot (skiff prefers it): QEMU maps it
# from the file, so its pages are page cache that every VM shares, where the bzImage is copied
# into each QEMU's memory (11 MiB); and the guest skips decompressing itself (seconds under
# TCG). The payload is found by its compressor's magic; without one (or its tool) skiff boots
# vmlinuz as before.
vm_extract_vmlinux() {
    [ -s "$KDIR/vmlinux" ] && return 0
    local magic tool off
    for magic in '\x28\xb5\x2f\xfd:zstd -dcq' '\xfd7zXZ\x00:xz -dcq' '\x1f\x8b\x08:gzip -dcq'; do
        tool=${magic#*:}
        command -v "${tool%% *}" >/dev/null || continue
        # || true: no match is the usual answer for all but one compressor, and under
        # `set -eo pipefail` grep's status would end the script without a word
        off=$(LC_ALL=C grep -obUaP "${magic%%:*}" "$KDIR/vmlinuz" | head -n1 | cut -d: -f1 || true)
        [ -n "$off" ] || continue
        tail -c +$((off + 1)) "$KDIR/vmlinuz" | $tool > "$KDIR/vmlinux.tmp" 2>/dev/null || true
        if [ "$(head -c 4 "$KDIR/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
            mv "$KDIR/vmlinux.tmp" "$KDIR/vmlinux"
            return 0
        fi
    done
    rm -f "$KDIR/vmlinux.tmp"
    vm_say "no vmlinux extracted from vmlinuz: the guest boots the bzImage"
}

# Sets KDIR to $VM_CACHE/<package>, holding vmlinuz, vmlinux, config, kver and lib/modules/<kver>
# (modules decompressed, depmod run). The caller holds $VM_CACHE/lock.
vm_fetch_kernel() {
    local pkg try
    for try in 1 2 3; do
        pkg=$(vm_concrete_kernel_pkg "$VM_KPKG") ||
            { apt-get update -q >&2 || true; pkg=$(vm_concrete_kernel_pkg "$VM_KPKG"); } ||
            { [ -s "$VM_CACHE/$VM_KPKG.pkg" ] && pkg=$(cat "$VM_CACHE/$VM_KPKG.pkg"); } ||
            vm_fail "cannot find kernel package $VM_KPKG"
        echo "$pkg" > "$VM_CACHE/$VM_KPKG.pkg"
        KDIR=$VM_CACHE/$pkg
        [ -e "$KDIR/ready" ] && { vm_extract_vmlinux; return 0; }
        vm_say "fetching $pkg"
        rm -rf "$KDIR" && mkdir -p "$KDIR/deb"
        (cd "$KDIR/deb" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >&2) && break
        # A mirror's hiccup, or package lists older than the mirror (the version they name is
        # gone): fresh lists, which may name a newer package, and another try.
        [ "$try" = 3 ] && vm_fail "apt-get download $pkg failed (3 tries)"
        vm_say "apt-get download $pkg failed (try $try of 3): updating the package lists"
        sleep $((try * 5))
        apt-get update -q >&2 || true
    done
    dpkg-deb -x "$KDIR"/deb/*.deb "$KDIR/pkg"
    local kver
    kver=$(ls "$KDIR/pkg/lib/modules")
    mkdir -p "$KDIR/lib/modules"
    mv "$KDIR/pkg/lib/modules/$kver" "$KDIR/lib/modules/"
    cp "$KDIR/pkg/boot/vmlinuz-$kver" "$KDIR/vmlinuz"
    cp "$KDIR/pkg/boot/config-$kver" "$KDIR/config"
    echo "$kver" > "$KDIR/kver"
    rm -rf "$KDIR/pkg" "$KDIR/deb"
    # busybox's insmod/modprobe read plain .ko files only
    find "$KDIR/lib/modules" -name '*.ko.xz' -print0 | xargs -0 -r -n 32 -P 2 xz -d
    busybox depmod -b "$KDIR" "$kver" || vm_fail "depmod failed"
    vm_extract_vmlinux
    touch "$KDIR/ready"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    [ "$(id -u)" = 0 ] || vm_fail "needs root (apt-get)"
    missing=()
    command -v qemu-system-x86_64 >/dev/null && [ -x /usr/lib/qemu/virtiofsd ] || missing+=(qemu-system-x86)
    command -v xz >/dev/null || missing+=(xz-utils)
    command -v zstd >/dev/null || missing+=(zstd)
    command -v busybox >/dev/null || missing+=(busybox-static)
    [ ${#missing[@]} -eq 0 ] || { vm_say "installing ${missing[*]}"; vm_install_pkgs "${missing[@]}"; }
    mkdir -p "$VM_CACHE"
    exec 8>"$VM_CACHE/lock"
    flock 8
    vm_fetch_kernel
    if [ "${1:-}" = --install ]; then
        mkdir -p /var/lib/skiff
        ln -sfn "$KDIR" /var/lib/skiff/vm
        vm_say "/var/lib/skiff/vm -> $KDIR"
    fi
    echo "$KDIR"
fi
