"""``go test -json`` output (test2json event lines) -> the results table.

One row per test, subtests included (``TestSlug/simple``), with the id
``<package import path>::<TestName/sub>`` that go-junit-report and gotestsum
JUnit files of the same run get from :mod:`pollution.junit`.

What the stream tells, and how it maps:

- ``run`` starts a test: its time is ``start``, its rank among the package's
  ``run`` events is ``position``.  A ``t.Parallel()`` test pauses right after
  ``run`` and continues (``cont``) once the sequential tests are done; its
  start stays the ``run`` time, so its interval covers everything it could
  have overlapped.
- ``pass`` / ``fail`` / ``skip`` end it: ``stop`` is that time, ``duration``
  the event's ``Elapsed``.
- A test that started and never ended (the binary panicked outside it, hit
  ``-timeout``, or was killed) is an ``error``; its ``stop`` is the last event
  seen for its package.
- A package that failed although none of its tests failed (build failure,
  ``TestMain`` exit, a panic in ``init``) becomes one ``error`` row named
  ``TestMain``, as gotestsum names it.
- ``worker`` is ``<NA>``: go runs each package in one process and has no
  worker ids; parallel tests are goroutines of that process.

Lines that are not JSON (compiler errors when stderr was captured too) are
tolerated: ``# pkg`` headers attribute the lines after them to that package,
and ``FAIL\\tpkg [build failed]`` marks it failed.  A file with no event at
all is refused with :class:`~pollution.errors.ReportError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pollution.errors import ReportError
from pollution.results import COLUMNS, typed_table

MESSAGE_LIMIT = 4000  # characters of a test's output kept as its message
PACKAGE_ROW = "TestMain"  # the row for a package that failed outside its tests
_OUTCOMES = {"pass": "passed", "fail": "failed", "skip": "skipped"}
_FRAMING = ("=== RUN", "=== PAUSE", "=== CONT", "=== NAME")
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")
_HEADER = re.compile(r"^# (\S+)")
_BUILD_FAILED = re.compile(r"^FAIL\s+(\S+)\s+\[(build|setup) failed\]")


@dataclass
class _Test:
    package: str
    name: str
    start: float | None
    position: int | None
    outcome: str | None = None
    stop: float | None = None
    elapsed: float | None = None
    output: list[str] = field(default_factory=list)
    size: int = 0

    def add_output(self, text: str) -> None:
        if self.size < MESSAGE_LIMIT and not text.startswith(_FRAMING):
            self.output.append(text)
            self.size += len(text)


@dataclass
class _Package:
    name: str
    runs: int = 0
    outcome: str | None = None
    last: float | None = None
    output: list[str] = field(default_factory=list)
    size: int = 0
    build_failed: bool = False
    started: bool = False

    def add_output(self, text: str) -> None:
        if self.size < MESSAGE_LIMIT:
            self.output.append(text)
            self.size += len(text)


class _Stream:
    """The state of one test2json stream, fed one line at a time."""

    def __init__(self) -> None:
        self.tests: list[_Test] = []
        self.running: dict[tuple[str, str], _Test] = {}
        self.packages: dict[str, _Package] = {}
        self.events = 0
        self.text_package: str | None = None  # package of the last ``# pkg`` header

    def package(self, name: str) -> _Package:
        pkg = self.packages.get(name)
        if pkg is None:
            pkg = self.packages[name] = _Package(name)
        return pkg

    def feed(self, line: str) -> None:
        event = _event(line)
        if event is None:
            self.text(line)
            return
        self.events += 1
        action = event["Action"]
        name = event.get("Package")
        if not isinstance(name, str):
            self.build_event(event)
            return
        pkg = self.package(name)
        when = epoch(event.get("Time"))
        if when is not None:
            pkg.last = when
        test = event.get("Test")
        if not isinstance(test, str) or not test:
            self.package_event(pkg, action, event)
            return
        key = (name, test)
        if action == "run":
            row = _Test(name, test, when, pkg.runs)
            pkg.runs += 1
            self.tests.append(row)
            self.running[key] = row
            return
        found = self.running.get(key)
        if found is None:
            if action not in _OUTCOMES:
                return
            found = _Test(name, test, None, None)  # the stream began after its ``run``
            self.tests.append(found)
        row = found
        if action == "output":
            row.add_output(str(event.get("Output") or ""))
        elif action in _OUTCOMES:
            row.outcome = _OUTCOMES[action]
            row.stop = when
            row.elapsed = _number(event.get("Elapsed"))
            self.running.pop(key, None)

    def package_event(self, pkg: _Package, action: str, event: dict[str, Any]) -> None:
        if action == "start":
            pkg.started = True
        elif action == "output":
            pkg.add_output(str(event.get("Output") or ""))
        elif action in _OUTCOMES:
            pkg.outcome = _OUTCOMES[action]
            if event.get("FailedBuild"):
                pkg.build_failed = True

    def build_event(self, event: dict[str, Any]) -> None:
        # go >= 1.24: {"ImportPath": "pkg [pkg.test]", "Action": "build-output" | "build-fail"}
        path = event.get("ImportPath")
        if not isinstance(path, str) or not path:
            return
        pkg = self.package(path.split(" ")[0])
        if event["Action"] == "build-output":
            pkg.add_output(str(event.get("Output") or ""))
        elif event["Action"] == "build-fail":
            pkg.build_failed = True

    def text(self, line: str) -> None:
        stripped = line.rstrip("\r\n")
        if not stripped.strip():
            return
        header = _HEADER.match(stripped)
        if header:
            self.text_package = header.group(1)
        failed = _BUILD_FAILED.match(stripped)
        if failed:
            pkg = self.package(failed.group(1))
            pkg.build_failed = True
            pkg.outcome = "failed"
            pkg.add_output(stripped + "\n")
        elif self.text_package is not None:
            self.package(self.text_package).add_output(stripped + "\n")


def _event(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        event = json.loads(text)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("Action"), str):
        return None
    return event


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def epoch(stamp: Any) -> float | None:
    """RFC 3339 with nanoseconds (Go's ``time.RFC3339Nano``) -> epoch seconds.

    >>> epoch("2026-11-25T20:33:08.5Z") - epoch("2026-11-25T21:33:08+01:00")
    0.5
    """
    if not isinstance(stamp, str):
        return None
    m = _STAMP.match(stamp)
    if m is None:
        return None
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    try:
        whole = datetime.fromisoformat(m.group(1) + zone).timestamp()
    except ValueError:
        return None
    return whole + float("0" + m.group(2)) if m.group(2) else whole


def _message(lines: list[str]) -> str | None:
    text = "".join(lines).strip()
    return text[:MESSAGE_LIMIT] or None


# --------------------------------------------------------------------------
# Public API


def parse_gotest_lines(
    lines: Iterable[str], *, run_id: str, mode: str | None = None, source: str | None = None
) -> pd.DataFrame:
    """The results table of a ``go test -json`` stream given as lines.

    >>> lines = [
    ...     '{"Time":"2026-11-25T20:33:08.1Z","Action":"run","Package":"m/p","Test":"TestA"}',
    ...     '{"Time":"2026-11-25T20:33:08.3Z","Action":"fail","Package":"m/p","Test":"TestA","Elapsed":0.2}',
    ... ]
    >>> table = parse_gotest_lines(lines, run_id="r1")
    >>> table[["test_id", "outcome", "duration", "position"]].to_dict("records")
    [{'test_id': 'm/p::TestA', 'outcome': 'failed', 'duration': 0.2, 'position': 0}]

    Raises :class:`ReportError` when no line is a test2json event and no
    build failure can be read from the text either.
    """
    stream = _Stream()
    count = 0
    for line in lines:
        count += 1
        stream.feed(line)
    where = source or "<go test -json>"
    if count == 0:
        raise ReportError(where, "empty file, not `go test -json` output", line=1)
    if stream.events == 0 and not any(p.build_failed for p in stream.packages.values()):
        raise ReportError(
            where, "no `go test -json` event in this file (was it written by `go test -json`?)", line=1
        )
    return _table(stream, run_id=run_id, mode=mode, source=source)


def load_gotest_json(path: str | Path, *, run_id: str | None = None, mode: str | None = None) -> pd.DataFrame:
    """Read a file of ``go test -json`` output into the results table.

    ``run_id`` defaults to the path.  Invalid UTF-8 is replaced, not fatal.
    """
    path = Path(path)
    try:
        with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
            return parse_gotest_lines(fh, run_id=run_id or path.as_posix(), mode=mode, source=str(path))
    except OSError as exc:
        raise ReportError(str(path), exc.strerror or str(exc)) from None


def _table(stream: _Stream, *, run_id: str, mode: str | None, source: str | None) -> pd.DataFrame:
    cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}

    def add(**values: Any) -> None:
        values.update(run_id=run_id, mode=mode, worker=None, reruns=0, seq=len(cols["seq"]),
                      runner="go", source=source)
        for column in COLUMNS:
            cols[column].append(values.get(column))

    troubled: set[str] = set()
    for test in stream.tests:
        pkg = stream.packages[test.package]
        outcome, stop, duration = test.outcome, test.stop, test.elapsed
        if outcome is None:  # started, never ended: panic, timeout or kill
            outcome, stop = "error", pkg.last
            if test.start is not None and stop is not None:
                duration = stop - test.start
        if outcome in ("failed", "error"):
            troubled.add(test.package)
        message = None
        if outcome != "passed":
            message = _message(test.output)
            if test.outcome is None:
                message = f"test did not finish (panic, timeout or killed)\n{message or ''}".strip()
        add(test_id=f"{test.package}::{test.name}", suite=test.package, classname=test.package,
            name=test.name, file=None, outcome=outcome, duration=duration, start=test.start,
            stop=stop, position=test.position, message=message)
    for pkg in stream.packages.values():
        failed = pkg.outcome == "failed" or pkg.build_failed or (pkg.outcome is None and pkg.started)
        if failed and pkg.name not in troubled:
            reason = "build failed" if pkg.build_failed else "package failed outside its tests"
            if pkg.outcome is None:
                reason = "package did not finish"
            body = _message(pkg.output)
            add(test_id=f"{pkg.name}::{PACKAGE_ROW}", suite=pkg.name, classname=pkg.name,
                name=PACKAGE_ROW, file=None, outcome="error", duration=None, start=None,
                stop=pkg.last, position=None, message=f"{reason}\n{body or ''}".strip())
    return typed_table(cols)
