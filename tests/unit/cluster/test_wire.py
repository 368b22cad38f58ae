"""The hub_readings payloads: every reading and status of a batch comes back, in
order, and no payload reaches PostgreSQL's NOTIFY limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.cluster import wire
from hub.model import Reading

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_large_batch_is_split_below_the_limit_and_read_back_whole() -> None:
    readings = [
        Reading(f"lamp-{i % 70:03d}", "power_w", T0 + timedelta(seconds=i), i / 4)
        for i in range(5000)
    ]
    profiles = {f"lamp-{i:03d}": "street_light" for i in range(70)}
    payloads = wire.encode(readings, profiles, [("lamp-001", "offline")])
    assert len(payloads) > 1
    assert all(len(p.encode()) < 8000 for p in payloads)
    events = [e for p in payloads for e in wire.decode(p, T0)]
    got = [(e.device_id, e.profile, e.time, e.data) for e in events if e.type == "reading"]
    assert got == [
        (r.device_id, "street_light", r.time, {"metric": r.metric, "value": r.value})
        for r in readings
    ]
    assert [(e.device_id, e.profile, e.data) for e in events if e.type == "status"] == [
        ("lamp-001", "street_light", {"status": "offline"})
    ]


def test_many_status_changes_alone_are_split_too() -> None:
    statuses = [(f"meter-{'x' * 40}-{i}", "online") for i in range(400)]
    payloads = wire.encode([], {}, statuses)
    assert all(len(p.encode()) < 8000 for p in payloads)
    events = [e for p in payloads for e in wire.decode(p, T0)]
    assert [(e.device_id, e.data["status"]) for e in events] == statuses


def test_a_status_change_alone_carries_its_device_s_profile() -> None:
    # The silence watch's changes: no readings, the reader's data class from the profile.
    (payload,) = wire.encode([], {"meter-7": "water_meter"}, [("meter-7", "offline")])
    (event,) = wire.decode(payload, T0)
    assert (event.type, event.device_id, event.profile) == ("status", "meter-7", "water_meter")


def test_an_empty_batch_sends_nothing() -> None:
    assert wire.encode([], {}) == []


def test_a_process_knows_its_own_payloads_without_decoding_them() -> None:
    (mine,) = wire.encode([Reading("lamp-1", "power_w", T0, 41.5)], {"lamp-1": "street_light"})
    assert wire.own(mine)
    theirs = mine.replace(wire.ORIGIN, "0" * len(wire.ORIGIN))
    assert not wire.own(theirs)
    (event,) = wire.decode(theirs, T0)
    assert (event.device_id, event.profile, event.data["value"]) == ("lamp-1", "street_light", 41.5)
