"""The guest agent serves every exec and ps of a VM from one loop, as the guest's PID 1: a host
client that stops reading must stall only its own session (bounded buffering, then the
process blocks on its own full pipe), and a process whose client went away sees its stdio
closed (EPIPE/SIGPIPE when it writes), as with runc when the caller's pipes close. Then the
foreground `run` that holds the container (a shim's place) is killed: the VM lives on, as a
runc container outlives its shim, and `delete --force` removes QEMU, virtiofsd and the state.
One boot."""

import os
import signal
import subprocess
import time

from conftest import vm_processes
from test_vmiso import gone, state_root_entries, vm_bundle, wait_for

MARK = "flood-of-output"


def guest_commands(rt, cid):
    """The command lines in `ps`'s table (UID PID PPID CMD) of the guest's processes."""
    res = rt.run(["ps", cid], timeout=120)
    return [l.split(None, 3)[3] for l in res.stdout.splitlines()[1:] if len(l.split(None, 3)) == 4]


def test_a_client_that_stops_reading_stalls_only_its_session(rt, bundle, workdir):
    vm_bundle(bundle, 'trap "exit 5" TERM; echo ready; while :; do sleep 1; done')
    out_path = os.path.join(workdir, "vm.out")
    cid = rt.track(rt.new_id())
    with open(out_path, "wb") as out:
        shim = subprocess.Popen([rt.binary, "--root", rt.root, "run", "--bundle", bundle.path, cid],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(out_path, b"ready", shim.pid, "the container process")
        qemu = rt.state(cid)["pid"]
        stalled_session_and_closed_stdio(rt, cid, workdir)
        # The shim dies; the VM does not (nothing tells it to), and delete --force ends it.
        shim.kill()
        shim.wait()
    finally:
        if shim.poll() is None:
            shim.kill()
            shim.wait()
    assert rt.state(cid)["status"] == "running" and not gone(qemu)
    helpers = vm_processes(rt.root, programs=("virtiofsd",))
    assert helpers, "virtiofsd should serve the running VM"
    res = rt.run(["delete", "--force", cid], check=False, timeout=120)
    assert res.returncode == 0, res
    assert gone(qemu) and all(gone(p) for p in helpers)
    assert vm_processes(workdir, "skiff-" + cid) == []
    assert state_root_entries(rt) == []


def stalled_session_and_closed_stdio(rt, cid, workdir):
    flood_out = os.path.join(workdir, "flood.out")
    with open(flood_out, "wb") as f:
        flood = subprocess.Popen([rt.binary, "--root", rt.root, "exec", cid, "sh", "-c",
                                  f'echo go; while :; do echo "{MARK} {"x" * 200}"; done'],
                                 stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
    try:
        wait_for(flood_out, b"go", flood.pid, "the flooding exec")
        os.kill(flood.pid, signal.SIGSTOP)  # its client stops reading
        time.sleep(10)  # the host socket, QEMU's port and the guest's queue fill up

        # Another exec and ps still go through while that session is stalled.
        res = subprocess.run([rt.binary, "--root", rt.root, "exec", cid, "echo", "beside"],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0 and res.stdout.strip() == "beside", res
        assert any(MARK in c for c in guest_commands(rt, cid))

        # The client goes away: its process's stdout closes, and its next write ends it.
        flood.kill()
        flood.wait()
        deadline = time.monotonic() + 120
        while any(MARK in c for c in guest_commands(rt, cid)):
            assert time.monotonic() < deadline, "the process outlived its client's stdio"
            time.sleep(1)
    finally:
        if flood.poll() is None:
            flood.kill()
            flood.wait()
