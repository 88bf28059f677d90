"""checkpoint and restore on this host (issue 17): runc's flags parse, bad input is refused
before CRIU runs, and where CRIU cannot work (no criu, or `criu check` fails, as on this
project's 6.18 development hosts) both commands refuse at once, in one line, and leave the
container as it was. The working case runs in the tests/vm guest (tests/vm/criu)."""
import json
import os
import shutil
import subprocess

import pytest

CRIU = shutil.which("criu") or ("/usr/sbin/criu" if os.path.exists("/usr/sbin/criu") else None)


def _criu_check_fails():
    if CRIU is None:
        return True
    try:
        return subprocess.run([CRIU, "check"], capture_output=True, timeout=60).returncode != 0
    except (OSError, subprocess.TimeoutExpired):
        return True


def one_line(res):
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res
    return lines[0]


def running(rt, bundle):
    bundle.args("sleep 1000")
    cid, _ = rt.create(bundle)
    rt.start(cid)
    return cid, rt.state(cid)["pid"]


CHECKPOINT_FLAGS = ["--work-path", "{w}", "--leave-running", "--tcp-established", "--ext-unix-sk",
                    "--shell-job", "--file-locks", "--manage-cgroups-mode", "soft",
                    "--empty-ns", "network", "--auto-dedup"]
RESTORE_FLAGS = ["--work-path", "{w}", "--tcp-established", "--ext-unix-sk", "--shell-job",
                 "--file-locks", "--manage-cgroups-mode", "full", "-d", "--pid-file", "{w}/p",
                 "--no-subreaper", "--no-pivot", "--empty-ns", "network", "--auto-dedup",
                 "--lsm-profile", "apparmor:x", "--lsm-mount-context", "y"]


@pytest.mark.skipif(not _criu_check_fails(), reason="CRIU works on this kernel: tests/vm/criu covers it")
@pytest.mark.skiff_only("the refusal's words are skiff's")
def test_checkpoint_and_restore_refuse_where_criu_cannot_work(rt, bundle, workdir):
    cid, pid = running(rt, bundle)
    w = os.path.join(workdir, "work")
    images = os.path.join(workdir, "images")
    flags = [f.replace("{w}", w) for f in CHECKPOINT_FLAGS]
    res = rt.run(["checkpoint", "--image-path", images, *flags, cid], check=False, timeout=90)
    line = one_line(res)
    assert res.returncode != 0 and "checkpoint is not supported on this host" in line, res
    assert ("criu check" in line) or ("not found" in line), line
    # nothing was stopped, frozen or written
    st = rt.state(cid)
    assert st["status"] == "running" and st["pid"] == pid, st
    assert not os.path.exists(images)
    # restore refuses the same way, before it makes a record or a cgroup
    os.mkdir(images)
    open(os.path.join(images, "inventory.img"), "wb").write(b"\0" * 16)
    open(os.path.join(images, "descriptors.json"), "w").write('["/dev/null","/dev/null","/dev/null"]')
    new = rt.new_id()
    flags = [f.replace("{w}", w) for f in RESTORE_FLAGS]
    res = rt.run(["restore", "--image-path", images, "--bundle", bundle.path, *flags, new],
                 check=False, timeout=90)
    line = one_line(res)
    assert res.returncode != 0 and "restore is not supported on this host" in line, res
    assert rt.state(new, check=False) is None
    assert sorted(os.listdir(rt.root)) == [cid]
    rt.delete(cid, force=True)


@pytest.mark.skiff_only("--criu with a missing binary: runc's error differs")
def test_a_missing_criu_binary_is_one_clear_line(rt, bundle, workdir):
    cid, pid = running(rt, bundle)
    missing = os.path.join(workdir, "no-criu-here")
    res = rt.run(["checkpoint", "--image-path", os.path.join(workdir, "i"), cid], check=False,
                 global_args=["--criu", missing])
    line = one_line(res)
    assert res.returncode != 0 and f"no CRIU at {missing}" in line, res
    assert rt.state(cid)["status"] == "running"
    rt.delete(cid, force=True)


def test_checkpoint_of_a_container_that_is_not_running(rt, bundle, workdir):
    bundle.args("sleep 1000")
    cid, _ = rt.create(bundle)
    res = rt.run(["checkpoint", "--image-path", os.path.join(workdir, "i"), cid], check=False)
    assert res.returncode != 0
    assert "cannot be checkpointed in created state" in res.stderr, res
    assert rt.state(cid)["status"] == "created"
    rt.delete(cid, force=True)


@pytest.mark.skiff_only("runc asks CRIU first on a host where it cannot work")
def test_bad_flag_values_are_refused_before_criu_runs(rt, bundle, workdir):
    cid, pid = running(rt, bundle)
    i = os.path.join(workdir, "i")
    for flags, words in ((["--manage-cgroups-mode", "bogus"], "invalid manage-cgroups-mode value"),
                         (["--empty-ns", "ipc"], "invalid --empty-ns ipc"),
                         (["--page-server", "nohost"], "invalid --page-server nohost")):
        res = rt.run(["checkpoint", "--image-path", i, *flags, cid], check=False)
        assert res.returncode != 0 and words in one_line(res), res
    assert rt.state(cid)["status"] == "running"
    rt.delete(cid, force=True)


def test_parent_path_is_checked_before_criu(rt, bundle, workdir):
    # --parent-path is relative to the image path and must name an existing directory; both
    # are refused first, whether or not CRIU could work, and the container is left running
    cid, pid = running(rt, bundle)
    images = os.path.join(workdir, "images")
    os.mkdir(images)
    open(os.path.join(images, "afile"), "w").close()
    for parent, words in ((os.path.join(workdir, "parent"), "--parent-path must be relative"),
                          ("missing", "invalid --parent-path"),
                          ("afile", "invalid --parent-path")):
        res = rt.run(["checkpoint", "--image-path", images, "--parent-path", parent, cid],
                     check=False, timeout=90)
        assert res.returncode != 0 and words in res.stderr, (parent, res)
        assert "not supported on this host" not in res.stderr, res
    st = rt.state(cid)
    assert st["status"] == "running" and st["pid"] == pid, st
    rt.delete(cid, force=True)


@pytest.mark.skiff_only("the restore checks are skiff's")
def test_restore_refuses_missing_images_and_an_existing_id(rt, bundle, workdir):
    bundle.write()
    res = rt.run(["restore", "-d", "--image-path", os.path.join(workdir, "none"), "--bundle",
                  bundle.path, rt.new_id()], check=False)
    assert res.returncode != 0 and "does not exist" in one_line(res), res
    empty = os.path.join(workdir, "empty")
    os.mkdir(empty)
    res = rt.run(["restore", "-d", "--image-path", empty, "--bundle", bundle.path, rt.new_id()],
                 check=False)
    assert res.returncode != 0 and "no inventory.img" in one_line(res), res
    cid, _ = running(rt, bundle)
    open(os.path.join(empty, "inventory.img"), "wb").write(b"\0" * 16)
    open(os.path.join(empty, "descriptors.json"), "w").write('["/dev/null","/dev/null","/dev/null"]')
    res = rt.run(["restore", "-d", "--image-path", empty, "--bundle", bundle.path, cid], check=False)
    assert res.returncode != 0 and "already exists" in one_line(res), res
    assert rt.state(cid)["status"] == "running"
    rt.delete(cid, force=True)


def test_callers_see_the_support(rt):
    # podman: `runtime checkpoint --help` exiting 0 means the runtime can checkpoint
    assert rt.run(["checkpoint", "--help"]).returncode == 0
    assert "--lsm-mount-context" in rt.run(["restore", "--help"]).stdout
    feats = json.loads(rt.run(["features"]).stdout)
    assert feats["annotations"]["org.opencontainers.runc.checkpoint.enabled"] == "true"
