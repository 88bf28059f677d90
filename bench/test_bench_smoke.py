"""Smoke test of the benchmark: a --quick run must work and leave nothing behind.

It asserts no timing: the benchmark is not a timed test. Needs root (namespaces, cgroups).
Run: /usr/bin/python3 -m pytest bench/test_bench_smoke.py
"""
import glob
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "run.sh")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the benchmark needs root")


def leftovers():
    """What a benchmark run could leave on the host: cgroups, scratch dirs, mounts, processes."""
    mounts = open("/proc/self/mountinfo").read()
    return {
        "cgroups": sorted(glob.glob("/sys/fs/cgroup/*/skiff-bench-*")),
        "workdirs": sorted(glob.glob("/tmp/skiff-bench.*")),
        "mounts": [l for l in mounts.splitlines() if "skiff-bench" in l],
        "procs": subprocess.run(["pgrep", "-f", "bench/driver|sleep 1000000"],
                                capture_output=True, text=True).stdout.split(),
    }


def run_bench(*args):
    return subprocess.run([RUN, "--quick", "--no-install", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def clean_host():
    before = leftovers()
    yield
    assert leftovers() == before


def test_quick_run_prints_tables_for_available_runtimes(clean_host):
    r = run_bench("--runtimes", "skiff,crun,runc", "--syscalls")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "### Latency" in out and "### Per command" in out
    assert "| run(+delete) | floor |" in out
    assert "### Syscalls" in out and "| floor |" in out.split("### Syscalls")[1]
    # skiff is what the benchmark is for: it must run a container, never be skipped
    assert "| lifecycle | skiff |" in out, out
    assert "SKIPPING skiff" not in out and "skiff not found" not in out, out
    for name in ("runc", "crun"):
        # a baseline is measured, or its absence or failure is said out loud
        measured = "| lifecycle | %s |" % name in out
        skipped = ("%s not found, skipping it" % name in out) or ("SKIPPING %s:" % name in out)
        assert measured or skipped, name


def test_a_skiff_that_cannot_run_a_container_fails_the_run(clean_host, tmp_path):
    """The check above can fail: a skiff that exits 1 on every command is reported, and the
    run does not print a skiff row as if it had been measured."""
    broken = tmp_path / "skiff"
    broken.write_text("#!/bin/sh\necho broken >&2\nexit 1\n")
    broken.chmod(0o755)
    r = run_bench("--runtimes", str(broken), "--burst", "2")
    assert r.returncode != 0, r.stdout + r.stderr
    assert "SKIPPING skiff: skiff run failed (exit 1): broken" in r.stdout, r.stdout


def test_missing_baseline_is_skipped_not_fatal(clean_host):
    r = run_bench("--runtimes", "/nonexistent/crun", "--burst", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "crun not found, skipping it" in r.stdout
    assert "baseline crun not available" in r.stdout
    assert "| run(+delete) | floor |" in r.stdout
