"""A short libFuzzer run of each target (config parsers, CLI flag and signal parsing) as part
of the test command; `make fuzz` runs the same script for longer. Also replays the seed
corpus, so a seed that once crashed keeps being checked."""

import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("FUZZ_BUILD", os.path.join(REPO, "build-fuzz"))
SECONDS = int(os.environ.get("FUZZ_SMOKE_SECONDS", "15"))

pytestmark = pytest.mark.skipif(shutil.which("clang++") is None,
                                reason="clang++ (and libclang-rt-dev) needed for libFuzzer")


@pytest.mark.parametrize("target", ["config", "cli"])
def test_fuzz_smoke(target):
    env = dict(os.environ, FUZZ_SECONDS=str(SECONDS), FUZZ_TARGETS=target, FUZZ_BUILD=BUILD)
    res = subprocess.run([os.path.join(HERE, "run.sh")], env=env, capture_output=True,
                         text=True, timeout=SECONDS + 600)  # + a first build
    assert res.returncode == 0, res.stderr[-4000:]
    assert "Done" in res.stderr, res.stderr[-4000:]


@pytest.mark.parametrize("target", ["config", "cli"])
def test_seed_corpus_replays(target):
    subprocess.run([os.path.join(HERE, "run.sh")], check=True, capture_output=True,
                   env=dict(os.environ, FUZZ_BUILD_ONLY="1", FUZZ_BUILD=BUILD), timeout=600)
    seeds = os.path.join(HERE, "corpus", target)
    files = sorted(os.path.join(seeds, f) for f in os.listdir(seeds))
    res = subprocess.run([os.path.join(BUILD, f"fuzz_{target}"), *files], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-4000:]
