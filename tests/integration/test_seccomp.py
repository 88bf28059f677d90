"""linux.seccomp through the real runtime: actions, errnoRet, argument rules, the
noNewPrivileges ordering, SCMP_ACT_NOTIFY with a live agent (tests/helpers/seccomp_agent.c),
config errors and the `features` document. Each test was checked against runc as well."""

import errno
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import REPO, runtime_is_runc

AGENT_SRC = os.path.join(REPO, "tests", "helpers", "seccomp_agent.c")
SIGSYS = 31


def with_seccomp(bundle, syscalls, default="SCMP_ACT_ALLOW", **extra):
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": default,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": syscalls,
        **extra,
    }
    return bundle


def run_script(rt, bundle, script):
    bundle.args(script)
    return rt.run_container(bundle)


# ---------------------------------------------------------------------------------------------
# actions and rules


def test_errno_action_with_errno_ret(rt, bundle):
    with_seccomp(bundle, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                           "errnoRet": errno.EROFS}])
    rc, out, err = run_script(rt, bundle, "mkdir /tmp/d 2>&1; echo rc=$?; ls /tmp")
    assert rc == 0, err
    assert "Read-only file system" in out
    assert "rc=1" in out
    assert "d" not in out.split("rc=1", 1)[1].split()


def test_errno_action_defaults_to_eperm(rt, bundle):
    with_seccomp(bundle, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])
    rc, out, err = run_script(rt, bundle, "mkdir /tmp/d 2>&1; echo rc=$?")
    assert rc == 0, err
    assert "Operation not permitted" in out and "rc=1" in out


def test_kill_process_ends_the_command_with_sigsys(rt, bundle):
    with_seccomp(bundle, [{"names": ["chmod", "fchmodat", "fchmodat2"],
                           "action": "SCMP_ACT_KILL_PROCESS"}])
    rc, out, err = run_script(rt, bundle, "chmod 700 /tmp; echo rc=$?")
    assert rc == 0, err
    assert f"rc={128 + SIGSYS}" in out


def test_argument_rule_only_matches_its_value(rt, bundle):
    # kill(pid, SIGUSR1) is refused; kill(pid, 0) on the same pid passes.
    with_seccomp(bundle, [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                           "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]}])
    rc, out, err = run_script(rt, bundle,
                              "kill -0 $$; echo zero=$?; kill -USR1 $$ 2>&1; echo usr1=$?")
    assert rc == 0, err
    assert "zero=0" in out
    assert "usr1=1" in out and "Operation not permitted" in out


def test_same_index_args_are_ored(rt, bundle):
    with_seccomp(bundle, [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                           "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"},
                                    {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}]}])
    rc, out, err = run_script(rt, bundle, "kill -USR1 $$ 2>/dev/null; echo a=$?; "
                                          "kill -USR2 $$ 2>/dev/null; echo b=$?; "
                                          "kill -0 $$; echo c=$?")
    assert rc == 0, err
    assert "a=1" in out and "b=1" in out and "c=0" in out


def test_unknown_syscall_names_are_skipped(rt, bundle):
    with_seccomp(bundle, [{"names": ["skiff_no_such_syscall", "mkdir", "mkdirat"],
                           "action": "SCMP_ACT_ERRNO"}])
    rc, out, err = run_script(rt, bundle, "mkdir /tmp/d 2>&1; echo rc=$?")
    assert rc == 0, err
    assert "rc=1" in out


@pytest.mark.skiff_only(reason="runc 1.1.5: seccomp flags are not yet supported by runc")
def test_filter_flags(rt, bundle):
    with_seccomp(bundle, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
                 flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"])
    rc, out, err = run_script(rt, bundle, "mkdir /tmp/d 2>&1; echo rc=$?")
    assert rc == 0, err
    assert "rc=1" in out


def test_filter_applies_to_unprivileged_process_without_nnp(rt, bundle):
    # Without noNewPrivileges the filter has to be loaded before uid and caps are dropped.
    bundle.config["process"]["noNewPrivileges"] = False
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    with_seccomp(bundle, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                           "errnoRet": errno.EROFS}])
    rc, out, err = run_script(rt, bundle, "id -u; mkdir /tmp/d 2>&1; echo rc=$?")
    assert rc == 0, err
    assert out.split()[0] == "1000"
    assert "Read-only file system" in out


def test_exec_gets_the_filter_too(rt, bundle):
    with_seccomp(bundle, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                           "errnoRet": errno.EROFS}])
    bundle.args("sleep 30")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    res = rt.run(["exec", cid, "sh", "-c", "mkdir /tmp/e 2>&1; echo rc=$?"], check=False)
    rt.delete(cid, force=True)
    assert "Read-only file system" in res.stdout, res


# ---------------------------------------------------------------------------------------------
# config errors


@pytest.mark.skiff_only(reason="skiff's error text names the JSON path")
@pytest.mark.parametrize("patch,message", [
    ({"syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_FOO"}]},
     'linux.seccomp.syscalls[0].action: unknown action "SCMP_ACT_FOO"'),
    ({"syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_NEAR"}]}]},
     'linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_NEAR"'),
    ({"architectures": ["SCMP_ARCH_PDP11"]},
     'linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_PDP11"'),
    ({"flags": ["SECCOMP_FILTER_FLAG_NOPE"]},
     'linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_NOPE"'),
    ({"syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]},
     "linux.seccomp.listenerPath: SCMP_ACT_NOTIFY is used but no listenerPath is set"),
])
def test_bad_config_is_refused_with_its_path(rt, bundle, patch, message):
    with_seccomp(bundle, [])
    bundle.config["linux"]["seccomp"].update(patch)
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    assert message in res.stderr, res
    assert rt.state(cid, check=False) is None


@pytest.mark.parametrize("patch", [
    {"syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_FOO"}]},
    {"architectures": ["SCMP_ARCH_PDP11"]},
    {"flags": ["SECCOMP_FILTER_FLAG_NOPE"]},
])
def test_bad_config_fails(rt, bundle, patch):
    with_seccomp(bundle, [])
    bundle.config["linux"]["seccomp"].update(patch)
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0


def test_a_syscall_newer_than_the_profile_gets_enosys(rt, bundle, workdir):
    """As runc: under a denying default, a syscall numbered above every one the profile names
    fails with ENOSYS (so a program newer than the profile falls back, as glibc does from
    clone3 to clone), while an unnamed syscall below that keeps the default's errno."""
    exe = os.path.join(workdir, "syscall_errno")
    subprocess.run(["cc", "-O2", "-static", "-o", exe, os.path.join(REPO, "tests", "helpers", "syscall_errno.c")],
                   check=True)
    shutil.copy(exe, bundle.in_rootfs("syscall_errno"))
    startup = ["execve", "brk", "arch_prctl", "set_tid_address", "set_robust_list", "rseq", "prlimit64",
               "readlink", "readlinkat", "getrandom", "mprotect", "mmap", "munmap", "uname", "write",
               "writev", "exit", "exit_group", "fstat", "newfstatat", "ioctl", "futex", "close",
               "close_range", "read", "fcntl", "getpid", "gettid", "rt_sigprocmask", "rt_sigaction",
               "rt_sigreturn", "openat", "sendmsg", "recvmsg", "capget", "capset", "prctl", "setresuid",
               "setresgid", "setgroups", "chdir", "fchdir", "dup2", "dup3", "execveat", "getuid",
               "geteuid", "getgid", "getegid", "poll", "ppoll", "fstatfs", "statfs", "getdents64",
               "sched_getaffinity", "sigaltstack", "epoll_pwait", "epoll_ctl", "epoll_create1",
               "pipe2", "clone", "wait4", "tgkill", "madvise", "nanosleep", "getppid",
               "rt_sigtimedwait", "exit"]  # close_range (436) is the highest named
    with_seccomp(bundle, [{"names": startup, "action": "SCMP_ACT_ALLOW"}], default="SCMP_ACT_ERRNO",
                 architectures=["SCMP_ARCH_X86_64"])
    bundle.config["process"]["args"] = ["/syscall_errno", "1000", "333"]  # 333: io_pgetevents
    rc, out, err = rt.run_container(bundle)
    assert rc == 0, err
    assert out.split() == ["1000", str(errno.ENOSYS), "333", str(errno.EPERM)], out


# ---------------------------------------------------------------------------------------------
# SCMP_ACT_NOTIFY


@pytest.fixture(scope="session")
def agent_binary():
    d = tempfile.mkdtemp(prefix="skiff-it-agent-")
    exe = os.path.join(d, "seccomp_agent")
    subprocess.run(["cc", "-O2", "-Wall", "-o", exe, AGENT_SRC], check=True)
    yield exe
    shutil.rmtree(d, ignore_errors=True)


class Agent:
    def __init__(self, exe, sock, mode, outdir):
        self.sock = sock
        self.out_path = os.path.join(outdir, "agent.out")
        self.out = open(self.out_path, "w+")
        self.proc = subprocess.Popen([exe, sock, mode], stdout=self.out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.wait_for("ready")

    def text(self):
        with open(self.out_path) as f:
            return f.read()

    def wait_for(self, word, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if word in self.text():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"agent never said {word!r}: {self.text()!r}")

    def state(self):
        for line in self.text().splitlines():
            if line.startswith("state "):
                return json.loads(line[len("state "):])
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.out.close()
        if os.path.exists(self.sock):
            os.unlink(self.sock)


@pytest.fixture
def agent(rt, workdir, agent_binary):
    """Factory: start an agent answering with `mode`; stopped before the leak check."""
    started = []

    def start(mode):
        a = Agent(agent_binary, os.path.join(workdir, f"agent{len(started)}.sock"), mode,
                  workdir)
        started.append(a)
        return a

    yield start
    for a in started:
        a.stop()


def notify_bundle(bundle, sock, metadata="skiff-meta"):
    return with_seccomp(bundle, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
                        listenerPath=sock, listenerMetadata=metadata)


@pytest.mark.skiff_only(reason="runc 1.1.5's `run` never returns here once a NOTIFY filter is "
                               "in use, although the agent sees the call and the exit")
def test_notify_agent_answers_with_errno(rt, bundle, agent):
    a = agent(f"errno:{errno.EROFS}")
    notify_bundle(bundle, a.sock)
    bundle.args("mkdir /tmp/d 2>&1; echo rc=$?; ls -d /tmp/d 2>/dev/null; true")
    cid = rt.new_id()
    rc, out, err = rt.run_container(bundle, cid=cid)
    assert rc == 0, err
    assert "Read-only file system" in out and "rc=1" in out
    a.wait_for("done")
    assert "notif " in a.text()

    st = a.state()
    assert st is not None, a.text()
    assert st["fds"] == ["seccompFd"]
    assert st["metadata"] == "skiff-meta"
    assert isinstance(st["pid"], int) and st["pid"] > 0
    assert st["state"]["id"] == cid
    assert st["state"]["status"] == "creating"
    assert st["state"]["bundle"] == bundle.path
    assert st["state"]["pid"] == st["pid"]


@pytest.mark.skiff_only(reason="runc 1.1.5's `run` never returns here once a NOTIFY filter is "
                               "in use, although the agent sees the call and the exit")
def test_notify_agent_lets_the_call_continue(rt, bundle, agent):
    a = agent("continue")
    notify_bundle(bundle, a.sock)
    rc, out, err = run_script(rt, bundle, "mkdir /tmp/d && ls -d /tmp/d")
    assert rc == 0, err
    assert "/tmp/d" in out
    a.wait_for("done")


@pytest.mark.skiff_only(reason="runc 1.1.5's `run` never returns here once a NOTIFY filter is "
                               "in use, although the agent sees the call and the exit")
def test_notify_fds_do_not_reach_the_container(rt, bundle, agent, workdir):
    """The init holds the listener socket and the notify fd while it loads the filter; with a
    profile that also refuses close_range, neither (nor the caller's fd 3) may reach the
    container process, and the agent still gets its fd."""
    a = agent("continue")
    notify_bundle(bundle, a.sock)
    bundle.config["linux"]["seccomp"]["syscalls"].append(
        {"names": ["close_range"], "action": "SCMP_ACT_ERRNO"})
    bundle.args("mkdir /tmp/d && ls /proc/1/fd; exit 0")
    with open(os.path.join(workdir, "extra"), "w") as f:
        rc, out, err = rt.run_container(bundle, extra_fds=[f.fileno()])
    assert rc == 0, err
    assert sorted(out.split(), key=int) == ["0", "1", "2"], out
    a.wait_for("done")
    assert "notif " in a.text()


def test_start_hook_killed_by_the_filter_stops_the_container(rt, bundle, workdir):
    """startContainer hooks run under the container's filter (runc: after the exec fifo, with
    the filter loaded): a hook whose mkdir the profile kills dies of SIGSYS, the directory is
    not made, and the failed hook keeps the container process from running."""
    with_seccomp(bundle, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}])
    bundle.config["hooks"] = {"startContainer": [
        {"path": "/bin/mkdir", "args": ["mkdir", "/tmp/from-hook"]}]}
    bundle.args("touch /tmp/process-ran")
    cid, _ = rt.create(bundle)
    rt.start(cid, check=False)
    rt.wait_status(cid, "stopped")
    assert not os.path.exists(bundle.in_rootfs("/tmp/from-hook"))
    assert not os.path.exists(bundle.in_rootfs("/tmp/process-ran"))
    rt.delete(cid, force=True)


def test_notify_with_no_agent_listening_fails_create(rt, bundle, workdir):
    notify_bundle(bundle, os.path.join(workdir, "nobody.sock"))
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0
    assert rt.state(cid, check=False) is None


def test_listener_path_without_notify_rule_is_ignored(rt, bundle, workdir):
    """config-linux.md: listenerPath is only used when a rule is SCMP_ACT_NOTIFY. Nobody listens
    on this path; a runtime that connects anyway fails the create."""
    with_seccomp(bundle, [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
                 listenerPath=os.path.join(workdir, "nobody.sock"))
    rc, out, err = run_script(rt, bundle, "mkdir /tmp/d 2>&1; echo rc=$?")
    assert rc == 0, err
    assert "rc=1" in out


# ---------------------------------------------------------------------------------------------
# features


def test_features_lists_seccomp(rt):
    res = rt.run(["features"])
    doc = json.loads(res.stdout)
    sc = doc["linux"]["seccomp"]
    assert sc["enabled"] is True
    for action in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                   "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW",
                   "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"):
        assert action in sc["actions"]
    assert sorted(sc["operators"]) == sorted(["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",
                                              "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
                                              "SCMP_CMP_MASKED_EQ"])
    assert "SCMP_ARCH_X86_64" in sc["archs"]


@pytest.mark.skiff_only(reason="skiff's own annotations, v1.3 fields and kernel-probed flags")
def test_features_document_is_complete(rt):
    doc = json.loads(rt.run(["features"]).stdout)
    assert doc["ociVersionMin"] == "1.0.0" and doc["ociVersionMax"] == "1.3.0"
    sc = doc["linux"]["seccomp"]
    assert set(sc["supportedFlags"]) <= set(sc["knownFlags"])
    # kernel 6.18 has all four; skiff loads the program itself so libseccomp 2.5 is no limit
    assert len(sc["supportedFlags"]) == 4, sc
    assert doc["linux"]["mountExtensions"]["idmap"]["enabled"] is True
    assert doc["annotations"]["io.github.seccomp.libseccomp.version"] == "2.5.4"
    assert "io.github.skiff.version" in doc["annotations"]
