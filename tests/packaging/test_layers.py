"""The layers point one way (README.md, "Layout"): base <- linux <- {oci, cgroups, init} <-
container <- cli. A file of a lower layer that includes a header of a higher one fails here,
naming the file, the line and the include. Reads the sources only: no build needed."""

import os
import re

from conftest import REPO

SRC = os.path.join(REPO, "src")

# What each layer may include of skiff's own headers (its own directory always).
MAY_INCLUDE = {
    "base": set(),
    "linux": {"base"},
    "oci": {"base"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)/[^"]+"', re.M)


def reaching_includes(layer):
    allowed = MAY_INCLUDE[layer] | {layer}
    bad = []
    folder = os.path.join(SRC, layer)
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        with open(path, errors="replace") as f:
            text = f.read()
        for m in INCLUDE.finditer(text):
            if m.group(1) not in allowed:
                line = text.count("\n", 0, m.start()) + 1
                bad.append(f"src/{layer}/{name}:{line}: {m.group(0).strip()}")
    return bad


def test_base_includes_nothing_of_skiff():
    assert reaching_includes("base") == []


def test_linux_reaches_no_higher_layer():
    # linux/ wraps the kernel and libseccomp; it knows nothing of OCI, containers, the init
    # or cgroups.
    assert reaching_includes("linux") == []


def test_oci_is_data_on_the_base_alone():
    assert reaching_includes("oci") == []


def test_the_check_sees_a_bad_include(tmp_path, monkeypatch):
    # The rule itself: a linux/ file naming oci/ is reported.
    fake = tmp_path / "src"
    (fake / "linux").mkdir(parents=True)
    (fake / "linux" / "x.hpp").write_text('#include "base/error.hpp"\n#include "oci/spec.hpp"\n')
    monkeypatch.setattr(__import__(__name__), "SRC", str(fake))
    assert reaching_includes("linux") == ['src/linux/x.hpp:2: #include "oci/spec.hpp"']
