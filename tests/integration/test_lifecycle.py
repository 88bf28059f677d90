"""create / start / state / kill / delete / run / list, observed from the state JSON and the host."""

import json
import os
import subprocess
import sys
import time

import pytest

SLEEPER = "sleep 1000"


def created(rt, bundle, script=SLEEPER, **kw):
    bundle.args(script)
    cid, _ = rt.create(bundle, **kw)
    return cid


def test_create_gives_created_state_with_pid_and_bundle(rt, bundle):
    cid = created(rt, bundle)
    st = rt.state(cid)
    assert st["id"] == cid
    assert st["status"] == "created"
    assert st["pid"] > 0
    assert os.path.exists(f"/proc/{st['pid']}")
    assert os.path.realpath(st["bundle"]) == os.path.realpath(bundle.path)
    assert "ociVersion" in st


def test_start_gives_running(rt, bundle):
    cid = created(rt, bundle)
    rt.start(cid)
    assert rt.state(cid)["status"] == "running"


def test_kill_gives_stopped(rt, bundle):
    cid = created(rt, bundle)
    rt.start(cid)
    rt.kill(cid, "KILL")
    rt.wait_status(cid, "stopped")


def test_delete_removes_container(rt, bundle):
    cid = created(rt, bundle)
    rt.start(cid)
    pid = rt.state(cid)["pid"]
    rt.kill(cid, "KILL")
    rt.wait_status(cid, "stopped")
    rt.delete(cid)
    res = rt.run(["state", cid], check=False)
    assert res.returncode != 0
    assert _dead(pid)


def _dead(pid, timeout=5):
    """Gone or a zombie (its new parent, pid 1, reaps it in its own time)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if ") Z " in f.read():
                    return True
        except OSError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_state_after_start_has_same_pid_as_created(rt, bundle):
    cid = created(rt, bundle)
    pid = rt.state(cid)["pid"]
    rt.start(cid)
    assert rt.state(cid)["pid"] == pid


@pytest.mark.parametrize("code", [0, 3, 42])
def test_run_exit_code_propagates(rt, bundle, code):
    bundle.args(f"exit {code}")
    rc, _, _ = rt.run_container(bundle)
    assert rc == code


def test_run_killed_by_signal_exits_128_plus_signal(rt, bundle):
    # no pid namespace: as pid 1 the shell would be immune to its own signal
    bundle.ns("pid", present=False)
    bundle.args("kill -TERM $$; sleep 5")
    rc, _, _ = rt.run_container(bundle)
    assert rc == 128 + 15


def test_run_stdout_reaches_caller(rt, bundle):
    bundle.args("echo hello-from-inside")
    rc, out, _ = rt.run_container(bundle)
    assert rc == 0
    assert out.strip() == "hello-from-inside"


def test_run_removes_container_afterwards(rt, bundle):
    bundle.args("true")
    cid = rt.new_id()
    rc, _, _ = rt.run_container(bundle, cid=cid)
    assert rc == 0
    assert rt.run(["state", cid], check=False).returncode != 0


def test_run_detached_leaves_running_container(rt, bundle):
    bundle.args(SLEEPER).write()
    cid = rt.new_id()
    rt.run(["run", "-d", "--bundle", bundle.path, cid])
    st = rt.state(cid)
    assert st["status"] == "running"
    assert st["pid"] > 0


def test_list_table(rt, bundle):
    cid = created(rt, bundle)
    out = rt.run(["list"]).stdout.splitlines()
    assert out[0].split()[:4] == ["ID", "PID", "STATUS", "BUNDLE"]
    rows = [line.split() for line in out[1:]]
    assert [r[:3] for r in rows] == [[cid, str(rt.state(cid)["pid"]), "created"]]


def test_list_json(rt, bundle):
    cid = created(rt, bundle)
    items = json.loads(rt.run(["list", "--format", "json"]).stdout)
    assert len(items) == 1
    item = items[0]
    assert item["id"] == cid
    assert item["status"] == "created"
    assert item["pid"] == rt.state(cid)["pid"]
    assert os.path.realpath(item["bundle"]) == os.path.realpath(bundle.path)


def test_list_json_keeps_runcs_field_order(rt, bundle):
    # scripts (runc's own tests among them) match `list -f json` as text: runc writes the
    # fields in its struct's order, not sorted
    created(rt, bundle)
    out = rt.run(["list", "--format", "json"]).stdout
    keys = list(json.loads(out, object_pairs_hook=lambda pairs: pairs)[0])
    names = [k for k, _ in keys]
    assert names == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"], names


def test_list_quiet(rt, make_bundle):
    a = created(rt, make_bundle())
    b = created(rt, make_bundle())
    out = rt.run(["list", "-q"]).stdout.split()
    assert sorted(out) == sorted([a, b])


def test_list_empty_root_is_empty(rt):
    assert rt.run(["list", "-q"]).stdout.strip() == ""


def test_state_of_unknown_id_fails(rt):
    res = rt.run(["state", "skit-no-such-container"], check=False)
    assert res.returncode != 0
    assert "container does not exist" in res.stderr


def test_duplicate_id_rejected(rt, make_bundle):
    cid = created(rt, make_bundle())
    b2 = make_bundle()
    b2.args(SLEEPER)
    _, res = rt.create(b2, cid=cid, check=False)
    assert res.returncode != 0
    assert "container with given ID already exists" in res.stderr
    # the first container is untouched
    assert rt.state(cid)["status"] == "created"


def test_start_twice_fails(rt, bundle):
    cid = created(rt, bundle)
    rt.start(cid)
    res = rt.start(cid, check=False)
    assert res.returncode != 0
    assert rt.state(cid)["status"] == "running"


def test_start_unknown_fails(rt):
    res = rt.run(["start", "skit-no-such-container"], check=False)
    assert res.returncode != 0
    assert "container does not exist" in res.stderr


@pytest.mark.parametrize("sig", ["SIGKILL", "KILL", "9"])
def test_kill_signal_spellings(rt, bundle, sig):
    cid = created(rt, bundle)
    rt.start(cid)
    rt.kill(cid, sig)
    rt.wait_status(cid, "stopped")


def test_kill_default_signal_is_term(rt, bundle):
    # the shell traps TERM and records it; a KILL could not be trapped
    marker = "/tmp/got-term"
    cid = created(rt, bundle, f"trap 'echo term > {marker}; exit 0' TERM; "
                              f"while true; do sleep 0.1; done")
    rt.start(cid)
    time.sleep(0.2)
    rt.run(["kill", cid])
    rt.wait_status(cid, "stopped")
    with open(bundle.in_rootfs(marker)) as f:
        assert f.read().strip() == "term"


def test_kill_stopped_container_fails(rt, bundle):
    cid = created(rt, bundle, "true")
    rt.start(cid)
    rt.wait_status(cid, "stopped")
    assert rt.kill(cid, "KILL", check=False).returncode != 0


def test_delete_running_without_force_fails(rt, bundle):
    cid = created(rt, bundle)
    rt.start(cid)
    res = rt.delete(cid, check=False)
    assert res.returncode != 0
    assert rt.state(cid)["status"] == "running"


def test_delete_running_with_force(rt, bundle):
    cid = created(rt, bundle)
    rt.start(cid)
    pid = rt.state(cid)["pid"]
    rt.delete(cid, force=True)
    assert rt.run(["state", cid], check=False).returncode != 0
    assert _dead(pid)


def test_delete_unknown_fails(rt):
    res = rt.run(["delete", "skit-no-such-container"], check=False)
    assert res.returncode != 0
    assert "container does not exist" in res.stderr


def test_pid_file_written(rt, bundle, workdir):
    pidfile = os.path.join(workdir, "ctr.pid")
    cid = created(rt, bundle, extra=["--pid-file", pidfile])
    with open(pidfile) as f:
        content = f.read()
    assert content.strip() == str(rt.state(cid)["pid"])


def test_create_then_delete_without_start(rt, bundle, workdir):
    marker = os.path.join(workdir, "ran")
    bundle.args("touch /ran")
    cid, _ = rt.create(bundle)
    pid = rt.state(cid)["pid"]
    rt.delete(cid)
    assert rt.run(["state", cid], check=False).returncode != 0
    assert not os.path.exists(bundle.in_rootfs("/ran")), "user process ran without start"
    assert not os.path.exists(marker)
    assert _dead(pid)


def test_process_does_not_run_before_start(rt, bundle):
    cid = created(rt, bundle, "touch /started; sleep 1000")
    time.sleep(0.3)
    assert not os.path.exists(bundle.in_rootfs("/started"))
    rt.start(cid)
    deadline = time.monotonic() + 5
    while not os.path.exists(bundle.in_rootfs("/started")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.exists(bundle.in_rootfs("/started"))


def test_annotations_in_state(rt, bundle):
    bundle.config["annotations"] = {"org.skiff.test": "yes"}
    cid = created(rt, bundle)
    assert rt.state(cid).get("annotations", {}).get("org.skiff.test") == "yes"


@pytest.mark.skiff_only(reason="runc 1.1.5 races: a losing create can remove the winner's state "
                               "dir, orphaning its process (seen about 1 run in 3)")
def test_concurrent_create_same_id_exactly_one_wins(rt, bundle):
    bundle.args(SLEEPER).write()
    cid = rt.new_id()
    cmd = [rt.binary, "--root", rt.root, "create", "--bundle", bundle.path, cid]
    procs = []
    outs = []
    for i in range(20):
        out = open(os.path.join(rt.workdir, f"c{i}.out"), "w+")
        outs.append(out)
        procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                      stderr=subprocess.STDOUT))
    codes = [p.wait(timeout=60) for p in procs]
    for o in outs:
        o.close()
    assert codes.count(0) == 1, f"exit codes: {codes}"
    assert rt.state(cid)["status"] == "created"
    assert rt.run(["list", "-q"]).stdout.split() == [cid]


def test_invalid_id_rejected(rt, bundle):
    bundle.args(SLEEPER)
    _, res = rt.create(bundle, cid="../escape", check=False)
    assert res.returncode != 0
    assert not os.path.exists(os.path.join(rt.workdir, "escape"))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


@pytest.mark.skiff_only("the layout of skiff's state root")
def test_state_is_one_file_with_the_config(rt, bundle):
    # Every file made per container is an inode to find on the state root's filesystem (costly
    # on ext4 without a journal): create makes the state file and the exec fifo, nothing else.
    cid = created(rt, bundle)
    assert sorted(os.listdir(rt.root)) == [cid, cid + ":exec.fifo"]
    # the config as given, then the record on the last line
    with open(os.path.join(rt.root, cid)) as f:
        config, record = f.read().rstrip(" \n").rsplit("\n", 1)
    assert json.loads(record)["id"] == cid
    with open(os.path.join(bundle.path, "config.json")) as f:
        assert config == f.read()
    rt.start(cid)
    assert os.listdir(rt.root) == [cid]
    # exec takes its defaults from the saved config even when the bundle's is gone.
    os.rename(os.path.join(bundle.path, "config.json"), os.path.join(bundle.path, "moved.json"))
    r = rt.run(["exec", cid, "echo", "from-saved-config"])
    assert r.stdout.strip() == "from-saved-config"
    # list shows containers, not the fifo or files that are not ours
    open(os.path.join(rt.root, ".not-a-container"), "w").close()
    assert [c["id"] for c in json.loads(rt.run(["list", "--format", "json"]).stdout)] == [cid]
    os.unlink(os.path.join(rt.root, ".not-a-container"))


@pytest.mark.skiff_only("how skiff reads a state file that is being written")
def test_state_being_written_reads_as_creating_while_create_holds_the_lock(rt, bundle):
    import fcntl
    cid = created(rt, bundle)
    rt.start(cid)
    path = os.path.join(rt.root, cid)
    with open(path) as f:
        whole = f.read()
    lock = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as create holds it while it writes
        with open(path, "r+") as f:
            f.truncate(len(whole) // 2)  # a write caught half way: not JSON
        assert rt.state(cid)["status"] == "creating"
        with open(path, "r+") as f:
            f.write(whole)
        fcntl.flock(lock, fcntl.LOCK_UN)
        assert rt.state(cid)["status"] == "running"
    finally:
        os.close(lock)
    rt.delete(cid, force=True)


@pytest.mark.skiff_only("skiff's lock on the state file")
def test_a_command_waiting_for_a_deleted_container_finds_it_gone(rt, bundle):
    import fcntl
    cid = created(rt, bundle)
    pid = rt.state(cid)["pid"]
    path = os.path.join(rt.root, cid)
    with open(path) as f:
        saved = f.read()
    lock = os.open(path, os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)  # as a `delete` in progress holds it
    waiting = subprocess.Popen([rt.binary, "--root", rt.root, "start", cid],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    # what delete does while it holds the lock: the init dies, the files go
    os.kill(pid, 9)
    os.unlink(path + ":exec.fifo")
    os.unlink(path)
    os.close(lock)
    out, err = waiting.communicate(timeout=10)
    assert waiting.returncode != 0
    assert "container does not exist" in err
    with open(path, "w") as f:  # back, so that delete removes the cgroups this test left
        f.write(saved)
    rt.delete(cid, force=True)
