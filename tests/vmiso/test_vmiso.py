"""VM isolation (run.oci.skiff.isolation=vm, or the binary invoked as skiff-vm): the container's
process runs in a guest kernel booted by QEMU, which is the container's process 1 on the host.

Boots are slow under software emulation, so each test boots once and checks several things."""

import os
import subprocess
import time

import pytest

BOOT = 600  # seconds a test allows for one boot on a loaded machine
ANNOTATION = {"run.oci.skiff.isolation": "vm"}


def host_boot_id():
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


def vm_bundle(bundle, script):
    bundle.config["annotations"] = dict(ANNOTATION)
    bundle.args(script)
    bundle.write()
    return bundle


def run_fg(rt, bundle, cid, stdin=b"", runtime=None, env=None):
    """`run` in the foreground with `stdin` fed through a pipe; (rc, stdout, stderr)."""
    cmd = [runtime or rt.binary, "--root", rt.root, "run", "--bundle", bundle.path, rt.track(cid)]
    p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=BOOT, env=env)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def gone(pid):
    """The process has exited (a zombie that its parent has not reaped yet counts)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def create_detached(rt, bundle, out_path):
    """`create` of a new VM container whose stdout and stderr go to out_path; its id."""
    cid = rt.track(rt.new_id())
    with open(out_path, "wb") as out:
        subprocess.run([rt.binary, "--root", rt.root, "create", "--bundle", bundle.path, cid],
                       stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, check=True,
                       timeout=60)
    return cid


def wait_for(path, text, pid, what):
    """Waits (up to BOOT) until `text` is in the file at path, while pid (QEMU) lives."""
    deadline = time.monotonic() + BOOT
    while text not in open(path, "rb").read():
        assert time.monotonic() < deadline, f"{what}: never saw {text!r}"
        assert os.path.exists(f"/proc/{pid}"), open(path, "rb").read()
        time.sleep(0.2)


def state_root_entries(rt):
    return sorted(os.listdir(rt.root)) if os.path.isdir(rt.root) else []


def test_run_in_the_guest_kernel_with_stdio_and_exit_status(rt, bundle):
    # One boot: the kernel, stdin, stdout, stderr, the host's /proc, the exit status.
    vm_bundle(bundle, 'read line; echo "stdin=$line"; echo "uname=$(uname -r)"; '
                      'echo "boot_id=$(cat /proc/sys/kernel/random/boot_id)"; '
                      'echo "pid=$$"; echo to-stderr >&2; exit 42')
    rc, out, err = run_fg(rt, bundle, rt.new_id(), stdin=b"hello-through-virtio\n")
    lines = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    assert rc == 42, (rc, out, err)  # exact: even statuses too (read from the guest's report)
    assert lines.get("stdin") == "hello-through-virtio", out
    assert lines.get("uname", "").startswith("6.12."), out
    assert os.uname().release != lines["uname"]
    # The guest has its own kernel: its boot id is not the host's (a namespace cannot hide it).
    assert lines.get("boot_id") and lines["boot_id"] != host_boot_id(), out
    assert lines.get("pid") == "1", out
    assert "to-stderr" in err, err
    assert state_root_entries(rt) == []


def test_create_start_state_kill_delete(rt, bundle):
    # create/start detached; state shows QEMU as the pid; kill TERM reaches the container
    # process through the agent (its trap runs); delete leaves nothing.
    vm_bundle(bundle, 'trap "echo got-term; exit 5" TERM; echo ready; while :; do sleep 1; done')
    out_path = os.path.join(rt.workdir, "vm.out")
    cid = create_detached(rt, bundle, out_path)
    st = rt.state(cid)
    assert st["status"] == "created"
    rt.start(cid, timeout=BOOT)  # start returns once the guest is up
    st = rt.state(cid)
    assert st["status"] == "running"
    pid = st["pid"]
    assert os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "qemu-system-x86_64"
    wait_for(out_path, b"ready", pid, "the container process")
    rt.kill(cid, "TERM")
    rt.wait_status(cid, "stopped", timeout=120)
    assert b"got-term" in open(out_path, "rb").read()
    rt.delete(cid)
    assert state_root_entries(rt) == []


def test_kill_sigkill_ends_the_vm(rt, bundle):
    vm_bundle(bundle, "sleep 1000")
    cid, _ = rt.create(bundle.path, timeout=60)
    rt.start(cid, timeout=BOOT)  # start returns once the guest is up
    pid = rt.state(cid)["pid"]
    assert any(e.endswith(":vm") for e in state_root_entries(rt))
    rt.kill(cid, "KILL")
    rt.wait_status(cid, "stopped", timeout=30)
    assert gone(pid)
    rt.delete(cid)
    assert state_root_entries(rt) == []


def test_handler_name_selects_vm_isolation(rt, bundle, workdir):
    # No annotation: invoked as skiff-vm the config is checked for the VM mode (here refused:
    # the host's network namespace), invoked as skiff it is not.
    link = os.path.join(workdir, "skiff-vm")
    os.symlink(rt.binary, link)
    bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"]
                                            if n["type"] != "network"]
    bundle.args("true")
    bundle.write()
    rc, out, err = run_fg(rt, bundle, rt.new_id(), runtime=link)
    assert rc != 0 and "linux.namespaces: VM isolation cannot share the host's network namespace" in err
    rc, out, err = run_fg(rt, bundle, rt.new_id())
    assert rc == 0, err
    assert state_root_entries(rt) == []


REFUSED = [
    ("no_pid_ns", lambda c: c["linux"].update(
        namespaces=[n for n in c["linux"]["namespaces"] if n["type"] != "pid"]),
     "linux.namespaces: VM isolation cannot share the host's pid namespace"),
    ("ns_by_path", lambda c: c["linux"]["namespaces"].append({"type": "cgroup", "path": "/proc/1/ns/cgroup"}),
     "linux.namespaces[5].path: a namespace joined by path"),
    # Only a CRI pod's app container has its ipc/uts/pid joins made the guest's own (pod.hpp).
    ("ipc_by_path_outside_a_pod", lambda c: c["linux"]["namespaces"].__setitem__(
        slice(None), [n for n in c["linux"]["namespaces"] if n["type"] != "ipc"]
        + [{"type": "ipc", "path": "/proc/1/ns/ipc"}]),
     "linux.namespaces[4].path: a namespace joined by path"),
    ("cgroup_by_path_in_a_pod", lambda c: (
        c["annotations"].update({"io.kubernetes.cri.container-type": "container"}),
        c["linux"]["namespaces"].append({"type": "cgroup", "path": "/proc/1/ns/cgroup"})),
     "linux.namespaces[5].path: a namespace joined by path"),
    ("device", lambda c: c["linux"].update(
        devices=[{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229}]),
     "linux.devices[0]: device /dev/fuse cannot be passed into the VM"),
    ("bind_of_a_device", lambda c: c["mounts"].append(
        {"destination": "/mnt", "type": "bind", "source": "/dev/null", "options": ["rbind"]}),
     "mounts[6]: bind source /dev/null is neither a directory nor a regular file"),
    ("bind_source_missing", lambda c: c["mounts"].append(
        {"destination": "/mnt", "type": "bind", "source": "/nonexistent-src", "options": ["rbind"]}),
     "mounts[6].source: bind source /nonexistent-src cannot be shared into the VM"),
    ("unknown_isolation", lambda c: c["annotations"].update({"run.oci.skiff.isolation": "kata"}),
     'annotations.run.oci.skiff.isolation: unknown isolation "kata"'),
]


@pytest.mark.parametrize("name,change,message", REFUSED, ids=[r[0] for r in REFUSED])
def test_config_the_vm_cannot_honour_is_refused(rt, bundle, name, change, message):
    vm_bundle(bundle, "true")
    change(bundle.config)
    bundle.write()
    rc, out, err = run_fg(rt, bundle, rt.new_id())
    assert rc != 0 and message in err, (rc, err)
    assert state_root_entries(rt) == []


@pytest.mark.parametrize("var,value,message", [
    ("SKIFF_VM_DIR", "/nonexistent", "VM isolation: no guest kernel: /nonexistent/vmlinuz is missing"),
    ("SKIFF_VM_QEMU", "/nonexistent/qemu", "VM isolation: no QEMU: /nonexistent/qemu is missing"),
], ids=["no_kernel", "no_qemu"])
def test_missing_host_piece_is_one_clear_error(rt, bundle, var, value, message):
    vm_bundle(bundle, "true")
    rc, out, err = run_fg(rt, bundle, rt.new_id(), env=dict(os.environ, **{var: value}))
    assert rc != 0 and message in err, (rc, err)
    assert state_root_entries(rt) == []


def test_guest_that_does_not_come_up_in_time(rt, bundle):
    vm_bundle(bundle, "true")
    rc, out, err = run_fg(rt, bundle, rt.new_id(), env=dict(os.environ, SKIFF_VM_BOOT_TIMEOUT="1"))
    assert rc != 0 and "VM isolation: the guest did not come up within 1 s" in err, (rc, err)
    assert state_root_entries(rt) == []


def test_signal_to_foreground_run_reaches_the_container_process(rt, bundle):
    # SIGTERM to `skiff run` goes through the agent to the process (its trap runs and its
    # status is run's), not to QEMU, which would end the VM with status 0.
    vm_bundle(bundle, 'trap "echo got-term; exit 7" TERM; echo "uname=$(uname -r)"; echo ready; '
                      'while :; do sleep 1; done')
    out_path = os.path.join(rt.workdir, "run.out")
    cid = rt.track(rt.new_id())
    with open(out_path, "wb") as out:
        p = subprocess.Popen([rt.binary, "--root", rt.root, "run", "--bundle", bundle.path, cid],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + BOOT
            while b"ready" not in open(out_path, "rb").read():
                assert time.monotonic() < deadline and p.poll() is None, open(out_path, "rb").read()
                time.sleep(0.2)
            p.send_signal(15)
            rc = p.wait(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    out = open(out_path, "rb").read().decode(errors="replace")
    assert rc == 7, (rc, out)
    assert "got-term" in out and "uname=6.12." in out, out
    assert state_root_entries(rt) == []
