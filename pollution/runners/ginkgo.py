"""Ginkgo v2 adapter: chosen specs via anchored ``--focus``, results from the JSON report.

What Ginkgo can and cannot be told:

- Order: Ginkgo orders specs itself.  Without ``--randomize-all`` it shuffles
  the top-level containers with the seed and keeps definition order inside
  them; an arbitrary order cannot be forced.  The runner always passes
  ``--seed`` (``seed=1`` unless told otherwise) so a probe is reproducible.
- Parallelism: ``workers > 1`` becomes ``--procs N``; ``Serial`` specs then run
  on process 1 after the parallel ones, as in any parallel Ginkgo run.
- Selection: Ginkgo matches ``--focus`` against ``"<suite description> <spec
  text>"`` where the spec text is the container texts and the leaf text joined
  by spaces (``internal/focus.go`` in Ginkgo 2.15) - the test id
  ``"<suite description>::<spec text>"`` with ``::`` read as a space.  Each
  requested spec becomes one ``--focus`` of that text quoted like Go's
  ``regexp.QuoteMeta`` and anchored (``^...$``); Ginkgo ORs the flags.  The
  specs left out appear in Ginkgo's report as skipped; ``collect`` drops those
  rows, keeping only what was asked for or actually ran.
- Workers: Ginkgo starts its processes itself, so ``{worker}`` in the
  environment overlay cannot be expanded per process and is refused; the suite
  can read ``GINKGO_PARALLEL_PROCESS`` (1..N) to name per-process resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pollution.errors import InputError
from pollution.junit import load_junit
from pollution.runners.base import Invocation, RunRequest
from pollution.runners.gotest import go_environment, quote_meta

JSON_REPORT = "report.json"
JUNIT_REPORT = "report.junit.xml"


def focus_patterns(test_id: str) -> list[str]:
    """The anchored ``--focus`` pattern(s) selecting exactly one spec.

    The suite description or the spec text may itself hold ``::``; then each
    split is a candidate, and each candidate is still an exact, anchored text.

    >>> focus_patterns("Polluted Suite::Accounts creates account 42")
    ['^Polluted Suite Accounts creates account 42$']
    >>> focus_patterns("S::a+b (c)|[d]")
    ['^S a\\\\+b \\\\(c\\\\)\\\\|\\\\[d\\\\]$']
    """
    cuts = [i for i in range(len(test_id) - 1) if test_id.startswith("::", i)]
    if not cuts:
        raise InputError(f"test id {test_id!r}: expected <suite description>::<spec text>")
    texts = dict.fromkeys(test_id[:i] + " " + test_id[i + 2:] for i in cuts)
    return [f"^{quote_meta(text)}$" for text in texts]


@dataclass
class GinkgoRunner:
    """Run one Ginkgo suite (the package directory ``path``) with ``ginkgo run``.

    ``gopath`` switches to GOPATH mode (``GOPATH=<gopath>``,
    ``GO111MODULE=off``); ``env`` is added to every run's environment.
    """

    path: Path
    ginkgo: str = "ginkgo"
    gopath: str | None = None
    seed: int = 1
    env: Mapping[str, str] = field(default_factory=dict)

    name = "ginkgo"
    enforces_order = False  # Ginkgo orders specs itself (seeded), whatever order the request lists

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    def arguments(self, request: RunRequest, workdir: Path) -> list[str]:
        argv = [self.ginkgo, "run"]
        if request.workers > 1:
            argv += ["--procs", str(request.workers)]
        argv += [
            f"--seed={self.seed}",
            f"--json-report={JSON_REPORT}",  # relative, beside --output-dir (see the fixtures' README)
            f"--junit-report={JUNIT_REPORT}",
            f"--output-dir={workdir}",
            "--keep-going",
            "--no-color",
        ]
        if request.tests is not None:
            patterns = [p for test_id in request.tests for p in focus_patterns(test_id)]
            # No spec text is empty after the suite description, so "^$" focuses nothing.
            for pattern in dict.fromkeys(patterns) or ["^$"]:
                argv.append(f"--focus={pattern}")
        # Ginkgo stops reading its own flags at the first package; what follows
        # "--" goes to the test binary.
        extra = list(request.extra_args)
        passthrough: list[str] = []
        if "--" in extra:
            cut = extra.index("--")
            extra, passthrough = extra[:cut], extra[cut:]
        return [*argv, *extra, str(self._suite()), *passthrough]

    def _suite(self) -> Path:
        # A directory is made absolute: the process starts inside it.
        return self.path.resolve() if self.path.is_dir() else self.path

    def prepare(self, request: RunRequest, workdir: Path) -> Invocation:
        env = go_environment(
            self.env, self.gopath, request, "Ginkgo",
            "the suite can read GINKGO_PARALLEL_PROCESS (1..N) to name per-process resources",
        )
        workdir = workdir.resolve()
        return Invocation(
            argv=self.arguments(request, workdir),
            cwd=self._suite() if self.path.is_dir() else Path.cwd(),
            env=env,
            reports=[workdir / JSON_REPORT, workdir / JUNIT_REPORT],
        )

    def collect(self, request: RunRequest, invocation: Invocation) -> pd.DataFrame:
        json_report, junit_report = invocation.reports
        usable = json_report.exists() and json_report.stat().st_size > 0
        table = load_junit(json_report if usable else junit_report, run_id=request.run_id, mode=request.mode)
        if request.tests is None:
            return table
        return _drop_unfocused(table, set(request.tests))


def _drop_unfocused(table: pd.DataFrame, requested: set[str]) -> pd.DataFrame:
    """Drop the skipped rows of specs nobody asked for; renumber positions per worker."""
    keep = table["test_id"].isin(requested) | (table["outcome"] != "skipped")
    kept = table[keep].reset_index(drop=True)
    placed = kept["position"].notna()
    if placed.any():
        ranks = kept[placed].groupby(kept.loc[placed, "worker"].fillna(""))["position"].rank(method="first")
        kept.loc[placed, "position"] = (ranks - 1).astype("Int64")
    kept["seq"] = pd.array(range(len(kept)), dtype="Int64")
    return kept
