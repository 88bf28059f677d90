"""skiff --systemd-cgroup as an unprivileged user, over that user's own systemd (the user bus),
as runc and crun do; and rootless podman with --cgroup-manager systemd on top of it.

The module makes one user with subordinate ids and `loginctl enable-linger`s it, so that
user@UID.service (the user's manager, with its bus in /run/user/UID) runs without a login.
skiff then runs as that user (setpriv, XDG_RUNTIME_DIR=/run/user/UID): each container is a
transient scope of the user's manager, under its user.slice, with its limits as unit
properties and as files in the scope's cgroup, which systemd delegates to the user.
"""
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import RUNTIME, runtime_is_runc

pytestmark = [
    pytest.mark.skipif(not os.path.isdir("/run/systemd/system"),
                       reason="needs a host that systemd runs (tests/vm/test-systemd.sh)"),
    pytest.mark.skipif(shutil.which("loginctl") is None, reason="needs systemd-logind (loginctl)"),
]

USER = "skiffsd-user"
MiB = 1 << 20
PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


def wait_for(cond, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class SdUser:
    def __init__(self, top):
        pw = pwd.getpwnam(USER)
        self.name, self.uid, self.gid, self.home = USER, pw.pw_uid, pw.pw_gid, pw.pw_dir
        self.xdg = f"/run/user/{self.uid}"
        self.manager = f"/user.slice/user-{self.uid}.slice/user@{self.uid}.service"
        self.top = top
        self.bin = os.path.join(top, "bin")
        os.makedirs(self.bin)
        # The runtime and its companion where the user can run them (found beside each other).
        helper = os.path.join(os.path.dirname(RUNTIME), "skiff-systemd")
        for src in (RUNTIME, helper):
            if os.path.exists(src):
                shutil.copy2(src, self.bin)
        self.runtime = os.path.join(self.bin, os.path.basename(RUNTIME))
        self.state_root = os.path.join(self.xdg, os.path.basename(RUNTIME)
                                       if runtime_is_runc() else "skiff")

    def env(self, extra=None):
        e = {"PATH": PATH, "HOME": self.home, "USER": self.name, "LOGNAME": self.name,
             "XDG_RUNTIME_DIR": self.xdg}
        e.update(extra or {})
        return ["env", "-i"] + [f"{k}={v}" for k, v in e.items()]

    def run(self, argv, check=True, env=None, timeout=60):
        # setpriv, not runuser: no PAM session to open for each command (seconds in the guest)
        cmd = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--"]
        cmd += self.env(env) + list(argv)
        # Files, not pipes: a detached container keeps the caller's stdio open.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                 timeout=timeout, cwd="/")
            out.seek(0)
            err.seek(0)
            res.stdout, res.stderr = out.read().decode(), err.read().decode()
        if check and res.returncode != 0:
            raise AssertionError(f"{argv} as {self.name} failed ({res.returncode}):\n"
                                 f"stdout: {res.stdout}\nstderr: {res.stderr}")
        return res

    def in_manager(self, argv, check=True):
        """argv as a transient service of the user's manager (systemd-run --user)."""
        return self.run(["systemd-run", "--user", "--wait", "--pipe", "--quiet",
                         f"--setenv=XDG_RUNTIME_DIR={self.xdg}", "--"] + list(argv), check=check)

    def skiff(self, args, check=True, env=None):
        return self.run([self.runtime, "--systemd-cgroup"] + list(args), check=check, env=env)

    def show(self, unit, *props):
        out = self.run(["systemctl", "--user", "show", unit,
                        *(f"--property={p}" for p in props)]).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def unit_gone(self, unit):
        return self.show(unit, "LoadState").get("LoadState") == "not-found"


@pytest.fixture(scope="module")
def sduser():
    subprocess.run(["userdel", "-r", "-f", USER], capture_output=True)
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", USER], check=True)
    top = tempfile.mkdtemp(prefix="skiff-sduser-")
    os.chmod(top, 0o755)
    uid = pwd.getpwnam(USER).pw_uid
    try:
        subprocess.run(["loginctl", "enable-linger", USER], check=True, timeout=60)
        # logind starts user@UID.service: its own socket, then the user bus (dbus-user-session)
        wait_for(lambda: os.path.exists(f"/run/user/{uid}/systemd/private") and
                 os.path.exists(f"/run/user/{uid}/bus"), f"user@{uid}.service and its bus", 60)
        yield SdUser(top)
    finally:
        subprocess.run(["loginctl", "disable-linger", USER], capture_output=True)
        subprocess.run(["systemctl", "stop", f"user@{uid}.service"], capture_output=True)
        subprocess.run(["pkill", "-KILL", "-u", USER], capture_output=True)  # that user's only
        subprocess.run(["userdel", "-r", "-f", USER], capture_output=True)
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def user_rootfs(sduser):
    root = os.path.join(sduser.top, "rootfs")
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    shutil.copy2("/bin/busybox", os.path.join(root, "bin", "busybox"))
    for a in ("sh", "sleep", "cat", "echo", "id", "ip", "ls", "true", "wget", "nc"):
        os.symlink("busybox", os.path.join(root, "bin", a))
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\n")
    return root


@pytest.fixture
def ubundle(sduser, user_rootfs):
    """A `spec --rootless` busybox bundle owned by the user; yields (path, config, write)."""
    path = tempfile.mkdtemp(prefix="b-", dir=sduser.top)
    shutil.copytree(user_rootfs, os.path.join(path, "rootfs"), symlinks=True)
    subprocess.run(["chown", "-R", f"{sduser.uid}:{sduser.gid}", path], check=True)
    os.chmod(path, 0o755)
    sduser.run([sduser.runtime, "spec", "--rootless", "--bundle", path])
    cfg_path = os.path.join(path, "config.json")
    with open(cfg_path) as f:
        config = json.load(f)
    config["process"]["terminal"] = False

    def write():
        with open(cfg_path, "w") as f:
            json.dump(config, f)
        os.chown(cfg_path, sduser.uid, sduser.gid)
    yield path, config, write
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def ids(sduser):
    """Container ids for a test; whatever is left is force-deleted, and the test fails."""
    made = []

    def new():
        made.append("sdu-" + uuid.uuid4().hex[:8])
        return made[-1]
    yield new
    left = [c for c in made if os.path.exists(os.path.join(sduser.state_root, c))]
    for c in left:
        sduser.skiff(["delete", "--force", c], check=False)
    assert not left, f"left behind: {left}"


def cgfile(cg, name):
    with open(f"/sys/fs/cgroup{cg}/{name}") as f:
        return f.read().strip()


def cgroup_of(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        return f.read().strip().split("::", 1)[1]


def test_features_says_systemd_user(sduser):
    doc = json.loads(sduser.run([sduser.runtime, "features"]).stdout)
    assert doc["linux"]["cgroup"]["systemdUser"] is True


def test_scope_of_the_users_manager_through_every_command(sduser, ubundle, ids):
    """The default cgroupsPath is user.slice:skiff:<id> of the user's manager; the limits are
    unit properties and files; exec, update, pause/resume, ps, kill --all and delete work as
    the user; delete leaves no unit, cgroup or state."""
    path, config, write = ubundle
    config["process"]["args"] = ["sleep", "1000"]
    config["linux"]["resources"] = {"memory": {"limit": 64 * MiB}, "pids": {"limit": 50}}
    write()
    cid = ids()
    unit = f"skiff-{cid}.scope"
    sduser.skiff(["run", "-d", "--bundle", path, cid])
    pid = json.loads(sduser.skiff(["state", cid]).stdout)["pid"]
    cg = cgroup_of(pid)
    assert cg == f"{sduser.manager}/user.slice/{unit}"
    props = sduser.show(unit, "ActiveState", "MemoryMax", "TasksMax", "Delegate", "ControlGroup")
    assert props == {"ActiveState": "active", "MemoryMax": str(64 * MiB), "TasksMax": "50",
                     "Delegate": "yes", "ControlGroup": cg}, props
    assert cgfile(cg, "memory.max") == str(64 * MiB)
    assert cgfile(cg, "pids.max") == "50"
    assert os.stat(f"/sys/fs/cgroup{cg}").st_uid == sduser.uid  # delegated to the user

    # exec from a service of the user's manager (its tree, which systemd delegates to the
    # user) joins the scope; from outside it (here a system service; a login session's scope
    # alike) the kernel refuses the move, and the process runs where the caller is (runc).
    out = sduser.in_manager([sduser.runtime, "--systemd-cgroup", "exec", cid,
                             "cat", "/proc/self/cgroup"]).stdout
    assert out.strip() == f"0::{cg}", out
    out = sduser.skiff(["exec", cid, "cat", "/proc/self/cgroup"]).stdout
    assert out.strip() == f"0::{cgroup_of(os.getpid())}", out
    sduser.skiff(["update", "--memory", str(32 * MiB), "--pids-limit", "20", cid])
    assert cgfile(cg, "memory.max") == str(32 * MiB)
    assert cgfile(cg, "pids.max") == "20"
    assert sduser.show(unit, "MemoryMax", "TasksMax") == {"MemoryMax": str(32 * MiB),
                                                          "TasksMax": "20"}
    sduser.skiff(["pause", cid])
    assert json.loads(sduser.skiff(["state", cid]).stdout)["status"] == "paused"
    assert cgfile(cg, "cgroup.freeze") == "1"
    sduser.skiff(["resume", cid])
    assert json.loads(sduser.skiff(["state", cid]).stdout)["status"] == "running"
    ps = sduser.skiff(["ps", "--format", "json", cid]).stdout
    assert pid in json.loads(ps)
    sduser.skiff(["kill", "--all", cid, "KILL"])
    wait_for(lambda: json.loads(sduser.skiff(["state", cid]).stdout)["status"] == "stopped",
             "the container to stop")
    sduser.skiff(["delete", cid])
    wait_for(lambda: sduser.unit_gone(unit), f"{unit} to go", 5)
    assert not os.path.exists(f"/sys/fs/cgroup{cg}")
    assert not os.path.exists(os.path.join(sduser.state_root, cid))


def test_given_slice_and_delete_force(sduser, ubundle, ids):
    """A cgroupsPath with its own slice nests below the user's manager as on the system; a
    running container goes with delete --force, and so does the slice that skiff started."""
    path, config, write = ubundle
    config["process"]["args"] = ["sleep", "1000"]
    cid = ids()
    config["linux"]["cgroupsPath"] = f"skiffu-t.slice:pfx:{cid}"
    config["linux"]["resources"] = {"pids": {"limit": 30}}
    write()
    sduser.skiff(["run", "-d", "--bundle", path, cid])
    pid = json.loads(sduser.skiff(["state", cid]).stdout)["pid"]
    cg = cgroup_of(pid)
    assert cg == f"{sduser.manager}/skiffu.slice/skiffu-t.slice/pfx-{cid}.scope"
    assert cgfile(cg, "pids.max") == "30"
    sduser.skiff(["delete", "--force", cid])
    wait_for(lambda: sduser.unit_gone(f"pfx-{cid}.scope"), "the scope to go", 5)
    assert not os.path.exists(f"/sys/fs/cgroup{cg}")


def test_no_user_bus_is_one_error(sduser, ubundle, ids):
    path, config, write = ubundle
    config["process"]["args"] = ["true"]
    write()
    empty = tempfile.mkdtemp(dir=sduser.top)
    os.chown(empty, sduser.uid, sduser.gid)
    cid = ids()
    res = sduser.skiff(["--root", os.path.join(empty, "state"), "run", "--bundle", path, cid],
                       check=False, env={"XDG_RUNTIME_DIR": empty})
    assert res.returncode != 0
    assert "DBUS_SESSION_BUS_ADDRESS" in res.stderr and f"{empty}/bus" in res.stderr, res.stderr
    assert os.listdir(os.path.join(empty, "state")) == []
    assert sduser.unit_gone(f"skiff-{cid}.scope")


# --- rootless podman, --cgroup-manager systemd: the user's manager through skiff ------------

@pytest.fixture(scope="module")
def upod(sduser, user_rootfs):
    if shutil.which("podman") is None or shutil.which("newuidmap") is None:
        pytest.skip("podman or uidmap not installed")
    # --rootfs: the user's own busybox tree, no image to import (half a minute in the guest)
    rootfs = os.path.join(sduser.top, "podman-rootfs")
    shutil.copytree(user_rootfs, rootfs, symlinks=True)
    store = os.path.join(sduser.top, "podman")
    os.makedirs(store)
    subprocess.run(["chown", "-R", f"{sduser.uid}:{sduser.gid}", rootfs, store], check=True)
    # Storage on the guest's tmpfs (vfs: nothing to mount); the user's bus for podman itself.
    base = ["podman", "--runtime", sduser.runtime, "--cgroup-manager", "systemd",
            "--events-backend", "file", "--storage-driver", "vfs",
            "--root", f"{store}/root", "--runroot", f"{store}/run"]
    bus = {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={sduser.xdg}/bus"}

    def run(*args, check=True, timeout=120):
        return sduser.run(base + list(args), check=check, env=bus, timeout=timeout)
    run.rootfs = rootfs
    yield run
    # The rest (podman's pause process, its store under sduser.top) goes with the user.


def test_podman_run_exec_stop_rm_in_the_users_manager(sduser, upod):
    cid = upod("run", "-d", "--network", "none", "--memory", "64m", "--pids-limit", "40",
               "--rootfs", upod.rootfs, "sleep", "1000").stdout.strip()
    try:
        unit = f"libpod-{cid}.scope"
        cg = f"{sduser.manager}/user.slice/{unit}"  # podman's cgroupsPath user.slice:libpod:<id>
        pid = int(cgfile(cg, "cgroup.procs").split()[0])
        assert cgroup_of(pid) == cg
        props = sduser.show(unit, "ActiveState", "MemoryMax", "TasksMax", "Delegate")
        assert props == {"ActiveState": "active", "MemoryMax": str(64 * MiB), "TasksMax": "40",
                         "Delegate": "yes"}, props
        assert cgfile(cg, "memory.max") == str(64 * MiB)
        assert cgfile(cg, "pids.max") == "40"
        assert upod("exec", cid, "sh", "-c", "echo $((6 * 7)); id -u").stdout.split() == ["42", "0"]
        upod("stop", "-t", "1", cid)
        assert not os.path.exists(f"/proc/{pid}")
    finally:
        upod("rm", "-f", "-t", "0", cid)
    wait_for(lambda: sduser.unit_gone(unit), f"{unit} to go", 5)
    assert not os.path.exists(f"/sys/fs/cgroup{cg}")


def _tun_usable():
    # Loaded on demand (by the guest's modprobe). On a Debian host udev makes the node 0666
    # (50-udev-default.rules); the throw-away test guest (run-in-vm.sh: /run/vm/params) runs
    # no udevd, so it is done here as udev would.
    with open("/proc/sys/kernel/modprobe") as f:
        modprobe = shutil.which("modprobe") or f.read().strip()
    subprocess.run([modprobe, "tun"], capture_output=True)
    try:
        wait_for(lambda: os.path.exists("/dev/net/tun"), "/dev/net/tun", 5)
        if os.path.exists("/run/vm/params"):
            os.chmod("/dev/net/tun", 0o666)
        return (os.stat("/dev/net/tun").st_mode & 0o006) == 0o006
    except (OSError, AssertionError):
        return False


def test_podman_slirp4netns_network(sduser, upod):
    if shutil.which("slirp4netns") is None:
        pytest.skip("slirp4netns not installed")
    if not _tun_usable():
        mode = oct(os.stat("/dev/net/tun").st_mode & 0o777) if os.path.exists("/dev/net/tun") else "absent"
        pytest.skip(f"/dev/net/tun is not open to users here ({mode})")
    out = upod("run", "--rm", "--network", "slirp4netns", "--rootfs", upod.rootfs,
               "sh", "-c", "ip -4 addr show tap0; ip route").stdout
    assert "10.0.2.100" in out and "default via 10.0.2.2" in out, out
