#!/usr/bin/python3
"""Runs every test suite of `make test` and prints one closing line over all of them.

Each pytest directory runs as its own session (their conftest modules share a name, so one
session cannot import them all), the gtest unit tests through ctest, and the cgroup v2 tier
inside a VM. Counts come from each suite's JUnit XML. Green means tested, so each of these
counts as a failure of its suite:
- no JUnit report (the suite crashed), or a non-zero exit the report does not show;
- a suite that passed nothing;
- a skipped (or xfail) test that tests/expected_skips.py does not name;
- a suite path that does not exist;
- a runtime binary that is not built (every runtime suite would skip): the run stops there.
Exit status: 0 only when nothing failed. The last lines of each failed suite's output are
shown again after the summary: a CI log that keeps only its end still says why.

    tests/run_all.py [--only NAME[,NAME...]] [--skip NAME[,NAME...]]
"""
import argparse
import collections
import os
import subprocess
import sys
import time
import fnmatch
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from expected_skips import EXPECTED  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(REPO, "build"))
REPORTS = os.path.join(BUILD, "test-reports")
PYTEST = ["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE"]


# (name, path that must exist, command, junit file), in the order they run.
PYTEST_SUITES = [("harness", "tests/harness"), ("integration", "tests/integration"), ("security", "tests/security"),
                 ("rootless", "tests/rootless"),
                 ("clients", "tests/clients"), ("fuzz-smoke", "tests/fuzz"),
                 ("bench-smoke", "bench/test_bench_smoke.py"), ("packaging", "tests/packaging"),
                 ("vm-isolation", "tests/vmiso")]


def suites():
    out = [("unit", os.path.join(BUILD, "CTestTestfile.cmake"),
            ["ctest", "--test-dir", BUILD, "-j2", "--output-on-failure",
             "--output-junit", os.path.join(REPORTS, "unit.xml")], "unit.xml"),
           ("cgroup-v2-vm", "tests/vm/test-cgroups-v2.sh",
            [os.path.join(REPO, "tests/vm/test-cgroups-v2.sh"),
             "--junitxml=" + os.path.join(REPORTS, "vm.xml")], "vm.xml"),
           ("systemd-vm", "tests/vm/test-systemd.sh",
            [os.path.join(REPO, "tests/vm/test-systemd.sh"),
             "--junitxml=" + os.path.join(REPORTS, "systemd-vm.xml")], "systemd-vm.xml"),
           ("criu-vm", "tests/vm/test-criu.sh",
            [os.path.join(REPO, "tests/vm/test-criu.sh"),
             "--junitxml=" + os.path.join(REPORTS, "criu-vm.xml")], "criu-vm.xml")]
    for name, path in PYTEST_SUITES:
        xml = name + ".xml"
        out.append((name, path, PYTEST + ["--junitxml=" + os.path.join(REPORTS, xml), path], xml))
    return out


def read_report(xml_path):
    """(passed, failed, [skipped test keys]) from a JUnit XML file, or None when it is missing.
    A key is `classname::name`, or the name alone where they are the same (ctest)."""
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError):
        return None
    passed = failed = 0
    skipped = []
    for case in root.iter("testcase"):
        name, cls = case.get("name", ""), case.get("classname", "")
        key = name if cls in ("", name) else f"{cls}::{name}"
        if case.find("failure") is not None or case.find("error") is not None \
                or case.get("status") == "fail":
            failed += 1
        elif case.find("skipped") is not None or case.get("status") in ("notrun", "disabled"):
            skipped.append(key)
        else:
            passed += 1
    return passed, failed, skipped


def run_echoing(cmd, env, keep=14):
    """Runs cmd with its output (stdout and stderr) copied to ours; returns (status, its last
    `keep` lines)."""
    tail = collections.deque(maxlen=keep + 1)
    partial = b""
    with subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT) as proc:
        # Chunks, not lines: pytest's progress dots show as they come.
        while chunk := os.read(proc.stdout.fileno(), 65536):
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            *lines, partial = (partial + chunk).split(b"\n")
            tail.extend(lines)
    if partial:
        tail.append(partial)
    return proc.returncode, [line.decode(errors="replace") for line in tail][-keep:]


def unexpected_skips(suite, skipped):
    # Only `*` is a wildcard: test parameters are spelled in brackets ("test[rshared-True]").
    allowed = [pat.replace("[", "[[]") for pat in EXPECTED.get(suite, {})]
    return [k for k in skipped if not any(fnmatch.fnmatchcase(k, pat) for pat in allowed)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--skip", default="")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    skip = set(filter(None, args.skip.split(",")))
    os.makedirs(REPORTS, exist_ok=True)
    runtime = os.environ.get("SKIFF_RUNTIME", os.path.join(BUILD, "skiff"))
    env = dict(os.environ, SKIFF_RUNTIME=runtime,
               SKIFF_UNIT_TESTS=os.environ.get("SKIFF_UNIT_TESTS", os.path.join(BUILD, "unit_tests")))
    if not os.access(runtime, os.X_OK):
        print(f"the runtime {runtime} is not built: every runtime suite would skip")
        print("0 passed, 1 failed, 0 skipped")
        return 1
    total = [0, 0, 0]
    lines, problems, tails = [], [], []
    for name, path, cmd, xml in suites():
        if (only and name not in only) or name in skip:
            continue
        if not os.path.exists(os.path.join(REPO, path)):
            problems.append(f"{name}: {path} does not exist")
            total[1] += 1
            lines.append(f"{name:14s}     0 passed    1 failed    0 skipped  (missing: {path})")
            continue
        xml_path = os.path.join(REPORTS, xml)
        if os.path.exists(xml_path):
            os.unlink(xml_path)
        print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
        start = time.monotonic()
        rc, tail = run_echoing(cmd, env)
        failed_before = len(problems)
        report = read_report(xml_path)
        passed, failed, skipped = report if report else (0, 0, [])
        if report is None:
            problems.append(f"{name}: no JUnit report (exit {rc})")
            failed += 1
        elif rc != 0 and failed == 0:
            problems.append(f"{name}: exit {rc} with no failed test in its report "
                            "(a session-level check failed; see its output)")
            failed += 1
        if report is not None and passed == 0:
            problems.append(f"{name}: passed nothing")
            failed += 1
        for key in unexpected_skips(name, skipped):
            problems.append(f"{name}: {key} skipped, and tests/expected_skips.py does not "
                            "name it")
            failed += 1
        if failed or len(problems) > failed_before:
            tails.append((name, tail))
        for i, n in enumerate((passed, failed, len(skipped))):
            total[i] += n
        lines.append(f"{name:14s} {passed:5d} passed {failed:4d} failed {len(skipped):4d} skipped"
                     f"  ({time.monotonic() - start:.0f} s, exit {rc})")
    print("\n=== summary")
    for line in lines:
        print(line)
    for name, tail in tails:
        print(f"--- the end of {name}'s output")
        for line in tail:
            print("    " + line)
    for p in problems:
        print("FAILED " + p)
    print(f"{total[0]} passed, {total[1]} failed, {total[2]} skipped")
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main())
