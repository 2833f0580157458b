"""The bundled polluted demo suite behind ``pollution demo``.

A small storage service (:mod:`pollution.demo.service`) and a pytest suite
against a real, shared database (``pollution/demo/suite``) that mirrors the
incident in the design notes: it passes serially and fails in parallel, with
known polluters, victims, cleaners, a brittle test and its state-setter, a
nondeterministic flaky test and a concurrent-interference pair.  Its ground
truth is computed by ``scripts/demo_truth.py`` into
``tests/fixtures/demo_truth.json``.

How to run it
-------------
Run pytest with the suite directory as the working directory and these
options (:func:`pytest_args`)::

    cd pollution/demo/suite
    POLLUTION_DEMO_DB=/tmp/demo.sqlite python -m pytest -p no:randomly \
        -p no:cacheprovider -c /dev/null --rootdir . [-n 4] [NODE_ID ...]

``-c /dev/null`` keeps the project's own pytest configuration out,
``--rootdir`` pins node ids, ``-p no:randomly`` keeps the file order (and,
with explicit node ids, the order they are given in).

Node ids
--------
Relative to the suite directory, pytest's own form:
``test_events.py::test_refund_event_has_label``,
``test_notifications.py::TestRecipients::test_stats_per_recipient``,
``test_retention.py::test_explicit_retention_cutoff[30]``.

The database
------------
``POLLUTION_DEMO_DB`` is a SQLite file path (default: one file in the
temporary directory) or a ``postgresql://`` URL (see :mod:`pollution.pg`).
Every run starts from an empty database (its first process resets it), so two
runs that may overlap in time need different values (:func:`suite_env`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

ENV_DB = "POLLUTION_DEMO_DB"
SUITE_DIR = Path(__file__).resolve().parent / "suite"


def suite_path() -> Path:
    """The suite directory: the working directory and rootdir of every demo run."""
    return SUITE_DIR


def suite_files() -> list[Path]:
    """The files whose content defines the suite's behaviour (what the truth file is valid for)."""
    files = sorted(SUITE_DIR.glob("*.py"))
    return [*files, Path(__file__).resolve().parent / "service.py"]


def suite_hash() -> str:
    """sha256 over the suite files (names and bytes); the ground truth records it."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in suite_files():
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()


def pytest_args() -> list[str]:
    """Options every demo run needs (before node ids or ``-n``); run with cwd = :func:`suite_path`."""
    return ["-p", "no:randomly", "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(SUITE_DIR)]


def suite_env(db: str) -> dict[str, str]:
    """The environment overlay for one run against ``db`` (a SQLite path or a postgresql:// URL).

    Each run resets its database at start, so give runs that may overlap
    different databases, e.g. ``suite_env(f"{tmp}/demo-{{probe}}.sqlite")``
    with the runners' ``{probe}`` template.
    """
    if not db:
        raise ValueError("db must be a SQLite file path or a postgresql:// URL")
    return {ENV_DB: db, "PYTHONDONTWRITEBYTECODE": "1"}
