"""Rootless podman with --runtime skiff, as an unprivileged user with subordinate ids.

Networking: `--network none` and `--network host`. slirp4netns needs /dev/net/tun, which this
host keeps 0600 (root only), so podman's default rootless network cannot start here, with any
runtime; pasta needs podman >= 4.4 (Debian 12 has 4.3.1)."""
import os
import shutil
import subprocess
import tarfile

import pytest

from conftest import ENV_PATH

IMAGE = "localhost/skiff-rootless-bb:latest"


def _podman_missing():
    return shutil.which("podman") is None or shutil.which("newuidmap") is None


pytestmark = pytest.mark.skipif(_podman_missing(), reason="podman or uidmap not installed")


@pytest.fixture(scope="session")
def pod(users, runtime_copy, top, rootfs_template):
    u = users["owner"]
    tar = os.path.join(top, "podman-rootfs.tar")
    with tarfile.open(tar, "w") as t:
        t.add(rootfs_template, arcname=".")
    os.chmod(tar, 0o644)

    def run(*args, check=True, timeout=60):
        env = ["env", "-i", f"PATH={ENV_PATH}", f"HOME={u.home}", f"USER={u.name}",
               f"XDG_RUNTIME_DIR={u.xdg}"]
        cmd = ["runuser", "-u", u.name, "--"] + env + [
            "podman", "--runtime", runtime_copy, "--cgroup-manager", "cgroupfs",
            "--events-backend", "file"] + list(args)
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/")
        if check and res.returncode != 0:
            raise AssertionError(f"podman {args} failed ({res.returncode}): {res.stderr}")
        return res
    run("import", tar, IMAGE)
    yield run
    run("rm", "-a", "-f", check=False)
    run("system", "reset", "-f", check=False)


def test_podman_run_exec_stop_rm_with_a_volume(pod, users, top):
    u = users["owner"]
    vol = os.path.join(top, "podman-vol")
    os.makedirs(vol, exist_ok=True)
    with open(os.path.join(vol, "f"), "w") as f:
        f.write("from-host\n")
    subprocess.run(["chown", "-R", f"{u.uid}:{u.gid}", vol], check=True)
    out = pod("run", "--rm", "--network", "host", "-v", f"{vol}:/data", IMAGE,
              "sh", "-c", "cat /data/f; id -u; echo made > /data/g").stdout
    assert out.split() == ["from-host", "0"]
    assert os.stat(os.path.join(vol, "g")).st_uid == u.uid  # container root is the user
    pod("run", "-d", "--name", "rl-c1", "--network", "none", IMAGE, "sleep", "100")
    try:
        assert pod("exec", "rl-c1", "cat", "/proc/1/cmdline").stdout.startswith("sleep")
        pod("stop", "-t", "1", "rl-c1")
        assert "exited" in pod("inspect", "-f", "{{.State.Status}}", "rl-c1").stdout
    finally:
        pod("rm", "-f", "rl-c1")
    assert "rl-c1" not in pod("ps", "-a", "--format", "{{.Names}}").stdout


def test_podman_userns_keep_id(pod, users):
    u = users["owner"]
    out = pod("run", "--rm", "--network", "none", "--userns=keep-id", IMAGE,
              "sh", "-c", "id -u; id -g").stdout.split()
    assert out == [str(u.uid), str(u.gid)]
