"""Orders: isolated tests with unique ids, one whole-table purge.

Designed interference (see README.md):
  * test_purge_orders  deletes every row of `orders`
                       -> test_ship_order, test_order_roundtrip,
                          test_daily_order_report (concurrent)
  * test_daily_order_report is also a victim of
    test_accounts.py::test_migrate_accounts_table (concurrent)
"""

from __future__ import annotations

import sqlite3
import time
import uuid

import pytest


def new_id() -> str:
    return uuid.uuid4().hex


def test_daily_order_report(db):
    """VICTIM with two polluters (both concurrent): its account vanishes if
    test_accounts.py::test_migrate_accounts_table runs during the wait, its
    orders vanish if test_purge_orders does."""
    acc = new_id()
    with db.tx():
        db.execute("INSERT INTO accounts (id, name) VALUES (?, 'Daily')", (acc,))
        for amount in (10, 20, 30):
            db.execute(
                "INSERT INTO orders (id, account_id, amount) VALUES (?, ?, ?)",
                (new_id(), acc, amount),
            )
    time.sleep(0.3)  # the report is rendered by a background job
    name = db.one("SELECT name FROM accounts WHERE id = ?", (acc,))
    orders = db.execute(
        "SELECT count(*), sum(amount) FROM orders WHERE account_id = ?", (acc,)
    ).fetchone()
    assert (name, orders) == ("Daily", (3, 60))


def test_ship_order(db):
    """VICTIM of test_purge_orders when they overlap."""
    order = new_id()
    db.execute("INSERT INTO orders (id, account_id, amount) VALUES (?, ?, 12)", (order, new_id()))
    time.sleep(0.3)  # the warehouse picks the parcel
    shipped = db.execute("UPDATE orders SET status = 'shipped' WHERE id = ?", (order,)).rowcount
    assert shipped == 1, f"order {order} disappeared before shipping"


def test_place_order(db):
    time.sleep(0.1)
    order = new_id()
    with db.tx():
        db.execute(
            "INSERT INTO orders (id, account_id, amount) VALUES (?, ?, 25)", (order, new_id())
        )
        assert db.one("SELECT status FROM orders WHERE id = ?", (order,)) == "new"


def test_order_roundtrip(db):
    """VICTIM of test_purge_orders when they overlap."""
    order = new_id()
    db.execute(
        "INSERT INTO orders (id, account_id, amount, note) VALUES (?, ?, 7, 'gift')",
        (order, new_id()),
    )
    time.sleep(0.2)  # the API answers asynchronously
    assert db.one("SELECT note FROM orders WHERE id = ?", (order,)) == "gift"


def test_cancel_order(db):
    time.sleep(0.05)
    order = new_id()
    with db.tx():
        db.execute(
            "INSERT INTO orders (id, account_id, amount) VALUES (?, ?, 5)", (order, new_id())
        )
        db.execute("UPDATE orders SET status = 'cancelled' WHERE id = ?", (order,))
        assert db.one("SELECT status FROM orders WHERE id = ?", (order,)) == "cancelled"


def test_purge_orders(db):
    """POLLUTER: 'retention job' test that empties the whole table."""
    time.sleep(0.05)
    db.execute("DELETE FROM orders")
    assert db.one("SELECT count(*) FROM orders") == 0


def test_order_amount_must_be_positive(db):
    with db.tx(), pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO orders (id, account_id, amount) VALUES (?, ?, 0)", (new_id(), new_id())
        )


def test_bulk_import_orders(db):
    time.sleep(0.1)
    account = new_id()
    rows = [(new_id(), account, n + 1) for n in range(20)]
    with db.tx():
        db.conn.executemany("INSERT INTO orders (id, account_id, amount) VALUES (?, ?, ?)", rows)
        assert db.one("SELECT sum(amount) FROM orders WHERE account_id = ?", (account,)) == 210


def test_order_history_is_empty_for_new_account(db):
    time.sleep(0.05)
    assert db.one("SELECT count(*) FROM orders WHERE account_id = ?", (new_id(),)) == 0


@pytest.mark.parametrize(
    "note",
    ["plain", "with space", "[bracketed]", "ünïcödé", "dot.and/slash"],
    ids=lambda note: note,
)
def test_order_note(db, note):
    """Odd parameter ids: spaces, brackets, non-ASCII (pytest escapes that one)."""
    time.sleep(0.05)
    order = new_id()
    with db.tx():
        db.execute(
            "INSERT INTO orders (id, account_id, amount, note) VALUES (?, ?, 1, ?)",
            (order, new_id(), note),
        )
        assert db.one("SELECT note FROM orders WHERE id = ?", (order,)) == note
