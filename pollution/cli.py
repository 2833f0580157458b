"""The ``pollution`` command: a thin typer layer over the library."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand

from pollution.errors import InputError, PollutionError, RunnerError

app = typer.Typer(
    name="pollution",
    help="Find which test breaks which when a suite runs in parallel.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Logs (CI, pipes) are read in wide windows; an 80-column wrap breaks ids apart.
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 140)

# Options that take several values in a row: ``--serial a.xml b.xml``.
MULTI_VALUE_OPTIONS = ("--serial", "-s", "--parallel", "-p")

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(fn: F) -> F:
    """Library errors become one line on stderr and an exit status, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            _error("error", exc)
            raise typer.Exit(2) from None
        except RunnerError as exc:
            _error("runner error", exc)
            raise typer.Exit(3) from None
        except PollutionError as exc:
            _error("error", exc)
            raise typer.Exit(2) from None
        except OSError as exc:  # an output path that cannot be written
            _error("error", exc)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _error(label: str, exc: BaseException) -> None:
    # Paths and parser messages may hold ``[...]``: never read them as markup.
    text = str(exc)
    if "\n" in text or "\r" in text:
        text = " ".join(text.split())  # one line, whatever the message holds
    err.print(f"[bold red]{label}:[/] {escape(text)}", highlight=False, soft_wrap=True)


def expand_multi_value(argv: list[str], options: tuple[str, ...] = MULTI_VALUE_OPTIONS) -> list[str]:
    """Rewrite ``--serial a b --parallel c`` as ``--serial a --serial b --parallel c``.

    Click options take one value each; a shell glob after ``--serial`` gives
    several.  Values run until the next argument that starts with ``-``.
    ``--serial=a b`` works the same way.
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
        elif arg.startswith("--") and arg.split("=", 1)[0] in options:
            current = arg.split("=", 1)[0]
            result.append(arg)
        elif current is not None and not arg.startswith("-"):
            if result[-1] != current:
                result.append(current)
            result.append(arg)
        else:
            current = None
            result.append(arg)
    return result


class MultiValueCommand(TyperCommand):
    """A command whose :data:`MULTI_VALUE_OPTIONS` take every value up to the next option.

    Expanding here, not in :func:`main`, keeps the rewrite to the commands that
    have those options and makes ``CliRunner`` see what the shell sees.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_multi_value(args))


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
    out.print(f"{len(result.table)} test cases from {runs} run(s) -> {escape(str(out_path))}")


@app.command(cls=MultiValueCommand)
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
    from pollution.diff import FINDINGS, diff_paths, summarize
    from pollution.results import save_table

    outcome = diff_paths(runs or [], serial or [], parallel or [], keep_going=keep_going)
    _report_skipped(outcome.skipped)
    render.print_diff(out, outcome, limit=show)
    if json_path is not None:
        render.write_diff_json(outcome, json_path)
    if out_path is not None:
        save_table(outcome.diff, out_path)
    if fail_on_findings and any(summarize(outcome.diff)[c] for c in FINDINGS):
        raise typer.Exit(1)


RUNNER_HELP = "Test runner adapter: pytest, go, ginkgo or command."


@app.command()
@_user_errors
def run(
    runner: Annotated[str, typer.Option("--runner", "-r", help=RUNNER_HELP)] = "pytest",
    path: Annotated[
        str | None, typer.Option("--path", help="Directory the runner works in (pytest rootdir, go module, Ginkgo suite).")
    ] = None,
    serial: Annotated[int, typer.Option("--serial", help="Number of serial runs.")] = 1,
    parallel: Annotated[int, typer.Option("--parallel", help="Number of parallel runs.")] = 3,
    workers: Annotated[int, typer.Option("--workers", "-n", help="Workers (processes) per parallel run.")] = 4,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Artifacts directory: reports + manifest.json.")] = Path(
        "artifacts"
    ),
    runner_arg: Annotated[
        list[str] | None, typer.Option("--runner-arg", help="Extra argument passed to the runner (repeatable).")
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="NAME=VALUE for the test processes; {probe} and {worker} are expanded (repeatable)."),
    ] = None,
    python: Annotated[
        str | None, typer.Option("--python", help="For --runner pytest: the interpreter of the suite's environment.")
    ] = None,
    command: Annotated[
        str | None, typer.Option("--command", help="For --runner command: template with {junit}, {tests}, {workers}.")
    ] = None,
    package: Annotated[list[str] | None, typer.Option("--package", help="For --runner go: package pattern.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds before a run is killed.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")] = False,
) -> None:
    """Run a suite serially and in parallel, keeping each run's report and a manifest for `pollution diff`."""
    from pollution.runners import runner_from_options
    from pollution.runners.base import parse_env_assignments
    from pollution.runs import run_suite

    adapter = runner_from_options(runner, path=path, packages=package, command=command, python=python)
    overlay = parse_env_assignments(env or [])

    def started(request: Any, index: int, total: int) -> None:
        if not quiet:
            kind = "serially" if request.mode == "serial" else f"with {request.workers} workers"
            err.print(f"[{index + 1}/{total}] {request.run_id}: running {kind}...", highlight=False)

    def done(result: Any) -> None:
        failed = result.table.loc[result.table["outcome"].isin(["failed", "error"]), "test_id"].nunique()
        status = "timed out" if result.timed_out else f"exit {result.exit_code}"
        out.print(
            f"{result.run_id}: {result.table['test_id'].nunique()} tests, {failed} failed, {result.duration:.1f}s ({status})",
            highlight=False,
        )

    run_suite(
        adapter, out_dir, serial=serial, parallel=parallel, workers=workers, env=overlay,
        timeout=timeout, extra_args=runner_arg or [], on_start=started, on_done=done,
    )
    out.print(f"artifacts in {out_dir}; next: pollution diff {out_dir}", highlight=False)


@app.command(cls=MultiValueCommand)
@_user_errors
def bisect(
    runs: Annotated[
        list[str] | None, typer.Argument(help="Artifact directories from `pollution run` (optional).")
    ] = None,
    serial: Annotated[list[str] | None, typer.Option("--serial", "-s", help="Serial run reports.")] = None,
    parallel: Annotated[list[str] | None, typer.Option("--parallel", "-p", help="Parallel run reports.")] = None,
    victim: Annotated[
        list[str] | None, typer.Option("--victim", help="A test you know fails after others (repeatable).")
    ] = None,
    runner: Annotated[str, typer.Option("--runner", "-r", help=RUNNER_HELP)] = "pytest",
    path: Annotated[str | None, typer.Option("--path", help="Directory the runner works in.")] = None,
    runner_arg: Annotated[
        list[str] | None, typer.Option("--runner-arg", help="Extra argument passed to the runner (repeatable).")
    ] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="NAME=VALUE for probes; {probe}/{worker} expanded (repeatable).")
    ] = None,
    python: Annotated[
        str | None, typer.Option("--python", help="For --runner pytest: the interpreter of the suite's environment.")
    ] = None,
    command: Annotated[str | None, typer.Option("--command", help="For --runner command: the template.")] = None,
    package: Annotated[list[str] | None, typer.Option("--package", help="For --runner go: package pattern.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where result.json and the journal go.")] = Path(
        "pollution-report"
    ),
    triage_repeats: Annotated[int, typer.Option(help="Runs of each suspect alone before bisecting.")] = 3,
    confirm: Annotated[int, typer.Option(help="Repetitions of [polluter, victim] confirming each edge.")] = 2,
    concurrent_repeats: Annotated[int, typer.Option(help="Repetitions per concurrent probe.")] = 3,
    concurrent: Annotated[bool, typer.Option(help="Search concurrent interference too.")] = True,
    cleaners: Annotated[bool, typer.Option(help="Also find tests that clean up after each polluter.")] = False,
    state_setters: Annotated[bool, typer.Option(help="Also find the state-setters of brittle tests.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Probes at the same time (needs an --env {probe} template).")] = 1,
    executor: Annotated[str | None, typer.Option(help="local (default) or dask://HOST:PORT.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds before a probe is killed.")] = None,
    resume: Annotated[bool, typer.Option(help="Reuse the finished probes of an interrupted diagnosis in --out.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print each probe's command as it ends.")] = False,
) -> None:
    """Re-run subsets of the suite to find every polluter of every victim, and confirm each edge."""
    from pollution import render
    from pollution.diagnosis import diagnose
    from pollution.runners import runner_from_options
    from pollution.runners.base import parse_env_assignments

    adapter = runner_from_options(runner, path=path, packages=package, command=command, python=python)
    serial_table, parallel_table = _load_sides(runs or [], serial or [], parallel or [])
    with render.ProgressDisplay(err, quiet=quiet, verbose=verbose) as progress:
        diagnosis = diagnose(
            adapter, serial=serial_table, parallel=parallel_table, victims=victim or None, out=out_dir,
            triage_repeats=triage_repeats, confirm=confirm, concurrent_repeats=concurrent_repeats,
            cleaners=cleaners, state_setters=state_setters, concurrent=concurrent, jobs=jobs,
            executor=executor, env=parse_env_assignments(env or []), timeout=timeout, resume=resume,
            extra_args=runner_arg or [],
            progress=progress.update, on_probe=progress.probe,
        )
    render.print_diagnosis(out, diagnosis)
    out.print(f"result: {out_dir / 'result.json'}", highlight=False)


@app.command()
@_user_errors
def graph(
    result: Annotated[Path, typer.Argument(help="A result.json written by `pollution bisect` (or its folder).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="json, graphml, dot or mermaid.")] = "json",
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="File to write (default: stdout).")] = None,
) -> None:
    """Export the polluter -> victim interference graph of a diagnosis."""
    from pollution.diagnosis import Diagnosis

    if fmt not in ("json", "graphml", "dot", "mermaid"):
        raise InputError(f"--format {fmt!r}: choose json, graphml, dot or mermaid")
    path = result / "result.json" if result.is_dir() else result
    text = Diagnosis.load(path).graph().export(fmt)
    if out_path is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        out_path.write_text(text, encoding="utf-8")
        err.print(f"wrote {escape(str(out_path))}", highlight=False)


@app.command(cls=MultiValueCommand)
@_user_errors
def diagnose(
    runs: Annotated[list[str] | None, typer.Argument(help="Artifact directories from `pollution run`.")] = None,
    serial: Annotated[list[str] | None, typer.Option("--serial", "-s", help="Serial run reports.")] = None,
    parallel: Annotated[list[str] | None, typer.Option("--parallel", "-p", help="Parallel run reports.")] = None,
    runner: Annotated[
        str | None, typer.Option("--runner", "-r", help=RUNNER_HELP + " Without one: diff and ranked suspects only.")
    ] = None,
    path: Annotated[str | None, typer.Option("--path", help="Directory the runner works in.")] = None,
    runner_arg: Annotated[list[str] | None, typer.Option("--runner-arg", help="Extra runner argument (repeatable).")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", help="NAME=VALUE for probes (repeatable).")] = None,
    python: Annotated[
        str | None, typer.Option("--python", help="For --runner pytest: the interpreter of the suite's environment.")
    ] = None,
    command: Annotated[str | None, typer.Option("--command", help="For --runner command: the template.")] = None,
    package: Annotated[list[str] | None, typer.Option("--package", help="For --runner go: package pattern.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Report directory.")] = Path("pollution-report"),
    confirm: Annotated[int, typer.Option(help="Repetitions confirming each edge.")] = 2,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Probes at the same time (needs an --env {probe} template).")] = 1,
    timeout: Annotated[float | None, typer.Option(help="Seconds before a probe is killed.")] = None,
    resume: Annotated[bool, typer.Option(help="Reuse the probes of an interrupted diagnosis in --out.")] = False,
    fail_on_findings: Annotated[bool, typer.Option(help="Exit 1 when pollution is found.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print each probe's command as it ends.")] = False,
) -> None:
    """From serial and parallel reports to the answer: diff, bisect, graph, plan and the HTML report."""
    from pollution import render
    from pollution.pipeline import diagnose_paths
    from pollution.runners import runner_from_options
    from pollution.runners.base import parse_env_assignments

    adapter = runner_from_options(runner, path=path, packages=package, command=command, python=python) if runner else None
    options: dict[str, Any] = {}
    if adapter is not None:
        options = {"confirm": confirm, "jobs": jobs, "timeout": timeout, "resume": resume,
                   "env": parse_env_assignments(env or []), "extra_args": runner_arg or []}
    with render.ProgressDisplay(err, quiet=quiet, verbose=verbose) as progress:
        if adapter is not None:
            options["progress"] = progress.update
            options["on_probe"] = progress.probe
        outcome = diagnose_paths(runs or [], serial or [], parallel or [], adapter, out_dir, **options)
    _finish(outcome, fail_on_findings)


@app.command()
@_user_errors
def demo(
    db: Annotated[str, typer.Option("--db", help="sqlite (embedded, default) or postgres (a throwaway server).")] = "sqlite",
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Report directory.")] = Path("pollution-report"),
    parallel: Annotated[int, typer.Option("--parallel", help="Parallel runs of the suite.")] = 2,
    workers: Annotated[int, typer.Option("--workers", "-n", help="Workers per parallel run.")] = 4,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print each probe's command as it ends.")] = False,
) -> None:
    """Run the bundled polluted suite serially and in parallel, diagnose it, and write the report."""
    from pollution import render
    from pollution.pipeline import run_demo

    def done(result: Any) -> None:
        failed = result.table.loc[result.table["outcome"].isin(["failed", "error"]), "test_id"].nunique()
        if not quiet:
            err.print(f"{result.run_id}: {result.table['test_id'].nunique()} tests, {failed} failed, {result.duration:.1f}s",
                      highlight=False)

    if db not in ("sqlite", "postgres"):
        raise InputError(f"--db {db!r}: choose sqlite or postgres")
    with render.ProgressDisplay(err, quiet=quiet, verbose=verbose) as progress:
        outcome = run_demo(out_dir, db=db, parallel=parallel, workers=workers, on_run=done, progress=progress.update,
                             on_probe=progress.probe)
    _finish(outcome, False)


@app.command()
@_user_errors
def report(
    result: Annotated[Path, typer.Argument(help="A report directory (with result.json) from diagnose/bisect/demo.")],
) -> None:
    """Re-render report.html, report.md and the graph exports from a saved result, running nothing."""
    from pollution.pipeline import render_report

    folder = result.parent if result.is_file() else result
    if not (folder / "result.json").is_file():
        raise InputError(f"{folder}: no result.json here (run pollution diagnose or bisect first)")
    path = render_report(folder)
    out.print(f"report: {path}", highlight=False)


def _finish(outcome: Any, fail_on_findings: bool) -> None:
    from pollution import render

    render.print_diagnosis(out, outcome.diagnosis)
    if outcome.report is not None:
        out.print(f"report: {outcome.report}", highlight=False)
    else:
        out.print(f"result: {outcome.out / 'result.json'}", highlight=False)
    if fail_on_findings and (outcome.diagnosis.confirmed or outcome.diagnosis.victims):
        raise typer.Exit(1)


def _load_sides(runs: list[str], serial: list[str], parallel: list[str]) -> tuple[Any, Any]:
    """Serial and parallel results tables from artifact dirs and/or explicit reports."""
    if not (runs or serial or parallel):
        return None, None
    from pollution.diff import diff_paths

    outcome = diff_paths(runs, serial, parallel)
    table = outcome.table
    return table[table["mode"] == "serial"], table[table["mode"] == "parallel"]


def _mode(value: str | None) -> str | None:
    if value is not None and value not in ("serial", "parallel"):
        raise InputError(f"--mode must be serial or parallel, not {value!r}")
    return value


def _report_skipped(skipped: list[Any]) -> None:
    for item in skipped:
        err.print(f"[yellow]skipped[/] {escape(item.reason)}", highlight=False, soft_wrap=True)


def main() -> None:
    app(args=sys.argv[1:], prog_name="pollution")
