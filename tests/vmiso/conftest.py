"""Harness of the VM isolation tests: the integration suite's fixtures (bundle, rt, workdir)
with their leak checks, the guest kernel fetched once per session (scripts/vm-kernel.sh: apt,
nothing else from the network), and a check that no QEMU or virtiofsd outlives a test.

Every guest here is software-emulated (no usable /dev/kvm), so each boot costs seconds to tens
of seconds on a loaded machine: the tests batch their checks per boot."""

import importlib.util
import os
import subprocess

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(_HERE, "..", ".."))
_spec = importlib.util.spec_from_file_location(
    "skiff_vmiso_harness", os.path.join(_HERE, "..", "integration", "conftest.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

rootfs_template = harness.rootfs_template
workdir = harness.workdir
make_bundle = harness.make_bundle
bundle = harness.bundle
rt = harness.rt


def pytest_configure(config):
    harness.pytest_configure(config)


@pytest.fixture(scope="session", autouse=True)
def guest_kernel():
    """The guest kernel's directory, as skiff finds it through SKIFF_VM_DIR."""
    out = subprocess.run([os.path.join(REPO, "scripts", "vm-kernel.sh")], check=True,
                         capture_output=True, text=True, timeout=900)
    kdir = out.stdout.strip().splitlines()[-1]
    assert os.path.exists(os.path.join(kdir, "vmlinuz")), out.stderr
    os.environ["SKIFF_VM_DIR"] = kdir
    return kdir


def vm_processes(*markers, programs=("qemu-system", "virtiofsd")):
    """pids of QEMU or virtiofsd (or `programs`) whose command line names one of `markers`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if any(p in cmd for p in programs) and any(m in cmd for m in markers):
            found.append(int(pid))
    return found


@pytest.fixture(autouse=True)
def no_vm_left(workdir, rt):
    yield
    # virtiofsd's command line names the state dir; QEMU's names the VM "skiff-<id>" (its
    # paths are those of its own root). After the harness's force-delete of the test's ids.
    rt.cleanup()
    left = vm_processes(workdir, "skiff-" + rt.id_prefix)
    for pid in left:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    assert not left, f"VM processes left behind: {left}"
