"""``pollution.diagnose``: triage, candidates, sequential and concurrent
search, confirmation, optional cleaners and state-setters -> a Diagnosis."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pollution.bisect import (
    Bisector,
    Edge,
    Triage,
    _passes,
    collapse_modules,
    module_of,
    pool_count,
    safe_tail_order,
)
from pollution.diff import diff_runs
from pollution.errors import InputError
from pollution.probes import Costs, Journal, Probe, ProbeBook, ProbeContext, make_executor
from pollution.runners.base import Runner
from pollution.schedule import Candidates, candidates_for, execution_order

if TYPE_CHECKING:
    from pollution.graph import InterferenceGraph

RESULT_VERSION = 1


@dataclass
class Diagnosis:
    victims: list[str]
    triage: Triage
    candidates: dict[str, Candidates]
    edges: list[Edge]
    groups: dict[str, list[list[str]]] = field(default_factory=dict)
    cleaners: list[tuple[str, str, str]] = field(default_factory=list)  # (cleaner, polluter, victim)
    state_setters: dict[str, list[str]] = field(default_factory=dict)
    nondeterministic: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    costs: dict[str, Costs] = field(default_factory=dict)
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    wall: float = 0.0
    # Without a runner: per victim candidate, co-scheduled tests ranked by suspicion.
    suspects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Probes whose runner broke (could not start, refused the tests, timed out).
    probe_errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def confirmed(self) -> list[Edge]:
        return [e for e in self.edges if e.status in ("confirmed", "intermittent")]

    def edges_frame(self) -> pd.DataFrame:
        rows = [
            {"polluter": e.polluter, "victim": e.victim, "kind": e.kind, "status": e.status,
             "confirmations": e.confirmations, "attempts": e.attempts, "module": e.module}
            for e in self.edges
        ]
        columns = ["polluter", "victim", "kind", "status", "confirmations", "attempts", "module"]
        return pd.DataFrame(rows, columns=columns)

    def total_costs(self) -> Costs:
        total = Costs()
        for c in self.costs.values():
            total.invocations += c.invocations
            total.executions += c.executions
            total.probes += c.probes
            total.reused += c.reused
            total.wall += c.wall
        return total

    def graph(self) -> InterferenceGraph:
        from pollution.graph import InterferenceGraph

        g = InterferenceGraph()
        for v in self.victims:
            g.add_test(v, "victim")
        for t in self.triage.nondeterministic + self.nondeterministic:
            g.add_test(t, "nondeterministic")
        for t in self.triage.brittle:
            g.add_test(t, "brittle")
        for e in self.confirmed:
            if e.module:
                g.add_test(e.polluter, module=True)
            g.add_edge(e.polluter, e.victim, e.kind, confirmations=e.confirmations, attempts=e.attempts,
                       status=e.status, evidence=e.evidence)
        for cleaner, polluter, victim in self.cleaners:
            g.add_cleaner(cleaner, polluter, victim)
        for brittle, setters in self.state_setters.items():
            for s in setters:
                g.add_state_setter(s, brittle)
        for test_id in list(g.graph.nodes):
            if test_id in self.stats:
                g.add_test(test_id, **self.stats[test_id])
        return g

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RESULT_VERSION,
            "victims": self.victims,
            "triage": asdict(self.triage),
            "candidates": {v: asdict(c) for v, c in self.candidates.items()},
            "edges": [asdict(e) for e in self.edges],
            "groups": self.groups,
            "cleaners": [list(c) for c in self.cleaners],
            "state_setters": self.state_setters,
            "nondeterministic": self.nondeterministic,
            "unexplained": self.unexplained,
            "costs": {k: asdict(v) for k, v in self.costs.items()},
            "stats": self.stats,
            "settings": self.settings,
            "wall": self.wall,
            "suspects": self.suspects,
            "probe_errors": self.probe_errors,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Diagnosis:
        return cls(
            victims=list(data["victims"]),
            triage=Triage(**data["triage"]),
            candidates={v: Candidates(**c) for v, c in data["candidates"].items()},
            edges=[Edge(**e) for e in data["edges"]],
            groups=data.get("groups", {}),
            cleaners=[(c[0], c[1], c[2]) for c in data.get("cleaners", [])],
            state_setters=data.get("state_setters", {}),
            nondeterministic=data.get("nondeterministic", []),
            unexplained=data.get("unexplained", []),
            costs={k: Costs(**v) for k, v in data.get("costs", {}).items()},
            stats=data.get("stats", {}),
            settings=data.get("settings", {}),
            wall=data.get("wall", 0.0),
            suspects=data.get("suspects", {}),
            probe_errors=data.get("probe_errors", []),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Diagnosis:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls.from_json(data)
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}: not a pollution result file ({exc})") from None


ProgressFn = Callable[[str, int, int], None]


def diagnose(
    runner: Runner,
    *,
    serial: pd.DataFrame | None = None,
    parallel: pd.DataFrame | None = None,
    victims: Sequence[str] | None = None,
    out: Path = Path("pollution-report"),
    triage_repeats: int = 3,
    confirm: int = 2,
    concurrent_repeats: int = 3,
    cleaners: bool = False,
    state_setters: bool = False,
    concurrent: bool = True,
    jobs: int = 1,
    executor: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    extra_args: Sequence[str] = (),
    resume: bool = False,
    progress: ProgressFn | None = None,
    on_probe: Callable[[Any], None] | None = None,
) -> Diagnosis:
    """Find every polluter of every victim, confirm each edge, and save
    ``result.json`` and ``journal.jsonl`` under ``out``.

    Give the serial and parallel results tables (``pollution.load_junit``),
    or ``victims`` you already know, or both.  ``resume`` reuses every probe
    in the journal of an earlier, interrupted diagnosis in ``out``.
    """
    if confirm < 1 or triage_repeats < 1 or concurrent_repeats < 1:
        raise InputError("--confirm, --triage-repeats and --concurrent-repeats must be at least 1")
    started = time.time()
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    context = ProbeContext(runner, dict(env or {}), timeout, tuple(extra_args))
    book = ProbeBook(
        make_executor(context, jobs, executor), Journal(out / "journal.jsonl", resume), progress, on_probe
    )
    engine = Bisector(book, triage_repeats=triage_repeats, confirm=confirm, concurrent_repeats=concurrent_repeats)
    try:
        diagnosis = _diagnose(engine, serial, parallel, victims, cleaners, state_setters, concurrent)
    finally:
        book.executor.close()
    diagnosis.costs = book.costs
    diagnosis.probe_errors = [
        {"probe": r.probe.probe_id, "purpose": r.probe.purpose, "error": r.error}
        for r in book.results.values() if r.error
    ]
    diagnosis.wall = time.time() - started
    diagnosis.settings = {
        "runner": runner.name, "triage_repeats": triage_repeats, "confirm": confirm,
        "concurrent_repeats": concurrent_repeats, "jobs": jobs, "executor": executor or "local",
        "env": dict(env or {}), "extra_args": list(extra_args),
    }
    diagnosis.save(out / "result.json")
    tables = [t for t in (serial, parallel) if t is not None and not t.empty]
    if tables:
        # The runs the diagnosis started from, for reports and notebooks.
        from pollution.results import save_table

        save_table(pd.concat(tables, ignore_index=True), out / "runs.parquet")
    return diagnosis


def _diagnose(
    engine: Bisector,
    serial: pd.DataFrame | None,
    parallel: pd.DataFrame | None,
    given: Sequence[str] | None,
    want_cleaners: bool,
    want_setters: bool,
    want_concurrent: bool,
) -> Diagnosis:
    stats: dict[str, dict[str, Any]] = {}
    nondeterministic: list[str] = []
    suspects: list[str] = list(dict.fromkeys(given or []))
    serial_passed: set[str] = set()
    if serial is not None and parallel is not None and not serial.empty and not parallel.empty:
        diff = diff_runs(serial, parallel)
        for row in diff.to_dict(orient="records"):
            stats[str(row["test_id"])] = {
                k: int(row[k]) for k in ("serial_runs", "serial_failures", "parallel_runs", "parallel_failures")
            }
        if given is None:
            suspects = list(diff.loc[diff["category"] == "parallel-only", "test_id"])
        nondeterministic = list(diff.loc[diff["category"] == "flaky", "test_id"])
        serial_passed = set(diff.loc[(diff["serial_runs"] > 0) & (diff["serial_failures"] == 0), "test_id"])
    elif given is None:
        raise InputError("nothing to diagnose: give serial and parallel reports, or --victim TEST")
    schedule = parallel if parallel is not None and not parallel.empty else serial
    if schedule is None or schedule.empty:
        # Only --victim given: learn the suite and its order from one full run.
        baseline = engine.book.run("baseline", [Probe("baseline", ())])
        schedule = _baseline_table(next(iter(baseline.values())))
    if serial is not None and not serial.empty:
        serial_order = execution_order(serial)
    else:
        serial_order = execution_order(schedule)
    if not serial_passed:
        serial_passed = set(serial_order)
    suspects = [s for s in suspects if s not in nondeterministic]
    triage = engine.triage(suspects, serial_passed)
    victims = triage.victims
    order = execution_order(schedule)
    rank = {t: i for i, t in enumerate(order)}
    victims.sort(key=lambda v: (rank.get(v, len(rank)), v))
    candidates = candidates_for(schedule, victims)
    edges = _sequential(engine, victims, candidates, order) if victims else []
    groups: dict[str, list[list[str]]] = {}
    files = dict(zip(schedule["test_id"], schedule["file"].astype("object").where(schedule["file"].notna(), None)))
    files = {k: v for k, v in files.items() if v}
    if want_concurrent:
        # A victim without a confirmed edge may be a flake that slipped
        # through triage (its "edge" then intermittent): run it alone again.
        confirmed = {e.victim for e in edges if e.status == "confirmed"}
        doubtful = [v for v in victims if v not in confirmed]
        flaky = set(engine.retriage(doubtful, triage)) if doubtful else set()
        edges = [e for e in edges if e.victim not in flaky]  # ``victims`` is triage.victims: they left it
        explained = {e.victim for e in edges if e.status in ("confirmed", "intermittent")}
        rest = [v for v in victims if v not in explained]
        if rest:
            conc_edges, groups = _concurrent(engine, rest, candidates, order, files)
            edges += conc_edges
    edges = collapse_modules(edges, [t for t in order if t not in set(victims)], files)
    cleaner_list = _cleaners(engine, edges, order, set(victims)) if want_cleaners else []
    setters = _state_setters(engine, triage.brittle, serial_order) if want_setters else {}
    explained = {e.victim for e in edges if e.status in ("confirmed", "intermittent")} | set(groups)
    return Diagnosis(
        victims=victims, triage=triage, candidates=candidates, edges=edges, groups=groups,
        cleaners=cleaner_list, state_setters=setters, nondeterministic=nondeterministic,
        unexplained=[v for v in victims if v not in explained], stats=stats,
    )


def _baseline_table(result: Any) -> pd.DataFrame:
    from pollution.results import typed_table

    rows: dict[str, list[Any]] = {c: [] for c in ("run_id", "test_id", "outcome", "seq")}
    for i, (test_id, outcome) in enumerate(result.outcomes.items()):
        rows["run_id"].append("baseline")
        rows["test_id"].append(test_id)
        rows["outcome"].append(outcome)
        rows["seq"].append(i)
    return typed_table(rows)


def _sequential(
    engine: Bisector, victims: list[str], candidates: dict[str, Candidates], order: list[str]
) -> list[Edge]:
    victim_set = set(victims)
    # Victims among themselves: the tail alone, then a search for any that fail in it.
    tail_probe = Probe("tail", tuple(victims))
    tail = engine.book.run("tail", [tail_probe])[tail_probe.key]
    victim_edges: list[tuple[str, str]] = []
    failing = [v for v in victims if tail.failed(v)]
    if failing:
        wanted = {v: set(victims[: victims.index(v)]) for v in failing}
        for v in failing:
            before = victims[: victims.index(v)]
            found = engine.search("tail-search", before, {v: wanted[v]}, [v]).found
            victim_edges += [(p, v) for p in found[v]]
    tail_order = safe_tail_order(victims, victim_edges)
    anyones = set().union(*(candidates[v].sequential for v in victims))
    universe = [t for t in order if t not in victim_set and t in anyones]
    wanted = {v: set(candidates[v].sequential) - victim_set for v in victims}
    found = engine.search("search", universe, wanted, tail_order, pools=pool_count(len(universe))).found
    polluters = {p for ps in found.values() for p in ps}
    rest = [t for t in universe if t not in polluters]
    swept = engine.search("sweep", rest, {v: wanted[v] & set(rest) for v in victims}, tail_order, reverse=True).found
    for v, ps in swept.items():
        found[v] = found.get(v, []) + ps
    polluters |= {p for ps in swept.values() for p in ps}
    # Fan-out: every polluter before every victim finds the victims a search missed.
    fan = [Probe("fan-out", (p, *[v for v in tail_order if v != p])) for p in sorted(polluters)]
    results = engine.book.run("fan-out", fan)
    searched = {(p, v) for v, ps in found.items() for p in ps}
    pairs = set(victim_edges)
    # One fan-out probe holds every victim, so under flakiness it always shows
    # some that fail by chance (5% of hundreds); confirmation alone lets
    # polluters x victims x noise**(confirm + 1) of them through.  Run each
    # polluter once more before just its new failures; keep those failing again.
    # Likewise a pair the search found must fail in the fan-out too, or fail
    # once more as a pair (another victim in the fan-out may have cleaned it):
    # a search ends on single tests that failed once each.
    known = searched | pairs
    news = {}
    unshown = []
    for probe in fan:
        result = results[probe.key]
        p = probe.tests[0]
        news[p] = [v for v in probe.tests[1:] if result.failed(v) and (p, v) not in known]
        pairs |= {(p, v) for v in probe.tests[1:] if (p, v) in searched and result.failed(v)}
        unshown += [(p, v) for v in probe.tests[1:] if (p, v) in searched and not result.failed(v)]
    again = [Probe("fan-out", (p, *vs), repetition=1) for p, vs in sorted(news.items()) if vs]
    checks = [Probe("fan-out-pairs", pair) for pair in sorted(unshown)]
    results = engine.book.run("fan-out", again + checks)
    for probe in again + checks:
        result = results[probe.key]
        pairs |= {(probe.tests[0], v) for v in probe.tests[1:] if result.failed(v)}
    # A victim can also be a cleaner, so one tail can hide a victim behind
    # another: victims still unexplained meet each polluter alone.
    explained = {v for _, v in pairs}
    lonely = [
        Probe("fan-out-pairs", (p, v)) for v in tail_order if v not in explained for p in sorted(polluters) if p != v
    ]
    if lonely:
        lonely_results = engine.book.run("fan-out-pairs", lonely)
        pairs |= {(pr.tests[0], pr.tests[1]) for pr in lonely if lonely_results[pr.key].failed(pr.tests[1])}
    edges = [Edge(p, v, "sequential") for p, v in sorted(pairs)]
    return engine.confirm_edges("confirm", edges)


def _concurrent(
    engine: Bisector, victims: list[str], candidates: dict[str, Candidates], order: list[str],
    files: dict[str, str],
) -> tuple[list[Edge], dict[str, list[list[str]]]]:
    # Victims stay out of the ranges: each runs beside them, and a second copy
    # of a test running at the same time would interfere with itself.
    wanted = {v: set(candidates[v].concurrent) - set(victims) for v in victims}
    members = set().union(*wanted.values()) if wanted else set()
    universe = [t for t in order if t in members]
    outcome = engine.search("concurrent", universe, wanted, victims, concurrent=True)
    edges = [Edge(p, v, "concurrent") for v, ps in sorted(outcome.found.items()) for p in ps]
    edges = engine.confirm_edges("confirm-concurrent", edges)
    groups = {v: gs for v, gs in outcome.groups.items() if gs}
    suspects = sorted({e.victim for e in edges if e.status != "rejected"} | set(groups))
    controls = engine.session_controls("control", suspects, files)
    for v, failures in controls.items():
        if not failures:
            continue
        # Starting any session beside the victim breaks it: blame the start-up.
        for e in edges:
            if e.victim == v:
                e.status = "rejected"
        groups.pop(v, None)
        edges.append(
            Edge(f"{module_of(v, files)} (session start-up)", v, "concurrent", "confirmed" if failures == engine.confirm
                 else "intermittent", failures, engine.confirm, [{"purpose": "control", "victim_failures": failures}],
                 module=True)
        )
    return edges, groups


def _cleaners(engine: Bisector, edges: list[Edge], order: list[str], victims: set[str]) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    by_polluter: dict[str, list[str]] = {}
    for e in edges:
        if e.kind == "sequential" and e.status == "confirmed" and not e.module:
            by_polluter.setdefault(e.polluter, []).append(e.victim)
    for polluter, its_victims in sorted(by_polluter.items()):
        universe = [t for t in order if t != polluter and t not in victims]
        wanted = {v: set(universe) for v in its_victims}
        found = engine.search("cleaners", universe, wanted, its_victims, prefix=(polluter,), positive=_passes).found
        out += [(c, polluter, v) for v, cs in sorted(found.items()) for c in cs]
    return out


def _state_setters(engine: Bisector, brittle: list[str], serial_order: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for b in brittle:
        before = serial_order[: serial_order.index(b)] if b in serial_order else [t for t in serial_order if t != b]
        found = engine.search("state-setters", before, {b: set(before)}, [b], positive=_passes).found
        out[b] = found[b]
    return out


def suspects_only(serial: pd.DataFrame, parallel: pd.DataFrame, out: Path, top: int = 10) -> Diagnosis:
    """No runner: the diff, each victim candidate's co-scheduled tests and a
    ranking of suspects from the runs alone.  Nothing is confirmed."""
    from pollution.schedule import rank_suspects

    started = time.time()
    out.mkdir(parents=True, exist_ok=True)
    diff = diff_runs(serial, parallel)
    victims = list(diff.loc[diff["category"] == "parallel-only", "test_id"])
    nondeterministic = list(diff.loc[diff["category"] == "flaky", "test_id"])
    stats = {
        str(row["test_id"]): {k: int(row[k]) for k in ("serial_runs", "serial_failures", "parallel_runs", "parallel_failures")}
        for row in diff.to_dict(orient="records")
    }
    diagnosis = Diagnosis(
        victims=victims, triage=Triage(), candidates=candidates_for(parallel, victims), edges=[],
        nondeterministic=nondeterministic, unexplained=victims, stats=stats,
        settings={"runner": None},
        suspects={
            v: [{str(k): val for k, val in r.items()} for r in rank_suspects(parallel, v, top).to_dict(orient="records")]
            for v in victims
        },
    )
    diagnosis.wall = time.time() - started
    diagnosis.save(out / "result.json")
    from pollution.results import save_table

    save_table(pd.concat([serial, parallel], ignore_index=True), out / "runs.parquet")
    return diagnosis
