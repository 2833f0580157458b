"""Settings and the retention policy (how long events are kept)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pollution.demo.service import DAY, MissingSetting, StorageService

NOW = 1_700_000_000.0

Uid = Callable[[str], str]


def test_feature_flags_default_to_off(service: StorageService) -> None:
    assert [service.feature_enabled(name) for name in ("auto_redelivery", "sms_fallback")] == [False, False]


def test_setting_round_trip(service: StorageService, uid: Uid) -> None:
    key = uid("setting")
    service.set_setting(key, "on")
    assert service.setting(key) == "on"


def test_setting_overwrite(service: StorageService, uid: Uid) -> None:
    key = uid("setting")
    service.set_setting(key, "on")
    service.set_setting(key, "off")
    assert service.setting(key) == "off"


def test_feature_flags_reset_to_defaults(service: StorageService, uid: Uid) -> None:
    name = uid("flag")
    service.set_feature(name, True)
    assert service.clear_features() >= 1
    assert service.feature_enabled(name) is False


def test_enable_auto_redelivery(service: StorageService) -> None:
    service.set_feature("auto_redelivery", True)
    assert service.feature_enabled("auto_redelivery")


def test_missing_setting_raises(service: StorageService, uid: Uid) -> None:
    with pytest.raises(MissingSetting):
        service.setting(uid("setting"))


def test_delete_setting(service: StorageService, uid: Uid) -> None:
    key = uid("setting")
    service.set_setting(key, "x")
    assert service.delete_setting(key) == 1
    with pytest.raises(MissingSetting):
        service.setting(key)


def test_feature_flag_can_be_switched_off(service: StorageService, uid: Uid) -> None:
    name = uid("flag")
    service.set_feature(name, True)
    service.set_feature(name, False)
    assert service.feature_enabled(name) is False


@pytest.mark.parametrize("days", [1, 7, 30, 365])
def test_explicit_retention_cutoff(service: StorageService, days: int) -> None:
    assert service.retention_cutoff(NOW, days=days) == NOW - days * DAY


def test_retention_must_be_positive(service: StorageService) -> None:
    with pytest.raises(ValueError):
        service.retention_cutoff(NOW, days=0)


def test_purge_before_cutoff(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    service.record_event(order, "order.placed", at=NOW - 40 * DAY)
    service.record_event(order, "order.paid", at=NOW - 1 * DAY)
    assert service.purge_events_before(order, service.retention_cutoff(NOW, days=30)) == 1


def test_purge_keeps_other_correlations(service: StorageService, uid: Uid) -> None:
    old, other = uid("order"), uid("order")
    service.record_event(old, "order.placed", at=1.0)
    service.record_event(other, "order.placed", at=1.0)
    service.purge_events_before(old, NOW)
    assert service.event_count(other) == 1


def test_unknown_feature_is_off(service: StorageService, uid: Uid) -> None:
    assert service.feature_enabled(uid("flag")) is False


def test_purge_nothing_when_all_recent(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    service.record_event(order, "order.placed", at=NOW)
    assert service.purge_events_before(order, NOW - DAY) == 0


def test_purge_everything_before_far_future(service: StorageService, uid: Uid) -> None:
    order = uid("order")
    for at in (1.0, 2.0, 3.0):
        service.record_event(order, "order.placed", at=at)
    assert service.purge_events_before(order, NOW) == 3


@pytest.mark.parametrize("value", ["0", "  ", "é", "a" * 200])
def test_setting_values_are_kept_verbatim(service: StorageService, uid: Uid, value: str) -> None:
    key = uid("setting")
    service.set_setting(key, value)
    assert service.setting(key) == value


def test_settings_are_independent(service: StorageService, uid: Uid) -> None:
    a, b = uid("setting"), uid("setting")
    service.set_setting(a, "1")
    service.set_setting(b, "2")
    assert (service.setting(a), service.setting(b)) == ("1", "2")


def test_delete_missing_setting(service: StorageService, uid: Uid) -> None:
    assert service.delete_setting(uid("setting")) == 0
