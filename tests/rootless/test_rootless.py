"""skiff as an unprivileged user (issue 16): state root, --rootless, spec --rootless, id maps,
filesystem without privileges, no cgroup without delegation, every command as that user."""
import json
import os
import stat
import subprocess
import time

import pytest

from conftest import new_id, runtime_is_runc


def run_out(as_user, user, bundle, cid=None, **kw):
    """`run` of the bundle in the foreground; returns stdout."""
    res = as_user(user, ["run", "--bundle", bundle.path, cid or new_id()], **kw)
    return res.stdout


# ---- 1. running as a normal user ----------------------------------------------------------


def test_spec_rootless_bundle_runs_as_is(as_user, rbundle, users):
    u = users["owner"]
    b = rbundle(u)
    cfg = b.config
    types = [n["type"] for n in cfg["linux"]["namespaces"]]
    assert "user" in types and "network" not in types
    assert cfg["linux"]["uidMappings"] == [{"containerID": 0, "hostID": u.uid, "size": 1}]
    assert cfg["linux"]["gidMappings"] == [{"containerID": 0, "hostID": u.gid, "size": 1}]
    assert "resources" not in cfg["linux"]
    sys_mount = [m for m in cfg["mounts"] if m["destination"] == "/sys"][0]
    assert sys_mount["source"] == "/sys" and "rbind" in sys_mount["options"]
    for m in cfg["mounts"]:
        assert not any(o.startswith(("gid=", "uid=")) for o in m.get("options", [])), m
    b.args("sh", "-c", "id -u; id -g; cat /proc/self/uid_map")
    out = run_out(as_user, u, b).split("\n")
    assert out[0] == "0" and out[1] == "0"
    assert out[2].split() == ["0", str(u.uid), "1"]


def test_default_state_root_is_xdg_runtime_dir_0700(as_user, rbundle, users):
    u = users["owner"]
    b = rbundle(u)
    b.args("true")
    cid = new_id()
    as_user(u, ["create", "--bundle", b.path, cid])
    try:
        st = os.stat(u.state_root)
        assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == u.uid
        assert cid in os.listdir(u.state_root)
        listed = as_user(u, ["list", "-q"]).stdout.split()
        assert cid in listed
        state = json.loads(as_user(u, ["state", cid]).stdout)
        assert state["status"] == "created"
    finally:
        as_user(u, ["delete", "--force", cid])
    assert cid not in os.listdir(u.state_root)


def test_without_xdg_runtime_dir_the_root_is_run_skiff(as_user, rbundle, users):
    """runc's rule: no $XDG_RUNTIME_DIR, the system's root, which a user may not write."""
    u = users["owner"]
    b = rbundle(u)
    b.args("true")
    res = as_user(u, ["run", "--bundle", b.path, new_id()], xdg=False, check=False)
    assert res.returncode != 0
    name = "runc" if runtime_is_runc() else "skiff"
    assert f"/run/{name}" in res.stderr and "ermission denied" in res.stderr


def test_rootless_false_makes_cgroup_errors_fatal(as_user, rbundle, users):
    u = users["owner"]
    b = rbundle(u)
    b.args("true")
    res = as_user(u, ["run", "--bundle", b.path, new_id()], check=False,
                  global_args=["--rootless", "false"])
    assert res.returncode != 0
    assert "ermission denied" in res.stderr or "not permitted" in res.stderr
    # auto (the default) and true run the same config without a cgroup
    for value in ("auto", "true"):
        as_user(u, ["run", "--bundle", b.path, new_id()], global_args=["--rootless", value])


# ---- 2. user namespace and id maps -----------------------------------------------------------


def multi_range(u, size=1000):
    return ([{"containerID": 0, "hostID": u.uid, "size": 1},
             {"containerID": 1, "hostID": u.subuid[0], "size": size}],
            [{"containerID": 0, "hostID": u.gid, "size": 1},
             {"containerID": 1, "hostID": u.subgid[0], "size": size}])


def test_single_id_map_denies_setgroups(as_user, rbundle, users):
    u = users["owner"]
    b = rbundle(u)
    b.args("cat", "/proc/self/setgroups", "/proc/self/gid_map")
    out = run_out(as_user, u, b).split()
    assert out == ["deny", "0", str(u.gid), "1"]


def test_multi_range_maps_go_through_newuidmap(as_user, rbundle, users):
    u = users["owner"]
    b = rbundle(u)
    b.config["linux"]["uidMappings"], b.config["linux"]["gidMappings"] = multi_range(u)
    b.config["process"]["user"] = {"uid": 100, "gid": 100}
    b.args("sh", "-c", "id -u; id -g; cat /proc/self/uid_map; cat /proc/self/setgroups")
    out = run_out(as_user, u, b).split("\n")
    assert out[0] == "100" and out[1] == "100"
    assert [line.split() for line in out[2:4]] == [["0", str(u.uid), "1"],
                                                    ["1", str(u.subuid[0]), "1000"]]
    assert out[4] == "allow"  # newgidmap leaves setgroups allowed


def test_newuidmap_absent_is_one_error(as_user, rbundle, users, top):
    u = users["owner"]
    b = rbundle(u)
    b.config["linux"]["uidMappings"], b.config["linux"]["gidMappings"] = multi_range(u)
    b.args("true")
    empty = os.path.join(top, "empty-path")
    os.makedirs(empty, exist_ok=True)
    cid = new_id()
    res = as_user(u, ["run", "--bundle", b.path, cid], check=False, env={"PATH": empty})
    assert res.returncode != 0
    assert "linux.uidMappings" in res.stderr and "newuidmap" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert cid not in os.listdir(u.state_root)


@pytest.mark.skiff_only("the helper's own words in the error")
def test_helper_failure_says_what_the_helper_said(as_user, rbundle, users, top):
    u = users["owner"]
    b = rbundle(u)
    b.config["linux"]["uidMappings"], b.config["linux"]["gidMappings"] = multi_range(u)
    b.args("true")
    fake = os.path.join(top, "fake-helpers")
    os.makedirs(fake, exist_ok=True)
    with open(os.path.join(fake, "newuidmap"), "w") as f:
        f.write("#!/bin/sh\necho 'newuidmap: uid range [1-1001) -> [x) not allowed' >&2\nexit 1\n")
    os.chmod(os.path.join(fake, "newuidmap"), 0o755)
    cid = new_id()
    res = as_user(u, ["run", "--bundle", b.path, cid], check=False,
                  env={"PATH": fake + ":/usr/bin:/bin"})
    assert res.returncode != 0
    assert "linux.uidMappings" in res.stderr
    assert "uid range [1-1001) -> [x) not allowed" in res.stderr
    assert cid not in os.listdir(u.state_root)


@pytest.mark.parametrize("case", ["not-owned", "no-subids", "overlap"])
def test_bad_mappings_are_one_error_naming_the_field(as_user, rbundle, users, case):
    u = users["owner"] if case != "no-subids" else users["other"]
    b = rbundle(u)
    uids, gids = ([{"containerID": 0, "hostID": u.uid, "size": 1},
                   {"containerID": 1, "hostID": 5000000, "size": 10}],
                  [{"containerID": 0, "hostID": u.gid, "size": 1}])
    if case == "not-owned":
        uids = [{"containerID": 0, "hostID": 0, "size": 1}]  # host root
    if case == "overlap":
        uids = [{"containerID": 0, "hostID": u.uid, "size": 1},
                {"containerID": 0, "hostID": u.subuid[0], "size": 10}]
    b.config["linux"]["uidMappings"], b.config["linux"]["gidMappings"] = uids, gids
    b.args("true")
    cid = new_id()
    res = as_user(u, ["run", "--bundle", b.path, cid], check=False)
    assert res.returncode != 0
    assert "linux.uidMappings" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    want = {"not-owned": "not the caller's", "no-subids": "no subordinate ids",
            "overlap": "overlap"}[case]
    assert want in res.stderr
    assert not os.path.exists(os.path.join(u.state_root, cid))


# ---- 3. filesystem without privileges -------------------------------------------------------


def test_devices_are_the_hosts_files_and_sys_is_a_bind(as_user, rbundle, users):
    u = users["owner"]
    b = rbundle(u)
    b.args("sh", "-c", "echo hi > /dev/null && stat -c '%t:%T' /dev/null /dev/zero /dev/urandom"
           " && grep -c ' /sys ' /proc/self/mountinfo && head -c 4 /dev/zero | wc -c")
    out = run_out(as_user, u, b).split()
    assert out[:3] == ["1:3", "1:5", "1:9"]
    assert int(out[3]) >= 1 and out[4] == "4"


def test_sysfs_without_own_netns_falls_back_to_the_hosts(as_user, rbundle, users):
    """A config that asks for a fresh sysfs but shares the host's network namespace: a user
    namespace may not mount one, so /sys is bound read-only from the host (runc's fallback)."""
    u = users["owner"]
    b = rbundle(u)
    for m in b.config["mounts"]:
        if m["destination"] == "/sys":
            m.update({"type": "sysfs", "source": "sysfs",
                      "options": ["nosuid", "noexec", "nodev", "ro"]})
    b.args("sh", "-c", "grep ' /sys ' /proc/self/mountinfo | grep -v proc; ls /sys/kernel >/dev/null && echo ok")
    out = run_out(as_user, u, b).split("\n")
    assert "ro" in out[0].split()[5].split(",") and out[1] == "ok", out


@pytest.fixture
def locked_mount(top):
    """A host mount with ro,nosuid,nodev,noexec: a user namespace locks those flags."""
    d = os.path.join(top, "locked")
    os.makedirs(d, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=755", "tmpfs", d], check=True)
    with open(os.path.join(d, "f"), "w") as f:
        f.write("x")
    subprocess.run(["mount", "-o", "remount,ro,nosuid,nodev,noexec", d], check=True)
    yield d
    subprocess.run(["umount", "-l", d], check=True)


def test_locked_flags_are_kept_on_bind_remounts(as_user, rbundle, users, locked_mount):
    """Asked for rw,suid,dev,exec on a bind of such a mount, the container still gets it, with
    the locked flags kept (runc ORs them in); the options it may set still apply."""
    u = users["owner"]
    b = rbundle(u)
    b.config["mounts"].append({"destination": "/mnt", "type": "bind", "source": locked_mount,
                               "options": ["bind", "rw", "suid", "dev", "exec", "noatime", "rrw"]})
    b.args("sh", "-c", "cat /mnt/f; echo; grep ' /mnt ' /proc/self/mountinfo")
    out = run_out(as_user, u, b).split("\n")
    assert out[0] == "x"
    opts = out[1].split()[5].split(",")
    for flag in ("ro", "nosuid", "nodev", "noexec"):
        assert flag in opts, out[1]


def test_tmpcopyup_works_rootless(as_user, rbundle, users):
    u = users["owner"]
    b = rbundle(u)
    os.makedirs(os.path.join(b.rootfs, "data"), exist_ok=True)
    with open(os.path.join(b.rootfs, "data", "f"), "w") as f:
        f.write("from-image")
    subprocess.run(["chown", "-R", f"{u.uid}:{u.gid}", os.path.join(b.rootfs, "data")], check=True)
    b.config["mounts"].append({"destination": "/data", "type": "tmpfs", "source": "tmpfs",
                               "options": ["tmpcopyup"]})
    b.args("sh", "-c", "echo $(cat /data/f); grep -c ' /data ' /proc/self/mountinfo")
    out = run_out(as_user, u, b).split()
    assert out == ["from-image", "1"]


# ---- 4. cgroups without delegation -------------------------------------------------------


def test_limits_without_delegation_are_one_error(as_user, rbundle, users):
    u = users["owner"]
    b = rbundle(u)
    b.config["linux"]["resources"] = {"memory": {"limit": 64 << 20}}
    b.config["linux"]["cgroupsPath"] = "/rootless-test"
    b.args("true")
    cid = new_id()
    res = as_user(u, ["run", "--bundle", b.path, cid], check=False)
    assert res.returncode != 0
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    if not runtime_is_runc():
        assert "linux.resources" in res.stderr and "cgroup" in res.stderr
    assert not os.path.exists(os.path.join(u.state_root, cid))


def test_no_limits_run_without_a_cgroup(as_user, rbundle, users):
    u = users["owner"]
    b = rbundle(u)
    # device rules alone (runc's non-rootless default) need no cgroup
    b.config["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    b.args("cat", "/proc/self/cgroup")
    cid = new_id()
    out = run_out(as_user, u, b, cid=cid)
    assert cid not in out  # not in a cgroup of its own


# ---- 5. every command as the same user; another user sees nothing ------------------------


def test_every_command_as_the_user(as_user, rbundle, users):
    u = users["owner"]
    b = rbundle(u)
    b.args("sleep", "100")
    cid = new_id()
    as_user(u, ["run", "-d", "--bundle", b.path, cid])
    try:
        st = json.loads(as_user(u, ["state", cid]).stdout)
        assert st["status"] == "running"
        assert as_user(u, ["exec", cid, "cat", "/proc/self/uid_map"]).stdout.split() == \
            ["0", str(u.uid), "1"]
        ps = as_user(u, ["ps", "--format", "json", cid]).stdout
        assert st["pid"] in json.loads(ps)
        listed = as_user(u, ["list", "--format", "json"]).stdout
        entry = [c for c in json.loads(listed) if c["id"] == cid][0]
        assert entry["owner"] == u.name
        upd = as_user(u, ["update", "--memory", "64M", cid], check=False)
        assert upd.returncode != 0
        pause = as_user(u, ["pause", cid], check=False)
        assert pause.returncode != 0
        as_user(u, ["events", "--stats", cid])
        as_user(u, ["kill", cid, "KILL"])
        for _ in range(100):
            if json.loads(as_user(u, ["state", cid]).stdout)["status"] == "stopped":
                break
        assert json.loads(as_user(u, ["state", cid]).stdout)["status"] == "stopped"
        as_user(u, ["delete", cid])
        assert cid not in as_user(u, ["list", "-q"]).stdout.split()
    finally:
        as_user(u, ["delete", "--force", cid], check=False)


def test_no_cgroup_no_pid_ns_ps_and_kill_all_reach_execd_processes(as_user, rbundle, users):
    # Without a cgroup and without a pid namespace of its own, the container's processes are
    # the init's descendants and those in the mount namespace create made: an exec'd process
    # is a child of the runtime (then of a reaper), not of the init.
    u = users["owner"]
    b = rbundle(u)
    b.config["linux"]["namespaces"] = [n for n in b.config["linux"]["namespaces"]
                                       if n["type"] != "pid"]
    # a new proc needs a pid namespace of the user namespace's: the host's, bound
    b.config["mounts"] = [m if m["destination"] != "/proc" else
                          {"destination": "/proc", "type": "bind", "source": "/proc",
                           "options": ["rbind", "nosuid", "noexec", "nodev"]}
                          for m in b.config["mounts"]]
    b.args("sleep", "100")
    cid = new_id()
    as_user(u, ["run", "-d", "--bundle", b.path, cid])
    try:
        as_user(u, ["exec", "-d", cid, "sleep", "200"])
        init = json.loads(as_user(u, ["state", cid]).stdout)["pid"]
        execd = []
        for _ in range(50):
            execd = [p for p in json.loads(as_user(u, ["ps", "--format", "json", cid]).stdout)
                     if p != init and _cmdline(p) == ["sleep", "200"]]
            if execd:
                break
            time.sleep(0.1)
        assert len(execd) == 1, as_user(u, ["ps", cid]).stdout
        as_user(u, ["kill", "--all", cid, "KILL"])
        for _ in range(50):
            if _cmdline(execd[0]) != ["sleep", "200"]:
                break
            time.sleep(0.1)
        assert _cmdline(execd[0]) != ["sleep", "200"], "kill --all missed the exec'd process"
    finally:
        as_user(u, ["delete", "--force", cid], check=False)


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]
    except OSError:
        return None


def test_create_start_delete_as_the_user(as_user, rbundle, users):
    u = users["owner"]
    b = rbundle(u)
    out = os.path.join(b.rootfs, "tmp")
    b.config["root"]["readonly"] = False
    b.args("sh", "-c", "echo started > /tmp/mark")
    cid = new_id()
    as_user(u, ["create", "--bundle", b.path, cid])
    try:
        assert json.loads(as_user(u, ["state", cid]).stdout)["status"] == "created"
        as_user(u, ["start", cid])
        for _ in range(100):
            if json.loads(as_user(u, ["state", cid]).stdout)["status"] == "stopped":
                break
        with open(os.path.join(out, "mark")) as f:
            assert f.read() == "started\n"
        as_user(u, ["delete", cid])
    finally:
        as_user(u, ["delete", "--force", cid], check=False)


def test_another_user_cannot_see_or_touch(as_user, rbundle, users):
    a, other = users["owner"], users["other"]
    b = rbundle(a)
    b.args("sleep", "100")
    cid = new_id()
    as_user(a, ["run", "-d", "--bundle", b.path, cid])
    try:
        # in their own root: not there
        res = as_user(other, ["state", cid], check=False)
        assert res.returncode != 0 and "does not exist" in res.stderr
        assert cid not in as_user(other, ["list", "-q"]).stdout.split()
        # pointed at the owner's root: closed (0700)
        for args in (["state", cid], ["kill", cid, "KILL"], ["exec", cid, "true"]):
            res = as_user(other, args, check=False, root=a.state_root)
            assert res.returncode != 0, args
        # runc's delete --force is quiet about a container it cannot find: it must stay
        as_user(other, ["delete", "--force", cid], check=False, root=a.state_root)
        assert json.loads(as_user(a, ["state", cid]).stdout)["status"] == "running"
        assert as_user(other, ["list", "-q"], check=False, root=a.state_root).stdout.strip() == ""
        # an id that exists for the owner can be used by the other user for their own
        bo = rbundle(other)
        bo.args("true")
        as_user(other, ["run", "--bundle", bo.path, cid])
        assert json.loads(as_user(a, ["state", cid]).stdout)["status"] == "running"
    finally:
        as_user(a, ["delete", "--force", cid], check=False)


def test_unwritable_state_root_is_one_error(as_user, rbundle, users, top):
    u = users["owner"]
    b = rbundle(u)
    b.args("true")
    closed = os.path.join(top, "root-owned")
    os.makedirs(closed, exist_ok=True)
    os.chmod(closed, 0o755)
    cid = new_id()
    res = as_user(u, ["run", "--bundle", b.path, cid], check=False, root=closed)
    assert res.returncode != 0
    assert closed in res.stderr and "ermission denied" in res.stderr
    assert os.listdir(closed) == []
