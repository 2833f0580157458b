"""``report.html``: one self-contained page per diagnosis.

Self-contained means it opens offline from any place it is copied to: the
plots are PNG data URIs, the CSS is inline, there is no script, and a
Content-Security-Policy forbids loading anything but ``data:`` images. The
only links are to the page's own anchors and to the graph exports written
beside it. Every test id and message is escaped.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from pollution import __version__
from pollution.graph import short_label
from pollution.report.data import (
    EXPORTS,
    Culprit,
    Probe,
    ReportData,
    VictimReport,
    format_seconds,
    iter_cited_probes,
    load_report,
    passed_phrase,
    run_label,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["CSP", "figure", "png_data_uri", "render_html", "write_exports"]

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'none'; base-uri 'none'; form-action 'none'"
LIST_LIMIT = 500  # longest list of test ids shown in full (the rest: counted)

CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --victim: #d62728;
        --polluter: #ff7f0e; --ok: #1a7f37; --warn: #9a6700; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff; font: 15px/1.5 system-ui, -apple-system, "Segoe UI",
       Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 28px 32px 64px; }
h1 { font-size: 28px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 21px; margin: 40px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
p { margin: 8px 0; max-width: 80ch; }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
.sub, .note, figcaption { color: var(--muted); font-size: 13.5px; } p.sub { max-width: none; }
.headline { font-size: 18px; margin: 18px 0 6px; max-width: none; }
nav { margin: 14px 0 0; font-size: 13.5px; } nav a { margin-right: 14px; white-space: nowrap; }
code, pre, .id { font-family: ui-monospace, SFMono-Regular, "DejaVu Sans Mono", Menlo, Consolas, monospace;
                 font-size: 12.5px; }
.id { overflow-wrap: anywhere; } .nowrap { white-space: nowrap; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
      margin: 6px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.cmd { background: #0d1117; color: #e6edf3; border-color: #0d1117; }
pre.msg { background: #fff5f5; border-color: #f3c5c5; color: #5c1010; max-height: 9em; overflow: auto; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 4px; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 7px 10px; border-bottom: 1px solid var(--line); }
th { background: var(--soft); font-weight: 600; font-size: 13px; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.bad td { background: #fff8f8; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px; margin: 16px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: #fff; }
.card .n { font-size: 28px; font-weight: 650; line-height: 1.2; font-variant-numeric: tabular-nums; }
.card .l { color: var(--muted); font-size: 13px; }
.card.victim .n { color: var(--victim); } .card.polluter .n { color: #c25400; } .card.ok .n { color: var(--ok); }
.badge { display: inline-block; font-size: 11.5px; font-weight: 600; padding: 0 7px; border-radius: 10px;
         line-height: 18px; border: 1px solid transparent; white-space: nowrap; }
.b-sequential { background: #fff1e5; color: #8a3c00; border-color: #ffd0a8; }
.b-concurrent { background: #f3e8ff; color: #5a2a8c; border-color: #dcc4f5; }
.b-confirmed { background: #dafbe1; color: #116329; border-color: #aceebb; }
.b-intermittent { background: #fff8c5; color: #7d4e00; border-color: #f0d77a; }
.b-rejected, .b-unconfirmed { background: #eef1f4; color: #59636e; border-color: #d1d9e0; }
.b-module { background: #eef1f4; color: #59636e; border-color: #d1d9e0; }
figure { margin: 10px 0 4px; } figure img { max-width: 100%; height: auto; border: 1px solid var(--line);
         border-radius: 6px; background: #fff; }
ul.tight { margin: 4px 0; padding-left: 20px; } ul.tight li { margin: 2px 0; }
ol.fix li { margin: 8px 0; }
.culprit { margin: 0 0 12px; } .culprit:last-child { margin-bottom: 0; }
.probes { font-size: 12.5px; color: var(--muted); } .probes a, .probes code { white-space: nowrap; }
details { margin: 6px 0; } summary { cursor: pointer; color: #0969da; }
.cols { columns: 2 360px; column-gap: 28px; }
footer { margin-top: 48px; color: var(--muted); font-size: 12.5px; border-top: 1px solid var(--line);
         padding-top: 10px; }
@media print { main { max-width: none; padding: 0; } pre.cmd { background: var(--soft); color: var(--ink); } }
"""


# -- figures -------------------------------------------------------------------


def figure(width: float, height: float) -> Figure:
    """A matplotlib Figure that renders with Agg, made without pyplot (no
    global backend, no figure kept alive by a pyplot registry)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def png_data_uri(fig: Figure, dpi: int = 110) -> str:
    """The figure as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _timeline_png(data: ReportData) -> str | None:
    from pollution.report.plots import pick_timeline_run, timeline

    if data.table is None:
        return None
    run_id = pick_timeline_run(data.table, data.diagnosis)
    lanes = data.table.loc[data.table["run_id"] == run_id, "worker"].nunique() if run_id else 0
    fig = figure(12, 1.7 + 0.62 * lanes if run_id else 1.4)
    timeline(data.table, data.diagnosis, run_id=run_id, ax=fig.subplots())
    return png_data_uri(fig)


def _graph_png(data: ReportData) -> str:
    from pollution.report.plots import graph_plot

    polluters = sum(1 for f in data.fixes)
    victims = len({e.victim for e in data.live_edges})
    fig = figure(12, min(max(3.2, 0.32 * max(polluters, victims)), 40.0))
    graph_plot(data.diagnosis, ax=fig.subplots())
    return png_data_uri(fig)


def _outcome_png(data: ReportData) -> str | None:
    from pollution.report.plots import outcome_chart

    if data.diff is None:
        return None
    fig = figure(9, 3.3)
    outcome_chart(data.diff, ax=fig.subplots())
    return png_data_uri(fig)


# -- exports ---------------------------------------------------------------------


def write_exports(data: ReportData) -> dict[str, Path]:
    """The interference graph in every export format, beside the report."""
    return {fmt: data.graph.write(data.out_dir / name, fmt) for fmt, name in EXPORTS.items()}


# -- page ---------------------------------------------------------------------------


def render_html(out_dir: str | Path, data: ReportData | None = None) -> Path:
    """Write ``report.html`` (and the graph exports it links to) into the
    diagnosis directory ``out_dir``; return the report's path."""
    data = data if data is not None else load_report(out_dir)
    write_exports(data)
    path = data.out_dir / "report.html"
    path.write_text(page(data), encoding="utf-8")
    return path


def page(data: ReportData) -> str:
    """The whole HTML document."""
    title = f"pollution report: {len(data.victims)} victim(s), {len(data.fixes)} polluter(s)"
    body = "\n".join([
        _header(data), _summary(data), _runs(data), _found(data), _costs(data), _timeline(data), _graph(data),
        _outcomes(data), _victims(data), _plan(data), _evidence(data), _footer(data),
    ])
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
        "</body>\n</html>\n"
    )


def _id(test_id: str) -> str:
    return f'<span class="id">{escape(test_id)}</span>'


def _badge(text: str, kind: str | None = None) -> str:
    return f'<span class="badge b-{escape(kind or text)}">{escape(text)}</span>'


def _probe_links(probe_ids: Sequence[str], data: ReportData) -> str:
    links = []
    for pid in probe_ids:
        probe = data.journal.get(pid)
        label = escape(pid)
        if probe is None:
            links.append(f"<code>{label}</code>")
        else:
            links.append(f'<a href="#{label}"><code>{label}</code></a>')
    return ", ".join(links)


def _id_list(tests: Sequence[str], limit: int = LIST_LIMIT) -> str:
    items = "".join(f"<li>{_id(t)}</li>" for t in tests[:limit])
    more = f"<li>… and {len(tests) - limit} more</li>" if len(tests) > limit else ""
    return f'<ul class="tight">{items}{more}</ul>'


def _header(data: ReportData) -> str:
    s = data.diagnosis.settings
    facts = [
        f"runner <b>{escape(data.runner)}</b>",
        f"directory <code>{escape(data.out_dir.name or str(data.out_dir))}</code>",
    ]
    if data.rerun:
        facts += [f"each edge re-run {escape(str(s.get('confirm', '?')))}×",
                  f"{escape(str(s.get('triage_repeats', '?')))} runs alone per suspect"]
    else:
        facts.append("no runner: nothing re-run")
    facts.append(f"diagnosis took {format_seconds(data.diagnosis.wall)}")
    nav = "".join(
        f'<a href="#{anchor}">{label}</a>'
        for anchor, label in (("runs", "Serial vs parallel"), ("found", "Found"), ("costs", "Costs"),
                              ("timeline", "Timeline"), ("graph", "Graph"), ("outcomes", "Outcomes"),
                              ("victims", "Victims"), ("plan", "Plan"), ("evidence", "Evidence"))
    )
    return (f"<header><h1>Test pollution report</h1><p class=\"sub\">{' · '.join(facts)}</p>"
            f"<nav>{nav}</nav></header>")


def _summary(data: ReportData) -> str:
    d = data.diagnosis
    costs = d.total_costs()
    intermittent = sum(1 for e in data.live_edges if e.status == "intermittent")
    cards = [
        ("victim", len(data.victims), "victims: pass alone, fail next to others" if data.rerun
         else "victim candidates (failed only in parallel; not re-run)"),
        ("polluter", len(data.fixes), "polluters to fix"),
        ("", len(data.live_edges), "polluter → victim edges" + (f" ({intermittent} intermittent)" if intermittent else "")),
        ("", len(data.nondeterministic), "nondeterministic flakes"),
        ("", len(d.unexplained), "victims unexplained"),
        ("ok", len(data.safe), f"of {data.universe} tests may run in parallel now") if data.rerun
        else ("", "—", "tests known safe in parallel: none until a runner re-runs them"),
        ("", costs.invocations, f"runner invocations, {costs.executions} test executions"),
    ]
    html = "".join(
        f'<div class="card {cls}"><div class="n">{n}</div><div class="l">{escape(label)}</div></div>'
        for cls, n, label in cards
    )
    return (f'<section id="summary"><p class="headline">{escape(data.headline())}</p>'
            f'<div class="cards">{html}</div>'
            '<p class="note">Every claim below names its evidence: the runs it comes from, or the probes '
            '(runner invocations of chosen tests, in a chosen order) listed at the <a href="#evidence">end</a>.'
            "</p></section>")


def _runs(data: ReportData) -> str:
    head = '<section id="runs"><h2>Serial vs parallel</h2>'
    if not data.run_groups:
        return head + ('<p class="note">No runs table (<code>runs.parquet</code>) in this directory: the '
                       "diagnosis started from victims given by hand.</p></section>")
    rows = []
    for g in data.run_groups:
        bad = g.mode == "parallel" and min(g.passed) < g.tests
        workers = "—" if g.workers is None else str(g.workers)
        runs = ", ".join(escape(run_label(r)) for r in g.run_ids)
        rows.append(
            f'<tr class="{"bad" if bad else ""}"><td>{escape(g.mode)}</td><td class="num">{workers}</td>'
            f'<td class="num">{len(g.run_ids)}</td><td class="num">{passed_phrase(g)}</td>'
            f'<td class="num">{g.pass_rate:.0%}</td><td class="num">{format_seconds(g.wall)}</td>'
            f'<td class="num">{format_seconds(g.test_time)}</td><td class="probes">{runs}</td></tr>'
        )
    return (
        head + "<table><thead><tr><th>mode</th><th class=\"num\">workers</th><th class=\"num\">runs</th>"
        "<th class=\"num\">passed</th><th class=\"num\">pass rate</th><th class=\"num\">wall time</th>"
        "<th class=\"num\">test time</th><th>runs (evidence)</th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table>"
        '<p class="note">From <code>runs.parquet</code>: passed = tests that passed / tests that ran '
        "(range over the runs); wall time = first start to last stop, median over runs (— without per-test "
        "timing); test time = sum of test durations, median over runs; workers = distinct worker ids seen.</p>"
        "</section>"
    )


def _found(data: ReportData) -> str:
    d = data.diagnosis
    parts = ['<section id="found"><h2>What was found</h2>']
    parts.append(f"<h3>Victims ({len(data.victims)})</h3>")
    if data.victims:
        items = []
        for i, v in enumerate(data.victims):
            who = ", ".join(_id(c.edge.polluter) for c in v.culprits) or (
                "a group of tests together" if v.groups
                else f"top suspect {_id(str(v.suspects[0].get('suspect', '')))} (not re-run)" if v.suspects
                else "no culprit reproduced" if data.rerun else "not re-run")
            items.append(f'<li><a href="#victim-{i}">{_id(v.victim)}</a> ← {who}</li>')
        parts.append(f'<ul class="tight">{"".join(items)}</ul>')
    else:
        parts.append("<p>No test failed only in parallel and passed alone.</p>")
    parts.append(f"<h3>Polluters ({len(data.fixes)})</h3>")
    if data.fixes:
        rows = "".join(
            f"<tr><td>{_id(f.polluter)}{' ' + _badge('module') if f.module else ''}</td>"
            f'<td class="num">{len(f.victims)}</td><td>{" ".join(_badge(k) for k in f.kinds)}</td></tr>'
            for f in data.fixes
        )
        parts.append("<table><thead><tr><th>polluter</th><th class=\"num\">victims</th><th>kind</th></tr>"
                     f"</thead><tbody>{rows}</tbody></table>")
    else:
        parts.append("<p>No polluter confirmed.</p>" if data.rerun else "<p>None confirmed: nothing was re-run.</p>")
    parts.append(_flakes(data))
    if d.triage.brittle or d.triage.genuine:
        parts.append(_other_failures(data))
    parts.append("</section>")
    return "".join(parts)


def _flakes(data: ReportData) -> str:
    d = data.diagnosis
    tests = data.nondeterministic
    out = [f"<h3>Nondeterministic flakes ({len(tests)})</h3>"]
    if not tests:
        return out[0] + "<p>None: no test changed outcome between runs of the same order.</p>"
    rows = []
    for t in tests:
        evidence = []
        if t in d.triage.alone_runs:
            evidence.append(f"failed {d.triage.alone_failures.get(t, 0)} of {d.triage.alone_runs[t]} runs alone "
                            "(triage)")
        stats = d.stats.get(t)
        if stats:
            evidence.append(f"serial runs: {stats.get('serial_failures', 0)}/{stats.get('serial_runs', 0)} failed, "
                            f"parallel runs: {stats.get('parallel_failures', 0)}/{stats.get('parallel_runs', 0)} failed")
        rows.append(f"<tr><td>{_id(t)}</td><td>{escape('; '.join(evidence) or 'outcome varied')}</td></tr>")
    return (out[0] + "<p class=\"note\">Never bisected: their failures do not depend on the order.</p>"
            f"<table><thead><tr><th>test</th><th>evidence</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _other_failures(data: ReportData) -> str:
    t = data.diagnosis.triage
    out = []
    if t.brittle:
        setters = data.diagnosis.state_setters
        items = "".join(
            f"<li>{_id(b)} — fails alone; passes after "
            f"{', '.join(_id(s) for s in setters.get(b, [])) or 'no single test found'}</li>"
            for b in t.brittle
        )
        out.append(f"<h3>Brittle ({len(t.brittle)})</h3><ul class=\"tight\">{items}</ul>")
    if t.genuine:
        items = "".join(
            f"<li>{_id(g)}"
            + (f" — failed {t.alone_failures.get(g, 0)} of {t.alone_runs[g]} runs alone" if t.alone_runs.get(g) else "")
            + "</li>"
            for g in t.genuine
        )
        out.append(f"<h3>Failing alone ({len(t.genuine)})</h3><p class=\"note\">Not pollution: these fail "
                   f"whatever runs before them.</p><ul class=\"tight\">{items}</ul>")
    return "".join(out)


def _costs(data: ReportData) -> str:
    d = data.diagnosis
    rows = []
    for phase, c in d.costs.items():
        rows.append(f"<tr><td>{escape(phase)}</td><td class=\"num\">{c.probes}</td><td class=\"num\">{c.invocations}"
                    f"</td><td class=\"num\">{c.executions}</td><td class=\"num\">{c.reused}</td>"
                    f"<td class=\"num\">{format_seconds(c.wall)}</td></tr>")
    total = d.total_costs()
    rows.append(f"<tr><th>total</th><th class=\"num\">{total.probes}</th><th class=\"num\">{total.invocations}</th>"
                f"<th class=\"num\">{total.executions}</th><th class=\"num\">{total.reused}</th>"
                f"<th class=\"num\">{format_seconds(d.wall)}</th></tr>")
    return (
        '<section id="costs"><h2>Cost of the diagnosis</h2>'
        "<table><thead><tr><th>phase</th><th class=\"num\">probes</th><th class=\"num\">runner invocations</th>"
        "<th class=\"num\">test executions</th><th class=\"num\">reused from journal</th>"
        f"<th class=\"num\">wall time</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        '<p class="note">Phase wall times overlap when probes ran in parallel (jobs = '
        f"{escape(str(d.settings.get('jobs', 1)))}); the total is the diagnosis' own wall clock.</p></section>"
    )


def _timeline(data: ReportData) -> str:
    uri = _timeline_png(data)
    head = '<section id="timeline"><h2>Worker timeline</h2>'
    if uri is None:
        return head + '<p class="note">No runs table in this directory: no timeline.</p></section>'
    return (head + f'<figure><img src="{uri}" alt="worker timeline of one parallel run">'
            "<figcaption>One parallel run (the one where most victims failed), one lane per worker, one bar per "
            "test from start to stop. Red: victims that failed in this run; orange: their confirmed polluters; "
            "arrows go from polluter to victim (solid: the polluter ran before; dashed: beside).</figcaption>"
            "</figure></section>")


def _graph(data: ReportData) -> str:
    links = " · ".join(f'<a href="{escape(name)}">{escape(name)}</a>' for name in EXPORTS.values())
    if not data.live_edges:
        return ('<section id="graph"><h2>Interference graph</h2><p>No polluter → victim edge was confirmed: '
                f"nothing to draw. Exports beside this report: {links}.</p></section>")
    return (
        '<section id="graph"><h2>Interference graph</h2>'
        f'<figure><img src="{_graph_png(data)}" alt="polluter to victim graph">'
        "<figcaption>Polluters on the left, victims on the right; solid edges sequential, dashed concurrent; pale "
        f"edges intermittent. Exports beside this report: {links} (Graphviz: <code>dot -Tsvg graph.dot</code>; "
        "Mermaid: <code>graph.mmd</code>).</figcaption></figure></section>"
    )


def _outcomes(data: ReportData) -> str:
    uri = _outcome_png(data)
    head = '<section id="outcomes"><h2>Serial vs parallel outcomes</h2>'
    if uri is None:
        return head + '<p class="note">Needs both serial and parallel runs in <code>runs.parquet</code>.</p></section>'
    return (head + f'<figure><img src="{uri}" alt="tests per outcome category">'
            "<figcaption>parallel-only: passed in every serial run, failed in some parallel run (victim "
            "candidates); flaky: outcome varied between runs of the same mode; genuine-failure: failed "
            "everywhere.</figcaption></figure></section>")


def _victims(data: ReportData) -> str:
    head = '<section id="victims"><h2>Victims, their polluters and the evidence</h2>'
    if not data.victims:
        return head + "<p>No victims.</p></section>"
    rows = "".join(_victim_row(i, v, data) for i, v in enumerate(data.victims))
    return (
        head + "<table><thead><tr><th style=\"width:26%\">victim</th><th style=\"width:32%\">polluters and "
        "confirmation probes</th><th>failure and reproduction</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _victim_row(index: int, v: VictimReport, data: ReportData) -> str:
    alone = ""
    if v.alone_runs:
        alone = (f"passed {v.alone_runs - v.alone_failures} of {v.alone_runs} runs alone"
                 + (f" ({_probe_links(v.alone_probes, data)})" if v.alone_probes else "") + "<br>")
    seen = ""
    if v.parallel_runs:
        seen = f"failed in {v.parallel_failures} of {v.parallel_runs} parallel runs"
    culprits = "".join(_culprit(c, data) for c in v.culprits)
    for group in v.groups:
        culprits += f"<div class=\"culprit\">fails only beside this group together (no single culprit):{_id_list(group)}</div>"
    if v.suspects:
        culprits += _suspects(v)
    elif v.unexplained and data.rerun:
        culprits += "<div class=\"culprit\"><b>unexplained</b>: no probe reproduced the failure.</div>"
    if v.rejected:
        items = "".join(
            f"<li>{_id(e.polluter)} {_badge(e.kind)} {_badge(e.status)} {e.confirmations}/{e.attempts}"
            f" <span class=\"probes\">{_probe_links([ev['probe'] for ev in e.evidence if 'probe' in ev], data)}</span></li>"
            for e in v.rejected
        )
        culprits += f"<details><summary>{len(v.rejected)} candidate(s) that did not reproduce</summary><ul class=\"tight\">{items}</ul></details>"
    message = f'<pre class="msg">{escape(v.message)}</pre>' if v.message else '<p class="note">no failure message recorded</p>'
    commands = "".join(
        f'<div class="probes">{_id(c.edge.polluter)} then this victim:</div><pre class="cmd">{escape(c.command)}</pre>'
        if c.edge.kind == "sequential" else
        f'<div class="probes">{_id(c.edge.polluter)} beside this victim (timing-dependent; the diagnosis looped '
        f'the victim while the polluter ran):</div><pre class="cmd">{escape(c.command)}</pre>'
        for c in v.culprits if c.command
    )
    return (
        f'<tr id="victim-{index}"><td>{_id(v.victim)}<div class="probes">{alone}{seen}</div></td>'
        f"<td>{culprits or '—'}</td><td>{message}{commands}</td></tr>"
    )


def _suspects(v: VictimReport, limit: int = 5) -> str:
    rows = "".join(
        f"<tr><td>{_id(str(s.get('suspect', '')))}</td><td class=\"num\">{escape(str(s.get('failing_runs_with', '')))}"
        f" / {escape(str(s.get('passing_runs_with', '')))}</td><td class=\"num\">{_score(s.get('score'))}</td></tr>"
        for s in v.suspects[:limit]
    )
    more = f'<div class="probes">… and {len(v.suspects) - limit} more in result.json</div>' if len(v.suspects) > limit else ""
    return (
        '<div class="culprit"><b>suspects</b>, ranked from the runs alone (nothing re-run: not findings)'
        '<table><thead><tr><th>co-scheduled test</th><th class="num" title="runs where the victim failed / passed">'
        f'failing / passing runs</th><th class="num">score</th></tr></thead><tbody>{rows}</tbody></table>'
        f"{more}</div>"
    )


def _score(value: object) -> str:
    return f"{value:+.2f}" if isinstance(value, (int, float)) else escape(str(value))


def _culprit(c: Culprit, data: ReportData) -> str:
    e = c.edge
    module = " " + _badge("module") if e.module else ""
    controls = [ev for ev in e.evidence if ev.get("purpose") == "control"]
    if controls:
        runs = sum(int(ev.get("victim_failures", 0)) for ev in controls)
        what = (f"the victim failed {runs} of {e.attempts} runs beside a session that ran no test: starting the "
                "session (conftest, imports, collection) breaks it")
        return (f'<div class="culprit">{_id(e.polluter)}{module}<br>{_badge(e.kind)} {_badge(e.status)} '
                f'<div class="probes">session control: {escape(what)}</div></div>')
    return (
        f'<div class="culprit">{_id(e.polluter)}{module}<br>{_badge(e.kind)} {_badge(e.status)} '
        f"failed {e.confirmations} of {e.attempts} re-runs"
        f'<div class="probes">probes: {_probe_links(c.probes, data) or "none recorded"}</div></div>'
    )


def _plan(data: ReportData) -> str:
    parts = ['<section id="plan"><h2>The plan</h2>']
    if data.fixes:
        victims = {v for f in data.fixes for v in f.victims}
        parts.append(f"<h3>Fix these {len(data.fixes)} test(s)</h3><p>Fixing them, most victims first, should "
                     f"make {len(victims)} victim(s) pass in parallel:</p><ol class=\"fix\">")
        for f in data.fixes:
            module = " " + _badge("module") if f.module else ""
            parts.append(f"<li>{_id(f.polluter)}{module} {' '.join(_badge(k) for k in f.kinds)} — breaks "
                         f"{len(f.victims)}: {', '.join(_id(v) for v in f.victims)}</li>")
        parts.append("</ol>")
    else:
        parts.append("<p>Nothing to fix: no polluter was confirmed.</p>" if data.rerun else "")
    if not data.rerun:
        parts.append("<p>No runner was given, so nothing was re-run: rank is not proof. Run <code>pollution "
                     "diagnose</code> with <code>--runner</code> to bisect and confirm the polluters.</p></section>")
        return "".join(parts)
    parts.append(f"<h3>May run in parallel now: {len(data.safe)} of {data.universe} tests</h3>")
    parts.append(f"<p class=\"note\">Tests in no polluter → victim edge that never failed in any of the runs "
                 f"({data.parallel_runs} parallel run(s)), and are neither flaky, brittle nor failing alone.</p>")
    if data.safe:
        parts.append(f"<details><summary>show the {len(data.safe)} tests</summary><div class=\"cols\">"
                     f"{_id_list(data.safe)}</div></details>")
    why, code = data.snippet()
    parts.append(f"<h3>Keep the {len(data.involved)} involved test(s) apart until fixed</h3><p>{escape(why)}</p>")
    if code:
        parts.append(f"<pre>{escape(code)}</pre>")
    parts.append("</section>")
    return "".join(parts)


def _evidence(data: ReportData) -> str:
    probes = list(iter_cited_probes(data))
    head = ('<section id="evidence"><h2>Evidence: the probes cited</h2><p class="note">Each probe is one runner '
            "invocation from <code>journal.jsonl</code>: the tests it ran in order, those run beside them in a "
            "second process, and the outcome of the tests the claims are about.</p>")
    if not probes:
        return head + "<p>No journal in this directory.</p></section>"
    rows = "".join(_probe_row(p, data) for p in probes)
    return (head + "<table><thead><tr><th>probe</th><th>purpose</th><th>ran, in order</th><th>beside</th>"
            f"<th>outcomes</th><th class=\"num\">time</th></tr></thead><tbody>{rows}</tbody></table></section>")


def _probe_row(p: Probe, data: ReportData) -> str:
    about = [t for t in (*p.tests, *p.beside) if t in set(data.diagnosis.victims)] or list(p.tests[-1:])
    outcomes = "<br>".join(
        f'<span class="id" title="{escape(t)}">{escape(short_label(t))}</span>: <b>{escape(p.outcomes.get(t, "missing"))}</b>'
        for t in dict.fromkeys(about)
    )
    error = f'<div class="probes">{escape(p.error.splitlines()[0])}</div>' if p.error else ""
    return (
        f'<tr id="{escape(p.probe_id)}"><td class="nowrap"><code>{escape(p.probe_id)}</code></td><td class="nowrap">{escape(p.purpose)}'
        f" #{p.repetition + 1}</td><td>{_ordered(p.tests)}</td>"
        f"<td>{_ordered(p.beside) if p.beside else '—'}</td><td>{outcomes}{error}</td>"
        f'<td class="num">{format_seconds(p.duration)}</td></tr>'
    )


def _ordered(tests: Iterable[str]) -> str:
    return "<br>".join(_id(t) for t in tests)


def _footer(data: ReportData) -> str:
    present = [n for n in ("result.json", "runs.parquet", "journal.jsonl") if (data.out_dir / n).exists()]
    return (f"<footer>pollution {escape(__version__)} · made from {', '.join(escape(n) for n in present)} · opens "
            "offline: no scripts, no external resources</footer>")
