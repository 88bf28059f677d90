"""The bash completion, sourced into a plain bash: what it offers for a few command lines,
container ids included (from `skiff list -q` under the --root on the line)."""

import os
import shlex
import shutil
import subprocess
import tempfile

import pytest

from conftest import COMPLETION, REPO, SKIFF, run


def complete(words, root=None):
    """COMPREPLY for the command line `words` (the cursor in the last word, "" for a new one),
    split as bash splits it (COMP_WORDBREAKS: "--a=b" is three words)."""
    words = [SKIFF] + words
    script = (f"source {shlex.quote(COMPLETION)}\n"
              f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
              f"COMP_CWORD={len(words) - 1}\n"
              "_skiff\n"
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    out = run(["bash", "--norc", "--noprofile", "-c", script]).stdout
    return sorted(line for line in out.splitlines() if line)


def test_registers_for_skiff():
    out = run(["bash", "--norc", "--noprofile", "-c", f"source {COMPLETION}; complete -p skiff"]).stdout
    assert out.strip() == "complete -F _skiff skiff"


def test_commands():
    assert complete(["cr"]) == ["create"]
    assert complete(["re"]) == ["restore", "resume"]
    assert complete(["--root", "/tmp", "st"]) == ["start", "state"]
    assert "features" in complete([""]) and "exec" in complete([""])


def test_global_flags_and_their_values():
    assert complete(["--lo"]) == ["--log", "--log-format"]
    assert complete(["--log-format", ""]) == ["json", "text"]
    assert complete(["--log-format", "=", "j"]) == ["json"]
    assert complete(["--rootless", ""]) == ["auto", "false", "true"]


def test_command_flags():
    assert complete(["create", "--b"]) == ["--bundle"]
    assert complete(["--debug", "exec", "--pi"]) == ["--pid-file", "--pidfd-socket"]
    assert complete(["list", "--format", ""]) == ["json", "table"]
    assert complete(["kill", "-"]) == ["--all", "--help", "-a", "-h"]
    # A flag value is not taken for the command: `--bundle create` names a directory.
    assert complete(["run", "--bundle", "create", "--k"]) == ["--keep"]


@pytest.fixture
def containers():
    """Two created containers under a private --root; deleted afterwards."""
    tmp = tempfile.mkdtemp(prefix="skiff-completion-")
    root, bundle = os.path.join(tmp, "root"), os.path.join(tmp, "bundle")
    run([os.path.join(REPO, "scripts", "make-bundle.sh"), bundle])
    ids = ["pkcomp-alpha", "pkcomp-beta"]
    try:
        for i in ids:
            # The container's init keeps its stdio: no pipes to wait on.
            subprocess.run([SKIFF, "--root", root, "create", "--bundle", bundle, i], check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)
        yield root, ids
    finally:
        for i in ids:
            run([SKIFF, "--root", root, "delete", "--force", i], check=False)
        shutil.rmtree(tmp)


def test_container_ids_from_list_under_the_given_root(containers):
    root, ids = containers
    assert complete(["--root", root, "kill", ""]) == ids
    assert complete(["--root", root, "delete", "--force", "pkcomp-a"]) == ["pkcomp-alpha"]
    assert complete(["--root", "=", root, "state", "pkcomp-b"]) == ["pkcomp-beta"]
    assert complete(["--root", root, "exec", "-t", "pk"]) == ids
    # Not under another root; not for create (a new id), not after the id.
    assert complete(["--root", root + "-other", "kill", ""]) == []
    assert complete(["--root", root, "create", ""]) == []
    assert complete(["--root", root, "kill", "pkcomp-alpha", "pk"]) == []
