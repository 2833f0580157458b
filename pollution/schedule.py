"""Co-scheduling: which tests ran before or beside each victim.

From worker ids, positions and start/stop times where the report has them;
all tests of the run where nothing is known.  A test is a *sequential*
candidate for a victim when it started before the victim ended in a run where
the victim failed (same worker earlier, or another worker); it is a
*concurrent* candidate when, on another worker, its run overlapped the
victim's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

BASES = ("timing", "worker-order", "whole-run")


@dataclass
class Candidates:
    victim: str
    sequential: list[str] = field(default_factory=list)
    concurrent: list[str] = field(default_factory=list)
    basis: str = "whole-run"  # the weakest basis used over the failing runs
    runs: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.sequential)


def execution_order(table: pd.DataFrame) -> list[str]:
    """Every test id once, in the order it first ran: by start time where
    known, then by document order.  Stable whatever the input order."""
    if table.empty:
        return []
    frame = table[["test_id", "start", "seq", "run_id"]].copy()
    frame["_start"] = frame["start"].astype("Float64").fillna(float("inf"))
    frame = frame.sort_values(["_start", "run_id", "seq", "test_id"], kind="stable")
    return list(dict.fromkeys(frame["test_id"]))


def candidates_for(table: pd.DataFrame, victims: Iterable[str]) -> dict[str, Candidates]:
    """Candidates per victim over the runs of ``table`` in which it failed.

    ``table`` is usually the parallel runs.  A victim that failed in no run
    of the table (a ``--victim`` given by hand) gets every other test.
    """
    order = execution_order(table)
    rank = {t: i for i, t in enumerate(order)}
    failed = table[table["outcome"].isin(["failed", "error"])]
    result: dict[str, Candidates] = {}
    runs = {run_id: frame for run_id, frame in table.groupby("run_id", sort=True)}
    for victim in victims:
        cand = Candidates(victim)
        seq: set[str] = set()
        conc: set[str] = set()
        weakest = 0
        for run_id in sorted(failed.loc[failed["test_id"] == victim, "run_id"].unique()):
            run = runs[run_id]
            s, c, basis = _in_run(run, victim)
            seq |= s
            conc |= c
            weakest = max(weakest, BASES.index(basis))
            cand.runs.append(str(run_id))
        if not cand.runs:
            seq = set(order) - {victim}
            weakest = BASES.index("whole-run")
        cand.basis = BASES[weakest]
        cand.sequential = sorted(seq, key=lambda t: rank.get(t, len(rank)))
        cand.concurrent = sorted(conc, key=lambda t: rank.get(t, len(rank)))
        result[victim] = cand
    return result


def _in_run(run: pd.DataFrame, victim: str) -> tuple[set[str], set[str], str]:
    rows = run[run["test_id"] == victim]
    me = rows.iloc[-1]
    others = run[run["test_id"] != victim]
    others = others[others["outcome"] != "skipped"]
    if pd.notna(me["start"]) and others["start"].notna().all() and len(others):
        v_start = float(me["start"])
        v_stop = float(me["stop"]) if pd.notna(me["stop"]) else v_start + float(me["duration"] or 0.0)
        before = others[others["start"].astype(float) < v_stop]
        stops = others["stop"].astype("Float64").fillna(others["start"].astype(float) + others["duration"].fillna(0.0))
        other_worker = others["worker"].isna() | (others["worker"] != me["worker"]) if pd.notna(me["worker"]) else True
        overlap = others[(others["start"].astype(float) < v_stop) & (stops > v_start) & other_worker]
        return set(before["test_id"]), set(overlap["test_id"]), "timing"
    if pd.notna(me["worker"]) and pd.notna(me["position"]) and others["worker"].notna().all():
        same = others[(others["worker"] == me["worker"]) & (others["position"] < me["position"])]
        elsewhere = others[others["worker"] != me["worker"]]
        return set(same["test_id"]) | set(elsewhere["test_id"]), set(elsewhere["test_id"]), "worker-order"
    return set(others["test_id"]), set(others["test_id"]), "whole-run"


def rank_suspects(table: pd.DataFrame, victim: str, top: int | None = 10) -> pd.DataFrame:
    """Rank the tests co-scheduled with ``victim`` without running anything.

    For each candidate: in how many of the victim's failing runs it ran
    before or beside the victim, and in how many of its passing runs.  The
    score (share of failing runs minus share of passing runs) puts first the
    tests that are there when the victim fails and absent when it passes: a
    guess to start from when no runner is available, not a finding.
    """
    failed_runs = set(table.loc[(table["test_id"] == victim) & table["outcome"].isin(["failed", "error"]), "run_id"])
    passed_runs = set(table.loc[(table["test_id"] == victim) & (table["outcome"] == "passed"), "run_id"])
    counts: dict[str, list[int]] = {}
    for run_id, run in table.groupby("run_id", sort=True):
        if run_id not in failed_runs and run_id not in passed_runs or not (run["test_id"] == victim).any():
            continue
        before, _, _ = _in_run(run, victim)
        slot = 0 if run_id in failed_runs else 1
        for t in before:
            counts.setdefault(t, [0, 0])[slot] += 1
    rows = [
        {
            "suspect": t,
            "failing_runs_with": f,
            "passing_runs_with": p,
            "score": (f / len(failed_runs) if failed_runs else 0.0) - (p / len(passed_runs) if passed_runs else 0.0),
        }
        for t, (f, p) in counts.items()
    ]
    frame = pd.DataFrame(rows, columns=["suspect", "failing_runs_with", "passing_runs_with", "score"])
    frame = frame.sort_values(["score", "failing_runs_with", "suspect"], ascending=[False, False, True])
    frame = frame.reset_index(drop=True)
    return frame.head(top) if top else frame
