"""One command from reports to answer: diff -> (bisect -> graph -> plan) -> report.

``pollution diagnose`` and ``pollution demo`` are thin layers over these.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pollution.diagnosis import Diagnosis, ProgressFn, diagnose, suspects_only
from pollution.diff import diff_paths
from pollution.errors import InputError
from pollution.runners.base import Runner, RunResult

DEFAULT_OUT = Path("pollution-report")


@dataclass
class Outcome:
    diagnosis: Diagnosis
    out: Path
    report: Path | None


def split_modes(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return table[table["mode"] == "serial"], table[table["mode"] == "parallel"]


def diagnose_paths(
    runs: Sequence[str],
    serial: Sequence[str],
    parallel: Sequence[str],
    runner: Runner | None,
    out: Path = DEFAULT_OUT,
    *,
    render: bool = True,
    **options: Any,
) -> Outcome:
    """Ingest reports, diagnose them (with a runner: bisect and confirm; without:
    rank suspects from co-scheduling) and render the report into ``out``."""
    table = diff_paths(list(runs), list(serial), list(parallel)).table
    serial_table, parallel_table = split_modes(table)
    if runner is None:
        diagnosis = suspects_only(serial_table, parallel_table, out)
    else:
        diagnosis = diagnose(runner, serial=serial_table, parallel=parallel_table, out=out, **options)
    return Outcome(diagnosis, out, render_report(out) if render else None)


def render_report(out: Path) -> Path | None:
    """Write report.html, report.md and the graph exports; the HTML's path."""
    try:
        from pollution.report import render_all
    except ImportError:  # the report package is optional for library users
        return None
    return render_all(out)["html"]


# ---------------------------------------------------------------- the demo


@contextlib.contextmanager
def demo_database(kind: str, scratch: Path) -> Iterator[str]:
    """The database URL template for demo runs: ``{probe}`` makes runs that
    may overlap use their own SQLite file; PostgreSQL gets one throwaway
    server whose database every run resets at its start."""
    if kind == "sqlite":
        yield str(scratch / "demo-{probe}.sqlite")
    elif kind == "postgres":
        from pollution.pg import throwaway_postgres

        with throwaway_postgres() as url:
            yield url
    else:
        raise InputError(f"--db {kind!r}: choose sqlite or postgres")


def run_demo(
    out: Path = DEFAULT_OUT,
    *,
    db: str = "sqlite",
    serial: int = 1,
    parallel: int = 2,
    workers: int = 4,
    confirm: int = 2,
    on_run: Callable[[RunResult], None] | None = None,
    progress: ProgressFn | None = None,
    on_probe: Callable[[Any], None] | None = None,
    render: bool = True,
) -> Outcome:
    """Run the bundled polluted suite serially and in parallel, diagnose it,
    and write the report: what ``pollution demo`` does."""
    from pollution.demo import pytest_args, suite_env, suite_path
    from pollution.runners.pytest import PytestRunner
    from pollution.runs import run_suite

    out.mkdir(parents=True, exist_ok=True)
    runner = PytestRunner(path=suite_path(), args=pytest_args())
    scratch = Path(tempfile.mkdtemp(prefix="pollution-demo-"))
    try:
        with demo_database(db, scratch) as url:
            env = suite_env(url)
            campaign = run_suite(
                runner, out / "runs", serial=serial, parallel=parallel, workers=workers, env=env,
                on_done=on_run,
            )
            serial_table, parallel_table = split_modes(campaign.table)
            jobs = 2 if "{probe}" in url else 1
            diagnosis = diagnose(
                runner, serial=serial_table, parallel=parallel_table, out=out, env=env, jobs=jobs,
                confirm=confirm, state_setters=True, progress=progress, on_probe=on_probe,
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Outcome(diagnosis, out, render_report(out) if render else None)
