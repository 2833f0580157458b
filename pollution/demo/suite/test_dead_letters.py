"""Dead-letter queue: messages that could not be delivered, kept per queue.

Dead letters touch every other area (failed notifications, failed payments,
events, channels, settings), so this file holds many of the suite's victims.
Their positions are deliberate: under ``pytest -n 4`` pytest-xdist's load
scheduler first hands each worker a chunk of len(tests) // 16 consecutive
tests (9 while the suite has 144-159 tests).  The first test of the first two
chunks waits 0.3 s, so the victims queued behind it run after the other
workers have run most of the suite, polluters included; serially they run
before their polluters and pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from pollution.demo.service import DAY, NotFound, StorageService

PAYMENTS = "payments"  # the queue the payment tests share: a hard-coded name
WEBHOOKS = "webhooks"  # the queue the webhook tests share: a hard-coded name
WELCOME_ID = 1  # the welcome notification's hard-coded primary key
DEMO_ORDER = "order-42"  # the order every demo scenario uses: a hard-coded correlation id
NOW = 1_700_000_000.0

Uid = Callable[[str], str]


@pytest.fixture
def payments_queue(service: StorageService) -> Iterator[list[str]]:
    """Message ids this test puts on the shared payments queue; taken off again afterwards."""
    mine: list[str] = []
    yield mine
    service.redeliver(PAYMENTS, mine)


# --- first chunk (worker 1 under -n 4) --------------------------------------


def test_redelivery_after_backoff(service: StorageService, uid: Uid) -> None:
    ids = [uid("hook") for _ in range(3)]
    for message_id in ids:
        service.dead_letter(WEBHOOKS, message_id, "timeout")
    time.sleep(0.3)  # the backoff before a redelivery attempt
    taken = service.redeliver(WEBHOOKS, ids)
    assert sorted(d.message_id for d in taken) == sorted(ids)


def test_payments_queue_depth(service: StorageService, payments_queue: list[str], uid: Uid) -> None:
    for reason in ("card_declined", "insufficient_funds"):
        payments_queue.append(uid("pay"))
        service.dead_letter(PAYMENTS, payments_queue[-1], reason)
    assert service.queue_depth(PAYMENTS) == 2


def test_failed_demo_order_is_dead_lettered(service: StorageService, uid: Uid) -> None:
    event_id = service.record_event(DEMO_ORDER, "payment.failed", {"code": "card_declined"})
    try:
        service.dead_letter(uid("orders"), f"{DEMO_ORDER}-charge", "card_declined")
        assert [e.kind for e in service.timeline(DEMO_ORDER)] == ["payment.failed"]
    finally:
        service.delete_events([event_id])


def test_undeliverable_welcome_is_dead_lettered(service: StorageService, uid: Uid) -> None:
    queue = uid("mail")
    welcome = service.create_notification(WELCOME_ID, "new-user@example.invalid", "email", "Welcome!")
    try:
        service.mark_failed(welcome.id)
        service.dead_letter(queue, f"notification-{welcome.id}", "mailbox_full")
        assert [d.message_id for d in service.peek(queue)] == ["notification-1"]
    finally:
        service.delete_notification(WELCOME_ID)


def test_configure_retention_policy(service: StorageService) -> None:
    service.set_setting("retention_days", "30")
    assert service.setting("retention_days") == "30"


def test_failed_payment_is_labelled_in_report(service: StorageService, uid: Uid) -> None:
    queue = uid("payments")
    service.dead_letter(queue, uid("pay"), "payment.failed")
    report = {service.describe(reason): n for reason, n in service.failure_reasons(queue).items()}
    assert report == {"Payment failed": 1}


def test_sms_bounces_beyond_rate_limit(service: StorageService, uid: Uid) -> None:
    queue = uid("sms")
    limit = service.channel("sms").rate_limit
    for _ in range(limit + 2):
        service.dead_letter(queue, uid("sms"), "rate_limited")
    assert service.queue_depth(queue) - limit == 2


def test_payments_failure_reasons(service: StorageService, payments_queue: list[str], uid: Uid) -> None:
    for reason in ("card_declined", "card_declined", "expired_card"):
        payments_queue.append(uid("pay"))
        service.dead_letter(PAYMENTS, payments_queue[-1], reason)
    assert service.failure_reasons(PAYMENTS) == {"card_declined": 2, "expired_card": 1}


def test_auto_redelivery_is_off_by_default(service: StorageService, uid: Uid) -> None:
    queue = uid("queue")
    service.dead_letter(queue, uid("msg"), "timeout")
    if service.feature_enabled("auto_redelivery"):
        service.redeliver(queue, [d.message_id for d in service.peek(queue)])
    assert service.queue_depth(queue) == 1


# --- second chunk (worker 2) ------------------------------------------------


def test_redelivery_waits_for_backoff(service: StorageService, uid: Uid) -> None:
    queue, message_id = uid("queue"), uid("msg")
    service.dead_letter(queue, message_id, "timeout")
    time.sleep(0.3)  # the backoff before a redelivery attempt
    assert [d.message_id for d in service.redeliver(queue, [message_id])] == [message_id]


def test_welcome_bounce_is_retried(service: StorageService, uid: Uid) -> None:
    queue = uid("mail")
    service.create_notification(WELCOME_ID, "new-user@example.invalid", "email", "Welcome!")
    try:
        service.dead_letter(queue, "notification-1", "mailbox_full")
        assert service.retry_failed(queue, "notification-1").attempts == 2
    finally:
        service.delete_notification(WELCOME_ID)


def test_push_bounce_expires_with_channel_ttl(service: StorageService, uid: Uid) -> None:
    queue = uid("push")
    ttl = service.channel("push").ttl_seconds
    service.dead_letter(queue, uid("push"), "device_offline", payload={"ttl": ttl})
    assert service.peek(queue)[0].payload == {"ttl": 3600}


def test_payments_mean_attempts(service: StorageService, payments_queue: list[str], uid: Uid) -> None:
    for attempts in (2, 4):
        payments_queue.append(uid("pay"))
        service.dead_letter(PAYMENTS, payments_queue[-1], "card_declined", attempts=attempts)
    assert service.mean_attempts(PAYMENTS) == pytest.approx(3.0)


def test_refund_failures_are_labelled(service: StorageService, uid: Uid) -> None:
    queue = uid("refunds")
    service.dead_letter(queue, uid("refund"), "refund.issued")
    assert [service.describe(d.reason) for d in service.peek(queue)] == ["Refund issued"]


def test_demo_order_has_no_dead_letter_events_yet(service: StorageService, uid: Uid) -> None:
    event_id = service.record_event(DEMO_ORDER, "order.placed")
    try:
        assert service.counts_by_kind(DEMO_ORDER) == {"order.placed": 1}
    finally:
        service.delete_events([event_id])


def test_manual_redelivery_when_auto_redelivery_off(service: StorageService, uid: Uid) -> None:
    queue, message_id = uid("queue"), uid("msg")
    service.dead_letter(queue, message_id, "timeout")
    assert not service.feature_enabled("auto_redelivery")
    assert len(service.redeliver(queue, [message_id])) == 1


def test_dead_letter_keeps_payload(service: StorageService, uid: Uid) -> None:
    queue = uid("queue")
    service.dead_letter(queue, uid("msg"), "bad_gateway", payload={"url": "https://example.invalid/x", "try": 3})
    (letter,) = service.peek(queue)
    assert letter.payload == {"url": "https://example.invalid/x", "try": 3}


def test_dead_letter_ids_increase(service: StorageService, uid: Uid) -> None:
    queue = uid("queue")
    first = service.dead_letter(queue, uid("msg"), "timeout")
    second = service.dead_letter(queue, uid("msg"), "timeout")
    assert second > first


def test_empty_queue_has_depth_zero(service: StorageService, uid: Uid) -> None:
    assert service.queue_depth(uid("queue")) == 0


def test_expired_dead_letters_are_dropped(service: StorageService, uid: Uid) -> None:
    queue = uid("queue")
    service.dead_letter(queue, uid("old"), "timeout", at=NOW - 45 * DAY)
    service.dead_letter(queue, uid("new"), "timeout", at=NOW - 1 * DAY)
    assert service.drop_expired(queue, now=NOW) == 1


def test_purge_webhooks_queue(service: StorageService, uid: Uid) -> None:
    ids = [uid("hook") for _ in range(2)]
    for message_id in ids:
        service.dead_letter(WEBHOOKS, message_id, "gone")
    assert service.purge(WEBHOOKS) >= 2
    assert service.redeliver(WEBHOOKS, ids) == []


def test_peek_is_ordered_oldest_first(service: StorageService, uid: Uid) -> None:
    queue = uid("queue")
    ids = [uid("msg") for _ in range(4)]
    for message_id in ids:
        service.dead_letter(queue, message_id, "timeout")
    assert [d.message_id for d in service.peek(queue)] == ids


def test_peek_respects_limit(service: StorageService, uid: Uid) -> None:
    queue = uid("queue")
    for _ in range(5):
        service.dead_letter(queue, uid("msg"), "timeout")
    assert len(service.peek(queue, limit=2)) == 2


def test_purge_returns_count(service: StorageService, uid: Uid) -> None:
    queue = uid("queue")
    for _ in range(3):
        service.dead_letter(queue, uid("msg"), "timeout")
    assert service.purge(queue) == 3
    assert service.queue_depth(queue) == 0


def test_card_declined_is_dead_lettered(service: StorageService, uid: Uid) -> None:
    message_id = uid("pay")
    service.dead_letter(PAYMENTS, message_id, "card_declined", payload={"amount": 1999})
    assert message_id in [d.message_id for d in service.peek(PAYMENTS, limit=100)]


def test_purge_leaves_other_queues(service: StorageService, uid: Uid) -> None:
    kept, purged = uid("kept"), uid("purged")
    service.dead_letter(kept, uid("msg"), "timeout")
    service.dead_letter(purged, uid("msg"), "timeout")
    service.purge(purged)
    assert service.queue_depth(kept) == 1


def test_redeliver_removes_message(service: StorageService, uid: Uid) -> None:
    queue, message_id = uid("queue"), uid("msg")
    service.dead_letter(queue, message_id, "timeout")
    assert [d.message_id for d in service.redeliver(queue, [message_id])] == [message_id]
    assert service.queue_depth(queue) == 0


def test_redeliver_unknown_message_takes_nothing(service: StorageService, uid: Uid) -> None:
    assert service.redeliver(uid("queue"), [uid("msg")]) == []


def test_redeliver_only_named_messages(service: StorageService, uid: Uid) -> None:
    queue = uid("queue")
    ids = [uid("msg") for _ in range(3)]
    for message_id in ids:
        service.dead_letter(queue, message_id, "timeout")
    service.redeliver(queue, ids[:1])
    assert [d.message_id for d in service.peek(queue)] == ids[1:]


def test_retry_increments_attempts(service: StorageService, uid: Uid) -> None:
    queue, message_id = uid("queue"), uid("msg")
    service.dead_letter(queue, message_id, "timeout")
    service.retry_failed(queue, message_id)
    assert service.retry_failed(queue, message_id).attempts == 3


def test_retry_unknown_message_raises(service: StorageService, uid: Uid) -> None:
    with pytest.raises(NotFound):
        service.retry_failed(uid("queue"), uid("msg"))


@pytest.mark.parametrize("reason", ["timeout", "bad_gateway", "rejected"])
def test_reason_is_kept(service: StorageService, uid: Uid, reason: str) -> None:
    queue = uid("queue")
    service.dead_letter(queue, uid("msg"), reason)
    assert service.failure_reasons(queue) == {reason: 1}


def test_mean_attempts(service: StorageService, uid: Uid) -> None:
    queue = uid("queue")
    service.dead_letter(queue, uid("msg"), "timeout", attempts=1)
    service.dead_letter(queue, uid("msg"), "timeout", attempts=4)
    assert service.mean_attempts(queue) == pytest.approx(2.5)


def test_mean_attempts_of_empty_queue(service: StorageService, uid: Uid) -> None:
    assert service.mean_attempts(uid("queue")) == 0.0


def test_same_message_can_be_dead_lettered_twice(service: StorageService, uid: Uid) -> None:
    queue, message_id = uid("queue"), uid("msg")
    service.dead_letter(queue, message_id, "timeout")
    service.dead_letter(queue, message_id, "timeout")
    assert service.queue_depth(queue) == 2


class TestQueueIsolation:
    def test_queues_do_not_share_depth(self, service: StorageService, uid: Uid) -> None:
        a, b = uid("a"), uid("b")
        service.dead_letter(a, uid("msg"), "timeout")
        assert (service.queue_depth(a), service.queue_depth(b)) == (1, 0)

    def test_reasons_are_per_queue(self, service: StorageService, uid: Uid) -> None:
        a, b = uid("a"), uid("b")
        service.dead_letter(a, uid("msg"), "timeout")
        service.dead_letter(b, uid("msg"), "rejected")
        assert service.failure_reasons(a) == {"timeout": 1}

    def test_redeliver_from_wrong_queue_takes_nothing(self, service: StorageService, uid: Uid) -> None:
        a, b, message_id = uid("a"), uid("b"), uid("msg")
        service.dead_letter(a, message_id, "timeout")
        assert service.redeliver(b, [message_id]) == []
        assert service.queue_depth(a) == 1
