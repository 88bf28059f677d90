"""--version, and the man pages and bash completion made from the command table: every command
and flag `--help` shows is in each of them, and the pages pass groff's lint."""

import json
import os
import re

from conftest import COMPLETION, MAN_DIR, REPO, SKIFF, project_version, run


def test_version_names_version_commit_spec_and_libseccomp():
    out = run([SKIFF, "--version"]).stdout
    assert run([SKIFF, "-v"]).stdout == out
    lines = dict(line.split(": ", 1) if ": " in line else ("version", line.split()[-1])
                 for line in out.splitlines())
    assert out.splitlines()[0] == f"skiff version {project_version()}"
    assert lines["spec"] == "1.3.0"
    # The libseccomp the static binary was linked with: the installed libseccomp-dev.
    dev = run(["dpkg-query", "-W", "-f=${Version}", "libseccomp-dev"]).stdout
    assert re.fullmatch(r"\d+\.\d+\.\d+", lines["libseccomp"]) and dev.startswith(lines["libseccomp"])
    # Built from this checkout: the commit is one of its commits.
    commit = lines["commit"].removesuffix("-dirty")
    assert run(["git", "-C", REPO, "cat-file", "-e", commit + "^{commit}"], check=False).returncode == 0


def test_features_annotations_agree_with_version():
    version = dict(line.split(": ", 1) for line in run([SKIFF, "--version"]).stdout.splitlines()[1:])
    notes = json.loads(run([SKIFF, "features"]).stdout)["annotations"]
    assert notes["io.github.skiff.version"] == project_version()
    assert notes["io.github.skiff.commit"] == version["commit"]
    assert notes["io.github.seccomp.libseccomp.version"] == version["libseccomp"]


def test_debian_changelog_has_the_project_version():
    with open(os.path.join(REPO, "debian", "changelog")) as f:
        assert f.readline().startswith(f"skiff ({project_version()}) ")


def roff_flag(flag):
    return "\\fB" + flag.replace("-", "\\-") + "\\fR"


def test_man_pages_have_every_command_and_flag_of_help(table):
    commands, per_command, global_flags = table
    pages = sorted(os.listdir(MAN_DIR))
    assert pages == sorted(["skiff.8"] + [f"skiff-{c}.8" for c in commands])
    with open(os.path.join(MAN_DIR, "skiff.8")) as f:
        main = f.read()
    for c in commands:
        assert f".BR skiff\\-{c.replace('-', chr(92) + '-')} (8)" in main, c
    for flag in global_flags:
        assert roff_flag(flag) in main, flag
    for c, flags in per_command.items():
        with open(os.path.join(MAN_DIR, f"skiff-{c}.8")) as f:
            page = f.read()
        assert page.startswith(".TH SKIFF\\-" + c.upper().replace("-", "\\-") + " 8 "), c
        for flag in flags:
            assert roff_flag(flag) in page, (c, flag)


def test_man_pages_render_without_warnings():
    for page in sorted(os.listdir(MAN_DIR)):
        path = os.path.join(MAN_DIR, page)
        g = run(["groff", "-man", "-wall", "-z", "-Tutf8", path])
        assert g.stderr == "", (page, g.stderr)
        # What lintian runs on a package's pages.
        m = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path],
                env=dict(os.environ, MANROFFSEQ="", MANWIDTH="80"))
        assert m.stderr == "", (page, m.stderr)
        text = run(["man", "-l", "-P", "cat", path], env=dict(os.environ, MANWIDTH="80")).stdout
        assert "NAME" in text and "skiff" in text


def completion_tables():
    script = f'source {COMPLETION}; for k in "${{!_skiff_flags[@]}}"; do echo "$k:${{_skiff_flags[$k]}}"; done; echo "commands:$_skiff_commands"'
    out = run(["bash", "--norc", "--noprofile", "-c", script]).stdout
    return dict(line.split(":", 1) for line in out.splitlines())


def test_completion_has_every_command_and_flag_of_help(table):
    commands, per_command, global_flags = table
    t = completion_tables()
    assert t["commands"].split() == commands
    assert sorted(t["-"].split()) == sorted(global_flags)
    for c, flags in per_command.items():
        assert sorted(t[c].split()) == sorted(flags), c


def with_value_flags():
    """The global flags that take a value, from the one list (src/base/global_flags.h)."""
    with open(os.path.join(REPO, "src/base/global_flags.h")) as f:
        return sorted(m.group(1) for m in
                      re.finditer(r'X\("([^"]+)", "[^"]*", 1,', f.read()))


def test_the_global_flags_come_from_one_list():
    # The two parsers that run before the CLI's read the list; none keeps a copy of its own.
    for rel in ("src/early_entry.c", "src/linux/sealed_exe.cpp", "src/cli/cli.cpp"):
        with open(os.path.join(REPO, rel)) as f:
            text = f.read()
        assert '#include "base/global_flags.h"' in text, rel
        assert not re.search(r'"root"\W+(true|1)?\W*("[^"]*"\W+)?"log"', text), rel + " keeps a flag list"
    script = f'source {COMPLETION}; echo "${{_skiff_value_flags[-]}}"'
    from_table = sorted(f.lstrip("-") for f in
                        run(["bash", "--norc", "--noprofile", "-c", script]).stdout.split())
    assert with_value_flags() == from_table
