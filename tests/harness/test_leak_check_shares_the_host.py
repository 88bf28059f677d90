"""The integration harness's leak check (tests/integration/conftest.py, fixture `rt`) must let
another suite run on the same host: a cgroup that run made under the runtime's shared parent
/skiff, during one of this run's tests, is neither reported as this test's leak nor removed.
An inner pytest session runs one test with the integration fixtures (loaded as a plugin) that
does what the other run would do."""
import os
import subprocess
import sys
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(os.path.dirname(HERE), "integration")

INNER = """
import os

def test_another_run_makes_a_cgroup(rt):
    os.makedirs(os.environ["FOREIGN_CGROUP"])
"""


def shared_parent():
    """/skiff where this host's containers get their cgroups: the v2 root, or a v1 hierarchy."""
    root = "/sys/fs/cgroup"
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        return os.path.join(root, "skiff")
    for ctrl in ("pids", "memory", "cpu"):
        if os.path.exists(os.path.join(root, ctrl, "cgroup.procs")):
            return os.path.join(root, ctrl, "skiff")
    pytest.fail("no cgroup hierarchy under /sys/fs/cgroup")


def test_a_cgroup_of_another_run_under_the_shared_parent_is_left_alone(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("needs root (cgroups)")
    parent = shared_parent()
    parent_was_there = os.path.isdir(parent)
    foreign = os.path.join(parent, f"other-run-{uuid.uuid4().hex[:8]}")
    (tmp_path / "test_inner.py").write_text(INNER)
    env = dict(os.environ, FOREIGN_CGROUP=foreign,
               PYTHONPATH=INTEGRATION + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "-p", "conftest", "--rootdir", str(tmp_path), str(tmp_path)],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
        assert os.path.isdir(foreign), "the harness removed another run's cgroup"
    finally:
        for d in (foreign,) + (() if parent_was_there else (parent,)):
            try:
                os.rmdir(d)
            except OSError:
                pass
