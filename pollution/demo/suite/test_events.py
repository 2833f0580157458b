"""Events: written and queried by correlation id; the event-kind catalog."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from pollution.demo.service import (
    EVENT_KINDS,
    EVENT_KINDS_V1,
    NotFound,
    StorageService,
    UnknownKind,
)

DEMO_ORDER = "order-42"  # the order every demo scenario uses: a hard-coded correlation id

Uid = Callable[[str], str]


def test_events_recorded_apart_are_ordered_by_time(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    service.record_event(order, "order.paid")
    time.sleep(0.12)  # a second write well after the first, as the payment worker does
    service.record_event(order, "order.placed")
    assert [e.kind for e in service.timeline(order)] == ["order.paid", "order.placed"]


def test_refund_event_has_label(service: StorageService, uid: Uid) -> None:
    event_id = service.record_event(uid("order"), "refund.issued")
    assert service.describe(service.event(event_id).kind) == "Refund issued"


def test_record_event_returns_id(service: StorageService, uid: Uid) -> None:
    event_id = service.record_event(uid("order"), "order.placed")
    assert service.event(event_id).kind == "order.placed"


def test_refund_notifies_customer_by_sms(service: StorageService, uid: Uid, unique_int: Callable[[], int]) -> None:
    order = uid("order")
    service.record_event(order, "refund.issued", {"amount": 1250})
    sms = service.channel("sms")
    text = f"{service.describe('refund.issued')}: 12.50 EUR"
    assert len(text) <= 160 and sms.ttl_seconds > 0
    note = service.create_notification(unique_int(), uid("customer"), sms.name, text)
    assert note.body.startswith("Refund issued")


def test_payload_round_trip(service: StorageService, uid: Uid) -> None:
    payload = {"sku": "A-1", "qty": 2, "tags": ["x", "y"], "gift": False}
    event_id = service.record_event(uid("order"), "order.placed", payload)
    assert service.event(event_id).payload == payload


def test_empty_payload_is_an_empty_object(service: StorageService, uid: Uid) -> None:
    event_id = service.record_event(uid("order"), "order.placed")
    assert service.event(event_id).payload == {}


def test_unknown_event_raises(service: StorageService) -> None:
    with pytest.raises(NotFound):
        service.event(-1)


def test_timeline_of_unknown_correlation_is_empty(service: StorageService, uid: Uid) -> None:
    assert service.timeline(uid("order")) == []


def test_timeline_is_ordered_by_created_at(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    service.record_event(order, "order.shipped", at=300.0)
    service.record_event(order, "order.placed", at=100.0)
    service.record_event(order, "order.paid", at=200.0)
    assert [e.kind for e in service.timeline(order)] == ["order.placed", "order.paid", "order.shipped"]


def test_timeline_filters_by_kind(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    service.record_event(order, "order.placed")
    service.record_event(order, "order.paid")
    assert [e.kind for e in service.timeline(order, kind="order.paid")] == ["order.paid"]


def test_timeline_ties_keep_insertion_order(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    first = service.record_event(order, "order.placed", at=1.0)
    second = service.record_event(order, "order.paid", at=1.0)
    assert [e.id for e in service.timeline(order)] == [first, second]


def test_demo_order_timeline_is_chronological(service: StorageService) -> None:
    for at, kind in ((1.0, "order.placed"), (2.0, "order.paid"), (3.0, "order.shipped")):
        service.record_event(DEMO_ORDER, kind, at=1_700_000_000.0 + at)
    assert [e.kind for e in service.timeline(DEMO_ORDER)] == ["order.placed", "order.paid", "order.shipped"]


def test_correlations_do_not_mix(service: StorageService, uid: Uid) -> None:
    a, b = uid("order"), uid("order")
    service.record_event(a, "order.placed")
    service.record_event(b, "order.cancelled")
    assert [e.kind for e in service.timeline(a)] == ["order.placed"]


def test_latest_event(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    service.record_event(order, "order.placed", at=1.0)
    service.record_event(order, "order.shipped", at=2.0)
    assert service.latest_event(order).kind == "order.shipped"


def test_latest_event_of_unknown_correlation_raises(service: StorageService, uid: Uid) -> None:
    with pytest.raises(NotFound):
        service.latest_event(uid("order"))


def test_forget_correlation(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    service.record_event(order, "order.placed")
    service.record_event(order, "order.paid")
    assert service.forget_correlation(order) == 2
    assert service.timeline(order) == []


def test_forget_leaves_other_correlations(service: StorageService, uid: Uid) -> None:
    kept, gone = uid("order"), uid("order")
    service.record_event(kept, "order.placed")
    service.record_event(gone, "order.placed")
    service.forget_correlation(gone)
    assert service.event_count(kept) == 1


def test_demo_order_placed_is_recorded(service: StorageService) -> None:
    event_id = service.record_event(DEMO_ORDER, "order.placed", {"source": "checkout"})
    assert event_id in [e.id for e in service.timeline(DEMO_ORDER)]


@pytest.mark.parametrize("kind", sorted(EVENT_KINDS_V1))
def test_core_kinds_have_labels(service: StorageService, kind: str) -> None:
    assert service.describe(kind) == EVENT_KINDS[kind]


def test_unknown_kind_has_no_label(service: StorageService) -> None:
    with pytest.raises(UnknownKind):
        service.describe("order.teleported")


def test_events_of_any_kind_can_be_recorded(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    service.record_event(order, "custom.kind")
    assert service.counts_by_kind(order) == {"custom.kind": 1}


def test_event_kind_catalog_migration_is_idempotent(service: StorageService) -> None:
    service.migrate_event_kinds(EVENT_KINDS_V1)
    service.migrate_event_kinds(EVENT_KINDS_V1)
    assert service.event_kinds() == dict(sorted(EVENT_KINDS_V1.items()))


def test_created_at_defaults_to_now(service: StorageService, uid: Uid) -> None:
    before = time.time()
    event_id = service.record_event(uid("order"), "order.placed")
    assert before - 1 <= service.event(event_id).created_at <= time.time() + 1


def test_explicit_created_at_is_kept(service: StorageService, uid: Uid) -> None:
    event_id = service.record_event(uid("order"), "order.placed", at=123.5)
    assert service.event(event_id).created_at == 123.5


def test_event_ids_increase(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    ids = [service.record_event(order, "order.placed") for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_unicode_payload(service: StorageService, uid: Uid) -> None:
    event_id = service.record_event(uid("order"), "order.placed", {"name": "Zoë 東京"})
    assert service.event(event_id).payload["name"] == "Zoë 東京"


class TestEventCounts:
    def test_count_all_kinds(self, service: StorageService, uid: Uid) -> None:
        order = uid("order")
        for kind in ("order.placed", "order.paid", "order.shipped"):
            service.record_event(order, kind)
        assert service.event_count(order) == 3

    def test_count_unknown_correlation(self, service: StorageService, uid: Uid) -> None:
        assert service.event_count(uid("order")) == 0

    def test_count_after_forget(self, service: StorageService, uid: Uid) -> None:
        order = uid("order")
        service.record_event(order, "order.placed")
        service.forget_correlation(order)
        assert service.event_count(order) == 0


def test_events_of_many_correlations(service: StorageService, uid: Uid) -> None:
    orders = [uid("order") for _ in range(5)]
    for order in orders:
        service.record_event(order, "order.placed")
    assert [service.event_count(order) for order in orders] == [1] * 5


def test_cancelled_order_timeline(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    service.record_event(order, "order.placed", at=1.0)
    service.record_event(order, "order.cancelled", at=2.0)
    assert service.latest_event(order).kind == "order.cancelled"
