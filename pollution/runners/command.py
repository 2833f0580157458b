"""Any command that writes JUnit XML: a template with ``{tests}``, ``{junit}``
and ``{workers}`` placeholders, run as an argv list (never through a shell)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from pollution.errors import InputError
from pollution.junit import load_junit
from pollution.runners.base import Invocation, RunRequest, expand_env


class CommandRunner:
    """``CommandRunner("mytest --out {junit} -j {workers} {tests}")``.

    The template is split once with shell rules (quotes group words) into an
    argv list; the argument that is exactly ``{tests}`` becomes one argv
    element per test id, ``{junit}`` the report path the command must write,
    ``{workers}`` the worker count.  No shell ever sees a test id.
    """

    name = "command"

    def __init__(self, template: str | Sequence[str], cwd: str | Path | None = None) -> None:
        words = shlex.split(template) if isinstance(template, str) else list(template)
        if not words:
            raise InputError("--command is empty: give the command that runs the tests")
        if not any("{junit}" in w for w in words):
            raise InputError(
                f"--command {shlex.join(words)!r} has no {{junit}}: the command must write its JUnit XML there"
            )
        self.words = words
        self.cwd = Path(cwd or ".").resolve()

    def prepare(self, request: RunRequest, workdir: Path) -> Invocation:
        report = workdir / "junit.xml"
        values = {"junit": str(report), "workers": str(request.workers)}
        argv: list[str] = []
        for word in self.words:
            if word == "{tests}":
                argv.extend(request.tests or [])
                continue
            for key, value in values.items():
                # Plain replacement: other braces in a command ({} of find -exec) stay as written.
                word = word.replace("{" + key + "}", value)
            argv.append(word)
        argv += list(request.extra_args)
        env = expand_env(request.env, probe=request.run_id)
        return Invocation(argv=argv, cwd=self.cwd, env=env, reports=[report])

    def collect(self, request: RunRequest, invocation: Invocation) -> pd.DataFrame:
        return load_junit(invocation.reports, run_id=request.run_id, mode=request.mode)
