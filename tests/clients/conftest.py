"""Session fixtures for the client scenarios: which runtime binary to hand the clients, the
busybox image, one temporary tree for every client's roots and sockets, and a guard that
leaves the host as it found it (mounts, cgroups, host paths, iptables, ip_forward)."""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import helpers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Host paths the clients create on their own when left to their defaults (image blob cache,
# shim sockets, ...). Any of these that appears during the session is the session's to remove.
HOST_PATHS = ["/var/lib/containers", "/run/containers", "/run/libpod", "/run/containerd",
              "/var/lib/containerd", "/run/docker", "/var/run/docker.pid", "/var/lib/docker",
              "/etc/docker", "/run/netns", "/var/lib/cni", "/run/cni"]


def runtime_path():
    return os.path.abspath(os.environ.get("SKIFF_RUNTIME") or os.path.join(REPO, "build", "skiff"))


def _install_clients():
    """Installs the missing client packages (setup.sh is idempotent and quick when nothing is
    missing). A failed set-up fails the session: every scenario would otherwise skip.
    SKIFF_CLIENTS_NO_INSTALL=1 turns the install off."""
    if os.environ.get("SKIFF_CLIENTS_NO_INSTALL") == "1":
        return
    proc = subprocess.run(["bash", os.path.join(HERE, "setup.sh")], capture_output=True,
                          text=True, timeout=1800)
    if proc.returncode != 0:
        pytest.fail("tests/clients/setup.sh failed (exit %d):\n%s"
                    % (proc.returncode, (proc.stdout + proc.stderr)[-3000:]), pytrace=False)


@pytest.fixture(scope="session")
def clients_installed(_host_guard):
    return True


def require(*binaries):
    missing = [b for b in binaries if shutil.which(b) is None and not os.path.exists(b)]
    if missing:
        # setup.sh installs them all; a missing one after it is a broken set-up, not a skip.
        pytest.fail("not installed after tests/clients/setup.sh: " + ", ".join(missing),
                    pytrace=False)


@pytest.fixture(scope="session")
def runtime():
    path = runtime_path()
    if not os.access(path, os.X_OK):
        pytest.fail(f"runtime {path} is not built (set SKIFF_RUNTIME to try another)",
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def runtime_name(runtime):
    return os.path.basename(runtime)


@pytest.fixture(scope="session")
def settled(_host_guard):
    """settled(): the client's daemon is up; what it made once per machine is not a leak."""
    return _host_guard["settled"]


@pytest.fixture(scope="session")
def session_dir(_host_guard):
    return _host_guard["dir"]


@pytest.fixture(scope="session")
def token(_host_guard):
    """A short unique word for names the host shares between users: cgroup parents and
    containerd namespaces."""
    return _host_guard["token"]


@pytest.fixture(scope="session")
def rootfs_tar(session_dir):
    path = os.path.join(session_dir, "busybox-rootfs.tar")
    with open(path, "wb") as f:
        f.write(helpers.rootfs_tar_bytes())
    return path


def _iptables_rules():
    """Every rule and chain of the filter and nat tables, as "tool table rule" strings."""
    out = set()
    for tool in ("iptables", "ip6tables"):
        if shutil.which(tool):
            for table in ("filter", "nat"):
                p = subprocess.run([tool, "-t", table, "-S"], capture_output=True, text=True)
                out |= {f"{tool} {table} {line}" for line in p.stdout.splitlines()}
    return out


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _controllers():
    return sorted(d for d in os.listdir(helpers.CGROUP_ROOT)
                  if os.path.isdir(os.path.join(helpers.CGROUP_ROOT, d)))


@pytest.fixture(scope="session", autouse=True)
def _host_guard():
    """Installs the clients, then snapshots the host before the first client starts and,
    after every client fixture has stopped its daemons and removed its containers, removes
    what is left and fails the session with the list of leftovers, so a leak is reported
    rather than hidden.

    The snapshot is taken after the install (on a fresh machine the install itself brings
    iptables, whose first listing differs from "not installed"), and each client's one-time
    set-up adds to it through `settled()`: what a daemon creates once per machine when it
    first starts (its own chains) is not a container's leak; what is left per container is."""
    _install_clients()
    top = tempfile.mkdtemp(prefix="skiff-clients-")
    token = "skiffcl" + os.path.basename(top).rsplit("-", 1)[-1].lower().replace("_", "")
    before = {
        "mounts": helpers.mount_points(),
        "paths": {p for p in HOST_PATHS if os.path.lexists(p)},
        "iptables": _iptables_rules(),
        "ip_forward": _read("/proc/sys/net/ipv4/ip_forward"),
    }

    def settled():
        """Called by a client fixture once its daemon is up and before its first container:
        the iptables rules present now are the machine's, not a container's."""
        before["iptables"] |= _iptables_rules()

    state = {"dir": top, "token": token, "cgroup_names": {token}, "settled": settled}
    yield state

    leaks = []
    # Mounts: anything new under our tree, or from a client's default locations.
    for mp in sorted(helpers.mount_points() - before["mounts"], key=len, reverse=True):
        if mp.startswith(top + "/") or any(mp.startswith(p + "/") or mp == p
                                           for p in HOST_PATHS):
            leaks.append(f"mount left: {mp}")
            subprocess.run(["umount", "-l", mp], capture_output=True)
    # Cgroups: every client put its containers under a parent named with the token.
    for ctrl in _controllers():
        base = os.path.join(helpers.CGROUP_ROOT, ctrl)
        for name in sorted(os.listdir(base)):
            if token in name and os.path.isdir(os.path.join(base, name)):
                for d in helpers.remove_cgroup_tree(os.path.join(base, name)):
                    leaks.append(f"cgroup left (busy): {d}")
    # Host paths the clients created behind our back (caches, socket dirs).
    for p in HOST_PATHS:
        if os.path.lexists(p) and p not in before["paths"]:
            for mp in helpers.mount_points():
                if mp.startswith(p + "/"):
                    leaks.append(f"mount left: {mp}")
                    subprocess.run(["umount", "-l", mp], capture_output=True)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)
    added = _iptables_rules() - before["iptables"]
    if added:
        leaks.append("iptables rules left by the session: " + "; ".join(sorted(added)))
    if _read("/proc/sys/net/ipv4/ip_forward") != before["ip_forward"]:
        leaks.append("net.ipv4.ip_forward changed during the session")
    helpers.rm_tree(top)
    if leaks:
        pytest.fail("the client scenarios left things behind:\n" + "\n".join(leaks))


@pytest.fixture(scope="session", autouse=True)
def _cwd_in_session_dir(session_dir):
    """The clients run with our cwd as theirs, and conmon writes an `oom` file into its cwd when
    a container is OOM-killed: keep that in the session's scratch dir, not the checkout."""
    old = os.getcwd()
    os.chdir(session_dir)
    yield
    os.chdir(old)
