"""tests/run_all.py turns a suite that did not really run into a failure. These tests feed it
fake suites (small shell commands that write a JUnit report, or none) and read its verdict."""
import importlib.util
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_ALL = os.path.join(os.path.dirname(HERE), "run_all.py")


@pytest.fixture
def run_all(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("run_all_under_test", RUN_ALL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "REPORTS", str(tmp_path))
    runtime = tmp_path / "skiff"
    runtime.write_text("#!/bin/sh\n")
    runtime.chmod(0o755)
    monkeypatch.setenv("SKIFF_RUNTIME", str(runtime))
    monkeypatch.setattr(mod, "EXPECTED", {"fake": {"m::known_skip": "a reason"}})
    return mod


def junit(cases):
    body = "".join(f'<testcase classname="m" name="{n}">{inner}</testcase>' for n, inner in cases)
    return f'<testsuites><testsuite name="s">{body}</testsuite></testsuites>'


def fake_suite(mod, monkeypatch, tmp_path, xml, rc=0, path="tests", say=""):
    report = tmp_path / "fake.xml"
    script = tmp_path / "suite.sh"
    write = f"cat > {report} <<'X'\n{xml}\nX\n" if xml is not None else ""
    script.write_text(f"#!/bin/sh\n{say}{write}exit {rc}\n")
    script.chmod(0o755)
    monkeypatch.setattr(mod, "suites", lambda: [("fake", path, [str(script)], "fake.xml")])
    monkeypatch.setattr("sys.argv", ["run_all.py"])


PASS = ("ok", "")
SKIP = '<skipped type="pytest.skip" message="why"/>'


def test_passing_suite_is_green(run_all, monkeypatch, tmp_path, capsys):
    fake_suite(run_all, monkeypatch, tmp_path, junit([PASS, ("known_skip", SKIP)]))
    assert run_all.main() == 0
    assert capsys.readouterr().out.rstrip().endswith("1 passed, 0 failed, 1 skipped")


def test_unlisted_skip_fails(run_all, monkeypatch, tmp_path, capsys):
    fake_suite(run_all, monkeypatch, tmp_path, junit([PASS, ("surprise", SKIP)]))
    assert run_all.main() == 1
    assert "m::surprise skipped" in capsys.readouterr().out


def test_suite_that_passes_nothing_fails(run_all, monkeypatch, tmp_path, capsys):
    fake_suite(run_all, monkeypatch, tmp_path, junit([("known_skip", SKIP)]))
    assert run_all.main() == 1
    assert "fake: passed nothing" in capsys.readouterr().out


def test_missing_report_fails(run_all, monkeypatch, tmp_path, capsys):
    fake_suite(run_all, monkeypatch, tmp_path, None)
    assert run_all.main() == 1
    assert "no JUnit report" in capsys.readouterr().out


def test_failed_suite_output_ends_up_after_the_summary(run_all, monkeypatch, tmp_path, capsys):
    """A CI log that keeps only its last lines must still say why a suite failed."""
    say = "".join(f"echo line{i}\n" for i in range(40)) + "echo 'why it failed' >&2\n"
    fake_suite(run_all, monkeypatch, tmp_path, None, rc=125, say=say)
    assert run_all.main() == 1
    out = capsys.readouterr().out
    after = out[out.index("=== summary"):]
    assert "why it failed" in after and "line39" in after and "line0\n" not in after


def test_passing_suite_output_is_not_repeated(run_all, monkeypatch, tmp_path, capsys):
    fake_suite(run_all, monkeypatch, tmp_path, junit([PASS]), say="echo chatter\n")
    assert run_all.main() == 0
    out = capsys.readouterr().out
    assert out.count("chatter") == 1


def test_nonzero_exit_without_a_failed_test_fails(run_all, monkeypatch, tmp_path, capsys):
    """A session-level check (the clients' leak guard, a failed set-up) exits non-zero."""
    fake_suite(run_all, monkeypatch, tmp_path, junit([PASS]), rc=1)
    assert run_all.main() == 1


def test_missing_suite_path_fails(run_all, monkeypatch, tmp_path, capsys):
    fake_suite(run_all, monkeypatch, tmp_path, junit([PASS]), path="tests/no-such-suite")
    assert run_all.main() == 1
    assert "tests/no-such-suite does not exist" in capsys.readouterr().out


def test_runtime_not_built_fails_before_any_suite(run_all, monkeypatch, tmp_path, capsys):
    fake_suite(run_all, monkeypatch, tmp_path, junit([PASS]))
    monkeypatch.setenv("SKIFF_RUNTIME", str(tmp_path / "not-built"))
    assert run_all.main() == 1
    out = capsys.readouterr().out
    assert "is not built" in out and "=== fake" not in out


def test_brackets_in_a_key_are_literal(run_all):
    run_all.EXPECTED = {"s": {"m::t[rshared-True]": "a parametrised test", "m::w*": "wild"}}
    assert run_all.unexpected_skips("s", ["m::t[rshared-True]", "m::wx", "m::t[r]"]) == ["m::t[r]"]


def test_ctest_notrun_counts_as_a_skip(run_all, tmp_path):
    report = tmp_path / "unit.xml"
    report.write_text('<testsuite><testcase name="A.b" classname="A.b" status="run"/>'
                      '<testcase name="C.d" classname="C.d" status="notrun"/></testsuite>')
    assert run_all.read_report(str(report)) == (1, 0, ["C.d"])


def test_every_expected_skip_has_a_reason():
    import sys
    sys.path.insert(0, os.path.dirname(HERE))
    from expected_skips import EXPECTED
    for suite, entries in EXPECTED.items():
        for key, reason in entries.items():
            assert "::" in key or "." in key, (suite, key)
            assert len(reason) > 10, (suite, key)
