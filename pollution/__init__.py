"""pollution: find which test breaks which when a suite runs in parallel.

The public API is imported lazily: ``import pollution`` must stay cheap and
side-effect free, because the bundled pytest plugin lives in this package and
is loaded into every test process the tool starts (and a suite may assert
which modules are imported).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "COLUMNS": "pollution.results",
    "load_table": "pollution.results",
    "save_table": "pollution.results",
    "load_junit": "pollution.junit",
    "ingest": "pollution.junit",
    "find_runs": "pollution.junit",
    "diff_runs": "pollution.diff",
    "diff_table": "pollution.diff",
    "diagnose": "pollution.diagnosis",
    "Diagnosis": "pollution.diagnosis",
    "InterferenceGraph": "pollution.graph",
    "candidates_for": "pollution.schedule",
    "PollutionError": "pollution.errors",
    "InputError": "pollution.errors",
    "ReportError": "pollution.errors",
    "RunnerError": "pollution.errors",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from pollution.diagnosis import Diagnosis, diagnose
    from pollution.diff import diff_runs, diff_table
    from pollution.graph import InterferenceGraph
    from pollution.schedule import candidates_for
    from pollution.errors import InputError, PollutionError, ReportError, RunnerError
    from pollution.junit import find_runs, ingest, load_junit
    from pollution.results import COLUMNS, load_table, save_table


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pollution' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    # Only what is loaded: tools that getattr() every name dir() lists
    # (freezegun does, inside tests) must not import pandas by accident.
    return sorted(globals())
