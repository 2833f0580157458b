"""Streaming, entity-safe JUnit XML (and Ginkgo JSON) -> the results table.

Reports from CI artifacts are untrusted: a document type declaration is
refused before the parser sees it (no entity expansion, no external entities),
the parser itself runs with ``resolve_entities=False`` and ``no_network=True``,
and elements are cleared as soon as they are read so memory stays flat
whatever the size of captured output.
"""

from __future__ import annotations

import gc
import glob
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped]
from lxml import etree

from pollution import identity
from pollution.errors import ReportError
from pollution.results import COLUMNS, SCHEMA, typed_table

MESSAGE_LIMIT = 4000  # characters of failure text kept when there is no message attribute
_HEAD_BYTES = 64 * 1024
_GLOB_CHARS = re.compile(r"[*?\[]")
_FAIL_TAGS = {"failure": "failed", "error": "error"}
_RERUN_TAGS = {"flakyFailure", "flakyError", "rerunFailure", "rerunError"}
_SKIP_STATUS = {"skipped", "notrun", "disabled", "pending", "ignored"}
_FAIL_STATUS = {"fail", "failed", "failure", "timedout"}
_ERROR_STATUS = {"error", "panicked", "interrupted", "aborted"}


@dataclass(frozen=True)
class RunSource:
    """The files that make up one run."""

    run_id: str
    files: tuple[Path, ...]
    mode: str | None = None


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass
class Ingested:
    table: pd.DataFrame
    skipped: list[SkippedFile] = field(default_factory=list)


_ARROW_TYPES = {"string": pa.large_string(), "Float64": pa.float64(), "Int64": pa.int64()}
_CHUNK_ROWS = 32_768
# Columns that stay the same over a whole suite (or file): stored once per
# segment, not once per row.  ``seq`` counts up by one per row in a segment.
_SEGMENT_COLUMNS = ("run_id", "mode", "suite", "runner", "source")
_ROW_COLUMNS = tuple(c for c in COLUMNS if c not in _SEGMENT_COLUMNS and c != "seq")
_ROW_INDEX = [COLUMNS.index(c) for c in _ROW_COLUMNS]
_SEGMENT_INDEX = [COLUMNS.index(c) for c in _SEGMENT_COLUMNS]
_SEQ_INDEX = COLUMNS.index("seq")


@dataclass
class _Segment:
    first_row: int
    first_seq: int
    values: tuple[Any, ...]  # in _SEGMENT_COLUMNS order


class _Columns:
    """Rows buffered as short tuples and moved into Arrow columns every ``_CHUNK_ROWS``.

    One tuple append per row is much cheaper than one list append per column,
    and flushing to Arrow bounds the Python objects alive at once: memory is
    the compact Arrow columns plus one chunk of rows, whatever the report size.
    The columns that are the same for a whole suite live in segments and are
    expanded in C when the table is built, so the hot loop never touches them.
    """

    def __init__(self) -> None:
        self._rows: list[tuple[Any, ...]] = []
        self._chunks: list[list[pa.Array]] = []  # per chunk, one array per row column
        self._flushed = 0
        self._types = [_ARROW_TYPES[SCHEMA[c]] for c in _ROW_COLUMNS]
        self._struct = pa.struct([pa.field(c, t) for c, t in zip(_ROW_COLUMNS, self._types)])
        self._segments: list[_Segment] = []

    def segment(self, seq: int, run_id: str, mode: str | None, suite: str | None, runner: str, source: str) -> None:
        """Start a segment: the rows that follow share these values, and
        their ``seq`` counts up from ``seq``."""
        values = (run_id, mode, suite, runner, source)
        at = len(self)
        if self._segments:
            last = self._segments[-1]
            if last.values == values and last.first_seq + (at - last.first_row) == seq:
                return
            if last.first_row == at:
                self._segments.pop()
        self._segments.append(_Segment(at, seq, values))

    def add(self, *values: Any) -> None:
        """Add one row given in ``COLUMNS`` order (the slow, general path)."""
        self.segment(values[_SEQ_INDEX], *(values[i] for i in _SEGMENT_INDEX))
        self.append(tuple(values[i] for i in _ROW_INDEX))

    def append(self, row: tuple[Any, ...]) -> None:
        """Add one row of the current segment (values in ``_ROW_COLUMNS`` order)."""
        rows = self._rows
        rows.append(row)
        if len(rows) >= _CHUNK_ROWS:
            self._flush()

    def __len__(self) -> int:
        return self._flushed + len(self._rows)

    def pending(self) -> list[tuple[Any, ...]]:
        """The row buffer itself, for a hot loop that appends and calls :meth:`flush`."""
        return self._rows

    def flush(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if self._rows:
            # Arrow reads the row tuples as structs: the transposition happens in C.
            self._chunks.append(pa.array(self._rows, type=self._struct).flatten())
            self._flushed += len(self._rows)
            self._rows.clear()

    def truncate(self, n: int) -> None:
        while self._segments and self._segments[-1].first_row >= n:
            self._segments.pop()
        if n >= self._flushed:
            del self._rows[n - self._flushed:]
            return
        self._rows.clear()
        kept: list[list[pa.Array]] = []
        total = 0
        for chunk in self._chunks:
            size = len(chunk[0])
            if total + size > n:
                if n > total:
                    kept.append([a.slice(0, n - total) for a in chunk])
                break
            kept.append(chunk)
            total += size
        self._chunks, self._flushed = kept, n

    def table(self) -> pd.DataFrame:
        self._flush()
        total = self._flushed
        starts = np.array([s.first_row for s in self._segments] + [total], dtype=np.int64)
        lengths = np.diff(starts)
        which = pa.array(np.repeat(np.arange(len(self._segments), dtype=np.int32), lengths))
        columns: dict[str, Any] = {}
        for j, name in enumerate(_SEGMENT_COLUMNS):
            values = pa.array([s.values[j] for s in self._segments], type=pa.large_string())
            columns[name] = pd.array(values.take(which), dtype="string")
        first_seq = np.array([s.first_seq for s in self._segments], dtype=np.int64)
        offsets = np.arange(total, dtype=np.int64) - np.repeat(starts[:-1], lengths)
        columns["seq"] = pd.array(np.repeat(first_seq, lengths) + offsets, dtype="Int64")
        for i, (name, arrow_type) in enumerate(zip(_ROW_COLUMNS, self._types)):
            chunked = pa.chunked_array([chunk[i] for chunk in self._chunks], type=arrow_type)
            columns[name] = pd.array(chunked, dtype=SCHEMA[name])  # no copy for strings
        self._chunks = []
        return typed_table(columns)


# --------------------------------------------------------------------------
# Public API


def load_junit(
    paths: str | Path | Iterable[str | Path],
    *,
    mode: str | None = None,
    run_id: str | None = None,
    keep_going: bool = False,
) -> pd.DataFrame:
    """Read JUnit XML / Ginkgo JSON reports into the results table.

    ``paths`` may be files, directories (walked; see :func:`find_runs`) or
    glob patterns.  ``mode`` labels every run (``"serial"``, ``"parallel"``);
    ``run_id`` makes all the given files one run.  With ``keep_going`` a bad
    file is skipped and listed in ``table.attrs["skipped"]`` instead of
    raising :class:`~pollution.errors.ReportError`.
    """
    result = ingest(paths, mode=mode, run_id=run_id, keep_going=keep_going)
    result.table.attrs["skipped"] = [(s.path, s.reason) for s in result.skipped]
    return result.table


def ingest(
    paths: str | Path | Iterable[str | Path],
    *,
    mode: str | None = None,
    run_id: str | None = None,
    keep_going: bool = False,
) -> Ingested:
    runs = find_runs(paths, mode=mode)
    if run_id is not None:
        files = tuple(f for r in runs for f in r.files)
        runs = [RunSource(run_id, files, mode if mode is not None else _single_mode(runs))]
    sink = _Columns()
    skipped: list[SkippedFile] = []
    # Reading allocates one tuple per test case, none of them in a cycle; the
    # cyclic collector would rescan the growing buffer over and over for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for run in runs:
            seq = 0
            for path in run.files:
                before = len(sink)
                try:
                    seq = parse_file(path, sink, run_id=run.run_id, mode=run.mode, seq=seq)
                except ReportError as exc:
                    if not keep_going:
                        raise
                    sink.truncate(before)  # nothing half-read from a bad file
                    skipped.append(SkippedFile(str(path), str(exc)))
        table = sink.table()
    finally:
        if collecting:
            gc.enable()
    return Ingested(table, skipped)


def find_runs(paths: str | Path | Iterable[str | Path], *, mode: str | None = None) -> list[RunSource]:
    """Expand arguments into runs.

    A file is a run.  A directory holding a ``manifest.json`` written by
    ``pollution run`` yields the runs it lists.  Otherwise a directory is
    walked: ``TEST-*.xml`` files (Surefire, Failsafe, Gradle, sbt: one file
    per class) in one folder form one run; every other report file is a run
    of its own.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    runs: list[RunSource] = []
    for raw in paths:
        text = str(raw)
        if not text.strip():
            raise ReportError(repr(text), "empty path: name a report file, a directory or a glob")
        path = Path(text)
        if path.is_dir():
            runs.extend(_runs_in_directory(path, mode))
        elif path.is_file():
            runs.append(RunSource(_run_name(path), (path,), mode))
        elif _GLOB_CHARS.search(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise ReportError(text, "no file matches this pattern")
            runs.extend(find_runs(matches, mode=mode))
        else:
            raise ReportError(text, "no such file or directory")
    return runs


def _single_mode(runs: list[RunSource]) -> str | None:
    modes = {r.mode for r in runs}
    return modes.pop() if len(modes) == 1 else None


def _run_name(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _runs_in_directory(root: Path, mode: str | None) -> list[RunSource]:
    manifest = root / "manifest.json"
    if manifest.is_file():
        return _runs_from_manifest(manifest, mode)
    runs: list[RunSource] = []
    per_class: dict[Path, list[Path]] = {}
    candidates = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".xml", ".json"))
    ginkgo_stems = {
        (p.parent, p.name.split(".")[0]) for p in candidates if p.suffix == ".json" and _is_ginkgo_json(p)
    }
    for path in candidates:
        if path.suffix == ".json":
            if (path.parent, path.name.split(".")[0]) in ginkgo_stems or _is_gotest_file(path):
                runs.append(RunSource(_run_name(path), (path,), mode))
            continue
        if (path.parent, path.name.split(".")[0]) in ginkgo_stems:
            continue  # the JSON report of the same Ginkgo run says more
        if _foreign_xml(path):
            continue  # pom.xml, testng-results.xml...: found by walking, not named by the user
        if path.name.startswith("TEST-"):
            per_class.setdefault(path.parent, []).append(path)
        else:
            runs.append(RunSource(_run_name(path), (path,), mode))
    for folder, files in per_class.items():
        runs.append(RunSource(_run_name(folder), tuple(files), mode))
    if not runs:
        raise ReportError(str(root), "no JUnit XML or Ginkgo JSON report in this directory")
    return sorted(runs, key=lambda r: r.run_id)


_DOCTYPE = re.compile(rb"<!DOCTYPE\s[^\[>]*(?:\[.*?\]\s*)?>", re.S)


def _foreign_xml(path: Path) -> bool:
    """An XML file whose root element is plainly not a JUnit one.

    Only for walking directories: anything undecidable (binary, unreadable, a
    ``<testsuite>`` behind a DTD) stays a candidate, so it is refused loudly
    when parsed.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="replace").encode("utf-8")
    pos = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    while m := _PROLOG_SKIP.match(head, pos) or _DOCTYPE.match(head, pos):
        pos = m.end()
    m = _ROOT.match(head, pos)
    return m is not None and m.group(2) not in (b"testsuites", b"testsuite")


def _runs_from_manifest(manifest: Path, mode: str | None) -> list[RunSource]:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        entries = data["runs"]
        runs = []
        for entry in entries:
            files = tuple(manifest.parent / f for f in entry["reports"])
            # Prefixed with the directory: two campaigns both have a "serial-1".
            run_id = f"{_run_name(manifest.parent)}/{entry['run_id']}"
            runs.append(RunSource(run_id, files, mode or entry.get("mode")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReportError(str(manifest), f"not a pollution run manifest ({exc})") from None
    return runs


# --------------------------------------------------------------------------
# One file


def parse_file(
    path: Path, sink: _Columns, *, run_id: str, mode: str | None, seq: int = 0
) -> int:
    """Append the rows of one report file to ``sink``; return the next ``seq``."""
    head = _read_head(path)
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if _is_gotest_json(start):
        return _parse_gotest_json(path, sink, run_id=run_id, mode=mode, seq=seq)
    if start.startswith((b"[", b"{")):
        return _parse_ginkgo_json(path, sink, run_id=run_id, mode=mode, seq=seq)
    _check_prolog(head, path)
    return _parse_xml(path, sink, run_id=run_id, mode=mode, seq=seq)


def _read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise ReportError(str(path), exc.strerror or str(exc)) from None
    if not head.strip():
        raise ReportError(str(path), "empty file, not a JUnit XML report", line=1)
    return head


_PROLOG_SKIP = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.S)
_ROOT = re.compile(rb"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")


def _check_prolog(head: bytes, path: Path) -> None:
    """Refuse DTDs and non-JUnit roots before the parser reads anything."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="replace").encode("utf-8")
    pos = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    while m := _PROLOG_SKIP.match(head, pos):
        pos = m.end()
    line = head.count(b"\n", 0, pos) + 1
    rest = head[pos:]
    if rest[:9].upper() == b"<!DOCTYPE":
        raise ReportError(
            str(path), "refused: document type declarations (DTD, entities) are not allowed in JUnit reports", line
        )
    m = _ROOT.match(rest)
    if m is None:
        raise ReportError(str(path), "not XML (expected a <testsuites> or <testsuite> element)", line)
    root = m.group(2).decode()
    if root not in ("testsuites", "testsuite"):
        raise ReportError(str(path), f"not a JUnit report: root element is <{root}>, expected <testsuites> or <testsuite>", line)


@dataclass
class _Suite:
    name: str | None
    runner: str
    file: str | None
    worker: str | None
    jest: bool


def _parse_xml(path: Path, sink: _Columns, *, run_id: str, mode: str | None, seq: int) -> int:
    source = str(path)
    rows = sink.pending()
    add_row = rows.append
    chunk = _CHUNK_ROWS
    pytest_prefix: dict[Any, tuple[str, str | None]] = {}
    suite_elem: Any = None
    suite = _Suite(None, "junit", None, None, False)
    ids = identity.IdCache()
    runner, suite_name, suite_worker = suite.runner, suite.name, suite.worker
    context = etree.iterparse(
        source,
        events=("end",),
        tag=("testcase", "testsuite"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,  # captured output can exceed libxml2's 10 MB text limit
        remove_comments=True,
    )
    try:
        for _event, elem in context:
            parent = elem.getparent()
            if elem.tag == "testsuite":
                elem.clear(keep_tail=False)
                if parent is not None:
                    while elem.getprevious() is not None:
                        del parent[0]
                continue
            if parent is not suite_elem:
                suite_elem = parent
                suite = _suite_info(parent, path)
                runner, suite_name, suite_worker = suite.runner, suite.name, suite.worker
                sink.segment(seq, run_id, mode, suite_name, runner, source)
            get = elem.get
            name = get("name") or ""
            classname = get("classname") or get("class") or None
            status = get("status")
            if len(elem) or status:
                outcome, message, reruns, props = _case_children(elem, status)
            else:
                outcome, message, reruns, props = "passed", None, 0, None
            raw_time = get("time") or get("duration")
            try:
                duration = float(raw_time) if raw_time else None
            except ValueError:
                duration = _float(raw_time)
            file = get("file") or suite.file
            if props:
                start = _float(props.get("start"))
                stop = _float(props.get("stop"))
                worker = props.get("worker")
                position = _int(props.get("position"))
                test_id = props.get("nodeid")
            else:
                start = stop = worker = position = test_id = None
            if start is None:
                stamp = get("timestamp")
                if stamp:
                    start = _iso_epoch(stamp)
                elif runner == "ginkgo":
                    start = identity.ginkgo_timeline_start(elem)
                if start is not None and duration is not None:
                    stop = start + duration
            if runner == "pytest":  # first: the common case, kept inline for speed
                key = classname if file is None else (classname, file)  # no tuple for plain reports
                known = pytest_prefix.get(key)
                if known is None:
                    known = pytest_prefix[key] = (ids.pytest(classname, "", file), file or ids.pytest_file(classname, None))
                if test_id is None:
                    test_id = known[0] + name
                file = known[1]
            elif runner == "ginkgo":
                if identity.is_ginkgo_suite_node(name):
                    elem.clear(keep_tail=False)
                    if outcome == "passed" or outcome == "skipped":
                        continue  # per-process setup nodes; they are not tests
                test_id = test_id or ids.ginkgo(suite_name, name)
            elif runner == "jvm":
                test_id = test_id or f"{classname or suite_name}#{name}"
            else:
                test_id = test_id or ids.generic(suite_name if suite.jest else None, file, classname, suite_name, name)
            if not test_id or test_id.endswith("::") or not name:
                # A case without a name still ran; give it a positional id, not a guess.
                test_id = f"{test_id or suite_name or ''}<unnamed case {seq}>"
            add_row((
                test_id, classname, name, file, outcome, duration,
                worker or suite_worker, start, stop, position, message, reruns,
            ))
            seq += 1
            if len(rows) >= chunk:
                sink.flush()
            elem.clear(keep_tail=False)
            while elem.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        line, msg = _syntax_error(exc, source)
        if "Entity" in msg or "entity" in msg:
            msg = f"refused or undefined entity reference ({msg})"
        raise ReportError(source, f"malformed XML: {msg}", line) from None
    except OSError as exc:
        raise ReportError(source, str(exc)) from None
    return seq


def _syntax_error(exc: etree.XMLSyntaxError, source: str) -> tuple[int | None, str]:
    """Line and message of a parse error.

    With ``resolve_entities=False`` lxml's iterparse reports some fatal errors
    (an undefined ``&foo;``) as "no element found" at line 0; its error log,
    shared between parses, still holds the real one as its last fatal entry
    for this file.
    """
    if exc.lineno and exc.msg and exc.msg != "no element found":
        return exc.lineno, exc.msg
    log: Any = exc.error_log  # lxml-stubs leave _ErrorLog empty
    fatal = [e for e in log.filter_from_fatals() if e.filename == source]
    if fatal:
        return fatal[-1].line or None, fatal[-1].message
    return exc.lineno or None, exc.msg or str(exc)


def _case_children(elem: Any, status: str | None) -> tuple[str, str | None, int, dict[str, str] | None]:
    outcome = "passed"
    message: str | None = None
    reruns = 0
    props: dict[str, str] | None = None
    for child in elem:
        tag = child.tag
        if tag in _FAIL_TAGS:
            if outcome != "failed":  # a failure outranks an error in the same case
                outcome = _FAIL_TAGS[tag]
                message = _message(child)
        elif tag == "skipped":
            if outcome == "passed":
                outcome = "skipped"
                message = child.get("message") or None
        elif tag in _RERUN_TAGS:
            reruns += 1
        elif tag == "properties":
            props = {p.get("name"): p.get("value") for p in child if p.get("name") is not None}
    if outcome == "passed" and status:
        low = status.lower()
        if low in _SKIP_STATUS:
            outcome = "skipped"
        elif low in _FAIL_STATUS:
            outcome = "failed"
        elif low in _ERROR_STATUS:
            outcome = "error"
    return outcome, message, reruns, props


def _message(elem: Any) -> str | None:
    text = elem.get("message")
    if not text:
        body = elem.text
        if body is None:
            return None
        text = body.strip()[:MESSAGE_LIMIT]
    return text or None


def _suite_info(suite: Any, path: Path) -> _Suite:
    if suite is None or suite.tag != "testsuite":
        return _Suite(None, "junit", None, None, False)
    props: dict[str, str] = {}
    for child in suite:
        if child.tag == "properties":
            props.update({p.get("name"): p.get("value") for p in child if p.get("name") is not None})
    root = suite.getroottree().getroot()
    name = suite.get("name")
    runner = identity.detect_runner(path.name, name, root, props, suite)
    worker = props.get("surefire.forkNumber") or props.get("worker")
    return _Suite(name, runner, suite.get("file"), worker, runner == "jest")


def _float(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value.replace(",", ""))
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _iso_epoch(stamp: str) -> float | None:
    text = stamp.strip().replace(" UTC", "+00:00")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        # Naive stamps are the producer's local time; UTC keeps runs from one
        # machine comparable with each other, which is all co-scheduling needs.
        moment = moment.replace(tzinfo=timezone.utc)
    if moment.year < 1971:
        return None  # Ginkgo and others write 0001-01-01 for "unknown"
    return moment.timestamp()


# --------------------------------------------------------------------------
# go test -json (test2json events, one JSON object a line)


def _is_gotest_json(head: bytes) -> bool:
    first = head.split(b"\n", 1)[0]
    return first.startswith(b"{") and b'"Action"' in first


def _parse_gotest_json(path: Path, sink: _Columns, *, run_id: str, mode: str | None, seq: int) -> int:
    from pollution.gojson import load_gotest_json

    table = load_gotest_json(path, run_id=run_id, mode=mode)
    for row in table.itertuples(index=False):
        values = list(row)
        values[COLUMNS.index("seq")] = seq
        sink.add(*(None if v is pd.NA else v for v in values))
        seq += 1
    return seq


# --------------------------------------------------------------------------
# Ginkgo's JSON report


def _is_gotest_file(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return _is_gotest_json(fh.read(4096).lstrip())
    except OSError:
        return False


def _is_ginkgo_json(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return head.lstrip().startswith(b"[") and b"SuiteDescription" in head


_GINKGO_STATE = {
    "passed": "passed",
    "skipped": "skipped",
    "pending": "skipped",
    "failed": "failed",
    "timedout": "failed",
    "panicked": "error",
    "aborted": "error",
    "interrupted": "error",
}


def _parse_ginkgo_json(path: Path, sink: _Columns, *, run_id: str, mode: str | None, seq: int) -> int:
    source = str(path)
    try:
        with path.open("rb") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ReportError(source, f"malformed JSON: {exc.msg}", exc.lineno) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(source, str(exc)) from None
    if not isinstance(data, list) or not all(isinstance(s, dict) and "SpecReports" in s for s in data):
        raise ReportError(source, "not a Ginkgo JSON report (expected a list of suite reports with SpecReports)", 1)
    for suite in data:
        seq = _ginkgo_suite(suite, sink, run_id, mode, seq, source)
    return seq


def _ginkgo_suite(suite: dict[str, Any], sink: _Columns, run_id: str, mode: str | None, seq: int, source: str) -> int:
    description = suite.get("SuiteDescription") or ""
    specs = suite.get("SpecReports") or []
    rows = []
    for spec in specs:
        leaf_type = spec.get("LeafNodeType") or "It"
        state = spec.get("State") or "passed"
        outcome = _GINKGO_STATE.get(state, "error")
        if leaf_type != "It" and outcome in ("passed", "skipped"):
            continue  # per-process suite setup: not a test
        texts = [*(spec.get("ContainerHierarchyTexts") or []), spec.get("LeafNodeText") or ""]
        spec_text = " ".join(t for t in texts if t)
        if leaf_type != "It":
            spec_text = f"[{leaf_type}] {spec_text}".rstrip()
        start = _iso_epoch(spec.get("StartTime") or "")
        stop = _iso_epoch(spec.get("EndTime") or "")
        run_time = spec.get("RunTime")
        duration = run_time / 1e9 if isinstance(run_time, (int, float)) else None
        process = spec.get("ParallelProcess")
        worker = str(process) if process else None
        failure = spec.get("Failure") or {}
        message = failure.get("Message") or None
        location = (spec.get("LeafNodeLocation") or {}).get("FileName")
        rows.append((start, worker, spec_text, outcome, duration, stop, message, location, spec))
    # Position on each process follows start time; specs never started keep <NA>.
    order: dict[int, int] = {}
    started = [i for i, r in enumerate(rows) if r[0] is not None and r[1] is not None]
    counters: dict[str, int] = {}
    for i in sorted(started, key=lambda i: rows[i][0]):  # type: ignore[arg-type,return-value]
        worker = rows[i][1]
        order[i] = counters.get(worker, 0)  # type: ignore[arg-type]
        counters[worker] = order[i] + 1  # type: ignore[index]
    for i, (start, worker, spec_text, outcome, duration, stop, message, location, spec) in enumerate(rows):
        position = order.get(i)
        test_id = identity.ginkgo_id(description, spec_text)
        sink.add(
            run_id, mode, test_id, description, description, spec.get("LeafNodeText") or spec_text,
            location, outcome, duration, worker, start, stop, position, message,
            max(0, int(spec.get("NumAttempts") or 1) - 1), seq, "ginkgo", source,
        )
        seq += 1
    return seq
