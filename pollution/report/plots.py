"""matplotlib plots of a diagnosis: worker timeline, outcome categories, graph.

Each function takes ``ax=None`` (a new figure when None), draws, and returns
the Axes; matplotlib is imported inside, so importing this module is cheap.
For files, draw on a :class:`matplotlib.figure.Figure` made without pyplot
(see :func:`pollution.report.html.figure`): it renders with Agg whatever
backend pyplot would pick.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from pollution.diff import CATEGORIES, summarize
from pollution.graph import short_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from pollution.bisect import Edge
    from pollution.diagnosis import Diagnosis

__all__ = ["CATEGORY_COLOURS", "graph_plot", "outcome_chart", "pick_timeline_run", "timeline", "timeline_runs"]

PASSED = "#aebfd1"
FAILED = "#5f5f5f"
SKIPPED = "#e4e4e4"
VICTIM = "#d62728"
POLLUTER = "#ff7f0e"
CONNECTOR = "#7f2704"
CATEGORY_COLOURS = {
    "parallel-only": VICTIM,
    "genuine-failure": "#8c1c13",
    "flaky": "#e6ab02",
    "serial-only": "#9467bd",
    "serial-missing": "#17becf",
    "parallel-missing": "#17becf",
    "skipped": "#bdbdbd",
    "pass": "#2ca02c",
}
_LIVE = ("confirmed", "intermittent")
_FAILED = ("failed", "error")
_NO_TIMING = "no worker/timing data in this report"


def _new_axes(width: float, height: float) -> Axes:
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(width, height))
    return ax


def timeline_runs(table: pd.DataFrame) -> list[str]:
    """Run ids of the parallel runs whose rows all know worker, start and stop
    (runs without a mode count when no run has one)."""
    if table.empty:
        return []
    modes = table["mode"]
    runs = table[modes == "parallel"] if (modes == "parallel").any() else table[modes.isna()]
    usable = []
    for run_id, frame in runs.groupby("run_id", sort=True):
        ran = frame[frame["outcome"] != "skipped"]
        if len(ran) and ran["worker"].notna().all() and ran["start"].notna().all():
            usable.append(str(run_id))
    return usable


def pick_timeline_run(table: pd.DataFrame, diagnosis: Diagnosis | None = None) -> str | None:
    """The parallel run with timing where most victims failed (most failures
    without a diagnosis); ties go to the first run id."""
    usable = timeline_runs(table)
    if not usable:
        return None
    victims = set(diagnosis.victims) if diagnosis is not None else None

    def failures(run_id: str) -> int:
        rows = table[(table["run_id"] == run_id) & table["outcome"].isin(list(_FAILED))]
        return int(rows["test_id"].isin(victims).sum()) if victims is not None else len(rows)

    return max(usable, key=lambda r: (failures(r), -usable.index(r)))


def timeline(
    table: pd.DataFrame,
    diagnosis: Diagnosis | None = None,
    run_id: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw one parallel run as a worker timeline and return the Axes.

    One lane per worker, one bar per test from its start to its stop.
    Tests that failed are dark; with a ``diagnosis``, its victims that failed
    in this run are red, their confirmed polluters orange, and an arrow runs
    from each polluter's bar to its victim's bar, so the overlap (concurrent)
    or the earlier run (sequential) that broke the victim is visible.

    Parameters
    ----------
    table : pandas.DataFrame
        A results table (``pollution.load_table``) holding the run.
    diagnosis : Diagnosis, optional
        Marks victims and polluters.
    run_id : str, optional
        The run to draw; by default the parallel run with timing data where
        most victims failed (:func:`pick_timeline_run`).
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new figure sized to the number of workers.

    When no run has worker and start/stop data (plain JUnit XML without the
    bundled pytest plugin), the Axes says so in words instead.
    """
    chosen = run_id if run_id is not None else pick_timeline_run(table, diagnosis)
    rows = _timeline_rows(table, chosen)
    if rows is None:
        ax = ax if ax is not None else _new_axes(10, 1.6)
        ax.set_axis_off()
        ax.text(0.5, 0.5, _NO_TIMING + "\n(run pytest with the bundled plugin: pollution run records "
                "worker, start and stop)", ha="center", va="center", transform=ax.transAxes, fontsize=10,
                color="#555555")
        return ax
    workers = sorted(rows["worker"].unique(), key=_natural)
    lane = {w: i for i, w in enumerate(workers)}
    if ax is None:
        ax = _new_axes(12, 1.4 + 0.55 * len(workers))
    edges = [e for e in (diagnosis.edges if diagnosis is not None else []) if e.status in _LIVE]
    failed = set(rows.loc[rows["outcome"].isin(list(_FAILED)), "test_id"])
    victims = {e.victim for e in edges if e.victim in failed}
    polluters = {p for e in edges if e.victim in victims for p in _polluter_rows(rows, e)}
    colour = rows.apply(lambda r: _bar_colour(r, victims, polluters), axis=1)
    for c in (SKIPPED, PASSED, FAILED, POLLUTER, VICTIM):
        part = rows[colour == c]
        if not part.empty:
            ax.barh([lane[w] for w in part["worker"]], part["bar_stop"] - part["bar_start"], left=part["bar_start"],
                    height=0.62, color=c, edgecolor="white", linewidth=0.4)
    span = float(rows["bar_stop"].max()) * 1.01 or 1.0
    _label_bars(ax, rows[rows["test_id"].isin(victims | polluters)], lane, span)
    _connect(ax, rows, edges, victims, lane)
    ax.set_yticks(range(len(workers)), [str(w) for w in workers])
    ax.set_ylim(len(workers) - 0.35, -0.65)
    ax.set_xlim(0, span)
    ax.set_xlabel("seconds since the run started")
    ax.set_ylabel("worker")
    ax.set_title(f"{_run_name(str(chosen))}: {len(rows)} tests on {len(workers)} workers", fontsize=10, loc="left")
    ax.grid(axis="x", color="#e8e8e8", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    _timeline_legend(ax, bool(edges))
    return ax


def _timeline_rows(table: pd.DataFrame, run_id: str | None) -> pd.DataFrame | None:
    if run_id is None or table.empty:
        return None
    rows = table[(table["run_id"] == run_id) & table["worker"].notna() & table["start"].notna()].copy()
    if rows.empty:
        return None
    start = rows["start"].astype(float)
    stop = rows["stop"].astype("Float64").fillna(rows["start"] + rows["duration"].fillna(0.0)).astype(float)
    t0 = float(start.min())
    rows["bar_start"] = start - t0
    rows["bar_stop"] = stop.where(stop > start, start) - t0
    rows["worker"] = rows["worker"].astype(str)
    return rows


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def _polluter_rows(rows: pd.DataFrame, edge: Edge) -> set[str]:
    """Test ids of this run standing for the polluter (all of a polluting module's tests)."""
    if edge.module:
        module = edge.polluter.removesuffix(" (session start-up)")
        ids = rows["test_id"].astype(str)
        same_file = (rows["file"] == module).fillna(False).astype(bool)
        return set(ids[(ids.str.split("::").str[0] == module) | same_file])
    return {edge.polluter} if (rows["test_id"] == edge.polluter).any() else set()


def _bar_colour(row: Any, victims: set[str], polluters: set[str]) -> str:
    if row["test_id"] in victims:
        return VICTIM
    if row["test_id"] in polluters:
        return POLLUTER
    if row["outcome"] in _FAILED:
        return FAILED
    return SKIPPED if row["outcome"] == "skipped" else PASSED


def _label_bars(ax: Axes, rows: pd.DataFrame, lane: dict[str, int], span: float) -> None:
    """Label bars above their lane; a label that would run into the previous
    one on the same lane goes below instead (and the next back above)."""
    fontsize = 7.0
    width_pt = ax.bbox.width / ax.figure.dpi * 72  # before layout: an estimate is enough
    seconds_per_pt = span / max(width_pt, 1.0)
    last_end: dict[tuple[str, bool], float] = {}
    for r in rows.sort_values("bar_start").to_dict(orient="records"):
        text = short_label(str(r["test_id"]), 28)
        x = float(r["bar_start"])
        end = x + (len(text) * fontsize * 0.6 + 4) * seconds_per_pt
        worker = str(r["worker"])
        above = last_end.get((worker, True), -1.0) <= x or last_end.get((worker, False), -1.0) > x
        last_end[(worker, above)] = end
        y = lane[worker] + (-0.34 if above else 0.34)
        ax.annotate(text, (x, y), xytext=(1, 1 if above else -1), textcoords="offset points", fontsize=fontsize,
                    va="bottom" if above else "top", ha="left", color="#222222", annotation_clip=False)


def _connect(ax: Axes, rows: pd.DataFrame, edges: Iterable[Edge], victims: set[str], lane: dict[str, int]) -> None:
    middle = {str(r["test_id"]): ((float(r["bar_start"]) + float(r["bar_stop"])) / 2, float(lane[str(r["worker"])]))
              for r in rows.to_dict(orient="records")}
    for e in edges:
        if e.victim not in victims:
            continue
        target = middle[e.victim]
        for pid in sorted(_polluter_rows(rows, e)):
            source = middle[pid]
            bend = 0.0 if source[1] != target[1] else 0.35
            ax.annotate("", xy=target, xytext=source, annotation_clip=False,
                        arrowprops={"arrowstyle": "-|>", "color": CONNECTOR, "lw": 1.1, "shrinkA": 2,
                                    "shrinkB": 2, "linestyle": "-" if e.kind == "sequential" else "--",
                                    "connectionstyle": f"arc3,rad={bend}"})


def _timeline_legend(ax: Axes, with_edges: bool) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.transforms import ScaledTranslation

    handles: list[Any] = [Patch(color=PASSED, label="passed"), Patch(color=FAILED, label="failed")]
    if with_edges:
        handles += [
            Patch(color=VICTIM, label="victim (failed)"),
            Patch(color=POLLUTER, label="its confirmed polluter"),
            Line2D([], [], color=CONNECTOR, lw=1.1, label="sequential: ran before"),
            Line2D([], [], color=CONNECTOR, lw=1.1, ls="--", label="concurrent: ran beside"),
        ]
    # Below the x label whatever the height of the Axes: anchored in points, not in axes fractions.
    below = ax.transAxes + ScaledTranslation(0, -34 / 72, ax.figure.dpi_scale_trans)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below,
              ncol=len(handles), frameon=False, fontsize=8)


def _run_name(run_id: str) -> str:
    return run_id.rstrip("/").rsplit("/", 1)[-1] or run_id


def outcome_chart(diff: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Bar chart of tests per serial-vs-parallel category (``pollution.diff_runs``
    output), every category in a fixed order, with the count on each bar.

    Examples
    --------
    >>> import pandas as pd
    >>> from matplotlib.figure import Figure
    >>> diff = pd.DataFrame({"category": ["pass", "pass", "parallel-only"]})
    >>> ax = outcome_chart(diff, ax=Figure().subplots())
    >>> [t.get_text() for t in ax.get_yticklabels()][:2]
    ['parallel-only', 'genuine-failure']
    """
    counts = summarize(diff)
    if ax is None:
        ax = _new_axes(8, 3.2)
    names = list(CATEGORIES)
    values = [counts[c] for c in names]
    bars = ax.barh(range(len(names)), values, color=[CATEGORY_COLOURS[c] for c in names], height=0.66)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.bar_label(bars, labels=[str(v) for v in values], padding=3, fontsize=8)
    ax.set_xlim(0, max(max(values, default=0), 1) * 1.12)
    ax.set_xlabel("tests")
    ax.set_title(f"{len(diff)} tests: serial vs parallel outcome", fontsize=10, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


def graph_plot(diagnosis: Diagnosis, ax: Axes | None = None) -> Axes:
    """The polluter -> victim graph of the diagnosis
    (:meth:`pollution.graph.InterferenceGraph.draw`)."""
    return diagnosis.graph().draw(ax=ax)
