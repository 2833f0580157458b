"""The bundled polluted demo suite behind ``pollution demo``.

A small storage service (:mod:`pollution.demo.service`: events by
correlation id, notifications with explicit primary keys, a dead-letter
queue, aggregation queries, reference tables, settings) and a pytest suite of
about 150 tests against one real, shared database (``pollution/demo/suite``),
mirroring the incident in the design notes: serially it passes, with
``-n 4`` about 17 tests fail.

What is in it (the measured truth is ``tests/fixtures/demo_truth.json``,
computed by ``scripts/demo_truth.py``; do not edit it by hand):

* ~120 isolated tests: unique ids (uuid), assertions on their own rows only.
* Polluters: hard-coded ids left behind (correlation id ``order-42``,
  notification id 1, the ``payments`` queue, the ``auto_redelivery`` flag), a
  whole-table delete (the channel registry rebuilt with only ``email``) and a
  schema reset (the event-kind catalog dropped and recreated at v1).
* Victims of one polluter and of several; a victim that is itself a polluter
  (``test_events.py::test_demo_order_timeline_is_chronological``); cleaners
  (tests that, run in between, undo a polluter's leftovers).
* A brittle test and its state-setter
  (``test_dead_letters.py::test_expired_dead_letters_are_dropped`` needs
  ``test_configure_retention_policy``), a nondeterministic flaky test
  (``test_notifications.py::test_retry_backoff_stays_under_deadline``, ~30%),
  and a concurrent-interference pair (``test_purge_webhooks_queue`` empties
  the queue while ``test_redelivery_after_backoff`` waits 0.3 s).

All shared state lives in the database, never in the test process, so
pollution crosses processes as it does between Ginkgo processes.

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
