"""pollution: find which test breaks which when a suite runs in parallel."""

from pollution.errors import InputError, PollutionError, ReportError, RunnerError
from pollution.junit import find_runs, ingest, load_junit
from pollution.results import COLUMNS, load_table, save_table

__all__ = [
    "COLUMNS",
    "InputError",
    "PollutionError",
    "ReportError",
    "RunnerError",
    "find_runs",
    "ingest",
    "load_junit",
    "load_table",
    "save_table",
]
__version__ = "0.1.0"
