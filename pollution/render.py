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
