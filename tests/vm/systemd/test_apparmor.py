"""AppArmor for real: the systemd guest (tests/vm/test-systemd.sh) boots Debian's kernel, which
enables AppArmor, and systemd mounts securityfs. A profile that denies writing one file is
loaded with apparmor_parser; the container process must run under it (its
/proc/self/attr/current names it) and be refused the write; `exec --apparmor` (or the
container's profile) confines exec'd processes; an unknown profile fails `create` with an error
naming process.apparmorProfile and nothing left behind; a seccomp filter that refuses opening
files for writing cannot keep the profile off (skiff writes the attr before loading it).

The host tier has no AppArmor: tests/integration and tests/security check the warnings there.
"""
import json
import os
import shutil
import subprocess

import pytest

PROFILE = "skiff-test-deny-write"
RULES = f"""abi <abi/3.0>,
profile {PROFILE} flags=(attach_disconnected,mediate_deleted) {{
  file,
  capability,
  network,
  signal,
  unix,
  ptrace,
  umount,
  deny /forbidden w,
}}
"""


def apparmor_on():
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            enabled = f.read().startswith("Y")
    except OSError:
        return False
    return enabled and os.path.isdir("/sys/kernel/security/apparmor")


pytestmark = pytest.mark.skipif(not apparmor_on() or not shutil.which("apparmor_parser"),
                                reason="needs AppArmor enabled and apparmor_parser "
                                       "(the tests/vm systemd guest)")


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    path = tmp_path_factory.mktemp("apparmor") / PROFILE
    path.write_text(RULES)
    subprocess.run(["apparmor_parser", "-r", "-K", str(path)], check=True, capture_output=True)
    yield PROFILE
    subprocess.run(["apparmor_parser", "-R", "-K", str(path)], check=False, capture_output=True)


def loaded(name):
    with open("/sys/kernel/security/apparmor/profiles") as f:
        return any(line.split(" (")[0] == name for line in f)


def test_profile_confines_the_container(rt, bundle, profile):
    bundle.config["process"]["apparmorProfile"] = profile
    out = rt.sh(bundle, "cat /proc/self/attr/current; echo; "
                        "echo ok > /allowed && echo allowed; "
                        "(echo no > /forbidden) 2>/dev/null && echo WROTE || echo refused")
    lines = out.split()
    assert out.startswith(f"{profile} (enforce)"), out
    assert "allowed" in lines and "refused" in lines and "WROTE" not in lines, out
    assert not os.path.exists(bundle.in_rootfs("/forbidden"))
    assert os.path.exists(bundle.in_rootfs("/allowed"))


def test_profile_applies_in_a_user_namespace(rt, bundle, profile):
    """The attr is written after the init entered its new user namespace: AppArmor still
    takes it from a task that is root only there."""
    bundle.config["process"]["apparmorProfile"] = profile
    bundle.ns("user")
    maps = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["uidMappings"] = maps
    bundle.config["linux"]["gidMappings"] = maps
    assert rt.sh(bundle, "cat /proc/self/attr/current").strip() == f"{profile} (enforce)"


def test_unknown_profile_is_refused_leaving_nothing(rt, bundle, workdir):
    assert not loaded("skiff-no-such-profile")
    bundle.config["process"]["apparmorProfile"] = "skiff-no-such-profile"
    cid, res = rt.create(bundle, check=False)
    assert res.returncode != 0, res
    assert "process.apparmorProfile" in res.stderr, res.stderr
    assert "skiff-no-such-profile" in res.stderr and "not loaded" in res.stderr, res.stderr
    assert rt.state(cid, check=False) is None
    # the rt fixture checks that no process, mount, cgroup or state entry is left


def test_exec_takes_apparmor_flag_or_the_containers_profile(rt, bundle, profile, workdir):
    bundle.args("sleep 1000")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    try:
        cur = "cat /proc/self/attr/current"
        assert rt.run(["exec", cid, "sh", "-c", cur]).stdout.strip() == "unconfined"
        out = rt.run(["exec", "--apparmor", profile, cid, "sh", "-c",
                      f"{cur}; echo; (echo x > /forbidden) 2>/dev/null && echo WROTE || echo refused"]).stdout
        assert out.split() == [profile, "(enforce)", "refused"], out
        res = rt.run(["exec", "--apparmor", "skiff-no-such-profile", cid, "true"], check=False)
        assert res.returncode == 255 and "process.apparmorProfile" in res.stderr, res
    finally:
        rt.delete(cid, force=True)

    # A confined container: exec runs under its profile, with flags or with a process.json
    # that names none (runc's rule).
    bundle.config["process"]["apparmorProfile"] = profile
    cid, _ = rt.create(bundle)
    rt.start(cid)
    try:
        assert rt.run(["exec", cid, "cat", "/proc/self/attr/current"]).stdout.strip() == \
            f"{profile} (enforce)"
        proc = dict(bundle.config["process"], args=["cat", "/proc/self/attr/current"])
        del proc["apparmorProfile"]
        pj = os.path.join(workdir, "process.json")
        with open(pj, "w") as f:
            json.dump(proc, f)
        assert rt.run(["exec", "-p", pj, cid]).stdout.strip() == f"{profile} (enforce)"
    finally:
        rt.delete(cid, force=True)


def test_seccomp_refusing_writable_opens_cannot_keep_the_profile_off(rt, bundle, profile):
    """A filter that refuses every open for writing: a runtime that wrote attr/exec after
    loading it (runc's exec path does) could not confine the process."""
    refuse_wronly = {"index": 2, "value": 3, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["openat"], "action": "SCMP_ACT_ERRNO", "args": [refuse_wronly]}],
    }
    bundle.config["process"]["apparmorProfile"] = profile
    out = rt.sh(bundle, "cat /proc/self/attr/current; echo; "
                        "(echo x > /allowed) 2>/dev/null && echo WROTE || echo refused")
    assert out.split() == [profile, "(enforce)", "refused"], out
