"""`go test -json` (test2json) streams -> the results table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pollution.errors import ReportError
from pollution.gojson import MESSAGE_LIMIT, epoch, load_gotest_json, parse_gotest_lines
from pollution.results import COLUMNS, SCHEMA

PLAIN = Path(__file__).parent / "fixtures" / "gotest" / "plain.json"
T0 = "2026-11-25T20:00:00"


def ev(action: str, test: str | None = None, *, pkg: str = "p", t: float = 0.0, **extra: Any) -> str:
    """One test2json line at ``T0 + t`` seconds (``0 <= t < 1``)."""
    event: dict[str, Any] = {"Time": f"{T0}.{round(t * 1e9):09d}Z", "Action": action, "Package": pkg}
    if test is not None:
        event["Test"] = test
    event.update(extra)
    return json.dumps(event) + "\n"


def table_of(*lines: str) -> pd.DataFrame:
    return parse_gotest_lines(lines, run_id="r", mode="serial", source="x.json")


def by_id(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("test_id")


def test_fixture_rows() -> None:
    table = load_gotest_json(PLAIN, run_id="r1", mode="serial")
    assert list(table.columns) == COLUMNS and dict(table.dtypes.astype(str)) == SCHEMA
    rows = by_id(table)
    assert len(table) == 10 and table["test_id"].is_unique
    assert rows.loc["plaingo::TestRegistryStartsEmpty", "outcome"] == "failed"
    assert "registry not empty: map[admin:true]" in str(rows.loc["plaingo::TestRegistryStartsEmpty", "message"])
    assert rows.loc["plaingo::TestNeedsDocker", "outcome"] == "skipped"
    assert "docker not available" in str(rows.loc["plaingo::TestNeedsDocker", "message"])
    assert set(table.loc[~table["outcome"].isin(["failed", "skipped"]), "outcome"]) == {"passed"}
    assert rows["message"].isna()["plaingo::TestSlug"]  # passing tests carry no message
    assert {"plaingo::TestSlug/simple", "plaingo::TestParallelB/nested"} <= set(table["test_id"])
    assert (table["run_id"] == "r1").all() and (table["mode"] == "serial").all()
    assert (table["runner"] == "go").all() and table["worker"].isna().all()
    assert (table["suite"] == "plaingo").all() and (table["classname"] == "plaingo").all()
    assert rows.loc["plaingo::TestSlug/empty", "name"] == "TestSlug/empty"
    # position = order of the package's `run` events; the nested subtest of a
    # parallel test runs last, after the sequential tests.
    assert list(table.sort_values("position")["test_id"])[:2] == ["plaingo::TestSlug", "plaingo::TestSlug/simple"]
    assert table["position"].max() == rows.loc["plaingo::TestParallelB/nested", "position"] == 9
    assert (table["stop"] >= table["start"]).all()
    assert rows.loc["plaingo::TestParallelA", "duration"] == pytest.approx(0.05)
    # start is the `run` event, stop the `pass` event (epoch seconds)
    assert rows.loc["plaingo::TestParallelA", "start"] == pytest.approx(epoch("2026-11-25T20:33:08.29607499Z"))
    assert rows.loc["plaingo::TestParallelA", "stop"] == pytest.approx(epoch("2026-11-25T20:33:08.347025988Z"))


def test_default_run_id_is_the_path() -> None:
    assert (load_gotest_json(PLAIN)["run_id"] == PLAIN.as_posix()).all()


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("1970-01-01T00:00:01Z", 1.0),
        ("1970-01-01T00:00:01.5Z", 1.5),
        ("1970-01-01T00:00:01.123456789Z", 1.123456789),
        ("1970-01-01T01:00:01.25+01:00", 1.25),
        ("1970-01-01T00:00:00-00:30", 1800.0),
        ("yesterday", None),
        (None, None),
        (17, None),
    ],
)
def test_epoch(stamp: Any, expected: float | None) -> None:
    got = epoch(stamp)
    assert got == (None if expected is None else pytest.approx(expected, abs=1e-7))


def test_never_ended_test_is_an_error_until_the_last_event() -> None:
    table = table_of(
        ev("start"),
        ev("run", "TestOK", t=0.1),
        ev("pass", "TestOK", t=0.2, Elapsed=0.1),
        ev("run", "TestSleep", t=0.3),
        ev("output", "TestSleep", t=0.9, Output="panic: test timed out after 1s\n"),
        ev("output", t=0.95, Output="FAIL\tp\t1.0s\n"),
        ev("fail", t=0.95, Elapsed=1.0),
    )
    row = by_id(table).loc["p::TestSleep"]
    assert row["outcome"] == "error"
    assert "did not finish" in row["message"] and "test timed out" in row["message"]
    assert row["stop"] == pytest.approx(epoch(f"{T0}.95Z"))
    assert row["duration"] == pytest.approx(0.65)
    assert "p::TestMain" not in set(table["test_id"])  # the package failure is explained by the test


def test_stream_cut_off_by_a_kill() -> None:
    table = table_of(ev("start"), ev("run", "TestA", t=0.1), ev("run", "TestA/sub", t=0.2))
    assert list(table["outcome"]) == ["error", "error"]


def test_package_failing_outside_tests_gets_one_testmain_row() -> None:
    table = table_of(
        ev("start"),
        ev("run", "TestA", t=0.1),
        ev("pass", "TestA", t=0.2, Elapsed=0.0),
        ev("output", t=0.3, Output="TestMain: database unreachable\n"),
        ev("fail", t=0.3, Elapsed=0.3),
    )
    main = by_id(table).loc["p::TestMain"]
    assert main["outcome"] == "error" and main["name"] == "TestMain"
    assert "database unreachable" in main["message"]


def test_build_failure_json_and_stderr_text() -> None:
    # go 1.22 writes the compiler errors to stderr; captured with 2>&1 they are
    # text lines among the events.
    table = table_of(
        "# b [b.test]\n",
        "src/b/b_test.go:3:28: undefined: undefined\n",
        ev("start", pkg="b"),
        ev("output", pkg="b", Output="FAIL\tb [build failed]\n"),
        ev("fail", pkg="b", Elapsed=0),
        ev("start", pkg="ok"),
        ev("run", "TestA", pkg="ok"),
        ev("pass", "TestA", pkg="ok", Elapsed=0),
        ev("pass", pkg="ok", Elapsed=0),
    )
    rows = by_id(table)
    assert rows.loc["ok::TestA", "outcome"] == "passed"
    assert rows.loc["b::TestMain", "outcome"] == "error"
    message = str(rows.loc["b::TestMain", "message"])
    assert "undefined: undefined" in message and "build failed" in message


def test_go_124_build_events() -> None:
    table = table_of(
        json.dumps({"ImportPath": "b [b.test]", "Action": "build-output", "Output": "b_test.go:3: nope\n"}) + "\n",
        json.dumps({"ImportPath": "b [b.test]", "Action": "build-fail"}) + "\n",
        ev("start", pkg="b"),
        ev("fail", pkg="b", Elapsed=0, FailedBuild="b [b.test]"),
    )
    assert list(table["test_id"]) == ["b::TestMain"]
    assert "b_test.go:3: nope" in table["message"][0]


def test_only_text_with_a_build_failure_is_still_a_row() -> None:
    table = table_of("# b\n", "b.go:1: syntax error\n", "FAIL\tb [build failed]\n")
    assert list(table["test_id"]) == ["b::TestMain"] and table["outcome"][0] == "error"


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ([], "empty file"),
        (["ok  \tplaingo\t0.01s\n", "PASS\n"], "no `go test -json` event"),
        (['{"not": "an event"}\n'], "no `go test -json` event"),
    ],
)
def test_unreadable_streams_are_refused(lines: list[str], reason: str) -> None:
    with pytest.raises(ReportError, match=reason) as info:
        table_of(*lines)
    assert str(info.value).startswith("x.json")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="nope.json"):
        load_gotest_json(tmp_path / "nope.json", run_id="r")


def test_non_json_noise_between_events_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    path.write_bytes(
        ev("run", "TestA").encode() + b"\xff\xfe garbage line\n{broken json\n" + ev("pass", "TestA", Elapsed=0.5).encode()
    )
    table = load_gotest_json(path, run_id="r")
    assert list(table["outcome"]) == ["passed"] and table["duration"][0] == 0.5
    assert table["source"][0] == str(path)


def test_message_is_capped_and_drops_framing_lines() -> None:
    noisy = [ev("output", "TestBig", Output="x" * 100 + "\n") for _ in range(200)]
    table = table_of(
        ev("run", "TestBig"),
        ev("output", "TestBig", Output="=== RUN   TestBig\n"),
        *noisy,
        ev("fail", "TestBig", Elapsed=0),
    )
    message = table["message"][0]
    assert len(message) <= MESSAGE_LIMIT and not message.startswith("===")


def test_repeated_runs_with_count_are_separate_rows() -> None:
    table = table_of(
        ev("run", "TestA", t=0.1), ev("pass", "TestA", t=0.2, Elapsed=0),
        ev("run", "TestA", t=0.3), ev("fail", "TestA", t=0.4, Elapsed=0),
    )
    assert list(table["outcome"]) == ["passed", "failed"] and list(table["position"]) == [0, 1]


def test_ids_match_go_junit_ids_of_the_same_tests() -> None:
    # junit.py gives go-junit-report / gotestsum cases "<classname = import path>::<name>".
    table = table_of(ev("run", "TestSlug/simple", pkg="example.com/m/plaingo"),
                     ev("pass", "TestSlug/simple", pkg="example.com/m/plaingo", Elapsed=0))
    assert list(table["test_id"]) == ["example.com/m/plaingo::TestSlug/simple"]
