"""Find every polluter of every victim at once, and confirm each edge.

The search is group testing over one tree of test ranges shared by all
victims.  A probe runs one range of candidate tests serially, in the order
they ran in the failing parallel runs, followed by a *tail*: every victim
still searching that range.  One probe thus answers for all the victims it
holds, so the number of probes grows with the number of distinct polluters
and log(candidates), not with the number of victims.

The tree's layout is chosen for test executions: the sequential search
starts at about sqrt(candidates) contiguous *pools* instead of one probe of
the whole universe (every level above the one where ranges hold one polluter
each would cost a whole universe plus a tail per range), and a guilty range
is cut into the number of parts that :func:`split_count` finds cheapest for
the victims it holds (halves for small ranges, parts of a few tests above).

Why the layout is safe:

* Keeping the original order inside every range keeps each victim's *last
  effective polluter* ahead of any cleaner that did not save it in the
  failing run, so a failing range always has a failing part, whatever the
  number of parts (unless two tests pollute only together; such groups are
  reported, not guessed at).  The same holds for pools: if the whole
  universe fails for a victim, the pool holding its last effective polluter
  fails.  A victim that fails in no pool (a pair split across pools, a
  polluter masked in every pool, or no sequential polluter at all) gets the
  probe of the whole universe it would have had without pools, then halves,
  so no edge the single root would have found is lost.
* Victims run only in tails, never inside ranges.  Victims that pollute other
  victims are found first from a probe of the tail alone, and the tail is
  ordered so that a victim runs before the victims that pollute it.
* Polluters masked by a cleaner in the original order are looked for again
  in the reversed order (a *sweep*), and every polluter found is run once
  before all victims (a *fan-out*), which finds the victims a search missed.
* Nothing is reported without confirmation: each edge is re-run as
  ``[polluter, victim]`` ``confirm`` times, and the victim passed alone in
  triage.

Concurrent interference: victims that no sequential probe explains are run
beside candidate subsets in a second process (over and over while the subset
runs).  A range is positive as soon as one repetition fails, negative after
``concurrent_repeats`` clean ones; the risks this rule carries are in
:func:`concurrent_risk`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pollution.probes import Probe, ProbeBook, ProbeResult

Positive = Callable[[ProbeResult, str], bool]


def _fails(result: ProbeResult, test_id: str) -> bool:
    return result.failed(test_id)


def _passes(result: ProbeResult, test_id: str) -> bool:
    return result.passed(test_id)


def _alone_tally(runs: Sequence[ProbeResult], test_id: str) -> tuple[int, int]:
    """(runs in which the test ran at all, runs in which it failed)."""
    ran = [r for r in runs if r.outcomes.get(test_id) not in ("missing", "skipped")]
    return len(ran), sum(r.failed(test_id) for r in ran)


@dataclass
class Edge:
    polluter: str
    victim: str
    kind: str  # sequential | concurrent
    status: str = "unconfirmed"  # confirmed | intermittent | unconfirmed | rejected
    confirmations: int = 0
    attempts: int = 0
    evidence: list[dict[str, Any]] = field(default_factory=list)
    module: bool = False


@dataclass
class Triage:
    victims: list[str] = field(default_factory=list)
    brittle: list[str] = field(default_factory=list)
    nondeterministic: list[str] = field(default_factory=list)
    genuine: list[str] = field(default_factory=list)
    alone_runs: dict[str, int] = field(default_factory=dict)
    alone_failures: dict[str, int] = field(default_factory=dict)


@dataclass
class SearchOutcome:
    found: dict[str, list[str]]  # victim -> tests found positive as singletons
    groups: dict[str, list[list[str]]]  # victim -> ranges positive as a whole only


def concurrent_risk(repeats: int, detect_rate: float = 0.5, flake_rate: float = 0.05) -> dict[str, float]:
    """Risk of the concurrent decision rule with ``repeats`` repetitions.

    A range is positive when the victim fails in any repetition beside it.
    False negative: a real interference that shows with probability
    ``detect_rate`` per repetition is missed with ``(1 - detect_rate)**repeats``.
    False positive: a victim that fails on its own with ``flake_rate`` per
    repetition is blamed with ``1 - (1 - flake_rate)**repeats``; every edge
    is then re-checked by ``confirm`` more repetitions, which multiplies that
    risk by ``flake_rate**confirm`` when confirmation requires all to fail.
    """
    return {
        "false_negative": (1 - detect_rate) ** repeats,
        "false_positive_search": 1 - (1 - flake_rate) ** repeats,
    }


class Bisector:
    """The diagnosis engine over a :class:`ProbeBook`."""

    def __init__(
        self,
        book: ProbeBook,
        *,
        triage_repeats: int = 3,
        confirm: int = 2,
        concurrent_repeats: int = 3,
        on_victims: Callable[[int, int], None] | None = None,
    ) -> None:
        self.book = book
        self.triage_repeats = triage_repeats
        self.confirm = confirm
        self.concurrent_repeats = concurrent_repeats
        self.on_victims = on_victims

    # ------------------------------------------------------------------ triage

    def triage(self, suspects: Sequence[str], serial_passed: set[str]) -> Triage:
        n = self.triage_repeats
        probes = [Probe("triage", (v,), repetition=i) for v in suspects for i in range(n)]
        results = self.book.run("triage", probes)

        def runs_of(v: str, k: int) -> list[ProbeResult]:
            return [results[Probe("triage", (v,), repetition=i).key] for i in range(k)]

        # One failure in n alone-runs is what a flaky runner gives a real
        # victim too (5% noise per run: 1 - 0.95**3 = 14% of victims): such a
        # suspect gets n more runs and is nondeterministic only if it fails again.
        once = {v for v in suspects if n >= 2 and sum(r.failed(v) for r in runs_of(v, n)) == 1}
        if once:
            more = [Probe("triage", (v,), repetition=i) for v in suspects if v in once for i in range(n, 2 * n)]
            results.update(self.book.run("triage", more))
        out = Triage()
        for v in suspects:
            runs = runs_of(v, 2 * n if v in once else n)
            ran, fails = _alone_tally(runs, v)
            out.alone_runs[v] = ran
            out.alone_failures[v] = fails
            if not ran:
                out.genuine.append(v)  # could not be run alone at all
            elif fails == 0 or (v in once and fails == 1 and ran == 2 * n):
                out.victims.append(v)
            elif fails < ran:
                out.nondeterministic.append(v)
            elif v in serial_passed:
                out.brittle.append(v)
            else:
                out.genuine.append(v)
        return out

    # ------------------------------------------------------------ tree search

    def search(
        self,
        phase: str,
        universe: Sequence[str],
        wanted: dict[str, set[str]],
        tail_order: Sequence[str],
        *,
        prefix: Sequence[str] = (),
        positive: Positive = _fails,
        reverse: bool = False,
        concurrent: bool = False,
        pools: int = 1,
    ) -> SearchOutcome:
        """Group testing over ``universe`` for every victim in ``wanted``.

        ``wanted[v]`` is the set of tests of the universe that may be v's
        culprits; a range is probed for v only when it holds one of them
        (or, when no such part is guilty, the other parts too).  A probe is
        ``prefix + range + tail``; with ``concurrent`` the tail runs beside
        the range instead, repeated up to ``concurrent_repeats`` times.
        ``positive(result, v)`` says whether the range is guilty for v.

        A guilty range is split in halves when ``concurrent`` (an innocent
        part costs ``concurrent_repeats`` probes), otherwise in the number of
        parts :func:`split_count` finds cheapest for the victims it holds.
        With ``pools`` > 1 the whole universe is not probed: the tree starts
        at that many contiguous pools (:func:`pool_ranges`), and a victim
        guilty in no pool falls back to a probe of the whole universe, then
        its halves, as it would have without pools.
        """
        n = len(universe)
        found: dict[str, list[str]] = {v: [] for v in wanted}
        groups: dict[str, list[list[str]]] = {v: [] for v in wanted}
        members = set(universe)
        whole = (0, n)
        first = pool_ranges(n, pools)
        pooled = len(first) > 1
        fallback: set[str] = set()  # victims guilty in no pool: their tree starts at the whole universe
        parts: dict[tuple[int, int], list[tuple[int, int]]] = {}
        guilty: dict[tuple[int, int], set[str]] = {}  # this level's verdicts: node -> guilty victims

        def children(node: tuple[int, int], v: str) -> list[tuple[int, int]]:
            if node == whole and pooled:
                return first if v not in fallback else split_range(node, 2)
            if node not in parts:
                m = 2 if concurrent else split_count(node[1] - node[0], len(guilty.get(node, ())))
                parts[node] = split_range(node, m)
            return parts[node]

        def choose(node: tuple[int, int], v: str) -> list[tuple[int, int]]:
            every = children(node, v)
            return [h for h in every if not wanted[v].isdisjoint(universe[h[0] : h[1]])] or every

        frontier: dict[tuple[int, int], set[str]] = {}
        rank = {t: i for i, t in enumerate(tail_order)}
        probed: dict[tuple[str, tuple[int, int]], set[tuple[int, int]]] = {}
        # Every part ever probed for (v, parent): the parts not tried yet are
        # tried once, never again (a flaky parent would otherwise bounce
        # between its innocent parts for ever).
        tried: dict[tuple[str, tuple[int, int]], set[tuple[int, int]]] = {}

        def descend(
            v: str, node: tuple[int, int], into: dict[tuple[int, int], set[str]], chosen: Iterable[tuple[int, int]],
            retry: bool = False,
        ) -> None:
            chosen = set(chosen)
            for h in chosen:
                into.setdefault(h, set()).add(v)
            probed[(v, node)] = set(chosen)
            tried[(v, node)] = tried[(v, node)] | chosen if retry else chosen

        root = sorted(v for v in wanted if wanted[v] & members) if n else []
        for v in root:
            if not pooled:
                frontier.setdefault(whole, set()).add(v)
                continue
            # The whole universe stands as guilty for v without a probe: its pools are probed.
            descend(v, whole, frontier, choose(whole, v))
        while frontier:
            verdict = self._probe_level(phase, universe, frontier, rank, prefix, positive, reverse, concurrent)
            guilty = {node: {v for v in victims if verdict[(node, v)]} for node, victims in frontier.items()}
            following: dict[tuple[int, int], set[str]] = {}
            for node, victims in sorted(frontier.items()):
                lo, hi = node
                for v in sorted(guilty[node]):
                    if hi - lo == 1:
                        found[v].append(universe[lo])
                        continue
                    descend(v, node, following, choose(node, v))
            # A parent guilty for v whose probed parts were all innocent:
            # try the parts not probed yet, else it is a group that pollutes
            # only together (or an intermittent failure); report it as such.
            # Pools of a universe that was never probed: probe it now (two
            # tests that pollute only together may sit in different pools).
            for (v, parent), halves in list(probed.items()):
                if not all((h, v) in verdict for h in halves):
                    continue
                del probed[(v, parent)]
                if any(verdict[(h, v)] for h in halves):
                    continue
                if parent == whole and pooled and v not in fallback:
                    fallback.add(v)
                    following.setdefault(whole, set()).add(v)
                    continue
                untried = {h for h in children(parent, v) if h not in tried[(v, parent)]}
                if untried:
                    descend(v, parent, following, untried, retry=True)
                else:
                    lo, hi = parent
                    groups[v].append(list(universe[lo:hi]))
            frontier = following
        return SearchOutcome(found, groups)

    def _probe_level(
        self,
        phase: str,
        universe: Sequence[str],
        frontier: dict[tuple[int, int], set[str]],
        rank: dict[str, int],
        prefix: Sequence[str],
        positive: Positive,
        reverse: bool,
        concurrent: bool,
    ) -> dict[tuple[tuple[int, int], str], bool]:
        """Run one level's probes; the verdict per (range, victim)."""
        verdict: dict[tuple[tuple[int, int], str], bool] = {}
        undecided = {node: set(victims) for node, victims in frontier.items()}
        repeats = self.concurrent_repeats if concurrent else 1
        for repetition in range(repeats):
            # Concurrent probes hold one victim each: a victim looping alone
            # beside the range covers the whole run with its vulnerable window.
            probes: dict[tuple[tuple[int, int], tuple[str, ...]], Probe] = {}
            for (lo, hi), victims in undecided.items():
                if not victims:
                    continue
                tests = list(universe[lo:hi])
                if reverse:
                    tests.reverse()
                tail = tuple(sorted((v for v in victims if v not in tests and v not in prefix),
                                    key=lambda v: (rank.get(v, len(rank)), v)))
                if concurrent:
                    for v in tail:
                        probes[((lo, hi), (v,))] = Probe(phase, (*prefix, *tests), beside=(v,), repetition=repetition)
                elif tail:
                    probes[((lo, hi), tail)] = Probe(phase, (*prefix, *tests, *tail))
            if not probes:
                break
            results = self.book.run(phase, list(probes.values()))
            for (node, held), probe in probes.items():
                result = results[probe.key]
                for v in held:
                    if v not in undecided[node]:
                        continue
                    if positive(result, v):
                        verdict[(node, v)] = True
                        undecided[node].discard(v)
                    else:
                        verdict[(node, v)] = False
        return verdict

    # ------------------------------------------------------------- confirm

    def retriage(self, victims: Sequence[str], triage: Triage) -> list[str]:
        """Run victims that no sequential probe explains alone again, three
        times the triage repeats, before the costly concurrent search.

        A test failing alone 30% of the time passes three alone-runs half the
        time and then fails beside anything, an empty session included: it
        would be blamed on whatever ran next to it.  Those failing here move
        from ``triage.victims`` to ``triage.nondeterministic``; returned.
        """
        n = 3 * self.triage_repeats
        probes = {(v, i): Probe("retriage", (v,), repetition=i) for v in victims for i in range(n)}
        results = self.book.run("retriage", list(probes.values()))
        flaky: list[str] = []
        for v in victims:
            runs = [results[probes[(v, i)].key] for i in range(n)]
            ran, fails = _alone_tally(runs, v)
            triage.alone_runs[v] = triage.alone_runs.get(v, 0) + ran
            triage.alone_failures[v] = triage.alone_failures.get(v, 0) + fails
            if fails:
                flaky.append(v)
                if v in triage.victims:
                    triage.victims.remove(v)
                triage.nondeterministic.append(v)
        return flaky

    def session_controls(self, phase: str, victims: Sequence[str], files: dict[str, str]) -> dict[str, int]:
        """Failures of each victim looping beside a runner session that runs
        no test (it only starts and loads the victim's module): the baseline
        a concurrent edge must beat.  A victim failing here is broken by
        session start-up (conftest, collection), not by any test."""
        probes = {
            (v, i): Probe(phase, (), beside=(v,), repetition=i, collect=(module_of(v, files),))
            for v in victims for i in range(self.confirm)
        }
        results = self.book.run(phase, list(probes.values()))
        return {v: sum(results[probes[(v, i)].key].failed(v) for i in range(self.confirm)) for v in victims}

    def confirm_edges(self, phase: str, edges: Iterable[Edge]) -> list[Edge]:
        """Re-run each edge's pair ``confirm`` times, each next to a control of
        the victim alone: a repetition counts only when the control passed, so
        state that outlives a process (a file, a database the suite does not
        reset) cannot make innocent tests look guilty."""
        edges = list(edges)

        def pair(e: Edge, i: int) -> Probe:
            if e.kind == "sequential":
                return Probe(phase, (e.polluter, e.victim), repetition=i)
            return Probe(phase, (e.polluter,), beside=(e.victim,), repetition=i)

        def control(victim: str, i: int) -> Probe:
            return Probe(phase + "-control", (victim,), repetition=i)

        victims = sorted({e.victim for e in edges if e.kind == "sequential"})
        probes = [pair(e, i) for e in edges for i in range(self.confirm)]
        probes += [control(v, i) for v in victims for i in range(self.confirm)]
        results = self.book.run(phase, probes)

        def alone_ok(e: Edge, i: int) -> bool:
            return e.kind != "sequential" or results[control(e.victim, i).key].passed(e.victim)

        # A repetition whose control failed says nothing about the edge (the
        # victim failed alone as well): it is void, not a point against the
        # edge.  Edges still short of ``confirm`` valid repetitions, all
        # failing, get more, up to ``confirm`` extra rounds.
        reps = {id(e): list(range(self.confirm)) for e in edges}
        for extra in range(self.confirm, 2 * self.confirm):
            short = [
                e for e in edges
                if sum(alone_ok(e, i) for i in reps[id(e)]) < self.confirm
                and all(results[pair(e, i).key].failed(e.victim) for i in reps[id(e)] if alone_ok(e, i))
            ]
            if not short:
                break
            more = [pair(e, extra) for e in short]
            more += [control(v, extra) for v in sorted({e.victim for e in short if e.kind == "sequential"})]
            results.update(self.book.run(phase, more))
            for e in short:
                reps[id(e)].append(extra)
        for e in edges:
            for i in reps[id(e)]:
                probe = pair(e, i)
                result = results[probe.key]
                valid = alone_ok(e, i)
                e.attempts += int(valid)
                failed = result.failed(e.victim) and valid
                e.confirmations += int(failed)
                evidence: dict[str, Any] = {
                    "probe": probe.probe_id,
                    "purpose": "confirm",
                    "tests": list(probe.tests),
                    "beside": list(probe.beside),
                    "victim_outcome": result.outcomes.get(e.victim, "missing"),
                    "repetition": i + 1,
                }
                if e.kind == "sequential":
                    evidence["control"] = control(e.victim, i).probe_id
                    evidence["victim_alone"] = results[control(e.victim, i).key].outcomes.get(e.victim, "missing")
                e.evidence.append(evidence)
            if e.attempts >= self.confirm and e.confirmations == e.attempts:
                e.status = "confirmed"
            elif e.confirmations:
                e.status = "intermittent"
            else:
                e.status = "rejected"
        return edges


MAX_PARTS = 16
# A runner invocation's start-up, counted in test executions when choosing
# how many parts to probe: splits of more than about four parts save a few
# executions but cost more invocations, and every part a spurious failure
# reaches is one more probe.
PROBE_COST = 20


def split_range(node: tuple[int, int], parts: int) -> list[tuple[int, int]]:
    """``node`` cut into ``parts`` contiguous ranges of about equal size.

    >>> split_range((10, 20), 3)
    [(10, 13), (13, 16), (16, 20)]
    """
    lo, hi = node
    k = max(1, min(parts, hi - lo))
    return [(lo + (hi - lo) * i // k, lo + (hi - lo) * (i + 1) // k) for i in range(k)]


def pool_ranges(n: int, pools: int) -> list[tuple[int, int]]:
    """``pools`` contiguous ranges of about equal size covering ``range(n)``,
    each of two tests or more (fewer pools when ``n`` is small).

    >>> pool_ranges(10, 3)
    [(0, 3), (3, 6), (6, 10)]
    >>> pool_ranges(5, 4)
    [(0, 2), (2, 5)]
    """
    return split_range((0, n), min(pools, n // 2) if n >= 4 else 1)


def pool_count(n: int) -> int:
    """Pools for a first search level over ``n`` candidates: about sqrt(n).

    With g polluters spread over the candidates and V victims riding in every
    pool's tail, the first level costs n + k*V executions and each polluter
    about 2n/k more below it; k = sqrt(2gn/V) balances the two, which is
    sqrt(n) when g is about V/2 (the demo: 8 polluters, 16 victims).
    """
    return max(1, round(math.sqrt(n)))


@functools.cache
def _split_cost(size: int, tail: int) -> tuple[float, int]:
    """(cost of isolating one polluter among ``size`` tests, the number of
    parts of the first cut); see :func:`split_count`."""
    if size <= 1:
        return 0.0, 1
    # Parts of two tests or more: a single test is only reached from a
    # guilty range of two or three, so a spurious failure rarely gets there.
    widest = min(size // 2, MAX_PARTS) if size >= 4 else 2
    return min(
        (size + m * (tail + PROBE_COST) + _split_cost(-(-size // m), tail)[0], m) for m in range(2, widest + 1)
    )


def split_count(size: int, tail: int) -> int:
    """How many parts to cut a guilty range of ``size`` tests into, when
    ``tail`` victims ride along in each part's probe.

    Probing every part costs ``size + parts * tail`` test executions (plus
    ``PROBE_COST`` per invocation), then the guilty part is cut again: the
    cheapest first cut for one polluter.  Small ranges are halved, longer
    ones cut into parts of a few tests each (at most ``MAX_PARTS`` parts);
    a long tail makes the cut narrower.

    >>> split_count(3, 5), split_count(141, 16), split_count(1000, 1)
    (2, 4, 9)
    """
    return _split_cost(size, max(1, tail))[1]


def safe_tail_order(victims: Sequence[str], victim_edges: Iterable[tuple[str, str]]) -> list[str]:
    """Order victims so that each runs before the victims that pollute it.

    Kahn's algorithm on "victim before its polluter", ties in the given order;
    victims on a cycle keep their given order (their probes are then split).
    """
    order = list(victims)
    index = {v: i for i, v in enumerate(order)}
    must_precede: dict[str, set[str]] = {v: set() for v in order}  # v -> victims that must run before v
    for polluter, victim in victim_edges:
        if polluter in index and victim in index:
            must_precede[polluter].add(victim)
    placed: list[str] = []
    remaining = list(order)
    while remaining:
        ready = [v for v in remaining if not (must_precede[v] - set(placed))]
        pick = ready[0] if ready else remaining[0]
        placed.append(pick)
        remaining.remove(pick)
    return sorted(placed, key=lambda v: placed.index(v) if v in placed else index[v])


def module_of(test_id: str, files: dict[str, str]) -> str:
    return files.get(test_id) or test_id.split("::", 1)[0]


def collapse_modules(
    edges: list[Edge], universe: Sequence[str], files: dict[str, str]
) -> list[Edge]:
    """When every probed test of one module pollutes a victim (two or more),
    the module's import or collection is the polluter: report the module."""
    members: dict[str, list[str]] = {}
    for t in universe:
        members.setdefault(module_of(t, files), []).append(t)
    by_victim: dict[tuple[str, str], list[Edge]] = {}
    for e in edges:
        if e.status in ("confirmed", "intermittent") and e.kind == "sequential":
            by_victim.setdefault((module_of(e.polluter, files), e.victim), []).append(e)
    out = [e for e in edges]
    for (module, victim), group in by_victim.items():
        tests = [t for t in members.get(module, []) if t != victim]
        polluters = {e.polluter for e in group}
        if len(tests) >= 2 and polluters >= set(tests):
            out = [e for e in out if not (e in group)]
            merged = Edge(
                polluter=module, victim=victim, kind="sequential",
                status="confirmed" if all(e.status == "confirmed" for e in group) else "intermittent",
                confirmations=sum(e.confirmations for e in group), attempts=sum(e.attempts for e in group),
                evidence=[ev for e in group for ev in e.evidence], module=True,
            )
            out.append(merged)
    return out
