"""Aggregation queries over events, notifications and dead letters."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from pollution.demo.service import DAY, StorageService, UnknownKind

DEMO_ORDER = "order-42"  # the order every demo scenario uses: a hard-coded correlation id
PAYMENTS = "payments"

Uid = Callable[[str], str]


@pytest.fixture
def demo_order(service: StorageService) -> Iterator[str]:
    """The demo order; its events are forgotten afterwards (all of them, whoever wrote them)."""
    yield DEMO_ORDER
    service.forget_correlation(DEMO_ORDER)


def test_counts_by_kind_for_demo_order(service: StorageService, demo_order: str) -> None:
    service.record_event(demo_order, "order.placed")
    service.record_event(demo_order, "order.paid")
    assert service.counts_by_kind(demo_order) == {"order.paid": 1, "order.placed": 1}


def test_labelled_counts_include_refunds(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    service.record_event(order, "order.paid")
    service.record_event(order, "refund.issued")
    assert service.labelled_counts(order) == {"Order paid": 1, "Refund issued": 1}


def test_failed_payments_feed_the_dead_letter_queue(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    service.record_event(order, "payment.failed", {"code": "card_declined"})
    service.dead_letter(PAYMENTS, f"{order}-charge", "card_declined")
    assert service.counts_by_kind(order) == {"payment.failed": 1}
    assert service.queue_depth(PAYMENTS) >= 1


def test_counts_by_kind(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    for kind in ("order.placed", "order.paid", "order.paid"):
        service.record_event(order, kind)
    assert service.counts_by_kind(order) == {"order.paid": 2, "order.placed": 1}


def test_counts_by_kind_of_unknown_correlation_is_empty(service: StorageService, uid: Uid) -> None:
    assert service.counts_by_kind(uid("order")) == {}


def test_labelled_counts(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    service.record_event(order, "order.placed")
    service.record_event(order, "order.shipped")
    assert service.labelled_counts(order) == {"Order placed": 1, "Order shipped": 1}


def test_labelled_counts_reject_unknown_kind(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    service.record_event(order, "order.teleported")
    with pytest.raises(UnknownKind):
        service.labelled_counts(order)


def test_daily_counts(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    day = 20_000 * DAY
    for offset in (10.0, 20.0, DAY + 5.0):
        service.record_event(order, "order.placed", at=day + offset)
    assert service.daily_counts(order) == {20_000: 2, 20_001: 1}


def test_daily_counts_empty(service: StorageService, uid: Uid) -> None:
    assert service.daily_counts(uid("order")) == {}


def test_busiest_correlations(service: StorageService, uid: Uid) -> None:
    prefix = uid("tenant")
    for name, n in (("a", 3), ("b", 1), ("c", 2)):
        for _ in range(n):
            service.record_event(f"{prefix}-{name}", "order.placed")
    assert service.busiest_correlations(prefix, limit=2) == [(f"{prefix}-a", 3), (f"{prefix}-c", 2)]


def test_busiest_correlations_ties_by_name(service: StorageService, uid: Uid) -> None:
    prefix = uid("tenant")
    for name in ("y", "x"):
        service.record_event(f"{prefix}-{name}", "order.placed")
    assert [c for c, _ in service.busiest_correlations(prefix)] == [f"{prefix}-x", f"{prefix}-y"]


def test_delivery_stats(service: StorageService, uid: Uid, unique_int: Callable[[], int]) -> None:
    recipient = uid("user")
    ids = [unique_int() for _ in range(3)]
    for notification_id in ids:
        service.create_notification(notification_id, recipient, "email", "hi")
    service.mark_delivered(ids[0])
    service.mark_failed(ids[1])
    assert service.delivery_stats(recipient) == {"delivered": 1, "failed": 1, "pending": 1}


def test_delivery_stats_of_unknown_recipient(service: StorageService, uid: Uid) -> None:
    assert service.delivery_stats(uid("user")) == {}


def test_channel_mix(service: StorageService, uid: Uid, unique_int: Callable[[], int]) -> None:
    recipient = uid("user")
    for channel in ("email", "email", "push", "sms"):
        service.create_notification(unique_int(), recipient, channel, "hi")
    assert service.channel_mix(recipient) == {"email": 0.5, "push": 0.25, "sms": 0.25}


def test_failure_reasons_histogram(service: StorageService, uid: Uid) -> None:
    queue = uid("queue")
    for reason in ("timeout", "timeout", "rejected"):
        service.dead_letter(queue, uid("msg"), reason)
    assert service.failure_reasons(queue) == {"rejected": 1, "timeout": 2}


@pytest.mark.parametrize("n", [1, 2, 5])
def test_event_count_matches_writes(service: StorageService, uid: Uid, n: int) -> None:
    order = uid("order")
    for _ in range(n):
        service.record_event(order, "order.paid")
    assert service.event_count(order, "order.paid") == n


def test_event_count_by_kind_ignores_other_kinds(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    service.record_event(order, "order.paid")
    service.record_event(order, "order.placed")
    assert service.event_count(order, "order.placed") == 1


def test_mean_attempts_over_mixed_queue(service: StorageService, uid: Uid) -> None:
    queue = uid("queue")
    for attempts in (1, 2, 3, 6):
        service.dead_letter(queue, uid("msg"), "timeout", attempts=attempts)
    assert service.mean_attempts(queue) == pytest.approx(3.0)


def test_channel_mix_of_unknown_recipient_is_empty(service: StorageService, uid: Uid) -> None:
    assert service.channel_mix(uid("user")) == {}


def test_busiest_correlations_limit(service: StorageService, uid: Uid) -> None:
    prefix = uid("tenant")
    for name in ("a", "b", "c", "d"):
        service.record_event(f"{prefix}-{name}", "order.placed")
    assert len(service.busiest_correlations(prefix, limit=3)) == 3


def test_delivery_stats_after_retries(service: StorageService, uid: Uid, unique_int: Callable[[], int]) -> None:
    recipient, notification_id = uid("user"), unique_int()
    service.create_notification(notification_id, recipient, "email", "hi")
    service.mark_failed(notification_id)
    service.mark_delivered(notification_id)
    assert service.delivery_stats(recipient) == {"delivered": 1}
