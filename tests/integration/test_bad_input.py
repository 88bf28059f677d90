"""Bad input, table-driven: config.json mutations, bundle problems, command-line problems and
state problems. Each case must give a non-zero exit (not a signal death) within seconds, exactly
one line on stderr naming what was wrong (the JSON path for config errors), the same message as
the last "level":"error" entry of `--log F --log-format json`, and leave nothing behind: the
`rt` fixture's leak check covers --root entries, mounts under the test dir, cgroups named after
the test's ids and processes; each case also checks that a pid file was not written and that a
container that existed before the bad command is still there, unchanged."""

import json
import os
import time

import pytest

from conftest import default_config, runtime_is_runc

pytestmark = pytest.mark.skiff_only(reason="asserts skiff's messages, JSON paths and --log shape")

DEADLINE = 5.0  # seconds an error may take


def expect_error(rt, args, want, workdir, global_args=(), logged=True):
    """Runs the runtime with a JSON log; checks every bad-input invariant; returns the line.
    logged=False: the error is in the global flags themselves, found before --log is set up."""
    log = os.path.join(workdir, f"log-{time.monotonic_ns()}.json")
    t0 = time.monotonic()
    res = rt.run(args, check=False, timeout=20,
                 global_args=["--log", log, "--log-format", "json", *global_args])
    took = time.monotonic() - t0
    assert res.returncode > 0, f"want a non-zero exit, not a signal death: {res}"
    assert took < DEADLINE, f"took {took:.1f} s: {res}"
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"want one line on stderr: {res.stderr!r}"
    line = lines[0]
    for w in ([want] if isinstance(want, str) else want):
        assert w in line, f"{w!r} not in {line!r}"
    if not logged:
        assert not os.path.exists(log)
        return line
    with open(log, encoding="utf-8") as f:  # strict: the log must be valid UTF-8 JSON
        entries = [json.loads(x) for x in f if x.strip()]
    errors = [e for e in entries if e.get("level") == "error"]
    assert errors, f"no error entry in --log: {entries}"
    assert line == "skiff: " + errors[-1]["msg"], (line, errors[-1])
    os.unlink(log)
    return line


# ---- config.json mutations -------------------------------------------------------------------

def _set(path, value):
    """A mutation that sets config[path...] = value (path is a tuple of keys/indexes)."""
    def mutate(c):
        node = c
        for key in path[:-1]:
            if isinstance(key, str) and key not in node:
                node[key] = {}
            node = node[key]
        node[path[-1]] = value
    return mutate


def _drop(*path):
    def mutate(c):
        node = c
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return mutate


def _append(path, value):
    def mutate(c):
        node = c
        for key in path:
            node = node.setdefault(key, []) if isinstance(node, dict) else node[key]
        node.append(value)
    return mutate


def _all(*mutations):
    def mutate(c):
        for m in mutations:
            m(c)
    return mutate


NS5 = "linux.namespaces[5]"  # the default config lists five namespaces
MAPS = _all(_set(("linux", "uidMappings"), [{"containerID": 0, "hostID": 100000, "size": 65536}]),
            _set(("linux", "gidMappings"), [{"containerID": 0, "hostID": 100000, "size": 65536}]),
            _append(("linux", "namespaces"), {"type": "user"}))

CONFIG_CASES = [
    # (case id, mutation of the default config, what the message must contain)
    ("oci-version-missing", _drop("ociVersion"), "ociVersion"),
    ("oci-version-number", _set(("ociVersion",), 1), "ociVersion"),
    ("oci-version-empty", _set(("ociVersion",), ""), "ociVersion"),
    ("process-string", _set(("process",), "sh"), "process"),
    ("args-string", _set(("process", "args"), "sh -c true"), "process.args"),
    ("args-empty", _set(("process", "args"), []), "process.args"),
    ("args-number", _set(("process", "args"), [1]), "process.args[0]"),
    ("cwd-relative", _set(("process", "cwd"), "tmp"), "process.cwd"),
    ("cwd-missing", _drop("process", "cwd"), "process.cwd"),
    ("uid-2^40", _set(("process", "user", "uid"), 2 ** 40), "process.user.uid"),
    ("uid-negative", _set(("process", "user", "uid"), -1), "process.user.uid"),
    ("uid-fraction", _set(("process", "user", "uid"), 1.5), "process.user.uid"),
    ("gid-string", _set(("process", "user", "gid"), "0"), "process.user.gid"),
    ("additional-gid-negative", _set(("process", "user", "additionalGids"), [5, -5]),
     "process.user.additionalGids[1]"),
    ("env-no-equals", _set(("process", "env"), ["PATH=/bin", "NOEQUALS"]), "process.env[1]"),
    ("env-number", _set(("process", "env"), [5]), "process.env[0]"),
    ("rlimit-unknown", _set(("process", "rlimits"), [{"type": "RLIMIT_BOGUS", "soft": 1,
                                                       "hard": 1}]),
     "process.rlimits[0].type"),
    ("rlimit-duplicate", _append(("process", "rlimits"), {"type": "RLIMIT_NOFILE", "soft": 1,
                                                          "hard": 1}),
     "process.rlimits[1].type"),
    ("rlimit-no-hard", _set(("process", "rlimits"), [{"type": "RLIMIT_NOFILE", "soft": 1}]),
     "process.rlimits[0].hard"),
    ("rlimit-soft-above-hard", _set(("process", "rlimits"),
                                    [{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}]),
     "process.rlimits[0].soft"),
    ("caps-not-array", _set(("process", "capabilities", "bounding"), "CAP_KILL"),
     "process.capabilities.bounding"),
    ("oom-score-adj-range", _set(("process", "oomScoreAdj"), 5000), "process.oomScoreAdj"),
    ("terminal-string", _set(("process", "terminal"), "yes"), "process.terminal"),
    ("terminal-without-socket", _set(("process", "terminal"), True), "console socket"),
    ("no-new-privs-string", _set(("process", "noNewPrivileges"), "true"),
     "process.noNewPrivileges"),
    ("io-priority-class", _set(("process", "ioPriority"), {"class": "IOPRIO_CLASS_FAST",
                                                          "priority": 1}),
     "process.ioPriority.class"),
    ("scheduler-policy", _set(("process", "scheduler"), {"policy": "SCHED_FASTEST"}),
     "process.scheduler.policy"),
    ("root-missing", _drop("root"), "root"),
    ("root-path-missing", _drop("root", "path"), "root.path"),
    ("root-readonly-string", _set(("root", "readonly"), "no"), "root.readonly"),
    ("mounts-object", _set(("mounts",), {"destination": "/x"}), "mounts"),
    ("mount-no-destination", _append(("mounts",), {"type": "tmpfs", "source": "tmpfs"}),
     "mounts[6].destination"),
    ("mount-empty-destination", _append(("mounts",), {"destination": "", "type": "tmpfs"}),
     "mounts[6].destination"),
    ("mount-option-number", _append(("mounts",), {"destination": "/mnt", "type": "tmpfs",
                                                  "options": [1]}),
     "mounts[6].options[0]"),
    ("mount-unknown-fstype", _append(("mounts",), {"destination": "/mnt", "type": "nosuchfs",
                                                   "source": "none"}),
     "/mnt"),
    ("mount-bind-missing-source", _append(("mounts",), {"destination": "/mnt",
                                                        "source": "/no/such/source",
                                                        "options": ["bind"]}),
     "/no/such/source"),
    ("hook-relative-path", _set(("hooks",), {"prestart": [{"path": "bin/true"}]}),
     "hooks.prestart[0].path"),
    ("hook-zero-timeout", _set(("hooks",), {"createRuntime": [{"path": "/bin/true",
                                                               "timeout": 0}]}),
     "hooks.createRuntime[0].timeout"),
    ("hook-no-path", _set(("hooks",), {"poststop": [{"args": ["x"]}]}), "hooks.poststop[0].path"),
    ("hook-fails", _set(("hooks",), {"createRuntime": [{"path": "/bin/false"}]}),
     "createRuntime hook #0"),
    ("hook-missing-binary", _set(("hooks",), {"prestart": [{"path": "/no/such/hook"}]}),
     "/no/such/hook"),
    ("hostname-number", _set(("hostname",), 42), "hostname"),
    ("hostname-without-uts", _all(_set(("linux", "namespaces"), [{"type": "mount"}])),
     "hostname"),
    ("annotation-number", _set(("annotations",), {"a": 1}), "annotations.a"),
    ("linux-array", _set(("linux",), []), "linux"),
    ("namespace-unknown", _append(("linux", "namespaces"), {"type": "nosuchns"}),
     NS5 + ".type"),
    ("namespace-duplicate", _append(("linux", "namespaces"), {"type": "pid"}), NS5 + ".type"),
    ("namespace-newline", _append(("linux", "namespaces"), {"type": "pid\nfake line"}),
     NS5 + ".type"),
    ("namespace-relative-path", _append(("linux", "namespaces"), {"type": "cgroup",
                                                                 "path": "proc/1/ns/cgroup"}),
     NS5 + ".path"),
    ("namespace-missing-path", _set(("linux", "namespaces"),
                                    [{"type": "mount"}, {"type": "uts"},
                                     {"type": "network", "path": "/no/such/netns"}]),
     "/no/such/netns"),
    ("userns-without-maps", _append(("linux", "namespaces"), {"type": "user"}),
     "linux.uidMappings"),
    ("uid-map-host-2^40", _all(MAPS, _set(("linux", "uidMappings"),
                                          [{"containerID": 0, "hostID": 2 ** 40, "size": 1}])),
     "linux.uidMappings[0].hostID"),
    ("uid-map-past-end", _all(MAPS, _set(("linux", "uidMappings"),
                                         [{"containerID": 0, "hostID": 4294967295,
                                           "size": 2}])),
     "linux.uidMappings[0]"),
    ("device-type", _set(("linux", "devices"), [{"path": "/dev/x", "type": "x", "major": 1,
                                                "minor": 3}]),
     "linux.devices[0].type"),
    ("device-relative-path", _set(("linux", "devices"), [{"path": "dev/x", "type": "c",
                                                          "major": 1, "minor": 3}]),
     "linux.devices[0].path"),
    ("device-duplicate", _set(("linux", "devices"), [
        {"path": "/dev/x", "type": "c", "major": 1, "minor": 3},
        {"path": "/dev/x", "type": "c", "major": 1, "minor": 5}]), "linux.devices[1].path"),
    ("memory-limit-string", _set(("linux", "resources"), {"memory": {"limit": "lots"}}),
     "linux.resources.memory.limit"),
    ("cpu-shares-negative", _set(("linux", "resources"), {"cpu": {"shares": -1}}),
     "linux.resources.cpu.shares"),
    ("pids-limit-string", _set(("linux", "resources"), {"pids": {"limit": "10"}}),
     "linux.resources.pids.limit"),
    ("device-rule-access", _set(("linux", "resources"), {"devices": [{"allow": True,
                                                                      "access": "xyz"}]}),
     "linux.resources.devices[0].access"),
    ("cgroups-path-number", _set(("linux", "cgroupsPath"), 7), "linux.cgroupsPath"),
    ("sysctl-number", _set(("linux", "sysctl"), {"kernel.msgmax": 8192}),
     "linux.sysctl"),
    ("sysctl-net-without-netns", _all(
        _set(("linux", "namespaces"), [{"type": "mount"}, {"type": "uts"}]),
        _set(("linux", "sysctl"), {"net.ipv4.ip_forward": "1"})), "net.ipv4.ip_forward"),
    ("rootfs-propagation", _set(("linux", "rootfsPropagation"), "sideways"),
     "linux.rootfsPropagation"),
    ("mount-one-sided-idmap", _append(("mounts",), {"destination": "/mnt", "type": "bind",
                                                    "source": "/tmp", "options": ["bind"],
                                                    "uidMappings": [{"containerID": 0,
                                                                     "hostID": 1000,
                                                                     "size": 1}]}),
     "mounts[6].gidMappings"),
    ("seccomp-default-action", _set(("linux", "seccomp"), {"defaultAction": "SCMP_ACT_MAYBE"}),
     "linux.seccomp.defaultAction"),
    ("seccomp-architecture", _set(("linux", "seccomp"), {"defaultAction": "SCMP_ACT_ALLOW",
                                                         "architectures": ["SCMP_ARCH_Z80"]}),
     "linux.seccomp.architectures[0]"),
    ("personality-domain", _set(("linux", "personality"), {"domain": "WINDOWS"}),
     "linux.personality.domain"),
    ("time-offsets-clock", _set(("linux", "timeOffsets"), {"realtime": {"secs": 1}}),
     "linux.timeOffsets"),
    ("args-missing-binary", _set(("process", "args"), ["/no/such/binary"]), "/no/such/binary"),
]


@pytest.mark.parametrize("mutate,want", [pytest.param(m, w, id=i) for i, m, w in CONFIG_CASES])
def test_bad_config(rt, bundle, workdir, mutate, want):
    bundle.args("touch /ran")
    mutate(bundle.config)
    bundle.write()
    cid = rt.new_id()
    pid_file = os.path.join(workdir, "pid")
    expect_error(rt, ["create", "--bundle", bundle.path, "--pid-file", pid_file, cid], want,
                 workdir)
    assert not os.path.exists(pid_file)
    assert not os.path.exists(bundle.in_rootfs("/ran"))
    assert rt.run(["state", cid], check=False).returncode != 0


def _write_raw(bundle, text):
    with open(os.path.join(bundle.path, "config.json"), "w") as f:
        f.write(text)


RAW_CASES = [
    ("not-json", lambda c: "this is not json", "not valid JSON"),
    ("truncated", lambda c: json.dumps(c)[:200], "not valid JSON"),
    ("empty-file", lambda c: "", "config.json"),
    ("top-level-array", lambda c: "[]", "config.json"),
    ("top-level-null", lambda c: "null", "config.json"),
    ("invalid-utf8", lambda c: json.dumps(c).replace('"skiff-it"', '"\udcff"', 1)
     .encode("utf-8", "surrogateescape").decode("latin-1"), "config.json"),
    ("deep-nesting", lambda c: '{"ociVersion": "1.0.2", "annotations": ' + "[" * 200000
     + "]" * 200000 + "}", "root: required"),
]


@pytest.mark.parametrize("make,want", [pytest.param(m, w, id=i) for i, m, w in RAW_CASES])
def test_bad_config_text(rt, bundle, workdir, make, want):
    text = make(default_config())
    with open(os.path.join(bundle.path, "config.json"), "w", encoding="latin-1") as f:
        f.write(text)
    cid = rt.new_id()
    expect_error(rt, ["create", "--bundle", bundle.path, cid], want, workdir)


def test_ten_megabyte_config(rt, bundle, workdir):
    """10 MB of environment, then one bad entry at the end: found, quickly, by its index."""
    env = [f"VAR{i}={'x' * 1000}" for i in range(10000)]
    bundle.config["process"]["env"] = env + ["BROKEN"]
    bundle.write()
    assert os.path.getsize(os.path.join(bundle.path, "config.json")) > 10_000_000
    expect_error(rt, ["create", "--bundle", bundle.path, rt.new_id()], "process.env[10000]",
                 workdir)


# ---- bundle problems -------------------------------------------------------------------------

def _bundle_missing(bundle, workdir):
    return os.path.join(workdir, "no-such-bundle")


def _bundle_is_file(bundle, workdir):
    path = os.path.join(workdir, "a-file")
    open(path, "w").close()
    return path


def _no_config(bundle, workdir):
    return bundle.path  # never written


def _config_is_dir(bundle, workdir):
    os.mkdir(os.path.join(bundle.path, "config.json"))
    return bundle.path


def _config_dangling(bundle, workdir):
    os.symlink("/no/such/config.json", os.path.join(bundle.path, "config.json"))
    return bundle.path


def _rootfs_file(bundle, workdir):
    open(os.path.join(bundle.path, "afile"), "w").close()
    bundle.config["root"]["path"] = "afile"
    bundle.write()
    return bundle.path


def _rootfs_dangling(bundle, workdir):
    os.symlink("no-such-dir", os.path.join(bundle.path, "dangling"))
    bundle.config["root"]["path"] = "dangling"
    bundle.write()
    return bundle.path


def _rootfs_loop(bundle, workdir):
    os.symlink("loop", os.path.join(bundle.path, "loop"))
    bundle.config["root"]["path"] = "loop"
    bundle.write()
    return bundle.path


def _rootfs_missing(bundle, workdir):
    bundle.config["root"]["path"] = "/no/such/rootfs"
    bundle.write()
    return bundle.path


BUNDLE_CASES = [
    ("bundle-missing", _bundle_missing, "no-such-bundle"),
    ("bundle-is-file", _bundle_is_file, "config.json"),
    ("no-config", _no_config, "config.json"),
    ("config-is-dir", _config_is_dir, "config.json"),
    ("config-dangling-symlink", _config_dangling, "config.json"),
    ("rootfs-is-file", _rootfs_file, "afile"),
    ("rootfs-dangling-symlink", _rootfs_dangling, "dangling"),
    ("rootfs-symlink-loop", _rootfs_loop, "loop"),
    ("rootfs-missing", _rootfs_missing, "/no/such/rootfs"),
]


@pytest.mark.parametrize("prepare,want", [pytest.param(p, w, id=i) for i, p, w in BUNDLE_CASES])
def test_bad_bundle(rt, bundle, workdir, prepare, want):
    path = prepare(bundle, workdir)
    cid = rt.new_id()
    expect_error(rt, ["create", "--bundle", path, cid], want, workdir)
    assert rt.run(["state", cid], check=False).returncode != 0


# ---- command-line problems -------------------------------------------------------------------

CLI_CASES = [
    # (case id, argv after --root; "{b}" is the bundle, "{id}" a fresh id, what must be named)
    ("id-256-chars", ["create", "--bundle", "{b}", "{id}" + "x" * 245], "255 characters"),
    ("unknown-command-flag", ["create", "--bogus", "--bundle", "{b}", "{id}"], "-bogus"),
    ("flag-without-value", ["create", "--bundle"], "-bundle"),
    ("bool-flag-bad-value", ["delete", "--force=maybe", "{id}"], "maybe"),
    ("unknown-command", ["frobnicate", "{id}"], "frobnicate"),
    ("create-without-id", ["create", "--bundle", "{b}"], "container id cannot be empty"),
    ("start-without-id", ["start"], "container id cannot be empty"),
    ("empty-id", ["create", "--bundle", "{b}", ""], "container id cannot be empty"),
    ("id-with-slash", ["create", "--bundle", "{b}", "{id}/x"], "invalid container id"),
    ("id-dotdot", ["create", "--bundle", "{b}", ".."], "invalid container id"),
    ("id-dotdot-path", ["create", "--bundle", "{b}", "../{id}"], "invalid container id"),
    ("id-dot", ["create", "--bundle", "{b}", "."], "invalid container id"),
    ("id-newline", ["create", "--bundle", "{b}", "{id}\nx"], "invalid container id"),
    ("id-1000-chars", ["create", "--bundle", "{b}", "{id}" + "x" * 980], "255 characters"),
    ("id-1000-chars-state", ["state", "{id}" + "x" * 980], "255 characters"),
    ("preserve-fds-negative", ["create", "--preserve-fds", "-1", "--bundle", "{b}", "{id}"],
     "preserve-fds"),
    ("preserve-fds-text", ["create", "--preserve-fds=many", "--bundle", "{b}", "{id}"],
     "preserve-fds"),
    ("console-socket-missing", ["create", "--console-socket", "/no/such/sock", "--bundle", "{b}",
                                "{id}"], "/no/such/sock"),
    ("pid-file-dir-missing", ["create", "--pid-file", "/no/such/dir/pid", "--bundle", "{b}",
                              "{id}"], "/no/such/dir/pid"),
    ("kill-bad-signal-number", ["kill", "{id}", "99"], "99"),
    # 0 is a valid signal (the liveness probe): what fails is the missing container
    ("kill-signal-zero", ["kill", "{id}", "0"], "does not exist"),
    ("list-bad-format", ["list", "--format", "yaml"], "yaml"),
]


@pytest.mark.parametrize("argv,want", [pytest.param(a, w, id=i) for i, a, w in CLI_CASES])
def test_bad_command_line(rt, bundle, workdir, argv, want):
    bundle.write()
    cid = rt.new_id()
    args = [a.replace("{b}", bundle.path).replace("{id}", cid) for a in argv]
    expect_error(rt, args, want, workdir)
    assert not os.path.exists(rt.root) or os.listdir(rt.root) == []


@pytest.mark.parametrize("argv,want", [
    (["--bogus", "state", "x"], "-bogus"),
    (["--log-format", "xml", "state", "x"], "log-format"),
    (["--debug=maybe", "state", "x"], "maybe")], ids=["unknown", "log-format", "bool-value"])
def test_bad_global_flag(rt, workdir, argv, want):
    expect_error(rt, argv, want, workdir, logged=False)


def test_root_is_a_file(rt, bundle, workdir):
    bundle.write()
    root = os.path.join(workdir, "root-file")
    open(root, "w").close()
    expect_error(rt, ["create", "--bundle", bundle.path, rt.new_id()], "root-file", workdir,
                 global_args=["--root", root])
    assert os.path.isfile(root)


# ---- state problems --------------------------------------------------------------------------

@pytest.fixture
def sleeper(rt, bundle):
    """A created (not started) container whose process would sleep."""
    bundle.args("sleep 30")
    cid, _ = rt.create(bundle)
    return cid


def _status(rt, cid):
    return rt.state(cid)["status"]


def test_start_twice(rt, workdir, sleeper):
    rt.start(sleeper)
    expect_error(rt, ["start", sleeper], "running", workdir)
    assert _status(rt, sleeper) == "running"


def test_start_stopped(rt, bundle, workdir):
    cid, _ = rt.create(bundle.args("true"))
    rt.start(cid)
    rt.wait_status(cid, "stopped")
    expect_error(rt, ["start", cid], "stopped", workdir)


def test_kill_unknown_signal(rt, workdir, sleeper):
    expect_error(rt, ["kill", sleeper, "SIGFOO"], "SIGFOO", workdir)
    assert _status(rt, sleeper) == "created"


def test_kill_stopped(rt, bundle, workdir):
    cid, _ = rt.create(bundle.args("true"))
    rt.start(cid)
    rt.wait_status(cid, "stopped")
    expect_error(rt, ["kill", cid, "KILL"], "not running", workdir)


def test_delete_running_without_force(rt, workdir, sleeper):
    rt.start(sleeper)
    expect_error(rt, ["delete", sleeper], ["not stopped", sleeper], workdir)
    assert _status(rt, sleeper) == "running"


def test_create_existing_id(rt, bundle, workdir, sleeper):
    before = rt.state(sleeper)
    expect_error(rt, ["create", "--bundle", bundle.path, sleeper], "already exists", workdir)
    assert rt.state(sleeper) == before


def test_resume_not_paused(rt, workdir, sleeper):
    rt.start(sleeper)
    expect_error(rt, ["resume", sleeper], "not paused", workdir)
    assert _status(rt, sleeper) == "running"


def test_exec_in_stopped(rt, bundle, workdir):
    cid, _ = rt.create(bundle.args("true"))
    rt.start(cid)
    rt.wait_status(cid, "stopped")
    expect_error(rt, ["exec", cid, "true"], "stopped", workdir)


def test_update_bad_resources(rt, workdir, sleeper):
    res = os.path.join(workdir, "res.json")
    with open(res, "w") as f:
        json.dump({"pids": {"limit": "lots"}}, f)
    expect_error(rt, ["update", "--resources", res, sleeper], "pids.limit", workdir)


@pytest.mark.parametrize("argv", [["state"], ["start"], ["kill"], ["delete"], ["pause"],
                                  ["resume"], ["ps"], ["exec"], ["events", "--stats"]],
                         ids=lambda a: a[0])
def test_unknown_id(rt, workdir, argv):
    cid = rt.new_id()
    args = argv + [cid] + (["true"] if argv == ["exec"] else [])
    expect_error(rt, args, "does not exist", workdir)
    assert not os.path.exists(os.path.join(rt.root, cid))


def test_state_unchanged_by_failed_commands(rt, workdir, sleeper):
    """A run of bad commands against one created container leaves it created and startable."""
    before = rt.state(sleeper)
    expect_error(rt, ["kill", sleeper, "NOPE"], "NOPE", workdir)
    expect_error(rt, ["delete", "--bogus", sleeper], "-bogus", workdir)
    expect_error(rt, ["resume", sleeper], "not paused", workdir)
    assert rt.state(sleeper) == before
    rt.start(sleeper)
    assert _status(rt, sleeper) == "running"


@pytest.mark.skiff_only(reason="runc words a bad --user differently")
@pytest.mark.parametrize("user", ["1x", "1000:x", ":5", "1000:"])
def test_exec_bad_user(rt, workdir, sleeper, user):
    """Each part of uid[:gid] must be a number (the gid part was once read through a pointer
    into a destroyed temporary: AddressSanitizer's stack-use-after-scope)."""
    rt.start(sleeper)
    expect_error(rt, ["exec", "--user", user, sleeper, "true"],
                 f'invalid --user "{user}": expected uid[:gid]', workdir)


def test_exec_user_and_group(rt, sleeper):
    rt.start(sleeper)
    out = rt.run(["exec", "--user", "1000:1001", sleeper, "sh", "-c", "id -u; id -g"]).stdout
    assert out.split() == ["1000", "1001"]
