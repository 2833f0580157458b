"""Runner adapters: execute a chosen list of tests and return the results table.

Adapters are chosen by name here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pollution.errors import InputError
from pollution.runners.base import Invocation, Runner, RunRequest, RunResult, execute, expand_env

__all__ = ["Invocation", "RunRequest", "RunResult", "Runner", "execute", "expand_env", "get_runner", "RUNNERS"]


def _pytest(**options: Any) -> Runner:
    from pollution.runners.pytest import PytestRunner

    return PytestRunner(**options)


def _gotest(**options: Any) -> Runner:
    from pollution.runners.gotest import GoTestRunner

    return GoTestRunner(**options)


def _ginkgo(**options: Any) -> Runner:
    from pollution.runners.ginkgo import GinkgoRunner

    return GinkgoRunner(**options)


def _command(**options: Any) -> Runner:
    from pollution.runners.command import CommandRunner

    return CommandRunner(**options)


RUNNERS: dict[str, Callable[..., Runner]] = {
    "pytest": _pytest,
    "go": _gotest,
    "ginkgo": _ginkgo,
    "command": _command,
}


def runner_from_options(
    name: str,
    *,
    path: str | None = None,
    packages: list[str] | None = None,
    command: str | None = None,
    python: str | None = None,
) -> Runner:
    """Build a runner from the CLI's options, checking they fit the runner.

    Extra runner arguments travel with each request (``RunRequest.extra_args``).
    """
    if name == "command":
        if not command:
            raise InputError("--runner command needs --command 'TEMPLATE with {junit} and {tests}'")
        return get_runner("command", template=_split(command), cwd=path)
    if command:
        raise InputError(f"--command is only for --runner command, not {name}")
    if name == "pytest":
        options: dict[str, Any] = {"path": path}
        if python:
            options["python"] = python
        return get_runner("pytest", **options)
    if name == "go":
        return get_runner("go", packages=packages or ["./..."], cwd=Path(path) if path else None)
    if name == "ginkgo":
        return get_runner("ginkgo", path=Path(path or ".").resolve())
    return get_runner(name)


def _split(command: str) -> list[str]:
    import shlex

    try:
        return shlex.split(command)
    except ValueError as exc:
        raise InputError(f"--command {command!r}: {exc}") from None


def get_runner(name: str, **options: Any) -> Runner:
    try:
        factory = RUNNERS[name]
    except KeyError:
        raise InputError(f"unknown runner {name!r}: choose one of {', '.join(RUNNERS)}") from None
    return factory(**options)
