"""The interference graph: which test breaks which.

An :class:`InterferenceGraph` wraps a :class:`networkx.DiGraph` whose nodes are
test ids (or whole modules, when a module pollutes at import or collection
time) and whose edges point from a *polluter* to its *victim*:

==================  ============================================================
word                meaning
==================  ============================================================
victim              passes alone and serially, fails when another test ran
                    before it (``sequential``) or beside it (``concurrent``)
polluter            a test whose run makes a victim fail
brittle             fails alone, passes only after a *state-setter* ran
cleaner             run between a polluter and its victim, makes the victim pass
nondeterministic    fails sometimes whatever the order (NOD flaky)
==================  ============================================================

Each edge carries its evidence: ``kind`` (``sequential`` or ``concurrent``),
``status`` (``confirmed``, ``intermittent`` or ``unconfirmed``),
``confirmations`` out of ``attempts`` re-runs, and the probes behind it.
Cleaner and state-setter relations are kept beside the graph, not as edges,
so that every edge of :attr:`InterferenceGraph.graph` is interference.

Examples
--------
>>> g = InterferenceGraph()
>>> g.add_edge("t.py::test_a", "t.py::test_b", "sequential", confirmations=3, attempts=3)
>>> g.add_edge("t.py::test_a", "u.py::test_c", "concurrent", confirmations=2, attempts=3,
...            status="intermittent")
>>> g.top_polluters()[["polluter", "n_victims"]].to_dict("records")
[{'polluter': 't.py::test_a', 'n_victims': 2}]
>>> print(g.export("mermaid"), end="")
flowchart LR
  n0["t.py::test_a"]
  n1["t.py::test_b"]
  n2["u.py::test_c"]
  n0 --> n1
  n0 -.->|"intermittent"| n2
  classDef polluter fill:#ff7f0e,stroke:#7f3f00,color:#000
  classDef victim fill:#d62728,stroke:#6b1010,color:#fff
  class n0 polluter
  class n1,n2 victim
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx  # type: ignore[import-untyped, unused-ignore]
import numpy as np
import pandas as pd

from pollution.errors import InputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "FORMATS",
    "KINDS",
    "ROLES",
    "STATUSES",
    "InterferenceGraph",
    "short_label",
]

ROLES = ("polluter", "victim", "brittle", "state-setter", "cleaner", "nondeterministic")
KINDS = ("sequential", "concurrent")
STATUSES = ("confirmed", "intermittent", "unconfirmed")
FORMATS = ("json", "graphml", "dot", "mermaid")

_RESERVED = frozenset({"id", "roles"})
_EDGE_COLUMNS = [
    "polluter", "victim", "kind", "status", "confirmations", "attempts", "evidence_count",
]
# Node colours shared by the DOT, Mermaid and matplotlib renderings.
_POLLUTER = "#ff7f0e"
_VICTIM = "#d62728"
_BOTH = "#8c2d04"
_OTHER = "#c7c7c7"
_STATUS_COLOR = {"confirmed": "#303030", "intermittent": "#7f7f7f", "unconfirmed": "#b8b8b8"}
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _check(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise InputError(f"unknown {what} {value!r}: use one of {', '.join(allowed)}")
    return value


def _plain(value: Any) -> Any:
    """``value`` as plain JSON data: numpy scalars unwrapped, NaN/NA as None,
    tuples as lists, mapping keys as strings (so a JSON round trip is exact)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _statuses(statuses: str | Iterable[str] | None) -> frozenset[str]:
    if statuses is None:
        return frozenset(STATUSES)
    chosen = (statuses,) if isinstance(statuses, str) else tuple(statuses)
    return frozenset(_check(s, STATUSES, "edge status") for s in chosen)


def short_label(test_id: str, width: int = 40) -> str:
    """A readable label for a test id: its last ``::`` part, at most ``width`` characters.

    ``::`` inside a parametrization (``[...]``) does not count, and an id
    still too long keeps its head and tail around an ellipsis.

    Examples
    --------
    >>> short_label("tests/test_db.py::TestUsers::test_insert[a::b]")
    'test_insert[a::b]'
    >>> short_label("Users API::when a user is created twice it returns a conflict")
    'when a user is creat… returns a conflict'
    """
    bracket = test_id.find("[")
    head = test_id if bracket < 0 else test_id[:bracket]
    cut = head.rfind("::")
    label = test_id[cut + 2:] if cut >= 0 and cut + 2 < len(test_id) else test_id
    if len(label) <= width:
        return label
    keep = max(width - 1, 2)
    front = (keep + 1) // 2
    return label[:front] + "…" + label[len(label) - (keep - front):]


class InterferenceGraph:
    """Polluter -> victim graph of one test suite, with evidence on every edge.

    Attributes
    ----------
    graph : networkx.DiGraph
        Nodes are test ids with attributes ``roles`` (a sorted list of
        :data:`ROLES`), optional ``module`` (``True`` for a whole module) and
        outcome statistics; edges go polluter -> victim with attributes
        ``kind``, ``status``, ``confirmations``, ``attempts`` and ``evidence``.
        Use it freely for networkx algorithms; add data through the methods
        so roles stay consistent.

    Examples
    --------
    >>> g = InterferenceGraph()
    >>> g.add_test("t.py::test_flaky", "nondeterministic", parallel_failure_rate=0.2)
    >>> g.add_edge("t.py::test_a", "t.py::test_b", "sequential", confirmations=3, attempts=3)
    >>> g.roles("t.py::test_b"), g.roles("t.py::test_flaky")
    (['victim'], ['nondeterministic'])
    >>> sorted(g.graph.successors("t.py::test_a"))
    ['t.py::test_b']
    """

    def __init__(self) -> None:
        self.graph: Any = nx.DiGraph()
        self._cleaners: dict[tuple[str, str, str], None] = {}
        self._setters: dict[tuple[str, str], None] = {}

    def __repr__(self) -> str:
        return (
            f"<InterferenceGraph: {self.graph.number_of_nodes()} tests, "
            f"{self.graph.number_of_edges()} edges>"
        )

    def __contains__(self, test_id: object) -> bool:
        return bool(self.graph.has_node(test_id))

    # -- building -----------------------------------------------------------

    def add_test(self, test_id: str, *roles: str, module: bool | None = None, **stats: Any) -> None:
        """Add a test (or merge into it): roles are united, statistics overwritten.

        Parameters
        ----------
        test_id : str
            The test id (or module path, with ``module=True``).
        *roles : str
            Any of :data:`ROLES`.
        module : bool, optional
            ``True`` when the node is a whole module that pollutes at import
            or collection time rather than one test.
        **stats
            Outcome statistics such as ``serial_failures``,
            ``parallel_failures``, ``parallel_runs``, ``parallel_failure_rate``
            or ``message``; numpy scalars are stored as plain numbers and NaN
            as ``None``.

        Examples
        --------
        >>> g = InterferenceGraph()
        >>> g.add_test("t.py::test_b", "victim", parallel_failures=2, parallel_runs=3)
        >>> g.add_test("t.py::test_b", "polluter", parallel_failures=3)
        >>> g.graph.nodes["t.py::test_b"]
        {'roles': ['polluter', 'victim'], 'parallel_failures': 3, 'parallel_runs': 3}
        """
        reserved = _RESERVED.intersection(stats)
        if reserved:
            raise InputError(f"{', '.join(sorted(reserved))} cannot be a statistic name")
        for role in roles:
            _check(role, ROLES, "role")
        if not self.graph.has_node(test_id):
            self.graph.add_node(test_id, roles=[])
        data = self.graph.nodes[test_id]
        data["roles"] = sorted(set(data.get("roles", [])).union(roles))
        if module is not None:
            data["module"] = bool(module)
        data.update({name: _plain(value) for name, value in stats.items()})

    def add_edge(
        self,
        polluter: str,
        victim: str,
        kind: str,
        *,
        confirmations: int,
        attempts: int,
        status: str = "confirmed",
        evidence: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        """Add the edge ``polluter -> victim``, replacing any earlier data for the pair.

        Parameters
        ----------
        polluter, victim : str
            Test ids; the nodes are added with the roles polluter and victim.
        kind : {"sequential", "concurrent"}
            Whether the polluter ran earlier (state left behind) or at the
            same time (interference while running).
        confirmations, attempts : int
            How many of the confirmation re-runs reproduced the failure.
        status : {"confirmed", "intermittent", "unconfirmed"}
        evidence : iterable of dict
            The probes behind the edge, e.g. ``{"probe": "p0007", "tests":
            [...], "victim_outcome": "failed", "repetition": 1}``; copied.

        Examples
        --------
        >>> g = InterferenceGraph()
        >>> g.add_edge("a", "b", "concurrent", confirmations=1, attempts=3,
        ...            status="intermittent", evidence=[{"probe": "p0001"}])
        >>> g.graph.edges["a", "b"]["evidence"]
        [{'probe': 'p0001'}]
        """
        _check(kind, KINDS, "edge kind")
        _check(status, STATUSES, "edge status")
        if not 0 <= confirmations <= attempts:
            raise InputError(
                f"{polluter!r} -> {victim!r}: confirmations ({confirmations}) must lie "
                f"between 0 and attempts ({attempts})"
            )
        self.add_test(polluter, "polluter")
        self.add_test(victim, "victim")
        self.graph.add_edge(
            polluter,
            victim,
            kind=kind,
            status=status,
            confirmations=int(confirmations),
            attempts=int(attempts),
            evidence=[_plain(item) for item in evidence],
        )

    def add_cleaner(self, cleaner: str, polluter: str, victim: str) -> None:
        """Record that running ``cleaner`` between ``polluter`` and ``victim`` saves the victim.

        The relation is kept beside the graph (see :meth:`cleaners`), never as
        an edge; the three nodes get the roles cleaner, polluter and victim.

        Examples
        --------
        >>> g = InterferenceGraph()
        >>> g.add_cleaner("t.py::test_reset", "t.py::test_a", "t.py::test_b")
        >>> g.cleaners().to_dict("records")
        [{'cleaner': 't.py::test_reset', 'polluter': 't.py::test_a', 'victim': 't.py::test_b'}]
        >>> g.graph.number_of_edges()
        0
        """
        self.add_test(cleaner, "cleaner")
        self.add_test(polluter, "polluter")
        self.add_test(victim, "victim")
        self._cleaners[(cleaner, polluter, victim)] = None

    def add_state_setter(self, setter: str, brittle: str) -> None:
        """Record that the brittle test ``brittle`` passes only after ``setter`` ran.

        Examples
        --------
        >>> g = InterferenceGraph()
        >>> g.add_state_setter("t.py::test_create", "t.py::test_read")
        >>> g.roles("t.py::test_read"), g.state_setters().to_dict("records")
        (['brittle'], [{'setter': 't.py::test_create', 'brittle': 't.py::test_read'}])
        """
        self.add_test(setter, "state-setter")
        self.add_test(brittle, "brittle")
        self._setters[(setter, brittle)] = None

    # -- queries ------------------------------------------------------------

    def roles(self, test_id: str) -> list[str]:
        """The sorted roles of ``test_id``; ``[]`` for a test the graph does not hold."""
        if not self.graph.has_node(test_id):
            return []
        return list(self.graph.nodes[test_id].get("roles", []))

    def _with_role(self, role: str) -> list[str]:
        return sorted(n for n, roles in self.graph.nodes(data="roles") if role in (roles or ()))

    def polluters(self) -> list[str]:
        """Sorted ids of the tests with the role polluter."""
        return self._with_role("polluter")

    def victims(self) -> list[str]:
        """Sorted ids of the tests with the role victim."""
        return self._with_role("victim")

    def _edges(self, statuses: str | Iterable[str] | None) -> Iterator[tuple[str, str, Any]]:
        chosen = _statuses(statuses)
        for u, v, data in self.graph.edges(data=True):
            if data.get("status") in chosen:
                yield u, v, data

    def interfering(self, statuses: str | Iterable[str] | None = None) -> Any:
        """A read-only view of the tests that interfere: edges of the given statuses
        (all by default) and only the nodes they touch.

        Examples
        --------
        >>> g = InterferenceGraph()
        >>> g.add_test("lonely", "brittle")
        >>> g.add_edge("a", "b", "sequential", confirmations=1, attempts=1)
        >>> g.add_edge("c", "b", "sequential", confirmations=0, attempts=3, status="unconfirmed")
        >>> sorted(g.interfering().nodes), sorted(g.interfering("confirmed").edges)
        (['a', 'b', 'c'], [('a', 'b')])
        """
        return self.graph.edge_subgraph([(u, v) for u, v, _ in self._edges(statuses)])

    def edges_frame(self, *, statuses: str | Iterable[str] | None = None) -> pd.DataFrame:
        """One row per edge, sorted by polluter then victim.

        Columns: polluter, victim, kind, status, confirmations, attempts, evidence_count.

        Examples
        --------
        >>> g = InterferenceGraph()
        >>> g.add_edge("a", "b", "sequential", confirmations=3, attempts=3,
        ...            evidence=[{"probe": "p1"}, {"probe": "p2"}])
        >>> g.edges_frame().iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
        {'polluter': 'a', 'victim': 'b', 'kind': 'sequential', 'status': 'confirmed',
         'confirmations': 3, 'attempts': 3, 'evidence_count': 2}
        """
        rows = [
            (u, v, d["kind"], d["status"], d["confirmations"], d["attempts"], len(d["evidence"]))
            for u, v, d in self._edges(statuses)
        ]
        frame = pd.DataFrame(rows, columns=_EDGE_COLUMNS)
        frame = frame.astype({"confirmations": "int64", "attempts": "int64", "evidence_count": "int64"})
        return frame.sort_values(["polluter", "victim"], kind="stable", ignore_index=True)

    def top_polluters(
        self, n: int | None = None, *, statuses: str | Iterable[str] | None = None
    ) -> pd.DataFrame:
        """Polluters by number of victims (most first, then by id).

        Columns: polluter, victims (sorted list), n_victims, kinds (sorted list).

        Examples
        --------
        >>> g = InterferenceGraph()
        >>> for p, v in [("a", "x"), ("b", "x"), ("b", "y")]:
        ...     g.add_edge(p, v, "sequential", confirmations=1, attempts=1)
        >>> g.top_polluters(1).to_dict("records")
        [{'polluter': 'b', 'victims': ['x', 'y'], 'n_victims': 2, 'kinds': ['sequential']}]
        """
        victims: dict[str, set[str]] = {}
        kinds: dict[str, set[str]] = {}
        for u, v, d in self._edges(statuses):
            victims.setdefault(u, set()).add(v)
            kinds.setdefault(u, set()).add(d["kind"])
        order = sorted(victims, key=lambda p: (-len(victims[p]), p))
        rows = [(p, sorted(victims[p]), len(victims[p]), sorted(kinds[p])) for p in order[:n]]
        frame = pd.DataFrame(rows, columns=["polluter", "victims", "n_victims", "kinds"])
        return frame.astype({"n_victims": "int64"})

    def victims_by_polluters(self, *, statuses: str | Iterable[str] | None = None) -> pd.DataFrame:
        """Victims with their polluters, most polluters first, then by id.

        Columns: victim, polluters (sorted list), n_polluters.

        Examples
        --------
        >>> g = InterferenceGraph()
        >>> for p, v in [("a", "x"), ("b", "x"), ("b", "y")]:
        ...     g.add_edge(p, v, "sequential", confirmations=1, attempts=1)
        >>> g.victims_by_polluters().to_dict("records")
        [{'victim': 'x', 'polluters': ['a', 'b'], 'n_polluters': 2}, {'victim': 'y', 'polluters': ['b'], 'n_polluters': 1}]
        """
        polluters: dict[str, set[str]] = {}
        for u, v, _ in self._edges(statuses):
            polluters.setdefault(v, set()).add(u)
        order = sorted(polluters, key=lambda v: (-len(polluters[v]), v))
        rows = [(v, sorted(polluters[v]), len(polluters[v])) for v in order]
        frame = pd.DataFrame(rows, columns=["victim", "polluters", "n_polluters"])
        return frame.astype({"n_polluters": "int64"})

    def components(self, *, statuses: str | Iterable[str] | None = None) -> list[set[str]]:
        """Groups of tests that interfere with each other (weakly connected components
        of the edges), largest first, ties by smallest id.

        Tests in different components can be fixed, or scheduled, independently.

        Examples
        --------
        >>> g = InterferenceGraph()
        >>> for p, v in [("a", "b"), ("c", "b"), ("x", "y")]:
        ...     g.add_edge(p, v, "sequential", confirmations=1, attempts=1)
        >>> [sorted(c) for c in g.components()]
        [['a', 'b', 'c'], ['x', 'y']]
        """
        found = [set(c) for c in nx.weakly_connected_components(self.interfering(statuses))]
        return sorted(found, key=lambda c: (-len(c), min(c)))

    def cleaners(self) -> pd.DataFrame:
        """Cleaner relations: columns cleaner, polluter, victim, sorted."""
        return pd.DataFrame(sorted(self._cleaners), columns=["cleaner", "polluter", "victim"])

    def state_setters(self) -> pd.DataFrame:
        """State-setter relations: columns setter, brittle, sorted."""
        return pd.DataFrame(sorted(self._setters), columns=["setter", "brittle"])

    # -- exports ------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Node-link data (``source`` = polluter, ``target`` = victim) plus the
        ``cleaners`` and ``state_setters`` relations, ready for :func:`json.dumps`.

        Examples
        --------
        >>> g = InterferenceGraph()
        >>> g.add_edge("a", "b", "sequential", confirmations=1, attempts=1)
        >>> data = g.to_json()
        >>> data["edges"][0]["source"], data["edges"][0]["target"], data["cleaners"]
        ('a', 'b', [])
        >>> InterferenceGraph.from_json(data).to_json() == data
        True
        """
        data: dict[str, Any] = nx.node_link_data(self.graph, edges="edges")
        data["cleaners"] = [
            {"cleaner": c, "polluter": p, "victim": v} for c, p, v in sorted(self._cleaners)
        ]
        data["state_setters"] = [{"setter": s, "brittle": b} for s, b in sorted(self._setters)]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InterferenceGraph:
        """Rebuild a graph from :meth:`to_json` output (or its JSON text, parsed)."""
        if not isinstance(data, Mapping) or "nodes" not in data or "edges" not in data:
            raise InputError("not an interference graph: expected node-link JSON with nodes and edges")
        if data.get("multigraph") or data.get("directed") is False:
            raise InputError("not an interference graph: it must be a directed simple graph")
        body = {k: v for k, v in data.items() if k not in ("cleaners", "state_setters")}
        new = cls()
        try:
            new.graph = nx.node_link_graph(body, directed=True, multigraph=False, edges="edges")
            for item in data.get("cleaners", []):
                new._cleaners[(item["cleaner"], item["polluter"], item["victim"])] = None
            for item in data.get("state_setters", []):
                new._setters[(item["setter"], item["brittle"])] = None
        except (KeyError, TypeError) as exc:
            raise InputError(f"not an interference graph: missing or malformed {exc}") from exc
        for u, v, d in new.graph.edges(data=True):
            where = f"edge {u!r} -> {v!r}"
            _check(str(d.get("kind")), KINDS, f"kind on {where}:")
            _check(str(d.get("status")), STATUSES, f"status on {where}:")
        return new

    def export(self, format: str = "json") -> str:
        """The graph as text in one of :data:`FORMATS`.

        ``json`` is :meth:`to_json` as JSON text; ``graphml`` is written by
        :func:`networkx.write_graphml` with list and dict attributes as JSON
        strings; ``dot`` is for Graphviz (solid edges sequential, dashed
        concurrent, dotted grey for cleaner and state-setter relations);
        ``mermaid`` is a ``flowchart LR`` (``-->`` sequential, ``-.->``
        concurrent, ``--o`` relations).
        """
        _check(format, FORMATS, "format")
        if format == "json":
            return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
        if format == "graphml":
            buffer = io.BytesIO()
            nx.write_graphml(self._graphml_copy(), buffer, infer_numeric_types=True)
            return buffer.getvalue().decode("utf-8")
        if format == "dot":
            return "\n".join(self._dot_lines()) + "\n"
        return "\n".join(self._mermaid_lines()) + "\n"

    def write(self, path: str | Path, format: str | None = None) -> Path:
        """Write :meth:`export` to ``path`` (UTF-8); the format defaults to the
        file suffix (``.json``, ``.graphml``, ``.dot``/``.gv``, ``.mmd``/``.mermaid``)."""
        path = Path(path)
        if format is None:
            suffixes = {".json": "json", ".graphml": "graphml", ".dot": "dot", ".gv": "dot",
                        ".mmd": "mermaid", ".mermaid": "mermaid"}
            if path.suffix.lower() not in suffixes:
                raise InputError(f"{path}: cannot tell the format from the suffix; pass one of "
                                 f"{', '.join(FORMATS)}")
            format = suffixes[path.suffix.lower()]
        path.write_text(self.export(format), encoding="utf-8")
        return path

    def _graphml_copy(self) -> Any:
        """A copy with scalar attributes only: lists and dicts as JSON strings,
        None dropped, characters XML cannot hold replaced, one type per key."""

        def scalar(value: Any) -> Any:
            if isinstance(value, (list, dict)):
                value = json.dumps(value, ensure_ascii=False)
            return _XML_INVALID.sub("\ufffd", value) if isinstance(value, str) else value

        def clean(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
            rows = [{k: scalar(v) for k, v in d.items() if v is not None} for d in items]
            types: dict[str, set[type]] = {}
            for row in rows:
                for k, v in row.items():
                    types.setdefault(k, set()).add(type(v))
            # Numbers may mix (the writer widens int to float); anything else becomes text.
            mixed = {k for k, t in types.items() if len(t) > 1 and not t <= {int, float}}
            return [{k: str(v) if k in mixed else v for k, v in row.items()} for row in rows]

        nodes = list(self.graph.nodes)
        names = {n: _XML_INVALID.sub("\ufffd", n) for n in nodes}
        copy = nx.DiGraph()
        relations = self.to_json()
        for key in ("cleaners", "state_setters"):
            copy.graph[key] = scalar(relations[key])
        for n, attrs in zip(nodes, clean(self.graph.nodes[n] for n in nodes)):
            copy.add_node(names[n], **attrs)
        edges = list(self.graph.edges)
        for (u, v), attrs in zip(edges, clean(self.graph.edges[e] for e in edges)):
            copy.add_edge(names[u], names[v], **attrs)
        return copy

    def _colour(self, test_id: str) -> str:
        roles = set(self.roles(test_id))
        if {"polluter", "victim"} <= roles:
            return _BOTH
        if "polluter" in roles:
            return _POLLUTER
        if "victim" in roles:
            return _VICTIM
        return _OTHER

    def _dot_lines(self) -> Iterator[str]:
        def quote(text: str) -> str:
            # Graphviz unescapes only \" in quoted strings and \\ in labels.
            text = text.replace("\\", "\\\\").replace('"', '\\"')
            return '"' + text.replace("\r", "\\r").replace("\n", "\\n") + '"'

        yield "// pollution interference graph: polluter -> victim"
        yield "digraph interference {"
        yield "  rankdir=LR;"
        yield '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];'
        yield '  edge [fontname="Helvetica", fontsize=9];'
        for n in sorted(self.graph.nodes):
            data = self.graph.nodes[n]
            fill = self._colour(n)
            font = "white" if fill in (_VICTIM, _BOTH) else "black"
            shape = ", shape=folder" if data.get("module") else ""
            roles = ", ".join(data.get("roles", [])) or "no role"
            yield (f"  {quote(n)} [label={quote(n)}, fillcolor=\"{fill}\", fontcolor={font}, "
                   f"tooltip={quote(roles)}{shape}];")
        for u, v, d in sorted(self.graph.edges(data=True), key=lambda e: (e[0], e[1])):
            style = "solid" if d["kind"] == "sequential" else "dashed"
            label = f"{d['kind']} {d['confirmations']}/{d['attempts']}"
            if d["status"] != "confirmed":
                label += f" ({d['status']})"
            yield (f"  {quote(u)} -> {quote(v)} [style={style}, "
                   f"color=\"{_STATUS_COLOR[d['status']]}\", label={quote(label)}];")
        for c, p, v in sorted(self._cleaners):
            yield (f"  {quote(c)} -> {quote(v)} [style=dotted, color=gray50, arrowhead=odot, "
                   f"label={quote('cleans after ' + short_label(p))}];")
        for s, b in sorted(self._setters):
            yield (f"  {quote(s)} -> {quote(b)} [style=dotted, color=gray50, arrowhead=odot, "
                   f"label=\"sets state for\"];")
        yield "}"

    def _mermaid_lines(self) -> Iterator[str]:
        def label(text: str) -> str:
            for raw, entity in (("#", "#35;"), ('"', "#quot;"), ("&", "#amp;"), ("<", "#lt;"),
                                (">", "#gt;"), ("`", "#96;"), ("\\", "#92;"), ("\r", " "),
                                ("\n", " ")):
                text = text.replace(raw, entity)
            return '"' + text + '"'

        ids = {n: f"n{i}" for i, n in enumerate(sorted(self.graph.nodes))}
        yield "flowchart LR"
        for n, nid in ids.items():
            opening, closing = ("[[", "]]") if self.graph.nodes[n].get("module") else ("[", "]")
            yield f"  {nid}{opening}{label(n)}{closing}"
        for u, v, d in sorted(self.graph.edges(data=True), key=lambda e: (e[0], e[1])):
            arrow = "-->" if d["kind"] == "sequential" else "-.->"
            note = "" if d["status"] == "confirmed" else f"|{label(d['status'])}|"
            yield f"  {ids[u]} {arrow}{note} {ids[v]}"
        for c, p, v in sorted(self._cleaners):
            yield f"  {ids[c]} --o|{label('cleans after ' + short_label(p))}| {ids[v]}"
        for s, b in sorted(self._setters):
            yield f"  {ids[s]} --o|\"sets state for\"| {ids[b]}"
        classes: dict[str, list[str]] = {"polluter": [], "victim": [], "both": []}
        for n, nid in ids.items():
            group = {_POLLUTER: "polluter", _VICTIM: "victim", _BOTH: "both"}.get(self._colour(n))
            if group:
                classes[group].append(nid)
        styles = {
            "polluter": f"fill:{_POLLUTER},stroke:#7f3f00,color:#000",
            "victim": f"fill:{_VICTIM},stroke:#6b1010,color:#fff",
            "both": f"fill:{_BOTH},stroke:#3f1400,color:#fff",
        }
        for group, members in classes.items():
            if members:
                yield f"  classDef {group} {styles[group]}"
        for group, members in classes.items():
            if members:
                yield f"  class {','.join(members)} {group}"

    # -- plotting -----------------------------------------------------------

    def _draw_selection(self, max_nodes: int) -> tuple[Any, int]:
        """The interfering subgraph, trimmed to about ``max_nodes`` tests by
        keeping the polluters with most victims (with their victims) first."""
        full = self.interfering()
        total = full.number_of_nodes()
        if total <= max_nodes:
            return full, total
        keep: set[str] = set()
        top = self.top_polluters()
        for polluter, victims in zip(top["polluter"], top["victims"]):
            group = {str(polluter), *victims}
            if keep and len(keep | group) > max_nodes:
                continue
            keep |= group
            if len(keep) >= max_nodes:
                break
        return full.subgraph(keep), total

    def draw(self, ax: Axes | None = None, *, max_nodes: int = 200) -> Axes:
        """Draw the polluter -> victim graph with matplotlib and return the Axes.

        Only tests with edges are drawn, in three columns: polluters on the
        left, tests that are both in the middle, victims on the right, each
        column ordered to keep edges short. Polluters are orange (dark when
        also a victim) and grow with their number of victims; victims are
        red; modules are squares. Sequential edges are solid, concurrent
        dashed; pale edges are intermittent or unconfirmed. Above
        ``max_nodes`` tests, the polluters with most victims are kept and a
        note says how many were left out.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; by default a new figure sized to the graph.
        max_nodes : int
            The most tests to draw.
        """
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D

        shown, total = self._draw_selection(max_nodes)
        layers = self._layers(shown)
        tallest = max((len(members) for members in layers.values()), default=1)
        if ax is None:
            _, ax = plt.subplots(figsize=(13, min(max(4.0, 0.25 * tallest), 60.0)))
        ax.set_axis_off()
        if shown.number_of_nodes() == 0:
            ax.text(0.5, 0.5, "no interference found", ha="center", va="center",
                    transform=ax.transAxes)
            return ax
        pos = self._positions(layers)
        out_degree = dict(shown.out_degree())
        size = {n: 80.0 + min(50.0 * out_degree[n], 800.0) for n in shown}
        nodelist = list(shown)
        for is_module, shape in ((False, "o"), (True, "s")):
            members = [n for n in nodelist if bool(shown.nodes[n].get("module")) == is_module]
            if members:
                nx.draw_networkx_nodes(
                    shown, pos, nodelist=members, node_shape=shape, ax=ax,
                    node_size=[size[n] for n in members],
                    node_color=[self._colour(n) for n in members],
                    edgecolors="#202020", linewidths=0.5,
                )
        for kind, style in (("sequential", "solid"), ("concurrent", "dashed")):
            edges = [(u, v) for u, v, k in shown.edges(data="kind") if k == kind]
            if edges:
                nx.draw_networkx_edges(
                    shown, pos, edgelist=edges, ax=ax, style=style, width=1.0, arrowsize=8,
                    nodelist=nodelist, node_size=[size[n] for n in nodelist],
                    edge_color=[_STATUS_COLOR[shown.edges[e]["status"]] for e in edges],
                    connectionstyle="arc3,rad=0.06",
                )
        fontsize = 8 if tallest <= 60 else 6
        behind = {"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.75}
        for layer, members in layers.items():
            ha, side = ("right", -1.0) if layer == 0 else ("left", 1.0)
            for n in members:
                dx = side * (math.sqrt(size[n]) / 2 + 3.0)  # clear of the marker's radius
                ax.annotate(short_label(n), pos[n], xytext=(dx, 0.0), textcoords="offset points",
                            ha=ha, va="center", fontsize=fontsize,
                            bbox=behind if layer == 1 else None)
        ax.set_xlim(-2.1, 2.1)
        ax.margins(y=0.03)
        handles = [
            Line2D([], [], marker="o", ls="", color=_POLLUTER, label="polluter"),
            Line2D([], [], marker="o", ls="", color=_BOTH, label="polluter and victim"),
            Line2D([], [], marker="o", ls="", color=_VICTIM, label="victim"),
            Line2D([], [], color="#303030", ls="solid", label="sequential"),
            Line2D([], [], color="#303030", ls="dashed", label="concurrent"),
        ]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                  ncol=len(handles), frameon=False, fontsize=8)
        if total > shown.number_of_nodes():
            ax.set_title(f"showing {shown.number_of_nodes()} of {total} interfering tests "
                         f"(the polluters with most victims)", fontsize=9)
        return ax

    @staticmethod
    def _positions(layers: dict[int, list[str]]) -> dict[str, tuple[float, float]]:
        """Columns spread over x in [-1, 1]; each column's rows spread evenly over
        the full height, first row on top, so large polluter nodes have room."""
        columns = max(len(layers) - 1, 1)
        pos: dict[str, tuple[float, float]] = {}
        for i, members in enumerate(layers.values()):
            x = -1.0 + 2.0 * i / columns if len(layers) > 1 else 0.0
            for j, n in enumerate(members):
                pos[n] = (x, 1.0 - (2 * j + 1) / len(members))
        return pos

    @staticmethod
    def _layers(shown: Any) -> dict[int, list[str]]:
        """Columns 0 (polluters only), 1 (both) and 2 (victims only), each ordered
        by the mean row of its polluters so edges stay short and few cross."""
        column = {n: (1 if shown.in_degree(n) and shown.out_degree(n)
                      else 0 if shown.out_degree(n) else 2) for n in shown}
        first = sorted((n for n in shown if column[n] == 0),
                       key=lambda n: (-shown.out_degree(n), n))
        row = {n: i / max(len(first) - 1, 1) for i, n in enumerate(first)}
        layers = {0: first}
        for layer in (1, 2):
            members = [n for n in shown if column[n] == layer]

            def barycentre(n: str) -> tuple[float, str]:
                rows = [row[p] for p in shown.predecessors(n) if p in row]
                return (sum(rows) / len(rows) if rows else 0.5, n)

            members.sort(key=barycentre)
            row.update({n: i / max(len(members) - 1, 1) for i, n in enumerate(members)})
            layers[layer] = members
        return {layer: members for layer, members in layers.items() if members}
