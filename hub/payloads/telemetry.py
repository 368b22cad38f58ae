"""Telemetry in the hub's formats: a JSON object (flat or with ``metrics``) or a
SenML pack, told apart by the JSON value at the top."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

import orjson

from hub.errors import PayloadError
from hub.model import Reading
from hub.payloads.checks import Checks
from hub.payloads.hub_json import decode_object
from hub.payloads.senml import decode_pack
from hub.profiles import Profile


class DecodedTelemetry(NamedTuple):
    """Readings of one message, and whether their time came from the broker.

    ``receive_time_used`` is true when a reading had no timestamp of its own and got
    ``received_at`` (only allowed when the profile sets ``receive_time_fallback``),
    or used a SenML time relative to ``received_at``.
    """

    readings: list[Reading]
    receive_time_used: bool


def decode_telemetry(
    payload: bytes,
    *,
    device_id: str,
    profile: Profile,
    received_at: datetime,
    max_future: timedelta,
    max_past: timedelta,
) -> list[Reading]:
    """Decode one telemetry message into at least one reading, or raise PayloadError."""
    return decode_telemetry_detailed(
        payload,
        device_id=device_id,
        profile=profile,
        received_at=received_at,
        max_future=max_future,
        max_past=max_past,
    ).readings


def decode_telemetry_detailed(
    payload: bytes,
    *,
    device_id: str,
    profile: Profile,
    received_at: datetime,
    max_future: timedelta,
    max_past: timedelta,
) -> DecodedTelemetry:
    """Like :func:`decode_telemetry`, also saying whether the receive time was used."""
    readings, receive_time_used = decode_readings(
        payload, device_id, profile, received_at, max_future, max_past
    )
    return DecodedTelemetry(readings, receive_time_used)


def decode_readings(
    payload: bytes,
    device_id: str,
    profile: Profile,
    received_at: datetime,
    max_future: timedelta,
    max_past: timedelta,
) -> tuple[list[Reading], bool]:
    """The readings of one message and whether they got the receive time (the
    ingest's path: positional, no record built)."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError("decode", f"not JSON: {exc}", device_id=device_id) from None
    ctx = Checks.of(device_id, profile, received_at, max_future, max_past)
    if isinstance(doc, dict):
        return decode_object(doc, ctx)
    if isinstance(doc, list):
        return decode_pack(doc, ctx)
    raise PayloadError("decode", "expected a JSON object or a SenML array", device_id=device_id)
