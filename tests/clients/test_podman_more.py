"""More podman scenarios that users run every day: namespaces shared with the host or with
another container, user namespaces, stdin, tmpfs copy-up, device permissions, resource flags
and updates, and the lifecycle commands around a running container (exec -d, restart, rm -f,
events, healthcheck, ps)."""

import json
import os
import subprocess
import time

from helpers import cgroup_dir, read_cgroup, run, wait_until
from podman_env import IMAGE, pm, status_field  # noqa: F401  (pm is the fixture)


def host_ns(kind):
    return os.readlink(f"/proc/self/ns/{kind}")


# --- namespaces ------------------------------------------------------------------------------

def test_ipc_and_uts_host(pm):
    p = pm.run(["--ipc", "host", "--uts", "host"],
               ["sh", "-c", "readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; hostname"])
    assert p.returncode == 0, p.stderr
    ipc, uts, name = p.stdout.split()
    assert (ipc, uts, name) == (host_ns("ipc"), host_ns("uts"), os.uname().nodename)
    p = pm.run([], ["sh", "-c", "readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts"])
    assert set(p.stdout.split()).isdisjoint({host_ns("ipc"), host_ns("uts")}), p.stdout


def test_cgroupns_private_and_host(pm):
    p = pm.run(["--cgroupns", "private"], ["sh", "-c", "readlink /proc/self/ns/cgroup; "
                                                        "grep memory /proc/self/cgroup"])
    assert p.returncode == 0, p.stderr
    ns, line = p.stdout.split()
    assert ns != host_ns("cgroup") and line.endswith(":memory:/"), p.stdout
    p = pm.run(["--cgroupns", "host"], ["sh", "-c", "readlink /proc/self/ns/cgroup; "
                                                     "grep memory /proc/self/cgroup"])
    ns, line = p.stdout.split()
    assert ns == host_ns("cgroup") and pm.cgroup_parent in line, p.stdout


def test_join_another_containers_namespaces(pm):
    # --pid/--network/--ipc container:X give the runtime namespace paths to join.
    with pm.detached(["--ipc", "shareable"], ["sleep", "300"]) as target:
        pid = pm.pid(target)
        opts = [f"--pid=container:{target}", f"--network=container:{target}",
                f"--ipc=container:{target}"]
        p = pm.run(opts, ["sh", "-c", "for n in pid net ipc; do readlink /proc/self/ns/$n; "
                                      "done; ps -o args"])
        assert p.returncode == 0, p.stderr
        lines = p.stdout.splitlines()
        assert lines[:3] == [os.readlink(f"/proc/{pid}/ns/{k}") for k in ("pid", "net", "ipc")]
        assert any(l.strip() == "sleep 300" for l in lines[3:]), p.stdout


def test_user_namespace_mapping(pm):
    p = pm.run(["--uidmap", "0:200000:65536", "--gidmap", "0:200000:65536"],
               ["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; "
                            "touch /tmp/x && stat -c %u /tmp/x"])
    assert p.returncode == 0, p.stderr
    lines = [l.split() for l in p.stdout.splitlines()]
    assert lines[0] == ["0", "200000", "65536"] and lines[1] == ["0", "200000", "65536"]
    assert lines[2:] == [["0"], ["0"]], p.stdout
    p = pm.run([], ["readlink", "/proc/self/ns/user"])
    assert p.stdout.strip() == host_ns("user")  # no mapping asked, no user namespace


def test_user_namespace_process_runs_as_mapped_host_uid(pm):
    with pm.detached(["--uidmap", "0:300000:65536", "--gidmap", "0:300000:65536"],
                     ["sleep", "300"]) as cid:
        pid = pm.pid(cid)
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        assert status_field(status, "Uid").split()[0] == "300000"
        assert os.readlink(f"/proc/{pid}/ns/user") != host_ns("user")


# --- process settings ------------------------------------------------------------------------

def test_stdin_is_piped(pm):
    p = pm.run(["-i"], ["sh", "-c", "tr a-z A-Z; echo done"], input="hello stdin\n")
    assert (p.returncode, p.stdout) == (0, "HELLO STDIN\ndone\n"), p.stderr


def test_env_file(pm, session_dir):
    path = os.path.join(session_dir, "podman.env")
    with open(path, "w") as f:
        f.write("# a comment\nFIRST=one\nSECOND=two words\n")
    p = pm.run(["--env-file", path], ["sh", "-c", 'echo "$FIRST|$SECOND"'])
    assert (p.returncode, p.stdout) == (0, "one|two words\n"), p.stderr


def test_group_add_and_umask(pm):
    p = pm.run(["--user", "1000:1000", "--group-add", "4242", "--umask", "0077"],
               ["sh", "-c", "id -G; umask; touch /tmp/f; stat -c %a /tmp/f"])
    assert p.returncode == 0, p.stderr
    groups, umask, mode = p.stdout.split("\n")[:3]
    assert set(groups.split()) == {"1000", "4242"} and umask == "0077" and mode == "600", \
        p.stdout


def test_oom_score_adj(pm):
    p = pm.run(["--oom-score-adj", "500"], ["cat", "/proc/self/oom_score_adj"])
    assert (p.returncode, p.stdout) == (0, "500\n"), p.stderr


def test_cap_add_for_non_root_user(pm):
    # podman gives a non-root user its added capabilities as ambient ones.
    p = pm.run(["--user", "1000:1000", "--cap-add", "net_bind_service"],
               ["cat", "/proc/self/status"])
    assert p.returncode == 0, p.stderr
    assert int(status_field(p.stdout, "CapEff"), 16) & (1 << 10), p.stdout
    p = pm.run(["--user", "1000:1000"], ["cat", "/proc/self/status"])
    assert int(status_field(p.stdout, "CapEff"), 16) == 0


def test_init_forwards_signals(pm):
    # With --init, catatonit is pid 1 and forwards stop's TERM to the trapping shell.
    with pm.detached(["--init"], ["sh", "-c",
                                  "trap 'exit 11' TERM; while :; do sleep 0.1; done"]) as cid:
        pm("stop", "-t", "20", cid)
        assert pm.inspect(cid)["State"]["ExitCode"] == 11


# --- filesystem ------------------------------------------------------------------------------

def test_tmpfs_copies_up_the_image_content(pm):
    # podman adds tmpcopyup to --tmpfs: the image's /etc shows through the new tmpfs.
    p = pm.run(["--tmpfs", "/etc"], ["sh", "-c", "grep ' /etc ' /proc/mounts; "
                                                 "head -1 /etc/passwd; touch /etc/new"])
    assert p.returncode == 0, p.stderr
    mount, first = p.stdout.splitlines()
    assert mount.startswith("tmpfs /etc tmpfs "), mount
    assert first.startswith("root:x:0:0:"), p.stdout


def test_shm_size(pm):
    p = pm.run(["--shm-size", "8m"], ["grep", " /dev/shm ", "/proc/mounts"])
    assert p.returncode == 0 and "size=8192k" in p.stdout, p.stdout + p.stderr


def test_masked_and_readonly_proc_paths(pm):
    p = pm.run([], ["sh", "-c", "wc -c < /proc/timer_list; "
                                "echo 1 > /proc/sys/kernel/panic_on_oops && echo wrote"])
    assert p.stdout.split()[0] == "0", p.stdout + p.stderr  # /dev/null bound over it
    assert "wrote" not in p.stdout and "Read-only file system" in p.stderr, p.stderr


def test_device_read_only_permission(pm):
    # /dev/loop-control is not in the default device list, so its :r rule alone decides;
    # opening it changes nothing on the host.
    p = pm.run(["--device", "/dev/loop-control:/dev/xloop:r"],
               ["sh", "-c", "exec 3</dev/xloop && echo read-ok; exec 4<>/dev/xloop && echo rw-ok"])
    assert p.stdout == "read-ok\n" and "Operation not permitted" in p.stderr, \
        p.stdout + p.stderr
    p = pm.run(["--device", "/dev/loop-control:/dev/xloop"],
               ["sh", "-c", "exec 4<>/dev/xloop && echo rw-ok"])
    assert (p.returncode, p.stdout) == (0, "rw-ok\n"), p.stderr


def test_named_volume_persists(pm):
    name = "skiff-vol"
    pm("volume", "create", name)
    try:
        p = pm.run(["-v", f"{name}:/data"], ["sh", "-c", "echo kept > /data/f"])
        assert p.returncode == 0, p.stderr
        p = pm.run(["-v", f"{name}:/data"], ["cat", "/data/f"])
        assert (p.returncode, p.stdout) == (0, "kept\n"), p.stderr
    finally:
        pm("volume", "rm", "-f", name, check=False)


def test_rootfs_directory(pm, session_dir, rootfs_tar):
    root = os.path.join(session_dir, "podman-rootfs")
    os.makedirs(root, exist_ok=True)
    run(["tar", "-xf", rootfs_tar, "-C", root])
    p = pm("run", "--rm", *pm._opts([]), "--rootfs", root, "sh", "-c",
           "echo from-dir > /tmp/mark; cat /tmp/mark", check=False)
    assert (p.returncode, p.stdout) == (0, "from-dir\n"), p.stderr
    assert open(os.path.join(root, "tmp", "mark")).read() == "from-dir\n"


# --- resources -------------------------------------------------------------------------------

def test_cpu_shares_and_cpuset(pm):
    with pm.detached(["--cpu-shares", "512", "--cpuset-cpus", "0"], ["sleep", "300"]) as cid:
        pid = pm.pid(cid)
        assert read_cgroup(pid, "cpu", "cpu.shares") == "512"
        assert read_cgroup(pid, "cpuset", "cpuset.cpus") == "0"
        p = pm("exec", cid, "grep", "Cpus_allowed_list", "/proc/self/status")
        assert p.stdout.split()[-1] == "0", p.stdout


def test_memory_reservation(pm):
    with pm.detached(["--memory", "64m", "--memory-reservation", "32m"], ["sleep", "300"]) as cid:
        pid = pm.pid(cid)
        assert read_cgroup(pid, "memory", "memory.soft_limit_in_bytes") == str(32 << 20)


def test_update_resources(pm):
    with pm.detached(["--memory", "64m"], ["sleep", "300"]) as cid:
        pid = pm.pid(cid)
        pm("update", "--memory", "96m", "--cpu-shares", "300", "--cpus", "0.25", cid)
        assert read_cgroup(pid, "memory", "memory.limit_in_bytes") == str(96 << 20)
        assert read_cgroup(pid, "cpu", "cpu.shares") == "300"
        period = int(read_cgroup(pid, "cpu", "cpu.cfs_period_us"))
        assert int(read_cgroup(pid, "cpu", "cpu.cfs_quota_us")) == period // 4
        assert pm.inspect(cid)["State"]["Running"]


# --- lifecycle -------------------------------------------------------------------------------

def test_exit_codes_of_run_rm(pm):
    assert pm.run([], ["true"]).returncode == 0
    assert pm.run([], ["sh", "-c", "exit 3"]).returncode == 3
    # An attached run killed from outside reports 128+9.
    name = "killed-run"
    proc = subprocess.Popen(pm.globals + ["run", "--rm", "--name", name, *pm._opts([]), IMAGE,
                                          "sleep", "300"],
                            env=pm.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: pm("inspect", "--format", "{{.State.Running}}", name,
                              check=False).stdout.strip() == "true", what="the run to start")
        pm("kill", name)
        assert proc.wait(30) == 137
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        pm("rm", "-f", "-t", "0", name, check=False)


def test_create_then_start_attached(pm):
    cid = pm("create", *pm._opts([]), IMAGE, "sh", "-c", "echo created-then-started; exit 4"
             ).stdout.strip()
    try:
        assert pm.inspect(cid)["State"]["Status"] == "created"
        p = pm("start", "-a", cid, check=False)
        assert p.stdout == "created-then-started\n", p.stderr
        assert pm.inspect(cid)["State"]["ExitCode"] == 4
    finally:
        pm("rm", "-f", cid, check=False)


def test_exec_detach_and_exec_errors(pm):
    with pm.detached([], ["sleep", "300"]) as cid:
        pm("exec", "-d", cid, "sh", "-c", "sleep 0.2; echo bg > /tmp/bg")
        pid = pm.pid(cid)
        wait_until(lambda: os.path.exists(f"/proc/{pid}/root/tmp/bg"), what="exec -d's file")
        p = pm("exec", cid, "nosuchcmd", check=False)
        assert p.returncode == 127 and "executable file not found" in p.stderr, p.stderr
        p = pm("exec", cid, "/etc/passwd", check=False)
        assert p.returncode == 126, (p.returncode, p.stderr)
        p = pm("exec", "-i", cid, "cat", check=False, input="through exec\n")
        assert (p.returncode, p.stdout) == (0, "through exec\n"), p.stderr


def test_restart_gives_a_new_process(pm):
    with pm.detached([], ["sleep", "300"]) as cid:
        old = pm.pid(cid)
        pm("restart", "-t", "0", cid)
        info = pm.inspect(cid)
        assert info["State"]["Status"] == "running" and info["State"]["Pid"] != old
        assert not os.path.exists(f"/proc/{old}/cmdline") or \
            open(f"/proc/{old}/cmdline").read() == ""
        assert pm("exec", cid, "echo", "again").stdout == "again\n"


def test_rm_force_running_container(pm):
    cid = pm("run", "-d", *pm._opts([]), IMAGE, "sleep", "300").stdout.strip()
    pid = pm.pid(cid)
    memcg = cgroup_dir(pid, "memory")
    try:
        pm("rm", "-f", "-t", "0", cid)
        assert pm("container", "exists", cid, check=False).returncode == 1
        wait_until(lambda: not os.path.exists(f"/proc/{pid}/cmdline")
                   or open(f"/proc/{pid}/cmdline").read() == "", what="the process to go")
        wait_until(lambda: not os.path.exists(memcg), what="the cgroup to go")
    finally:
        pm("rm", "-f", "-t", "0", cid, check=False)


def test_ps_shows_status(pm):
    with pm.detached([], ["sh", "-c", "exit 3"]) as done:
        assert pm("wait", done).stdout.strip() == "3"
        with pm.detached([], ["sleep", "300"]) as up:
            out = pm("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Status}}").stdout
            status = dict(l.split(" ", 1) for l in out.splitlines())
            assert status[up].startswith("Up"), out
            assert status[done].startswith("Exited (3)"), out


def test_events_start_and_died(pm):
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 1))
    with pm.detached([], ["sh", "-c", "exit 0"]) as cid:
        pm("wait", cid)
        out = pm("events", "--since", since, "--stream=false", "--filter",
                 f"container={cid}", "--format", "{{.Status}}").stdout.split()
        assert "start" in out and "died" in out, out
        assert out.index("start") < out.index("died"), out


def test_healthcheck_runs_through_exec(pm):
    with pm.detached(["--health-cmd", "test -e /tmp/healthy", "--health-interval", "0"],
                     ["sleep", "300"]) as cid:
        assert pm("healthcheck", "run", cid, check=False).returncode != 0
        pm("exec", cid, "touch", "/tmp/healthy")
        p = pm("healthcheck", "run", cid, check=False)
        assert p.returncode == 0, p.stdout + p.stderr


def test_top_with_descriptors(pm):
    with pm.detached(["--user", "1000:1000"], ["sleep", "300"]) as cid:
        out = pm("top", cid, "user", "pid", "args").stdout.splitlines()
        rows = [l.split() for l in out[1:]]
        assert ["1000", "1", "sleep", "300"] in rows or ["tester", "1", "sleep", "300"] in rows, \
            out


def test_stats_reports_pids_and_memory(pm):
    loop = "for i in 1 2 3; do sleep 300 & done; wait"
    with pm.detached(["--memory", "48m"], ["sh", "-c", loop]) as cid:
        wait_until(lambda: int(read_cgroup(pm.pid(cid), "pids", "pids.current")) >= 4,
                   what="the sleeps to start")
        stats = json.loads(pm("stats", "--no-stream", "--format", "json", cid).stdout)[0]
        assert int(stats["pids"]) == 4, stats
        assert stats["mem_usage"].endswith(" / 50.33MB"), stats
