"""``go test`` adapter: chosen tests via a safely built ``-run``, results from ``-json``.

What go can and cannot be told:

- Order: go runs a package's top-level tests in source order (files by name,
  then declaration order) and packages in the order given; an arbitrary order
  across tests cannot be forced, so a serial probe runs its tests in that
  order whatever order the request lists them in.
- Parallelism: ``workers`` becomes ``-p`` (package test binaries at once) and
  ``-parallel`` (``t.Parallel()`` tests at once inside one binary).  With
  ``workers=1`` everything runs one at a time.
- Selection: ``-run`` gets, per package, ``^TestA$|^TestB$/^sub$``: every
  slash-separated element quoted like Go's ``regexp.QuoteMeta`` and anchored,
  alternatives joined by ``|``.  ``go test`` splits that pattern on unbracketed
  ``/`` and ``|``; quoting escapes every bracket, parenthesis and bar inside a
  name, so names split exactly where the test ids have slashes.  A requested
  subtest also runs its parent's body (only the parent's other subtests are
  skipped), so the parent appears in the results.  Go matches level by level
  and cannot tell ``t.Run("x/y")`` from ``t.Run("x")`` holding ``t.Run("y")``:
  asking for ``TestA/x/y`` also runs a sibling subtest named ``x``.  Packages whose selections
  differ need separate ``go test`` commands (one ``-run`` per command); they
  run one after another when ``workers=1``, up to ``workers`` at once
  otherwise.
- Workers: go has no worker ids (a package is one process, parallel tests are
  goroutines), so ``{worker}`` in the environment overlay is refused.

The ``-json`` stream reaches a file through a small tee
(``python -m pollution.runners.gotest --tee FILE -- go test ...``): the
runner base captures a child's combined output itself, and results come back
through files (an argv list all the way, never a shell).
"""

from __future__ import annotations

import argparse
import json
import os
import string
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pandas as pd

from pollution.errors import InputError
from pollution.gojson import load_gotest_json
from pollution.runners.base import Invocation, RunRequest, expand_env

REPORT = "go-test.json"
ARG_MAX = 128 * 1024 - 1  # Linux caps one argv element at 128 KiB (MAX_ARG_STRLEN)
_META = frozenset("\\.+*?()|[]{}^$")


def quote_meta(text: str) -> str:
    """Go's ``regexp.QuoteMeta``: escape exactly the RE2 metacharacters.

    >>> quote_meta("a+b (c)|[d]")
    'a\\\\+b \\\\(c\\\\)\\\\|\\\\[d\\\\]'
    """
    return "".join("\\" + c if c in _META else c for c in text)


def run_pattern(names: Sequence[str]) -> str:
    """The ``-run`` pattern selecting exactly ``names`` (``TestA``, ``TestA/sub``).

    >>> run_pattern(["TestA", "TestB/x.y"])
    '^TestA$|^TestB$/^x\\\\.y$'
    """
    if not names:
        return "^$"  # matches no test: top-level names are never empty
    return "|".join("/".join(f"^{quote_meta(part)}$" for part in name.split("/")) for name in names)


def split_test_id(test_id: str) -> tuple[str | None, str]:
    """``"pkg/path::TestA/sub"`` -> ``("pkg/path", "TestA/sub")``; a bare name has no package."""
    package, sep, name = test_id.partition("::")
    if not sep:
        package, name = "", test_id
    if not name or name.startswith("/"):
        raise InputError(f"test id {test_id!r}: expected <package import path>::<TestName[/subtest]>")
    return package or None, name


def selections(tests: Sequence[str], packages: Sequence[str]) -> list[tuple[list[str], str]]:
    """Group requested ids by package, then packages by identical ``-run`` pattern.

    Bare names (no ``pkg::``) apply to the runner's own ``packages``.

    >>> selections(["a::TestX", "b::TestX", "c::TestY"], ["./..."])
    [(['a', 'b'], '^TestX$'), (['c'], '^TestY$')]
    """
    by_package: dict[str, list[str]] = {}
    for test_id in tests:
        package, name = split_test_id(test_id)
        for target in [package] if package else packages:
            names = by_package.setdefault(target, [])
            if name not in names:
                names.append(name)
    groups: dict[str, list[str]] = {}
    for package, names in by_package.items():
        groups.setdefault(run_pattern(names), []).append(package)
    if not groups:
        return [(list(packages), run_pattern([]))]
    return [(pkgs, pattern) for pattern, pkgs in groups.items()]


def refuse_worker_placeholder(env: Mapping[str, str], runner: str, hint: str) -> None:
    """Raise when an environment template uses ``{worker}``, which this runner cannot expand."""
    for key, value in env.items():
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
        except ValueError:
            continue  # expand_env reports malformed templates
        if "worker" in fields:
            raise InputError(f"environment template {key}={value!r}: {runner} cannot expand {{worker}}; {hint}")


def go_environment(
    base: Mapping[str, str], gopath: str | None, request: RunRequest, runner: str, hint: str
) -> dict[str, str]:
    """The environment overlay of a go or Ginkgo invocation: the runner's own
    variables, GOPATH mode when a GOPATH is given, then the request's
    (``{probe}`` expanded; ``{worker}`` refused)."""
    refuse_worker_placeholder(request.env, runner, hint)
    env = dict(base)
    if gopath is not None:
        env.update(GOPATH=gopath, GO111MODULE="off")
    env.update(expand_env(request.env, probe=request.run_id))
    return env


@dataclass
class GoTestRunner:
    """Run ``go test -json`` over chosen tests.

    ``gopath`` switches to GOPATH mode (``GOPATH=<gopath>``,
    ``GO111MODULE=off``); ``env`` is added to every run's environment.
    """

    packages: Sequence[str] = ("./...",)
    cwd: Path | None = None
    go: str = "go"
    gopath: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    name = "go"
    enforces_order = False  # go runs source order, whatever order the request lists

    def __post_init__(self) -> None:
        if isinstance(self.packages, str):
            self.packages = [self.packages]
        if not self.packages:
            raise InputError("go runner: give at least one package (for example ./...)")

    def commands(self, request: RunRequest) -> list[list[str]]:
        """The ``go test`` argv lists one request needs (usually one)."""
        workers = str(max(1, request.workers))
        base = [self.go, "test", "-json", "-count=1", "-p", workers, "-parallel", workers]
        if request.tests is None:
            return [[*base, *self.packages, *request.extra_args]]
        return [
            [*base, "-run", pattern, *packages, *request.extra_args]
            for packages, pattern in selections(request.tests, self.packages)
        ]

    def prepare(self, request: RunRequest, workdir: Path) -> Invocation:
        env = go_environment(
            self.env, self.gopath, request, "go test", "go has no worker ids (use {probe}, or a per-package name in the test)"
        )
        env["PYTHONPATH"] = _python_path(env)
        report = workdir.resolve() / REPORT
        commands = self.commands(request)
        argv = [sys.executable, "-m", "pollution.runners.gotest", "--tee", str(report)]
        if len(commands) == 1:
            argv += ["--", *commands[0]]
        else:
            jobs = max(1, request.workers)
            argv += ["--jobs", str(jobs)]
            for command in commands:
                argv += ["--command", json.dumps(command)]
        longest = max(len(a.encode()) for a in argv)
        if longest > ARG_MAX:
            raise InputError(
                f"the -run pattern for these {len(request.tests or ())} tests is {longest} bytes, more than "
                f"one argument may hold ({ARG_MAX}): probe fewer tests at a time"
            )
        return Invocation(argv=argv, cwd=self.cwd or Path.cwd(), env=env, reports=[report])

    def collect(self, request: RunRequest, invocation: Invocation) -> pd.DataFrame:
        return load_gotest_json(invocation.reports[0], run_id=request.run_id, mode=request.mode)


def _python_path(env: Mapping[str, str]) -> str:
    """PYTHONPATH letting the tee import this package from any working directory
    (also when it runs from a checkout that is not installed)."""
    here = str(Path(__file__).resolve().parents[2])
    rest = env.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    return os.pathsep.join([here, *([rest] if rest else [])])


# --------------------------------------------------------------------------
# The tee: python -m pollution.runners.gotest --tee FILE -- go test -json ...


def tee(report: Path, commands: Sequence[Sequence[str]], jobs: int = 1) -> int:
    """Run ``commands`` in order, ``jobs`` at a time, copying their stdout into
    ``report`` line by line (whole lines, so concurrent streams interleave
    cleanly).  Our own stdout gets the human-readable ``Output`` text of the
    events; stderr passes through.  Returns the first non-zero exit status,
    127 when a program cannot be started."""
    lock = threading.Lock()
    pending = list(reversed(commands))
    codes: list[int] = []

    def work(sink: IO[bytes]) -> None:
        while True:
            with lock:
                if not pending:
                    return
                argv = pending.pop()
            codes.append(_tee_one(argv, sink, lock))

    with report.open("wb") as sink:
        threads = [threading.Thread(target=work, args=(sink,)) for _ in range(max(1, min(jobs, len(commands))))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return next((c for c in codes if c != 0), 0)


def _tee_one(argv: Sequence[str], sink: IO[bytes], lock: threading.Lock) -> int:
    try:
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    except OSError as exc:
        sys.stderr.write(f"cannot start {argv[0]!r}: {exc.strerror or exc}\n")
        return 127
    with proc:
        for line in proc.stdout or ():
            shown = _shown(line)
            with lock:
                sink.write(line)
                sink.flush()
                if shown:
                    sys.stdout.buffer.write(shown)
                    sys.stdout.buffer.flush()
    return proc.returncode


def _shown(line: bytes) -> bytes:
    """What a person would have seen: an event's ``Output``, or the raw line."""
    if not line.startswith(b"{"):
        return line
    try:
        event = json.loads(line)
    except ValueError:
        return line
    output = event.get("Output") if isinstance(event, dict) else None
    return output.encode("utf-8", errors="replace") if isinstance(output, str) else b""


def main(args: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if args is None else args)
    rest: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, rest = args[:cut], args[cut + 1:]
    parser = argparse.ArgumentParser(prog="python -m pollution.runners.gotest")
    parser.add_argument("--tee", type=Path, required=True, help="file receiving the commands' stdout")
    parser.add_argument("--jobs", type=int, default=1, help="commands run at once")
    parser.add_argument("--command", action="append", default=[], help="one command as a JSON argv list")
    options = parser.parse_args(args)
    commands: list[list[str]] = [rest] if rest else []
    for text in options.command:
        argv = json.loads(text)
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            parser.error(f"--command {text!r}: expected a JSON list of strings")
        commands.append(argv)
    if not commands:
        parser.error("no command: give -- ARGV... or --command JSON")
    return tee(options.tee, commands, options.jobs)


if __name__ == "__main__":
    sys.exit(main())
