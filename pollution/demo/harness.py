"""pytest plugin: the in-process harness behind the demo suite's ground truth.

Load it with ``-p pollution.demo.harness``; without one of its options it does
nothing.  ``scripts/demo_truth.py`` drives it, and checks what it finds
against real, separate pytest processes.

``--demo-collect FILE``
    Write the collected node ids, in collection order, as a JSON list; run nothing.
``--demo-sequences FILE`` with ``--demo-results FILE``
    FILE is a JSON list of sequences (lists of node ids).  Each sequence runs
    in order in this one process, from a freshly reset database, through
    pytest's own ``runtestprotocol``: fixtures are set up and torn down as in
    a run of exactly those tests (session fixtures live for one sequence).
    The results are a JSON list, per sequence, of per-test
    ``[outcome, duration]`` with outcome ``passed``, ``failed`` or ``skipped``.
``--demo-serve ADDRESS``
    Connect to a ``multiprocessing.connection.Listener`` at ADDRESS (a Unix
    socket; the key is in ``$POLLUTION_DEMO_HARNESS_KEY``) and execute
    commands: ``("reset",)``, ``("run", node_id)`` -> ``(outcome, start,
    stop)``, ``("quit",)``.  Two serving processes let the caller run two
    tests at the same time with controlled timing.
``--demo-report FILE``
    Passive: record each test's outcome, worker and start/stop time of an
    ordinary run (serial or pytest-xdist) as JSON, keyed by node id.

The demo suite keeps all shared state in its database and none in the test
process, which is what makes a sequence in this process equivalent to a real
run of the same tests in a fresh process.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from _pytest.reports import TestReport
from _pytest.runner import runtestprotocol

from pollution.demo.service import database_url, reset_database

ENV_KEY = "POLLUTION_DEMO_HARNESS_KEY"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pollution-demo-harness", "pollution demo ground-truth harness")
    group.addoption("--demo-collect", metavar="FILE", default=None, help="write collected node ids as JSON")
    group.addoption("--demo-sequences", metavar="FILE", default=None, help="JSON list of node id sequences")
    group.addoption("--demo-results", metavar="FILE", default=None, help="where sequence outcomes go (JSON)")
    group.addoption("--demo-serve", metavar="ADDRESS", default=None, help="serve run/reset commands")
    group.addoption("--demo-report", metavar="FILE", default=None, help="record outcomes of a normal run")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("demo_report")
    if path and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Reporter(Path(path)), "pollution-demo-reporter")


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    config = session.config
    collect = config.getoption("demo_collect")
    sequences = config.getoption("demo_sequences")
    serve = config.getoption("demo_serve")
    if not (collect or sequences or serve):
        return None
    if collect:
        Path(collect).write_text(json.dumps([item.nodeid for item in session.items]))
    items = {item.nodeid: item for item in session.items}
    if sequences:
        results_path = config.getoption("demo_results")
        if not results_path:
            raise pytest.UsageError("--demo-sequences needs --demo-results FILE")
        wanted = json.loads(Path(sequences).read_text())
        results = [run_sequence([items[n] for n in seq]) for seq in wanted]
        Path(results_path).write_text(json.dumps(results))
    if serve:
        _serve(serve, items)
    return True


def run_sequence(items: Sequence[pytest.Item], url: str | None = None) -> list[tuple[str, float]]:
    """Reset the database, run ``items`` in order; return (outcome, duration) per item."""
    reset_database(url or database_url())
    out = []
    for index, item in enumerate(items):
        nextitem = items[index + 1] if index + 1 < len(items) else None
        reports = runtestprotocol(item, log=False, nextitem=nextitem)
        out.append((_outcome(reports), sum(r.duration for r in reports)))
    return out


def _outcome(reports: Sequence[TestReport]) -> str:
    if any(r.failed for r in reports):
        return "failed"
    if any(r.skipped for r in reports):
        return "skipped"
    return "passed"


def _serve(address: str, items: dict[str, pytest.Item]) -> None:
    from multiprocessing.connection import Client

    key = os.environ.get(ENV_KEY, "")
    conn = Client(address, family="AF_UNIX", authkey=bytes.fromhex(key) if key else None)
    try:
        conn.send(("ready", os.getpid()))
        while True:
            command = conn.recv()
            if command[0] == "quit":
                break
            if command[0] == "reset":
                reset_database(database_url())
                conn.send(("ok",))
            elif command[0] == "run":
                item = items[command[1]]
                start = time.time()
                reports = runtestprotocol(item, log=False, nextitem=None)
                conn.send((_outcome(reports), start, time.time()))
            else:
                conn.send(("error", f"unknown command {command[0]!r}"))
    finally:
        conn.close()


class _Reporter:
    """Outcome, worker and timing of every test of an ordinary run, keyed by node id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tests: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: TestReport) -> None:
        entry = self.tests.setdefault(
            report.nodeid, {"outcome": "passed", "worker": "main", "start": report.start, "stop": report.stop}
        )
        node = getattr(report, "node", None)
        gateway = getattr(node, "gateway", None)
        if gateway is not None:
            entry["worker"] = gateway.id
        entry["start"] = min(entry["start"], report.start)
        entry["stop"] = max(entry["stop"], report.stop)
        if report.failed:
            entry["outcome"] = "failed"
        elif report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"

    def pytest_sessionfinish(self) -> None:
        self.path.write_text(json.dumps(self.tests, indent=1, sort_keys=True))
