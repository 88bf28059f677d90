"""Fixtures of the packaging tests: the build under test and its generated files.

BUILD (as tests/run_all.py sets it; default <repo>/build) is the build directory: its skiff,
man/ and completion/ are what `make install` installs. SKIFF_RUNTIME overrides the binary."""

import os
import re
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.abspath(os.environ.get("BUILD", os.path.join(REPO, "build")))
SKIFF = os.path.abspath(os.environ.get("SKIFF_RUNTIME", os.path.join(BUILD, "skiff")))
MAN_DIR = os.path.join(BUILD, "man")
COMPLETION = os.path.join(BUILD, "completion", "skiff")


def run(cmd, check=True, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def project_version():
    """The one version: CMakeLists.txt's project(... VERSION x.y.z)."""
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        return re.search(r"project\(skiff VERSION ([0-9.]+)", f.read()).group(1)


def help_table():
    """(commands, {command: [flags]}, [global flags]) as `skiff --help` and `skiff CMD --help`
    print them: the reference the man pages and the completion are checked against."""
    def flags_of(text, heading):
        flags, inside = [], False
        for line in text.splitlines():
            if line.endswith(":") and not line.startswith(" "):
                inside = line == heading
                continue
            if inside and line.strip():
                # "   --name, -n value    help": the names, up to the help text.
                for word in line.split():
                    if word == "value":
                        continue
                    if not word.startswith("-"):
                        break
                    flags.append(word.rstrip(","))
        return flags

    top = run([SKIFF, "--help"]).stdout
    commands, inside = [], False
    for line in top.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            inside = line == "COMMANDS:"
        elif inside and line.strip():
            commands.append(line.split()[0])
    per_command = {}
    for c in commands:
        per_command[c] = flags_of(run([SKIFF, c, "--help"]).stdout, "OPTIONS:") + ["--help", "-h"]
    return commands, per_command, flags_of(top, "GLOBAL OPTIONS:")


@pytest.fixture(scope="session")
def table():
    commands, per_command, global_flags = help_table()
    assert len(commands) > 10 and "create" in commands and "--root" in global_flags
    return commands, per_command, global_flags
