"""Serial vs parallel classification, from real JUnit files written to tmp_path."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

import pandas as pd
import pytest

from pollution import load_junit
from pollution.diff import CATEGORIES, DiffOutcome, diff_paths, diff_runs, diff_table, summarize
from pollution.errors import InputError

CASE = {
    "passed": "",
    "failed": '<failure message="{msg}">trace</failure>',
    "error": '<error message="{msg}">trace</error>',
    "skipped": '<skipped message="not today"/>',
    # Surefire/Gradle style: a failed attempt recorded inside a passing case.
    "rerun-passed": '<flakyFailure message="{msg}">trace</flakyFailure>',
}


def case_xml(name: str, outcome: str, msg: str) -> str:
    """One ``<testcase>``; ``failed+passed`` writes two attempts (pytest-rerunfailures style)."""
    if "+" in outcome:
        return "".join(case_xml(name, part, msg) for part in outcome.split("+"))
    body = CASE[outcome].format(msg=msg)
    return f'  <testcase classname="pkg.mod" name={quoteattr(name)} time="0.01">{body}</testcase>\n'


def write_report(path: Path, outcomes: dict[str, str | None], msg: str = "boom") -> Path:
    """A JUnit file with one case per test; an outcome of None leaves the test out."""
    cases = "".join(case_xml(n, o, msg) for n, o in outcomes.items() if o is not None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'<?xml version="1.0"?>\n<testsuite name="unit">\n{cases}</testsuite>\n', encoding="utf-8")
    return path


def write_runs(folder: Path, runs: list[str | None], *, msg: str = "boom") -> list[Path]:
    """One report per run: test ``t`` with the given outcome, plus an always-passing ``anchor``."""
    return [
        write_report(folder / f"run{i}.xml", {"anchor": "passed", "t": outcome}, msg=f"{msg} {i}")
        for i, outcome in enumerate(runs)
    ]


def classify(tmp_path: Path, serial: list[str | None], parallel: list[str | None]) -> pd.Series:
    s = write_runs(tmp_path / "serial", serial, msg="serial")
    p = write_runs(tmp_path / "parallel", parallel, msg="parallel")
    outcome = diff_paths([], [str(f) for f in s], [str(f) for f in p])
    diff = outcome.diff.set_index("test_id")
    assert diff.loc["pkg.mod::anchor", "category"] == "pass"
    return diff.loc["pkg.mod::t"]


# serial runs, parallel runs, category, parallel_failure_rate, attempt_flaky
TABLE = [
    pytest.param(["passed"], ["passed", "passed"], "pass", 0.0, False, id="pass"),
    pytest.param(["passed", "passed"], ["failed", "passed", "passed", "failed"], "parallel-only", 0.5, False, id="parallel-only-half"),
    pytest.param(["passed"], ["error"], "parallel-only", 1.0, False, id="parallel-only-error"),
    pytest.param(["passed"], ["passed", "passed", "failed"], "parallel-only", 1 / 3, False, id="parallel-only-third"),
    pytest.param(["failed"], ["failed", "error"], "genuine-failure", 1.0, False, id="genuine-failure"),
    pytest.param(["failed", "error"], ["failed"], "genuine-failure", 1.0, False, id="genuine-failure-mixed"),
    pytest.param(["failed"], ["passed", "passed"], "serial-only", 0.0, False, id="serial-only"),
    pytest.param(["failed", "passed"], ["passed"], "flaky", 0.0, False, id="flaky-within-serial"),
    pytest.param(["passed", "error"], ["failed"], "flaky", 1.0, False, id="flaky-within-serial-fails-parallel"),
    pytest.param(["failed"], ["failed", "passed"], "flaky", 0.5, False, id="flaky-serial-fail-parallel-sometimes"),
    pytest.param(["rerun-passed"], ["passed"], "flaky", 0.0, True, id="flaky-rerun-inside-serial-case"),
    pytest.param(["failed+passed"], ["passed"], "flaky", 0.0, True, id="flaky-rerun-attempts-serial"),
    pytest.param(["passed"], ["rerun-passed"], "flaky", 0.0, True, id="flaky-rerun-inside-parallel-case"),
    pytest.param(["passed"], ["failed+passed"], "flaky", 0.0, True, id="flaky-rerun-attempts-parallel"),
    pytest.param([None], ["passed"], "serial-missing", 0.0, False, id="serial-missing"),
    pytest.param([None, None], ["failed"], "serial-missing", 1.0, False, id="serial-missing-failing"),
    pytest.param(["skipped"], ["passed"], "serial-missing", 0.0, False, id="skipped-serially-ran-in-parallel"),
    pytest.param(["passed"], [None], "parallel-missing", None, False, id="parallel-missing"),
    pytest.param(["failed"], [None, None], "parallel-missing", None, False, id="parallel-missing-failing"),
    pytest.param(["skipped"], ["skipped", "skipped"], "skipped", None, False, id="skipped"),
    pytest.param(["passed", None], ["passed", None], "pass", 0.0, False, id="absent-from-some-runs"),
]


@pytest.mark.parametrize(("serial", "parallel", "category", "rate", "attempt_flaky"), TABLE)
def test_categories(
    tmp_path: Path,
    serial: list[str | None],
    parallel: list[str | None],
    category: str,
    rate: float | None,
    attempt_flaky: bool,
) -> None:
    row = classify(tmp_path, serial, parallel)
    assert row["category"] == category
    if rate is None:
        assert pd.isna(row["parallel_failure_rate"])
    else:
        assert row["parallel_failure_rate"] == pytest.approx(rate)
    assert bool(row["attempt_flaky"]) is attempt_flaky


def test_counts_and_message_of_a_victim(tmp_path: Path) -> None:
    row = classify(tmp_path, ["passed", "passed"], ["passed", "failed", "failed"])
    assert (row["serial_runs"], row["serial_failures"]) == (2, 0)
    assert (row["parallel_runs"], row["parallel_failures"]) == (3, 2)
    assert row["serial_failure_rate"] == 0.0
    assert row["message"].startswith("parallel")
    assert (row["suite"], row["classname"], row["name"]) == ("unit", "pkg.mod", "t")


def test_serial_message_when_parallel_passes(tmp_path: Path) -> None:
    row = classify(tmp_path, ["failed"], ["passed"])
    assert row["message"] == "serial 0"


def test_findings_sort_first_and_columns_are_stable(tmp_path: Path) -> None:
    outcomes = {"ok": "passed", "victim_rare": "passed", "victim_often": "passed", "broken": "failed", "gone": "skipped"}
    serial = write_report(tmp_path / "s.xml", outcomes)
    parallel = [
        write_report(tmp_path / f"p{i}.xml", {**outcomes, "victim_often": "failed", "victim_rare": "failed" if i == 0 else "passed"})
        for i in range(3)
    ]
    diff = diff_paths([], [str(serial)], [str(p) for p in parallel]).diff
    assert list(diff.columns) == [
        "test_id", "category", "serial_runs", "serial_failures", "parallel_runs", "parallel_failures",
        "parallel_failure_rate", "serial_failure_rate", "attempt_flaky", "message",
        "suite", "classname", "name", "file",
    ]
    assert list(diff["name"]) == ["victim_often", "victim_rare", "broken", "gone", "ok"]
    assert list(diff["category"]) == ["parallel-only", "parallel-only", "genuine-failure", "skipped", "pass"]
    assert summarize(diff) == {c: {"parallel-only": 2, "genuine-failure": 1, "skipped": 1, "pass": 1}.get(c, 0) for c in CATEGORIES}


def test_a_run_with_only_skipped_tests(tmp_path: Path) -> None:
    serial = write_report(tmp_path / "s.xml", {"a": "skipped", "b": "skipped"})
    parallel = write_report(tmp_path / "p.xml", {"a": "skipped", "b": "failed"})
    diff = diff_paths([], [str(serial)], [str(parallel)]).diff.set_index("name")
    assert diff.loc["a", "category"] == "skipped"
    assert diff.loc["b", "category"] == "serial-missing"


def test_same_run_as_serial_and_parallel_is_an_error(tmp_path: Path) -> None:
    report = write_report(tmp_path / "run.xml", {"t": "passed"})
    with pytest.raises(InputError, match="both serial and parallel"):
        diff_paths([], [str(report)], [str(report)])
    table = load_junit(report)
    with pytest.raises(InputError, match="both serial and parallel"):
        diff_runs(table, table)


@pytest.mark.parametrize("missing", ["serial", "parallel"])
def test_one_side_missing_is_an_error(tmp_path: Path, missing: str) -> None:
    table = load_junit(write_report(tmp_path / "run.xml", {"t": "passed"}))
    empty = table.iloc[0:0]
    args = (empty, table) if missing == "serial" else (table, empty)
    with pytest.raises(InputError, match=f"no {missing} run"):
        diff_runs(*args)


def test_nothing_to_compare() -> None:
    with pytest.raises(InputError, match="nothing to compare"):
        diff_paths([], [], [])


def test_diff_runs_from_python(tmp_path: Path) -> None:
    serial = load_junit(
        [write_report(tmp_path / "s1.xml", {"a": "passed", "b": "passed"}), write_report(tmp_path / "s2.xml", {"a": "passed", "b": "passed"})],
        mode="serial",
    )
    parallel = load_junit(write_report(tmp_path / "p.xml", {"a": "passed", "b": "failed"}), mode="parallel")
    diff = diff_runs(serial, parallel)
    assert dict(zip(diff["name"], diff["category"])) == {"b": "parallel-only", "a": "pass"}
    assert diff["category"].dtype == "string"
    # The same through one table whose mode column says which run is which.
    combined = pd.concat([serial, parallel], ignore_index=True)
    pd.testing.assert_frame_equal(diff_table(combined), diff)


def test_diff_table_needs_a_mode_for_every_run(tmp_path: Path) -> None:
    table = load_junit(write_report(tmp_path / "r.xml", {"t": "passed"}))
    with pytest.raises(InputError, match="no serial/parallel mode"):
        diff_table(table)


def test_diff_paths_from_a_manifest_directory(tmp_path: Path) -> None:
    import json

    art = tmp_path / "art"
    write_report(art / "s" / "junit.xml", {"a": "passed", "b": "passed"})
    write_report(art / "p" / "junit.xml", {"a": "failed", "b": "passed"})
    (art / "manifest.json").write_text(json.dumps({"runs": [
        {"run_id": "serial-0", "mode": "serial", "reports": ["s/junit.xml"]},
        {"run_id": "parallel-0", "mode": "parallel", "reports": ["p/junit.xml"]},
    ]}))
    outcome = diff_paths([str(art)], [], [])
    assert isinstance(outcome, DiffOutcome)
    (serial_run,), (parallel_run,) = outcome.runs("serial"), outcome.runs("parallel")
    assert serial_run.endswith("serial-0") and parallel_run.endswith("parallel-0")
    assert dict(zip(outcome.diff["name"], outcome.diff["category"])) == {"a": "parallel-only", "b": "pass"}


def test_keep_going_collects_skipped_files_of_both_sides(tmp_path: Path) -> None:
    serial = write_report(tmp_path / "s.xml", {"t": "passed"})
    bad_serial = tmp_path / "s-bad.xml"
    bad_serial.write_text("<testsuite><testcase")
    parallel = write_report(tmp_path / "p.xml", {"t": "failed"})
    bad_parallel = tmp_path / "p-bad.xml"
    bad_parallel.write_bytes(b"\x1f\x8b\x08 gzip")
    outcome = diff_paths([], [str(serial), str(bad_serial)], [str(parallel), str(bad_parallel)], keep_going=True)
    assert [s.path for s in outcome.skipped] == [str(bad_serial), str(bad_parallel)]
    assert outcome.diff["category"].tolist() == ["parallel-only"]
