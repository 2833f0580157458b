"""The diagnosis engine end to end, with real pytest processes over a polluted
suite whose ground truth is known by construction."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import pollution
from pollution.diagnosis import Diagnosis
from pollution.runners import get_runner

SUITE = {
    "conftest.py": """
        import os, shutil

        def pytest_sessionstart(session):
            # Every run starts from a clean shared state, as a fresh database would.
            state = os.environ["STATE_DIR"]
            if not os.environ.get("PYTEST_XDIST_WORKER"):
                shutil.rmtree(state, ignore_errors=True)
            os.makedirs(state, exist_ok=True)
    """,
    "helpers.py": """
        import os

        def path(name):
            return os.path.join(os.environ["STATE_DIR"], name)

        def touch(name):
            open(path(name), "w").close()

        def exists(name):
            return os.path.exists(path(name))
    """,
    "test_a.py": """
        from helpers import exists, touch

        def test_victim_one():
            assert not exists("one"), "left behind by test_polluter_one"

        def test_victim_both():
            assert not exists("one") and not exists("two")

        def test_victim_chain():
            touch("chain")  # pollutes test_victim_of_chain...
            assert not exists("one")  # ...and is a victim of test_polluter_one

        def test_victim_of_chain():
            assert not exists("chain")

        def test_victim_mod():
            assert not exists("mod"), "written when test_modpol.py is imported"

        def test_setter():
            touch("setter")

        def test_brittle():
            assert exists("setter"), "needs test_setter first"

        def test_isolated_1(): pass
        def test_isolated_2(): pass
    """,
    "test_b.py": """
        import os
        from helpers import touch

        def test_polluter_one():
            touch("one")

        def test_cleaner():
            try:
                os.remove(os.path.join(os.environ["STATE_DIR"], "one"))
            except FileNotFoundError:
                pass

        def test_polluter_two():
            touch("two")

        def test_isolated_3(): pass
        def test_isolated_4(): pass
    """,
    "test_modpol.py": """
        from helpers import touch

        touch("mod")  # at import: the module pollutes, not one of its tests

        def test_m1(): pass
        def test_m2(): pass
    """,
    "test_nod.py": """
        import os

        def test_nod():
            # Fails on every other run: nondeterministic whatever the order.
            counter = os.path.join(os.environ["STATE_DIR"], "..", "nod-counter")
            n = int(open(counter).read()) if os.path.exists(counter) else 0
            open(counter, "w").write(str(n + 1))
            assert n % 2 == 1
    """,
}

VICTIMS = [
    "test_a.py::test_victim_one",
    "test_a.py::test_victim_both",
    "test_a.py::test_victim_chain",
    "test_a.py::test_victim_of_chain",
    "test_a.py::test_victim_mod",
    "test_a.py::test_brittle",
    "test_nod.py::test_nod",
]

EXPECTED = {
    ("test_b.py::test_polluter_one", "test_a.py::test_victim_one", "sequential"),
    ("test_b.py::test_polluter_one", "test_a.py::test_victim_both", "sequential"),
    ("test_b.py::test_polluter_two", "test_a.py::test_victim_both", "sequential"),
    ("test_b.py::test_polluter_one", "test_a.py::test_victim_chain", "sequential"),
    ("test_a.py::test_victim_chain", "test_a.py::test_victim_of_chain", "sequential"),
    ("test_modpol.py", "test_a.py::test_victim_mod", "sequential"),
}


def make_suite(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, body in SUITE.items():
        (root / name).write_text(textwrap.dedent(body))
    return root


def edges_of(diagnosis: Diagnosis) -> set[tuple[str, str, str]]:
    return {(e.polluter, e.victim, e.kind) for e in diagnosis.edges if e.status == "confirmed"}


@pytest.fixture
def suite(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = make_suite(tmp_path / "suite")
    return root, {"STATE_DIR": str(tmp_path / "state" / "s_{probe}")}


def run_diagnosis(root: Path, env: dict[str, str], out: Path, **options: object) -> Diagnosis:
    runner = get_runner("pytest", path=root)
    return pollution.diagnose(
        runner, victims=VICTIMS, out=out, env=env, extra_args=["-p", "no:randomly"],
        concurrent=False, state_setters=True, **options,  # type: ignore[arg-type]
    )


def test_finds_exactly_the_ground_truth(suite: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, env = suite
    diagnosis = run_diagnosis(root, env, tmp_path / "out")
    assert edges_of(diagnosis) == EXPECTED
    assert "test_a.py::test_brittle" in diagnosis.triage.brittle
    assert diagnosis.state_setters == {"test_a.py::test_brittle": ["test_a.py::test_setter"]}
    assert diagnosis.triage.nondeterministic == ["test_nod.py::test_nod"]
    module_edge = next(e for e in diagnosis.edges if e.polluter == "test_modpol.py")
    assert module_edge.module
    for edge in diagnosis.edges:
        if edge.status == "confirmed":
            assert edge.confirmations == edge.attempts >= 2
            assert {ev["victim_outcome"] for ev in edge.evidence if ev.get("purpose") == "confirm"} <= {"failed", "error"}
    costs = diagnosis.total_costs()
    assert costs.invocations == sum(c.invocations for c in diagnosis.costs.values()) > 0
    saved = Diagnosis.load(tmp_path / "out" / "result.json")
    assert edges_of(saved) == EXPECTED
    graph = saved.graph()
    assert set(graph.polluters()) >= {"test_b.py::test_polluter_one", "test_modpol.py"}


def test_cleaners(suite: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, env = suite
    runner = get_runner("pytest", path=root)
    diagnosis = pollution.diagnose(
        runner, victims=["test_a.py::test_victim_one"], out=tmp_path / "out", env=env,
        extra_args=["-p", "no:randomly"], concurrent=False, cleaners=True,
    )
    assert ("test_b.py::test_cleaner", "test_b.py::test_polluter_one", "test_a.py::test_victim_one") in diagnosis.cleaners


def test_parallel_probes_give_the_same_graph(suite: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, env = suite
    diagnosis = run_diagnosis(root, env, tmp_path / "out", jobs=2)
    assert edges_of(diagnosis) == EXPECTED


def test_jobs_without_isolation_template_is_refused(tmp_path: Path) -> None:
    root = make_suite(tmp_path / "suite")
    with pytest.raises(pollution.InputError, match="isolation template"):
        run_diagnosis(root, {"STATE_DIR": str(tmp_path / "shared")}, tmp_path / "out", jobs=2)


def test_dask_local_cluster_executor(suite: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    root, env = suite
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        diagnosis = run_diagnosis(root, env, tmp_path / "out", executor=f"dask://{address}")
    assert edges_of(diagnosis) == EXPECTED


def test_resume_after_kill_9_gives_the_same_graph(suite: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, env = suite
    out = tmp_path / "out"
    argv = [
        sys.executable, "-m", "pollution", "bisect", "--runner", "pytest", "--path", str(root),
        "--out", str(out), "--no-concurrent", "--quiet", "--runner-arg=-p", "--runner-arg=no:randomly",
        "--env", f"STATE_DIR={env['STATE_DIR']}",
        *[arg for v in VICTIMS for arg in ("--victim", v)],
    ]
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / "journal.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) >= 12:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(journal.read_text().splitlines())
    assert done_before >= 12 and not (out / "result.json").exists()
    resumed = subprocess.run([*argv, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "reused from the journal" in resumed.stdout
    result = Diagnosis.load(out / "result.json")
    assert edges_of(result) == EXPECTED
    assert result.total_costs().reused >= done_before - 1  # the probe cut by kill -9 may be lost


def test_graph_export_cli(suite: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, env = suite
    run_diagnosis(root, env, tmp_path / "out")
    exported = subprocess.run(
        [sys.executable, "-m", "pollution", "graph", str(tmp_path / "out"), "--format", "json"],
        capture_output=True, text=True, timeout=60,
    )
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    pairs = {(e["source"], e["target"]) for e in data["edges"]}
    assert pairs == {(p, v) for p, v, _ in EXPECTED}


def one_file_suite(tmp_path: Path, source: str) -> tuple[Path, Path]:
    """A suite of one file, ``test_s.py``, and a state directory that
    outlives every process (no ``{probe}`` in it)."""
    root = tmp_path / "suite"
    root.mkdir()
    (root / "test_s.py").write_text(textwrap.dedent(source))
    state = tmp_path / "state"
    state.mkdir()
    return root, state


def test_state_that_outlives_a_process_confirms_no_innocent_test(tmp_path: Path) -> None:
    # No reset between runs: once the polluter ran, the victim fails alone too.
    root, state = one_file_suite(tmp_path, """
        import os
        FLAG = os.path.join(os.environ["STATE_DIR"], "flag")

        def test_victim():
            assert not os.path.exists(FLAG)

        def test_innocent_1(): pass
        def test_innocent_2(): pass

        def test_polluter():
            open(FLAG, "w").close()
    """)
    diagnosis = pollution.diagnose(
        get_runner("pytest", path=root), victims=["test_s.py::test_victim"], out=tmp_path / "out",
        env={"STATE_DIR": str(state)}, extra_args=["-p", "no:randomly"], concurrent=False,
    )
    assert not [e for e in diagnosis.edges if e.status == "confirmed" and "innocent" in e.polluter]


def test_retriage_moves_a_victim_failing_alone_to_nondeterministic(tmp_path: Path) -> None:
    # A flake that slipped through triage (three clean alone-runs) must not
    # reach the concurrent search, where it would fail beside anything.
    from pollution.bisect import Bisector, Triage
    from pollution.probes import Journal, ProbeBook, ProbeContext, make_executor

    root, state = one_file_suite(tmp_path, """
        import os
        COUNT = os.path.join(os.environ["STATE_DIR"], "count")

        def test_flaky():
            n = int(open(COUNT).read()) + 1 if os.path.exists(COUNT) else 1
            open(COUNT, "w").write(str(n))
            assert n != 2  # its second run alone fails

        def test_solid():
            pass
    """)
    context = ProbeContext(get_runner("pytest", path=root), {"STATE_DIR": str(state)}, None, ("-p", "no:randomly"))
    book = ProbeBook(make_executor(context, 1, None), Journal(tmp_path / "journal.jsonl", False), None, None)
    engine = Bisector(book, triage_repeats=1)
    flaky, solid = "test_s.py::test_flaky", "test_s.py::test_solid"
    triage = Triage(victims=[flaky, solid], alone_runs={flaky: 1, solid: 1}, alone_failures={flaky: 0, solid: 0})
    assert engine.retriage([flaky, solid], triage) == [flaky]
    assert triage.victims == [solid] and triage.nondeterministic == [flaky]
    assert triage.alone_runs == {flaky: 4, solid: 4} and triage.alone_failures == {flaky: 1, solid: 0}
    assert book.costs["retriage"].invocations == 6
