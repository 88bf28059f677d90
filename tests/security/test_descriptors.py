"""No descriptor of the runtime reaches the container, and process.cwd cannot leave the root
through one (CVE-2024-21626 class)."""

import os
import re
import subprocess
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


# ---------------------------------------------------------------------------------------------
# a seccomp profile that refuses close_range (or close, or fcntl) must not keep fds open

def _syscall_names():
    with open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h") as f:
        return sorted(set(re.findall(r"#define __NR_(\w+)\s+\d+", f.read())))


def _profile(kind):
    """deny: an allow-everything profile that refuses the named calls; allowlist: a profile
    that lists every call but close_range (older docker-style profiles lack it)."""
    arches = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    if kind == "allowlist":
        names = [n for n in _syscall_names() if n != "close_range"]
        return {"defaultAction": "SCMP_ACT_ERRNO", "architectures": arches,
                "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]}
    denied = {"close_range": ["close_range"],
              "close_range+close+fcntl": ["close_range", "close", "fcntl"]}[kind]
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": arches,
            "syscalls": [{"names": denied, "action": "SCMP_ACT_ERRNO"}]}


PROFILES = ["close_range", "close_range+close+fcntl", "allowlist"]


@pytest.fixture
def two_files(workdir):
    """Two open files of the caller, handed to the runtime as fds 3 and 4."""
    files = [open(os.path.join(workdir, name), "w+") for name in ("leak3", "leak4")]
    yield [f.fileno() for f in files]
    for f in files:
        f.close()


@pytest.mark.parametrize("kind", PROFILES)
def test_caller_fds_closed_when_profile_refuses_close_range(rt, bundle, two_files, kind):
    """`exec 3>x 4>y; runtime run` with a profile that refuses close_range: the container
    holds 0, 1, 2 only. A runtime that closes (or marks close-on-exec) after loading the filter,
    without checking, hands the caller's 3 and 4 to the container."""
    bundle.config["linux"]["seccomp"] = _profile(kind)
    bundle.args("ls /proc/1/fd; exit 0")
    rc, out, err = rt.run_container(bundle, extra_fds=two_files)
    assert rc == 0, err
    assert _fds_of_shell(out) == ["0", "1", "2"]


@pytest.mark.parametrize("kind", PROFILES)
def test_only_preserved_fds_cross_when_profile_refuses_close_range(rt, bundle, two_files, kind):
    """With --preserve-fds 1, fd 3 arrives (and works) and fd 4 does not. (ash needs fcntl
    to redirect, so the write through fd 3 is left out where the profile refuses fcntl.)"""
    bundle.config["linux"]["seccomp"] = _profile(kind)
    write = "fcntl" not in kind
    bundle.args("ls /proc/1/fd; " + ("echo via-3 >&3; " if write else "") + "exit 0")
    rc, out, err = rt.run_container(bundle, extra=["--preserve-fds", "1"], extra_fds=two_files)
    assert rc == 0, err
    assert _fds_of_shell(out) == ["0", "1", "2", "3"]
    if write:
        with open(f"/proc/self/fd/{two_files[0]}") as f:
            assert f.read() == "via-3\n"


@pytest.mark.parametrize("kind", PROFILES)
def test_exec_fds_closed_when_profile_refuses_close_range(rt, bundle, two_files, kind):
    """The same for `exec`: its init loads the container's filter too."""
    bundle.config["linux"]["seccomp"] = _profile(kind)
    cid = _start_sleeper(rt, bundle)
    plain = rt.run(["exec", cid, "sh", "-c", "ls /proc/$$/fd; exit 0"], extra_fds=two_files)
    kept = rt.run(["exec", "--preserve-fds", "1", cid, "sh", "-c", "ls /proc/$$/fd; exit 0"],
                  extra_fds=two_files)
    assert _fds_of_shell(plain.stdout) == ["0", "1", "2"]
    assert _fds_of_shell(kept.stdout) == ["0", "1", "2", "3"]
    rt.kill(cid)
    rt.wait_status(cid, "stopped")
    rt.delete(cid)


DENY_CLOSE_RANGE_WRAPPER = r"""
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Runs argv[1..] under a filter that refuses close_range with ENOSYS (an old kernel, or a
   runtime started inside a restrictive sandbox). */
int main(int argc, char **argv) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_close_range, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof code / sizeof code[0], code};
    if (argc < 2 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
        return 125;
    execv(argv[1], argv + 1);
    return 126;
}
"""


@pytest.fixture
def no_close_range(workdir):
    src = os.path.join(workdir, "no_close_range.c")
    exe = os.path.join(workdir, "no_close_range")
    with open(src, "w") as f:
        f.write(DENY_CLOSE_RANGE_WRAPPER)
    subprocess.run(["cc", "-O2", "-o", exe, src], check=True)
    return exe


def test_runtime_without_close_range_still_closes(rt, bundle, two_files, no_close_range):
    """The runtime itself under a filter where close_range fails (ENOSYS): it falls back to
    marking fds one by one, so neither `run` nor `exec` hands on fd 3 or 4."""
    bundle.args("ls /proc/1/fd; exit 0")
    rc, out, err = rt.run_container(bundle, extra_fds=two_files, prefix=[no_close_range])
    assert rc == 0, err
    assert _fds_of_shell(out) == ["0", "1", "2"]
    bundle.args("sleep 60")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    res = rt.run(["exec", cid, "sh", "-c", "ls /proc/$$/fd; exit 0"], extra_fds=two_files,
                 prefix=[no_close_range])
    assert _fds_of_shell(res.stdout) == ["0", "1", "2"]
    rt.kill(cid)
    rt.wait_status(cid, "stopped")
    rt.delete(cid)
