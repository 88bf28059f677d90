"""`make install` and `make uninstall` with PREFIX and DESTDIR (from the existing build, as
`make install-files` does; `install` builds first)."""

import os
import tomllib

import pytest

from conftest import BUILD, REPO, run


def make(target, dest, prefix):
    args = ["make", "-C", REPO, target, f"DESTDIR={dest}", f"BUILD={BUILD}"]
    return run(args + ([f"PREFIX={prefix}"] if prefix else []))


def files_under(dest):
    return sorted("/" + os.path.relpath(os.path.join(d, f), dest)
                  for d, _, fs in os.walk(dest) for f in fs)


@pytest.mark.parametrize("prefix", [None, "/opt/skiff"])
def test_install_then_uninstall(tmp_path, table, prefix):
    commands = table[0]
    dest = tmp_path / "dest"
    make("install-files", dest, prefix)
    p = prefix or "/usr/local"
    binary = f"{p}/sbin/skiff"
    assert files_under(dest) == sorted(
        [binary, f"{p}/libexec/skiff/skiff-systemd", f"{p}/share/bash-completion/completions/skiff",
         "/etc/containers/containers.conf.d/50-skiff.conf"] +
        [f"{p}/share/man/man8/skiff.8"] + [f"{p}/share/man/man8/skiff-{c}.8" for c in commands] +
        [f"{p}/share/doc/skiff/containerd/{f}"
         for f in ("README.md", "skiff-runtime.toml", "runtimeclass.yaml")])
    assert os.access(f"{dest}{binary}", os.X_OK)
    assert run([f"{dest}{binary}", "--version"]).stdout.startswith("skiff version ")

    # podman finds the runtime named "skiff" at the installed path (first in its list).
    with open(f"{dest}/etc/containers/containers.conf.d/50-skiff.conf", "rb") as f:
        conf = tomllib.load(f)
    assert binary in conf["engine"]["runtimes"]["skiff"]
    if prefix:
        assert conf["engine"]["runtimes"]["skiff"][0] == binary
    assert "skiff" in conf["engine"]["runtime_supports_json"]
    # The containerd snippet names it too.
    with open(f"{dest}{p}/share/doc/skiff/containerd/skiff-runtime.toml", "rb") as f:
        snippet = tomllib.load(f)
    opts = snippet["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["skiff"]["options"]
    assert opts["BinaryName"] == binary

    make("uninstall", dest, prefix)
    assert files_under(dest) == []
    assert not os.path.exists(f"{dest}{p}/share/doc/skiff")


def test_uninstall_keeps_what_it_did_not_install(tmp_path):
    dest = tmp_path / "dest"
    other = dest / "usr/local/share/man/man8/other.8"
    other.parent.mkdir(parents=True)
    other.write_text(".TH OTHER 8\n")
    make("install-files", dest, None)
    make("uninstall", dest, None)
    assert files_under(dest) == ["/usr/local/share/man/man8/other.8"]
