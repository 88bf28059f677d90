"""podman driving the runtime through conmon: `podman --runtime <path> --cgroup-manager
cgroupfs`, on private storage/run roots, with a busybox image imported from busybox-static.
No bridge network (it would edit the host's iptables): containers run with --network none
unless a test asks for the host's network. Each scenario runs under netavark and under CNI
(podman_env.py)."""

import json
import os
import time

from helpers import cgroup_dir, read_cgroup, run, wait_until
from podman_env import IMAGE, pm, status_field  # noqa: F401  (pm is the fixture)

# --- run: output, exit code, process settings ------------------------------------------------

def test_run_output_and_exit_code(pm):
    p = pm.run([], ["sh", "-c", "echo hello from busybox; echo to-stderr >&2; exit 3"])
    assert p.returncode == 3, p.stderr
    assert p.stdout == "hello from busybox\n"
    assert "to-stderr" in p.stderr


def test_run_missing_executable_is_127(pm):
    p = pm.run([], ["/no/such/binary"])
    assert p.returncode == 127, p.stderr


def test_env(pm):
    p = pm.run(["-e", "GREETING=hi there", "--env", "EMPTY="],
               ["sh", "-c", 'echo "[$GREETING][${EMPTY-unset}]"'])
    assert (p.returncode, p.stdout) == (0, "[hi there][]\n"), p.stderr


def test_workdir(pm):
    p = pm.run(["-w", "/etc"], ["pwd"])
    assert (p.returncode, p.stdout) == (0, "/etc\n"), p.stderr
    p = pm.run(["-w", "/tmp"], ["sh", "-c", "touch here && ls /tmp"])
    assert (p.returncode, p.stdout) == (0, "here\n"), p.stderr


def test_user(pm):
    p = pm.run(["--user", "1000:1000"], ["sh", "-c", "id -u; id -g"])
    assert (p.returncode, p.stdout) == (0, "1000\n1000\n"), p.stderr
    p = pm.run(["--user", "nobody"], ["id", "-un"])
    assert (p.returncode, p.stdout) == (0, "nobody\n"), p.stderr


def test_hostname(pm):
    p = pm.run(["--hostname", "skiff-box"], ["hostname"])
    assert (p.returncode, p.stdout) == (0, "skiff-box\n"), p.stderr


def test_read_only_rootfs(pm):
    p = pm.run(["--read-only"], ["touch", "/etc/forbidden"])
    assert p.returncode != 0
    assert "Read-only file system" in p.stderr
    # podman's --read-only keeps tmpfs on /tmp, /var/tmp and /run writable.
    p = pm.run(["--read-only"], ["sh", "-c", "touch /tmp/ok && echo wrote"])
    assert (p.returncode, p.stdout) == (0, "wrote\n"), p.stderr


def test_bind_volume(pm, session_dir):
    host = os.path.join(session_dir, "podman-volume")
    os.makedirs(host, exist_ok=True)
    with open(os.path.join(host, "in.txt"), "w") as f:
        f.write("from host\n")
    p = pm.run(["-v", f"{host}:/data"], ["sh", "-c", "cat /data/in.txt; echo back > /data/out.txt"])
    assert (p.returncode, p.stdout) == (0, "from host\n"), p.stderr
    with open(os.path.join(host, "out.txt")) as f:
        assert f.read() == "back\n"
    p = pm.run(["-v", f"{host}:/data:ro"], ["touch", "/data/nope"])
    assert p.returncode != 0 and "Read-only file system" in p.stderr
    assert not os.path.exists(os.path.join(host, "nope"))


def test_tmpfs(pm):
    p = pm.run(["--tmpfs", "/scratch:rw,size=2m,mode=1777"],
               ["sh", "-c", "grep ' /scratch ' /proc/mounts; touch /scratch/f && echo ok"])
    assert p.returncode == 0, p.stderr
    line, ok = p.stdout.splitlines()
    assert line.startswith("tmpfs /scratch tmpfs ") and "size=2048k" in line, line
    assert ok == "ok"


# --- security --------------------------------------------------------------------------------

CAP_CHOWN, CAP_NET_ADMIN, CAP_SYS_ADMIN = 0, 12, 21


def cap_eff(pm, opts):
    p = pm.run(opts, ["cat", "/proc/self/status"])
    assert p.returncode == 0, p.stderr
    return int(status_field(p.stdout, "CapEff"), 16), p.stdout


def test_cap_drop_and_add(pm):
    default, _ = cap_eff(pm, [])
    assert default & (1 << CAP_CHOWN) and not default & (1 << CAP_SYS_ADMIN)
    none, _ = cap_eff(pm, ["--cap-drop", "all"])
    assert none == 0
    only, _ = cap_eff(pm, ["--cap-drop", "all", "--cap-add", "net_admin"])
    assert only == 1 << CAP_NET_ADMIN
    p = pm.run(["--cap-drop", "chown"], ["chown", "1000", "/tmp"])
    assert p.returncode != 0 and "Operation not permitted" in p.stderr
    p = pm.run([], ["chown", "1000", "/tmp"])
    assert p.returncode == 0, p.stderr


def test_no_new_privileges(pm):
    p = pm.run(["--security-opt", "no-new-privileges"], ["cat", "/proc/self/status"])
    assert p.returncode == 0, p.stderr
    assert status_field(p.stdout, "NoNewPrivs") == "1"
    p = pm.run([], ["cat", "/proc/self/status"])
    assert status_field(p.stdout, "NoNewPrivs") == "0"


def test_default_seccomp_profile(pm):
    p = pm.run([], ["cat", "/proc/self/status"])
    assert p.returncode == 0, p.stderr
    assert status_field(p.stdout, "Seccomp") == "2"  # filter mode: podman's default profile
    p = pm.run(["--security-opt", "seccomp=unconfined"], ["cat", "/proc/self/status"])
    assert status_field(p.stdout, "Seccomp") == "0"


def test_custom_seccomp_profile_is_enforced(pm, session_dir):
    profile = os.path.join(session_dir, "deny-mkdir.json")
    with open(profile, "w") as f:
        json.dump({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                                 "errnoRet": 1}]}, f)
    p = pm.run(["--security-opt", f"seccomp={profile}"], ["mkdir", "/tmp/d"])
    assert p.returncode != 0 and "Operation not permitted" in p.stderr, p.stderr
    p = pm.run(["--security-opt", f"seccomp={profile}"], ["touch", "/tmp/f"])
    assert p.returncode == 0, p.stderr


def test_privileged(pm):
    caps, status = cap_eff(pm, ["--privileged"])
    assert caps & (1 << CAP_SYS_ADMIN)
    assert status_field(status, "Seccomp") == "0"
    p = pm.run(["--privileged"], ["sh", "-c", "mount -t tmpfs none /mnt && echo mounted"])
    assert (p.returncode, p.stdout) == (0, "mounted\n"), p.stderr
    # The host's devices are there (not only the default set).
    p = pm.run(["--privileged"], ["ls", "/dev"])
    host_devs = set(os.listdir("/dev"))
    assert "kmsg" in host_devs and "kmsg" in p.stdout.split()


def test_device(pm):
    p = pm.run(["--device", "/dev/zero:/dev/myzero"],
               ["sh", "-c", "test -c /dev/myzero && head -c 5 /dev/myzero | wc -c"])
    assert (p.returncode, p.stdout.strip()) == (0, "5"), p.stderr
    p = pm.run([], ["test", "-e", "/dev/kmsg"])
    assert p.returncode == 1


def test_sysctl(pm):
    p = pm.run(["--sysctl", "kernel.shm_rmid_forced=1",
                "--sysctl", "net.ipv4.ip_unprivileged_port_start=99"],
               ["sh", "-c", "cat /proc/sys/kernel/shm_rmid_forced "
                            "/proc/sys/net/ipv4/ip_unprivileged_port_start"])
    assert (p.returncode, p.stdout) == (0, "1\n99\n"), p.stderr
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        assert f.read().strip() != "99", "the sysctl leaked to the host"


def test_ulimit(pm):
    # Any --ulimit replaces the configured defaults, and podman then raises the unnamed
    # nproc to 1048576, which this host's bounding set (no CAP_SYS_RESOURCE) refuses for
    # every runtime: name both.
    p = pm.run(["--ulimit", "nofile=500:600", "--ulimit", "nproc=300:400"],
               ["sh", "-c", "ulimit -Sn; ulimit -Hn; ulimit -Hu"])
    assert (p.returncode, p.stdout) == (0, "500\n600\n400\n"), p.stderr


def test_contrib_default_ulimits_apply_and_fit_this_host(pm):
    import resource
    p = pm.run([], ["sh", "-c", "ulimit -Sn; ulimit -Hn"])
    assert (p.returncode, p.stdout) == (0, "1024\n4096\n"), p.stderr
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[1] >= 4096


# --- namespaces ------------------------------------------------------------------------------

def test_network_none(pm):
    p = pm.run(["--network", "none"], ["cat", "/proc/net/dev"])
    assert p.returncode == 0, p.stderr
    ifaces = [l.split(":")[0].strip() for l in p.stdout.splitlines()[2:]]
    assert ifaces == ["lo"]


def test_network_none_loopback_is_up(pm):
    """runc and crun bring lo up in a new network namespace; under netavark nothing else does,
    and a server on 127.0.0.1 inside the container must still answer."""
    p = pm.run(["--network", "none"], ["sh", "-c", "cat /sys/class/net/lo/flags; "
               "nc -l -p 4711 -e echo hi & sleep 0.2; nc 127.0.0.1 4711 </dev/null"])
    assert p.returncode == 0, p.stderr
    flags, answer = p.stdout.split()
    assert int(flags, 16) & 0x1, f"lo is down ({flags}) under {pm.backend}"
    assert answer == "hi"


def test_network_host(pm):
    p = pm.run(["--network", "host"], ["readlink", "/proc/self/ns/net"])
    assert (p.returncode, p.stdout.strip()) == (0, os.readlink("/proc/self/ns/net")), p.stderr


def test_pid_host(pm):
    p = pm.run(["--pid", "host"], ["readlink", "/proc/self/ns/pid"])
    assert (p.returncode, p.stdout.strip()) == (0, os.readlink("/proc/self/ns/pid")), p.stderr
    p = pm.run([], ["readlink", "/proc/self/ns/pid"])
    assert p.stdout.strip() != os.readlink("/proc/self/ns/pid")


def test_init(pm):
    p = pm.run(["--init"], ["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$"])
    assert p.returncode == 0, p.stderr
    pid1, sh_pid = p.stdout.splitlines()
    assert "init" in pid1 and "sh" in pid1, pid1  # /run/podman-init -- sh -c ...
    assert sh_pid != "1"


# --- terminals -------------------------------------------------------------------------------

def test_run_tty(pm):
    p = pm.run(["-t"], ["sh", "-c", "tty; test -t 0 && test -t 1 && echo both-tty"])
    assert p.returncode == 0, p.stderr
    lines = p.stdout.replace("\r", "").splitlines()
    assert lines[0].startswith("/dev/pts/") and lines[1] == "both-tty", p.stdout


def test_exec_tty(pm):
    with pm.detached([], ["sleep", "300"]) as cid:
        p = pm("exec", "-t", cid, "tty", check=False)
        assert p.returncode == 0, p.stderr
        assert p.stdout.replace("\r", "").strip().startswith("/dev/pts/"), p.stdout
        p = pm("exec", cid, "sh", "-c", "test -t 1 || echo no-tty", check=False)
        assert p.stdout == "no-tty\n"


# --- detached containers: exec, inspect, top, logs, stats, stop, kill, pause ----------------

def test_detached_exec(pm):
    with pm.detached([], ["sleep", "300"]) as cid:
        p = pm("exec", cid, "sh", "-c", "echo $((6 * 7)); exit 5", check=False)
        assert (p.returncode, p.stdout) == (5, "42\n"), p.stderr
        p = pm("exec", "-e", "X=y", "-w", "/tmp", "--user", "1000", cid,
               "sh", "-c", 'echo "$X $(pwd) $(id -u)"', check=False)
        assert (p.returncode, p.stdout) == (0, "y /tmp 1000\n"), p.stderr
        p = pm("exec", cid, "/no/such/binary", check=False)
        assert p.returncode == 127, p.stderr


def test_inspect(pm):
    with pm.detached([], ["sleep", "300"]) as cid:
        info = pm.inspect(cid)
        assert info["State"]["Status"] == "running" and info["State"]["Running"]
        pid = info["State"]["Pid"]
        with open(f"/proc/{pid}/cmdline") as f:
            assert f.read() == "sleep\x00300\x00"
        assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")


def test_top(pm):
    with pm.detached([], ["sleep", "300"]) as cid:
        p = pm("top", cid)
        assert "sleep 300" in p.stdout, p.stdout


def test_logs(pm):
    with pm.detached([], ["sh", "-c", "echo to-out; echo to-err >&2"]) as cid:
        assert pm("wait", cid).stdout.strip() == "0"
        p = pm("logs", cid)
        assert "to-out" in p.stdout and "to-err" in p.stderr, (p.stdout, p.stderr)


def test_stats(pm):
    with pm.detached(["--memory", "64m"], ["sleep", "300"]) as cid:
        p = pm("stats", "--no-stream", "--format", "json", cid)
        stats = json.loads(p.stdout)
        assert len(stats) == 1 and stats[0]["id"] == cid[:12], p.stdout
        assert stats[0]["mem_usage"].endswith(" / 67.11MB"), stats[0]  # 64 MiB
        assert int(stats[0]["pids"]) >= 1


def test_stop_delivers_sigterm(pm):
    with pm.detached([], ["sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done"]) as cid:
        t = time.monotonic()
        pm("stop", "-t", "20", cid)
        assert time.monotonic() - t < 10
        info = pm.inspect(cid)
        assert (info["State"]["Status"], info["State"]["ExitCode"]) == ("exited", 7)


def test_stop_escalates_to_sigkill(pm):
    # sleep as pid 1 has no TERM handler, so the kernel ignores TERM: stop must kill it.
    with pm.detached([], ["sleep", "300"]) as cid:
        pm("stop", "-t", "1", cid)
        assert pm.inspect(cid)["State"]["ExitCode"] == 137


def test_kill(pm):
    with pm.detached([], ["sh", "-c", "trap 'exit 9' USR1; while :; do sleep 0.1; done"]) as cid:
        pm("kill", "-s", "USR1", cid)
        assert pm("wait", cid).stdout.strip() == "9"
    with pm.detached([], ["sleep", "300"]) as cid:
        pm("kill", cid)
        assert pm("wait", cid).stdout.strip() == "137"


def test_pause_unpause(pm):
    loop = "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done"
    with pm.detached([], ["sh", "-c", loop]) as cid:
        pid = pm.pid(cid)
        counter = f"/proc/{pid}/root/tmp/n"
        wait_until(lambda: os.path.exists(counter), what="the counter file")
        pm("pause", cid)
        assert pm.inspect(cid)["State"]["Status"] == "paused"
        assert read_cgroup(pid, "freezer", "freezer.state") == "FROZEN"
        with open(counter) as f:
            a = f.read()
        time.sleep(0.5)
        with open(counter) as f:
            assert f.read() == a, "the counter moved while paused"
        pm("unpause", cid)
        assert pm.inspect(cid)["State"]["Status"] == "running"
        wait_until(lambda: open(counter).read() != a, what="the counter to move again")
        assert pm("exec", cid, "echo", "alive").stdout == "alive\n"


# --- resources -------------------------------------------------------------------------------

def test_memory_limit_and_oom_exit_code(pm):
    with pm.detached(["--memory", "32m"], ["sleep", "300"]) as cid:
        assert read_cgroup(pm.pid(cid), "memory", "memory.limit_in_bytes") == str(32 << 20)
    # tail keeps the whole "line" of /dev/zero in memory until the OOM killer ends it.
    p = pm.run(["--memory", "32m"], ["tail", "/dev/zero"], timeout=120)
    assert p.returncode == 137, p.stderr


def test_oom_kill_is_counted_in_the_cgroup(pm):
    # conmon here never sets State.OOMKilled; the memory cgroup's counter is the evidence.
    with pm.detached(["--memory", "32m"], ["sh", "-c", "tail /dev/zero; sleep 300"]) as cid:
        pid = pm.pid(cid)

        def oom_kills():
            ctl = read_cgroup(pid, "memory", "memory.oom_control")
            return int(dict(l.split() for l in ctl.splitlines())["oom_kill"])
        wait_until(lambda: oom_kills() >= 1, timeout=60, what="an oom_kill in the cgroup")
        assert pm.inspect(cid)["State"]["Running"], "pid 1 should outlive the killed tail"


def test_pids_limit(pm):
    with pm.detached(["--pids-limit", "10"], ["sleep", "300"]) as cid:
        assert read_cgroup(pm.pid(cid), "pids", "pids.max") == "10"
    p = pm.run(["--pids-limit", "5"],
               ["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 3 & done; wait"])
    assert "can't fork" in p.stderr or "Resource temporarily unavailable" in p.stderr, p.stderr


def test_cpus(pm):
    with pm.detached(["--cpus", "0.5"], ["sleep", "300"]) as cid:
        pid = pm.pid(cid)
        period = int(read_cgroup(pid, "cpu", "cpu.cfs_period_us"))
        assert int(read_cgroup(pid, "cpu", "cpu.cfs_quota_us")) == period // 2


# --- cleanup ---------------------------------------------------------------------------------

def test_rm_cleans_up(pm):
    cid = pm("run", "--rm", "-d", *pm._opts([]), IMAGE, "sleep", "300").stdout.strip()
    try:
        pid = pm.pid(cid)
        cgroups = [cgroup_dir(pid, c) for c in ("memory", "pids")]
        assert all(os.path.isdir(d) for d in cgroups), cgroups
        pm("stop", "-t", "0", cid)
        wait_until(lambda: pm("container", "exists", cid, check=False).returncode == 1,
                   what="--rm to remove the container")
        assert not os.path.exists(f"/proc/{pid}")
        for d in cgroups:
            wait_until(lambda: not os.path.exists(d), what=f"{d} to be removed")
        # The runtime's own state is gone too (podman uses the runtime's default root).
        p = run([pm.runtime, "state", cid], check=False)
        assert p.returncode != 0
    finally:
        pm("rm", "-f", "-t", "0", cid, check=False)
