"""What every runner adapter shares: the request, the result, and one careful
way to start a test process (argv list, own process group, timeout that kills
the whole group, reports read from files the child wrote)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import pandas as pd

from pollution.errors import InputError, RunnerError

KILL_GRACE = 5.0  # seconds between SIGTERM and SIGKILL of a timed-out group
OUTPUT_TAIL = 4000  # characters of the child's output kept for error messages
ENV_PROBE_SIDE = "POLLUTION_PROBE_SIDE"  # "range" or "beside" in the two processes of a concurrent probe


@dataclass(frozen=True)
class RunRequest:
    """One runner invocation: which tests, in which order, how parallel.

    ``tests=None`` runs the whole suite in the runner's own order.  With
    ``workers == 1`` the given order is enforced where the runner can.
    ``env`` is an overlay whose values may hold ``{probe}`` (the run id) and
    ``{worker}`` (expanded per worker where the runner knows workers).
    """

    run_id: str
    mode: str = "serial"
    tests: Sequence[str] | None = None
    workers: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None
    extra_args: Sequence[str] = ()
    # Runners that can (``can_loop``) run the tests over and over in one
    # process until this file exists: the victim side of a concurrent probe.
    loop_until: str | None = None
    # With ``tests == []``: files the runner loads anyway (pytest collects
    # them, runs none), so a probe can measure what merely starting costs.
    collect: Sequence[str] = ()
    # ``(ready, wait)``: after start-up, create ``ready`` and wait for ``wait``
    # (runners with ``can_loop``), so both sides of a concurrent probe start together.
    barrier: tuple[str, str] | None = None
    # Which process of a concurrent probe this is: "range" (the tests under
    # suspicion) or "beside" (the victim running next to them).  The tests
    # see it as $POLLUTION_PROBE_SIDE, whatever the runner; other runs: unset.
    side: str | None = None


@dataclass(frozen=True)
class Invocation:
    """What to start: argv (never a shell string), where, and the reports it will write."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]
    reports: list[Path]


@dataclass
class RunResult:
    run_id: str
    mode: str
    workers: int
    argv: list[str]
    exit_code: int | None
    timed_out: bool
    start: float
    duration: float
    env: dict[str, str]
    table: pd.DataFrame
    reports: list[Path]
    output_tail: str = ""

    @property
    def command(self) -> str:
        """The argv as a person would paste it into a shell (display only)."""
        return shlex.join(self.argv)


class Runner(Protocol):
    """A test runner adapter.  ``prepare`` builds the command; ``collect`` reads
    the reports it wrote into the results table."""

    name: str

    def prepare(self, request: RunRequest, workdir: Path) -> Invocation: ...

    def collect(self, request: RunRequest, invocation: Invocation) -> pd.DataFrame: ...


def expand_env(template: Mapping[str, str], *, probe: str, worker: str | None = None) -> dict[str, str]:
    """Expand ``{probe}`` and ``{worker}`` in an environment overlay.

    ``{worker}`` stays literal when ``worker`` is None, so a runner that learns
    worker ids later (inside the worker process) can expand it there.
    """
    values = {"probe": _safe_token(probe), "worker": "{worker}" if worker is None else _safe_token(worker)}
    out = {}
    for key, value in template.items():
        try:
            out[key] = value.format_map(values)
        except (KeyError, ValueError, IndexError) as exc:
            raise InputError(
                f"environment template {key}={value!r}: only {{probe}} and {{worker}} may be used ({exc})"
            ) from None
    return out


def parse_env_assignments(items: Sequence[str]) -> dict[str, str]:
    """``["A=1", "DB=db_{probe}"]`` -> dict, with a clear error for a malformed item."""
    env = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not key.replace("_", "").isalnum():
            raise InputError(f"--env {item!r}: expected NAME=VALUE")
        env[key] = value
    return env


def _safe_token(value: str) -> str:
    # Probe ids end up in database and file names: keep them to a safe alphabet.
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in value)


def execute(runner: Runner, request: RunRequest, workdir: Path | None = None) -> RunResult:
    """Run one request through ``runner`` and return its ingested results.

    A non-zero exit of the test process is data.  A runner that cannot start,
    or that writes no report, raises :class:`RunnerError`.
    """
    own_tmp = None
    if workdir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="pollution-run-")
        workdir = Path(own_tmp.name)
    try:
        # The child runs in its own directory: every path we hand it is absolute.
        workdir = workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        invocation = runner.prepare(request, workdir)
        if request.side is not None:
            # Set here, not in each adapter: every runner's tests see it.
            invocation = replace(invocation, env={**invocation.env, ENV_PROBE_SIDE: request.side})
        started = time.time()
        code, timed_out, tail = run_process(invocation, request.timeout)
        duration = time.time() - started
        missing = [p for p in invocation.reports if not p.exists() or p.stat().st_size == 0]
        if missing and len(missing) == len(invocation.reports):
            status = "timed out" if timed_out else f"exited with status {code}"
            raise RunnerError(
                f"{runner.name} {status} without writing its report {missing[0]}: "
                f"{shlex.join(invocation.argv)}\n{tail.strip()[-1500:]}"
            )
        if code in getattr(runner, "error_exit_codes", ()):
            # The runner refused the request (usage error, internal error):
            # whatever report it wrote says nothing about the tests.
            raise RunnerError(
                f"{runner.name} exited with status {code} (a usage or internal error): "
                f"{shlex.join(invocation.argv)}\n{tail.strip()[-1500:]}"
            )
        table = runner.collect(request, invocation)
        return RunResult(
            run_id=request.run_id,
            mode=request.mode,
            workers=request.workers,
            argv=invocation.argv,
            exit_code=code,
            timed_out=timed_out,
            start=started,
            duration=duration,
            env=dict(request.env),
            table=table,
            reports=invocation.reports,
            output_tail=tail,
        )
    finally:
        if own_tmp is not None:
            own_tmp.cleanup()


def run_process(invocation: Invocation, timeout: float | None) -> tuple[int | None, bool, str]:
    """Start argv in its own process group; on timeout kill the whole group.

    Returns (exit code or None when killed, timed out?, tail of combined output).
    """
    env = {**os.environ, **invocation.env}
    log = tempfile.TemporaryFile(mode="w+b")
    try:
        proc = subprocess.Popen(
            invocation.argv,
            cwd=invocation.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: a timeout kills grandchildren too
        )
    except FileNotFoundError:
        log.close()
        raise RunnerError(f"cannot start {invocation.argv[0]!r}: no such program (is it installed and on PATH?)") from None
    except PermissionError:
        log.close()
        raise RunnerError(f"cannot start {invocation.argv[0]!r}: permission denied") from None
    timed_out = False
    try:
        code: int | None = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc)
        code = None
    except BaseException:
        kill_group(proc)  # Ctrl-C: no orphan survives us
        raise
    finally:
        # Stragglers the test process left behind in its group die with it.
        _signal_group(proc.pid, signal.SIGKILL)
    log.seek(0, os.SEEK_END)
    size = log.tell()
    log.seek(max(0, size - OUTPUT_TAIL))
    tail = log.read().decode("utf-8", errors="replace")
    log.close()
    return code, timed_out, tail


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
