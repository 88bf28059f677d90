"""The unit tests and the integration tests against an ASan+UBSan
build (CMake option SKIFF_SANITIZE) in <repo>/build-asan (or $SKIFF_ASAN_BUILD).

Sanitizer settings, and why:
- detect_leaks=1: skiff's forked children either execve (the init, hooks) or leave with
  _exit, so LeakSanitizer only runs when a runtime command itself ends, and a leak there makes
  the command exit 23, which fails the test that ran it.
- UBSAN halt_on_error=1: undefined behaviour fails the command instead of printing a line.
The build is incremental; the first one takes a few minutes on two cores."""

import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SOURCE = os.environ.get("SKIFF_ASAN_SOURCE", REPO)
BUILD = os.environ.get("SKIFF_ASAN_BUILD", os.path.join(REPO, "build-asan"))

SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}

# This unit test's child installs an allow-list of exit/exit_group/getpid only; ASan's _exit
# interceptor then needs sigaltstack/gettid/write, gets ENOTSUP, and exits 1. A property of the
# test under a sanitizer runtime, not of skiff; it runs in the plain build.
UNIT_EXCLUDE = ["SeccompFilter.DefaultErrnoWithAllowList"]

# The whole integration suite: about three minutes under ASan on two busy cores.
INTEGRATION = ["tests/integration"]


@pytest.fixture(scope="module")
def asan_build():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    subprocess.run(["cmake", "-S", SOURCE, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Debug",
                    "-DSKIFF_SANITIZE=ON"], check=True, capture_output=True, timeout=300)
    res = subprocess.run(["cmake", "--build", BUILD, "-j2"], capture_output=True, text=True,
                         timeout=1800)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return BUILD


def test_unit_tests_under_asan(asan_build):
    res = subprocess.run([os.path.join(asan_build, "unit_tests"),
                          "--gtest_filter=-" + ":".join(UNIT_EXCLUDE), "--gtest_brief=1"],
                         cwd=asan_build, env=dict(os.environ, **SAN_ENV), capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    assert "PASSED" in res.stdout


def test_integration_suite_under_asan(asan_build):
    env = dict(os.environ, **SAN_ENV, SKIFF_RUNTIME=os.path.join(asan_build, "skiff"))
    res = subprocess.run(["/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-rfE", *INTEGRATION], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=1500)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
