"""The results table: one row per executed test case of one run.

Every stage reads and writes this shape; nothing downstream re-parses XML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from pollution.errors import InputError

OUTCOMES = ("passed", "failed", "error", "skipped")

# Column -> pandas dtype.  Nullable dtypes throughout, so "unknown" is <NA>
# rather than an invented value, and parquet round-trips exactly.
SCHEMA: dict[str, str] = {
    "run_id": "string",
    "mode": "string",  # serial / parallel / <NA> when not known
    "test_id": "string",  # stable across serial and parallel runs
    "suite": "string",
    "classname": "string",
    "name": "string",
    "file": "string",
    "outcome": "string",  # one of OUTCOMES
    "duration": "Float64",  # seconds
    "worker": "string",  # xdist gw0, Ginkgo process 2, Surefire fork 3...
    "start": "Float64",  # epoch seconds
    "stop": "Float64",
    "position": "Int64",  # execution order on its worker, when recorded
    "message": "string",
    # Beyond DESIGN.md's list:
    "reruns": "Int64",  # failed attempts recorded inside this case (flakyFailure...)
    "seq": "Int64",  # document order within the run (a fact, not an execution order)
    "runner": "string",  # which producer the file was recognised as
    "source": "string",  # the file the row came from
}
COLUMNS = list(SCHEMA)


def empty_table() -> pd.DataFrame:
    return typed_table({c: [] for c in COLUMNS})


def typed_table(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """Build the table from column lists, applying the schema's dtypes."""
    frame = pd.DataFrame(columns, columns=COLUMNS)
    return frame.astype(SCHEMA)


def save_table(table: pd.DataFrame, path: str | Path) -> None:
    """Write the table to parquet (the run metadata goes along in ``attrs``)."""
    table.to_parquet(Path(path), index=False)


def load_table(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`save_table`, checking it has our columns."""
    path = Path(path)
    try:
        table = pd.read_parquet(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except Exception as exc:  # pyarrow raises several unrelated types
        raise InputError(f"{path}: not a parquet results table ({exc})") from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: not a pollution results table (missing {', '.join(missing)})")
    try:
        return table[COLUMNS].astype(SCHEMA)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: a results table column has the wrong type ({exc})") from None
