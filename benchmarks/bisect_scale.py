"""Bisection scale benchmark: the diagnosis engine against per-victim binary search.

Run from the project root::

    .venv/bin/python benchmarks/bisect_scale.py [--tests 1000 10000] [--seed N] [--seeds K] [--noise 0.05]

The runner is SIMULATED.  ``SimulatedExecutor`` implements the
``pollution.probes.Executor`` protocol (``run(probes) -> Iterator[ProbeResult]``,
``close()``) but starts no process: it works out each probe's outcomes from a
hidden ground-truth model.  Everything else is the real engine:
``ProbeBook`` + ``Journal`` (a real JSON-lines journal, fsynced per probe, in
a temporary directory), ``Bisector.triage`` and
``pollution.diagnosis._sequential`` (tail probe, tail search, search over the
candidate universe, reverse-order sweep, fan-out, confirmation).

The model (seeded):

* N tests in one order (the order of the failing run).  1-5% of them are
  victims (drawn per seed), at random positions.
* Every victim has 1..3 sequential polluters (1: 50%, 2: 30%, 3: 20%), all
  earlier in the order.  Each polluter slot is a *hub* with probability 0.4
  (a few shared polluters early in the order, Zipf-weighted, so some pollute
  dozens of victims), another victim with probability 0.05 (victims that
  pollute victims), otherwise any earlier non-victim test.
* About 1 polluter in 12 has a *cleaner*: a test that resets that polluter's
  state; 70% of them sit between the polluter and one of its victims in the
  order, so they mask it in the original run.
* A serial probe runs ``probe.tests`` in order; a victim fails when one of
  its polluters ran earlier in the probe with no cleaner of that polluter in
  between.
* Noise: EVERY execution of EVERY test (victims, polluters, bystanders)
  fails spuriously with probability ``--noise`` (default 0.05, the issue's
  "5% random flaky noise"), independently; noise never turns a failure into
  a pass.  The engine only reads victims' outcomes, so noise on the other
  tests changes nothing; it is drawn anyway so the executor is honest.
  Noise is seeded per probe (seed + probe key), so the same probe gets the
  same outcome whichever method asks for it.
* The suspects handed to triage are the victims that fail in the original
  order without noise (a victim all of whose polluters are masked there is
  never seen).  ``--false-suspects F`` adds a fraction F of the suite as
  extra, innocent suspects (what a single noisy parallel run would add).

Ground truth is every (polluter, victim) pair of a suspect victim: the edges
``[polluter, victim]`` would fail every time.  Precision and recall are of
the edges the engine marks ``confirmed`` (every confirmation repetition
failed); the figures for ``confirmed + intermittent`` (what
``Diagnosis.confirmed`` and the graph keep) are printed too.

The baseline, in the same run, with the same executor, noise, triage and
confirmation: for each victim separately, classic adaptive binary splitting
over all tests before it: probe ``range + victim``; for a failing range probe
its left half; a failing half is split further and the right half is probed
too, a passing left half makes the right half guilty without a probe; a
failing single test is a polluter.

Costs: probes = runner invocations; test executions = tests run in them.
Planner CPU = ``time.process_time()`` over the whole engine run minus the
process time spent inside ``SimulatedExecutor`` (so it includes ProbeBook and
Journal work: keys, JSON, not the fsync wait).  Its share is given against a
modelled probe time of ``--startup`` s per invocation + ``--per-test`` s per
test execution (default 0.5 s + 5 ms: a pytest start-up and a fast unit test).

The ProbeBook is the real one with a watchdog (``GuardedProbeBook``): when
the engine asks for nothing but already-journaled probes 2,000 batches in a
row, it is looping, and the run is reported as stalled (a failed target).

Targets (issue): >= 10x fewer test executions than per-victim binary search
at 10,000 tests; precision >= 0.98 under noise (every N, every seed); planner
overhead < 5% of probe time.  The exit status is 1 if any target is missed.
``--profile`` prints a cProfile of the engine (largest N, first seed).
To benchmark a modified copy of the package, put it first on the path:
``PYTHONPATH=/path/to/copy .venv/bin/python benchmarks/bisect_scale.py``.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import platform
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pollution
from pollution.bisect import Bisector, Edge
from pollution.diagnosis import _sequential
from pollution.probes import Costs, Journal, Probe, ProbeBook, ProbeResult
from pollution.schedule import Candidates

TARGET_EXEC_RATIO = 10.0  # baseline executions / engine executions, at TARGET_RATIO_AT tests
TARGET_RATIO_AT = 10_000
TARGET_PRECISION = 0.98
TARGET_OVERHEAD = 0.05  # planner CPU / modelled probe time

HUB_SHARE = 0.40
VICTIM_POLLUTER_SHARE = 0.05
CLEANED_SHARE = 1 / 12
CLEANER_MASKS = 0.70
TESTS_PER_MODULE = 25


# --------------------------------------------------------------------------
# Ground truth


@dataclass
class Model:
    order: list[str]
    pos: dict[str, int]
    victim_rate: float
    victims: list[str]  # every true victim, in order
    polluters: dict[str, frozenset[str]]  # victim -> its polluters (all earlier in the order)
    polluting: frozenset[str]  # every test that pollutes some victim
    cleans: dict[str, frozenset[str]]  # cleaner -> polluters whose state it resets
    hubs: list[str]
    suspects: list[str] = field(default_factory=list)  # handed to triage
    truth: set[tuple[str, str]] = field(default_factory=set)
    masked: set[tuple[str, str]] = field(default_factory=set)  # truth edges masked in the original order
    false_suspects: list[str] = field(default_factory=list)

    def run(self, tests: Sequence[str]) -> list[bool]:
        """Noise-free failures of a serial run of ``tests`` in this order."""
        dirty: set[str] = set()
        out = []
        polluters, cleans, polluting = self.polluters, self.cleans, self.polluting
        for t in tests:
            reset = cleans.get(t)
            if reset and dirty:
                dirty -= reset
            mine = polluters.get(t)
            out.append(mine is not None and bool(dirty) and not dirty.isdisjoint(mine))
            if t in polluting:
                dirty.add(t)
        return out


def build_model(n: int, seed: int, victim_rate: float | None, false_suspects: float) -> Model:
    rng = random.Random(f"model/{seed}/{n}")
    order = [f"tests/test_m{i // TESTS_PER_MODULE:04d}.py::test_{i:05d}" for i in range(n)]
    pos = {t: i for i, t in enumerate(order)}
    rate = victim_rate if victim_rate is not None else rng.uniform(0.01, 0.05)
    n_victims = max(3, round(n * rate))
    first = max(5, n // 100)
    victim_pos = sorted(rng.sample(range(first, n), n_victims))
    victims = [order[i] for i in victim_pos]
    victim_set = set(victims)
    plain = [i for i in range(n) if order[i] not in victim_set]
    n_hubs = max(2, n_victims // 15)
    hub_pos = sorted(rng.sample([i for i in plain if i < n // 2], n_hubs))
    hub_weight = {i: 1.0 / (k + 1) for k, i in enumerate(rng.sample(hub_pos, len(hub_pos)))}
    polluters: dict[str, frozenset[str]] = {}
    for vi in victim_pos:
        k = rng.choices((1, 2, 3), weights=(0.5, 0.3, 0.2))[0]
        chosen: set[int] = set()
        earlier_hubs = [h for h in hub_pos if h < vi]
        earlier_victims = [p for p in victim_pos if p < vi]
        earlier_plain = [p for p in plain if p < vi]
        while len(chosen) < k:
            r = rng.random()
            if r < HUB_SHARE and earlier_hubs:
                chosen.add(rng.choices(earlier_hubs, weights=[hub_weight[h] for h in earlier_hubs])[0])
            elif r < HUB_SHARE + VICTIM_POLLUTER_SHARE and earlier_victims:
                chosen.add(rng.choice(earlier_victims))
            else:
                chosen.add(rng.choice(earlier_plain))
        polluters[order[vi]] = frozenset(order[p] for p in chosen)
    polluting = frozenset(p for ps in polluters.values() for p in ps)
    # Cleaners: a few polluters get one test that resets their state.
    busy = victim_set | polluting
    victims_of: dict[str, list[int]] = {}
    for v, ps in polluters.items():
        for p in ps:
            victims_of.setdefault(p, []).append(pos[v])
    cleans: dict[str, set[str]] = {}
    for p in sorted(polluting, key=pos.__getitem__):
        if rng.random() >= CLEANED_SHARE:
            continue
        lo = pos[p] + 1
        hi = max(victims_of[p]) if rng.random() < CLEANER_MASKS else n
        spots = [i for i in range(lo, hi) if order[i] not in busy]
        if not spots:
            continue
        c = order[rng.choice(spots)]
        cleans.setdefault(c, set()).add(p)
    model = Model(
        order, pos, rate, victims, polluters, polluting, {c: frozenset(ps) for c, ps in cleans.items()},
        [order[h] for h in hub_pos],
    )
    failing = model.run(order)
    model.suspects = [t for t, f in zip(order, failing) if f]
    assert set(model.suspects) <= victim_set
    cleaners_of: dict[str, list[int]] = {}
    for c, ps in model.cleans.items():
        for p in ps:
            cleaners_of.setdefault(p, []).append(pos[c])
    for v in model.suspects:
        for p in polluters[v]:
            model.truth.add((p, v))
            if any(pos[p] < c < pos[v] for c in cleaners_of.get(p, ())):
                model.masked.add((p, v))
    if false_suspects > 0:
        innocent = [t for t in order if t not in busy and t not in model.cleans]
        model.false_suspects = rng.sample(innocent, min(len(innocent), round(n * false_suspects)))
        model.suspects = sorted(model.suspects + model.false_suspects, key=pos.__getitem__)
    return model


# --------------------------------------------------------------------------
# The simulated runner


class SimulatedExecutor:
    """A SIMULATED runner implementing the ``pollution.probes.Executor``
    protocol: no process is started; each probe's outcomes are computed from
    the hidden ground-truth ``Model`` plus seeded per-execution noise.

    ``sim_cpu`` / ``sim_wall`` accumulate the time spent simulating, so the
    caller can subtract it and keep the engine's own time.
    """

    def __init__(self, model: Model, noise: float, seed: int, startup: float, per_test: float) -> None:
        self.model = model
        self.noise = noise
        self.seed = seed
        self.startup = startup
        self.per_test = per_test
        self.sim_cpu = 0.0
        self.sim_wall = 0.0
        self.probes = 0
        self.executions = 0

    def run(self, probes: Sequence[Probe]) -> Iterator[ProbeResult]:
        for probe in probes:
            c0, w0 = time.process_time(), time.perf_counter()
            result = self.simulate(probe)
            self.sim_cpu += time.process_time() - c0
            self.sim_wall += time.perf_counter() - w0
            yield result

    def close(self) -> None:
        pass

    def simulate(self, probe: Probe) -> ProbeResult:
        if probe.beside or probe.workers != 1 or probe.collect:
            raise NotImplementedError("SimulatedExecutor models serial probes only")
        tests = probe.tests
        failing = self.model.run(tests)
        if self.noise > 0:
            digest = hashlib.blake2b(f"{self.seed}/{probe.key}".encode(), digest_size=8).digest()
            draw = random.Random(int.from_bytes(digest, "big")).random
            noise = self.noise
            failing = [f or draw() < noise for f in failing]
        outcomes = {t: ("failed" if f else "passed") for t, f in zip(tests, failing)}
        self.probes += 1
        self.executions += len(tests)
        return ProbeResult(
            probe, outcomes, executions=len(tests), invocations=1,
            duration=self.startup + self.per_test * len(tests), exit_code=int(any(failing)),
        )


class EngineStalled(RuntimeError):
    pass


class GuardedProbeBook(ProbeBook):
    """The real ProbeBook, plus a watchdog: a fresh journal is never asked
    for the same probes over and over, so ``STALL_BATCHES`` batches in a row
    that run nothing new mean the engine is looping, not searching."""

    STALL_BATCHES = 2000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle = 0

    def run(self, phase: str, probes: Sequence[Probe]) -> dict[str, ProbeResult]:
        before = sum(c.probes for c in self.costs.values())
        out = super().run(phase, probes)
        self.idle = self.idle + 1 if probes and sum(c.probes for c in self.costs.values()) == before else 0
        if self.idle >= self.STALL_BATCHES:
            raise EngineStalled(
                f"phase {phase!r}: {self.idle} batches in a row asked only for probes already run "
                f"({self.costs[phase].reused} reuses); the search is not terminating"
            )
        return out


# --------------------------------------------------------------------------
# The two methods


@dataclass
class MethodResult:
    name: str
    probes: int = 0
    executions: int = 0
    edges: list[Edge] = field(default_factory=list)
    victims: list[str] = field(default_factory=list)
    nondeterministic: list[str] = field(default_factory=list)
    cpu: float = 0.0  # process time of the whole method
    wall: float = 0.0
    sim_cpu: float = 0.0
    sim_wall: float = 0.0
    phases: dict[str, Costs] = field(default_factory=dict)
    profile: str = ""
    # (polluter, victim) pairs where the victim failed in the polluter's fan-out probe
    fanout_failures: set[tuple[str, str]] = field(default_factory=set)

    @property
    def planner_cpu(self) -> float:
        return self.cpu - self.sim_cpu

    @property
    def planner_wall(self) -> float:
        return self.wall - self.sim_wall


def _add_costs(out: MethodResult, book: ProbeBook) -> None:
    for phase, c in book.costs.items():
        out.phases[phase] = c
        out.probes += c.invocations
        out.executions += c.executions


def run_engine(model: Model, args: argparse.Namespace, seed: int, tmp: Path, profile: bool) -> MethodResult:
    ex = SimulatedExecutor(model, args.noise, seed, args.startup, args.per_test)
    book = GuardedProbeBook(ex, Journal(tmp / "journal.jsonl", resume=False))
    engine = Bisector(book, triage_repeats=args.triage_repeats, confirm=args.confirm)
    # Candidates as pollution.schedule.candidates_for would give them for a
    # single failing run with worker order: every test before the victim.
    candidates = {
        v: Candidates(v, sequential=model.order[: model.pos[v]], basis="worker-order", runs=["original"])
        for v in model.suspects
    }
    serial_passed = set(model.order)
    prof = cProfile.Profile() if profile else None
    c0, w0 = time.process_time(), time.perf_counter()
    if prof:
        prof.enable()
    try:
        triage = engine.triage(model.suspects, serial_passed)
        victims = sorted(triage.victims, key=model.pos.__getitem__)
        edges = _sequential(engine, victims, {v: candidates[v] for v in victims}, model.order) if victims else []
    finally:
        if prof:
            prof.disable()
        book.executor.close()
    out = MethodResult("pollution", edges=edges, victims=victims, nondeterministic=triage.nondeterministic)
    out.cpu, out.wall = time.process_time() - c0, time.perf_counter() - w0
    out.sim_cpu, out.sim_wall = ex.sim_cpu, ex.sim_wall
    _add_costs(out, book)
    for r in book.results.values():
        if r.probe.purpose == "fan-out":
            out.fanout_failures |= {(r.probe.tests[0], v) for v in r.probe.tests[1:] if r.failed(v)}
    if prof:
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf)
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(15)
        out.profile = buf.getvalue()
    return out


def run_baseline(model: Model, args: argparse.Namespace, seed: int, tmp: Path) -> MethodResult:
    ex = SimulatedExecutor(model, args.noise, seed, args.startup, args.per_test)
    book = GuardedProbeBook(ex, Journal(tmp / "baseline-journal.jsonl", resume=False))
    engine = Bisector(book, triage_repeats=args.triage_repeats, confirm=args.confirm)
    c0, w0 = time.process_time(), time.perf_counter()
    triage = engine.triage(model.suspects, set(model.order))
    victims = sorted(triage.victims, key=model.pos.__getitem__)
    # Per-victim search: straight to the executor (no journal: thousands of
    # probes of thousands of tests each), costs counted here.
    search = Costs()
    pairs: list[tuple[str, str]] = []
    for v in victims:
        cand = model.order[: model.pos[v]]
        pairs += [(p, v) for p in _per_victim(ex, cand, v, search)]
    edges = engine.confirm_edges("baseline-confirm", [Edge(p, v, "sequential") for p, v in sorted(set(pairs))])
    book.executor.close()
    out = MethodResult("per-victim", edges=edges, victims=victims, nondeterministic=triage.nondeterministic)
    out.cpu, out.wall = time.process_time() - c0, time.perf_counter() - w0
    out.sim_cpu, out.sim_wall = ex.sim_cpu, ex.sim_wall
    _add_costs(out, book)
    book.costs["per-victim"] = search
    out.phases["per-victim"] = search
    out.probes += search.invocations
    out.executions += search.executions
    return out


def _per_victim(ex: SimulatedExecutor, cand: list[str], v: str, costs: Costs) -> list[str]:
    """Classic adaptive binary splitting for one victim, finding every
    polluter: the left half of each guilty range is probed; the right half is
    probed too when the left failed, and is guilty by inference when the left
    passed."""
    found: list[str] = []
    if not cand or not _probe_ranges([(0, len(cand))], ex, cand, v, costs)[0]:
        return found
    guilty = [(0, len(cand))]
    while guilty:
        lefts, rights = [], []
        for lo, hi in guilty:
            if hi - lo == 1:
                found.append(cand[lo])
            else:
                mid = (lo + hi) // 2
                lefts.append((lo, mid))
                rights.append((mid, hi))
        left_fail = _probe_ranges(lefts, ex, cand, v, costs)
        to_probe = [r for r, lf in zip(rights, left_fail) if lf]
        right_fail = dict(zip(to_probe, _probe_ranges(to_probe, ex, cand, v, costs)))
        guilty = [left for left, lf in zip(lefts, left_fail) if lf]
        guilty += [r for r, lf in zip(rights, left_fail) if not lf or right_fail[r]]
    return found


def _probe_ranges(
    ranges: list[tuple[int, int]], ex: SimulatedExecutor, cand: list[str], v: str, costs: Costs
) -> list[bool]:
    if not ranges:
        return []
    probes = [Probe("per-victim", (*cand[lo:hi], v)) for lo, hi in ranges]
    out = []
    for r in ex.run(probes):
        costs.probes += 1
        costs.invocations += r.invocations
        costs.executions += r.executions
        out.append(r.failed(v))
    return out
# --------------------------------------------------------------------------
# Scoring and report


@dataclass
class Score:
    edges: int
    tp: int
    precision: float
    recall: float


def score(edges: Sequence[Edge], truth: set[tuple[str, str]], statuses: tuple[str, ...]) -> Score:
    got = {(e.polluter, e.victim) for e in edges if e.status in statuses}
    tp = len(got & truth)
    return Score(len(got), tp, tp / len(got) if got else 1.0, tp / len(truth) if truth else 1.0)


@dataclass
class Row:
    n: int
    seed: int
    model: Model
    engine: MethodResult
    baseline: MethodResult
    args: argparse.Namespace

    def s(self, m: MethodResult, both: bool = False) -> Score:
        return score(m.edges, self.model.truth, ("confirmed", "intermittent") if both else ("confirmed",))

    @property
    def exec_ratio(self) -> float:
        return self.baseline.executions / max(1, self.engine.executions)

    @property
    def probe_ratio(self) -> float:
        return self.baseline.probes / max(1, self.engine.probes)

    def probe_time(self, m: MethodResult) -> float:
        return float(self.args.startup) * m.probes + float(self.args.per_test) * m.executions

    @property
    def time_ratio(self) -> float:
        return self.probe_time(self.baseline) / max(1e-9, self.probe_time(self.engine))

    @property
    def overhead(self) -> float:
        return self.engine.planner_cpu / self.probe_time(self.engine)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def header(args: argparse.Namespace) -> None:
    pkg = Path(pollution.__file__).resolve().parent
    print("bisect_scale: pollution's shared-probe engine vs per-victim binary search")
    print("SIMULATED runner: SimulatedExecutor computes every probe's outcomes from a hidden ground-truth")
    print("  model (polluters, cleaners, per-execution noise); no test process is started. The engine")
    print("  (ProbeBook, Journal, Bisector.triage, diagnosis._sequential) is the real code.")
    print(f"pollution {pollution.__version__} from {pkg}; bisect.py {_sha(pkg / 'bisect.py')}, "
          f"diagnosis.py {_sha(pkg / 'diagnosis.py')}, probes.py {_sha(pkg / 'probes.py')} (sha256)")
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"noise {args.noise:g} per execution of every test (spurious failures only); triage repeats "
          f"{args.triage_repeats}; confirm {args.confirm} (an edge is confirmed when every repetition fails)")
    print(f"probe time model: {args.startup:g} s start-up + {args.per_test * 1000:g} ms per test execution")
    print(f"seeds {', '.join(map(str, seeds_of(args)))}; tests {', '.join(f'{n:,}' for n in args.tests)}")
    if args.false_suspects:
        print(f"false suspects: {args.false_suspects:.1%} of the suite handed to triage as extra innocent suspects")
    print()


def seeds_of(args: argparse.Namespace) -> list[int]:
    return [args.seed + i for i in range(args.seeds)]


def _phases(m: MethodResult) -> str:
    return ", ".join(f"{k} {c.invocations}/{c.executions:,}" for k, c in m.phases.items() if c.invocations)


def print_row(row: Row) -> None:
    m = row.model
    vv = {(p, v) for p, v in m.truth if p in m.polluters}
    hubs = {p for p, _ in m.truth if p in set(m.hubs)}
    print(f"== {row.n:,} tests, seed {row.seed}: {len(m.victims)} victims ({m.victim_rate:.1%}), "
          f"{len(m.suspects) - len(m.false_suspects)} fail in the original order"
          + (f" (+{len(m.false_suspects)} false suspects)" if m.false_suspects else "")
          + f"; {len(m.truth)} true edges from {len({p for p, _ in m.truth})} polluters "
          f"({len(hubs)} hubs, {len(vv)} victim->victim edges, {len(m.masked)} edges masked by a cleaner)")
    kept = [v for v in row.engine.victims if v not in set(m.false_suspects)]
    print(f"   triage kept {len(kept)} true victims, called {len(row.engine.nondeterministic)} nondeterministic")
    print(f"   {'method':<11} {'probes':>7} {'executions':>11} {'conf.':>6} {'prec.':>6} {'recall':>6}"
          f"   {'+interm.':>8} {'prec.':>6} {'recall':>6}   {'cpu s':>6} {'wall s':>6}")
    methods = (row.engine, row.baseline) if row.baseline.probes else (row.engine,)
    for meth in methods:
        a, b = row.s(meth), row.s(meth, both=True)
        print(f"   {meth.name:<11} {meth.probes:>7,} {meth.executions:>11,} {a.edges:>6} {a.precision:>6.3f} "
              f"{a.recall:>6.3f}   {b.edges:>8} {b.precision:>6.3f} {b.recall:>6.3f}   {meth.cpu:>6.1f} "
              f"{meth.wall:>6.1f}")
    if row.baseline.probes:
        print(f"   per-victim / pollution: {row.probe_ratio:.1f}x probes, {row.exec_ratio:.1f}x test "
              f"executions, {row.time_ratio:.1f}x modelled probe time "
              f"({row.probe_time(row.baseline) / 3600:.1f} h vs {row.probe_time(row.engine) / 3600:.1f} h)")
    for meth in methods:
        false_c = {(x.polluter, x.victim) for x in meth.edges if x.status == "confirmed"} - m.truth
        false_i = {(x.polluter, x.victim) for x in meth.edges if x.status == "intermittent"} - m.truth
        note = (f", {len(false_c & meth.fanout_failures)} of them failed in the polluter's fan-out probe"
                if meth.fanout_failures else "")
        print(f"   {meth.name}: {len(meth.edges)} candidate edges sent to confirm_edges: {len(false_c)} "
              f"false confirmed{note}; {len(false_i)} false intermittent")
    print(f"   pollution phases (probes/executions): {_phases(row.engine)}")
    if row.baseline.probes:
        print(f"   per-victim phases: {_phases(row.baseline)}")
    e = row.engine
    got = {(x.polluter, x.victim) for x in e.edges if x.status == "confirmed"}
    kept_truth = {(p, v) for p, v in m.truth if v in set(e.victims)}
    print(f"   pollution recall detail: masked edges {len(got & m.masked)}/{len(m.masked)}, "
          f"victim->victim {len(got & vv)}/{len(vv)}, edges of victims kept by triage "
          f"{len(got & kept_truth)}/{len(kept_truth)}")
    bgot = {(x.polluter, x.victim) for x in row.baseline.edges if x.status == "confirmed"}
    if row.baseline.probes:
        print(f"   per-victim recall detail: masked edges {len(bgot & m.masked)}/{len(m.masked)}, "
              f"victim->victim {len(bgot & vv)}/{len(vv)}, edges of victims kept by triage "
              f"{len(bgot & kept_truth)}/{len(kept_truth)}")
    print(f"   planner: {e.planner_cpu:.2f} s CPU ({e.planner_cpu / max(1, e.probes) * 1000:.2f} ms/probe; "
          f"wall incl. journal fsync {e.planner_wall:.2f} s) against a modelled "
          f"{row.probe_time(e) / max(1, e.probes):.1f} s/probe ({row.probe_time(e) / 3600:.1f} h in all): "
          f"{row.overhead:.4%}; simulation {e.sim_cpu:.2f} s CPU")
    print()


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _span(values: Sequence[float], fmt: str) -> str:
    """`` [min..max]`` when there are several seeds."""
    return f" [{min(values):{fmt}}..{max(values):{fmt}}]" if len(values) > 1 else ""


def summarize(rows: list[Row], stalled: list[str], sizes: Sequence[int]) -> bool:
    ok = True
    if stalled:
        print(f"ENGINE STALLED (did not terminate) in: {'; '.join(stalled)}")
    print("== Summary (median over seeds; min/max in brackets where there are several)")
    print(f"{'tests':>7} {'method':<11} {'probes':>9} {'executions':>12} {'precision':>10} {'recall':>7} "
          f"{'prec.+int.':>10}")
    targets: list[tuple[str, str, str, bool]] = []
    for n in sorted({r.n for r in rows}):
        group = [r for r in rows if r.n == n]
        with_baseline = all(r.baseline.probes for r in group)
        for pick in ("engine", "baseline") if with_baseline else ("engine",):
            ms = [getattr(r, pick) for r in group]
            print(f"{n:>7,} {ms[0].name:<11} {_median([m.probes for m in ms]):>9,.0f} "
                  f"{_median([m.executions for m in ms]):>12,.0f} "
                  f"{_median([r.s(getattr(r, pick)).precision for r in group]):>10.3f} "
                  f"{_median([r.s(getattr(r, pick)).recall for r in group]):>7.3f} "
                  f"{_median([r.s(getattr(r, pick), both=True).precision for r in group]):>10.3f}")
        ratios = [r.exec_ratio for r in group]
        pratios = [r.probe_ratio for r in group]
        over = [r.overhead for r in group]
        cpu_pp = [r.engine.planner_cpu / max(1, r.engine.probes) for r in group]
        tratios = [r.time_ratio for r in group]
        if with_baseline:
            print(f"{'':>7} ratio       {_median(pratios):>8.1f}x {_median(ratios):>11.1f}x"
                  f"{_span(ratios, '.1f')}   modelled probe time {_median(tratios):.1f}x{_span(tratios, '.1f')}")
        print(f"{'':>7} planner {_median(cpu_pp) * 1000:.2f} ms CPU/probe = {_median(over):.4%} of "
              f"modelled probe time{_span(over, '.4%')}")
        precs = [r.s(r.engine).precision for r in group]
        targets.append((f"precision >= {TARGET_PRECISION} at {n:,} tests (every seed)",
                        f"min {min(precs):.3f}", f">= {TARGET_PRECISION}", min(precs) >= TARGET_PRECISION))
        targets.append((f"planner overhead < {TARGET_OVERHEAD:.0%} at {n:,} tests (every seed)",
                        f"max {max(over):.3%}", f"< {TARGET_OVERHEAD:.0%}", max(over) < TARGET_OVERHEAD))
        if n == TARGET_RATIO_AT and with_baseline:
            targets.append((f"executions per-victim / pollution at {n:,} tests (every seed)",
                            f"min {min(ratios):.1f}x", f">= {TARGET_EXEC_RATIO:g}x", min(ratios) >= TARGET_EXEC_RATIO))
    if TARGET_RATIO_AT not in sizes:
        print(f"(the executions-ratio target is set at {TARGET_RATIO_AT:,} tests, which this run did not include)")
    print()
    targets.append(("engine terminates on every size and seed", f"{len(stalled)} stalled", "0",
                    not stalled))
    width = max(len(t[0]) for t in targets)
    for name, measured, target, passed in targets:
        print(f"{name:<{width}}  {measured:>12}  {target:>7}  {'PASS' if passed else 'FAIL'}")
        ok &= passed
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", type=int, nargs="+", default=[1000, 10000], help="suite sizes")
    ap.add_argument("--seed", type=int, default=1, help="first seed")
    ap.add_argument("--seeds", type=int, default=1, help="how many seeds (seed, seed+1, ...); medians are printed")
    ap.add_argument("--noise", type=float, default=0.05, help="spurious failure probability per execution")
    ap.add_argument("--victim-rate", type=float, default=None, help="fraction of victims (default: 1-5%% per seed)")
    ap.add_argument("--false-suspects", type=float, default=0.0, help="fraction of the suite added as innocent suspects")
    ap.add_argument("--triage-repeats", type=int, default=3)
    ap.add_argument("--confirm", type=int, default=2)
    ap.add_argument("--startup", type=float, default=0.5, help="modelled runner start-up per probe, s")
    ap.add_argument("--per-test", type=float, default=0.005, help="modelled time per test execution, s")
    ap.add_argument("--no-baseline", action="store_true", help="skip the per-victim baseline (no ratio target)")
    ap.add_argument("--profile", action="store_true", help="cProfile the engine at the largest size, first seed")
    args = ap.parse_args(argv)
    header(args)
    rows: list[Row] = []
    stalled: list[str] = []
    for n in args.tests:
        for seed in seeds_of(args):
            model = build_model(n, seed, args.victim_rate, args.false_suspects)
            with tempfile.TemporaryDirectory(prefix="bisect-scale-") as tmp:
                profile = args.profile and n == max(args.tests) and seed == args.seed
                try:
                    engine = run_engine(model, args, seed, Path(tmp), profile)
                except EngineStalled as exc:
                    print(f"== {n:,} tests, seed {seed}: ENGINE STALLED: {exc}\n")
                    stalled.append(f"{n:,} tests, seed {seed}")
                    continue
                baseline = (MethodResult("per-victim") if args.no_baseline
                            else run_baseline(model, args, seed, Path(tmp)))
            row = Row(n, seed, model, engine, baseline, args)
            rows.append(row)
            print_row(row)
            if engine.profile:
                print(engine.profile)
            sys.stdout.flush()
    ok = summarize(rows, stalled, args.tests)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
