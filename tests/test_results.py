"""The results table: its schema and its parquet form."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pollution import COLUMNS, load_junit, load_table, save_table
from pollution.errors import InputError
from pollution.results import SCHEMA, empty_table, typed_table

REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="pytest tests">
  <testsuite name="pytest" timestamp="2024-05-01T12:00:00.250000+00:00">
    <testcase classname="tests.test_db" name="test_insert" file="tests/test_db.py" time="0.5">
      <properties>
        <property name="worker" value="gw1"/>
        <property name="start" value="1714564800.25"/>
        <property name="stop" value="1714564800.75"/>
        <property name="position" value="3"/>
      </properties>
    </testcase>
    <testcase classname="tests.test_db" name="test_select[数据-😀]" time="1.25">
      <failure message="assert 1 == 2">long trace</failure>
    </testcase>
    <testcase classname="tests.test_db.TestTx" name="test_rollback" time="0">
      <skipped message="needs postgres"/>
    </testcase>
    <testcase classname="tests.test_db" name="test_conn" time="0.1"><error message="refused"/></testcase>
  </testsuite>
</testsuites>
"""


@pytest.fixture
def table(tmp_path: Path) -> pd.DataFrame:
    path = tmp_path / "report.xml"
    path.write_text(REPORT, encoding="utf-8")
    return load_junit(path, mode="parallel")


def expected_dtypes() -> dict[str, object]:
    return {col: pd.api.types.pandas_dtype(dtype) for col, dtype in SCHEMA.items()}


def test_loaded_table_follows_schema(table: pd.DataFrame) -> None:
    assert list(table.columns) == COLUMNS == list(SCHEMA)
    assert table.dtypes.to_dict() == expected_dtypes()
    assert set(table["outcome"]) == {"passed", "failed", "skipped", "error"}
    first = table.iloc[0]
    assert (first["worker"], first["start"], first["stop"], first["position"]) == ("gw1", 1714564800.25, 1714564800.75, 3)
    assert pd.isna(table.iloc[1]["worker"]) and pd.isna(table.iloc[1]["position"])


def test_parquet_round_trip_is_exact(table: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "results.parquet"
    save_table(table, path)
    back = load_table(path)
    pd.testing.assert_frame_equal(back, table, check_exact=True)
    assert back.dtypes.to_dict() == expected_dtypes()


def test_round_trip_keeps_missing_values_missing(table: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "results.parquet"
    save_table(table, path)
    back = load_table(path)
    pd.testing.assert_frame_equal(back.isna(), table.isna())
    assert back["message"].isna().tolist() == [True, False, False, False]


def test_empty_table_round_trips(tmp_path: Path) -> None:
    empty = empty_table()
    assert empty.dtypes.to_dict() == expected_dtypes()
    save_table(empty, tmp_path / "empty.parquet")
    pd.testing.assert_frame_equal(load_table(tmp_path / "empty.parquet"), empty)


def test_typed_table_applies_schema() -> None:
    columns = {c: [None] for c in COLUMNS}
    columns.update(run_id=["r"], test_id=["t"], outcome=["passed"], duration=[1], position=[2])
    frame = typed_table(columns)
    assert frame.dtypes.to_dict() == expected_dtypes()
    assert frame.loc[0, "duration"] == 1.0 and frame.loc[0, "position"] == 2


def test_load_table_reorders_and_retypes_columns(table: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "shuffled.parquet"
    shuffled = table[list(reversed(COLUMNS))].astype({"position": "float64", "run_id": "object"})
    shuffled["extra"] = 1
    shuffled.to_parquet(path, index=False)
    pd.testing.assert_frame_equal(load_table(path), table)


@pytest.mark.parametrize(
    "content",
    [b"<testsuite/>", b"PAR1 but not really", b"", b"\x00" * 64],
    ids=["xml", "fake-magic", "empty", "zeros"],
)
def test_load_table_refuses_non_parquet(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "results.parquet"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        load_table(path)
    assert str(path) in str(info.value)


def test_load_table_refuses_parquet_lacking_columns(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pd.DataFrame({"run_id": ["r"], "test_id": ["t"]}).to_parquet(path)
    with pytest.raises(InputError) as info:
        load_table(path)
    message = str(info.value)
    assert str(path) in message and "outcome" in message and "missing" in message


def test_load_table_refuses_wrongly_typed_column(table: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "bad-types.parquet"
    broken = table.astype({"duration": "string"})
    broken["duration"] = "fast"
    broken.to_parquet(path, index=False)
    with pytest.raises(InputError) as info:
        load_table(path)
    assert str(path) in str(info.value)


def test_load_table_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_table(tmp_path / "nope.parquet")
