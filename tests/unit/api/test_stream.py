"""The live stream's event filter and SSE format (hub/api/stream.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.api.stream import event_filter, format_event
from hub.events import Event


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_live_stream_filters_and_formats_events() -> None:
    reading = Event(
        "reading", "sl-1", "street_light", utc(2026, 1, 1), {"metric": "power", "value": 4.5}
    )
    status = Event("status", "sl-2", "street_light", utc(2026, 1, 1), {"status": "online"})
    assert event_filter(None, None, None, None)(reading)
    assert event_filter(["status"], None, None, None)(status)
    assert not event_filter(["status"], None, None, None)(reading)
    assert not event_filter(None, ["sl-2"], None, None)(reading)
    assert not event_filter(None, None, None, ["voltage"])(reading)
    assert event_filter(None, None, None, ["voltage"])(status), (
        "a metric filter only narrows readings"
    )
    assert format_event(reading) == (
        "event: reading\n"
        'data: {"type":"reading","device_id":"sl-1","profile":"street_light",'
        '"time":"2026-01-01T00:00:00Z","metric":"power","value":4.5}\n\n'
    )
