"""Shared pieces of the client scenarios: running commands, a busybox image built from
busybox-static, daemons started on private roots, and host-side cgroup reads."""

import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import tarfile
import time

BUSYBOX = "/bin/busybox"

# Commands that hang would eat the suite's whole time budget; nothing here should take long.
DEFAULT_TIMEOUT = 60


class CommandError(AssertionError):
    pass


def run(args, *, check=True, timeout=DEFAULT_TIMEOUT, env=None, input=None):
    """Runs args and returns the CompletedProcess (text mode). With check, a non-zero exit
    raises with the command line and both outputs, so a failure explains itself."""
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise CommandError(f"{' '.join(map(str, args))} exited {proc.returncode}\n"
                           f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def wait_until(predicate, timeout=20.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --- the busybox image -----------------------------------------------------------------------

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
          "tester:x:1000:1000:tester:/home/tester:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
GROUP = "root:x:0:\ndaemon:x:1:\ntester:x:1000:\nnogroup:x:65534:\n"


def busybox_applets():
    out = run([BUSYBOX, "--list"]).stdout.split()
    return sorted(a for a in out if a and "/" not in a and a != "busybox")


def rootfs_tar_bytes():
    """A root filesystem as an uncompressed tar: busybox-static with a symlink per applet in
    /bin, and the few files a container expects (passwd, group, empty mount points)."""
    buf = io.BytesIO()
    mtime = 1700000000

    def add_dir(tf, name, mode=0o755):
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.DIRTYPE
        ti.mode = mode
        ti.mtime = mtime
        tf.addfile(ti)

    def add_file(tf, name, data, mode=0o644):
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mode = mode
        ti.mtime = mtime
        tf.addfile(ti, io.BytesIO(data))

    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for d in ("bin", "dev", "etc", "home", "home/tester", "proc", "root", "run", "sys",
                  "usr", "usr/bin", "var", "mnt"):
            add_dir(tf, d, 0o700 if d == "root" else 0o755)
        add_dir(tf, "tmp", 0o1777)
        add_dir(tf, "var/tmp", 0o1777)
        with open(BUSYBOX, "rb") as f:
            add_file(tf, "bin/busybox", f.read(), 0o755)
        for applet in busybox_applets():
            ti = tarfile.TarInfo("bin/" + applet)
            ti.type = tarfile.SYMTYPE
            ti.linkname = "busybox"
            ti.mode = 0o777
            ti.mtime = mtime
            tf.addfile(ti)
        add_file(tf, "etc/passwd", PASSWD.encode())
        add_file(tf, "etc/group", GROUP.encode())
    return buf.getvalue()


def oci_arch():
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64"}.get(platform.machine(), platform.machine())


def _blob(blobs, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return digest


def write_oci_archive(path, images, layer_tar):
    """Writes an OCI image layout as a tar at path. images maps a full reference
    ("docker.io/skiff/busybox:latest") to the image config's "config" section; every image
    shares the one busybox layer (gzip-compressed, as registries ship them)."""
    blobs = {}
    layer = gzip.compress(layer_tar, mtime=0)
    layer_digest = _blob(blobs, layer)
    diff_id = "sha256:" + hashlib.sha256(layer_tar).hexdigest()
    manifests = []
    for ref, cfg in images.items():
        config = {
            "architecture": oci_arch(),
            "os": "linux",
            "config": cfg,
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "skiff tests: busybox-static"}],
        }
        config_bytes = json.dumps(config, sort_keys=True).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": _blob(blobs, config_bytes), "size": len(config_bytes)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": layer_digest, "size": len(layer)}],
        }
        manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
        manifests.append({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": _blob(blobs, manifest_bytes),
            "size": len(manifest_bytes),
            "platform": {"architecture": oci_arch(), "os": "linux"},
            # containerd names the imported image after this annotation.
            "annotations": {"io.containerd.image.name": ref,
                            "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[-1]},
        })
    index = json.dumps({"schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": manifests}, sort_keys=True).encode()
    with tarfile.open(path, "w") as tf:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", index)
        for digest, data in blobs.items():
            add("blobs/sha256/" + digest.split(":", 1)[1], data)


# --- daemons ---------------------------------------------------------------------------------

class Daemon:
    """A background server in its own process group, its output in a log file. stop() ends
    the whole group (SIGTERM, then SIGKILL), so shims and helpers it left running go too."""

    def __init__(self, name, args, log_path, env=None):
        self.name = name
        self.args = args
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_for_socket(self, path, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.proc.returncode} at start-up:\n"
                                     + self.log_text()[-4000:])
            if os.path.exists(path):
                s = socket.socket(socket.AF_UNIX)
                try:
                    s.connect(path)
                    return
                except OSError:
                    pass
                finally:
                    s.close()
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not listen on {path} in {timeout}s:\n"
                             + self.log_text()[-4000:])

    def stop(self, grace=15.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in the group (the daemon itself if it ignored TERM).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()


# --- host-side views of a container ----------------------------------------------------------

CGROUP_ROOT = "/sys/fs/cgroup"


def proc_cgroups(pid):
    """Maps each v1 controller (and "" for the cgroup2 line) to the process's cgroup path."""
    paths = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(","):
                paths[c.replace("name=", "")] = path
    return paths


def cgroup_dir(pid, controller):
    return os.path.join(CGROUP_ROOT, controller, proc_cgroups(pid)[controller].lstrip("/"))


def read_cgroup(pid, controller, name):
    with open(os.path.join(cgroup_dir(pid, controller), name)) as f:
        return f.read().strip()


def mount_points():
    points = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            points.add(line.split()[4])
    return points


def remove_cgroup_tree(path, patience=3.0):
    """rmdir path and everything below it, deepest first; returns the dirs that stayed.
    A client's last process (conmon) may still be leaving when its command returns: a busy
    tree is tried again for `patience` seconds before it counts as left."""
    deadline = time.monotonic() + patience
    while True:
        left = []
        if not os.path.isdir(path):
            return left
        for root, dirs, files in os.walk(path, topdown=False):
            # An unmounted v1 controller's directory is plain tmpfs under /sys/fs/cgroup, and
            # conmon still writes a `tasks` file there: files go first (a cgroupfs refuses).
            for f in files:
                try:
                    os.unlink(os.path.join(root, f))
                except OSError:
                    pass
            for d in dirs:
                try:
                    os.rmdir(os.path.join(root, d))
                except OSError:
                    left.append(os.path.join(root, d))
        try:
            os.rmdir(path)
        except OSError:
            left.append(path)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def rm_tree(path):
    """Removes a temp tree after unmounting anything still mounted below it."""
    if not os.path.exists(path):
        return
    for mp in sorted((m for m in mount_points() if m == path or m.startswith(path + "/")),
                     key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)
    shutil.rmtree(path, ignore_errors=True)
