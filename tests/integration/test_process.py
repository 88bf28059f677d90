"""The container process: args, env, cwd, user, umask, rlimits, privileges, capabilities, fds."""

import os

import pytest


def status_fields(text):
    return {k.strip(): v.strip() for k, v in
            (line.split(":", 1) for line in text.splitlines() if ":" in line)}


def caps_of(names):
    numbers = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_KILL": 5, "CAP_SETGID": 6,
               "CAP_SETUID": 7, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13,
               "CAP_SYS_CHROOT": 18, "CAP_AUDIT_WRITE": 29}
    return f"{sum(1 << numbers[n] for n in names):016x}"


def test_args_path_lookup(rt, bundle):
    bundle.config["process"]["args"] = ["echo", "found", "via", "PATH"]
    rc, out, err = rt.run_container(bundle)
    assert (rc, out) == (0, "found via PATH\n"), err


def test_args_path_lookup_uses_process_env_path(rt, bundle):
    os.makedirs(bundle.in_rootfs("/opt/tools"))
    tool = bundle.in_rootfs("/opt/tools/mytool")
    with open(tool, "w") as f:
        f.write("#!/bin/sh\necho mytool ran\n")
    os.chmod(tool, 0o755)
    bundle.config["process"]["env"] = ["PATH=/opt/tools:/bin"]
    bundle.config["process"]["args"] = ["mytool"]
    rc, out, err = rt.run_container(bundle)
    assert (rc, out) == (0, "mytool ran\n"), err


def test_args_absolute_path(rt, bundle):
    bundle.config["process"]["args"] = ["/bin/echo", "abs"]
    rc, out, _ = rt.run_container(bundle)
    assert (rc, out) == (0, "abs\n")


def test_args_not_found_fails(rt, bundle):
    bundle.config["process"]["args"] = ["no-such-binary"]
    rc, out, err = rt.run_container(bundle)
    assert rc != 0
    assert "no-such-binary" in err


def test_env(rt, bundle):
    bundle.config["process"]["env"] += ["FOO=bar baz", "EMPTY="]
    out = rt.sh(bundle, 'echo "$FOO|${EMPTY-unset}|$PATH"')
    assert out.strip() == "bar baz||/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def test_env_is_exactly_configured(rt, bundle):
    # nothing leaks in from the runtime's own environment (HOME is allowed: runc sets it)
    out = rt.sh(bundle, "env")
    names = {line.split("=", 1)[0] for line in out.splitlines() if "=" in line}
    assert names - {"HOME", "PWD", "SHLVL", "_"} == {"PATH", "TERM"}, names


def test_cwd(rt, bundle):
    os.makedirs(bundle.in_rootfs("/work/dir"))
    bundle.config["process"]["cwd"] = "/work/dir"
    assert rt.sh(bundle, "pwd").strip() == "/work/dir"


def test_cwd_created_if_missing(rt, bundle):
    bundle.config["process"]["cwd"] = "/not/yet/there"
    assert rt.sh(bundle, "pwd").strip() == "/not/yet/there"


def test_user_uid_gid(rt, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    assert rt.sh(bundle, "id -u; id -g").split() == ["1000", "1000"]


def test_user_additional_gids(rt, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 100]}
    out = rt.sh(bundle, "grep Groups /proc/self/status")
    assert sorted(out.split(":", 1)[1].split()) == ["10", "100"]


def test_user_no_additional_gids_clears_groups(rt, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    out = rt.sh(bundle, "grep Groups /proc/self/status")
    assert out.split(":", 1)[1].split() == []


def test_user_id_output(rt, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 100, "additionalGids": [10]}
    out = rt.sh(bundle, "id")
    assert out.strip() == "uid=1000(user) gid=100(users) groups=10(wheel)"


def test_umask(rt, bundle):
    bundle.config["process"]["user"]["umask"] = 0o027
    out = rt.sh(bundle, "umask; touch /tmp/f; stat -c %a /tmp/f")
    assert out.split() == ["0027", "640"]


def test_rlimit_nofile(rt, bundle):
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 768}]
    assert rt.sh(bundle, "ulimit -Sn; ulimit -Hn").split() == ["512", "768"]


def test_rlimit_several(rt, bundle):
    bundle.config["process"]["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 256, "hard": 256},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
    out = rt.sh(bundle, "grep -E 'Max (open files|processes|core)' /proc/self/limits")
    limits = {" ".join(line.split()[:-3]): line.split()[-3:-1] for line in out.splitlines()}
    assert limits["Max open files"] == ["256", "256"]
    assert limits["Max processes"] == ["300", "400"]
    assert limits["Max core file size"] == ["0", "0"]


@pytest.mark.parametrize("nnp,expected", [(True, "1"), (False, "0")])
def test_no_new_privileges(rt, bundle, nnp, expected):
    bundle.config["process"]["noNewPrivileges"] = nnp
    out = rt.sh(bundle, "grep NoNewPrivs /proc/self/status")
    assert out.split(":")[1].strip() == expected


def test_capabilities_non_root_exact(rt, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.config["process"]["capabilities"] = {
        "bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_KILL"],
        "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]}
    st = status_fields(rt.sh(bundle, "cat /proc/self/status"))
    assert st["CapBnd"] == caps_of(["CAP_CHOWN", "CAP_KILL"])
    assert st["CapEff"] == caps_of(["CAP_KILL"])
    assert st["CapPrm"] == caps_of(["CAP_KILL"])
    assert st["CapInh"] == caps_of(["CAP_KILL"])
    assert st["CapAmb"] == caps_of(["CAP_KILL"])


def test_capabilities_root_exact(rt, bundle):
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    bundle.config["process"]["capabilities"] = {"bounding": caps, "effective": caps,
                                                "permitted": caps}
    st = status_fields(rt.sh(bundle, "cat /proc/self/status"))
    assert st["CapBnd"] == caps_of(caps)
    assert st["CapEff"] == caps_of(caps)
    assert st["CapPrm"] == caps_of(caps)
    assert st["CapInh"] == caps_of([])
    assert st["CapAmb"] == caps_of([])


def test_capabilities_empty(rt, bundle):
    bundle.config["process"]["capabilities"] = {}
    st = status_fields(rt.sh(bundle, "cat /proc/self/status"))
    for key in ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"):
        assert st[key] == caps_of([]), key


def test_capability_dropped_is_enforced(rt, bundle):
    # without CAP_CHOWN, root cannot give a file away
    bundle.config["process"]["capabilities"] = {"bounding": ["CAP_KILL"],
                                                "effective": ["CAP_KILL"],
                                                "permitted": ["CAP_KILL"]}
    out = rt.sh(bundle, "touch /tmp/f; chown 1000 /tmp/f 2>/dev/null && echo chowned "
                        "|| echo refused")
    assert out.strip() == "refused"


def test_oom_score_adj(rt, bundle):
    bundle.config["process"]["oomScoreAdj"] = 500
    assert rt.sh(bundle, "cat /proc/self/oom_score_adj").strip() == "500"


def test_only_stdio_fds(rt, bundle):
    # fds of the shell itself (pid 1), not of ls: the trailing command keeps ash from
    # exec'ing ls in place of itself
    out = rt.sh(bundle, "ls /proc/1/fd; exit 0")
    assert sorted(out.split(), key=int) == ["0", "1", "2"]


def test_stdio_null_device_becomes_the_containers_own(rt, bundle):
    """Stdin is the host's /dev/null here (the harness's, as conmon's and containerd's): the
    init swaps it for the container's own null device, so nothing of the host's mounts stays
    open in it (CRIU could not dump it), as runc does. Stdout, a file, is left as it was."""
    out = rt.sh(bundle, "grep mnt_id /proc/self/fdinfo/0; exec 3</dev/null; grep mnt_id /proc/self/fdinfo/3; "
                        "readlink /proc/self/fd/1; exit 0")
    stdin_mount, own_null_mount, stdout_target = out.strip().splitlines()
    assert stdin_mount == own_null_mount
    assert stdout_target != "/dev/null"


def test_preserve_fds(rt, bundle, workdir):
    paths = [os.path.join(workdir, f"extra{i}") for i in range(2)]
    files = [open(p, "w+") for p in paths]
    try:
        bundle.args("ls /proc/1/fd; echo via-3 >&3; echo via-4 >&4").write()
        cid = rt.new_id()
        res = rt.run(["run", "--preserve-fds", "2", "--bundle", bundle.path, cid],
                     extra_fds=[f.fileno() for f in files])
    finally:
        for f in files:
            f.close()
    assert sorted(res.stdout.split(), key=int) == ["0", "1", "2", "3", "4"]
    assert [open(p).read() for p in paths] == ["via-3\n", "via-4\n"]


def test_fds_not_preserved_without_flag(rt, bundle, workdir):
    path = os.path.join(workdir, "extra")
    with open(path, "w+") as f:
        bundle.args("ls /proc/1/fd; exit 0").write()
        cid = rt.new_id()
        res = rt.run(["run", "--bundle", bundle.path, cid], extra_fds=[f.fileno()])
    assert sorted(res.stdout.split(), key=int) == ["0", "1", "2"]


def test_listen_fds_socket_activation(rt, bundle, workdir):
    """With LISTEN_FDS/LISTEN_PID meant for the runtime, the container gets the fds and
    LISTEN_FDS, with LISTEN_PID=1."""
    path = os.path.join(workdir, "sock")
    with open(path, "w+") as f:
        bundle.args('ls /proc/1/fd; echo "$LISTEN_FDS $LISTEN_PID"; echo act >&3').write()
        cid = rt.new_id()
        env = dict(os.environ, LISTEN_FDS="1")
        env.pop("LISTEN_PID", None)
        # LISTEN_PID must be the runtime's own pid: a shell sets it, then execs the runtime
        res = rt.run(["run", "--bundle", bundle.path, cid], extra_fds=[f.fileno()], env=env,
                     prefix=["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh"])
    lines = res.stdout.split("\n")
    fds = [x for x in lines if x.isdigit()]
    assert sorted(fds, key=int) == ["0", "1", "2", "3"]
    assert "1 1" in lines
    assert open(path).read() == "act\n"
