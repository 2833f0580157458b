"""Bisection cost on the bundled demo suite, with REAL pytest processes.

Run from the project root::

    .venv/bin/python benchmarks/bisect_cost.py [--dtp-max N] [--bisect-max N] [--no-jobs2]
        [--pollution-limit S] [--json PATH] [--keep]

Three ways to find which test pollutes which, in one run, on the same victims:

0. Shared input (not charged to any method): one serial run and two runs
   with ``-n 4`` of ``pollution/demo/suite`` through
   ``pollution.runs.run_suite`` with ``PytestRunner(path=suite_path(),
   args=pytest_args())`` and ``suite_env(f"{tmp}/demo-{{probe}}.sqlite")``.
   Victims = ``diff_runs`` category ``parallel-only``: failed in some
   parallel run, passed in the serial run (what ``pollution.diagnose`` itself
   starts from).  Two more serial runs give the "full serial run" wall time
   (median of three).
1. pollution: ``pollution.diagnose(runner, serial=..., parallel=..., env=...)``
   with its defaults (triage x3, confirm x2, concurrent search on, no
   cleaner or state-setter search) and ``jobs=1``: probes one at a time, the
   fair wall-time comparison.  Again with ``jobs=2`` as an extra line.
2. detect-test-pollution (PyPI, ``pip install``-ed into the venv here if
   missing; a benchmark-only dependency): for each victim,
   ``detect-test-pollution --failing-test VICTIM --tests SUITE_DIR`` in
   cwd = suite dir with ``POLLUTION_DEMO_DB`` a fresh SQLite file.  The
   console script, not ``python -m detect_test_pollution``: the tool loads
   itself into pytest as ``-p __name__``, which is ``-p __main__`` under
   ``-m`` and fails with "unrecognized arguments: --dtp-testids-output-file".
   It cannot take pytest options, so the demo's (``-c /dev/null --rootdir
   SUITE -p no:cacheprovider``) go through ``PYTEST_ADDOPTS``.  How it works
   (detect_test_pollution.py 1.2.0): one ``--collect-only`` run to discover
   the test ids; the victim alone (must pass); every other test in collection
   order then the victim (must fail); then halving: keep the first half if
   ``[first half, victim]`` fails, else the second half (unprobed), until one
   test is left; one last ``[polluter, victim]`` check.  It assumes ONE
   polluter per victim and reports one.  Each run is a pytest process with
   its own plugin (``-p detect_test_pollution``) reading the ids from a file.
3. Per-victim binary search (the classic baseline, written here): for each
   victim separately, the victim alone once (must pass), then ``[all other
   tests in serial order, victim]`` (must fail), then recursive halving of
   every failing range: probe ``[left half, victim]``; if it fails recurse
   into it and probe the right half too; if it passes the right half is
   guilty without a probe.  Every single test reached is a polluter, checked
   once by ``[polluter, victim]``.  Probes are
   ``pollution.runners.execute(PytestRunner, RunRequest(tests=[...]))``.

Counting.  Every pytest process started by any method loads a tiny counting
plugin (``PYTEST_ADDOPTS=-p pollution_bench_count`` with the plugin in a
temporary directory on ``PYTHONPATH``): one line per pytest session (not per
xdist worker) and one per test setup (a test execution, including each
iteration of a looping concurrent probe).  Those counts are the table's
"invocations" and "executions" for every method, so all three are counted
the same way (a process that dies before its session starts, e.g. in a
conftest's ``pytest_configure``, is not counted; pollution's own count
includes it).  pollution's own bookkeeping (``Diagnosis.total_costs()``) is
printed beside them.  The shared serial/parallel runs are not charged.

Scoring.  Truth = ``tests/fixtures/demo_truth.json`` edges whose victim is
among the victims found in the parallel runs.  Sequential edges: pollution's
``confirmed`` sequential edges; detect-test-pollution's reported polluter per
victim; the baseline's edges whose ``[polluter, victim]`` check failed.
pollution's concurrent edges are scored separately.

Targets (issue): detect-test-pollution executions / pollution executions
>= 10; pollution wall (jobs=1) / one full serial run <= 3; pollution's
sequential precision and recall == 1.0.  Exit 1 if any is missed.

``--dtp-max N`` / ``--bisect-max N`` run that baseline on N victims spread
evenly over the serial order and EXTRAPOLATE its costs to all victims (the
rows say so); precision/recall are then over the subset's truth only.
By default both run on every victim (about 10 s per victim each on the
development VM; the whole benchmark took about 10 minutes there).

Each pollution diagnosis runs in a forked child and is stopped after
``--pollution-limit`` seconds (default 600): the engine has been seen to stop
making progress (a search loop that only reuses journaled probes), and the
benchmark reports that instead of waiting.  To benchmark a modified copy of
the package, put it first on the path:
``PYTHONPATH=/path/to/copy .venv/bin/python benchmarks/bisect_cost.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TRUTH = ROOT / "tests" / "fixtures" / "demo_truth.json"
DTP_PACKAGE = "detect-test-pollution"
DTP_TIMEOUT = 300.0  # seconds for one victim

TARGET_EXEC_RATIO = 10.0
TARGET_WALL_RATIO = 3.0
TARGET_PR = 1.0

COUNT_PLUGIN = "pollution_bench_count"
COUNT_PLUGIN_SOURCE = '''\
"""Benchmark-only: one line per pytest session, one per test execution."""
import os


def _log(line):
    path = os.environ.get("POLLUTION_BENCH_COUNT_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\\n")


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the process, not an xdist worker
        _log(f"S {os.getpid()}")


def pytest_runtest_setup(item):
    _log("T")
'''


# ------------------------------------------------------------------ helpers


@dataclass
class Count:
    invocations: int = 0
    executions: int = 0


def read_count(log: Path) -> Count:
    if not log.exists():
        return Count()
    lines = log.read_text(encoding="utf-8").splitlines()
    return Count(sum(1 for x in lines if x.startswith("S ")), sum(1 for x in lines if x == "T"))


@dataclass
class Method:
    name: str
    invocations: int = 0
    executions: int = 0
    wall: float = 0.0
    found: set[tuple[str, str]] = field(default_factory=set)
    truth: set[tuple[str, str]] = field(default_factory=set)
    victims_run: int = 0
    victims_total: int = 0
    own: dict[str, Any] = field(default_factory=dict)  # the method's own bookkeeping
    notes: list[str] = field(default_factory=list)
    per_victim: list[dict[str, Any]] = field(default_factory=list)

    @property
    def extrapolated(self) -> bool:
        return 0 < self.victims_run < self.victims_total

    def scaled(self, value: float) -> float:
        return value * self.victims_total / self.victims_run if self.extrapolated else value

    def precision(self) -> float | None:
        return len(self.found & self.truth) / len(self.found) if self.found else None

    def recall(self) -> float | None:
        return len(self.found & self.truth) / len(self.truth) if self.truth else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "invocations": self.invocations, "executions": self.executions, "wall": self.wall,
            "extrapolated": self.extrapolated, "victims_run": self.victims_run, "victims_total": self.victims_total,
            "invocations_all": self.scaled(self.invocations), "executions_all": self.scaled(self.executions),
            "wall_all": self.scaled(self.wall), "precision": self.precision(), "recall": self.recall(),
            "found": sorted(self.found), "missed": sorted(self.truth - self.found),
            "false": sorted(self.found - self.truth), "own": self.own, "notes": self.notes,
            "per_victim": self.per_victim,
        }


def spread(items: list[str], n: int) -> list[str]:
    """n items evenly spread over the list (all of them when n <= 0 or n >= len)."""
    if n <= 0 or n >= len(items):
        return list(items)
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)] if n > 1 else [items[0]]


def ensure_dtp() -> tuple[Path, str]:
    """The detect-test-pollution console script beside this interpreter, installed if missing."""
    from importlib import metadata

    try:
        version = metadata.version(DTP_PACKAGE)
    except metadata.PackageNotFoundError:
        print(f"installing {DTP_PACKAGE} (benchmark-only) ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", DTP_PACKAGE], check=True)
        version = metadata.version(DTP_PACKAGE)
    script = Path(sys.executable).parent / "detect-test-pollution"
    if not script.exists():
        raise SystemExit(f"{script}: the {DTP_PACKAGE} console script is missing")
    return script, version


def failed_in(table: Any, test_id: str) -> bool:
    rows = table[table["test_id"] == test_id]
    return bool(len(rows)) and bool(rows["outcome"].isin(["failed", "error"]).any())


def code_identity() -> dict[str, str]:
    """Which engine is measured: where ``pollution`` is imported from, a hash of its
    sources, and the git commit (``+dirty`` when the package differs from it)."""
    import hashlib

    import pollution

    root = Path(pollution.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    git = "n/a"
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", str(root)], cwd=ROOT, check=False).returncode != 0
        if head.returncode == 0:
            git = head.stdout.strip() + ("+dirty" if dirty else "")
    except OSError:
        pass
    return {"path": str(root), "sha256": digest.hexdigest(), "git": git}


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


# ------------------------------------------------------------------ methods


def _diagnose_child(runner: Any, serial: Any, parallel: Any, env: dict[str, str], out: Path, jobs: int) -> None:
    import pollution.diagnosis

    pollution.diagnosis.diagnose(runner, serial=serial, parallel=parallel, env=env, out=out, jobs=jobs)


def run_pollution(name: str, runner: Any, serial: Any, parallel: Any, env: dict[str, str], out: Path,
                  jobs: int, count_log: Path, truth_seq: set[tuple[str, str]], truth_conc: set[tuple[str, str]], limit: float) -> Method:
    """``pollution.diagnose`` in a forked child (same modules, same environment), so
    that an engine that stops making progress is reported, not waited for."""
    import multiprocessing

    from pollution.diagnosis import Diagnosis

    os.environ["POLLUTION_BENCH_COUNT_LOG"] = str(count_log)
    child = multiprocessing.get_context("fork").Process(
        target=_diagnose_child, args=(runner, serial, parallel, env, out, jobs), daemon=False)
    started = time.perf_counter()
    child.start()
    child.join(limit)
    hung = child.is_alive()
    if hung:
        child.kill()
        child.join()
    wall = time.perf_counter() - started
    counted = read_count(count_log)
    m = Method(name, counted.invocations, counted.executions, wall, truth=truth_seq)
    result = out / "result.json"
    if hung or child.exitcode != 0 or not result.exists():
        journal = out / "journal.jsonl"
        done = [json.loads(x) for x in journal.read_text(encoding="utf-8").splitlines() if x.strip()] \
            if journal.exists() else []
        last = done[-1]["probe"]["purpose"] if done else None
        why = f"no result after {limit:.0f} s (killed)" if hung else f"exited with status {child.exitcode}"
        m.notes.append(f"{why}; {len(done)} probes journaled, the last in phase {last!r}; "
                       f"pytest processes stopped starting at {_last_write(count_log, started):.0f} s")
        m.own = {"failed": why, "probes": len(done), "invocations": sum(d["invocations"] for d in done),
                 "executions": sum(d["executions"] for d in done), "phases": {}, "concurrent_found": [],
                 "concurrent_precision": None, "concurrent_recall": None}
        m.victims_total = m.victims_run = 0
        return m
    diagnosis = Diagnosis.load(result)
    total = diagnosis.total_costs()
    m.found = {(e.polluter, e.victim) for e in diagnosis.edges if e.kind == "sequential" and e.status == "confirmed"}
    conc = {(e.polluter, e.victim) for e in diagnosis.edges if e.kind == "concurrent" and e.status == "confirmed"}
    m.own = {
        "invocations": total.invocations, "executions": total.executions, "probes": total.probes,
        "diagnosis_wall": diagnosis.wall,
        "phases": {k: {"invocations": c.invocations, "executions": c.executions, "wall": round(c.wall, 2)}
                   for k, c in diagnosis.costs.items()},
        "victims": diagnosis.victims, "brittle": diagnosis.triage.brittle,
        "nondeterministic": diagnosis.triage.nondeterministic + diagnosis.nondeterministic,
        "unexplained": diagnosis.unexplained,
        "intermittent": sorted((e.polluter, e.victim, e.kind) for e in diagnosis.edges if e.status == "intermittent"),
        "rejected": sorted((e.polluter, e.victim, e.kind) for e in diagnosis.edges if e.status == "rejected"),
        "concurrent_found": sorted(conc), "concurrent_truth": sorted(truth_conc),
        "concurrent_precision": len(conc & truth_conc) / len(conc) if conc else None,
        "concurrent_recall": len(conc & truth_conc) / len(truth_conc) if truth_conc else None,
        "groups": diagnosis.groups,
        "probe_errors": [e.get("error", "")[:300] for e in getattr(diagnosis, "probe_errors", [])],
    }
    m.victims_run = m.victims_total = len(diagnosis.victims)
    return m


def _last_write(log: Path, started: float) -> float:
    """Seconds from ``started`` (perf_counter) to the last write of ``log``."""
    if not log.exists():
        return 0.0
    return log.stat().st_mtime - (time.time() - (time.perf_counter() - started))


def run_dtp(script: Path, suite: Path, victims: list[str], chosen: list[str], tmp: Path,
            truth_seq: set[tuple[str, str]]) -> Method:
    m = Method("detect-test-pollution", victims_total=len(victims), victims_run=len(chosen))
    m.truth = {(p, v) for p, v in truth_seq if v in set(chosen)}
    addopts = f"-p {COUNT_PLUGIN} -p no:cacheprovider -c {os.devnull} --rootdir {suite}"
    for i, victim in enumerate(chosen):
        log = tmp / f"count-dtp-{i}.log"
        env = {
            **os.environ, "POLLUTION_BENCH_COUNT_LOG": str(log), "PYTEST_ADDOPTS": addopts,
            "POLLUTION_DEMO_DB": str(tmp / f"dtp-{i}.sqlite"), "PYTHONDONTWRITEBYTECODE": "1",
        }
        argv = [str(script), "--failing-test", victim, "--tests", str(suite)]
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=suite, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, text=True)
        try:
            output, _ = proc.communicate(timeout=DTP_TIMEOUT)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            code = None
        wall = time.perf_counter() - started
        counted = read_count(log)
        polluter = None
        for line in output.splitlines():
            if line.startswith("-> the polluting test is: "):
                polluter = line.split(": ", 1)[1].strip()
        verdict = polluter or next((x.strip() for x in reversed(output.splitlines()) if x.startswith("->")),
                                   f"exit {code}")
        if polluter:
            m.found.add((polluter, victim))
        m.invocations += counted.invocations
        m.executions += counted.executions
        m.wall += wall
        m.per_victim.append({"victim": victim, "exit": code, "result": verdict, "invocations": counted.invocations,
                             "executions": counted.executions, "wall": round(wall, 2)})
        print(f"  dtp {i + 1}/{len(chosen)} {victim}: {verdict} "
              f"({counted.invocations} inv, {counted.executions} exec, {wall:.1f} s)", flush=True)
    return m


class Bisection:
    """Per-victim classic binary search with real probes."""

    def __init__(self, runner: Any, tmp: Path) -> None:
        self.runner = runner
        self.tmp = tmp
        self.env = {"POLLUTION_DEMO_DB": str(tmp / "bisect-{probe}.sqlite"), "PYTHONDONTWRITEBYTECODE": "1"}
        self.n = 0
        self.invocations = 0
        self.executions = 0

    def fails(self, tests: Sequence[str], victim: str) -> bool:
        from pollution.runners import RunRequest, execute

        self.n += 1
        request = RunRequest(run_id=f"bisect-{self.n}", tests=[*tests, victim], env=self.env)
        result = execute(self.runner, request)
        Path(self.tmp / f"bisect-bisect-{self.n}.sqlite").unlink(missing_ok=True)
        self.invocations += 1
        self.executions += int((result.table["outcome"] != "skipped").sum())
        return failed_in(result.table, victim)

    def polluters(self, candidates: list[str], victim: str) -> tuple[str, list[str]]:
        if self.fails([], victim):
            return "fails alone", []
        if not self.fails(candidates, victim):
            return "passes after all others", []
        found: list[str] = []
        self._split(candidates, victim, found)
        confirmed = [p for p in found if self.fails([p], victim)]
        return f"{len(confirmed)}/{len(found)} confirmed", confirmed

    def _split(self, guilty: list[str], victim: str, found: list[str]) -> None:
        # ``guilty``: [guilty, victim] failed.
        if len(guilty) == 1:
            found.append(guilty[0])
            return
        mid = len(guilty) // 2
        left, right = guilty[:mid], guilty[mid:]
        if self.fails(left, victim):
            self._split(left, victim, found)
            if self.fails(right, victim):
                self._split(right, victim, found)
        else:
            self._split(right, victim, found)  # the failing parent must owe it to the right half


def run_bisect(runner: Any, order: list[str], victims: list[str], chosen: list[str], tmp: Path,
               truth_seq: set[tuple[str, str]], count_log: Path) -> Method:
    os.environ["POLLUTION_BENCH_COUNT_LOG"] = str(count_log)
    m = Method("per-victim bisection", victims_total=len(victims), victims_run=len(chosen))
    m.truth = {(p, v) for p, v in truth_seq if v in set(chosen)}
    engine = Bisection(runner, tmp)
    started = time.perf_counter()
    for i, victim in enumerate(chosen):
        inv0, ex0, t0 = engine.invocations, engine.executions, time.perf_counter()
        candidates = [t for t in order if t != victim]
        verdict, polluters = engine.polluters(candidates, victim)
        m.found |= {(p, victim) for p in polluters}
        took = time.perf_counter() - t0
        m.per_victim.append({"victim": victim, "result": verdict, "polluters": polluters,
                             "invocations": engine.invocations - inv0, "executions": engine.executions - ex0,
                             "wall": round(took, 2)})
        print(f"  bisect {i + 1}/{len(chosen)} {victim}: {verdict} "
              f"({engine.invocations - inv0} inv, {engine.executions - ex0} exec, {took:.1f} s)", flush=True)
    m.wall = time.perf_counter() - started
    counted = read_count(count_log)
    m.invocations, m.executions = counted.invocations, counted.executions
    m.own = {"invocations": engine.invocations, "executions": engine.executions}
    return m


# ------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--dtp-max", type=int, default=0, help="run detect-test-pollution on N victims (0: all)")
    ap.add_argument("--bisect-max", type=int, default=0, help="run the per-victim bisection on N victims (0: all)")
    ap.add_argument("--no-jobs2", action="store_true", help="skip the extra pollution run with jobs=2")
    ap.add_argument("--pollution-limit", type=float, default=600.0,
                    help="seconds one pollution diagnosis may take before it is reported as hung (default 600)")
    ap.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)

    from pollution.demo import pytest_args, suite_env, suite_hash, suite_path
    from pollution.diff import diff_runs
    from pollution.runners.pytest import PytestRunner
    from pollution.runs import run_suite
    from pollution.schedule import execution_order

    bench_started = time.perf_counter()
    script, dtp_version = ensure_dtp()
    truth_doc = json.loads(TRUTH.read_text(encoding="utf-8"))
    if truth_doc.get("suite_hash") != suite_hash():
        print("WARNING: demo suite changed since demo_truth.json was measured", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="pollution-bisect-cost-"))
    plugin_dir = tmp / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / f"{COUNT_PLUGIN}.py").write_text(COUNT_PLUGIN_SOURCE, encoding="utf-8")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(plugin_dir), os.environ.get("PYTHONPATH")) if p)
    os.environ["PYTEST_ADDOPTS"] = f"-p {COUNT_PLUGIN}"
    code = code_identity()
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
          f"{DTP_PACKAGE} {dtp_version}; pollution from {code['path']} (sha256 {code['sha256'][:12]}, "
          f"git {code['git']}); tmp {tmp}", flush=True)
    try:
        suite = suite_path()
        runner = PytestRunner(path=suite, args=pytest_args())
        env = suite_env(f"{tmp}/demo-{{probe}}.sqlite")

        # 0. shared runs
        os.environ["POLLUTION_BENCH_COUNT_LOG"] = str(tmp / "count-shared.log")
        campaign = run_suite(runner, tmp / "runs", serial=1, parallel=2, workers=4, env=env)
        table = campaign.table
        serial, parallel = table[table["mode"] == "serial"], table[table["mode"] == "parallel"]
        extra = run_suite(runner, tmp / "runs-extra", serial=2, parallel=0, env=env)
        serial_walls = [r.duration for r in campaign.results if r.mode == "serial"]
        serial_walls += [r.duration for r in extra.results]
        serial_wall = statistics.median(serial_walls)
        parallel_walls = [r.duration for r in campaign.results if r.mode == "parallel"]
        diff = diff_runs(serial, parallel)
        order = execution_order(serial)
        rank = {t: i for i, t in enumerate(order)}
        victims = sorted(diff.loc[diff["category"] == "parallel-only", "test_id"], key=lambda t: rank.get(t, 1e9))
        print(f"shared runs: serial {', '.join(f'{w:.2f}' for w in serial_walls)} s (median {serial_wall:.2f}), "
              f"parallel -n 4 {', '.join(f'{w:.2f}' for w in parallel_walls)} s; {len(order)} tests, "
              f"{len(victims)} victims (parallel-only)", flush=True)
        vset = set(victims)
        truth_seq = {(e["polluter"], e["victim"]) for e in truth_doc["edges"]
                     if e["kind"] == "sequential" and e["victim"] in vset}
        truth_conc = {(e["polluter"], e["victim"]) for e in truth_doc["edges"]
                      if e["kind"] == "concurrent" and e["victim"] in vset}
        truth_victims = {e["victim"] for e in truth_doc["edges"]}
        other = [v for v in victims if v not in truth_victims]
        print(f"truth on these victims: {len(truth_seq)} sequential, {len(truth_conc)} concurrent edges; "
              f"victims with no truth edge: {other}", flush=True)

        methods: list[Method] = []
        # 1. pollution
        print("pollution diagnose, jobs=1 ...", flush=True)
        p1 = run_pollution("pollution (jobs=1)", runner, serial, parallel, env, tmp / "diag-1", 1,
                           tmp / "count-p1.log", truth_seq, truth_conc, args.pollution_limit)
        methods.append(p1)
        print(f"  {p1.wall:.1f} s", flush=True)
        p2 = None
        if not args.no_jobs2:
            print("pollution diagnose, jobs=2 ...", flush=True)
            p2 = run_pollution("pollution (jobs=2)", runner, serial, parallel, env, tmp / "diag-2", 2,
                               tmp / "count-p2.log", truth_seq, truth_conc, args.pollution_limit)
            methods.append(p2)
            print(f"  {p2.wall:.1f} s", flush=True)
        # 2. detect-test-pollution
        chosen = spread(victims, args.dtp_max)
        print(f"detect-test-pollution on {len(chosen)} of {len(victims)} victims ...", flush=True)
        dtp = run_dtp(script, suite, victims, chosen, tmp, truth_seq)
        methods.append(dtp)
        # 3. per-victim bisection
        chosen = spread(victims, args.bisect_max)
        print(f"per-victim bisection on {len(chosen)} of {len(victims)} victims ...", flush=True)
        bis = run_bisect(runner, order, victims, chosen, tmp, truth_seq, tmp / "count-bisect.log")
        methods.append(bis)

        # ---------------------------------------------------------- report
        print()
        print(f"demo suite: {len(order)} tests, {len(victims)} victims from 1 serial + 2 parallel (-n 4) runs; "
              f"truth: {len(truth_seq)} sequential + {len(truth_conc)} concurrent edges on them")
        print(f"one full serial run: {serial_wall:.2f} s (median of {len(serial_walls)})")
        print()
        head = f"{'method':<34} {'invocations':>11} {'executions':>10} {'wall s':>8} {'seq P':>6} {'seq R':>6}  victims"
        print(head)
        print("-" * len(head))
        for m in methods:
            label = m.name + (" *extrapolated" if m.extrapolated else "")
            print(f"{label:<34} {m.scaled(m.invocations):>11.0f} {m.scaled(m.executions):>10.0f} "
                  f"{m.scaled(m.wall):>8.1f} {fmt(m.precision()):>6} {fmt(m.recall()):>6}  "
                  f"{m.victims_run}/{m.victims_total}")
        if any(m.extrapolated for m in methods):
            print("* costs scaled by victims_total / victims_run from the victims actually run; "
                  "P/R over those victims only")
        print()
        for p in (p1, p2):
            if p is None:
                continue
            own = p.own
            if "failed" in own:
                print(f"{p.name}: FAILED TO FINISH: {'; '.join(p.notes)}")
                continue
            print(f"{p.name}: own count {own['invocations']} invocations, {own['executions']} executions, "
                  f"{own['probes']} probes; concurrent edges {own['concurrent_found']} "
                  f"(P {fmt(own['concurrent_precision'])}, R {fmt(own['concurrent_recall'])})")
            print("  phases: " + ", ".join(f"{k} {v['invocations']}/{v['executions']}/{v['wall']:.0f}s"
                                           for k, v in own["phases"].items()))
            print(f"  triage: victims {len(own['victims'])}, brittle {own['brittle']}, "
                  f"nondeterministic {own['nondeterministic']}, unexplained {own['unexplained']}, "
                  f"intermittent {own['intermittent']}, rejected {len(own['rejected'])}")
            if own["probe_errors"]:
                print(f"  {len(own['probe_errors'])} probe(s) broke: "
                      + " | ".join(sorted({e.splitlines()[-1][:160] for e in own['probe_errors'] if e})))
        for m in methods:
            if m.truth - m.found or m.found - m.truth:
                print(f"{m.name}: missed {sorted(m.truth - m.found)}; wrong {sorted(m.found - m.truth)}")
        print()

        exec_ratio = dtp.scaled(dtp.executions) / p1.executions if p1.executions else float("inf")
        wall_ratio = p1.wall / serial_wall
        checks = [
            ("detect-test-pollution executions / pollution executions", exec_ratio, ">= 10",
             exec_ratio >= TARGET_EXEC_RATIO),
            ("pollution wall (jobs=1) / full serial run", wall_ratio, "<= 3", wall_ratio <= TARGET_WALL_RATIO),
            ("pollution sequential precision", p1.precision(), "== 1.0", p1.precision() == TARGET_PR),
            ("pollution sequential recall", p1.recall(), "== 1.0", p1.recall() == TARGET_PR),
        ]
        print(f"{'target':<58} {'measured':>9} {'target':>7}  result")
        for label, value, target, ok in checks:
            print(f"{label:<58} {fmt(value):>9} {target:>7}  {'PASS' if ok else 'FAIL'}")
        print("extra (no target):")
        print(f"  per-victim bisection executions / pollution executions: "
              f"{bis.scaled(bis.executions) / p1.executions:.2f}")
        seq_exec = sum(v["executions"] for k, v in p1.own.get("phases", {}).items()
                       if not k.startswith(("concurrent", "confirm-concurrent", "control")))
        if seq_exec:
            print(f"  pollution executions outside the concurrent search (triage, sequential search, confirm): "
                  f"{seq_exec}; detect-test-pollution / that: {dtp.scaled(dtp.executions) / seq_exec:.2f}")
        print(f"  detect-test-pollution invocations / pollution invocations: "
              f"{dtp.scaled(dtp.invocations) / p1.invocations:.2f}")
        print(f"  detect-test-pollution wall / pollution wall (jobs=1): {dtp.scaled(dtp.wall) / p1.wall:.2f}")
        if p2 is not None:
            print(f"  pollution wall (jobs=2) / full serial run: {p2.wall / serial_wall:.2f}; "
                  f"jobs=2 sequential P {fmt(p2.precision())} R {fmt(p2.recall())}")
        total = time.perf_counter() - bench_started
        print(f"benchmark wall: {total:.0f} s; load average now {os.getloadavg()[0]:.2f} "
              f"on {os.cpu_count()} CPUs")
        if args.json:
            args.json.write_text(json.dumps({
                "python": platform.python_version(), "cpus": os.cpu_count(), "dtp_version": dtp_version,
                "code": code, "load_end": os.getloadavg(),
                "tests": len(order), "victims": victims, "serial_walls": serial_walls, "serial_wall": serial_wall,
                "parallel_walls": parallel_walls, "truth_sequential": sorted(truth_seq),
                "truth_concurrent": sorted(truth_conc), "methods": [m.to_json() for m in methods],
                "checks": [{"target": c[0], "measured": c[1], "goal": c[2], "pass": c[3]} for c in checks],
                "benchmark_wall": total,
            }, indent=2, default=str) + "\n", encoding="utf-8")
        return 0 if all(c[3] for c in checks) else 1
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
