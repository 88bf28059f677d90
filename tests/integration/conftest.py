"""Harness for skiff's integration tests.

The suite drives a runc-compatible runtime binary as root against busybox bundles it makes itself.
Pick the binary with SKIFF_RUNTIME (default: <repo>/build/skiff); SKIFF_RUNTIME=/usr/sbin/runc runs
the same tests against runc, which is how each test was checked to be right.

Fixtures:
  bundle  a fresh bundle dir per test (busybox rootfs + `config` dict; call `write()` to save it)
  rt      the runtime with a per-test --root, unique ids, and helpers (create/start/state/...)

After each test the harness force-deletes every container the test made, then checks for leaks
(mounts under the test's temp dir, cgroup dirs named after its ids, entries left in --root,
processes living in the bundle, children of pytest) and errors the test if it finds any.
"""

import copy
import glob
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUNTIME = os.path.abspath(os.environ.get("SKIFF_RUNTIME", os.path.join(REPO, "build", "skiff")))
BUSYBOX = "/bin/busybox"
CGROUP_ROOT = "/sys/fs/cgroup"


def runtime_is_runc():
    return os.path.basename(RUNTIME) == "runc"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "skiff_only(reason): checks skiff-specific behaviour; skipped when the runtime is runc")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


def pytest_collection_modifyitems(config, items):
    missing = not os.access(RUNTIME, os.X_OK)
    for item in items:
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"runtime {RUNTIME} not built"))
            continue
        mark = item.get_closest_marker("skiff_only")
        if mark is not None and runtime_is_runc():
            why = mark.kwargs.get("reason") or (mark.args[0] if mark.args else "skiff-only")
            item.add_marker(pytest.mark.skip(reason=f"runc: {why}"))


# ---------------------------------------------------------------------------------------------
# rootfs template and bundles


def _ensure_busybox():
    if not os.path.exists(BUSYBOX):
        subprocess.run(["apt-get", "install", "-y", "-qq", "busybox-static"], check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


@pytest.fixture(scope="session")
def rootfs_template():
    """A busybox rootfs built once per session; bundles hardlink its files."""
    _ensure_busybox()
    top = tempfile.mkdtemp(prefix="skiff-it-template-")
    os.chmod(top, 0o755)
    root = os.path.join(top, "rootfs")
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root",
              "home/user", "var", "run"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    for applet in applets:
        if applet != "busybox" and "/" not in applet:
            os.symlink("busybox", os.path.join(root, "bin", applet))
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n"
                "user:x:1000:1000:user:/home/user:/bin/sh\n"
                "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\nwheel:x:10:\ntty:x:5:\nusers:x:100:\nuser:x:1000:\n"
                "nogroup:x:65534:\n")
    yield root
    shutil.rmtree(top, ignore_errors=True)


def default_config():
    """A config close to `runc spec`, without a terminal and with a writable root."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh", "-c", "true"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": list(caps), "effective": list(caps),
                             "permitted": list(caps)},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "skiff-it",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                         "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/sched_debug", "/sys/firmware",
                            "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }


class Bundle:
    def __init__(self, path, rootfs):
        self.path = path
        self.rootfs = rootfs
        self.config = default_config()

    def write(self, config=None):
        if config is not None:
            self.config = config
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f, indent=2)
        return self

    def args(self, script):
        """Sets the process to `sh -c script`."""
        self.config["process"]["args"] = ["sh", "-c", script]
        return self

    def ns(self, kind, path=None, present=True):
        """Adds, replaces or removes a namespace entry."""
        nss = [n for n in self.config["linux"]["namespaces"] if n["type"] != kind]
        if present:
            entry = {"type": kind}
            if path:
                entry["path"] = path
            nss.append(entry)
        self.config["linux"]["namespaces"] = nss
        return self

    def in_rootfs(self, rel):
        return os.path.join(self.rootfs, rel.lstrip("/"))


@pytest.fixture
def workdir():
    """The test's own temp dir; every leak check keys on it."""
    d = tempfile.mkdtemp(prefix="skiff-it-")
    os.chmod(d, 0o755)  # a user-namespaced container root must be able to reach its rootfs
    yield d
    _unmount_under(d)
    shutil.rmtree(d, ignore_errors=True)


def _copy_rootfs(src, dst):
    # busybox (2 MB, never written) is hard-linked; the small files are copied so a test that
    # writes /etc/passwd cannot change the template.
    def copy(s, d):
        if os.path.basename(s) == "busybox":
            try:
                os.link(s, d)
                return
            except OSError:  # another mount (a test's own bind mount): copy
                pass
        shutil.copy2(s, d)
    shutil.copytree(src, dst, symlinks=True, copy_function=copy)


@pytest.fixture
def make_bundle(rootfs_template, workdir):
    """Factory: more than one bundle in a test (e.g. two containers)."""
    counter = itertools.count()

    def make():
        path = os.path.join(workdir, f"bundle{next(counter)}")
        os.makedirs(path)
        rootfs = os.path.join(path, "rootfs")
        _copy_rootfs(rootfs_template, rootfs)
        return Bundle(path, rootfs)

    return make


@pytest.fixture
def bundle(make_bundle):
    return make_bundle()


# ---------------------------------------------------------------------------------------------
# the runtime


class Result:
    def __init__(self, args, returncode, stdout, stderr):
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr

    def __repr__(self):
        return (f"Result(args={self.args!r}, rc={self.returncode}, stdout={self.stdout!r}, "
                f"stderr={self.stderr!r})")


class RuntimeFailed(AssertionError):
    pass


class Runtime:
    """Wraps the runtime binary with a private --root and tracks the ids a test uses."""

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.root = os.path.join(workdir, "state")
        self.ids = []
        self._n = itertools.count()
        self.id_prefix = f"skit-{uuid.uuid4().hex[:8]}"

    def new_id(self):
        cid = f"{self.id_prefix}-{next(self._n)}"
        self.ids.append(cid)
        return cid

    def track(self, cid):
        if cid not in self.ids:
            self.ids.append(cid)
        return cid

    def run(self, args, check=True, timeout=30, env=None, extra_fds=(), global_args=(),
            prefix=()):
        """Runs the runtime. Output goes through files, never pipes: a detached container
        inherits the runtime's stdio and would keep a pipe open forever.
        extra_fds: parent fds that the runtime receives as 3, 4, ...; prefix: a wrapper
        command that ends by exec'ing the runtime."""
        cmd = [*prefix, self.binary, "--root", self.root, *global_args, *args]
        preexec = None
        if extra_fds:
            def preexec():
                high = [os.dup(fd) for fd in extra_fds]  # out of the way of 3, 4, ...
                for i, fd in enumerate(high):
                    os.dup2(fd, 3 + i)  # dup2 clears close-on-exec
        with tempfile.TemporaryFile(dir=self.workdir) as out, \
                tempfile.TemporaryFile(dir=self.workdir) as err:
            # everything else Python opens is close-on-exec already
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    env=env, start_new_session=True, preexec_fn=preexec,
                                    close_fds=not extra_fds)
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
            out.seek(0)
            err.seek(0)
            res = Result(cmd, rc, out.read().decode(errors="replace"),
                         err.read().decode(errors="replace"))
        if check and rc != 0:
            raise RuntimeFailed(f"runtime failed: {res}")
        return res

    # lifecycle helpers -------------------------------------------------------------------
    def create(self, bundle, cid=None, check=True, extra=(), **kw):
        if isinstance(bundle, Bundle):
            bundle.write()
            bundle = bundle.path
        cid = self.track(cid or self.new_id())
        res = self.run(["create", "--bundle", bundle, *extra, cid], check=check, **kw)
        return cid, res

    def start(self, cid, check=True, timeout=30):
        return self.run(["start", cid], check=check, timeout=timeout)

    def state(self, cid, check=True):
        res = self.run(["state", cid], check=check)
        if res.returncode != 0:
            return None
        return json.loads(res.stdout)

    def kill(self, cid, sig="KILL", check=True, extra=()):
        return self.run(["kill", *extra, cid, sig], check=check)

    def delete(self, cid, force=False, check=True):
        return self.run(["delete", *(["--force"] if force else []), cid], check=check)

    def wait_status(self, cid, status, timeout=10):
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.state(cid, check=False)
            if st is not None and st.get("status") == status:
                return st
            time.sleep(0.05)
        raise AssertionError(f"container {cid} did not reach {status!r}; last state {st!r}")

    def run_container(self, bundle, cid=None, extra=(), timeout=30, **kw):
        """`run` in the foreground; returns (exit code, stdout, stderr)."""
        if isinstance(bundle, Bundle):
            bundle.write()
            bundle = bundle.path
        cid = self.track(cid or self.new_id())
        res = self.run(["run", "--bundle", bundle, *extra, cid], check=False, timeout=timeout,
                       **kw)
        return res.returncode, res.stdout, res.stderr

    def sh(self, bundle, script, **kw):
        """Runs `sh -c script` in a fresh container; asserts exit 0 and returns stdout."""
        bundle.args(script)
        rc, out, err = self.run_container(bundle, **kw)
        assert rc == 0, f"container exited {rc}: stdout={out!r} stderr={err!r}"
        return out

    def cleanup(self):
        for cid in self.ids:
            if self.state(cid, check=False) is None:
                continue
            try:
                self.run(["delete", "--force", cid], check=False, timeout=30)
            except subprocess.TimeoutExpired:
                pass


# ---------------------------------------------------------------------------------------------
# leak checks


def _mountinfo_paths():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            # field 5 is the mount point, octal-escaped
            yield fields[4].encode().decode("unicode_escape")


def _unmount_under(d):
    for mp in sorted((m for m in _mountinfo_paths() if m.startswith(d)), key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)


def _leaked_mounts(d):
    return [m for m in _mountinfo_paths() if m.startswith(d)]


def _leaked_cgroups(ids):
    found = []
    if not ids:
        return found
    for ctrl in sorted(os.listdir(CGROUP_ROOT)):
        top = os.path.join(CGROUP_ROOT, ctrl)
        if not os.path.isdir(top) or os.path.islink(top):
            continue
        for dirpath, dirnames, _ in os.walk(top):
            for name in dirnames:
                if any(cid in name for cid in ids):
                    found.append(os.path.join(dirpath, name))
            if dirpath.count("/") - top.count("/") >= 3:
                dirnames[:] = []
    return found


def _proc_stat_ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return int(data.rsplit(")", 1)[1].split()[1])


def _leaked_processes(workdir):
    me = os.getpid()
    roots = []
    for dirpath, dirnames, _ in os.walk(workdir):
        if "rootfs" in dirnames:
            st = os.stat(os.path.join(dirpath, "rootfs"))
            roots.append((st.st_dev, st.st_ino))
        dirnames[:] = [d for d in dirnames if d != "rootfs"]
    found = []
    for ent in os.listdir("/proc"):
        if not ent.isdigit():
            continue
        pid = int(ent)
        if pid == me:
            continue
        why = None
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            if cwd.startswith(workdir):
                why = f"cwd {cwd}"
            st = os.stat(f"/proc/{pid}/root")
            if (st.st_dev, st.st_ino) in roots:
                why = "root is a test rootfs"
        except OSError:
            pass
        if why is None and _proc_stat_ppid(pid) == me:
            why = "child of pytest"
        if why:
            found.append((pid, why))
    return found


def _kill_pids(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass


def _remove_cgroups(paths):
    # a just-killed task keeps its cgroup busy for a moment: retry, innermost dirs first
    deadline = time.monotonic() + 5
    while True:
        left = []
        for p in sorted(paths, key=len, reverse=True):
            for dirpath, _, _ in sorted(os.walk(p), key=lambda t: -len(t[0])):
                try:
                    os.rmdir(dirpath)
                except FileNotFoundError:
                    pass
                except OSError:
                    left.append(dirpath)
        if not left or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def _shared_parents():
    """The runtime's shared parent of default cgroup paths, /skiff, in every hierarchy."""
    return {d for d in glob.glob(os.path.join(CGROUP_ROOT, "skiff")) +
            glob.glob(os.path.join(CGROUP_ROOT, "*", "skiff")) if os.path.isdir(d)}


def _parents_left_empty(parents, grace=1.0):
    """Those of the shared parents that appeared during a test and are left as empty as this
    run's containers leave them: with a child cgroup, the parent is in use by another run on
    the same host (this test's own leaked cgroups were removed before), not leaked by this
    one; an empty one gets `grace` seconds, in which the other run's delete may remove it."""
    def empty(p):
        try:
            return not any(e.is_dir() for e in os.scandir(p))
        except OSError:
            return False  # gone
    left = [p for p in sorted(parents) if empty(p)]
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [p for p in left if empty(p)]
    return left


@pytest.fixture
def rt(workdir):
    parents_before = _shared_parents()
    runtime = Runtime(RUNTIME, workdir)
    yield runtime
    runtime.cleanup()
    problems = []
    if os.path.isdir(runtime.root):
        left = os.listdir(runtime.root)
        if left:
            problems.append(f"--root entries left: {left}")
            for cid in left:
                runtime.run(["delete", "--force", cid], check=False)
    # processes before mounts and cgroups: a live process pins both
    procs = []
    for _ in range(20):
        procs = _leaked_processes(workdir)
        if not procs:
            break
        time.sleep(0.1)
    if procs:
        problems.append(f"processes left: {procs}")
        _kill_pids([p for p, _ in procs])
    mounts = _leaked_mounts(workdir)
    if mounts:
        problems.append(f"mounts left: {mounts}")
    # every id this test made starts with its tag, also ones a test forgot to track
    cgroups = _leaked_cgroups([runtime.id_prefix])
    if cgroups:
        problems.append(f"cgroups left: {cgroups}")
        _remove_cgroups(cgroups)
    # The shared /skiff parent goes with the last container that used it (none of ours is
    # left now). Another run on this host may share it: see _parents_left_empty.
    parents = _parents_left_empty(_shared_parents() - parents_before)
    if parents:
        problems.append(f"shared cgroup parent left: {parents}")
        for p in parents:
            try:
                os.rmdir(p)  # only the empty parent itself: never what is under it
            except OSError:
                pass
    if problems:
        pytest.fail("leak check: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def host_dir(workdir):
    """Factory for host directories outside any bundle (bind sources, hook markers)."""
    counter = itertools.count()

    def make(name=None):
        path = os.path.join(workdir, name or f"host{next(counter)}")
        os.makedirs(path, exist_ok=True)
        return path

    return make


def deep(config):
    return copy.deepcopy(config)
