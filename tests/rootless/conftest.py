"""Harness for the rootless suite: skiff run by unprivileged users of this host.

The session makes two users (and removes them afterwards):
  owner   has subordinate ids in /etc/subuid and /etc/subgid (useradd's own range)
  other   has none
Each runs skiff through `runuser -u USER --` with a clean environment whose XDG_RUNTIME_DIR is
a directory the user owns. The runtime binary is copied where both can execute it.

Fixtures:
  users      the two users (name, uid, gid, subuid range, xdg dir, home)
  as_user    as_user(user, args, ...) -> CompletedProcess of skiff run as that user
  rbundle    rbundle(user) -> a busybox bundle owned by the user, config from `spec --rootless`

After each test every container of both users is force-deleted, and the test errors when a
container, a process of a test user or a state file is left behind.
"""

import json
import os
import pwd
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
OWNER, OTHER = "skiffrl-owner", "skiffrl-other"


def runtime_is_runc():
    return os.path.basename(RUNTIME) in ("runc", "crun")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "skiff_only(reason): skiff-specific behaviour; skipped for runc")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not os.access(RUNTIME, os.X_OK):
            item.add_marker(pytest.mark.skip(reason=f"runtime {RUNTIME} not built"))
        elif item.get_closest_marker("skiff_only") and runtime_is_runc():
            item.add_marker(pytest.mark.skip(reason="runc: skiff-specific"))


class User:
    def __init__(self, name, top):
        pw = pwd.getpwnam(name)
        self.name, self.uid, self.gid, self.home = name, pw.pw_uid, pw.pw_gid, pw.pw_dir
        self.subuid = _sub_range("/etc/subuid", name)
        self.subgid = _sub_range("/etc/subgid", name)
        self.xdg = os.path.join(top, "xdg-" + name)
        os.makedirs(self.xdg, exist_ok=True)
        os.chown(self.xdg, self.uid, self.gid)
        os.chmod(self.xdg, 0o700)
        self.state_root = os.path.join(self.xdg, os.path.basename(RUNTIME)
                                       if runtime_is_runc() else "skiff")


def _sub_range(path, name):
    with open(path) as f:
        for line in f:
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[0] == name:
                return int(parts[1]), int(parts[2])
    return None


def _remove_user(name):
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)  # that user's only
    subprocess.run(["userdel", "-r", "-f", name], capture_output=True)


@pytest.fixture(scope="session")
def top():
    d = tempfile.mkdtemp(prefix="skiff-rootless-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def users(top):
    for name in (OWNER, OTHER):
        _remove_user(name)
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", OWNER], check=True)
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", "-K", "SUB_UID_COUNT=0",
                    "-K", "SUB_GID_COUNT=0", OTHER], check=True)
    try:
        owner, other = User(OWNER, top), User(OTHER, top)
        assert owner.subuid and owner.subgid, "useradd gave the owner no subordinate ids"
        assert other.subuid is None
        yield {"owner": owner, "other": other}
    finally:
        for name in (OWNER, OTHER):
            _remove_user(name)


@pytest.fixture(scope="session")
def runtime_copy(top):
    """The runtime where the test users can execute it (the worktree may not be reachable)."""
    d = os.path.join(top, "bin")
    os.makedirs(d, exist_ok=True)
    dst = os.path.join(d, os.path.basename(RUNTIME))
    shutil.copy2(RUNTIME, dst)
    os.chmod(dst, 0o755)
    return dst


ENV_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


@pytest.fixture
def as_user(runtime_copy, users):
    def run(user, args, check=True, root=None, env=None, xdg=True, timeout=30,
            global_args=()):
        e = {"PATH": ENV_PATH, "HOME": user.home, "USER": user.name, "LOGNAME": user.name}
        if xdg:
            e["XDG_RUNTIME_DIR"] = user.xdg
        e.update(env or {})
        cmd = ["runuser", "-u", user.name, "--", "env", "-i"]
        cmd += [f"{k}={v}" for k, v in e.items()]
        cmd += [runtime_copy] + list(global_args)
        if root:
            cmd += ["--root", root]
        cmd += list(args)
        # Files, not pipes: a detached container keeps the caller's stdio open.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                 timeout=timeout)
            out.seek(0)
            err.seek(0)
            res.stdout, res.stderr = out.read().decode(), err.read().decode()
        if check and res.returncode != 0:
            raise AssertionError(f"{args} as {user.name} failed ({res.returncode}):\n"
                                 f"stdout: {res.stdout}\nstderr: {res.stderr}")
        return res
    return run


class Bundle:
    def __init__(self, path, user):
        self.path, self.user = path, user
        with open(os.path.join(path, "config.json")) as f:
            self.config = json.load(f)

    @property
    def rootfs(self):
        return os.path.join(self.path, "rootfs")

    def write(self):
        p = os.path.join(self.path, "config.json")
        with open(p, "w") as f:
            json.dump(self.config, f, indent=2)
        os.chown(p, self.user.uid, self.user.gid)

    def args(self, *argv):
        self.config["process"]["args"] = list(argv)
        self.config["process"]["terminal"] = False
        self.write()


@pytest.fixture(scope="session")
def rootfs_template(top):
    root = os.path.join(top, "template", "rootfs")
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root", "mnt"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", os.path.join(root, "bin", a))
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    return root


@pytest.fixture
def rbundle(top, rootfs_template, as_user, users):
    made = []

    def make(user, spec=True):
        path = tempfile.mkdtemp(prefix="b-", dir=top)
        shutil.copytree(rootfs_template, os.path.join(path, "rootfs"), symlinks=True)
        subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", path], check=True)
        os.chmod(path, 0o755)
        if spec:
            as_user(user, ["spec", "--rootless", "--bundle", path])
        else:
            with open(os.path.join(path, "config.json"), "w") as f:
                f.write("{}")
        b = Bundle(path, user)
        made.append(b)
        return b
    yield make
    for b in made:
        subprocess.run(["umount", "-R", "-l", b.rootfs], capture_output=True)
        shutil.rmtree(b.path, ignore_errors=True)


def new_id():
    return "rl-" + uuid.uuid4().hex[:10]


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _user_pids(uid_lo, uid_hi):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = os.stat("/proc/" + p)
        except OSError:
            continue
        # rootless podman's pause process holds its user namespace for the whole session
        if uid_lo <= st.st_uid < uid_hi and _comm(p) != "catatonit":
            out.append(int(p))
    return out


@pytest.fixture(autouse=True)
def leak_check(request, users, as_user):
    """Force-deletes what a test left, then fails it if anything was left behind."""
    yield
    leaks = []
    for u in users.values():
        for root in (u.state_root,):
            if not os.path.isdir(root):
                continue
            ids = [n for n in os.listdir(root) if ":" not in n]
            for cid in ids:
                as_user(u, ["delete", "--force", cid], check=False, root=root)
                leaks.append(f"{u.name}: container {cid}")
    for u in users.values():
        ranges = [(u.uid, u.uid + 1)] + ([(u.subuid[0], u.subuid[0] + u.subuid[1])]
                                           if u.subuid else [])
        deadline = time.time() + 10  # a loaded machine reaps slowly
        while True:
            pids = [p for lo, hi in ranges for p in _user_pids(lo, hi)]
            if not pids or time.time() > deadline:
                break
            time.sleep(0.05)
        for p in pids:
            leaks.append(f"{u.name}: process {p}")
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
    if leaks:
        pytest.fail("left behind: " + ", ".join(leaks))
