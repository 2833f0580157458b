"""Fixtures for the deliberately polluted sample suite.

Every test talks to ONE SQLite database file (``$SAMPLE_DB``, default
``<tempdir>/pollution_sample_reports.db``), so pytest-xdist workers share it
the way integration tests share a PostgreSQL server.

* ``pytest_configure`` in the controlling process (a plain serial run, or the
  xdist controller before it starts workers) rebuilds the schema from scratch,
  so every run starts from an empty database.
* Each xdist worker only creates the schema if it is missing.

Connections are in autocommit mode; ``Ledger.tx()`` opens an explicit
``BEGIN IMMEDIATE`` write transaction.  Tests that do all their work inside
one transaction are immune to other workers (SQLite serialises writers); tests
that commit, wait, and look again are exposed to them.  See README.md for the
designed polluter -> victim pairs.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SCHEMA = {
    "accounts": """
        CREATE TABLE IF NOT EXISTS accounts (
            id      TEXT PRIMARY KEY,
            name    TEXT NOT NULL,
            balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0)
        )""",
    "orders": """
        CREATE TABLE IF NOT EXISTS orders (
            id         TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            amount     INTEGER NOT NULL CHECK (amount > 0),
            status     TEXT NOT NULL DEFAULT 'new',
            note       TEXT
        )""",
}


def db_path() -> Path:
    return Path(
        os.environ.get("SAMPLE_DB") or Path(tempfile.gettempdir()) / "pollution_sample_reports.db"
    )


def connect() -> sqlite3.Connection:
    # Generous busy timeout: lock waits are normal here, "database is locked"
    # errors would only add noise to the sample reports.
    return sqlite3.connect(db_path(), timeout=30, isolation_level=None)


class Ledger:
    """A thin wrapper around one autocommit connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __repr__(self) -> str:  # stable text in tracebacks (no addresses)
        return "Ledger($SAMPLE_DB)"

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def one(self, sql: str, params: tuple[object, ...] = ()) -> object:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    @contextmanager
    def tx(self) -> Iterator[Ledger]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")


def create_schema(conn: sqlite3.Connection, *, reset: bool) -> None:
    conn.execute("BEGIN IMMEDIATE")
    if reset:
        for table in SCHEMA:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    for ddl in SCHEMA.values():
        conn.execute(ddl)
    conn.execute("COMMIT")


def pytest_configure(config: pytest.Config) -> None:
    # Not an xdist worker: a serial run or the xdist controller.  Start clean.
    if not hasattr(config, "workerinput"):
        conn = connect()
        try:
            create_schema(conn, reset=True)
        finally:
            conn.close()


@pytest.fixture(scope="session", autouse=True)
def schema() -> None:
    conn = connect()
    try:
        create_schema(conn, reset=False)
    finally:
        conn.close()


@pytest.fixture
def db() -> Iterator[Ledger]:
    conn = connect()
    try:
        yield Ledger(conn)
    finally:
        conn.close()
