"""What a report says, computed once from a diagnosis output directory.

The HTML and Markdown renderers only lay out what :func:`load_report`
computes here, so both say the same thing with the same evidence.

A diagnosis directory holds ``result.json`` (:class:`~pollution.diagnosis.Diagnosis`),
and usually ``runs.parquet`` (the serial and parallel runs it started from)
and ``journal.jsonl`` (every probe).  Only ``result.json`` is required.
"""

from __future__ import annotations

import itertools
import json
import math
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pollution.bisect import Edge
from pollution.diagnosis import Diagnosis
from pollution.errors import InputError
from pollution.results import load_table

if TYPE_CHECKING:
    from pollution.graph import InterferenceGraph

FAILED = ("failed", "error")
LIVE = ("confirmed", "intermittent")  # edge statuses a report treats as found
SESSION_START = " (session start-up)"  # suffix of the pseudo polluter "module (session start-up)"
EXPORTS = {"json": "graph.json", "graphml": "graph.graphml", "dot": "graph.dot", "mermaid": "graph.mmd"}
MESSAGE_LINES = 4
MESSAGE_CHARS = 400


@dataclass(frozen=True)
class Probe:
    """One journal line, as far as a report needs it."""

    probe_id: str
    purpose: str
    tests: tuple[str, ...]
    beside: tuple[str, ...]
    repetition: int
    outcomes: Mapping[str, str]
    duration: float
    exit_code: int | None
    error: str | None


@dataclass(frozen=True)
class RunGroup:
    """The runs of one mode and worker count: a row of the headline table."""

    mode: str
    workers: int | None  # None: the report did not say
    run_ids: tuple[str, ...]
    tests: int  # distinct tests that ran (not skipped), most over the runs
    passed: tuple[int, ...]  # per run
    ran: tuple[int, ...]  # per run, not skipped
    wall: float | None  # median wall clock from start/stop, None without timing
    test_time: float  # median sum of test durations

    @property
    def pass_rate(self) -> float:
        total = sum(self.ran)
        return sum(self.passed) / total if total else math.nan


@dataclass(frozen=True)
class Culprit:
    """One polluter of one victim, with the evidence behind it."""

    edge: Edge
    probes: tuple[str, ...]  # probe ids of the confirmation runs
    command: str | None  # copy-paste reproduction, None when the runner has no recipe


@dataclass(frozen=True)
class VictimReport:
    victim: str
    culprits: tuple[Culprit, ...]
    rejected: tuple[Edge, ...]  # candidates that did not reproduce on re-runs
    groups: tuple[tuple[str, ...], ...]  # fails only beside these ranges, no single culprit
    unexplained: bool
    alone_runs: int
    alone_failures: int
    alone_probes: tuple[str, ...]
    parallel_runs: int | None
    parallel_failures: int | None
    message: str  # excerpt of the failure message in the parallel runs, "" if unknown
    suspects: tuple[Mapping[str, Any], ...] = ()  # without a runner: ranked from the runs alone


@dataclass(frozen=True)
class Fix:
    """A polluter to fix, with the victims it breaks."""

    polluter: str
    victims: tuple[str, ...]
    kinds: tuple[str, ...]
    module: bool


@dataclass
class ReportData:
    """Everything a report shows, computed from one diagnosis directory."""

    out_dir: Path
    diagnosis: Diagnosis
    table: pd.DataFrame | None
    diff: pd.DataFrame | None
    journal: dict[str, Probe]
    runner: str
    run_groups: list[RunGroup] = field(default_factory=list)
    victims: list[VictimReport] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)
    safe: list[str] = field(default_factory=list)
    involved: list[str] = field(default_factory=list)
    universe: int = 0
    _graph: InterferenceGraph | None = None

    @property
    def graph(self) -> InterferenceGraph:
        if self._graph is None:
            self._graph = self.diagnosis.graph()
        return self._graph

    @property
    def rerun(self) -> bool:
        """Whether a runner re-ran tests (False: suspects ranked from the runs alone)."""
        return bool(self.diagnosis.settings.get("runner"))

    @property
    def live_edges(self) -> list[Edge]:
        return [e for e in self.diagnosis.edges if e.status in LIVE]

    @property
    def polluters(self) -> list[str]:
        return [f.polluter for f in self.fixes]

    @property
    def nondeterministic(self) -> list[str]:
        return sorted(set(self.diagnosis.triage.nondeterministic) | set(self.diagnosis.nondeterministic))

    @property
    def parallel_runs(self) -> int:
        return sum(len(g.run_ids) for g in self.run_groups if g.mode == "parallel")

    def headline(self) -> str:
        """One sentence in the words of the incident: serial vs parallel, then the finding."""
        parts = []
        for group in self.run_groups:
            who = "serially" if group.mode == "serial" else _workers_phrase(group.workers)
            took = f" in {format_seconds(group.wall)}" if group.wall is not None else ""
            parts.append(f"{who}{took}, {passed_phrase(group)} passed")
        if self.rerun:
            found = (
                f"{len(self.victims)} victim(s) and {len(self.fixes)} polluter(s) found"
                + (f": fix {len(self.fixes)} test(s)" if self.fixes else "")
            )
        else:
            found = (f"{len(self.victims)} victim candidate(s); no runner was given, so suspects are "
                     "ranked from the runs alone and nothing is confirmed")
        sentence = "; ".join(parts + [found]) + "."
        return sentence[:1].upper() + sentence[1:]

    def snippet(self) -> tuple[str, str]:
        """(explanation, code) that keeps the involved tests apart, for this runner."""
        return isolation_snippet(self.runner, self.involved)


def load_report(out_dir: str | Path) -> ReportData:
    """Read a diagnosis directory and compute everything the reports show."""
    out = Path(out_dir)
    if not out.is_dir():
        raise InputError(f"{out}: not a directory (give the --out directory of pollution bisect)")
    diagnosis = Diagnosis.load(out / "result.json")
    table = load_table(out / "runs.parquet") if (out / "runs.parquet").exists() else None
    data = ReportData(
        out_dir=out, diagnosis=diagnosis, table=table, diff=_diff(table), journal=load_journal(out / "journal.jsonl"),
        runner=str(diagnosis.settings.get("runner") or "none"),
    )
    data.run_groups = run_groups(table) if table is not None else []
    data.victims = _victim_reports(data)
    data.fixes = fix_list(diagnosis.edges)
    data.involved, data.safe, data.universe = _parallel_plan(data)
    return data


# -- inputs -----------------------------------------------------------------


def load_journal(path: Path) -> dict[str, Probe]:
    """Probe id -> probe from ``journal.jsonl``; {} when there is none.

    A line cut short (the diagnosis was killed) is skipped, as ``--resume`` does.
    """
    if not path.exists():
        return {}
    probes: dict[str, Probe] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            probe = record["probe"]
            item = Probe(
                probe_id=f"p-{str(record['key'])[:10]}", purpose=str(probe["purpose"]),
                tests=tuple(probe["tests"]), beside=tuple(probe.get("beside", ())),
                repetition=int(probe.get("repetition", 0)), outcomes=dict(record.get("outcomes", {})),
                duration=float(record.get("duration", 0.0)), exit_code=record.get("exit_code"),
                error=record.get("error"),
            )
        except (ValueError, KeyError, TypeError):
            continue
        probes[item.probe_id] = item
    return probes


def _diff(table: pd.DataFrame | None) -> pd.DataFrame | None:
    if table is None or table.empty:
        return None
    from pollution.diff import diff_table

    try:
        return diff_table(table)
    except InputError:
        return None  # a runs table without both modes has nothing to compare


# -- the headline table -------------------------------------------------------


def run_groups(table: pd.DataFrame) -> list[RunGroup]:
    """Runs grouped by mode and worker count: serial first, then by workers."""
    per_run = [_run_facts(run_id, frame) for run_id, frame in table.groupby("run_id", sort=True)]
    groups: dict[tuple[str, int | None], list[dict[str, Any]]] = {}
    for facts in per_run:
        groups.setdefault((facts["mode"], facts["workers"]), []).append(facts)
    out = []
    for (mode, workers), runs in groups.items():
        walls = [r["wall"] for r in runs if r["wall"] is not None]
        out.append(
            RunGroup(
                mode=mode, workers=workers, run_ids=tuple(r["run_id"] for r in runs),
                tests=max(r["ran"] for r in runs), passed=tuple(r["passed"] for r in runs),
                ran=tuple(r["ran"] for r in runs), wall=_median(walls) if walls else None,
                test_time=_median([r["test_time"] for r in runs]),
            )
        )
    order = {"serial": 0, "parallel": 1}
    return sorted(out, key=lambda g: (order.get(g.mode, 2), g.workers or 0, g.mode))


def _run_facts(run_id: Any, frame: pd.DataFrame) -> dict[str, Any]:
    modes = frame["mode"].dropna().unique()
    mode = str(modes[0]) if len(modes) else "unknown"
    ran = frame[frame["outcome"] != "skipped"]
    workers_seen = frame["worker"].dropna().nunique()
    wall = None
    if frame["start"].notna().any() and frame["stop"].notna().any():
        wall = float(frame["stop"].max()) - float(frame["start"].min())
    return {
        "run_id": str(run_id), "mode": mode, "workers": int(workers_seen) or (1 if mode == "serial" else None),
        "ran": int(ran["test_id"].nunique()), "passed": int((ran["outcome"] == "passed").sum()),
        "wall": wall, "test_time": float(frame["duration"].fillna(0.0).sum()),
    }


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def passed_phrase(group: RunGroup) -> str:
    """``32/32`` for one run or equal runs, ``27-28/32`` over several.

    Examples
    --------
    >>> group = RunGroup("parallel", 4, ("p1", "p2"), 32, (27, 28), (32, 32), 61.0, 170.0)
    >>> passed_phrase(group), f"{group.pass_rate:.0%}"
    ('27-28/32', '86%')
    """
    low, high = min(group.passed), max(group.passed)
    passed = f"{low}" if low == high else f"{low}-{high}"
    return f"{passed}/{group.tests}"


def _workers_phrase(workers: int | None) -> str:
    return f"with {workers} workers" if workers else "in parallel"


def format_seconds(seconds: float | None) -> str:
    """``3.6 s``, ``3m30s``, ``1h02m``; an em dash for unknown.

    Examples
    --------
    >>> [format_seconds(s) for s in (0.042, 3.61, 210, 3720, None)]
    ['0.04 s', '3.6 s', '3m30s', '1h02m', '—']
    """
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "—"
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def run_label(run_id: str) -> str:
    """The last path component of a run id that is a directory path."""
    return run_id.rstrip("/").rsplit("/", 1)[-1] or run_id


# -- victims, with their evidence ------------------------------------------------


def _victim_reports(data: ReportData) -> list[VictimReport]:
    d = data.diagnosis
    edges: dict[str, list[Edge]] = {}
    for e in d.edges:
        edges.setdefault(e.victim, []).append(e)
    alone: dict[str, list[str]] = {}
    for p in sorted(data.journal.values(), key=lambda p: p.repetition):
        if p.purpose == "triage" and len(p.tests) == 1:
            alone.setdefault(p.tests[0], []).append(p.probe_id)
    messages = failure_excerpts(data.table, d.victims)
    unexplained = set(d.unexplained)
    out = []
    for victim in d.victims:
        mine = edges.get(victim, [])
        live = sorted((e for e in mine if e.status in LIVE), key=lambda e: (-e.confirmations, e.polluter))
        stats = d.stats.get(victim, {})
        out.append(VictimReport(
            victim=victim,
            culprits=tuple(Culprit(e, tuple(ev["probe"] for ev in e.evidence if "probe" in ev), reproduce(data, e))
                           for e in live),
            rejected=tuple(e for e in mine if e.status not in LIVE),
            groups=tuple(tuple(g) for g in d.groups.get(victim, [])),
            unexplained=victim in unexplained,
            alone_runs=int(d.triage.alone_runs.get(victim, 0)),
            alone_failures=int(d.triage.alone_failures.get(victim, 0)),
            alone_probes=tuple(alone.get(victim, [])),
            parallel_runs=stats.get("parallel_runs"), parallel_failures=stats.get("parallel_failures"),
            message=messages.get(victim, ""),
            suspects=tuple(d.suspects.get(victim, [])),
        ))
    return out


def failure_excerpts(table: pd.DataFrame | None, test_ids: Iterable[str]) -> dict[str, str]:
    """Test id -> the first lines of its failure message, from a parallel run
    where there is one (else any run); tests that never failed are left out."""
    if table is None:
        return {}
    rows = table[table["test_id"].isin(list(test_ids)) & table["outcome"].isin(list(FAILED))
                 & table["message"].notna()]
    rows = rows.assign(_serial=(rows["mode"] != "parallel").fillna(True).astype(bool))
    rows = rows.sort_values("_serial", kind="stable")  # parallel runs first
    first = rows.drop_duplicates("test_id")
    return {str(t): _excerpt(str(m)) for t, m in zip(first["test_id"], first["message"], strict=True)}


def _excerpt(message: str) -> str:
    lines = [line.rstrip() for line in message.splitlines() if line.strip()]
    text = "\n".join(lines[:MESSAGE_LINES])
    if len(text) > MESSAGE_CHARS:
        return text[: MESSAGE_CHARS - 1] + "…"
    return text + "\n…" if len(lines) > MESSAGE_LINES else text


def reproduce(data: ReportData, edge: Edge) -> str | None:
    """A command a person can paste to see the victim fail (pytest only)."""
    if data.runner != "pytest" or edge.polluter.endswith(SESSION_START):
        return None
    settings = data.diagnosis.settings
    extra = [str(a) for a in settings.get("extra_args", [])]
    if not _has_pair(extra, "-p", "no:randomly"):
        extra = ["-p", "no:randomly", *extra]
    env = _expanded_env(settings.get("env", {}))
    prefix = ["env", *(f"{k}={v}" for k, v in env.items())] if env else []
    if edge.kind == "sequential":
        return shlex.join([*prefix, "python", "-m", "pytest", *extra, edge.polluter, edge.victim])
    polluter = shlex.join([*prefix, "python", "-m", "pytest", *extra, edge.polluter])
    victim = shlex.join([*prefix, "python", "-m", "pytest", *extra, edge.victim])
    return f"{polluter} &\n{victim}; wait"


def _has_pair(args: Sequence[str], flag: str, value: str) -> bool:
    return any(a == flag and b == value for a, b in itertools.pairwise(args)) or f"{flag}{value}" in args


def _expanded_env(template: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v).replace("{probe}", "repro").replace("{worker}", "gw0") for k, v in template.items()}


# -- the plan -------------------------------------------------------------------


def fix_list(edges: Iterable[Edge]) -> list[Fix]:
    """Polluters by number of victims (most first, then by id)."""
    victims: dict[str, set[str]] = {}
    kinds: dict[str, set[str]] = {}
    modules: dict[str, bool] = {}
    for e in edges:
        if e.status not in LIVE:
            continue
        victims.setdefault(e.polluter, set()).add(e.victim)
        kinds.setdefault(e.polluter, set()).add(e.kind)
        modules[e.polluter] = modules.get(e.polluter, False) or e.module
    order = sorted(victims, key=lambda p: (-len(victims[p]), p))
    return [Fix(p, tuple(sorted(victims[p])), tuple(sorted(kinds[p])), modules[p]) for p in order]


def _parallel_plan(data: ReportData) -> tuple[list[str], list[str], int]:
    """(involved, safe, universe size): tests in any interference, and tests
    that passed every run and took part in none."""
    d = data.diagnosis
    everything = _all_tests(data)
    members = {m for groups in d.groups.values() for g in groups for m in g}
    named = {e.polluter for e in data.live_edges} | {e.victim for e in data.live_edges} | set(d.victims) | members
    # A polluting module takes all its tests along; a victim of session
    # start-up is involved by itself (the start-up is no test to keep apart).
    module_polluters = {e.polluter for e in data.live_edges if e.module}
    modules = {p for p in module_polluters if not p.endswith(SESSION_START)}
    involved = {t for t in named if not t.endswith(SESSION_START) and t not in module_polluters}
    involved |= {t for t in everything if module_of(t) in modules}
    involved_list = sorted(involved) + sorted(modules - involved)
    if not data.rerun:
        return involved_list, [], len(everything)  # nothing re-run: no test is known to be safe
    failing = _ever_failed(data)
    excluded = involved | set(data.nondeterministic) | set(d.triage.brittle) | set(d.triage.genuine) | failing
    safe = [t for t in everything if t not in excluded]
    return involved_list, safe, len(everything)


def _all_tests(data: ReportData) -> list[str]:
    d = data.diagnosis
    seen: dict[str, None] = {}
    if data.table is not None:
        seen.update(dict.fromkeys(str(t) for t in data.table["test_id"]))
    seen.update(dict.fromkeys(d.stats))
    for c in d.candidates.values():
        seen.update(dict.fromkeys(c.sequential))
    seen.update(dict.fromkeys(d.victims))
    return sorted(seen)


def _ever_failed(data: ReportData) -> set[str]:
    if data.table is None:
        return set()
    failed = data.table[data.table["outcome"].isin(list(FAILED))]
    return {str(t) for t in failed["test_id"]}


def module_of(test_id: str) -> str:
    """The module part of a test id (``tests/test_a.py`` of ``tests/test_a.py::test_x``)."""
    return test_id.split("::", 1)[0]


# The two pytest passes the snippet prints: everything else in parallel, then
# the involved tests serially (habit: every printed command is run by a test).
PYTEST_SPLIT = (
    ("python", "-m", "pytest", "-n", "auto", "-m", "not pollution_serial"),
    ("python", "-m", "pytest", "-p", "no:randomly", "-m", "pollution_serial"),
)


def isolation_snippet(runner: str, involved: Sequence[str]) -> tuple[str, str]:
    """(explanation, code) keeping the interfering tests from running in parallel."""
    if not involved:
        return "No test interferes with another: nothing to keep apart.", ""
    tests = [t for t in involved if "::" in t or runner != "pytest"]
    modules = [t for t in involved if "::" not in t] if runner == "pytest" else []
    if runner == "pytest":
        return _pytest_snippet(tests, modules)
    if runner == "ginkgo":
        return "Decorate these specs with Ginkgo's Serial decorator until they are fixed:", "\n".join(tests)
    if runner == "go":
        # A subtest runs in parallel only when its top-level test does: name that.
        names = dict.fromkeys(t.rsplit("::", 1)[-1].split("/", 1)[0] if "::" in t else f"every test in {t}"
                              for t in tests)
        return ("Remove t.Parallel() from these tests (or run their packages with -p 1) until they are fixed:",
                "\n".join(names))
    return "Run these tests serially, apart from the rest, until they are fixed:", "\n".join(tests)


def _pytest_snippet(tests: Sequence[str], modules: Sequence[str]) -> tuple[str, str]:
    lines = [
        "# conftest.py (merge into yours): mark the tests pollution found interfering, then",
        *(f"#   {shlex.join(argv)}" for argv in PYTEST_SPLIT),
        "# until they are fixed: the first runs everything else in parallel, the second",
        "# runs these serially, in collection order.",
        "import pytest",
        "",
        "POLLUTION_SERIAL = {",
        *(f"    {json.dumps(t, ensure_ascii=False)}," for t in tests),
        "}",
    ]
    if modules:
        lines += ["POLLUTION_SERIAL_MODULES = {", *(f"    {json.dumps(m, ensure_ascii=False)}," for m in modules), "}"]
    condition = "item.nodeid in POLLUTION_SERIAL"
    if modules:
        condition += ' or item.nodeid.split("::", 1)[0] in POLLUTION_SERIAL_MODULES'
    lines += [
        "",
        "",
        "def pytest_configure(config):",
        '    config.addinivalue_line("markers", "pollution_serial: interferes with other tests; run serially")',
        "",
        "",
        "@pytest.hookimpl(tryfirst=True)  # mark before -m selects",
        "def pytest_collection_modifyitems(config, items):",
        "    for item in items:",
        f"        if {condition}:",
        "            item.add_marker(pytest.mark.pollution_serial)",
    ]
    why = (
        "Until the polluters are fixed, run the involved tests apart: a marker selects them for a serial "
        "pass in collection order (the order in which the serial run passed), and everything else stays "
        "parallel. (pytest-xdist's xdist_group with --dist loadgroup would keep them on one worker instead, "
        "but pytest 9.2 silently ignores it: pytest-xdist issue 1386.)"
    )
    return why, "\n".join(lines)


def iter_cited_probes(data: ReportData) -> Iterator[Probe]:
    """The journal's probes that some claim of the report cites, in citation order."""
    seen: set[str] = set()
    for v in data.victims:
        for probe_id in (*v.alone_probes, *(p for c in v.culprits for p in c.probes)):
            if probe_id not in seen and probe_id in data.journal:
                seen.add(probe_id)
                yield data.journal[probe_id]
