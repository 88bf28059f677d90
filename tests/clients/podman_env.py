"""The podman client of the scenarios: `podman --runtime <path> --cgroup-manager cgroupfs` on
private storage/run roots under the session's tree, with the repo's contrib drop-in merged into
its containers.conf. The test modules import the `pm` fixture from here.

Every podman scenario runs twice, once per network backend: netavark (podman 4's default
wherever it is installed, as Debian's podman recommends) and CNI. They differ in what they leave
to the runtime: under netavark, `--network none` gets a namespace whose loopback only the
runtime brings up."""

import contextlib
import json
import os
import tempfile
import tomllib

import pytest

from conftest import REPO, require
from helpers import run

IMAGE = "localhost/skiff-busybox:latest"
DROPIN = os.path.join(REPO, "contrib", "podman", "50-skiff.conf")


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


def toml_dump(doc, prefix=""):
    """Writes the few shapes containers.conf needs: tables of scalars and string lists."""
    lines, tables = [], []
    for k, v in doc.items():
        (tables if isinstance(v, dict) else lines).append((k, v))
    out = []
    if prefix and lines:
        out.append(f"[{prefix}]")
    out += [f"{k} = {toml_value(v)}" for k, v in lines]
    for k, v in tables:
        out.append(toml_dump(v, f"{prefix}.{k}" if prefix else k))
    return "\n".join(out) + "\n"


def merge(base, over):
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v
    return base


class Podman:
    def __init__(self, base, runtime, conf, cgroup_parent, backend):
        self.base = base
        self.backend = backend
        self.runtime = runtime
        self.cgroup_parent = cgroup_parent
        self.globals = ["podman", "--root", f"{base}/root", "--runroot", f"{base}/runroot",
                        "--tmpdir", f"{base}/tmp", "--runtime", runtime,
                        "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                        "--storage-driver", "overlay", "--network-config-dir", f"{base}/net",
                        "--volumepath", f"{base}/volumes"]
        self.env = dict(os.environ, CONTAINERS_CONF=conf, TMPDIR=f"{base}/tmp")

    def __call__(self, *args, check=True, timeout=60, input=None):
        return run(self.globals + list(args), env=self.env, check=check, timeout=timeout,
                   input=input)

    def _opts(self, opts):
        extra = ["--cgroup-parent", self.cgroup_parent]
        if not any(o.startswith("--network") or o.startswith("--net=") for o in opts):
            extra += ["--network", "none"]
        return extra + list(opts)

    def run(self, opts, cmd, check=False, timeout=60, input=None):
        """podman run --rm <opts> IMAGE <cmd>; returns the CompletedProcess."""
        return self("run", "--rm", *self._opts(opts), IMAGE, *cmd, check=check,
                    timeout=timeout, input=input)

    @contextlib.contextmanager
    def detached(self, opts, cmd):
        """A container started with run -d, removed (forcibly) when the block ends."""
        cid = self("run", "-d", *self._opts(opts), IMAGE, *cmd).stdout.strip()
        try:
            yield cid
        finally:
            self("rm", "-f", "-t", "0", cid, check=False)

    def inspect(self, cid):
        return json.loads(self("inspect", cid).stdout)[0]

    def pid(self, cid):
        pid = self.inspect(cid)["State"]["Pid"]
        assert pid > 0, f"container {cid} has no pid"
        return pid


@pytest.fixture(scope="module", params=["netavark", "cni"])
def pm(request, clients_installed, runtime, session_dir, token, rootfs_tar):
    backend = request.param
    require("podman", "conmon", "/usr/lib/podman/netavark")
    # podman refuses a runroot longer than 50 characters: a short name per module and backend
    base = tempfile.mkdtemp(prefix=f"pm{backend[0]}", dir=session_dir)
    for d in ("root", "runroot", "tmp", "net", "volumes", "copytmp"):
        os.makedirs(os.path.join(base, d), exist_ok=True)
    with open(DROPIN, "rb") as f:
        conf = tomllib.load(f)
    # The repo's drop-in first, then only what confines podman to this session's tree.
    merge(conf, {
        "engine": {
            "lock_type": "file",  # not the shared /dev/shm/libpod_lock segment
            "events_logger": "file",
            "events_logfile_path": f"{base}/events.log",
            "tmp_dir": f"{base}/tmp",
            "volume_path": f"{base}/volumes",
            "image_copy_tmp_dir": f"{base}/copytmp",
            "runtimes": {"skiff": [runtime]},
        },
        "network": {"network_config_dir": f"{base}/net", "network_backend": backend},
    })
    conf_path = os.path.join(base, "containers.conf")
    with open(conf_path, "w") as f:
        f.write(toml_dump(conf))
    p = Podman(base, runtime, conf_path, f"/{token}_podman", backend)
    try:
        p("import", rootfs_tar, IMAGE)
        info = p("info", "--format", "{{.Host.NetworkBackend}}").stdout.strip()
        assert info == backend, f"podman runs with network backend {info!r}, not {backend!r}"
        yield p
    finally:
        ids = p("ps", "-a", "-q", "--no-trunc", check=False).stdout.split()
        p("rm", "-a", "-f", "-t", "0", check=False)
        # c/storage keeps its overlay home as a private bind mount after the last container.
        run(["umount", f"{base}/root/overlay"], check=False)
        left = [i for i in ids if p("container", "exists", i, check=False).returncode == 0]
        assert not left, f"podman could not remove containers {left}"


def status_field(text, name):
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in:\n{text}")
