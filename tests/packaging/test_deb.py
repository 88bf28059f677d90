"""The Debian package: `make deb` (dpkg-buildpackage -us -uc -b), once per session, of the
build under test (BUILD, through debian/rules' SKIFF_PREBUILT: the same sources are not compiled
a second time; SKIFF_PACKAGING_FROM_SOURCE=1 has dpkg-buildpackage compile them as `make deb`
does for a release); lintian has no errors; it installs into a throw-away root (`dpkg --root`, an
empty dpkg database in a temp dir: skiff itself is static; only its systemd companion links
libc6 and libsystemd0, which that empty root does not list, hence --force-depends), where its
binary runs a container and podman finds it as `--runtime skiff`; it purges without a trace."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib

import pytest

from conftest import BUILD, REPO, project_version, run

VERSION = project_version()


@pytest.fixture(scope="module")
def deb_dir():
    tmp = tempfile.mkdtemp(prefix="skiff-deb-")
    try:
        env = dict(os.environ)
        if os.environ.get("SKIFF_PACKAGING_FROM_SOURCE") != "1":
            env["SKIFF_PREBUILT"] = BUILD
        run(["make", "-C", REPO, "deb", f"BUILD={tmp}"], timeout=1200, env=env)
        yield os.path.join(tmp, "deb")
    finally:
        shutil.rmtree(tmp)


@pytest.fixture
def deb(deb_dir):
    return os.path.join(deb_dir, f"skiff_{VERSION}_amd64.deb")


@pytest.fixture
def throwaway_root(deb):
    root = tempfile.mkdtemp(prefix="skiff-deb-root-")
    dpkg = os.path.join(root, "var", "lib", "dpkg")
    for d in ("info", "updates", "triggers"):
        os.makedirs(os.path.join(dpkg, d))
    open(os.path.join(dpkg, "status"), "w").close()
    try:
        run(["dpkg", f"--root={root}", "--force-depends", "-i", deb])
        yield root
    finally:
        run(["dpkg", f"--root={root}", "--purge", "skiff"], check=False)
        shutil.rmtree(root)


def test_lintian_has_no_errors(deb_dir):
    changes = os.path.join(deb_dir, f"skiff_{VERSION}_amd64.changes")
    p = run(["lintian", "--fail-on", "error", changes], check=False, timeout=600)
    errors = [line for line in p.stdout.splitlines() if line.startswith("E:")]
    assert p.returncode == 0 and errors == [], p.stdout + p.stderr


def test_package_holds_what_make_install_installs(deb, tmp_path):
    listing = run(["dpkg-deb", "-c", deb]).stdout
    files = sorted("/" + line.split()[-1].lstrip("./") for line in listing.splitlines()
                   if not line.startswith("d"))
    dest = tmp_path / "dest"
    run(["make", "-C", REPO, "install-files", f"DESTDIR={dest}", "PREFIX=/usr",
         "BUILD=" + os.environ.get("BUILD", os.path.join(REPO, "build"))])
    installed = sorted("/" + os.path.relpath(os.path.join(d, f), dest)
                       for d, _, fs in os.walk(dest) for f in fs)
    # dpkg compresses the man pages and adds its changelog, copyright and lintian override.
    expected = sorted([f + ".gz" if "/man/" in f else f for f in installed] +
                      ["/usr/share/doc/skiff/changelog.gz", "/usr/share/doc/skiff/copyright",
                       "/usr/share/lintian/overrides/skiff"])
    assert files == expected
    ctrl = tmp_path / "ctrl"
    run(["dpkg-deb", "-e", deb, str(ctrl)])
    assert (ctrl / "conffiles").read_text().split() == ["/etc/containers/containers.conf.d/50-skiff.conf"]
    # skiff is static; the systemd companion needs only the C library and libsystemd.
    depends = {d.split()[0] for d in run(["dpkg-deb", "-f", deb, "Depends"]).stdout.split(", ")}
    assert depends == {"libc6", "libsystemd0"}, depends


def test_installed_binary_runs_a_container(throwaway_root, tmp_path):
    skiff = os.path.join(throwaway_root, "usr", "sbin", "skiff")
    out = run([skiff, "--version"]).stdout
    assert out.startswith(f"skiff version {VERSION}\ncommit: ") and "libseccomp: " in out
    bundle = tmp_path / "bundle"
    run([os.path.join(REPO, "scripts", "make-bundle.sh"), str(bundle)])
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["args"] = ["echo", "hello from the packaged skiff"]
    (bundle / "config.json").write_text(json.dumps(config))
    p = subprocess.run([skiff, "--root", str(tmp_path / "state"), "run", "--bundle", str(bundle),
                        "pkg-deb-run"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and p.stdout == "hello from the packaged skiff\n", p.stderr


def test_installed_man_page_and_completion(throwaway_root):
    page = os.path.join(throwaway_root, "usr", "share", "man", "man8", "skiff-run.8.gz")
    text = run(["man", "-l", "-P", "cat", page], env=dict(os.environ, MANWIDTH="80")).stdout
    assert "skiff-run - create and run a container" in text
    comp = os.path.join(throwaway_root, "usr", "share", "bash-completion", "completions", "skiff")
    out = run(["bash", "--norc", "--noprofile", "-c",
               f"source {comp}; COMP_WORDS=(skiff ru); COMP_CWORD=1; _skiff; echo ${{COMPREPLY[@]}}"])
    assert out.stdout.split() == ["run"]


PODMAN_SH = """set -e
mount -t overlay overlay -o lowerdir="$1/usr/sbin:/usr/sbin" /usr/sbin
mount -t overlay overlay -o lowerdir="$1/etc/containers:/etc/containers" /etc/containers
shift
exec "$@"
"""


def podman_info(base, root=None):
    """`podman --runtime skiff info` on private storage under `base`; with `root`, in a mount
    namespace where the package's /usr/sbin and /etc/containers are laid over the host's
    (read-only overlays), as if it were installed there."""
    cmd = ["podman", "--root", f"{base}/root", "--runroot", f"{base}/run",
           "--tmpdir", f"{base}/tmp", "--storage-driver", "vfs", "--cgroup-manager",
           "cgroupfs", "--events-backend", "file", "--network-config-dir", f"{base}/net",
           "--runtime", "skiff", "info", "--format", "{{json .Host.OCIRuntime}}"]
    if root:
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", PODMAN_SH, "sh", root] + cmd
    env = {k: v for k, v in os.environ.items() if k != "CONTAINERS_CONF"}
    return run(cmd, check=False, env=env)


@pytest.fixture
def podman_base():
    base = tempfile.mkdtemp(prefix="skiff-pm-")  # podman wants a runroot under 50 characters
    yield base
    run(["podman", "--root", f"{base}/root", "--runroot", f"{base}/run", "--storage-driver",
         "vfs", "system", "reset", "--force"], check=False)
    shutil.rmtree(base, ignore_errors=True)


def test_podman_finds_skiff_by_name_after_install(throwaway_root, podman_base):
    if shutil.which("skiff") is None:
        # Without the package's files podman does not know the name (the control).
        p = podman_info(podman_base)
        assert p.returncode != 0 and 'OCI runtime "skiff" not found' in p.stderr, p.stderr
    p = podman_info(podman_base, throwaway_root)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["name"] == "skiff" and info["path"] == "/usr/sbin/skiff"
    assert info["version"].startswith(f"skiff version {VERSION}\n")
    dropin = os.path.join(throwaway_root, "etc", "containers", "containers.conf.d", "50-skiff.conf")
    with open(dropin, "rb") as f:
        conf = tomllib.load(f)
    assert "skiff" in conf["engine"]["runtime_supports_json"]


def test_purge_leaves_nothing(deb, tmp_path):
    root = tmp_path / "root"
    for d in ("info", "updates", "triggers"):
        (root / "var" / "lib" / "dpkg" / d).mkdir(parents=True)
    (root / "var" / "lib" / "dpkg" / "status").touch()
    run(["dpkg", f"--root={root}", "--force-depends", "-i", deb])
    assert (root / "usr" / "sbin" / "skiff").exists()
    run(["dpkg", f"--root={root}", "--purge", "skiff"])
    left = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
            if not os.path.relpath(d, root).startswith("var/lib/dpkg")]
    assert left == []
    assert sorted(os.listdir(root)) == ["var"]
    assert "skiff" not in run(["dpkg", f"--root={root}", "-l"], check=False).stdout
