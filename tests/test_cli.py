"""The ``pollution`` command, driven the way a person or CI drives it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from pollution import load_junit, load_table
from pollution.cli import app, expand_multi_value
from pollution.diff import CATEGORIES, diff_paths

ROOT = Path(__file__).resolve().parent.parent

runner = CliRunner()


def write_report(path: Path, outcomes: dict[str, str]) -> Path:
    bodies = {
        "passed": "",
        "failed": '<failure message="assert 1 == 2">trace</failure>',
        "error": '<error message="connection refused"/>',
        "skipped": "<skipped/>",
    }
    cases = "".join(
        f'<testcase classname="pkg.mod" name="{name}" time="0.1">{bodies[o]}</testcase>\n'
        for name, o in outcomes.items()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'<?xml version="1.0"?>\n<testsuite name="unit">\n{cases}</testsuite>\n')
    return path


@pytest.fixture
def reports(tmp_path: Path) -> dict[str, Path]:
    """One serial run and two parallel runs: a victim, a genuine failure, a pass."""
    base = {"test_ok": "passed", "test_victim": "passed", "test_broken": "failed"}
    return {
        "serial": write_report(tmp_path / "serial.xml", base),
        "par1": write_report(tmp_path / "par1.xml", {**base, "test_victim": "failed"}),
        "par2": write_report(tmp_path / "par2.xml", base),
    }


@pytest.fixture
def clean(tmp_path: Path) -> dict[str, Path]:
    """No finding: only a genuine failure, a serial-only failure and passes."""
    return {
        "serial": write_report(tmp_path / "c-serial.xml", {"a": "passed", "b": "failed", "c": "failed"}),
        "parallel": write_report(tmp_path / "c-par.xml", {"a": "passed", "b": "failed", "c": "passed"}),
    }


def invoke(*args: str | Path) -> typer.testing.Result:
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result: typer.testing.Result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --------------------------------------------------------------------------
# The real program


def run_module(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pollution", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=120, check=False,
    )


def test_python_m_pollution_smoke(reports: dict[str, Path], tmp_path: Path) -> None:
    out_json = tmp_path / "diff.json"
    proc = run_module(
        "diff", "--serial", reports["serial"], "--parallel", reports["par1"], reports["par2"],
        "--json", out_json, "--fail-on-findings", cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr  # a victim was found
    assert "1 serial run(s), 2 parallel run(s)" in proc.stdout
    assert "parallel-only: 1" in proc.stdout and "pkg.mod::test_victim" in proc.stdout
    assert proc.stderr == ""
    document = json.loads(out_json.read_text())
    assert document["summary"]["parallel-only"] == 1


def test_python_m_pollution_error_and_help(tmp_path: Path) -> None:
    proc = run_module("diff", "--serial", tmp_path / "nope.xml", "--parallel", tmp_path / "nope2.xml", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope.xml'}: no such file or directory"]
    assert "Traceback" not in proc.stderr
    helped = run_module("--help", cwd=tmp_path)
    assert helped.returncode == 0 and "diff" in helped.stdout and "ingest" in helped.stdout


# --------------------------------------------------------------------------
# diff


def test_several_values_after_one_option(reports: dict[str, Path], tmp_path: Path) -> None:
    out_json = tmp_path / "d.json"
    result = invoke("diff", "--serial", reports["serial"], "--parallel", reports["par1"], reports["par2"], "--json", out_json)
    assert result.exit_code == 0, result.output
    assert "1 serial run(s), 2 parallel run(s)" in result.stdout
    document = json.loads(out_json.read_text())
    assert len(document["serial_runs"]) == 1 and len(document["parallel_runs"]) == 2


@pytest.mark.parametrize(
    "style",
    ["long", "short", "equals", "repeated", "parallel-first"],
)
def test_multi_value_spellings(reports: dict[str, Path], tmp_path: Path, style: str) -> None:
    s, p1, p2 = (str(reports[k]) for k in ("serial", "par1", "par2"))
    argv = {
        "long": ["--serial", s, "--parallel", p1, p2],
        "short": ["-s", s, "-p", p1, p2],
        "equals": [f"--serial={s}", f"--parallel={p1}", p2],
        "repeated": ["--serial", s, "--parallel", p1, "--parallel", p2],
        "parallel-first": ["--parallel", p1, p2, "--serial", s],
    }[style]
    out_json = tmp_path / "d.json"
    result = invoke("diff", *argv, "--json", out_json)
    assert result.exit_code == 0, result.output
    document = json.loads(out_json.read_text())
    assert len(document["parallel_runs"]) == 2 and len(document["serial_runs"]) == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--serial", "a", "b", "--parallel", "c"], ["--serial", "a", "--serial", "b", "--parallel", "c"]),
        (["-s", "a", "b", "--json", "x", "y"], ["-s", "a", "-s", "b", "--json", "x", "y"]),
        (["--serial=a", "b"], ["--serial=a", "--serial", "b"]),
        (["--parallel", "a", "--", "b"], ["--parallel", "a", "--", "b"]),
        (["x", "--serial", "a", "--fail-on-findings", "y"], ["x", "--serial", "a", "--fail-on-findings", "y"]),
        (["--serialize", "a", "b"], ["--serialize", "a", "b"]),
    ],
)
def test_expand_multi_value(argv: list[str], expected: list[str]) -> None:
    assert expand_multi_value(argv) == expected


def test_json_content(reports: dict[str, Path], tmp_path: Path) -> None:
    out_json = tmp_path / "diff.json"
    result = invoke("diff", "--serial", reports["serial"], "--parallel", reports["par1"], reports["par2"], "--json", out_json)
    assert result.exit_code == 0, result.output
    document = json.loads(out_json.read_text(encoding="utf-8"))
    assert set(document) == {"serial_runs", "parallel_runs", "summary", "tests", "skipped_files"}
    assert document["summary"] == {
        c: {"parallel-only": 1, "genuine-failure": 1, "pass": 1}.get(c, 0) for c in CATEGORIES
    }
    tests = {t["test_id"]: t for t in document["tests"]}
    victim = tests["pkg.mod::test_victim"]
    assert victim["category"] == "parallel-only"
    assert victim["parallel_failure_rate"] == 0.5 and victim["parallel_failures"] == 1
    assert victim["message"] == "assert 1 == 2"
    assert tests["pkg.mod::test_ok"]["message"] is None
    assert tests["pkg.mod::test_broken"]["category"] == "genuine-failure"
    assert document["skipped_files"] == []
    # The JSON is the same diff the library computes.
    expected = diff_paths([], [str(reports["serial"])], [str(reports["par1"]), str(reports["par2"])]).diff
    assert [t["test_id"] for t in document["tests"]] == list(expected["test_id"])


def test_out_parquet(reports: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "diff.parquet"
    result = invoke("diff", "--serial", reports["serial"], "--parallel", reports["par1"], reports["par2"], "--out", out)
    assert result.exit_code == 0, result.output
    expected = diff_paths([], [str(reports["serial"])], [str(reports["par1"]), str(reports["par2"])]).diff
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected)


def test_fail_on_findings_exits_1_with_a_victim(reports: dict[str, Path]) -> None:
    result = invoke("diff", "--serial", reports["serial"], "--parallel", reports["par1"], "--fail-on-findings")
    assert result.exit_code == 1, result.output
    without = invoke("diff", "--serial", reports["serial"], "--parallel", reports["par1"])
    assert without.exit_code == 0, without.output


def test_fail_on_findings_exits_0_without_parallel_only_failures(clean: dict[str, Path]) -> None:
    result = invoke("diff", "--serial", clean["serial"], "--parallel", clean["parallel"], "--fail-on-findings")
    assert result.exit_code == 0, result.output
    assert "genuine-failure: 1" in result.stdout and "serial-only: 1" in result.stdout


def test_nothing_differs_message(tmp_path: Path) -> None:
    a = write_report(tmp_path / "a.xml", {"t": "passed"})
    b = write_report(tmp_path / "b.xml", {"t": "passed"})
    result = invoke("diff", "--serial", a, "--parallel", b, "--fail-on-findings")
    assert result.exit_code == 0 and "No test behaves differently" in result.stdout


def test_missing_file_is_one_line_error(reports: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "missing.xml"
    result = invoke("diff", "--serial", missing, "--parallel", reports["par1"])
    assert_one_line_error(result, str(missing), "no such file")


def test_corrupt_file_is_one_line_error(reports: dict[str, Path], tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.xml"
    corrupt.write_text('<?xml version="1.0"?>\n<testsuite name="s">\n<testcase classname="c" name="a">\n')
    result = invoke("diff", "--serial", reports["serial"], "--parallel", corrupt)
    assert_one_line_error(result, f"{corrupt}:", "malformed XML")


@pytest.mark.parametrize(
    "content",
    [
        '<?xml version="1.0"?>\n<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<testsuite><testcase name="&x;"/></testsuite>',
        "<html/>",
        "",
    ],
    ids=["doctype", "not-junit", "empty"],
)
def test_refused_files_are_one_line_errors(reports: dict[str, Path], tmp_path: Path, content: str) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(content)
    assert_one_line_error(invoke("diff", "--serial", bad, "--parallel", reports["par1"]), str(bad))


def test_paths_with_brackets_are_printed_verbatim(reports: dict[str, Path], tmp_path: Path) -> None:
    odd = tmp_path / "[/]" / "[bold]run.xml"
    line = assert_one_line_error(invoke("diff", "--serial", odd, "--parallel", reports["par1"]))
    assert str(odd) in line


def test_same_report_on_both_sides(reports: dict[str, Path]) -> None:
    result = invoke("diff", "--serial", reports["serial"], "--parallel", reports["serial"])
    assert_one_line_error(result, "both serial and parallel")


def test_nothing_to_compare() -> None:
    assert_one_line_error(invoke("diff"), "nothing to compare")


def test_keep_going_lists_skipped_files(reports: dict[str, Path], tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.xml"
    corrupt.write_text("<testsuite><testcase")
    binary = tmp_path / "binary.xml"
    binary.write_bytes(b"\x1f\x8b\x08\x00binary")
    out_json = tmp_path / "d.json"
    result = invoke(
        "diff", "--serial", reports["serial"], corrupt, "--parallel", reports["par1"], binary,
        "--keep-going", "--json", out_json,
    )
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 2
    assert str(corrupt) in skipped[0] and str(binary) in skipped[1]
    document = json.loads(out_json.read_text())
    assert [s["path"] for s in document["skipped_files"]] == [str(corrupt), str(binary)]
    assert document["summary"]["parallel-only"] == 1
    without = invoke("diff", "--serial", reports["serial"], corrupt, "--parallel", reports["par1"])
    assert_one_line_error(without, str(corrupt))


def test_diff_of_a_manifest_directory(tmp_path: Path) -> None:
    art = tmp_path / "artifacts"
    write_report(art / "serial-1" / "junit.xml", {"a": "passed", "b": "passed"})
    write_report(art / "parallel-1" / "junit.xml", {"a": "failed", "b": "passed"})
    (art / "manifest.json").write_text(json.dumps({"runs": [
        {"run_id": "serial-1", "mode": "serial", "reports": ["serial-1/junit.xml"]},
        {"run_id": "parallel-1", "mode": "parallel", "reports": ["parallel-1/junit.xml"]},
    ]}))
    result = invoke("diff", art, "--fail-on-findings")
    assert result.exit_code == 1, result.output
    assert "parallel-only: 1" in result.stdout


def test_plain_file_as_positional_needs_a_mode(reports: dict[str, Path]) -> None:
    assert_one_line_error(invoke("diff", reports["serial"]), "--serial or --parallel")


def test_show_limits_printed_rows(tmp_path: Path) -> None:
    names = [f"t{i}" for i in range(5)]
    serial = write_report(tmp_path / "s.xml", dict.fromkeys(names, "passed"))
    parallel = write_report(tmp_path / "p.xml", dict.fromkeys(names, "failed"))
    result = invoke("diff", "--serial", serial, "--parallel", parallel, "--show", "2")
    assert result.exit_code == 0, result.output
    assert "and 3 more" in result.stdout
    # The hint names options a person will paste: they must exist.
    hint = next(line for line in result.stdout.splitlines() if "more" in line)
    diff_options = {o for p in typer.main.get_command(app).commands["diff"].params for o in p.opts}  # type: ignore[attr-defined]
    suggested = set(re.findall(r"--[\w-]+", hint))
    assert suggested and suggested <= diff_options, hint
    everything = invoke("diff", "--serial", serial, "--parallel", parallel, "--show", "0")
    assert "more" not in everything.stdout and all(f"pkg.mod::{n}" in everything.stdout for n in names)


def test_unwritable_output_is_one_line_error(reports: dict[str, Path], tmp_path: Path) -> None:
    for option in ("--json", "--out"):
        target = tmp_path / "no" / "such" / "dir" / "file"
        result = invoke("diff", "--serial", reports["serial"], "--parallel", reports["par1"], option, target)
        assert_one_line_error(result)


# --------------------------------------------------------------------------
# ingest


def test_ingest_round_trips(reports: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "results.parquet"
    result = invoke("ingest", reports["par1"], reports["par2"], "--mode", "parallel", "--out", out)
    assert result.exit_code == 0, result.output
    assert "6 test cases from 2 run(s)" in result.stdout
    expected = load_junit([reports["par1"], reports["par2"]], mode="parallel")
    pd.testing.assert_frame_equal(load_table(out), expected)


def test_ingest_directory_without_mode(reports: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "all.parquet"
    result = invoke("ingest", tmp_path, "-o", out)
    assert result.exit_code == 0, result.output
    table = load_table(out)
    assert table["run_id"].nunique() == 3 and table["mode"].isna().all()


def test_ingest_bad_mode(reports: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    result = invoke("ingest", reports["serial"], "--mode", "sideways", "--out", out)
    assert_one_line_error(result, "--mode", "sideways")
    assert not out.exists()


def test_ingest_keep_going(reports: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<testsuites><testsuite><testcase name='a'/>")
    out = tmp_path / "x.parquet"
    result = invoke("ingest", reports["serial"], bad, "--keep-going", "--out", out)
    assert result.exit_code == 0, result.output
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        line for line in result.stderr.splitlines() if line.startswith(f"skipped {bad}")
    ]
    assert len(load_table(out)) == 3
    assert_one_line_error(invoke("ingest", reports["serial"], bad, "--out", out), str(bad))


def test_ingest_needs_out(reports: dict[str, Path]) -> None:
    result = invoke("ingest", reports["serial"])
    assert result.exit_code == 2 and "--out" in result.output


# --------------------------------------------------------------------------
# Help


def command_names() -> list[str]:
    return sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_top_level_help() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "Find which test breaks which" in result.stdout
    for name in command_names():
        assert name in result.stdout
    bare = invoke()
    assert "Usage" in bare.output  # no arguments: help, not a traceback


@pytest.mark.parametrize("name", command_names())
def test_every_command_help(name: str) -> None:
    result = invoke(name, "--help")
    assert result.exit_code == 0, result.output
    assert f"pollution {name}" in result.stdout or "Usage" in result.stdout
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    assert command.help and command.help.split("\n")[0].strip() in " ".join(result.stdout.split())


def test_unicode_names_survive_in_json_and_terminal(tmp_path: Path) -> None:
    name = "test_数据库_😀_[bold]x[/]"
    serial = write_report(tmp_path / "s.xml", {name: "passed"})
    parallel = write_report(tmp_path / "p.xml", {name: "failed"})
    out_json = tmp_path / "d.json"
    result = invoke("diff", "--serial", serial, "--parallel", parallel, "--json", out_json, "--show", "0")
    assert result.exit_code == 0, result.output
    assert json.loads(out_json.read_text(encoding="utf-8"))["tests"][0]["name"] == name
    assert "数据库" in result.stdout and "[bold]x[/]" in result.stdout  # printed, not read as markup
