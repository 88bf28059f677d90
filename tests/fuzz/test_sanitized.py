"""The unit tests, and the integration tests where skiff parses and handles memory, against an
ASan+UBSan build (CMake option SKIFF_SANITIZE) in <repo>/build-asan (or $SKIFF_ASAN_BUILD).

The build, and why (each skiff command of the integration tests starts the sanitizer runtime):
- -O0 -g1: line tables are enough to place a report, and the objects lose most of their debug
  information. Not -O1: inlining copies each check with its sanitizer data, which doubled the
  objects' text and data (measured), so the start-up and the leak scan below grew with it.
- not position-independent (CMakeLists.txt): a PIE relocated the sanitizers' ~870k pointers at
  every start: 0.29 s of CPU per command, 0.19 s without (measured, `skiff state`).
- only `skiff` (with its skiff-systemd) and `unit_tests`: no docs, no docgen.
- a unity build (CMake batches the sources into a few translation units): the headers, JSON's
  above all, are compiled once per batch instead of once per file. 2 min 19 s against 4 min
  48 s on this 2-core machine (measured); the release build stays one unit per file.

Sanitizer settings, and why:
- detect_leaks=1 for the unit tests and the integration tests of the life cycle and the error
  paths: skiff's forked children either execve (the init, hooks) or leave with _exit, so
  LeakSanitizer only runs when a runtime command itself ends, and a leak there makes the
  command exit 23, which fails the test that ran it. Its scan of the sanitizers' 24 MB of
  globals doubles a command's start-up cost (0.08 s of CPU), so the other files run without.
- malloc_context_size=8: a report still names the allocating frames; each malloc unwinds less.
- Symbolization stays on: it costs only when there is a report to read.
- UBSAN halt_on_error=1: undefined behaviour fails the command instead of printing a line.
`make asan-test` runs the whole integration suite on the same build."""

import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SOURCE = os.environ.get("SKIFF_ASAN_SOURCE", REPO)
BUILD = os.environ.get("SKIFF_ASAN_BUILD", os.path.join(REPO, "build-asan"))

SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0:"
                    "malloc_context_size=8",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}

# This unit test's child installs an allow-list of exit/exit_group/getpid only; ASan's _exit
# interceptor then needs sigaltstack/gettid/write, gets ENOTSUP, and exits 1. A property of the
# test under a sanitizer runtime, not of skiff; it runs in the plain build.
UNIT_EXCLUDE = ["SeccompFilter.DefaultErrnoWithAllowList"]

# The integration tests where parsing and memory handling live (the whole suite is `make
# asan-test`): every command's life cycle and state records (lifecycle), exec and its process
# JSON (process), bad configs and flags, each an error path that must free what it made and
# leave nothing (bad_input, errors), mount options and fd-based path resolution (mounts_ext),
# the seccomp profile compiled to BPF (seccomp), hooks and the state piped to them (hooks), the
# console socket, SCM_RIGHTS and the pty relay's buffers (terminal), netlink messages and node
# and cpu lists (settings). Left to the release build: cgroup files, namespaces, rootfs and
# conformance checks, which add commands but little code of their own.
def integration(*names):
    return [f"tests/integration/test_{name}.py" for name in names]


LEAK_CHECKED = integration("lifecycle", "bad_input", "errors")
NOT_LEAK_CHECKED = integration("process", "mounts_ext", "seccomp", "hooks", "terminal", "settings")

# Debug, with CMake's debug flags replaced: see the docstring.
CMAKE_ARGS = ["-DCMAKE_BUILD_TYPE=Debug", "-DSKIFF_SANITIZE=ON", "-DCMAKE_UNITY_BUILD=ON",
              "-DCMAKE_CXX_FLAGS_DEBUG=-g1", "-DCMAKE_C_FLAGS_DEBUG=-g1"]


@pytest.fixture(scope="module")
def asan_build():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    subprocess.run(["cmake", "-S", SOURCE, "-B", BUILD, *CMAKE_ARGS], check=True,
                   capture_output=True, timeout=300)
    res = subprocess.run(["cmake", "--build", BUILD, "-j2", "--target", "skiff", "unit_tests"],
                         capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return BUILD


def test_unit_tests_under_asan(asan_build):
    res = subprocess.run([os.path.join(asan_build, "unit_tests"),
                          "--gtest_filter=-" + ":".join(UNIT_EXCLUDE), "--gtest_brief=1"],
                         cwd=asan_build, env=dict(os.environ, **SAN_ENV), capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    assert "PASSED" in res.stdout


@pytest.mark.parametrize("files, leaks", [(LEAK_CHECKED, True), (NOT_LEAK_CHECKED, False)],
                         ids=["leak-checked", "asan-ubsan-only"])
def test_integration_under_asan(asan_build, files, leaks):
    env = dict(os.environ, **SAN_ENV, SKIFF_RUNTIME=os.path.join(asan_build, "skiff"))
    if not leaks:
        env["ASAN_OPTIONS"] = env["ASAN_OPTIONS"].replace("detect_leaks=1", "detect_leaks=0")
    res = subprocess.run(["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-rfE", *files], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=1500)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
