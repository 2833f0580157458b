"""Reports end to end: a real diagnosis of a tiny polluted suite (real pytest
runs, serial and parallel, then the real engine), rendered to HTML, Markdown
and graph exports, checked for self-containment, escaping, evidence and the
documented result.json schema; the commands the report prints are run."""

from __future__ import annotations

import base64
import copy
import doctest
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import pollution
from pollution.diagnosis import Diagnosis, suspects_only
from pollution.report import load_report, render_all
from pollution.report.data import PYTEST_SPLIT
from pollution.report.plots import graph_plot, outcome_chart, timeline
from pollution.runners import get_runner
from pollution.runs import run_suite

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schemas" / "result.schema.json"
SAMPLES = ROOT / "sample_reports"
PNG = b"\x89PNG\r\n\x1a\n"

# A hostile parametrize id: it must reach every report escaped.
HOSTILE = "<b>bold</b> & 'q'"

SUITE = {
    "conftest.py": """
        import os, shutil

        def pytest_sessionstart(session):
            # Each run or probe starts from a clean shared state, as a fresh database would.
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
    # With --dist loadfile each file runs on one worker: test_a's victims wait
    # while test_b's polluters, on the other worker, leave their files behind;
    # run alone or serially (victims first) they pass.
    "test_a.py": """
        import os
        import time
        import pytest
        from helpers import exists

        def test_victim_one():
            if os.environ.get("PYTEST_XDIST_WORKER"):
                # In parallel runs only: wait (a little) for the polluters on the other worker.
                deadline = time.time() + 5
                while not exists("two") and time.time() < deadline:
                    time.sleep(0.05)
            assert not exists("one"), "left behind by test_polluter_one"

        @pytest.mark.parametrize("case", [0], ids=[%r])
        def test_victim_both(case):
            assert not exists("one") and not exists("two"), "left behind by the polluters"

        def test_fine_a(): pass
    """.replace("%r", repr(HOSTILE)),
    "test_b.py": """
        from helpers import touch

        def test_polluter_one():
            touch("one")

        def test_polluter_two():
            touch("two")

        def test_fine_b(): pass
    """,
    "test_c.py": """
        import os

        def test_fine_c(): pass

        def test_nod():
            # Fails on every other run whatever the order: nondeterministic.
            counter = os.path.join(os.environ["STATE_DIR"], "..", "nod-counter")
            n = int(open(counter).read()) if os.path.exists(counter) else 0
            open(counter, "w").write(str(n + 1))
            assert n % 2 == 1
    """,
}

VICTIM_ONE = "test_a.py::test_victim_one"
VICTIM_BOTH = f"test_a.py::test_victim_both[{HOSTILE}]"
POLLUTER_ONE = "test_b.py::test_polluter_one"
POLLUTER_TWO = "test_b.py::test_polluter_two"
EXPECTED = {(POLLUTER_ONE, VICTIM_ONE), (POLLUTER_ONE, VICTIM_BOTH), (POLLUTER_TWO, VICTIM_BOTH)}
NOD = "test_c.py::test_nod"


def make_suite(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, body in SUITE.items():
        (root / name).write_text(textwrap.dedent(body), encoding="utf-8")
    return root


def build_diagnosis(base: Path) -> Path:
    """Run the suite 2x serially and 1x with 2 workers, diagnose it with the
    real engine, and return the diagnosis directory (built once per base)."""
    out = base / "diagnosis"
    if (out / "result.json").exists():
        return out
    suite = make_suite(base / "suite")
    env = {"STATE_DIR": str(base / "state" / "s_{probe}")}
    runner = get_runner("pytest", path=suite)
    campaign = run_suite(runner, base / "runs", serial=2, parallel=1, workers=2, env=env,
                         extra_args=["-p", "no:randomly", "--dist", "loadfile"])
    table = campaign.table
    serial, parallel = table[table["mode"] == "serial"], table[table["mode"] == "parallel"]
    pollution.diagnose(runner, serial=serial, parallel=parallel, out=out, env=env,
                       extra_args=["-p", "no:randomly"], jobs=4)
    return out


@pytest.fixture(scope="module")
def diagnosed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_diagnosis(tmp_path_factory.getbasetemp() / "report-diagnosis")


@pytest.fixture
def report_dir(diagnosed: Path, tmp_path: Path) -> Path:
    """A private copy of the diagnosis, rendered."""
    out = tmp_path / "report"
    shutil.copytree(diagnosed, out)
    render_all(out)
    return out


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


# -- the diagnosis the reports are made from ---------------------------------------


def test_the_engine_found_the_designed_pollution(diagnosed: Path) -> None:
    d = Diagnosis.load(diagnosed / "result.json")
    assert {(e.polluter, e.victim) for e in d.confirmed} == EXPECTED
    assert NOD in d.nondeterministic
    table = pollution.load_table(diagnosed / "runs.parquet")
    parallel = table[table["mode"] == "parallel"]
    assert parallel["worker"].nunique() == 2 and parallel["start"].notna().all()


# -- files --------------------------------------------------------------------------------


def test_render_all_writes_every_file(diagnosed: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    shutil.copytree(diagnosed, out)
    paths = render_all(out)
    assert set(paths) == {"html", "markdown", "json", "graphml", "dot", "mermaid"}
    names = {p.name for p in paths.values()}
    assert names == {"report.html", "report.md", "graph.json", "graph.graphml", "graph.dot", "graph.mmd"}
    for path in paths.values():
        assert path.parent == out and path.stat().st_size > 0
    graph = json.loads((out / "graph.json").read_text(encoding="utf-8"))
    assert {(e["source"], e["target"]) for e in graph["edges"]} == EXPECTED


def test_missing_result_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(pollution.InputError, match="result.json"):
        render_all(tmp_path)
    with pytest.raises(pollution.InputError, match="not a directory"):
        render_all(tmp_path / "nowhere")


# -- HTML ----------------------------------------------------------------------------------


def test_html_is_self_contained(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    found = tags(html)
    assert not [t for t, _ in found if t in ("script", "link", "iframe", "object", "embed")]
    images = [a for t, a in found if t == "img"]
    assert len(images) == 3  # timeline, graph, outcomes
    for attrs in images:
        src = attrs["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1], validate=True).startswith(PNG)
    anchors = {a["id"] for _, a in found if a.get("id")}
    for _, attrs in found:
        href = attrs.get("href")
        if href is None:
            continue
        if href.startswith("#"):
            assert href[1:] in anchors, href
        else:
            assert "/" not in href and (report_dir / href).is_file(), href  # an export beside the report


def test_html_escapes_test_ids(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    assert "<b>bold</b>" not in html
    assert escape(VICTIM_BOTH) in html


def test_html_claims_carry_their_evidence(report_dir: Path) -> None:
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    d = Diagnosis.load(report_dir / "result.json")
    for edge in d.confirmed:
        probes = [ev["probe"] for ev in edge.evidence if "probe" in ev]
        assert len(probes) == edge.attempts == edge.confirmations
        for probe in probes:
            assert f'href="#{probe}"' in html and f'id="{probe}"' in html
    assert "passed 3 of 3 runs alone" in html
    assert "Fix these 2 test(s)" in html
    assert escape(NOD) in html
    for phase, costs in d.costs.items():
        assert f"<td>{phase}</td>" in html and str(costs.invocations) in html


# -- Markdown ------------------------------------------------------------------------------


def test_markdown_has_victims_polluters_and_plan(report_dir: Path) -> None:
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    outside_code = re.sub(r"`+[^`]*`+", "", re.sub(r"(?ms)^```.*?^```", "", md))
    assert "<b>" not in outside_code  # the hostile id only in code spans and blocks
    for test_id in (VICTIM_ONE, POLLUTER_ONE, POLLUTER_TWO, NOD):
        assert f"`{test_id}`" in md
    assert f"`{VICTIM_BOTH}`".replace("|", "\\|") in md
    assert "### Fix these 2 test(s)" in md
    assert "```mermaid" in md and "```python" in md
    for line in md.splitlines():
        if line.startswith("|"):
            assert line.endswith("|")


# -- the commands the report prints --------------------------------------------------------


def _shell_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_printed_reproduction_command_reproduces(report_dir: Path, diagnosed: Path) -> None:
    data = load_report(report_dir)
    culprit = next(c for v in data.victims if v.victim == VICTIM_ONE for c in v.culprits)
    assert culprit.command and culprit.command.split()[0] == "env"
    assert escape(culprit.command) in (report_dir / "report.html").read_text(encoding="utf-8")
    run = subprocess.run(["bash", "-c", culprit.command], cwd=diagnosed.parent / "suite", env=_shell_env(),
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed, 1 passed" in run.stdout


def test_printed_isolation_snippet_makes_both_passes_pass(report_dir: Path, diagnosed: Path, tmp_path: Path) -> None:
    data = load_report(report_dir)
    _, snippet = data.snippet()
    suite = tmp_path / "suite"
    shutil.copytree(diagnosed.parent / "suite", suite)
    with (suite / "conftest.py").open("a", encoding="utf-8") as fh:
        fh.write("\n\n" + snippet + "\n")
    passed: set[str] = set()
    for i, argv in enumerate(PYTEST_SPLIT):
        assert f"#   {shlex.join(argv)}" in snippet
        junit = tmp_path / f"junit-{i}.xml"
        command = [sys.executable, *argv[1:], "-p", "no:cacheprovider", f"--junitxml={junit}", "--deselect", NOD]
        command = ["2" if a == "auto" else a for a in command]  # two workers are plenty here
        run = subprocess.run(command, cwd=suite, env={**os.environ, "STATE_DIR": str(tmp_path / f"state{i}")},
                             capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
        table = pollution.load_junit([str(junit)])
        assert (table["outcome"] == "passed").all()
        passed |= set(table["test_id"])
    assert passed >= {VICTIM_ONE, VICTIM_BOTH, POLLUTER_ONE, POLLUTER_TWO, "test_a.py::test_fine_a"}


# -- schema -------------------------------------------------------------------------------


def _validator() -> Any:
    import jsonschema  # in the dev extra

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_real_result_matches_the_schema(diagnosed: Path) -> None:
    document = json.loads((diagnosed / "result.json").read_text(encoding="utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator().iter_errors(document)]
    assert errors == []


def _broken(document: dict[str, Any], how: str) -> dict[str, Any]:
    broken = copy.deepcopy(document)
    if how == "kind":
        broken["edges"][0]["kind"] = "sideways"
    elif how == "missing":
        del broken["victims"]
    elif how == "undocumented":
        broken["surprise"] = 1
    elif how == "negative":
        next(iter(broken["costs"].values()))["invocations"] = -1
    elif how == "evidence":
        broken["edges"][0]["evidence"][0]["probe"] = "probe 1"
    return broken


@pytest.mark.parametrize("how", ["kind", "missing", "undocumented", "negative", "evidence"])
def test_invalid_result_fails_the_schema(diagnosed: Path, how: str) -> None:
    document = json.loads((diagnosed / "result.json").read_text(encoding="utf-8"))
    assert list(_validator().iter_errors(_broken(document, how)))


def test_every_schema_property_is_documented() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                assert "description" in sub, f"{where}.{name} has no description"
            for key, sub in node.items():
                walk(sub, f"{where}.{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{where}[{i}]")

    walk(schema, "$")


# -- without a runner: suspects, not findings -------------------------------------------


def test_suspects_only_report(tmp_path: Path) -> None:
    table = pollution.ingest([str(SAMPLES / "serial")], mode="serial").table
    parallel = pollution.ingest([str(SAMPLES / "parallel")], mode="parallel").table
    out = tmp_path / "suspects"
    suspects_only(table, parallel, out)
    render_all(out)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "nothing is confirmed" in html and "not findings" in html
    assert "may run in parallel now" not in html  # nothing was re-run: no test is known to be safe
    for _, attrs in (t for t in tags(html) if t[0] == "img"):
        assert base64.b64decode((attrs["src"] or "").split(",", 1)[1]).startswith(PNG)
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "nothing was re-run" in md
    document = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert list(_validator().iter_errors(document)) == []


# -- every kind of finding, from a result.json alone ------------------------------------


def _every_kind() -> Diagnosis:
    from pollution.bisect import Edge, Triage
    from pollution.probes import Costs

    victims = ["pkg::TestVictim", "pkg::TestModVictim", "pkg::TestStartup", "pkg::TestGroup", "pkg::TestLost"]
    return Diagnosis(
        victims=victims,
        triage=Triage(victims=victims, brittle=["pkg::TestBrittle"], nondeterministic=["pkg::TestNod"],
                      genuine=["pkg::TestBroken"], alone_runs={v: 3 for v in victims},
                      alone_failures={v: 0 for v in victims}),
        candidates={},
        edges=[
            Edge("pkg::TestPolluter", "pkg::TestVictim", "concurrent", "intermittent", 1, 2,
                 [{"probe": "p-0123456789", "purpose": "confirm", "tests": ["pkg::TestPolluter"],
                   "beside": ["pkg::TestVictim"], "victim_outcome": "failed", "repetition": 1}]),
            Edge("pkg::TestInnocent", "pkg::TestVictim", "sequential", "rejected", 0, 2, []),
            Edge("mod/x_test.go", "pkg::TestModVictim", "sequential", "confirmed", 4, 4, [], module=True),
            Edge("mod/y_test.go (session start-up)", "pkg::TestStartup", "concurrent", "confirmed", 2, 2,
                 [{"purpose": "control", "victim_failures": 2}], module=True),
        ],
        groups={"pkg::TestGroup": [["pkg::TestA", "pkg::TestB"]]},
        state_setters={"pkg::TestBrittle": ["pkg::TestSetter"]},
        unexplained=["pkg::TestLost"],
        costs={"triage": Costs(15, 15, 15, 0, 2.5)},
        settings={"runner": "go", "confirm": 2, "triage_repeats": 3},
        wall=12.0,
    )


def test_every_kind_of_finding_renders_from_result_json_alone(tmp_path: Path) -> None:
    _every_kind().save(tmp_path / "result.json")
    assert list(_validator().iter_errors(json.loads((tmp_path / "result.json").read_text()))) == []
    render_all(tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    for text in ("intermittent", "failed 1 of 2 re-runs", "did not reproduce", "module", "session start-up",
                 "fails only beside this group together", "unexplained", "pkg::TestSetter", "Failing alone (1)",
                 "session control", "every test in mod/x_test.go",
                 "Nondeterministic flakes (1)", "t.Parallel()", "No runs table"):
        assert text in html, text
    assert "python -m pytest" not in html  # reproduction commands are for pytest only
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "`pkg::TestPolluter`" in md and "group only" in md and "unexplained" in md
    found = tags(html)
    assert [a for t, a in found if t == "img"]  # the graph; no timeline or outcome chart without runs


# -- plots ----------------------------------------------------------------------------------


def test_plots_draw_on_the_given_axes_and_return_it(diagnosed: Path) -> None:
    from matplotlib.figure import Figure

    d = Diagnosis.load(diagnosed / "result.json")
    table = pollution.load_table(diagnosed / "runs.parquet")
    for draw in (lambda ax: timeline(table, d, ax=ax), lambda ax: outcome_chart(pollution.diff_table(table), ax=ax),
                 lambda ax: graph_plot(d, ax=ax)):
        ax = Figure().subplots()
        assert draw(ax) is ax


def test_timeline_marks_victims_polluters_and_connects_them(diagnosed: Path) -> None:
    from matplotlib.figure import Figure

    from pollution.report import plots

    d = Diagnosis.load(diagnosed / "result.json")
    table = pollution.load_table(diagnosed / "runs.parquet")
    ax = timeline(table, d, ax=Figure().subplots())
    colours = [p.get_facecolor() for p in ax.patches]
    from matplotlib.colors import to_rgba

    assert colours.count(to_rgba(plots.VICTIM)) == 2
    assert colours.count(to_rgba(plots.POLLUTER)) == 2
    arrows = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    assert len(arrows) == len(EXPECTED)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["gw0", "gw1"]


def test_timeline_without_timing_says_so() -> None:
    from matplotlib.figure import Figure

    table = pollution.ingest([str(SAMPLES / "parallel")], mode="parallel").table
    ax = timeline(table, ax=Figure().subplots())
    assert any("no worker/timing data" in t.get_text() for t in ax.texts)
    assert not ax.patches


def test_plots_without_ax_make_a_figure() -> None:
    import matplotlib.pyplot as plt

    diff = pollution.diff_runs(pollution.ingest([str(SAMPLES / "serial")], mode="serial").table,
                               pollution.ingest([str(SAMPLES / "parallel")], mode="parallel").table)
    ax = outcome_chart(diff)
    try:
        assert ax.figure is not None and len(ax.patches) == 8
    finally:
        plt.close("all")


@pytest.mark.parametrize("module", ["data", "markdown", "plots"])
def test_doctests(module: str) -> None:
    import importlib

    result = doctest.testmod(importlib.import_module(f"pollution.report.{module}"))
    assert result.failed == 0 and result.attempted > 0


def test_importing_the_report_package_does_not_import_matplotlib() -> None:
    code = "import sys, pollution.report; print('matplotlib' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert run.stdout.strip() == "False", run.stderr
