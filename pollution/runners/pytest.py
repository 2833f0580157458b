"""pytest adapter: serial runs in exactly the given order, parallel through pytest-xdist."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from pollution.junit import load_junit
from pollution.runners.base import Invocation, RunRequest, expand_env

# Above this many characters of node ids, pass module files on argv and let
# the order file select the tests (Linux caps argv at about 2 MB).
ARGV_BUDGET = 200_000


class PytestRunner:
    """Runs tests with ``python -m pytest`` and the bundled plugin enabled.

    ``path`` is the directory pytest runs in (its rootdir); test ids are node
    ids relative to it.  ``python`` must have pytest (and pytest-xdist for
    parallel runs) and this package installed.
    """

    name = "pytest"
    can_loop = True
    error_exit_codes = (3, 4)  # internal error, usage error (e.g. an unknown test id)
    enforces_order = True

    def __init__(
        self,
        path: str | Path | None = None,
        python: str = sys.executable,
        args: Sequence[str] = (),
    ) -> None:
        self.path = Path(path or ".").resolve()
        self.python = python
        self.args = list(args)

    def prepare(self, request: RunRequest, workdir: Path) -> Invocation:
        report = workdir / "junit.xml"
        argv = [
            self.python, "-m", "pytest",
            "--pollution",
            f"--junitxml={report}",
            "-o", "junit_family=xunit2",
            "-p", "no:cacheprovider",  # probes must not learn from each other (--lf, --ff)
            "-q",
        ]
        if request.workers > 1:
            argv += ["-n", str(request.workers)]
        elif self._has_xdist():
            argv += ["-n", "0"]  # a user's addopts may say -n auto
        env = expand_env(request.env, probe=request.run_id)
        per_worker = {k: v for k, v in env.items() if "{worker}" in v}
        if per_worker:
            env["POLLUTION_ENV_TEMPLATE"] = json.dumps(per_worker)
        if request.loop_until:
            argv += [f"--pollution-loop-until={request.loop_until}"]
        if request.barrier:
            argv += [f"--pollution-barrier={request.barrier[0]},{request.barrier[1]}"]
        argv += [*self.args, *request.extra_args]
        if request.tests is not None:
            # Last, after "--": everything that follows is a test id, never an option.
            tests = list(request.tests)
            order = workdir / "order.txt"
            order.write_text("".join(f"{t}\n" for t in tests), encoding="utf-8")
            argv += [f"--pollution-order={order}"]
            argv += self._selection(tests) if tests else ["--", *request.collect]
        return Invocation(argv=argv, cwd=self.path, env=env, reports=[report])

    def collect(self, request: RunRequest, invocation: Invocation) -> pd.DataFrame:
        return load_junit(invocation.reports, run_id=request.run_id, mode=request.mode)

    @staticmethod
    def _selection(tests: list[str]) -> list[str]:
        if not tests:
            return []
        if sum(len(t) + 1 for t in tests) <= ARGV_BUDGET:
            # Every test named explicitly: mixing a directory with node ids
            # would make pytest fall back to file order.
            return ["--", *dict.fromkeys(tests)]
        files = dict.fromkeys(t.split("::", 1)[0] for t in tests)
        return ["--", *files]

    def _has_xdist(self) -> bool:
        if self.python != sys.executable:
            return False
        return importlib.util.find_spec("xdist") is not None
