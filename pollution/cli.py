"""The ``pollution`` command: a thin typer layer over the library."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from pollution.errors import InputError, PollutionError, RunnerError

app = typer.Typer(
    name="pollution",
    help="Find which test breaks which when a suite runs in parallel.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

# Options that take several values in a row: ``--serial a.xml b.xml``.
MULTI_VALUE_OPTIONS = ("--serial", "--parallel")

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(fn: F) -> F:
    """Library errors become one line on stderr and an exit status, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except RunnerError as exc:
            err.print(f"[bold red]runner error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(3) from None
        except PollutionError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def expand_multi_value(argv: list[str], options: tuple[str, ...] = MULTI_VALUE_OPTIONS) -> list[str]:
    """Rewrite ``--serial a b --parallel c`` as ``--serial a --serial b --parallel c``.

    Click options take one value each; a shell glob after ``--serial`` gives
    several.  Values run until the next argument that starts with ``-``.
    """
    result: list[str] = []
    current: str | None = None
    for arg in argv:
        if arg == "--":
            current = None
            result.append(arg)
        elif arg in options:
            current = arg
            result.append(arg)
        elif current is not None and not arg.startswith("-"):
            if result[-1] != current:
                result.append(current)
            result.append(arg)
        else:
            current = None
            result.append(arg)
    return result


@app.command()
@_user_errors
def ingest(
    paths: Annotated[list[str], typer.Argument(help="JUnit XML / Ginkgo JSON files, directories or globs.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Parquet file to write the results table to.")],
    mode: Annotated[str | None, typer.Option(help="Label every run: serial or parallel.")] = None,
    keep_going: Annotated[bool, typer.Option(help="Skip unreadable files and list them, instead of stopping.")] = False,
) -> None:
    """Read test reports into one results table (one row per run x test) and save it as parquet."""
    from pollution.junit import ingest as ingest_reports
    from pollution.results import save_table

    result = ingest_reports(paths, mode=_mode(mode), keep_going=keep_going)
    _report_skipped(result.skipped)
    save_table(result.table, out_path)
    runs = result.table["run_id"].nunique()
    out.print(f"{len(result.table)} test cases from {runs} run(s) -> {out_path}")


@app.command()
@_user_errors
def diff(
    runs: Annotated[
        list[str] | None,
        typer.Argument(help="Artifact directories from `pollution run` (their manifest says each run's mode)."),
    ] = None,
    serial: Annotated[
        list[str] | None, typer.Option("--serial", "-s", help="Serial run reports: files, directories, globs.")
    ] = None,
    parallel: Annotated[
        list[str] | None, typer.Option("--parallel", "-p", help="Parallel run reports: files, directories, globs.")
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the classification as JSON.")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the classification table as parquet.")] = None,
    fail_on_findings: Annotated[
        bool, typer.Option(help="Exit 1 when some test fails only in parallel runs.")
    ] = False,
    keep_going: Annotated[bool, typer.Option(help="Skip unreadable files and list them.")] = False,
    show: Annotated[int, typer.Option(help="Rows of the findings table to print (0: all).")] = 40,
) -> None:
    """Classify every test from serial vs parallel runs: victims, genuine failures, flaky tests."""
    from pollution import render
    from pollution.diff import FINDINGS, summarize
    from pollution.diff import diff_paths

    outcome = diff_paths(runs or [], serial or [], parallel or [], keep_going=keep_going)
    _report_skipped(outcome.skipped)
    render.print_diff(out, outcome, limit=show)
    if json_path is not None:
        render.write_diff_json(outcome, json_path)
    if out_path is not None:
        outcome.diff.to_parquet(out_path, index=False)
    if fail_on_findings and any(summarize(outcome.diff)[c] for c in FINDINGS):
        raise typer.Exit(1)


def _mode(value: str | None) -> str | None:
    if value is not None and value not in ("serial", "parallel"):
        raise InputError(f"--mode must be serial or parallel, not {value!r}")
    return value


def _report_skipped(skipped: list[Any]) -> None:
    for item in skipped:
        err.print(f"[yellow]skipped[/] {item.reason}", highlight=False, soft_wrap=True)


def main() -> None:
    app(args=expand_multi_value(sys.argv[1:]), prog_name="pollution")
