"""Sequential search cost on a SIMULATED runner: the demo suite's ground truth
and the bisect_scale models, probes and test executions per phase.

Run from the project root::

    .venv/bin/python benchmarks/search_layout.py [--seeds 5] [--noise 0 0.05] [--scale 150 1000 10000]

The runner is SIMULATED: ``bisect_scale.SimulatedExecutor`` starts no process
and computes each probe's outcomes from a hidden model, with seeded spurious
failures (``--noise`` per execution of every test).  The engine is the real
code: ``ProbeBook`` + ``Journal``, ``Bisector.triage`` and
``pollution.diagnosis._sequential`` (tail, search, sweep, fan-out, confirm).

Models:

* ``demo``: the bundled demo suite.  Order and candidates come from the two
  real ``-n 4`` runs stored in ``sample_reports/demo/runs.parquet``
  (``execution_order`` and ``candidates_for`` of the parallel runs, what
  ``pollution.diagnose`` uses); the suspects handed to triage are the
  parallel-only failures of those runs minus the brittle test (16 victims,
  one of them concurrent only).  Sequential pollution comes from
  ``tests/fixtures/demo_truth.json``: a victim fails when one of its
  polluters ran earlier in the probe with none of that edge's cleaners in
  between.  Truth = the sequential edges of those victims (21).
* ``scale-N``: ``bisect_scale.build_model(N, seed)`` (hubs, victims that
  pollute victims, cleaners that mask polluters; see that script).

To measure another copy of the package, put it first on the path:
``PYTHONPATH=/path/to/copy .venv/bin/python benchmarks/search_layout.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import pollution
from pollution.bisect import Bisector
from pollution.diagnosis import _sequential
from pollution.diff import diff_runs
from pollution.probes import Journal
from pollution.schedule import Candidates, candidates_for, execution_order

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bisect_scale import GuardedProbeBook, SimulatedExecutor, build_model

ROOT = Path(__file__).resolve().parent.parent
TRUTH = ROOT / "tests" / "fixtures" / "demo_truth.json"
RUNS = ROOT / "sample_reports" / "demo" / "runs.parquet"


@dataclass
class DemoModel:
    """The demo suite's sequential pollution, for ``SimulatedExecutor``."""

    order: list[str]
    suspects: list[str]
    candidates: dict[str, Candidates]
    polluters: dict[str, set[str]]  # victim -> polluters
    cleaners: dict[tuple[str, str], set[str]]  # (polluter, victim) -> cleaners
    truth: set[tuple[str, str]] = field(default_factory=set)

    def run(self, tests: Sequence[str]) -> list[bool]:
        last: dict[str, int] = {}  # polluter -> index of its last run in this probe
        out = []
        for i, t in enumerate(tests):
            failed = False
            for p in self.polluters.get(t, ()):
                j = last.get(p)
                if j is None:
                    continue
                between = self.cleaners.get((p, t), set())
                if not any(c in between for c in tests[j + 1 : i]):
                    failed = True
                    break
            out.append(failed)
            last[t] = i
        return out


def demo_model() -> DemoModel:
    truth = json.loads(TRUTH.read_text())
    table = pd.read_parquet(RUNS)
    serial = table[table["mode"] == "serial"]
    parallel = table[table["mode"] == "parallel"]
    diff = diff_runs(serial, parallel)
    brittle = {b["test"] for b in truth["brittle"]}
    suspects = [t for t in diff.loc[diff["category"] == "parallel-only", "test_id"] if t not in brittle]
    order = execution_order(parallel)
    polluters: dict[str, set[str]] = {}
    for e in truth["edges"]:
        if e["kind"] == "sequential":
            polluters.setdefault(e["victim"], set()).add(e["polluter"])
    cleaners = {(c["polluter"], c["victim"]): set(c["cleaners"]) for c in truth["cleaners"]}
    model = DemoModel(order, suspects, candidates_for(parallel, suspects), polluters, cleaners)
    model.truth = {(p, v) for v in suspects for p in polluters.get(v, ())}
    return model


@dataclass
class Outcome:
    model: str
    seed: int
    noise: float
    phases: dict[str, tuple[int, int]]  # phase -> (invocations, executions)
    tp: int
    edges: int
    truth: int
    false_candidates: int = 0  # edges sent to confirmation that are not in the truth

    @property
    def executions(self) -> int:
        return sum(e for _, e in self.phases.values())

    @property
    def probes(self) -> int:
        return sum(i for i, _ in self.phases.values())

    @property
    def precision(self) -> float:
        return self.tp / self.edges if self.edges else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.truth if self.truth else 1.0


def run_once(name: str, model: object, order: list[str], suspects: list[str],
             candidates: dict[str, Candidates], truth: set[tuple[str, str]], seed: int, noise: float) -> Outcome:
    ex = SimulatedExecutor(model, noise, seed, 0.5, 0.005)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory(prefix="search-layout-") as tmp:
        book = GuardedProbeBook(ex, Journal(Path(tmp) / "journal.jsonl", resume=False))
        engine = Bisector(book)
        triage = engine.triage(suspects, set(order))
        rank = {t: i for i, t in enumerate(order)}
        victims = sorted(triage.victims, key=lambda v: (rank.get(v, len(rank)), v))
        edges = _sequential(engine, victims, {v: candidates[v] for v in victims}, order) if victims else []
    got = {(e.polluter, e.victim) for e in edges if e.status == "confirmed"}
    phases = {k: (c.invocations, c.executions) for k, c in book.costs.items() if c.invocations}
    sent = {(e.polluter, e.victim) for e in edges}
    return Outcome(name, seed, noise, phases, len(got & truth), len(got), len(truth), len(sent - truth))


def run_model(name: str, seed: int, noise: float) -> Outcome:
    if name == "demo":
        m = demo_model()
        return run_once(name, m, m.order, m.suspects, m.candidates, m.truth, seed, noise)
    n = int(name.split("-")[1])
    s = build_model(n, seed, None, 0.0)
    cand = {v: Candidates(v, sequential=s.order[: s.pos[v]], basis="worker-order") for v in s.suspects}
    return run_once(name, s, s.order, s.suspects, cand, s.truth, seed, noise)


def _phase(outs: Sequence[Outcome], phase: str) -> str:
    inv = statistics.median([o.phases.get(phase, (0, 0))[0] for o in outs])
    exe = statistics.median([o.phases.get(phase, (0, 0))[1] for o in outs])
    return f"{inv:g}/{exe:g}"


def summary(name: str, noise: float, outs: Sequence[Outcome]) -> str:
    """One line: medians over seeds of probes, executions and the search and
    sweep phases; precision and recall over the seeds' edges pooled, and
    their minimum over seeds."""
    med = statistics.median
    execs = [o.executions for o in outs]
    tp, got, truth = sum(o.tp for o in outs), sum(o.edges for o in outs), sum(o.truth for o in outs)
    return (
        f"{name:<12} {noise:>5g} {med([o.probes for o in outs]):>7g} {med(execs):>8g} "
        f"{f'[{min(execs)}..{max(execs)}]':>17} {_phase(outs, 'search'):>14} {_phase(outs, 'sweep'):>11} "
        f"{tp / got if got else 1.0:>6.4f} {min(o.precision for o in outs):>6.3f} {got - tp:>4} "
        f"{sum(o.false_candidates for o in outs):>6} {tp / truth if truth else 1.0:>6.4f} "
        f"{min(o.recall for o in outs):>6.3f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.05])
    ap.add_argument("--scale", type=int, nargs="*", default=[150, 1000, 10000])
    ap.add_argument("--phases", action="store_true", help="print every run's phases")
    args = ap.parse_args(argv)
    pkg = Path(pollution.__file__).resolve().parent
    sha = hashlib.sha256((pkg / "bisect.py").read_bytes() + (pkg / "diagnosis.py").read_bytes()).hexdigest()[:12]
    print(f"search_layout (SIMULATED runner): pollution from {pkg}, bisect.py+diagnosis.py sha256 {sha}")
    print(f"seeds {args.seed}..{args.seed + args.seeds - 1}; probes, executions and phases (invocations/executions) "
          "are medians over seeds;")
    print("precision and recall of confirmed edges: pooled over seeds, then the worst seed; 'false' = false edges "
          "confirmed, 'f.cand' = false edges sent to confirmation (all seeds)")
    print(f"{'model':<12} {'noise':>5} {'probes':>7} {'execs':>8} {'[min..max]':>17} {'search':>14} {'sweep':>11} "
          f"{'prec.':>6} {'worst':>6} {'false':>4} {'f.cand':>6} {'recall':>6} {'worst':>6}")
    for name in ["demo", *[f"scale-{n}" for n in args.scale]]:
        for noise in args.noise:
            outs = [run_model(name, seed, noise) for seed in range(args.seed, args.seed + args.seeds)]
            print(summary(name, noise, outs))
            if args.phases:
                for o in outs:
                    print("    seed", o.seed, ", ".join(f"{k} {i}/{e}" for k, (i, e) in o.phases.items()),
                          f"tp {o.tp}/{o.truth} confirmed {o.edges} false candidates {o.false_candidates}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
