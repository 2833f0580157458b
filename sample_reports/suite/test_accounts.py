"""Accounts: mostly isolated tests, one hard-coded-id polluter, one schema rebuild.

Designed interference (see README.md):
  * test_seed_admin_account      leaves the hard-coded account 'admin' behind
                                 -> test_signup_creates_admin (sequential)
  * test_migrate_accounts_table  drops and recreates `accounts`, losing rows
                                 -> test_signup_creates_admin,
                                    test_transfer_between_accounts,
                                    test_orders.py::test_daily_order_report (concurrent)
    It also, by accident, cleans up after test_seed_admin_account (so the
    serial order passes test_reports.py::test_whale_report_empty_on_fresh_install).
"""

from __future__ import annotations

import sqlite3
import time
import uuid

import pytest


def new_id() -> str:
    return uuid.uuid4().hex


def test_create_account(db):
    time.sleep(0.2)  # pretend to hash a password
    acc = new_id()
    with db.tx():
        db.execute("INSERT INTO accounts (id, name) VALUES (?, ?)", (acc, "Ada"))
        assert db.one("SELECT name FROM accounts WHERE id = ?", (acc,)) == "Ada"


def test_transfer_between_accounts(db):
    """VICTIM of test_migrate_accounts_table when they overlap."""
    src, dst = new_id(), new_id()
    db.execute("INSERT INTO accounts (id, name, balance) VALUES (?, 'Src', 100)", (src,))
    db.execute("INSERT INTO accounts (id, name, balance) VALUES (?, 'Dst', 0)", (dst,))
    time.sleep(0.25)  # fraud check
    with db.tx():
        moved = db.execute(
            "UPDATE accounts SET balance = balance - 40 WHERE id = ?", (src,)
        ).rowcount
        moved += db.execute(
            "UPDATE accounts SET balance = balance + 40 WHERE id = ?", (dst,)
        ).rowcount
    assert moved == 2, "transfer touched fewer accounts than expected"
    assert db.one("SELECT balance FROM accounts WHERE id = ?", (dst,)) == 40


def test_withdraw(db):
    time.sleep(0.3)  # pretend to call the payment provider
    acc = new_id()
    with db.tx():
        db.execute("INSERT INTO accounts (id, name, balance) VALUES (?, ?, 100)", (acc, "Cy"))
        db.execute("UPDATE accounts SET balance = balance - 30 WHERE id = ?", (acc,))
        assert db.one("SELECT balance FROM accounts WHERE id = ?", (acc,)) == 70


def test_signup_creates_admin(db):
    """VICTIM: assumes a fresh install has no 'admin' account.

    Fails with IntegrityError if test_seed_admin_account ran earlier (and
    test_migrate_accounts_table did not clean up in between), and with a
    vanished row if test_migrate_accounts_table runs during its wait.
    """
    db.execute("INSERT INTO accounts (id, name) VALUES ('admin', 'Administrator')")
    time.sleep(0.25)  # the signup flow sends a welcome mail
    assert db.one("SELECT name FROM accounts WHERE id = 'admin'") == "Administrator"
    db.execute("DELETE FROM accounts WHERE id = 'admin'")


def test_seed_admin_account(db):
    """POLLUTER: seeds a hard-coded id and never removes it."""
    db.execute(
        "INSERT OR REPLACE INTO accounts (id, name, balance) VALUES ('admin', 'Seeded admin', 1000)"
    )
    assert db.one("SELECT balance FROM accounts WHERE id = 'admin'") == 1000


def test_deposit(db):
    time.sleep(0.05)
    acc = new_id()
    with db.tx():
        db.execute("INSERT INTO accounts (id, name) VALUES (?, ?)", (acc, "Bob"))
        db.execute("UPDATE accounts SET balance = balance + 50 WHERE id = ?", (acc,))
        assert db.one("SELECT balance FROM accounts WHERE id = ?", (acc,)) == 50


def test_migrate_accounts_table(db):
    """POLLUTER: 'migration' test that drops and recreates the table (empty)."""
    time.sleep(0.35)  # pretend to read the migration files
    with db.tx():
        db.execute("DROP TABLE accounts")
        db.execute(
            """CREATE TABLE accounts (
                   id      TEXT PRIMARY KEY,
                   name    TEXT NOT NULL,
                   balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0)
               )"""
        )
    assert db.one("SELECT count(*) FROM accounts") == 0


def test_overdraft_rejected(db):
    time.sleep(0.1)
    acc = new_id()
    with db.tx():
        db.execute("INSERT INTO accounts (id, name, balance) VALUES (?, ?, 10)", (acc, "Di"))
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("UPDATE accounts SET balance = balance - 20 WHERE id = ?", (acc,))


class TestAccountNames:
    def test_unicode_name(self, db):
        acc = new_id()
        with db.tx():
            db.execute("INSERT INTO accounts (id, name) VALUES (?, ?)", (acc, "Zoë Ångström 🚀"))
            assert db.one("SELECT name FROM accounts WHERE id = ?", (acc,)) == ("Zoë Ångström 🚀")

    def test_name_with_spaces(self, db):
        time.sleep(0.05)
        acc = new_id()
        with db.tx():
            db.execute("INSERT INTO accounts (id, name) VALUES (?, ?)", (acc, "  Jo  Ann "))
            assert db.one("SELECT trim(name) FROM accounts WHERE id = ?", (acc,)) == "Jo  Ann"

    def test_rename(self, db):
        time.sleep(0.1)
        acc = new_id()
        with db.tx():
            db.execute("INSERT INTO accounts (id, name) VALUES (?, 'Old')", (acc,))
            db.execute("UPDATE accounts SET name = 'New' WHERE id = ?", (acc,))
            assert db.one("SELECT name FROM accounts WHERE id = ?", (acc,)) == "New"


def test_café_account(db):
    """Non-ASCII function name: pytest does not escape it in the node id."""
    acc = new_id()
    with db.tx():
        db.execute("INSERT INTO accounts (id, name) VALUES (?, 'Café Noir')", (acc,))
        assert db.one("SELECT count(*) FROM accounts WHERE id = ?", (acc,)) == 1
