"""The decode step: one message and its origin in, a decoded item or a dead letter out."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from hub.model import DeadLetter, Item
from hub.payloads import DecodeContext, Origin, decode
from hub.profiles import load_profiles
from tests.repo import REPO

PROFILES = load_profiles(REPO / "device_profiles")
NOW = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
CONTEXT = DecodeContext(
    profiles=PROFILES,
    topic_prefix="city",
    max_payload_bytes=256,
    max_future=timedelta(seconds=300),
    max_past=timedelta(days=30),
)
TELEMETRY = "city/street_light/sl-0001/telemetry"


def _decode(payload: bytes, topic: str = TELEMETRY, context: DecodeContext = CONTEXT):
    return decode(payload, Origin(topic, NOW), context)


def test_telemetry_becomes_an_item_with_the_message_unchanged() -> None:
    payload = b'{"ts": "2025-01-10T11:59:00Z", "power": 41.5, "lamp_on": true}'
    item = _decode(payload)
    assert type(item) is Item
    assert (item.topic, item.payload, item.received_at) == (TELEMETRY, payload, NOW)
    assert (item.device_id, item.profile, item.status) == ("sl-0001", "street_light", None)
    assert {r.metric: r.value for r in item.readings} == {"power": 41.5, "lamp_on": 1.0}
    assert not item.receive_time_used


def test_receive_time_stood_in_is_carried_on_the_item() -> None:
    allowing = PROFILES["street_light"].model_copy(update={"receive_time_fallback": True})
    context = dataclasses.replace(CONTEXT, profiles={"street_light": allowing}, topics={})
    item = _decode(b'{"power": 5}', context=context)
    assert type(item) is Item
    assert item.receive_time_used
    assert [r.time for r in item.readings] == [NOW]


def test_senml_relative_time_is_carried_on_the_item() -> None:
    item = _decode(b'[{"bn": "sl-0001:", "n": "power", "t": -60, "v": 5}]')
    assert type(item) is Item
    assert item.receive_time_used
    assert item.readings[0].time == NOW - timedelta(seconds=60)


@pytest.mark.parametrize(
    ("payload", "status"),
    [(b"online", "online"), (b'"offline"', "offline"), (b'{"status": "online"}', "online")],
)
def test_status_becomes_an_item_with_the_status(payload: bytes, status: str) -> None:
    item = _decode(payload, "city/street_light/sl-0001/status")
    assert type(item) is Item
    assert (item.status, item.readings, item.device_id) == (status, (), "sl-0001")


@pytest.mark.parametrize(
    ("payload", "topic", "reason", "device_id"),
    [
        (b"x" * 257, TELEMETRY, "oversize", None),
        (b'{"power": 1}', "city/street_light/sl-0001", "bad_topic", None),
        (b'{"power": 1}', "city/no_such_profile/sl-0001/telemetry", "unknown_profile", "sl-0001"),
        (b"maybe", "city/street_light/sl-0001/status", "decode", "sl-0001"),
        (
            b'{"ts": "2025-01-10T11:59:00Z", "power": 999}',
            TELEMETRY,
            "implausible_value",
            "sl-0001",
        ),
        (b"not json", TELEMETRY, "decode", "sl-0001"),
    ],
)
def test_refusal_is_a_dead_letter_with_reason_and_device(
    payload: bytes, topic: str, reason: str, device_id: str | None
) -> None:
    dead = _decode(payload, topic)
    assert type(dead) is DeadLetter
    assert (dead.reason, dead.device_id) == (reason, device_id)
    assert (dead.topic, dead.payload, dead.received_at) == (topic, payload, NOW)
    assert dead.detail


def test_a_remembered_topic_decodes_as_the_first_time() -> None:
    context = dataclasses.replace(CONTEXT, topics={})
    payload = b'{"ts": "2025-01-10T11:59:00Z", "power": 41.5}'
    first = _decode(payload, context=context)
    assert TELEMETRY in context.topics
    assert _decode(payload, context=context) == first
