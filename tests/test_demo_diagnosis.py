"""`pollution demo` end to end: real pytest runs of the bundled suite, the
whole diagnosis, checked against the suite's measured ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pollution.pipeline import run_demo

TRUTH = Path(__file__).parent / "fixtures" / "demo_truth.json"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("demo")
    return run_demo(out, render=False)


def test_demo_finds_exactly_the_ground_truth_edges(demo) -> None:  # type: ignore[no-untyped-def]
    truth = json.loads(TRUTH.read_text())
    diagnosis = demo.diagnosis
    victims = set(diagnosis.victims)
    assert len(victims) >= 10
    expected = {(e["polluter"], e["victim"]) for e in truth["edges"] if e["kind"] == "sequential" and e["victim"] in victims}
    found = {(e.polluter, e.victim) for e in diagnosis.edges if e.kind == "sequential" and e.status == "confirmed"}
    assert found == expected  # precision and recall 1.0 on the victims the parallel runs showed
    concurrent = {(e["polluter"], e["victim"]) for e in truth["edges"] if e["kind"] == "concurrent" and e["victim"] in victims}
    found_concurrent = {(e.polluter, e.victim) for e in diagnosis.edges if e.kind == "concurrent" and e.status == "confirmed"}
    assert found_concurrent <= concurrent  # never a wrong concurrent edge


def test_demo_classifies_brittle_and_flaky(demo) -> None:  # type: ignore[no-untyped-def]
    truth = json.loads(TRUTH.read_text())
    diagnosis = demo.diagnosis
    for entry in truth["brittle"]:
        if entry["test"] in diagnosis.triage.brittle:
            assert set(diagnosis.state_setters[entry["test"]]) <= set(entry["state_setters"])
            assert diagnosis.state_setters[entry["test"]]
    flaky = set(diagnosis.nondeterministic) | set(diagnosis.triage.nondeterministic)
    assert not flaky - set(truth["nondeterministic"])  # nothing else is called flaky
    assert not set(diagnosis.victims) & set(truth["nondeterministic"])


def test_demo_writes_its_artifacts(demo) -> None:  # type: ignore[no-untyped-def]
    out = demo.out
    assert (out / "result.json").is_file() and (out / "journal.jsonl").is_file()
    assert (out / "runs" / "manifest.json").is_file()
    costs = demo.diagnosis.total_costs()
    assert costs.invocations > 0 and costs.executions > costs.invocations
