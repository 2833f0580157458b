"""``report.md``: the essentials of the report in GitHub-flavoured Markdown.

Fit for ``$GITHUB_STEP_SUMMARY`` (tables, lists, fenced code, a Mermaid
graph; no HTML). Test ids go into code spans, with ``|`` escaped inside
tables, so no id can break a table or inject markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from pollution.report.data import (
    EXPORTS,
    ReportData,
    format_seconds,
    load_report,
    passed_phrase,
    run_label,
)

__all__ = ["code", "markdown", "render_markdown"]

LIST_LIMIT = 50  # longest list of test ids in the summary (the HTML report has all)
MERMAID_EDGES = 60  # larger graphs are too big to read inline


def code(text: str, *, cell: bool = False) -> str:
    """``text`` as a Markdown code span (backticks inside handled); in a table
    ``cell``, pipes are escaped, which GitHub honours even inside code spans.

    Examples
    --------
    >>> print(code("t.py::test_a[<b>]"))
    `t.py::test_a[<b>]`
    >>> print(code("t.py::test_x[a|b]", cell=True))
    `t.py::test_x[a\\|b]`
    >>> print(code("t.py::test_`tick`"))
    `` t.py::test_`tick` ``
    """
    text = " ".join(text.splitlines())
    fence = "`"
    while fence in text:
        fence += "`"
    padded = f" {text} " if text.startswith("`") or text.endswith("`") or fence != "`" else text
    span = f"{fence}{padded}{fence}"
    return span.replace("|", "\\|") if cell else span


def _fence(text: str, language: str = "") -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{language}\n{text}\n{fence}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[int] = ()) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _plain(text: str) -> str:
    """Free text in a table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def render_markdown(out_dir: str | Path, data: ReportData | None = None) -> Path:
    """Write ``report.md`` into the diagnosis directory ``out_dir``; return its path."""
    data = data if data is not None else load_report(out_dir)
    path = data.out_dir / "report.md"
    path.write_text(markdown(data), encoding="utf-8")
    return path


def markdown(data: ReportData) -> str:
    """The whole Markdown document."""
    sections = [
        "# Test pollution report", f"**{data.headline()}**", _runs(data), _found(data), _victims(data),
        _plan(data), _graph(data), _costs(data),
        "_Full report with the worker timeline, plots and every probe cited: `report.html` beside this file._",
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _runs(data: ReportData) -> str:
    if not data.run_groups:
        return ""
    rows = [
        [g.mode, "—" if g.workers is None else str(g.workers), str(len(g.run_ids)), passed_phrase(g),
         f"{g.pass_rate:.0%}", format_seconds(g.wall), format_seconds(g.test_time),
         _plain(", ".join(run_label(r) for r in g.run_ids))]
        for g in data.run_groups
    ]
    return "## Serial vs parallel\n\n" + _table(
        ["mode", "workers", "runs", "passed", "pass rate", "wall time", "test time", "runs"], rows, right=(1, 2, 3, 4, 5, 6)
    )


def _found(data: ReportData) -> str:
    d = data.diagnosis
    summary = (f"## Found\n\n- **{len(data.victims)}** victim(s), **{len(data.fixes)}** polluter(s), "
               f"**{len(data.live_edges)}** confirmed edge(s)\n- **{len(data.nondeterministic)}** nondeterministic "
               f"flake(s), **{len(d.unexplained)}** unexplained victim(s), **{len(d.triage.genuine)}** failing "
               f"alone, **{len(d.triage.brittle)}** brittle")
    out = [summary]
    if data.fixes:
        rows = [[code(f.polluter, cell=True) + (" (module)" if f.module else ""), str(len(f.victims)),
                 ", ".join(f.kinds)] for f in data.fixes]
        out.append("### Polluters\n\n" + _table(["polluter", "victims", "kind"], rows, right=(1,)))
    if data.nondeterministic:
        rows = []
        for t in data.nondeterministic:
            alone = (f"{d.triage.alone_failures.get(t, 0)}/{d.triage.alone_runs[t]} failed alone"
                     if t in d.triage.alone_runs else "")
            stats = d.stats.get(t, {})
            runs = (f"serial {stats.get('serial_failures', 0)}/{stats.get('serial_runs', 0)}, parallel "
                    f"{stats.get('parallel_failures', 0)}/{stats.get('parallel_runs', 0)} failed" if stats else "")
            rows.append([code(t, cell=True), _plain("; ".join(x for x in (alone, runs) if x) or "outcome varied")])
        out.append("### Nondeterministic flakes (not bisected)\n\n" + _table(["test", "evidence"], rows))
    return "\n\n".join(out)


def _victims(data: ReportData) -> str:
    if not data.victims:
        return ""
    rows = []
    for v in data.victims:
        first = v.message.splitlines()[0] if v.message else ""
        alone = f"{v.alone_runs - v.alone_failures}/{v.alone_runs}"
        if not v.culprits:
            what = "group only" if v.groups else "unexplained" if data.rerun else "not re-run"
            top = ", ".join(str(s.get("suspect", "")) for s in v.suspects[:3])
            suspects = _plain(f"suspects: {top}") if top else ""
            rows.append([code(v.victim, cell=True), what, "", "", alone if data.rerun else "", suspects, _plain(first)])
        for c in v.culprits:
            e = c.edge
            rows.append([code(v.victim, cell=True), code(e.polluter, cell=True), e.kind,
                         f"{e.confirmations}/{e.attempts} {e.status}", alone,
                         _plain(", ".join(c.probes)), _plain(first)])
    out = ["## Victims and evidence\n\n" + _table(
        ["victim", "polluter", "kind", "re-runs failed", "passed alone", "probes", "failure"], rows)]
    commands = [(v.victim, c) for v in data.victims for c in v.culprits if c.command]
    if commands:
        lines = ["### Reproduce", ""]
        for victim, c in commands:
            how = "then" if c.edge.kind == "sequential" else "beside (timing-dependent)"
            lines += [f"- {code(c.edge.polluter)} {how} {code(victim)}:", "", _indent(_fence(c.command or "", "sh")), ""]
        out.append("\n".join(lines).rstrip())
    return "\n\n".join(out)


def _indent(text: str) -> str:
    return "\n".join("  " + line if line else line for line in text.splitlines())


def _plan(data: ReportData) -> str:
    out = ["## Plan"]
    if not data.rerun:
        return ("## Plan\n\nNo runner was given, so nothing was re-run: the suspects are a ranking, not proof. "
                "Run `pollution diagnose` with `--runner` to bisect and confirm the polluters.")
    if data.fixes:
        victims = {v for f in data.fixes for v in f.victims}
        items = [f"{i}. {code(f.polluter)}{' (module)' if f.module else ''} breaks {len(f.victims)}: "
                 + ", ".join(code(v) for v in f.victims) for i, f in enumerate(data.fixes, 1)]
        out.append(f"### Fix these {len(data.fixes)} test(s) ({len(victims)} victim(s) then pass in parallel)\n\n"
                   + "\n".join(items))
    else:
        out.append("Nothing to fix: no polluter was confirmed.")
    shown = data.safe[:LIST_LIMIT]
    more = f"\n- … and {len(data.safe) - len(shown)} more (all in `report.html`)" if len(data.safe) > len(shown) else ""
    listing = ("\n\n" + "\n".join(f"- {code(t)}" for t in shown) + more) if shown else ""
    out.append(f"### May run in parallel now: {len(data.safe)} of {data.universe} tests\n\n"
               f"In no polluter → victim edge, never failed in the {data.parallel_runs} parallel run(s), "
               f"not flaky, brittle or failing alone.{listing}")
    why, snippet = data.snippet()
    block = f"### Keep the {len(data.involved)} involved test(s) apart until fixed\n\n{why}"
    if snippet:
        block += "\n\n" + _fence(snippet, "python" if data.runner == "pytest" else "")
    out.append(block)
    return "\n\n".join(out)


def _graph(data: ReportData) -> str:
    links = ", ".join(f"[{name}]({name})" for name in EXPORTS.values())
    text = f"## Interference graph\n\nExports beside this report: {links}."
    if 0 < len(data.live_edges) <= MERMAID_EDGES:
        text += "\n\n" + _fence(data.graph.export("mermaid").rstrip("\n"), "mermaid")
    return text


def _costs(data: ReportData) -> str:
    d = data.diagnosis
    rows = [[phase, str(c.probes), str(c.invocations), str(c.executions), str(c.reused), format_seconds(c.wall)]
            for phase, c in d.costs.items()]
    t = d.total_costs()
    rows.append(["**total**", str(t.probes), str(t.invocations), str(t.executions), str(t.reused),
                 format_seconds(d.wall)])
    return "## Cost of the diagnosis\n\n" + _table(
        ["phase", "probes", "runner invocations", "test executions", "reused", "wall time"], rows,
        right=(1, 2, 3, 4, 5))
