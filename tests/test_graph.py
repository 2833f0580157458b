from __future__ import annotations

import doctest
import io
import json
import random
import re
import shutil
import subprocess

import networkx as nx
import numpy as np
import pytest

import pollution.graph
from pollution.errors import InputError
from pollution.graph import InterferenceGraph, short_label

HOSTILE = 't.py::test_x[a "b" <c> {d}]'
ODD = [
    HOSTILE,
    "ü::テスト mit Leerzeichen",
    "pkg\\path::Test\\",
    "a#quot;b & `c`",
    "line\nbreak",
    "x.py::test[a::b]",
]


def edge(g: InterferenceGraph, p: str, v: str, kind: str = "sequential", **kw: object) -> None:
    kw.setdefault("confirmations", 3)
    kw.setdefault("attempts", 3)
    g.add_edge(p, v, kind, **kw)  # type: ignore[arg-type]


@pytest.fixture
def hand() -> InterferenceGraph:
    """Two components: p1 pollutes v1..v3 (and v3 pollutes v4); p2 and p3 share v5."""
    g = InterferenceGraph()
    for v in ("v1", "v2", "v3"):
        edge(g, "p1", v)
    edge(g, "v3", "v4", "concurrent", confirmations=1, status="intermittent")
    edge(g, "p2", "v5")
    edge(g, "p3", "v5", "concurrent", confirmations=0, status="unconfirmed")
    edge(g, "p2", "v6")
    g.add_test("nod", "nondeterministic", parallel_failure_rate=0.2)
    g.add_state_setter("setter", "brittle")
    g.add_cleaner("cleaner", "p1", "v1")
    return g


@pytest.fixture
def hostile() -> InterferenceGraph:
    g = InterferenceGraph()
    g.add_test(HOSTILE, parallel_failures=np.int64(2), parallel_runs=3,
               parallel_failure_rate=np.float64(2 / 3), message='assert "a" < b\x1b[0m')
    g.add_test("mod/", module=True)
    for i, victim in enumerate(ODD[1:]):
        edge(g, HOSTILE, victim, "concurrent" if i % 2 else "sequential",
             evidence=[{"probe": f"p{i:04d}", "tests": (HOSTILE, victim),
                        "victim_outcome": "failed", "repetition": 1}])
    edge(g, "mod/", ODD[1], "sequential", confirmations=2, status="intermittent")
    g.add_cleaner("clean", HOSTILE, ODD[1])
    g.add_state_setter(ODD[2], "brittle [x]")
    return g


def test_doctests() -> None:
    result = doctest.testmod(pollution.graph, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10
    assert result.failed == 0


# -- building ---------------------------------------------------------------


def test_add_test_merges_roles_and_stats() -> None:
    g = InterferenceGraph()
    g.add_test("t", "victim", parallel_failures=np.int64(1), parallel_failure_rate=float("nan"))
    g.add_test("t", "polluter", "victim", parallel_failures=2, module=False)
    assert g.graph.nodes["t"] == {
        "roles": ["polluter", "victim"], "parallel_failures": 2,
        "parallel_failure_rate": None, "module": False,
    }
    assert type(g.graph.nodes["t"]["parallel_failures"]) is int


def test_edge_adds_roles_and_replaces_data() -> None:
    g = InterferenceGraph()
    edge(g, "a", "b", evidence=[{"probe": "p1"}])
    edge(g, "a", "b", "concurrent", confirmations=1, status="intermittent")
    assert g.roles("a") == ["polluter"] and g.roles("b") == ["victim"]
    assert g.graph.edges["a", "b"] == {
        "kind": "concurrent", "status": "intermittent", "confirmations": 1, "attempts": 3,
        "evidence": [],
    }
    assert g.roles("missing") == []


def test_relations_are_not_edges(hand: InterferenceGraph) -> None:
    assert not hand.graph.has_edge("cleaner", "v1")
    assert not hand.graph.has_edge("setter", "brittle")
    assert hand.cleaners().to_dict("records") == [
        {"cleaner": "cleaner", "polluter": "p1", "victim": "v1"}
    ]
    assert hand.state_setters().to_dict("records") == [{"setter": "setter", "brittle": "brittle"}]
    assert hand.roles("cleaner") == ["cleaner"]
    assert hand.roles("setter") == ["state-setter"] and hand.roles("brittle") == ["brittle"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda g: g.add_test("t", "villain"), "unknown role 'villain'"),
        (lambda g: g.add_test("t", roles=["victim"]), "roles cannot be a statistic"),
        (lambda g: g.add_test("t", id=1), "id cannot be a statistic"),
        (lambda g: edge(g, "a", "b", "parallel"), "unknown edge kind 'parallel'"),
        (lambda g: edge(g, "a", "b", status="rejected"), "unknown edge status 'rejected'"),
        (lambda g: edge(g, "a", "b", confirmations=4, attempts=3), "between 0 and attempts"),
        (lambda g: g.edges_frame(statuses=["maybe"]), "unknown edge status 'maybe'"),
        (lambda g: g.export("png"), "unknown format 'png'"),
        (lambda g: g.write("graph.txt"), "cannot tell the format"),
    ],
)
def test_bad_input_names_the_fix(call, message) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        call(InterferenceGraph())


# -- queries ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (None, [("p1", "v1"), ("p1", "v2"), ("p1", "v3"), ("p2", "v5"), ("p2", "v6"),
                ("p3", "v5"), ("v3", "v4")]),
        ("confirmed", [("p1", "v1"), ("p1", "v2"), ("p1", "v3"), ("p2", "v5"), ("p2", "v6")]),
        (["intermittent", "unconfirmed"], [("p3", "v5"), ("v3", "v4")]),
    ],
)
def test_edges_frame(hand: InterferenceGraph, statuses, expected) -> None:
    frame = hand.edges_frame(statuses=statuses)
    assert list(frame.columns) == [
        "polluter", "victim", "kind", "status", "confirmations", "attempts", "evidence_count",
    ]
    assert list(zip(frame["polluter"], frame["victim"])) == expected


def test_edges_frame_row_and_empty(hand: InterferenceGraph) -> None:
    row = hand.edges_frame().set_index(["polluter", "victim"]).loc[("v3", "v4")].to_dict()
    assert row == {"kind": "concurrent", "status": "intermittent", "confirmations": 1,
                   "attempts": 3, "evidence_count": 0}
    empty = InterferenceGraph().edges_frame()
    assert empty.empty and "evidence_count" in empty.columns


@pytest.mark.parametrize(
    ("n", "statuses", "expected"),
    [
        (None, None, [("p1", ["v1", "v2", "v3"], 3, ["sequential"]),
                      ("p2", ["v5", "v6"], 2, ["sequential"]),
                      ("p3", ["v5"], 1, ["concurrent"]),
                      ("v3", ["v4"], 1, ["concurrent"])]),
        (2, None, [("p1", ["v1", "v2", "v3"], 3, ["sequential"]),
                   ("p2", ["v5", "v6"], 2, ["sequential"])]),
        (None, "confirmed", [("p1", ["v1", "v2", "v3"], 3, ["sequential"]),
                             ("p2", ["v5", "v6"], 2, ["sequential"])]),
        (None, "unconfirmed", [("p3", ["v5"], 1, ["concurrent"])]),
    ],
)
def test_top_polluters(hand: InterferenceGraph, n, statuses, expected) -> None:
    frame = hand.top_polluters(n, statuses=statuses)
    assert list(frame.columns) == ["polluter", "victims", "n_victims", "kinds"]
    assert [tuple(r) for r in frame.itertuples(index=False)] == expected


def test_top_polluters_mixed_kinds() -> None:
    g = InterferenceGraph()
    edge(g, "p", "a", "concurrent")
    edge(g, "p", "b")
    assert g.top_polluters()["kinds"].tolist() == [["concurrent", "sequential"]]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (None, [("v5", ["p2", "p3"], 2), ("v1", ["p1"], 1), ("v2", ["p1"], 1),
                ("v3", ["p1"], 1), ("v4", ["v3"], 1), ("v6", ["p2"], 1)]),
        ("confirmed", [("v1", ["p1"], 1), ("v2", ["p1"], 1), ("v3", ["p1"], 1),
                       ("v5", ["p2"], 1), ("v6", ["p2"], 1)]),
    ],
)
def test_victims_by_polluters(hand: InterferenceGraph, statuses, expected) -> None:
    frame = hand.victims_by_polluters(statuses=statuses)
    assert list(frame.columns) == ["victim", "polluters", "n_polluters"]
    assert [tuple(r) for r in frame.itertuples(index=False)] == expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (None, [{"p1", "v1", "v2", "v3", "v4"}, {"p2", "p3", "v5", "v6"}]),
        ("confirmed", [{"p1", "v1", "v2", "v3"}, {"p2", "v5", "v6"}]),
        ("intermittent", [{"v3", "v4"}]),
    ],
)
def test_components(hand: InterferenceGraph, statuses, expected) -> None:
    # Tests without edges (nod, brittle, setter, cleaner) are no component.
    assert hand.components(statuses=statuses) == expected


def test_components_tie_broken_by_smallest_id() -> None:
    g = InterferenceGraph()
    for p, v in [("z", "y"), ("b", "c"), ("m", "a")]:
        edge(g, p, v)
    assert g.components() == [{"a", "m"}, {"b", "c"}, {"y", "z"}]


def test_role_lists(hand: InterferenceGraph) -> None:
    assert hand.polluters() == ["p1", "p2", "p3", "v3"]
    assert hand.victims() == ["v1", "v2", "v3", "v4", "v5", "v6"]
    assert hand.roles("v3") == ["polluter", "victim"]
    assert hand.roles("nod") == ["nondeterministic"]


@pytest.mark.parametrize(
    ("test_id", "expected"),
    [
        ("tests/test_a.py::TestX::test_y", "test_y"),
        ("tests/test_a.py::test_y[a::b-c]", "test_y[a::b-c]"),
        ("plain_name", "plain_name"),
        ("ends::", "ends::"),
        ("Suite::" + "x" * 30 + "y" * 30, "x" * 20 + "…" + "y" * 19),
    ],
)
def test_short_label(test_id: str, expected: str) -> None:
    assert short_label(test_id) == expected
    assert len(short_label(test_id)) <= 40


# -- exports ----------------------------------------------------------------


def test_json_round_trip(hostile: InterferenceGraph, hand: InterferenceGraph) -> None:
    for g in (hostile, hand):
        data = g.to_json()
        assert data == json.loads(g.export("json"))
        back = InterferenceGraph.from_json(json.loads(json.dumps(data)))
        assert back.to_json() == data
        assert nx.utils.graphs_equal(back.graph, g.graph)
        assert back.cleaners().equals(g.cleaners())
        assert back.state_setters().equals(g.state_setters())


def test_json_shape(hand: InterferenceGraph) -> None:
    data = hand.to_json()
    assert data["directed"] is True and data["multigraph"] is False
    assert {"source": "p1", "target": "v1"}.items() <= data["edges"][0].items()
    assert data["cleaners"] == [{"cleaner": "cleaner", "polluter": "p1", "victim": "v1"}]
    assert data["state_setters"] == [{"setter": "setter", "brittle": "brittle"}]


@pytest.mark.parametrize(
    "data",
    [
        {"nodes": []},
        {"directed": False, "nodes": [], "edges": []},
        {"directed": True, "nodes": [{"id": "a"}, {"id": "b"}],
         "edges": [{"source": "a", "target": "b", "kind": "weird", "status": "confirmed"}]},
        {"directed": True, "nodes": [], "edges": [], "cleaners": [{"cleaner": "c"}]},
    ],
)
def test_from_json_rejects(data) -> None:
    with pytest.raises(InputError, match="interference graph|unknown kind"):
        InterferenceGraph.from_json(data)


def test_graphml_reads_back(hostile: InterferenceGraph, tmp_path) -> None:
    path = hostile.write(tmp_path / "g.graphml")
    back = nx.read_graphml(path)
    assert isinstance(back, nx.DiGraph)
    assert set(back.nodes) == set(hostile.graph.nodes)
    assert set(back.edges) == set(hostile.graph.edges)
    node = back.nodes[HOSTILE]
    assert json.loads(node["roles"]) == ["polluter"]
    assert node["parallel_failures"] == 2 and node["parallel_failure_rate"] == pytest.approx(2 / 3)
    assert node["message"] == 'assert "a" < b\ufffd[0m'  # ESC cannot live in XML
    assert back.nodes["mod/"]["module"] is True
    evidence = json.loads(back.edges[HOSTILE, ODD[1]]["evidence"])
    assert evidence[0]["tests"] == [HOSTILE, ODD[1]]
    assert json.loads(back.graph["cleaners"]) == hostile.to_json()["cleaners"]


def test_graphml_mixed_attribute_types() -> None:
    g = InterferenceGraph()
    g.add_test("a", parallel_failure_rate=1, note=True)
    g.add_test("b", parallel_failure_rate=0.5, note="text")
    back = nx.read_graphml(io.StringIO(g.export("graphml")))
    assert back.nodes["a"]["parallel_failure_rate"] == 1.0
    assert back.nodes["a"]["note"] == "True" and back.nodes["b"]["note"] == "text"


def _dot_unquote(text: str) -> str:
    return text.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def test_dot_quotes_hostile_ids(hostile: InterferenceGraph) -> None:
    dot = hostile.export("dot")
    assert dot.startswith("// ") and "digraph interference {" in dot and dot.rstrip().endswith("}")
    quoted = re.findall(r'"((?:[^"\\]|\\.)*)"', dot)
    for test_id in [*ODD, "mod/", "clean", "brittle [x]"]:
        assert test_id in {_dot_unquote(q) for q in quoted}
    assert '"t.py::test_x[a \\"b\\" <c> {d}]"' in dot
    assert '"pkg\\\\path::Test\\\\"' in dot  # a trailing backslash cannot eat the quote
    assert "\n" not in "".join(q for q in quoted)
    edges = [line for line in dot.splitlines() if " -> " in line]
    assert sum("style=solid" in e for e in edges) == 4
    assert sum("style=dashed" in e for e in edges) == 2
    assert sum("style=dotted" in e for e in edges) == 2
    assert "shape=folder" in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_dot_parses_with_graphviz(hostile: InterferenceGraph) -> None:
    out = subprocess.run(["dot", "-Tjson"], input=hostile.export("dot").encode(),
                         capture_output=True, check=True)
    data = json.loads(out.stdout)
    labels = {o["label"] for o in data["objects"]}
    assert HOSTILE in labels and "ü::テスト mit Leerzeichen" in labels
    assert len(data["edges"]) == hostile.graph.number_of_edges() + 2


def test_mermaid_escapes_hostile_ids(hostile: InterferenceGraph) -> None:
    text = hostile.export("mermaid")
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    nodes = [line.strip() for line in lines if re.match(r"\s+n\d+\[", line)]
    assert len(nodes) == hostile.graph.number_of_nodes()
    for line in nodes:
        label = re.fullmatch(r'n\d+\[?\["(.*)"\]\]?', line)
        assert label is not None, line
        assert not set(label.group(1)) & set('"<>`\\\n')
    assert any(line.endswith('["t.py::test_x[a #quot;b#quot; #lt;c#gt; {d}]"]') for line in nodes)
    assert '"a#35;quot;b #amp; #96;c#96;"' in text
    assert "line break" in text
    assert any(line.startswith("n") and "[[" in line for line in nodes)  # the module
    links = [line.strip() for line in lines if re.match(r"\s+n\d+ .+ n\d+$", line)]
    assert sum(" --> " in link for link in links) == 3
    assert sum(" -->|\"intermittent\"| " in link for link in links) == 1
    assert sum(" -.-> " in link for link in links) == 2
    assert sum(" --o|" in link for link in links) == 2


def test_write_formats(hand: InterferenceGraph, tmp_path) -> None:
    for fmt, name in [("json", "g.json"), ("graphml", "g.graphml"), ("dot", "g.gv"),
                      ("mermaid", "g.mmd")]:
        path = hand.write(tmp_path / name)
        assert path.read_text(encoding="utf-8") == hand.export(fmt)
    assert hand.write(tmp_path / "g.txt", "dot").read_text(encoding="utf-8").startswith("//")
    back = InterferenceGraph.from_json(json.loads((tmp_path / "g.json").read_text("utf-8")))
    assert back.to_json() == hand.to_json()


# -- plotting ---------------------------------------------------------------


def _random_graph(n_edges: int, n_tests: int, seed: int = 7) -> InterferenceGraph:
    rng = random.Random(seed)
    tests = [f"tests/test_m{i % 5}.py::TestC::test_case_{i}[param-{i}]" for i in range(n_tests)]
    g = InterferenceGraph()
    while g.graph.number_of_edges() < n_edges:
        g.add_edge(rng.choice(tests[: n_tests // 5]), rng.choice(tests),
                   rng.choice(["sequential", "concurrent"]), confirmations=1, attempts=1,
                   status=rng.choice(["confirmed", "intermittent"]))
    g.add_test("lonely", "nondeterministic")
    return g


def test_draw_saves_png(tmp_path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    g = _random_graph(30, 40)
    ax = g.draw()
    assert isinstance(ax, Axes)
    labels = {t.get_text() for t in ax.texts}
    assert "lonely" not in labels  # only tests with edges are drawn
    assert labels == {short_label(n) for n in g.interfering()}
    path = tmp_path / "graph.png"
    ax.figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close(ax.figure)


def test_draw_on_given_axes_trims_and_handles_empty() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2)
    g = _random_graph(120, 100)
    assert g.draw(left, max_nodes=25) is left
    assert len(left.texts) <= 25 + 10  # whole polluter groups are kept
    assert left.get_title().startswith("showing ")
    assert InterferenceGraph().draw(right) is right
    assert [t.get_text() for t in right.texts] == ["no interference found"]
    plt.close(fig)
