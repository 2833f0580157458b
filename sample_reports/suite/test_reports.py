"""Reports: read-mostly tests over both tables.

Designed interference (see README.md):
  * test_whale_report_empty_on_fresh_install assumes nobody holds >= 1000:
      test_accounts.py::test_seed_admin_account pollutes it (sequential);
      test_accounts.py::test_migrate_accounts_table is the cleaner that makes
      the serial order pass.
"""

from __future__ import annotations

import csv
import io
import time
import uuid


def new_id() -> str:
    return uuid.uuid4().hex


def test_balance_report(db):
    time.sleep(0.1)
    with db.tx():
        acc = new_id()
        db.execute("INSERT INTO accounts (id, name, balance) VALUES (?, 'Eve', 42)", (acc,))
        assert db.one("SELECT balance FROM accounts WHERE id = ?", (acc,)) == 42


def test_top_customers(db):
    time.sleep(0.05)
    with db.tx():
        big, small = new_id(), new_id()
        tag = new_id()
        for acc, amount in ((big, 90), (small, 9)):
            db.execute("INSERT INTO accounts (id, name) VALUES (?, ?)", (acc, tag))
            db.execute(
                "INSERT INTO orders (id, account_id, amount) VALUES (?, ?, ?)",
                (new_id(), acc, amount),
            )
        top = db.execute(
            "SELECT a.id FROM accounts a JOIN orders o ON o.account_id = a.id "
            "WHERE a.name = ? ORDER BY o.amount DESC",
            (tag,),
        ).fetchall()
        assert [r[0] for r in top] == [big, small]


def test_export_csv(db):
    time.sleep(0.1)
    with db.tx():
        acc = new_id()
        db.execute("INSERT INTO accounts (id, name) VALUES (?, 'O\"Brien, Ltd')", (acc,))
        name = db.one("SELECT name FROM accounts WHERE id = ?", (acc,))
    out = io.StringIO()
    csv.writer(out).writerow([acc, name])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == [acc, 'O"Brien, Ltd']


def test_monthly_totals(db):
    time.sleep(0.05)
    with db.tx():
        acc = new_id()
        db.execute("INSERT INTO accounts (id, name) VALUES (?, 'Month')", (acc,))
        for amount in (1, 2, 3, 4):
            db.execute(
                "INSERT INTO orders (id, account_id, amount) VALUES (?, ?, ?)",
                (new_id(), acc, amount),
            )
        assert db.one("SELECT sum(amount) FROM orders WHERE account_id = ?", (acc,)) == 10


def test_empty_report_for_unknown_account(db):
    assert db.execute("SELECT * FROM orders WHERE account_id = ?", (new_id(),)).fetchall() == []


def test_whale_report_empty_on_fresh_install(db):
    """VICTIM: assumes no account holds 1000 or more on a fresh install."""
    time.sleep(0.05)
    whales = db.execute("SELECT id FROM accounts WHERE balance >= 1000").fetchall()
    assert whales == []
