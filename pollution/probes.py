"""Probes: one runner invocation over a chosen list of tests, its durable
journal, and the executors that run many of them (in order, in threads, or on
a Dask cluster)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pollution.errors import InputError, RunnerError
from pollution.runners.base import Runner, RunRequest, execute

FAILED = ("failed", "error")


@dataclass(frozen=True)
class Probe:
    """Run ``tests`` in this order (serially unless ``workers`` > 1).

    A concurrent probe also runs ``beside`` in a second process, over and over
    until the first process is done, so the two overlap in time.  No tests
    and nothing to ``collect`` means the whole suite in the runner's order.
    """

    purpose: str
    tests: tuple[str, ...]
    workers: int = 1
    beside: tuple[str, ...] = ()
    repetition: int = 0
    collect: tuple[str, ...] = ()  # with no tests: files to load without running any

    @property
    def key(self) -> str:
        fields: list[Any] = [self.purpose, self.tests, self.workers, self.beside, self.repetition]
        if self.collect:
            fields.append(self.collect)
        text = json.dumps(fields)
        return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]

    @property
    def probe_id(self) -> str:
        return f"p-{self.key[:10]}"


@dataclass
class ProbeResult:
    probe: Probe
    outcomes: dict[str, str]  # test id -> passed / failed / error / skipped / missing
    executions: int
    invocations: int
    duration: float
    exit_code: int | None = None
    error: str | None = None
    beside_runs: int = 0
    argv: list[str] = field(default_factory=list)  # the main command, for people to re-run

    def failed(self, test_id: str) -> bool:
        return self.outcomes.get(test_id) in FAILED

    def passed(self, test_id: str) -> bool:
        return self.outcomes.get(test_id) == "passed"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["probe"] = {
            **asdict(self.probe), "tests": list(self.probe.tests), "beside": list(self.probe.beside),
            "collect": list(self.probe.collect),
        }
        data["key"] = self.probe.key
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProbeResult:
        p = data["probe"]
        probe = Probe(
            p["purpose"], tuple(p["tests"]), p["workers"], tuple(p["beside"]), p["repetition"],
            tuple(p.get("collect", ())),
        )
        return cls(
            probe, dict(data["outcomes"]), data["executions"], data["invocations"], data["duration"],
            data.get("exit_code"), data.get("error"), data.get("beside_runs", 0), list(data.get("argv", [])),
        )


class Journal:
    """Append-only JSON lines, fsynced per probe, so ``--resume`` after Ctrl-C,
    ``kill -9`` or a crash reuses every finished probe."""

    def __init__(self, path: Path, resume: bool) -> None:
        self.path = path
        self.done: dict[str, ProbeResult] = {}
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume and path.exists():
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    result = ProbeResult.from_json(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    # A line cut short by kill -9 is the only damage a crash can do.
                    continue
                self.done[result.probe.key] = result
        elif path.exists():
            path.unlink()

    def record(self, result: ProbeResult) -> None:
        line = json.dumps(result.to_json(), ensure_ascii=False)
        with self._lock:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            self.done[result.probe.key] = result


@dataclass
class ProbeContext:
    """How every probe is run: the runner and what goes with each invocation."""

    runner: Runner
    env: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    extra_args: tuple[str, ...] = ()


def run_probe(
    context: ProbeContext, probe: Probe, barrier: tuple[str, str] | None = None, run_id: str | None = None,
    side: str | None = None,
) -> ProbeResult:
    """Execute one probe.  Runner failures (timeouts, crashes) become data: the
    tests of the probe are recorded as ``missing``.  ``side`` is set for the two
    halves of a concurrent probe (:attr:`RunRequest.side`)."""
    started = time.time()
    if probe.beside:
        return _run_concurrent(context, probe, started)
    request = RunRequest(
        run_id=run_id or probe.probe_id, mode="serial" if probe.workers == 1 else "parallel",
        tests=list(probe.tests) if probe.tests or probe.collect else None, workers=probe.workers, env=context.env,
        timeout=context.timeout, extra_args=context.extra_args, collect=probe.collect, barrier=barrier, side=side,
    )
    try:
        result = execute(context.runner, request)
    except RunnerError as exc:
        return ProbeResult(probe, {t: "missing" for t in probe.tests}, 0, 1, time.time() - started, None, str(exc))
    outcomes = _final_outcomes(result.table, probe.tests)
    return ProbeResult(
        probe, outcomes, int((result.table["outcome"] != "skipped").sum()), 1,
        time.time() - started, result.exit_code, argv=list(result.argv),
    )


def _final_outcomes(table: Any, tests: Iterable[str]) -> dict[str, str]:
    outcomes = {t: "missing" for t in tests}
    for test_id, outcome in zip(table["test_id"], table["outcome"]):
        previous = outcomes.get(test_id)
        # Several rows for one id (reruns): any failure counts.
        if previous in FAILED:
            continue
        outcomes[str(test_id)] = str(outcome)
    return outcomes


def _run_concurrent(context: ProbeContext, probe: Probe, started: float) -> ProbeResult:
    """Run ``probe.tests`` while ``probe.beside`` runs over and over beside them.

    Runners that can loop in-process (pytest, with the bundled plugin) keep
    the victim running without gaps until the main side is done; others
    restart the victim's process in a loop.
    """
    main_probe = Probe(probe.purpose + "/main", probe.tests, probe.workers, (), probe.repetition, probe.collect)
    if getattr(context.runner, "can_loop", False):
        return _run_concurrent_looping(context, probe, main_probe, started)
    box: dict[str, ProbeResult] = {}

    def main() -> None:
        box["main"] = run_probe(context, main_probe, run_id=probe.probe_id, side="range")

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    outcomes: dict[str, str] = {t: "missing" for t in probe.beside}
    runs = executions = invocations = 0
    while True:
        side = run_probe(
            context, Probe(probe.purpose + "/beside", probe.beside, 1, (), probe.repetition * 1000 + runs),
            run_id=probe.probe_id, side="beside",
        )
        runs += 1
        executions += side.executions
        invocations += side.invocations
        for test_id, outcome in side.outcomes.items():
            if outcomes.get(test_id) not in FAILED and outcome != "missing":
                outcomes[test_id] = outcome
        if not thread.is_alive() or runs >= 50:
            break
    thread.join()
    return _merge(probe, box["main"], outcomes, executions, invocations, runs, started)


def _run_concurrent_looping(context: ProbeContext, probe: Probe, main_probe: Probe, started: float) -> ProbeResult:
    with tempfile.TemporaryDirectory(prefix="pollution-loop-") as tmp:
        sentinel = os.path.join(tmp, "stop")
        side_ready, main_ready = os.path.join(tmp, "side.ready"), os.path.join(tmp, "main.ready")
        box: dict[str, Any] = {}
        # Both sides expand {probe} to the same id: they must share the state
        # (database) they interfere through, apart from other probes.
        side_request = RunRequest(
            run_id=probe.probe_id, tests=list(probe.beside), env=context.env,
            timeout=context.timeout, extra_args=context.extra_args, loop_until=sentinel,
            barrier=(side_ready, main_ready), side="beside",
        )

        def beside() -> None:
            try:
                box["side"] = execute(context.runner, side_request)
            except RunnerError as exc:
                box["error"] = str(exc)
            finally:
                Path(side_ready).touch()  # a side that died must not hold the other at the barrier

        thread = threading.Thread(target=beside, daemon=True)
        thread.start()
        try:
            # Both sides meet at a barrier after their start-up: the victim
            # loops while the main side's tests run, not while it starts.
            main = run_probe(
                context, main_probe, barrier=(main_ready, side_ready), run_id=probe.probe_id, side="range"
            )
        finally:
            Path(sentinel).touch()
            Path(main_ready).touch()
            thread.join()
    outcomes: dict[str, str] = {t: "missing" for t in probe.beside}
    executions = 0
    side = box.get("side")
    if side is not None:
        outcomes.update(_final_outcomes(side.table, probe.beside))
        executions = int((side.table["outcome"] != "skipped").sum())
        # Passing runs of one test share a JUnit case; count runs, not cases.
        executions = max(executions, _loop_runs(side.table))
    result = _merge(probe, main, outcomes, executions, 1, executions, started)
    if "error" in box:
        result.error = box["error"]
    return result


def _loop_runs(table: Any) -> int:
    positions = table["position"].dropna()
    return int(positions.max()) + 1 if len(positions) else 0


def _merge(
    probe: Probe, main: ProbeResult, beside: dict[str, str], executions: int, invocations: int, runs: int,
    started: float,
) -> ProbeResult:
    return ProbeResult(
        probe, {**main.outcomes, **beside}, main.executions + executions, main.invocations + invocations,
        time.time() - started, main.exit_code, main.error, runs, main.argv,
    )


class Executor(Protocol):
    def run(self, probes: Sequence[Probe]) -> Iterator[ProbeResult]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Probes one after another, or ``jobs`` at a time in threads (each probe
    is its own process; threads only wait)."""

    def __init__(self, context: ProbeContext, jobs: int = 1) -> None:
        if jobs > 1 and not any("{probe}" in v for v in context.env.values()):
            raise InputError(
                f"--jobs {jobs} runs probes at the same time: give an isolation template such as "
                "--env DATABASE_URL=postgresql://.../db_{probe} so they do not share state"
            )
        self.context = context
        self.jobs = max(1, jobs)
        self._pool = ThreadPoolExecutor(self.jobs) if self.jobs > 1 else None

    def run(self, probes: Sequence[Probe]) -> Iterator[ProbeResult]:
        if self._pool is None:
            for probe in probes:
                yield run_probe(self.context, probe)
            return
        pending: set[Future[ProbeResult]] = {self._pool.submit(run_probe, self.context, p) for p in probes}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Probes on an existing Dask distributed cluster (``dask://HOST:PORT``).

    Every worker machine needs the suite at the same path and this package
    installed; probes still need an isolation template when they share a
    database.
    """

    def __init__(self, context: ProbeContext, address: str) -> None:
        try:
            from distributed import Client  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise InputError("--executor dask:// needs the dask extra: pip install 'pollution[dask]'") from None
        self.context = context
        target = address.removeprefix("dask://")
        try:
            self.client = Client(  # type: ignore[no-untyped-call,unused-ignore]
                f"tcp://{target}" if "://" not in target else target, timeout="10s")
        except OSError as exc:
            raise InputError(f"--executor {address}: cannot reach the Dask scheduler ({exc})") from None

    def run(self, probes: Sequence[Probe]) -> Iterator[ProbeResult]:
        from distributed import as_completed  # type: ignore[import-untyped,unused-ignore]

        futures = [self.client.submit(run_probe, self.context, p, pure=False) for p in probes]
        for future in as_completed(futures):  # type: ignore[no-untyped-call,unused-ignore]
            yield future.result()

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call,unused-ignore]


def make_executor(context: ProbeContext, jobs: int = 1, executor: str | None = None) -> Executor:
    if executor is None or executor == "local":
        return LocalExecutor(context, jobs)
    if executor.startswith("dask://"):
        return DaskExecutor(context, executor)
    raise InputError(f"--executor {executor!r}: expected 'local' or dask://HOST:PORT")


@dataclass
class Costs:
    invocations: int = 0
    executions: int = 0
    probes: int = 0
    reused: int = 0
    wall: float = 0.0


class ProbeBook:
    """Runs batches of probes through an executor, journaling each result and
    reusing journaled ones; keeps costs per phase."""

    def __init__(
        self,
        executor: Executor,
        journal: Journal,
        on_progress: Callable[[str, int, int], None] | None = None,
        on_result: Callable[[ProbeResult], None] | None = None,
    ) -> None:
        self.executor = executor
        self.journal = journal
        self.costs: dict[str, Costs] = {}
        self.results: dict[str, ProbeResult] = {}
        self.on_progress = on_progress
        self.on_result = on_result

    def run(self, phase: str, probes: Sequence[Probe]) -> dict[str, ProbeResult]:
        """Results of ``probes`` keyed by probe key (duplicates run once)."""
        unique = list({p.key: p for p in probes}.values())
        costs = self.costs.setdefault(phase, Costs())
        started = time.time()
        out: dict[str, ProbeResult] = {}
        todo = []
        for probe in unique:
            done = self.journal.done.get(probe.key)
            if done is not None:
                out[probe.key] = done
                costs.reused += 1
            else:
                todo.append(probe)
        finished = 0
        if self.on_progress:
            self.on_progress(phase, finished, len(todo))
        for result in self.executor.run(todo):
            self.journal.record(result)
            out[result.probe.key] = result
            costs.probes += 1
            costs.invocations += result.invocations
            costs.executions += result.executions
            finished += 1
            if self.on_result:
                self.on_result(result)
            if self.on_progress:
                self.on_progress(phase, finished, len(todo))
        costs.wall += time.time() - started
        self.results.update(out)
        return out
