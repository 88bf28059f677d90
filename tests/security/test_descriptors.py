"""No descriptor of the runtime reaches the container, and process.cwd cannot leave the root
through one (CVE-2024-21626 class)."""

import os
import uuid

import pytest

from secutil import tree


def _fds_of_shell(out):
    return sorted(out.split(), key=int)


def _start_sleeper(rt, bundle, extra=()):
    bundle.args("sleep 60")
    cid, _ = rt.create(bundle, extra=extra)
    rt.start(cid)
    return cid


def test_init_sees_only_stdio_after_create_and_start(rt, bundle, workdir):
    """create and start as separate commands, with --log and --pid-file (files the runtime
    opens): the container's pid 1 holds exactly 0, 1, 2. A leaked state-dir, log, fifo or
    channel descriptor shows up as a fourth entry."""
    log = os.path.join(workdir, "runtime.log")
    # `exec >file` moves stdout for good; a plain `ls >file` makes ash save fd 1 as fd 10
    bundle.args("exec >/tmp/fds; ls /proc/1/fd; exit 0")
    cid, _ = rt.create(bundle, extra=["--pid-file", os.path.join(workdir, "pid")],
                       global_args=["--log", log])
    rt.start(cid)
    rt.wait_status(cid, "stopped")
    with open(bundle.in_rootfs("/tmp/fds")) as f:
        assert _fds_of_shell(f.read()) == ["0", "1", "2"]
    rt.delete(cid)


def test_exec_sees_only_stdio_and_preserved(rt, bundle, workdir):
    """An exec'd process holds 0, 1, 2 and the --preserve-fds ones, nothing of the runtime;
    an extra fd handed to `exec` without --preserve-fds must not arrive."""
    cid = _start_sleeper(rt, bundle)
    path = os.path.join(workdir, "extra")
    with open(path, "w+") as f:
        plain = rt.run(["exec", cid, "sh", "-c", "ls /proc/$$/fd; exit 0"],
                       extra_fds=[f.fileno()])
        kept = rt.run(["exec", "--preserve-fds", "1", cid, "sh", "-c",
                       "ls /proc/$$/fd; echo via-3 >&3; exit 0"], extra_fds=[f.fileno()])
    assert _fds_of_shell(plain.stdout) == ["0", "1", "2"]
    assert _fds_of_shell(kept.stdout) == ["0", "1", "2", "3"]
    assert open(path).read() == "via-3\n"
    rt.kill(cid)
    rt.wait_status(cid, "stopped")
    rt.delete(cid)


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7, 8])
def test_cwd_proc_self_fd_refused_in_config(rt, bundle, n):
    """process.cwd = /proc/self/fd/N (the runc 1.1.11 breakout): create must refuse. A runtime
    that leaks a host directory as fd N would otherwise start the process with its cwd on the
    host, outside the container's root."""
    bundle.config["process"]["cwd"] = f"/proc/self/fd/{n}"
    bundle.args("pwd; echo started")
    rc, out, err = rt.run_container(bundle)
    assert rc != 0, (out, err)
    assert "started" not in out


def test_cwd_proc_self_fd_refused_in_exec(rt, bundle, workdir):
    """`exec --cwd /proc/self/fd/N` for every small N: refused, or (if N is nothing) the
    process stays inside. A marker written to the cwd must never land on the host (state dir,
    bundle, log: the places a leaked fd would point at)."""
    cid = _start_sleeper(rt, bundle)
    marker = "escape-" + uuid.uuid4().hex[:8]
    for n in range(3, 12):
        res = rt.run(["exec", "--cwd", f"/proc/self/fd/{n}", cid, "sh", "-c",
                      f"pwd; touch {marker}"], check=False)
        if res.returncode == 0:
            assert res.stdout.startswith("/") and "unreachable" not in res.stdout, res
    outside = [p for p in tree(workdir) if marker in p and "/rootfs/" not in "/" + p]
    assert outside == [], outside
    rt.kill(cid)
    rt.wait_status(cid, "stopped")
    rt.delete(cid)


@pytest.mark.parametrize("cwd", ["../../../../../../tmp", "/../../../../tmp/../tmp"])
def test_cwd_dotdot_stays_inside(rt, bundle, cwd):
    """A cwd that climbs with .. resolves at the container's "/" and no higher: the process
    ends up in the container's /tmp, its files land in the rootfs. (A relative cwd may be
    refused instead: runtime-spec requires an absolute one.)"""
    bundle.config["process"]["cwd"] = cwd
    marker = "cwd-" + uuid.uuid4().hex[:8]
    rc, out, err = rt.run_container(bundle.args(f"pwd; touch {marker}"))
    if not cwd.startswith("/") and rc != 0:
        assert "cwd" in err.lower(), err
        return
    assert rc == 0, err
    assert out.strip() == "/tmp"
    assert os.path.exists(bundle.in_rootfs(f"/tmp/{marker}"))


def test_cwd_through_symlink_stays_inside(rt, bundle, host_dir):
    """process.cwd /work where the image's /work -> <host dir>: the cwd (and the directory
    made for it) is inside the root; a file written there is not on the host. (Refusing the
    dangling link, as runc 1.1 does, is safe too.)"""
    target = host_dir("victim")
    os.symlink(target, bundle.in_rootfs("/work"))
    bundle.config["process"]["cwd"] = "/work"
    rc, out, err = rt.run_container(bundle.args("touch ./planted"))
    assert tree(target) == []
    if rc == 0:
        assert os.path.exists(bundle.in_rootfs(os.path.join(target, "planted")))
