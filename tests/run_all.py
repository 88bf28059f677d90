#!/usr/bin/python3
"""Runs every test suite of `make test` and prints one closing line over all of them.

Each pytest directory runs as its own session (their conftest modules share a name, so one
session cannot import them all), the gtest unit tests through ctest, and the cgroup v2 tier
inside a VM. Counts come from each suite's JUnit XML; a suite that produced none (it crashed)
counts as one failure. Exit status: 0 only when nothing failed.

    tests/run_all.py [--only NAME[,NAME...]] [--skip NAME[,NAME...]]
"""
import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(REPO, "build"))
REPORTS = os.path.join(BUILD, "test-reports")
PYTEST = ["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE"]


def suites():
    """(name, command, junit path) in the order they run."""
    out = [("unit", ["ctest", "--test-dir", BUILD, "-j2", "--output-on-failure",
                     "--output-junit", os.path.join(REPORTS, "unit.xml")], "unit.xml")]
    out.append(("cgroup-v2-vm", [os.path.join(REPO, "tests/vm/test-cgroups-v2.sh"),
                                 "--junitxml=" + os.path.join(REPORTS, "vm.xml")], "vm.xml"))
    out.append(("systemd-vm", [os.path.join(REPO, "tests/vm/test-systemd.sh"),
                               "--junitxml=" + os.path.join(REPORTS, "systemd-vm.xml")], "systemd-vm.xml"))
    for name, path in [("integration", "tests/integration"), ("security", "tests/security"),
                       ("clients", "tests/clients"), ("fuzz-smoke", "tests/fuzz"),
                       ("bench-smoke", "bench/test_bench_smoke.py")]:
        if not os.path.exists(os.path.join(REPO, path)):
            continue
        xml = name + ".xml"
        out.append((name, PYTEST + ["--junitxml=" + os.path.join(REPORTS, xml), path], xml))
    return out


def counts(xml_path):
    """(passed, failed, skipped) from a JUnit XML file, or None when it is missing."""
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError):
        return None
    tests = failed = skipped = 0
    for suite in root.iter("testsuite"):
        tests += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", suite.get("disabled", 0)) or 0)
    return tests - failed - skipped, failed, skipped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--skip", default="")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    skip = set(filter(None, args.skip.split(",")))
    os.makedirs(REPORTS, exist_ok=True)
    env = dict(os.environ, SKIFF_RUNTIME=os.environ.get("SKIFF_RUNTIME", os.path.join(BUILD, "skiff")))
    total = [0, 0, 0]
    lines = []
    for name, cmd, xml in suites():
        if (only and name not in only) or name in skip:
            continue
        xml_path = os.path.join(REPORTS, xml)
        if os.path.exists(xml_path):
            os.unlink(xml_path)
        print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
        start = time.monotonic()
        rc = subprocess.run(cmd, cwd=REPO, env=env).returncode
        c = counts(xml_path)
        if c is None or (rc != 0 and c[1] == 0):
            # No report, or a failure the report does not show (a crash, a leak check).
            c = (c[0] if c else 0, (c[1] if c else 0) + 1, c[2] if c else 0)
        for i in range(3):
            total[i] += c[i]
        lines.append(f"{name:14s} {c[0]:5d} passed {c[1]:4d} failed {c[2]:4d} skipped"
                     f"  ({time.monotonic() - start:.0f} s, exit {rc})")
    print("\n=== summary")
    for line in lines:
        print(line)
    print(f"{total[0]} passed, {total[1]} failed, {total[2]} skipped")
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main())
