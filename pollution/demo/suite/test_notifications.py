"""Notifications: explicit primary keys, delivery status, channels."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator

import pytest

from pollution.demo.service import (
    CHANNELS,
    Channel,
    DuplicateKey,
    NotFound,
    StorageService,
    UnknownChannel,
)

WELCOME_ID = 1  # the welcome notification's hard-coded primary key

Uid = Callable[[str], str]
Ids = Callable[[], int]


@pytest.fixture
def welcome_id(service: StorageService) -> Iterator[int]:
    """The welcome notification's id; the row is deleted after the test."""
    yield WELCOME_ID
    service.delete_notification(WELCOME_ID)


def test_welcome_notification_is_pending(service: StorageService, welcome_id: int) -> None:
    service.create_notification(welcome_id, "new-user@example.invalid", "email", "Welcome!")
    assert service.pending_for("new-user@example.invalid")[0].id == welcome_id


def test_push_notification_expires_after_channel_ttl(service: StorageService, uid: Uid, unique_int: Ids) -> None:
    note = service.create_notification(unique_int(), uid("user"), "push", "Flash sale", at=1_000_000.0)
    ttl = service.channel("push").ttl_seconds
    assert not service.expired(note.id, now=1_000_000.0 + ttl - 1)
    assert service.expired(note.id, now=1_000_000.0 + ttl + 1)


def test_mark_welcome_delivered(service: StorageService, welcome_id: int) -> None:
    service.create_notification(welcome_id, "new-user@example.invalid", "email", "Welcome!")
    assert service.mark_delivered(welcome_id).status == "delivered"


def test_sms_rate_limit_comes_from_channel(service: StorageService, uid: Uid, unique_int: Ids) -> None:
    recipient = uid("user")
    limit = service.channel("sms").rate_limit
    sent = 0
    for _ in range(limit + 3):
        if len(service.pending_for(recipient)) < limit:
            service.create_notification(unique_int(), recipient, "sms", "code 1234")
            sent += 1
    assert sent == limit


def test_notification_with_explicit_id(service: StorageService, welcome_id: int) -> None:
    note = service.create_notification(welcome_id, "ops@example.invalid", "email", "Deploy finished")
    assert note.id == 1 and note.attempts == 0


def test_create_and_read_notification(service: StorageService, uid: Uid, unique_int: Ids) -> None:
    notification_id, recipient = unique_int(), uid("user")
    service.create_notification(notification_id, recipient, "email", "Your invoice")
    note = service.notification(notification_id)
    assert (note.recipient, note.channel, note.body, note.status) == (recipient, "email", "Your invoice", "pending")


def test_duplicate_id_is_rejected(service: StorageService, uid: Uid, unique_int: Ids) -> None:
    notification_id = unique_int()
    service.create_notification(notification_id, uid("user"), "email", "first")
    with pytest.raises(DuplicateKey):
        service.create_notification(notification_id, uid("user"), "email", "second")


def test_unknown_notification_raises(service: StorageService) -> None:
    with pytest.raises(NotFound):
        service.notification(-1)


def test_mark_delivered(service: StorageService, uid: Uid, unique_int: Ids) -> None:
    notification_id = unique_int()
    service.create_notification(notification_id, uid("user"), "email", "hi")
    note = service.mark_delivered(notification_id, at=42.0)
    assert (note.status, note.attempts, note.delivered_at) == ("delivered", 1, 42.0)


def test_mark_delivered_unknown_raises(service: StorageService, unique_int: Ids) -> None:
    with pytest.raises(NotFound):
        service.mark_delivered(unique_int())


def test_mark_failed_counts_attempts(service: StorageService, uid: Uid, unique_int: Ids) -> None:
    notification_id = unique_int()
    service.create_notification(notification_id, uid("user"), "email", "hi")
    service.mark_failed(notification_id)
    assert service.mark_failed(notification_id).attempts == 2


def test_pending_for_excludes_delivered(service: StorageService, uid: Uid, unique_int: Ids) -> None:
    recipient = uid("user")
    a, b = unique_int(), unique_int()
    service.create_notification(a, recipient, "email", "a")
    service.create_notification(b, recipient, "email", "b")
    service.mark_delivered(a)
    assert [n.id for n in service.pending_for(recipient)] == [b]


def test_pending_for_is_ordered(service: StorageService, uid: Uid, unique_int: Ids) -> None:
    recipient = uid("user")
    ids = [unique_int() for _ in range(3)]
    for at, notification_id in zip((3.0, 1.0, 2.0), ids):
        service.create_notification(notification_id, recipient, "email", "x", at=at)
    assert [n.id for n in service.pending_for(recipient)] == [ids[1], ids[2], ids[0]]


def test_pending_for_unknown_recipient(service: StorageService, uid: Uid) -> None:
    assert service.pending_for(uid("user")) == []


def test_delete_notification(service: StorageService, uid: Uid, unique_int: Ids) -> None:
    notification_id = unique_int()
    service.create_notification(notification_id, uid("user"), "email", "hi")
    assert service.delete_notification(notification_id) == 1
    with pytest.raises(NotFound):
        service.notification(notification_id)


def test_delete_unknown_notification(service: StorageService, unique_int: Ids) -> None:
    assert service.delete_notification(unique_int()) == 0


def test_upsert_replaces_body(service: StorageService, uid: Uid, unique_int: Ids) -> None:
    notification_id = unique_int()
    service.create_notification(notification_id, uid("user"), "email", "old")
    service.mark_failed(notification_id)
    note = service.upsert_notification(notification_id, uid("user"), "email", "new")
    assert (note.body, note.status, note.attempts) == ("new", "pending", 0)


def test_resend_welcome_notification(service: StorageService) -> None:
    note = service.upsert_notification(WELCOME_ID, "new-user@example.invalid", "email", "Welcome (again)!")
    assert note.status == "pending"
    service.mark_delivered(WELCOME_ID)
    service.delete_notification(WELCOME_ID)


def test_retry_backoff_stays_under_deadline() -> None:
    # The last retry waits 1 s plus up to 100% jitter; the caller gives up after
    # 1.7 s.  The jitter comes from the OS, so this fails ~30% of the time,
    # whatever ran before it.
    jitter = random.Random(os.urandom(16)).random()
    backoff = 1.0 * (1.0 + jitter)
    assert backoff < 1.7


@pytest.mark.parametrize("channel", [c.name for c in CHANNELS])
def test_notification_keeps_channel(service: StorageService, uid: Uid, unique_int: Ids, channel: str) -> None:
    note = service.create_notification(unique_int(), uid("user"), channel, "hi")
    assert note.channel == channel


def test_unknown_channel_raises(service: StorageService) -> None:
    with pytest.raises(UnknownChannel):
        service.channel("pigeon")


def test_email_channel_config(service: StorageService) -> None:
    assert service.channel("email") == Channel("email", 86400, 100)


def test_delivery_stats_by_sms_channel(service: StorageService, uid: Uid, unique_int: Ids) -> None:
    recipient = uid("user")
    for _ in range(2):
        service.create_notification(unique_int(), recipient, "sms", "code")
    assert service.delivery_stats(recipient) == {"pending": 2}
    assert service.channel("sms").ttl_seconds == 600


def test_seed_welcome_notification(service: StorageService) -> None:
    service.create_notification(WELCOME_ID, "new-user@example.invalid", "email", "Welcome!")
    assert service.notification(WELCOME_ID).body == "Welcome!"


@pytest.mark.parametrize("body", ["", "multi\nline", "emoji ✉"])
def test_body_round_trip(service: StorageService, uid: Uid, unique_int: Ids, body: str) -> None:
    notification_id = unique_int()
    service.create_notification(notification_id, uid("user"), "email", body)
    assert service.notification(notification_id).body == body


def test_not_expired_within_email_ttl(service: StorageService, uid: Uid, unique_int: Ids) -> None:
    note = service.create_notification(unique_int(), uid("user"), "email", "hi", at=5_000.0)
    assert not service.expired(note.id, now=5_000.0 + 3600)


def test_channel_registry_can_be_rebuilt(service: StorageService) -> None:
    service.replace_channels([Channel("email", 86400, 100)])
    assert service.channels() == ["email"]


class TestRecipients:
    def test_recipients_are_separate(self, service: StorageService, uid: Uid, unique_int: Ids) -> None:
        a, b = uid("user"), uid("user")
        service.create_notification(unique_int(), a, "email", "hi")
        assert service.pending_for(b) == []

    def test_stats_per_recipient(self, service: StorageService, uid: Uid, unique_int: Ids) -> None:
        a, b = uid("user"), uid("user")
        service.create_notification(unique_int(), a, "email", "hi")
        service.create_notification(unique_int(), b, "email", "hi")
        assert service.delivery_stats(a) == {"pending": 1}

    def test_delivered_then_failed_keeps_attempts(self, service: StorageService, uid: Uid, unique_int: Ids) -> None:
        notification_id = unique_int()
        service.create_notification(notification_id, uid("user"), "email", "hi")
        service.mark_delivered(notification_id)
        note = service.mark_failed(notification_id)
        assert (note.status, note.attempts) == ("failed", 2)


def test_expired_uses_creation_time(service: StorageService, uid: Uid, unique_int: Ids) -> None:
    note = service.create_notification(unique_int(), uid("user"), "email", "hi", at=0.0)
    assert service.expired(note.id, now=2 * 86400.0)
