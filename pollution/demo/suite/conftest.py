"""Fixtures of the demo suite: every test talks to ONE shared database.

The database is ``$POLLUTION_DEMO_DB`` (a SQLite file, default
``<tempdir>/pollution-demo.sqlite``, or a ``postgresql://`` URL), shared by all
pytest-xdist workers the way the incident's Ginkgo processes shared one
PostgreSQL server.

* The controlling process (a plain run, or the xdist controller before it
  starts workers) resets the database: every run starts from an empty schema
  with its reference data (event kinds, channels), like a test framework that
  creates a fresh test database.
  ``POLLUTION_DEMO_RESET=0`` skips that, to join a database another run is
  using (how the ground-truth script runs two processes at the same time).
  So does ``POLLUTION_PROBE_SIDE=beside``: the victim's process of a
  concurrent probe joins the database the range side resets.
* Each worker's session fixture only creates the schema if it is missing.

Nothing is cached in the test process: all state that one test can leave for
another lives in the database, so pollution crosses worker and process
boundaries exactly as it did in the incident.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from pollution.demo.service import (
    Database,
    StorageService,
    connect,
    database_url,
    ensure_schema,
    reset_database,
)


def pytest_configure(config: pytest.Config) -> None:
    first_process = not hasattr(config, "workerinput")  # a plain run, or the xdist controller
    # Both processes of a concurrent probe share one database, and two resets
    # at the same moment can fail ("database is locked"): only the range side
    # resets.  The beside side does not run its victim before that reset: it
    # waits at the --pollution-barrier, after collection, for the range side,
    # which gets there only once this hook (the reset) has returned, or dies
    # and the probe records an error.  (The wait gives up after 60 s.)
    beside = os.environ.get("POLLUTION_PROBE_SIDE") == "beside"
    if first_process and not beside and os.environ.get("POLLUTION_DEMO_RESET", "1") != "0":
        reset_database(database_url())


@pytest.fixture(scope="session")
def db() -> Iterator[Database]:
    database = connect(database_url())
    ensure_schema(database)
    yield database
    database.close()


@pytest.fixture
def service(db: Database) -> StorageService:
    return StorageService(db)


@pytest.fixture
def uid() -> Callable[[str], str]:
    """A unique id with a readable prefix: what isolated tests use for every key."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:16]}"

    return make


@pytest.fixture
def unique_int() -> Callable[[], int]:
    """A unique 62-bit integer primary key."""

    def make() -> int:
        return uuid.uuid4().int >> 66

    return make
