"""pytest plugin: record who ran where and when, and run tests in a forced order.

Enabled by ``--pollution`` (or ``--pollution-order FILE``, or the environment
variable ``POLLUTION_RECORD=1``); otherwise it does nothing.  When enabled,
every test case in the JUnit XML gets the properties

- ``worker``: the pytest-xdist worker id (``gw0``...) or ``main``;
- ``start`` / ``stop``: epoch seconds covering setup to teardown;
- ``position``: the order in which the test ran on its worker (0, 1, ...);
- ``nodeid``: the exact node id, so ingestion needs no guessing.

``--pollution-order FILE`` (one node id per line) runs exactly those tests in
exactly that order, whatever pytest-randomly, file grouping or other plugins
did; collected tests not in the file are deselected.

This module is loaded into every test process: it imports only the standard
library, at start-up and later, so the process it is loaded into stays as it
would be without it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from typing import Any

import pytest

ENV_RECORD = "POLLUTION_RECORD"
ENV_TEMPLATE = "POLLUTION_ENV_TEMPLATE"  # JSON object; "{worker}" expanded per worker


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pollution", "test pollution diagnosis")
    group.addoption(
        "--pollution",
        action="store_true",
        default=False,
        help="record worker, start/stop time and position of each test in the JUnit XML",
    )
    group.addoption(
        "--pollution-loop-until",
        metavar="FILE",
        default=None,
        help="run the selected tests over and over until FILE exists (concurrent probes)",
    )
    group.addoption(
        "--pollution-barrier",
        metavar="READY,WAIT",
        default=None,
        help="after collection, create READY and wait (up to 60 s) until WAIT exists",
    )
    group.addoption(
        "--pollution-order",
        metavar="FILE",
        default=None,
        help="run exactly the node ids listed in FILE (one per line), in that order",
    )


def _enabled(config: pytest.Config) -> bool:
    return bool(
        config.getoption("pollution")
        or config.getoption("pollution_order")
        or os.environ.get(ENV_RECORD) == "1"
    )


def _worker(config: pytest.Config) -> str:
    # xdist gives its workers ``workerinput``; the PYTEST_XDIST_WORKER variable
    # alone may be inherited from an outer xdist run that started this pytest.
    workerinput = getattr(config, "workerinput", None)
    if isinstance(workerinput, dict) and "workerid" in workerinput:
        return str(workerinput["workerid"])
    return "main"


class _Recorder:
    def __init__(self, worker: str) -> None:
        self.position = 0
        self.worker = worker

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
        item.user_properties.extend(
            [
                ("worker", self.worker),
                ("position", str(self.position)),
                ("nodeid", item.nodeid),
                ("start", repr(time.time())),
            ]
        )
        self.position += 1
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        if call.when == "teardown":
            # junitxml writes the properties of the teardown report, which is
            # made after teardown finished: the right moment for "stop".
            item.user_properties.append(("stop", repr(time.time())))
        return (yield)


def pytest_configure(config: pytest.Config) -> None:
    worker = _worker(config)
    template = os.environ.get(ENV_TEMPLATE)
    if template:
        # Per-worker isolation (DATABASE_URL=.../db_{worker}) can only be
        # expanded here, inside the worker, before test modules are imported.
        for key, value in json.loads(template).items():
            os.environ[key] = value.replace("{worker}", worker)
    if _enabled(config):
        config.pluginmanager.register(_Recorder(worker), "pollution-recorder")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    path = config.getoption("pollution_order")
    if not path:
        return
    with open(path, encoding="utf-8") as fh:
        wanted = [line.rstrip("\n") for line in fh if line.strip()]
    by_id: dict[str, pytest.Item] = {}
    for item in items:
        by_id.setdefault(item.nodeid, item)
    missing = [nodeid for nodeid in wanted if nodeid not in by_id]
    if missing:
        raise pytest.UsageError(
            f"--pollution-order {path}: {len(missing)} test(s) were not collected, first: {missing[0]!r}"
        )
    seen: set[str] = set()
    ordered = []
    for nodeid in wanted:
        if nodeid not in seen:
            seen.add(nodeid)
            ordered.append(by_id[nodeid])
    deselected = [item for item in items if item.nodeid not in seen]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = ordered


LOOP_LIMIT = 500  # runs of the selected tests at most, should FILE never appear


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    """Loop the selected tests inside this process until a file appears.

    A concurrent probe runs a victim beside other tests; looping in-process
    keeps the victim running the whole time, without start-up gaps between
    runs in which an interfering test could slip through unseen.
    """
    until = session.config.getoption("pollution_loop_until")
    if not until:
        return None
    if session.testsfailed or session.config.option.collectonly:
        return None
    for _ in range(LOOP_LIMIT):
        for item in session.items:
            init = getattr(item, "_initrequest", None)
            if init is not None:
                init()  # fresh fixture request per run, as rerun plugins do
            item.user_properties.clear()  # one run's worker/start/stop, not all of them
            item.config.hook.pytest_runtest_protocol(item=item, nextitem=None)
            if session.shouldfail or session.shouldstop:
                return True
        if os.path.exists(until):
            break
    return True


BARRIER_WAIT = 60.0


def pytest_collection_finish(session: pytest.Session) -> None:
    """Meet the other side of a concurrent probe once both sessions are set up.

    Session start-up (conftest hooks, fixtures' imports, collection) is over
    for both processes when they pass the barrier, so what one side's tests do
    meets the other side's tests, not its start-up.
    """
    barrier = session.config.getoption("pollution_barrier")
    if not barrier:
        return
    ready, _, wait = barrier.partition(",")
    if not session.config.getoption("pollution_loop_until"):
        _touch(ready)
    # The looping side says it is ready only once its first test is running
    # (pytest_runtest_call below): then its vulnerable window is open when
    # the other side's tests start, however short they are.
    deadline = time.monotonic() + BARRIER_WAIT
    while wait and not os.path.exists(wait) and time.monotonic() < deadline:
        time.sleep(0.005)


def _touch(path: str) -> None:
    with open(path, "w", encoding="utf-8"):
        pass


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    config = item.config
    barrier = config.getoption("pollution_barrier")
    if barrier and config.getoption("pollution_loop_until"):
        ready = barrier.partition(",")[0]
        if not os.path.exists(ready):
            _touch(ready)
