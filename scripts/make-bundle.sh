#!/usr/bin/env bash
# Makes a busybox bundle at DIR (rootfs/ + config.json) for the README demo: the container prints
# its hostname, `id`, its pid (1) and its namespaces.
#   scripts/make-bundle.sh /tmp/demo && sudo skiff run --bundle /tmp/demo demo
set -euo pipefail

dir=${1:?usage: make-bundle.sh DIR}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "make-bundle: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
command -v jq >/dev/null || { echo "make-bundle: jq missing (apt-get install jq)" >&2; exit 1; }
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
  echo "make-bundle: warning: $busybox may not be static" >&2

rootfs=$dir/rootfs
mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp,root}
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
# one symlink per applet, all in /bin
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
  > "$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"

# the config: a plain runc-style default, no terminal, so it runs from scripts too
jq -n '{
  ociVersion: "1.0.2",
  process: {
    terminal: false, user: {uid: 0, gid: 0}, cwd: "/",
    args: ["sh", "-c", "echo \"hostname: $(hostname)\"; id; echo \"pid: $$\"; ls -l /proc/self/ns"],
    env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    capabilities: ({bounding: $caps, effective: $caps, permitted: $caps}),
    rlimits: [{type: "RLIMIT_NOFILE", hard: 1024, soft: 1024}],
    noNewPrivileges: true
  },
  root: {path: "rootfs", readonly: true},
  hostname: "skiff-demo",
  mounts: [
    {destination: "/proc", type: "proc", source: "proc"},
    {destination: "/dev", type: "tmpfs", source: "tmpfs",
     options: ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {destination: "/dev/pts", type: "devpts", source: "devpts",
     options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {destination: "/dev/shm", type: "tmpfs", source: "shm",
     options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]}
  ],
  linux: {
    namespaces: [{type: "pid"}, {type: "network"}, {type: "ipc"}, {type: "uts"}, {type: "mount"},
                 {type: "cgroup"}],
    maskedPaths: ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
    readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}' --argjson caps '["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]' > "$dir/config.json"

echo "bundle ready: $dir (run it with: skiff run --bundle $dir demo)"
