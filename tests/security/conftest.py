"""Harness for the attack tests: the integration suite's fixtures (bundle, rt, workdir,
host_dir, ...) with their leak checks, and a console-socket fixture.

The integration conftest is loaded (in secutil) under a module name of its own, so this file
sits in the same pytest session as tests/integration without the two `conftest` modules
clashing; shared helpers live in secutil.py, never imported as `conftest`."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import secutil  # noqa: E402

harness = secutil.harness
_HERE = secutil._HERE

# Fixtures re-exported by name: pytest finds them as attributes of this conftest.
rootfs_template = harness.rootfs_template
workdir = harness.workdir
make_bundle = harness.make_bundle
bundle = harness.bundle
rt = harness.rt
host_dir = harness.host_dir


def pytest_collection_modifyitems(config, items):
    # Only this directory's items: the integration conftest marks its own.
    missing = not os.access(harness.RUNTIME, os.X_OK)
    for item in items:
        if not str(item.fspath).startswith(_HERE):
            continue
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"runtime {harness.RUNTIME} not built"))
            continue
        mark = item.get_closest_marker("skiff_only")
        if mark is not None and harness.runtime_is_runc():
            item.add_marker(pytest.mark.skip(reason=f"runc: {mark.kwargs.get('reason', '')}"))


def pytest_configure(config):
    config.addinivalue_line("markers", "skiff_only(reason): skiff-specific; skipped for runc")


@pytest.fixture
def console_socket(workdir):
    made = []

    def make():
        cs = secutil.ConsoleSocket(os.path.join(workdir, f"console{len(made)}.sock"))
        made.append(cs)
        return cs

    yield make
    for cs in made:
        cs.close()
