"""Reports of a diagnosis: HTML, Markdown, graph exports and matplotlib plots.

>>> from pollution.report import render_all
>>> paths = render_all("pollution-report")            # doctest: +SKIP
>>> sorted(paths)                                     # doctest: +SKIP
['dot', 'graphml', 'html', 'json', 'markdown', 'mermaid']

``render_all(out_dir)`` reads the directory ``pollution bisect --out`` wrote
(``result.json``, and ``runs.parquet`` and ``journal.jsonl`` when present)
and writes beside them ``report.html`` (self-contained, opens offline),
``report.md`` (fit for a GitHub step summary) and the interference graph as
``graph.json``, ``graph.graphml``, ``graph.dot`` and ``graph.mmd``.

The plots (:mod:`pollution.report.plots`) take ``ax=None`` and return the
Axes, for notebooks; matplotlib is imported only when one is drawn.
"""

from __future__ import annotations

from pathlib import Path

from pollution.report.data import EXPORTS, ReportData, load_report
from pollution.report.html import render_html
from pollution.report.markdown import render_markdown

__all__ = ["ReportData", "load_report", "render_all", "render_html", "render_markdown"]


def render_all(out_dir: str | Path) -> dict[str, Path]:
    """Write every report file into the diagnosis directory ``out_dir``.

    Returns the paths by kind: ``html``, ``markdown``, and one per graph
    export format (``json``, ``graphml``, ``dot``, ``mermaid``).
    Raises :class:`pollution.InputError` when ``out_dir`` holds no
    readable ``result.json``.
    """
    data = load_report(out_dir)
    paths = {"html": render_html(data.out_dir, data)}  # writes the graph exports it links to
    paths.update({fmt: data.out_dir / name for fmt, name in EXPORTS.items()})
    paths["markdown"] = render_markdown(data.out_dir, data)
    return paths
