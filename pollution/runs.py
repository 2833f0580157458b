"""``pollution run``: run a suite serially and in parallel, keep every report
and a manifest that ``pollution diff ARTIFACTS`` understands."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pollution.errors import InputError
from pollution.runners.base import Runner, RunRequest, RunResult, execute

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Campaign:
    """What ``pollution run`` did: one result per run, and where it all is."""

    out: Path
    results: list[RunResult]

    @property
    def table(self) -> pd.DataFrame:
        return pd.concat([r.table for r in self.results], ignore_index=True)


def plan_runs(serial: int, parallel: int, workers: int) -> list[RunRequest]:
    if serial < 0 or parallel < 0 or serial + parallel == 0:
        raise InputError("nothing to run: ask for at least one --serial or --parallel run")
    if parallel and workers < 2:
        raise InputError(f"--workers {workers}: parallel runs need at least 2 workers")
    runs = [RunRequest(run_id=f"serial-{i + 1}", mode="serial") for i in range(serial)]
    runs += [RunRequest(run_id=f"parallel-{i + 1}", mode="parallel", workers=workers) for i in range(parallel)]
    return runs


def run_suite(
    runner: Runner,
    out: Path,
    *,
    serial: int = 1,
    parallel: int = 3,
    workers: int = 4,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    tests: Sequence[str] | None = None,
    extra_args: Sequence[str] = (),
    on_start: Callable[[RunRequest, int, int], None] | None = None,
    on_done: Callable[[RunResult], None] | None = None,
) -> Campaign:
    """Run the suite ``serial`` times alone and ``parallel`` times with
    ``workers`` workers; write each run's reports under ``out/<run_id>/`` and
    ``out/manifest.json``.  The manifest is rewritten after every run, so an
    interrupted campaign still leaves a usable artifacts directory."""
    requests = plan_runs(serial, parallel, workers)
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    results: list[RunResult] = []
    created = time.time()
    for index, base in enumerate(requests):
        request = RunRequest(
            run_id=base.run_id, mode=base.mode, workers=base.workers, tests=tests,
            env=dict(env or {}), timeout=timeout, extra_args=tuple(extra_args),
        )
        if on_start is not None:
            on_start(request, index, len(requests))
        workdir = out / request.run_id
        result = execute(runner, request, workdir)
        results.append(result)
        write_manifest(out, runner.name, results, created)
        if on_done is not None:
            on_done(result)
    return Campaign(out, results)


def write_manifest(out: Path, runner: str, results: list[RunResult], created: float) -> None:
    document: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        "runner": runner,
        "created": created,
        "runs": [
            {
                "run_id": r.run_id,
                "mode": r.mode,
                "workers": r.workers,
                "argv": r.argv,
                "start": r.start,
                "duration": r.duration,
                "exit_code": r.exit_code,
                "timed_out": r.timed_out,
                "env": r.env,
                "reports": [p.relative_to(out).as_posix() for p in r.reports if p.exists()],
                "tests": len(r.table),
                "failed": int(r.table["outcome"].isin(["failed", "error"]).sum()),
            }
            for r in results
        ],
    }
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out / MANIFEST)
