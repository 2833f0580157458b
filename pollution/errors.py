"""One rooted exception hierarchy; the CLI turns these into exit codes."""

from __future__ import annotations


class PollutionError(Exception):
    """Base of every error the library raises on purpose."""


class InputError(PollutionError):
    """Bad input from the user: a file, an option, a test id. Exit status 2."""


class ReportError(InputError):
    """A report file that cannot be ingested; the message names the file (and line)."""

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        self.path = path
        self.reason = reason
        self.line = line
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {reason}")


class RunnerError(PollutionError):
    """The test runner itself broke (could not start, wrote no report). Exit status 3."""
