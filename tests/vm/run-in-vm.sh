#!/usr/bin/env bash
# Runs one command as root inside a throw-away QEMU guest booted with `cgroup_no_v1=all`: a
# pure cgroup v2 host, which this project's development machines (hybrid v1+v2) cannot show.
#
#   tests/vm/run-in-vm.sh [--mem 2G] [--cpus N] [--timeout SEC] [--console] [--systemd] -- CMD [ARG...]
#   tests/vm/run-in-vm.sh --setup        # install qemu, fetch + unpack the kernel (idempotent)
#
# --systemd: the guest boots the host's systemd as PID 1 instead (a cgroup v2 host that
# systemd manages, with its system bus), and CMD runs as a oneshot unit once the bus is up;
# the guest powers off when CMD ends.
# --cgroup hybrid|legacy (with --systemd): systemd mounts the v1 controllers instead, beside a
# v2 mount at /sys/fs/cgroup/unified that only tracks processes (hybrid) or with none (legacy).
#
# The guest sees the host's root filesystem read-only (virtiofs) under a tmpfs overlay, so it
# can write anywhere and nothing reaches the host, plus the current directory read-write at the
# same path (the checkout: build results and test output survive). /tmp is a fresh tmpfs, and
# an empty 16 MB disk is /dev/vda (for block I/O limits).
# CMD's stdout and stderr come back on stdout; the exit status is CMD's, 124 on timeout, 125
# when the guest did not report one (the kernel console is shown then).
#
# The kernel is a Debian package (SKIFF_VM_KERNEL, default linux-image-6.12-cloud-amd64)
# downloaded with apt-get and unpacked into SKIFF_VM_CACHE (default ~/.cache/skiff/vm); nothing
# is installed into /boot. KVM is used when it can boot a stock kernel; otherwise (no vmx/svm,
# e.g. a PVM /dev/kvm) software emulation: slower, still a few seconds to a prompt.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
CACHE=${SKIFF_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/skiff/vm}
KPKG=${SKIFF_VM_KERNEL:-linux-image-6.12-cloud-amd64}
MEM=${SKIFF_VM_MEM:-2G}
CPUS=${SKIFF_VM_CPUS:-$(nproc)}
TIMEOUT=${SKIFF_VM_TIMEOUT:-900}
VIRTIOFSD=/usr/lib/qemu/virtiofsd
CONSOLE=0
SETUP_ONLY=0
SYSTEMD=0
CGROUP_ARGS=cgroup_no_v1=all

fail() { echo "run-in-vm: $*" >&2; exit 125; }
say() { [ "${SKIFF_VM_QUIET:-0}" = 1 ] || echo "run-in-vm: $*" >&2; }

while [ $# -gt 0 ]; do
    case $1 in
        --mem) MEM=$2; shift 2 ;;
        --cpus) CPUS=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --console) CONSOLE=1; shift ;;
        --setup) SETUP_ONLY=1; shift ;;
        --systemd) SYSTEMD=1; shift ;;
        --cgroup)
            case $2 in
                hybrid) CGROUP_ARGS="systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=0" ;;
                legacy) CGROUP_ARGS="systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=1" ;;
                *) fail "--cgroup: hybrid or legacy" ;;
            esac
            shift 2 ;;
        --) shift; break ;;
        -h|--help) sed -n '2,/^set -euo/{/^set/d;s/^# \{0,1\}//;p}' "$SELF"; exit 0 ;;
        -*) fail "unknown option $1" ;;
        *) break ;;
    esac
done
[ "$(id -u)" = 0 ] || fail "needs root (virtiofsd and the read-only root share)"
[ "$SETUP_ONLY" = 1 ] || [ $# -gt 0 ] || fail "usage: run-in-vm.sh [options] -- CMD [ARG...]"

# ------------------------------------------------------------------------------------------
# setup: packages, kernel, initramfs

# The kernel fetch is shared with skiff's VM isolation (scripts/vm-kernel.sh).
SKIFF_VM_CACHE=$CACHE SKIFF_VM_KERNEL=$KPKG . "$HERE/../../scripts/vm-kernel.sh"
install_pkgs() { vm_install_pkgs "$@"; }

setup() {
    local missing=()
    command -v qemu-system-x86_64 >/dev/null && [ -x "$VIRTIOFSD" ] || missing+=(qemu-system-x86)
    [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || missing+=(busybox-static)
    command -v xz >/dev/null || missing+=(xz-utils)
    [ ${#missing[@]} -eq 0 ] || { say "installing ${missing[*]}"; install_pkgs "${missing[@]}"; }

    mkdir -p "$CACHE"
    exec 8>"$CACHE/lock"
    flock 8  # two runs at once share one download
    vm_fetch_kernel
    if [ ! -e "$KDIR/initrd.gz" ] || [ "$SELF" -nt "$KDIR/initrd.gz" ]; then
        build_initrd
    fi
    exec 8>&-
}

# PID 1 of the initramfs: the host root (read-only) under a tmpfs overlay becomes the new root.
INIT_STAGE='#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs dev /dev
. /vm/modules
die() { echo "skiff-vm: $*" > /dev/ttyS1; poweroff -f; }
for m in $INITRD_MODULES; do insmod /vm/$m.ko 2>/dev/null; done
mkdir -p /host /rw /root
mount -t virtiofs -o ro host /host || die "cannot mount the host root"
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /root ||
    die "cannot build the overlay root"
mkdir -p /root/run && mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /root/run
mkdir -p /root/run/vm && cp /bin/busybox /vm/* /root/run/vm/
. /vm/params
if [ "$SYSTEMD" = 1 ]; then
    # systemd as PID 1: what guest.sh would set up by hand, systemd does, except the checkout
    # share and the modules; the tests run as skiff-vm-tests.service (systemd-guest.sh).
    # The kernel modules first: a cache under /tmp (SKIFF_VM_CACHE) is hidden by the fresh /tmp.
    kv=$(uname -r)
    mkdir -p /root/lib/modules/$kv && mount --bind "/root$MODULES" /root/lib/modules/$kv
    # a fresh /tmp as in guest.sh: overlayfs cannot be an overlay upper (podman, containerd).
    # Before the share: a checkout under /tmp (a CI clone) must stay visible above it.
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /root/tmp
    mkdir -p "/root$SHARE" && mount -t virtiofs share "/root$SHARE" || die "cannot mount $SHARE"
    u=/root/etc/systemd/system
    mkdir -p $u
    printf "[Unit]\nDescription=skiff VM tests\nRequires=basic.target dbus.service skiff-vm-tests.service\nAfter=basic.target\nAllowIsolate=yes\n" > $u/skiff-vm.target
    printf "[Unit]\nDescription=skiff VM test command\nRequires=dbus.service\nAfter=basic.target dbus.service\n[Service]\nType=oneshot\nExecStart=/run/vm/busybox sh /run/vm/systemd-guest.sh\nTimeoutStartSec=infinity\n" > $u/skiff-vm-tests.service
    for m in proc sys dev; do mount --move /$m /root/$m; done
    # SYSTEMD_ARGS on its own command line: systemd reads that one instead of the kernel one
    # when it thinks it runs in a container (a host root with /.dockerenv makes it think so)
    exec switch_root /root /usr/lib/systemd/systemd --unit=skiff-vm.target $SYSTEMD_ARGS
fi
for m in proc sys dev; do mount --move /$m /root/$m; done
exec switch_root /root /run/vm/busybox sh /run/vm/guest.sh
'

# PID 1 in the new root: a pure cgroup v2 host with every controller delegated, then CMD.
GUEST_STAGE='B=/run/vm/busybox
mkdir -p /run/vm/bin && $B --install -s /run/vm/bin
export PATH=/run/vm/bin
. /run/vm/params
out=/dev/ttyS1
stty -F $out raw -echo 2>/dev/null
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control; done
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
ln -sf pts/ptmx /dev/ptmx
ln -sf /proc/self/fd /dev/fd
mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
# The kernel modules before the fresh /tmp, which would hide a cache under /tmp.
mkdir -p /lib/modules/$(uname -r) && mount --bind "$MODULES" /lib/modules/$(uname -r)
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
# securityfs, as systemd mounts it on a Debian host: AppArmor (on in this kernel) shows there
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
echo /run/vm/bin/modprobe > /proc/sys/kernel/modprobe
modprobe virtio_blk 2>/dev/null  # no udev here: the scratch disk needs its driver loaded
# bfq on the scratch disk: per-device I/O weights need it (or io.cost) on cgroup v2
modprobe bfq 2>/dev/null && echo bfq > /sys/block/vda/queue/scheduler 2>/dev/null
mkdir -p "$SHARE" && mount -t virtiofs share "$SHARE" || echo "skiff-vm: cannot mount $SHARE" > $out
hostname skiff-vm
ip link set lo up
printf "%sstarted\n" "$MARKER" > $out
# Through a pipe, not the tty itself: tools should not think a terminal is watching.
( /bin/bash /run/vm/cmd 2>&1 < /dev/null; echo $? > /run/vm/rc ) | cat > $out
rc=$(cat /run/vm/rc 2>/dev/null || echo 125)
sync
printf "\n%s%d\n" "$MARKER" "$rc" > $out
poweroff -f
'

# The oneshot unit of a --systemd guest: the same devices and modules as guest.sh, then CMD.
SYSTEMD_GUEST_STAGE='B=/run/vm/busybox
mkdir -p /run/vm/bin && $B --install -s /run/vm/bin
. /run/vm/params
out=/dev/ttyS1
$B stty -F $out raw -echo 2>/dev/null
echo /run/vm/bin/modprobe > /proc/sys/kernel/modprobe
$B modprobe virtio_blk 2>/dev/null
$B modprobe bfq 2>/dev/null && echo bfq > /sys/block/vda/queue/scheduler 2>/dev/null
$B mountpoint -q /sys/fs/bpf 2>/dev/null || $B mount -t bpf bpf /sys/fs/bpf 2>/dev/null
# systemd leaves securityfs unmounted in this guest; AppArmor (on in this kernel) needs it
$B mountpoint -q /sys/kernel/security 2>/dev/null ||
    $B mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/run/vm/bin
printf "%sstarted\n" "$MARKER" > $out
( /bin/bash /run/vm/cmd 2>&1 < /dev/null; echo $? > /run/vm/rc ) | $B cat > $out
rc=$($B cat /run/vm/rc 2>/dev/null || echo 125)
$B sync
printf "\n%s%d\n" "$MARKER" "$rc" > $out
$B poweroff -f
'

build_initrd() {
    local d
    d=$(mktemp -d)
    mkdir -p "$d/bin" "$d/proc" "$d/sys" "$d/dev" "$d/vm"
    cp /bin/busybox "$d/bin/busybox"
    printf '%s' "$INIT_STAGE" > "$d/init" && chmod 0755 "$d/init"
    printf '%s' "$GUEST_STAGE" > "$d/vm/guest.sh"
    printf '%s' "$SYSTEMD_GUEST_STAGE" > "$d/vm/systemd-guest.sh"
    # Modules the initramfs needs before the root exists, when the kernel has them as modules.
    local kver m f mods=""
    kver=$(cat "$KDIR/kver")
    # (Debian's 6.1 kernel, for --cgroup: virtio itself is modular there, virtiofs so named)
    for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci fuse virtio_fs \
        virtiofs overlay; do
        f=$(find "$KDIR/lib/modules/$kver" -name "$m.ko" | head -n1)
        [ -n "$f" ] && cp "$f" "$d/vm/$m.ko" && mods+="$m "
    done
    printf 'INITRD_MODULES="%s"\n' "$mods" > "$d/vm/modules"
    (cd "$d" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 > "$KDIR/initrd.gz.new")
    mv "$KDIR/initrd.gz.new" "$KDIR/initrd.gz"
    rm -rf "$d"
}

setup
if [ "$SETUP_ONLY" = 1 ]; then say "ready: $KDIR"; exit 0; fi

# ------------------------------------------------------------------------------------------
# one run

RUN=$(mktemp -d /tmp/skiff-vm-run.XXXXXX)
CHILDREN=()
finish() {
    local p
    for p in "${CHILDREN[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${CHILDREN[@]}"; do wait "$p" 2>/dev/null || true; done
    umount "$RUN/hostro" 2>/dev/null || true
    rm -rf "$RUN"
}
trap finish EXIT
trap 'exit 130' INT TERM

SHARE=$(pwd -P)
[ "$SHARE" != / ] || fail "run it from the checkout, not from /"
MARKER="SKIFF-VM-RC-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')="

# This run's part of the initramfs (the kernel unpacks concatenated archives in order).
mkdir -p "$RUN/extra/vm"
{
    printf 'MARKER=%q\nSHARE=%q\nMODULES=%q\nSYSTEMD=%q\n' "$MARKER" "$SHARE" \
        "$KDIR/lib/modules/$(cat "$KDIR/kver")" "$SYSTEMD"
    [ "$CGROUP_ARGS" = cgroup_no_v1=all ] || printf 'SYSTEMD_ARGS=%q\n' "$CGROUP_ARGS"
} > "$RUN/extra/vm/params"
{
    printf 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n'
    printf 'export HOME=/root LANG=C.UTF-8 SKIFF_IN_VM=1\n'
    for v in CI SKIFF_RUNTIME SKIFF_SYSTEMD_HELPER; do
        [ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}"
    done
    printf 'cd %q || exit 125\nexec' "$SHARE"
    printf ' %q' "$@"
    printf '\n'
} > "$RUN/extra/vm/cmd"
(cd "$RUN/extra" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 > "$RUN/extra.gz")
cat "$KDIR/initrd.gz" "$RUN/extra.gz" > "$RUN/initrd"

ACCEL=${SKIFF_VM_ACCEL:-}
if [ -z "$ACCEL" ]; then
    # A PVM /dev/kvm (no vmx/svm flags) cannot boot a stock kernel.
    if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then ACCEL=kvm; else ACCEL=tcg; fi
fi
if [ "$ACCEL" = kvm ]; then CPU=(-accel kvm -cpu host); else CPU=(-accel tcg,thread=multi -cpu max); fi
AWKCMD=(awk)
awk -W version 2>&1 | grep -q mawk && AWKCMD=(awk -W interactive)  # no read-ahead on the fifo
# A small scratch disk, so that block I/O limits have a real device to name (/dev/vda).
truncate -s 16M "$RUN/disk.img"

# One boot: the two virtiofsd, QEMU, and the reader of the guest's output. Sets qrc to QEMU's
# status; $RUN/rc holds the command's when the guest reported one, and $RUN/started exists once
# the guest said it starts the command (a marker line before it).
boot() {
    local p s
    for p in "${CHILDREN[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${CHILDREN[@]}"; do wait "$p" 2>/dev/null || true; done
    CHILDREN=()
    umount "$RUN/hostro" 2>/dev/null || true
    rm -f "$RUN"/*.sock "$RUN/out" "$RUN/rc" "$RUN/started" "$RUN"/*.log
    # virtiofsd for the host root, read-only: a read-only bind of / in a private mount
    # namespace (only the root filesystem itself, none of the mounts on top of it).
    mkdir -p "$RUN/hostro"
    unshare -m --propagation private sh -c \
        'mount --bind / "$0" && mount -o remount,bind,ro "$0" && exec "$@"' "$RUN/hostro" \
        "$VIRTIOFSD" --socket-path="$RUN/host.sock" -o source="$RUN/hostro" -o cache=always \
        -o log_level=err > "$RUN/virtiofsd-host.log" 2>&1 &
    CHILDREN+=($!)
    "$VIRTIOFSD" --socket-path="$RUN/share.sock" -o source="$SHARE" -o cache=auto -o xattr \
        -o log_level=err > "$RUN/virtiofsd-share.log" 2>&1 &
    CHILDREN+=($!)
    for s in host share; do
        for _ in $(seq 200); do [ -S "$RUN/$s.sock" ] && break; sleep 0.05; done
        [ -S "$RUN/$s.sock" ] || { cat "$RUN"/virtiofsd-*.log >&2; fail "virtiofsd ($s) did not start"; }
    done
    say "booting $(cat "$KDIR/kver") with $ACCEL"
    if [ "$CONSOLE" = 1 ]; then CONS=(-serial stdio); else CONS=(-serial "file:$RUN/console.log"); fi
    mkfifo "$RUN/out"
    # Copy the guest's output through until the marker line, which carries the exit status.
    # One line is held back: the newline before the marker is the guest's, not the command's.
    "${AWKCMD[@]}" -v m="$MARKER" -v rcfile="$RUN/rc" -v started="$RUN/started" '
        { sub(/\r$/, "") }
        $0 == m "started" { printf "" > started; close(started); next }
        index($0, m) == 1 {
            if (held && prev != "") printf "%s", prev
            print substr($0, length(m) + 1) > rcfile
            held = 0
            exit
        }
        { if (held) print prev; prev = $0; held = 1; fflush() }
        END { if (held) print prev }' < "$RUN/out" &
    local awk_pid=$!
    CHILDREN+=("$awk_pid")
    timeout -k 5 "$TIMEOUT" qemu-system-x86_64 -machine q35,memory-backend=mem "${CPU[@]}" \
        -m "$MEM" -smp "$CPUS" -object "memory-backend-memfd,id=mem,size=$MEM,share=on" \
        -nodefaults -no-user-config -display none -no-reboot \
        -kernel "$KDIR/vmlinuz" -initrd "$RUN/initrd" \
        -append "console=ttyS0 quiet panic=-1 rdinit=/init $CGROUP_ARGS mitigations=off random.trust_cpu=on ${SKIFF_VM_APPEND:-}" \
        "${CONS[@]}" -serial "file:$RUN/out" \
        -chardev "socket,id=host,path=$RUN/host.sock" -device vhost-user-fs-pci,chardev=host,tag=host \
        -chardev "socket,id=share,path=$RUN/share.sock" -device vhost-user-fs-pci,chardev=share,tag=share \
        -drive "file=$RUN/disk.img,if=virtio,format=raw,cache=unsafe" \
        -device virtio-rng-pci < /dev/null > "$RUN/qemu.log" 2>&1 &
    local qemu_pid=$!
    CHILDREN=("$qemu_pid" "${CHILDREN[@]}")
    qrc=0
    wait "$qemu_pid" || qrc=$?
    wait "$awk_pid" 2>/dev/null || true
}

no_status() {
    echo "run-in-vm: the guest reported no exit status (qemu rc=$qrc)" >&2
    tail -n 40 "$RUN/console.log" "$RUN/qemu.log" "$RUN"/virtiofsd-*.log >&2 2>/dev/null || true
}

boot
# A guest that ended before the command began (a boot that failed, or QEMU that could not
# start) gets one more boot: nothing of the command ran, so nothing is run twice. So does a
# guest whose kernel panicked under the command (seen once under TCG, an oops in the page
# allocator while netfilter modules loaded): the command runs again from the start, after
# the first boot's console is shown.
if [ ! -s "$RUN/rc" ] && [ "$qrc" != 124 ] && [ "$qrc" != 137 ]; then
    if [ ! -e "$RUN/started" ]; then
        no_status
        echo "run-in-vm: the command never started: booting once more" >&2
        boot
    elif grep -q "Kernel panic" "$RUN/console.log" 2>/dev/null; then
        no_status
        echo "run-in-vm: the guest kernel panicked under the command: booting once more and running it again" >&2
        boot
    fi
fi
if [ -s "$RUN/rc" ]; then exit "$(cat "$RUN/rc")"; fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    echo "run-in-vm: timed out after ${TIMEOUT}s" >&2
    tail -n 30 "$RUN/console.log" >&2 2>/dev/null || true
    exit 124
fi
no_status
exit 125
