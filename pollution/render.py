"""Terminal and JSON renderings of library results."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pollution.diff import CATEGORIES, DiffOutcome, summarize

_STYLE = {
    "parallel-only": "bold red",
    "genuine-failure": "red",
    "flaky": "yellow",
    "serial-only": "magenta",
    "serial-missing": "cyan",
    "parallel-missing": "cyan",
    "skipped": "dim",
    "pass": "green",
}


def print_diff(console: Console, outcome: DiffOutcome, limit: int = 40) -> None:
    diff = outcome.diff
    counts = summarize(diff)
    serial, parallel = outcome.runs("serial"), outcome.runs("parallel")
    console.print(
        f"[bold]{len(diff)}[/] tests, {len(serial)} serial run(s), {len(parallel)} parallel run(s)",
        highlight=False,
    )
    summary = "  ".join(f"[{_STYLE[c]}]{c}: {counts[c]}[/]" for c in CATEGORIES if counts[c])
    console.print(summary, highlight=False)
    findings = diff[~diff["category"].isin(["pass", "skipped"])]
    if findings.empty:
        console.print("[green]No test behaves differently between serial and parallel runs.[/]")
        return
    table = Table(
        title="Tests that did not simply pass (failed runs / runs)", title_justify="left", expand=True
    )
    table.add_column("category", no_wrap=True, min_width=15)
    table.add_column("test", overflow="fold", ratio=3, min_width=24)
    table.add_column("serial", justify="right", no_wrap=True)
    table.add_column("parallel", justify="right", no_wrap=True)
    table.add_column("message", overflow="ellipsis", no_wrap=True, ratio=2)
    shown = findings if limit <= 0 else findings.head(limit)
    for row in shown.to_dict(orient="records"):
        category = str(row["category"])
        table.add_row(
            f"[{_STYLE[category]}]{category}[/]",
            Text(str(row["test_id"])),
            f"{row['serial_failures']}/{row['serial_runs']}",
            f"{row['parallel_failures']}/{row['parallel_runs']}",
            Text(_first_line(row["message"])),
        )
    console.print(table)
    if len(shown) < len(findings):
        console.print(f"... and {len(findings) - len(shown)} more (--show 0 prints all, --json FILE keeps all)")


def diff_document(outcome: DiffOutcome) -> dict[str, Any]:
    """The JSON form of a diff: runs, counts per category, one record per test."""
    return {
        "serial_runs": outcome.runs("serial"),
        "parallel_runs": outcome.runs("parallel"),
        "summary": summarize(outcome.diff),
        "tests": [_jsonable({str(k): v for k, v in r.items()}) for r in outcome.diff.to_dict(orient="records")],
        "skipped_files": [{"path": s.path, "reason": s.reason} for s in outcome.skipped],
    }


def write_diff_json(outcome: DiffOutcome, path: Path) -> None:
    path.write_text(json.dumps(diff_document(outcome), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _first_line(message: Any) -> str:
    """The first non-blank line of a failure message, or "" when there is none."""
    if message is None or message is pd.NA or (isinstance(message, float) and math.isnan(message)):
        return ""
    return next((line for line in str(message).splitlines() if line.strip()), "")


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in record.items():
        if value is pd.NA or value is None or (isinstance(value, float) and math.isnan(value)):
            clean[key] = None
        elif hasattr(value, "item"):
            clean[key] = value.item()  # numpy scalars
        else:
            clean[key] = value
    return clean


class ProgressDisplay:
    """Phase and probes done/planned: a live bar on a terminal, one line per
    phase in CI logs (``CI`` set or no terminal), nothing with ``quiet``."""

    def __init__(self, console: Console, quiet: bool = False, verbose: bool = False) -> None:
        import os

        self.console = console
        self.quiet = quiet
        self.verbose = verbose
        self.live = console.is_terminal and not os.environ.get("CI") and not quiet
        self._progress: Any = None
        self._task: Any = None
        self._phase = ""

    def __enter__(self) -> ProgressDisplay:
        if self.live:
            from rich.progress import (
                BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("eta"), TimeRemainingColumn(),
                console=self.console, transient=True,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def probe(self, result: Any) -> None:
        """With ``verbose``: each probe's command, outcome and time, as it ends."""
        if not self.verbose or self.quiet:
            return
        import shlex

        failed = sum(o in ("failed", "error") for o in result.outcomes.values())
        line = f"{result.probe.probe_id} {result.probe.purpose}: {len(result.probe.tests)} tests, {failed} failed, "
        line += f"{result.duration:.1f}s: {shlex.join(result.argv) if result.argv else '(runner broke)'}"
        target = self._progress.console if self._progress is not None else self.console
        target.print(Text(line), soft_wrap=True)

    def update(self, phase: str, done: int, total: int) -> None:
        if self.quiet:
            return
        if self._progress is not None:
            if phase != self._phase or self._task is None:
                if self._task is not None:
                    self._progress.remove_task(self._task)
                self._task = self._progress.add_task(phase, total=total)
                self._phase = phase
            self._progress.update(self._task, completed=done, total=total)
        elif done == total and total:
            self.console.print(f"{phase}: {total} probe(s) done", highlight=False)


def print_diagnosis(console: Console, diagnosis: Any) -> None:
    costs = diagnosis.total_costs()
    triage = diagnosis.triage
    console.print(
        f"[bold]{len(diagnosis.victims)}[/] victim(s) (each passed alone); "
        f"{len(triage.brittle)} brittle, {len(triage.nondeterministic) + len(diagnosis.nondeterministic)} "
        f"nondeterministic, {len(triage.genuine)} failing alone",
        highlight=False,
    )
    edges = [e for e in diagnosis.edges if e.status in ("confirmed", "intermittent")]
    if edges:
        table = Table(title="polluter -> victim (confirmed by re-running the pair)", title_justify="left", expand=True)
        table.add_column("polluter", overflow="fold", ratio=1)
        table.add_column("victim", overflow="fold", ratio=1)
        table.add_column("kind", no_wrap=True)
        table.add_column("confirmed", justify="right", no_wrap=True)
        for e in sorted(edges, key=lambda e: (e.polluter, e.victim)):
            polluter = f"{e.polluter} (module)" if e.module else e.polluter
            table.add_row(Text(polluter), Text(e.victim), e.kind, f"{e.confirmations}/{e.attempts}")
        console.print(table)
    for victim, groups in diagnosis.groups.items():
        for group in groups:
            console.print(Text(f"{victim}: fails only beside the group {group} (no single culprit)"))
    if diagnosis.suspects:
        console.print(
            "No runner given: nothing was re-run, so these are suspects, not findings "
            "(give --runner to bisect and confirm).", highlight=False, soft_wrap=True,
        )
        for victim, suspects in diagnosis.suspects.items():
            ranked = ", ".join(
                f"{s['suspect']} ({s['failing_runs_with']} failing / {s['passing_runs_with']} passing runs)"
                for s in suspects[:3]
            )
            console.print(Text(f"{victim}: {ranked or 'no co-scheduled test'}"))
    else:
        for victim in diagnosis.unexplained:
            console.print(Text(f"unexplained: {victim} (no probe reproduced its failure)"))
    for cleaner, polluter, victim in diagnosis.cleaners:
        console.print(Text(f"cleaner: {cleaner} (between {polluter} and {victim})"))
    for brittle, setters in diagnosis.state_setters.items():
        console.print(Text(f"brittle: {brittle} passes after {', '.join(setters) or 'no single test found'}"))
    if diagnosis.probe_errors:
        first = diagnosis.probe_errors[0]
        console.print(
            Text(f"warning: {len(diagnosis.probe_errors)} probe(s) broke; first ({first['probe']}, "
                 f"{first['purpose']}): {' '.join(first['error'].split())[:300]}", style="yellow"),
            soft_wrap=True,
        )
    console.print(
        f"cost: {costs.invocations} runner invocations, {costs.executions} test executions, "
        f"{diagnosis.wall:.1f}s" + (f" ({costs.reused} probes reused from the journal)" if costs.reused else ""),
        highlight=False,
        soft_wrap=True,
    )
