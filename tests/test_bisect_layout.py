"""The search tree's layout: a first level of pools instead of one probe of
the whole universe, and guilty ranges cut in as many parts as is cheapest.

The runner here is SIMULATED: ``ModelExecutor`` starts no process and works
out each probe's outcomes from a small ground-truth model, so every scenario
(masked polluters, pairs that pollute only together) is exact and fast.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pollution.bisect import Bisector, pool_count, pool_ranges, split_count, split_range
from pollution.diagnosis import _sequential
from pollution.probes import Journal, Probe, ProbeBook, ProbeResult
from pollution.schedule import Candidates

UNIVERSE = [f"t{i:02d}" for i in range(36)]  # pool_count(36) == 6 pools of 6


@dataclass
class Model:
    """Sequential pollution: a victim fails when one of its polluters ran
    earlier in the probe with none of that edge's cleaners in between, or
    when every test of one of its groups ran earlier."""

    polluters: dict[str, set[str]] = field(default_factory=dict)
    cleaners: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    together: dict[str, list[set[str]]] = field(default_factory=dict)

    def failing(self, tests: Sequence[str]) -> set[str]:
        out = set()
        for i, v in enumerate(tests):
            before = tests[:i]
            for p in self.polluters.get(v, ()):
                if p in before:
                    j = max(k for k, t in enumerate(before) if t == p)
                    if not self.cleaners.get((p, v), set()) & set(before[j + 1 :]):
                        out.add(v)
            if any(group <= set(before) for group in self.together.get(v, ())):
                out.add(v)
        return out


class ModelExecutor:
    """A SIMULATED runner (the ``pollution.probes.Executor`` protocol)."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.probes: list[Probe] = []

    def run(self, probes: Sequence[Probe]) -> Iterator[ProbeResult]:
        for probe in probes:
            self.probes.append(probe)
            failing = self.model.failing(probe.tests)
            outcomes = {t: "failed" if t in failing else "passed" for t in probe.tests}
            yield ProbeResult(probe, outcomes, executions=len(probe.tests), invocations=1, duration=0.0)

    def close(self) -> None:
        pass

    def ran(self, phase: str) -> list[tuple[str, ...]]:
        return [p.tests for p in self.probes if p.purpose == phase]


def engine(model: Model, tmp_path: Path) -> tuple[Bisector, ModelExecutor]:
    executor = ModelExecutor(model)
    return Bisector(ProbeBook(executor, Journal(tmp_path / "journal.jsonl", resume=False))), executor


def search(model: Model, tmp_path: Path, victims: Sequence[str], pools: int = 6):  # type: ignore[no-untyped-def]
    bisector, executor = engine(model, tmp_path)
    wanted = {v: set(UNIVERSE) for v in victims}
    return bisector.search("search", UNIVERSE, wanted, list(victims), pools=pools), executor


@pytest.mark.parametrize(
    ("n", "pools", "expected"),
    [
        (10, 3, [(0, 3), (3, 6), (6, 10)]),
        (36, 6, [(i, i + 6) for i in range(0, 36, 6)]),
        (5, 4, [(0, 2), (2, 5)]),  # parts of two tests or more
        (3, 2, [(0, 3)]),
        (0, 4, [(0, 0)]),
        (36, 1, [(0, 36)]),
    ],
)
def test_pool_ranges(n: int, pools: int, expected: list[tuple[int, int]]) -> None:
    assert pool_ranges(n, pools) == expected


@pytest.mark.parametrize(("n", "expected"), [(1, 1), (4, 2), (36, 6), (141, 12), (10_000, 100)])
def test_pool_count(n: int, expected: int) -> None:
    assert pool_count(n) == expected


@pytest.mark.parametrize(
    ("size", "tail", "expected"),
    [
        (2, 1, 2), (3, 9, 2), (4, 1, 2),  # the last steps are halves
        (12, 1, 3), (20, 1, 5),  # then parts of about four tests
        (141, 1, 6), (141, 16, 4),  # a long tail favours fewer parts
        (1000, 1, 9), (1000, 100, 5), (10_000, 1, 16),  # long ranges: wider cuts
    ],
)
def test_split_count(size: int, tail: int, expected: int) -> None:
    assert split_count(size, tail) == expected
    parts = split_range((5, 5 + size), expected)
    assert parts[0][0] == 5 and parts[-1][1] == 5 + size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))
    assert all(hi - lo >= 2 for lo, hi in parts) or size < 4


def test_two_polluters_in_different_pools_are_both_found(tmp_path: Path) -> None:
    model = Model(polluters={"v1": {"t03", "t20"}, "v2": {"t20"}})
    outcome, executor = search(model, tmp_path, ["v1", "v2"])
    assert sorted(outcome.found["v1"]) == ["t03", "t20"]
    assert outcome.found["v2"] == ["t20"]
    assert outcome.groups == {"v1": [], "v2": []}
    # The whole universe is never probed: the first level is six pools.
    assert len(executor.ran("search")[0]) == 6 + 2
    assert all(len(set(tests) & set(UNIVERSE)) <= 6 for tests in executor.ran("search"))


def test_polluter_masked_by_a_cleaner_in_another_pool_is_found_by_the_search(tmp_path: Path) -> None:
    # In the original order t02 ... t10 (cleans t02's state) ... t30 ... v1:
    # only t30 shows.  t10 sits in another pool than t02, so t02 shows too.
    model = Model(polluters={"v1": {"t02", "t30"}}, cleaners={("t02", "v1"): {"t10"}})
    assert model.failing([*UNIVERSE, "v1"]) == {"v1"}
    assert model.failing(["t02", "t10", "v1"]) == set()
    outcome, _ = search(model, tmp_path, ["v1"])
    assert sorted(outcome.found["v1"]) == ["t02", "t30"]


def test_pair_polluting_only_together_across_pools_falls_back_to_the_whole_universe(tmp_path: Path) -> None:
    model = Model(together={"v1": [{"t05", "t25"}], "v2": [{"t05", "t14"}]})
    outcome, executor = search(model, tmp_path, ["v1", "v2"])
    # No pool is guilty, so the whole universe is probed (once, for both),
    # then its halves: the smallest range holding each pair is the group.
    whole = [tests for tests in executor.ran("search") if set(UNIVERSE) <= set(tests)]
    assert whole == [(*UNIVERSE, "v1", "v2")]
    assert outcome.found == {"v1": [], "v2": []}
    assert outcome.groups["v1"] == [UNIVERSE]
    assert outcome.groups["v2"] == [UNIVERSE[:18]]


def test_victim_without_a_polluter_costs_one_probe_of_the_whole_universe(tmp_path: Path) -> None:
    model = Model(polluters={"v1": {"t33"}})
    outcome, executor = search(model, tmp_path, ["v1", "v2"])
    assert outcome.found == {"v1": ["t33"], "v2": []}
    assert outcome.groups == {"v1": [], "v2": []}
    whole = [tests for tests in executor.ran("search") if set(UNIVERSE) <= set(tests)]
    assert whole == [(*UNIVERSE, "v2")]


def test_without_pools_the_whole_universe_is_probed_first(tmp_path: Path) -> None:
    model = Model(polluters={"v1": {"t03", "t20"}})
    outcome, executor = search(model, tmp_path, ["v1"], pools=1)
    assert sorted(outcome.found["v1"]) == ["t03", "t20"]
    assert executor.ran("search")[0] == (*UNIVERSE, "v1")


def test_concurrent_search_keeps_halves(tmp_path: Path) -> None:
    bisector, _ = engine(Model(), tmp_path)
    seen: list[list[tuple[int, int]]] = []

    def level(phase, universe, frontier, *args):  # type: ignore[no-untyped-def]
        seen.append(sorted(frontier))
        return {(node, v): node[1] - node[0] > 1 and node[0] <= 20 < node[1] for node, vs in frontier.items() for v in vs}

    bisector._probe_level = level  # type: ignore[method-assign]
    outcome = bisector.search("concurrent", UNIVERSE, {"v": set(UNIVERSE)}, ["v"], concurrent=True)
    assert seen[:3] == [[(0, 36)], [(0, 18), (18, 36)], [(18, 27), (27, 36)]]
    assert outcome.found == {"v": []}


def test_sequential_finds_exactly_the_ground_truth(tmp_path: Path) -> None:
    # Masked in the same pool (t01 cleaned by t04 before v1): the sweep finds it.
    # Masked across pools (t13 cleaned by t20 before v2): the search finds it.
    # v3 pollutes v4; v5 has no sequential polluter; t26 pollutes three victims.
    model = Model(
        polluters={"v1": {"t01", "t26"}, "v2": {"t13", "t26"}, "v3": {"t26"}, "v4": {"v3", "t31"}, "v6": {"t08"}},
        cleaners={("t01", "v1"): {"t04"}, ("t13", "v2"): {"t20"}},
    )
    victims = ["v1", "v2", "v3", "v4", "v5", "v6"]
    order = [*UNIVERSE[:30], *victims, *UNIVERSE[30:]]
    bisector, executor = engine(model, tmp_path)
    candidates = {v: Candidates(v, sequential=[t for t in order if t != v]) for v in victims}
    edges = _sequential(bisector, victims, candidates, order)
    confirmed = {(e.polluter, e.victim) for e in edges if e.status == "confirmed"}
    truth = {(p, v) for v, ps in model.polluters.items() for p in ps}
    assert confirmed == truth
    assert not [e for e in edges if e.status != "confirmed"]
    def singletons(phase: str) -> set[str]:
        """Single tests some victim failed after, in this phase's probes."""
        return {
            tests[0] for tests in executor.ran(phase)
            if not set(tests[1:]) - set(victims) and model.failing(tests) & set(victims)
        }

    assert singletons("search") == {"t13", "t26", "t08", "t31"}
    assert singletons("sweep") == {"t01"}


class SpuriousExecutor(ModelExecutor):
    """The model, plus spurious failures of chosen victims in chosen probes."""

    def __init__(self, model: Model, spurious: dict[tuple[str, tuple[str, ...]], set[str]]) -> None:
        super().__init__(model)
        self.spurious = spurious

    def run(self, probes: Sequence[Probe]) -> Iterator[ProbeResult]:
        for result in super().run(probes):
            for v in self.spurious.get((result.probe.purpose, result.probe.tests), ()):
                result.outcomes[v] = "failed"
            yield result


def test_a_single_test_the_search_blamed_by_chance_is_dropped_before_confirmation(tmp_path: Path) -> None:
    model = Model(polluters={"v1": {"t06"}})
    # t06 and t07 end up as the two halves of a guilty range; v1 fails by
    # chance after t07 alone.  Its fan-out and a pair re-run both pass.
    executor = SpuriousExecutor(model, {("search", ("t07", "v1")): {"v1"}})
    bisector = Bisector(ProbeBook(executor, Journal(tmp_path / "journal.jsonl", resume=False)))
    candidates = {"v1": Candidates("v1", sequential=UNIVERSE)}
    edges = _sequential(bisector, ["v1"], candidates, [*UNIVERSE, "v1"])
    assert {(e.polluter, e.victim, e.status) for e in edges} == {("t06", "v1", "confirmed")}
    assert ("t07", "v1") in executor.ran("fan-out-pairs")
    assert not [p for p in executor.ran("confirm") if "t07" in p]


def test_a_pair_hidden_in_the_fan_out_by_a_cleaning_victim_is_kept(tmp_path: Path) -> None:
    # v2 runs before v1 in every tail and resets t10's state: the fan-out of
    # t10 shows nothing for v1, the pair re-run does.
    model = Model(polluters={"v1": {"t10"}, "v2": {"t30"}}, cleaners={("t10", "v1"): {"v2"}})
    bisector, executor = engine(model, tmp_path)
    candidates = {"v1": Candidates("v1", sequential=UNIVERSE), "v2": Candidates("v2", sequential=UNIVERSE[24:])}
    edges = _sequential(bisector, ["v2", "v1"], candidates, [*UNIVERSE, "v2", "v1"])
    assert {(e.polluter, e.victim, e.status) for e in edges} == {("t10", "v1", "confirmed"), ("t30", "v2", "confirmed")}
    assert ("t10", "v2", "v1") in executor.ran("fan-out")
    assert ("t10", "v1") in executor.ran("fan-out-pairs")
