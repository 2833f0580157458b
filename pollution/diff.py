"""Serial versus parallel runs -> one classification per test.

Each run is first collapsed to one outcome per test (the last attempt, with a
note when attempts inside the run disagreed, as with rerun plugins), then the
runs of each mode are counted:

=================  ==========================================================
category           meaning
=================  ==========================================================
pass               never failed in any run
parallel-only      passes in every serial run, fails in some parallel run:
                   a victim candidate (``parallel_failure_rate`` says how often)
genuine-failure    fails in every run of both modes
serial-only        fails in every serial run, passes in every parallel run
flaky              outcome varies between runs of the same serial mode, between
                   attempts inside one run, or a serial failure that parallel
                   runs only sometimes repeat: a nondeterminism candidate
skipped            skipped (or not run) everywhere
serial-missing     ran in parallel runs only
parallel-missing   ran in serial runs only
=================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pollution.errors import InputError
from pollution.junit import SkippedFile, ingest

CATEGORIES = (
    "parallel-only",
    "genuine-failure",
    "flaky",
    "serial-only",
    "serial-missing",
    "parallel-missing",
    "skipped",
    "pass",
)
FINDINGS = ("parallel-only",)

_FAILED = ("failed", "error")


def per_run_outcomes(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, test): the final attempt's outcome and whether attempts disagreed."""
    if table.empty:
        return pd.DataFrame(
            columns=["run_id", "test_id", "outcome", "failed", "attempt_flaky", "message"]
        )
    ordered = table.sort_values(["run_id", "seq"], kind="stable")
    failed = ordered["outcome"].isin(_FAILED)
    ran = ordered["outcome"] != "skipped"
    frame = pd.DataFrame(
        {
            "run_id": ordered["run_id"],
            "test_id": ordered["test_id"],
            "outcome": ordered["outcome"],
            "failed_any": failed & ran,
            "passed_any": (ordered["outcome"] == "passed") & (ordered["reruns"].fillna(0) == 0),
            "rerun": ordered["reruns"].fillna(0) > 0,
            "message": ordered["message"].where(failed),
        }
    )
    grouped = frame.groupby(["run_id", "test_id"], sort=False)
    result = grouped.agg(
        outcome=("outcome", "last"),
        failed_any=("failed_any", "any"),
        passed_any=("passed_any", "any"),
        rerun=("rerun", "any"),
        message=("message", "first"),
    ).reset_index()
    result["failed"] = result["outcome"].isin(_FAILED)
    result["attempt_flaky"] = (result["failed_any"] & result["passed_any"]) | result["rerun"]
    return result[["run_id", "test_id", "outcome", "failed", "attempt_flaky", "message"]]


def _side(table: pd.DataFrame, prefix: str) -> pd.DataFrame:
    runs = per_run_outcomes(table)
    ran = runs[runs["outcome"] != "skipped"]
    stats = ran.groupby("test_id").agg(
        runs=("run_id", "nunique"),
        failures=("failed", "sum"),
        attempt_flaky=("attempt_flaky", "any"),
    )
    first_message = runs[runs["failed"]].groupby("test_id")["message"].first()
    present = runs.groupby("test_id")["run_id"].nunique().rename("present")
    stats = stats.join(first_message, how="outer").join(present, how="outer")
    stats["runs"] = stats["runs"].fillna(0).astype("int64")
    stats["failures"] = stats["failures"].fillna(0).astype("int64")
    stats["attempt_flaky"] = stats["attempt_flaky"].astype("boolean").fillna(False).astype(bool)
    return stats.add_prefix(f"{prefix}_")


def _classify(row: Any) -> str:
    s_runs, s_fail = row.serial_runs, row.serial_failures
    p_runs, p_fail = row.parallel_runs, row.parallel_failures
    if s_runs == 0 and p_runs == 0:
        if row.serial_present > 0 and row.parallel_present > 0:
            return "skipped"
        return "serial-missing" if row.parallel_present > 0 else "parallel-missing"
    if s_runs == 0:
        return "serial-missing"
    if p_runs == 0:
        return "parallel-missing"
    if row.serial_attempt_flaky or 0 < s_fail < s_runs:
        return "flaky"
    if s_fail == 0:
        if p_fail > 0:
            return "parallel-only"
        return "flaky" if row.parallel_attempt_flaky else "pass"
    # Fails in every serial run.
    if p_fail == p_runs:
        return "genuine-failure"
    if p_fail == 0:
        return "serial-only"
    return "flaky"


def diff_runs(serial: pd.DataFrame, parallel: pd.DataFrame) -> pd.DataFrame:
    """Classify every test seen in the serial and parallel results tables.

    Returns one row per test id, sorted with findings first, with columns
    ``test_id, category, serial_runs, serial_failures, parallel_runs,
    parallel_failures, parallel_failure_rate, serial_failure_rate,
    attempt_flaky, message, suite, classname, name, file``.
    """
    if serial.empty or serial["run_id"].nunique() == 0:
        raise InputError("no serial run to compare: give at least one serial report")
    if parallel.empty or parallel["run_id"].nunique() == 0:
        raise InputError("no parallel run to compare: give at least one parallel report")
    shared_runs = set(serial["run_id"]) & set(parallel["run_id"])
    if shared_runs:
        raise InputError(f"run {sorted(shared_runs)[0]!r} is given as both serial and parallel")
    both = _side(serial, "serial").join(_side(parallel, "parallel"), how="outer")
    for col in ("serial_runs", "serial_failures", "parallel_runs", "parallel_failures", "serial_present", "parallel_present"):
        both[col] = both[col].fillna(0).astype("int64")
    for col in ("serial_attempt_flaky", "parallel_attempt_flaky"):
        both[col] = both[col].astype("boolean").fillna(False).astype(bool)
    both["category"] = [_classify(row) for row in both.itertuples()]
    both["parallel_failure_rate"] = _rate(both["parallel_failures"], both["parallel_runs"])
    both["serial_failure_rate"] = _rate(both["serial_failures"], both["serial_runs"])
    both["attempt_flaky"] = both["serial_attempt_flaky"] | both["parallel_attempt_flaky"]
    both["message"] = both["parallel_message"].combine_first(both["serial_message"])
    names = (
        pd.concat([serial, parallel])
        .drop_duplicates("test_id")
        .set_index("test_id")[["suite", "classname", "name", "file"]]
    )
    both = both.join(names)
    both.index.name = "test_id"
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    both = both.reset_index()
    both["_rank"] = both["category"].map(rank)
    both = both.sort_values(["_rank", "parallel_failure_rate", "test_id"], ascending=[True, False, True])
    columns = [
        "test_id", "category", "serial_runs", "serial_failures", "parallel_runs", "parallel_failures",
        "parallel_failure_rate", "serial_failure_rate", "attempt_flaky", "message",
        "suite", "classname", "name", "file",
    ]
    result = both[columns].reset_index(drop=True)
    result["category"] = result["category"].astype("string")
    result["message"] = result["message"].astype("string")
    return result


def diff_table(table: pd.DataFrame) -> pd.DataFrame:
    """Diff one table whose ``mode`` column says which runs are serial and parallel."""
    unknown = table[table["mode"].isna() | ~table["mode"].isin(["serial", "parallel"])]
    if not unknown.empty:
        run = unknown["run_id"].iloc[0]
        raise InputError(f"run {run!r} has no serial/parallel mode: pass it with --serial or --parallel")
    return diff_runs(table[table["mode"] == "serial"], table[table["mode"] == "parallel"])


def summarize(diff: pd.DataFrame) -> dict[str, int]:
    counts = diff["category"].value_counts().to_dict()
    return {c: int(counts.get(c, 0)) for c in CATEGORIES}


def _rate(failures: pd.Series, runs: pd.Series) -> pd.Series:
    return (failures / runs.where(runs > 0)).astype("Float64")


@dataclass
class DiffOutcome:
    """A diff with what it was computed from."""

    diff: pd.DataFrame
    table: pd.DataFrame
    skipped: list[SkippedFile] = field(default_factory=list)

    def runs(self, mode: str) -> list[str]:
        return sorted(self.table.loc[self.table["mode"] == mode, "run_id"].unique())


def diff_paths(
    runs: list[str], serial: list[str], parallel: list[str], *, keep_going: bool = False
) -> DiffOutcome:
    """Ingest report paths and diff them: ``runs`` are artifact directories whose
    manifest gives each run's mode; ``serial`` and ``parallel`` force the mode."""
    if not (runs or serial or parallel):
        raise InputError("nothing to compare: give --serial and --parallel reports, or an artifacts directory")
    parts = []
    skipped: list[SkippedFile] = []
    for paths, mode in ((runs, None), (serial, "serial"), (parallel, "parallel")):
        if paths:
            got = ingest(paths, mode=mode, keep_going=keep_going)
            parts.append(got.table)
            skipped.extend(got.skipped)
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return DiffOutcome(diff_table(table), table, skipped)
