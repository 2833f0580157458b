"""The bundled polluted demo suite against its computed ground truth.

Real pytest processes on the SQLite variant: serial passes, ``-n 4`` fails,
and a random sample of the truth file reproduces.  The truth itself comes
from scripts/demo_truth.py; when the suite changes, its hash no longer
matches and the first test says how to regenerate it.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pollution.demo import pytest_args, suite_env, suite_hash, suite_path

ROOT = Path(__file__).resolve().parents[1]
TRUTH_FILE = ROOT / "tests" / "fixtures" / "demo_truth.json"
SEED = int(os.environ.get("POLLUTION_TEST_SEED") or time.time_ns() % 1_000_000)


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(TRUTH_FILE.read_text())
    return data


def run_suite(tmp_path: Path, tests: list[str] | None = None, workers: int = 0) -> dict[str, str]:
    """One real pytest process on the demo suite with a fresh database; outcome per node id."""
    tag = f"{os.getpid()}-{time.time_ns()}"
    report = tmp_path / f"report-{tag}.json"
    argv = [sys.executable, "-m", "pytest", *pytest_args(), "-q", "-p", "pollution.demo.harness",
            "--demo-report", str(report), *(["-n", str(workers)] if workers else []), *(tests or [])]
    proc = subprocess.run(
        argv, cwd=suite_path(), env={**os.environ, **suite_env(str(tmp_path / f"demo-{tag}.sqlite"))},
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert report.exists(), f"no report from {argv}:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
    return {test: entry["outcome"] for test, entry in json.loads(report.read_text()).items()}


def test_truth_is_for_the_current_suite(truth: dict[str, Any]) -> None:
    assert truth["suite_hash"] == suite_hash(), (
        "pollution/demo changed since tests/fixtures/demo_truth.json was computed: "
        "run .venv/bin/python scripts/demo_truth.py"
    )


def test_truth_has_the_designed_structure(truth: dict[str, Any]) -> None:
    sequential = [(e["polluter"], e["victim"]) for e in truth["edges"] if e["kind"] == "sequential"]
    concurrent = [(e["polluter"], e["victim"]) for e in truth["edges"] if e["kind"] == "concurrent"]
    polluters = Counter(p for p, _ in sequential)
    victims = Counter(v for _, v in sequential)
    assert len(truth["tests"]) >= 140
    assert len(polluters) >= 5 and len(victims) >= 10
    assert sum(n >= 2 for n in victims.values()) >= 2, "victims with several polluters"
    assert max(polluters.values()) >= 3, "a polluter with several victims"
    assert set(polluters) & set(victims), "a victim that is itself a polluter"
    assert truth["cleaners"], "cleaners"
    assert [b for b in truth["brittle"] if b["state_setters"]], "a brittle test with its state-setter"
    assert len(truth["nondeterministic"]) == 1
    assert concurrent, "a concurrent-interference pair"
    assert len(truth["isolated"]) >= 110
    assert truth["verification"]["agree"] and truth["verification"]["real_processes"] >= 20
    assert not truth["observed"]["serial"]["failures"].keys() - set(truth["nondeterministic"])
    assert truth["observed"]["parallel"]["failures"]


def test_serial_run_passes(tmp_path: Path, truth: dict[str, Any]) -> None:
    outcomes = run_suite(tmp_path)
    assert sorted(outcomes) == sorted(truth["tests"])
    failed = {t for t, o in outcomes.items() if o != "passed"}
    assert failed <= set(truth["nondeterministic"])


def test_parallel_run_has_failures(tmp_path: Path, truth: dict[str, Any]) -> None:
    explained = {e["victim"] for e in truth["edges"]} | {b["test"] for b in truth["brittle"]}
    explained |= set(truth["nondeterministic"])
    outcomes = run_suite(tmp_path, workers=4)
    failed = {t for t, o in outcomes.items() if o != "passed"}
    assert len(failed - set(truth["nondeterministic"])) >= 3, failed
    assert failed <= explained, f"failures the truth does not explain: {failed - explained}"


def test_random_sample_of_the_truth_reproduces(tmp_path: Path, truth: dict[str, Any]) -> None:
    rng = random.Random(SEED)
    tests: list[str] = truth["tests"]
    edges = {(e["polluter"], e["victim"]) for e in truth["edges"] if e["kind"] == "sequential"}
    unstable = {b["test"] for b in truth["brittle"]} | set(truth["nondeterministic"])
    stable = [t for t in tests if t not in unstable]
    non_edges: set[tuple[str, str]] = set()
    while len(non_edges) < 5:
        p, v = rng.choice(tests), rng.choice(stable)
        if p != v and (p, v) not in edges:
            non_edges.add((p, v))
    sample = [(pair, "failed") for pair in rng.sample(sorted(edges), 5)]
    sample += [(pair, "passed") for pair in sorted(non_edges)]
    with ThreadPoolExecutor(2) as pool:
        observed = list(pool.map(lambda s: run_suite(tmp_path, list(s[0]))[s[0][1]], sample))
    wrong = [(pair, want, got) for (pair, want), got in zip(sample, observed) if want != got]
    assert not wrong, f"seed {SEED} (POLLUTION_TEST_SEED): [polluter, victim] -> victim outcome: {wrong}"


def test_brittle_test_needs_its_state_setter(tmp_path: Path, truth: dict[str, Any]) -> None:
    (brittle,) = truth["brittle"]
    test, setter = brittle["test"], brittle["state_setters"][0]
    assert run_suite(tmp_path, [test])[test] == "failed"
    assert run_suite(tmp_path, [setter, test])[test] == "passed"
