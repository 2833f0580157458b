"""Concurrent probes with real processes: each side is told its role
(``POLLUTION_PROBE_SIDE``), and the demo suite resets its shared database
on the range side only, before the victim beside it runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pollution.demo import pytest_args, suite_env, suite_path
from pollution.demo.service import StorageService, connect, reset_database
from pollution.probes import Probe, ProbeContext, run_probe
from pollution.runners import get_runner
from pollution.runners.base import ENV_PROBE_SIDE, Runner

RANGE, VICTIM = "test_sides.py::test_range", "test_sides.py::test_victim"

# Each process notes its side at start-up (where a suite would reset shared
# state) and each test notes it again when it runs.
NOTE = """
    import os

    def note(name):
        with open(os.path.join(os.environ["SIDES_DIR"], name), "a", encoding="utf-8") as fh:
            fh.write(os.environ.get("POLLUTION_PROBE_SIDE", "unset") + "\\n")
"""
PYTEST_SUITE = {
    "conftest.py": NOTE + """
    def pytest_configure(config):
        note("start-up")
    """,
    "test_sides.py": NOTE + """
    def test_range():
        note("range")

    def test_victim():
        note("victim")
    """,
}

# A runner that cannot loop: the beside side is restarted, not looped in-process.
COMMAND = """
    import os, sys
    from xml.sax.saxutils import quoteattr

    junit, *tests = sys.argv[1:]
    side = os.environ.get("POLLUTION_PROBE_SIDE", "unset")
    for name in ["start-up", *(t.rpartition("::")[2].removeprefix("test_") for t in tests)]:
        with open(os.path.join(os.environ["SIDES_DIR"], name), "a", encoding="utf-8") as fh:
            fh.write(side + "\\n")
    cases = "".join(f'<testcase classname="test_sides" name={quoteattr(t.rpartition("::")[2])}/>' for t in tests)
    with open(junit, "w", encoding="utf-8") as fh:
        fh.write(f'<testsuite name="s" tests="{len(tests)}">{cases}</testsuite>')
"""


def write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (root / name).write_text(textwrap.dedent(body), encoding="utf-8")
    return root


def make_runner(kind: str, root: Path) -> Runner:
    if kind == "pytest":
        return get_runner("pytest", path=write(root, PYTEST_SUITE))
    script = write(root, {"fake_runner.py": COMMAND}) / "fake_runner.py"
    return get_runner("command", template=[sys.executable, str(script), "{junit}", "{tests}"], cwd=root)


def noted(sides: Path, name: str) -> list[str]:
    path = sides / name
    return sorted(path.read_text(encoding="utf-8").split()) if path.exists() else []


@pytest.mark.parametrize("kind", ["pytest", "command"])
def test_each_side_of_a_concurrent_probe_is_told_its_role(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_PROBE_SIDE, raising=False)
    sides = tmp_path / "sides"
    sides.mkdir()
    runner = make_runner(kind, tmp_path / "suite")
    context = ProbeContext(runner, {"SIDES_DIR": str(sides)}, timeout=120)
    result = run_probe(context, Probe("concurrent", (RANGE,), beside=(VICTIM,)))
    assert result.error is None, result.error
    assert set(noted(sides, "range")) == {"range"}
    assert noted(sides, "victim") and set(noted(sides, "victim")) == {"beside"}
    assert set(noted(sides, "start-up")) == {"range", "beside"}
    # Any other probe is no side of anything: the variable stays unset.
    for name in ("start-up", "range", "victim"):
        (sides / name).unlink()
    assert run_probe(context, Probe("alone", (RANGE, VICTIM))).error is None
    assert [noted(sides, n) for n in ("start-up", "range", "victim")] == [["unset"], ["unset"], ["unset"]]


def stale_payment(db: str) -> None:
    """A fresh demo database plus one dead letter no test of this run put there."""
    reset_database(db)
    database = connect(db)
    try:
        StorageService(database).dead_letter("payments", "stale", "card_declined")
    finally:
        database.close()


def payments_depth(db: str) -> int:
    database = connect(db)
    try:
        return StorageService(database).queue_depth("payments")
    finally:
        database.close()


@pytest.mark.parametrize(("side", "resets"), [("beside", False), ("range", True), (None, True)])
def test_demo_suite_resets_its_database_except_on_the_beside_side(
    side: str | None, resets: bool, tmp_path: Path
) -> None:
    db = str(tmp_path / "demo.sqlite")
    stale_payment(db)
    env = {k: v for k, v in os.environ.items() if k != ENV_PROBE_SIDE}
    env.update(suite_env(db))
    if side is not None:
        env[ENV_PROBE_SIDE] = side
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_args(), "--collect-only", "-q"],
        cwd=suite_path(), env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert payments_depth(db) == (0 if resets else 1)


# Loaded into both processes of the probe below (``-p slow_range``).
SLOW_RANGE = """
    import os, time
    import pytest

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(config):
        # A range side slow to start: its reset (the demo conftest's
        # pytest_configure, after this one) comes well after the beside side
        # is ready to run its victim.
        if os.environ.get("POLLUTION_PROBE_SIDE") == "range":
            time.sleep(1.5)
"""


def test_demo_victim_beside_runs_only_on_the_database_the_range_side_reset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stale dead letter breaks the victim (it counts the whole queue)
    # until the range side's reset removes it: had the beside side run its
    # victim before that reset, the victim would have failed at least once.
    monkeypatch.delenv(ENV_PROBE_SIDE, raising=False)
    plugins = write(tmp_path / "plugins", {"slow_range.py": SLOW_RANGE})
    db = str(tmp_path / "demo.sqlite")
    stale_payment(db)
    victim = "test_dead_letters.py::test_payments_queue_depth"
    isolated = "test_dead_letters.py::test_empty_queue_has_depth_zero"
    runner = get_runner("pytest", path=suite_path(), args=pytest_args())
    path = os.pathsep.join(p for p in (str(plugins), os.environ.get("PYTHONPATH")) if p)
    context = ProbeContext(runner, {**suite_env(db), "PYTHONPATH": path}, timeout=120, extra_args=("-p", "slow_range"))
    result = run_probe(context, Probe("concurrent", (isolated,), beside=(victim,)))
    assert result.error is None, result.error
    assert result.outcomes == {isolated: "passed", victim: "passed"}
    assert result.executions >= 2
    assert payments_depth(db) == 0
