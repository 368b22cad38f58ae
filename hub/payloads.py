"""Decode MQTT topics and payloads into readings. Pure functions, no I/O.

Three telemetry formats are accepted (``docs/payloads.md`` has examples):

- a flat JSON object of metric values with an optional ``ts``;
- an object ``{"ts": ..., "metrics": {...}}``;
- a SenML JSON pack (RFC 8428), with base name/time/unit/value/sum resolution.

Every failure raises :class:`~hub.errors.PayloadError` with one of the dead-letter
reasons; nothing else escapes, whatever the bytes. The first bad value refuses the
whole message, so a message is stored entirely or not at all.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

import orjson

from hub.errors import PayloadError
from hub.model import MessageKind, Reading, Topic
from hub.profiles import Profile

DEVICE_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_PROFILE_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Epoch numbers at or above this are milliseconds (1e11 s would be the year 5138).
_EPOCH_MS_FROM = 1e11
# RFC 8428 section 4.5.3: SenML times below 2**28 are relative to "now".
_SENML_RELATIVE_BELOW = 2**28

# (from unit, to unit) -> (factor, offset): to = from * factor + offset.
UNIT_CONVERSIONS: dict[tuple[str, str], tuple[float, float]] = {
    ("kWh", "Wh"): (1000.0, 0.0),
    ("Wh", "kWh"): (0.001, 0.0),
    ("kW", "W"): (1000.0, 0.0),
    ("W", "kW"): (0.001, 0.0),
    ("mV", "V"): (0.001, 0.0),
    ("V", "mV"): (1000.0, 0.0),
    ("mA", "A"): (0.001, 0.0),
    ("A", "mA"): (1000.0, 0.0),
    ("l", "m3"): (0.001, 0.0),
    ("m3", "l"): (1000.0, 0.0),
    ("m3/s", "l/h"): (3_600_000.0, 0.0),
    ("m3/h", "l/h"): (1000.0, 0.0),
    ("l/s", "l/h"): (3600.0, 0.0),
    ("l/min", "l/h"): (60.0, 0.0),
    ("l/h", "m3/h"): (0.001, 0.0),
    ("K", "Cel"): (1.0, -273.15),
    ("Cel", "K"): (1.0, 273.15),
    ("mg/m3", "ug/m3"): (1000.0, 0.0),
    ("Pa", "hPa"): (0.01, 0.0),
    ("hPa", "Pa"): (100.0, 0.0),
    ("kPa", "hPa"): (10.0, 0.0),
    ("bar", "hPa"): (1000.0, 0.0),
    ("/", "%"): (100.0, 0.0),
    ("/", "%RH"): (100.0, 0.0),
    ("/", "%EL"): (100.0, 0.0),
    ("%", "%RH"): (1.0, 0.0),
    ("%", "%EL"): (1.0, 0.0),
}


class DecodedTelemetry(NamedTuple):
    """Readings of one message, and whether their time came from the broker.

    ``receive_time_used`` is true when a reading had no timestamp of its own and got
    ``received_at`` (only allowed when the profile sets ``receive_time_fallback``),
    or used a SenML time relative to ``received_at``.
    """

    readings: list[Reading]
    receive_time_used: bool


def parse_topic(topic: str, prefix: str) -> Topic:
    """Split ``{prefix}/{profile}/{device_id}/{telemetry|status}`` into its parts."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != prefix:
        raise PayloadError(
            "bad_topic", f"expected {prefix}/<profile>/<device_id>/telemetry|status", topic=topic
        )
    _, profile, device_id, last = parts
    kind: MessageKind
    if last == "telemetry":
        kind = "telemetry"
    elif last == "status":
        kind = "status"
    else:
        raise PayloadError("bad_topic", f"unknown message kind {last!r}", topic=topic)
    if not _PROFILE_RE.fullmatch(profile):
        raise PayloadError("bad_topic", f"malformed profile name {profile!r}", topic=topic)
    if not DEVICE_ID_RE.fullmatch(device_id):
        raise PayloadError(
            "bad_topic", "device id must be 1-64 characters of A-Z a-z 0-9 _ . : -", topic=topic
        )
    return Topic(profile=profile, device_id=device_id, kind=kind)


def decode_status(payload: bytes) -> Literal["online", "offline"]:
    """Read a status message: ``online``/``offline`` as text, JSON string or object."""
    text = payload.strip()
    if text == b"online":
        return "online"
    if text == b"offline":
        return "offline"
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise PayloadError("decode", "status must be 'online' or 'offline'") from None
    if isinstance(doc, dict) and set(doc) == {"status"}:
        doc = doc["status"]
    if doc == "online":
        return "online"
    if doc == "offline":
        return "offline"
    raise PayloadError("decode", "status must be 'online' or 'offline'")


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
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError("decode", f"not JSON: {exc}", device_id=device_id) from None
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)  # the ingest passes UTC
    table = _table_for(profile)
    ctx = _Context(
        device_id=device_id,
        table=table,
        received_at=received_at.astimezone(UTC),
        earliest=received_at - max_past,
        latest=received_at + max_future,
        fallback=table.fallback,
    )
    if isinstance(doc, dict):
        return _decode_object(doc, ctx)
    if isinstance(doc, list):
        return _decode_senml(doc, ctx)
    raise PayloadError("decode", "expected a JSON object or a SenML array", device_id=device_id)


# ---- per-profile lookup table ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MetricSpec:
    type: str  # "float" | "int" | "bool"
    unit: str
    min: float
    max: float


@dataclass(frozen=True, slots=True)
class _Table:
    profile: str
    fallback: bool
    metrics: dict[str, _MetricSpec]


# Built once per Profile object, keyed by its id (the entry keeps the profile alive,
# so the id cannot be reused): the hot path reads plain dicts, never pydantic.
_TABLES: dict[int, tuple[Profile, _Table]] = {}


def _table_for(profile: Profile) -> _Table:
    entry = _TABLES.get(id(profile))
    if entry is not None and entry[0] is profile:
        return entry[1]
    table = _Table(
        profile=profile.name,
        fallback=profile.receive_time_fallback,
        metrics={
            name: _MetricSpec(
                type=m.type,
                unit=m.unit,
                min=-math.inf if m.min is None else m.min,
                max=math.inf if m.max is None else m.max,
            )
            for name, m in profile.metrics.items()
        },
    )
    _TABLES[id(profile)] = (profile, table)
    return table


@dataclass(slots=True)
class _Context:
    device_id: str
    table: _Table
    received_at: datetime
    earliest: datetime
    latest: datetime
    fallback: bool

    def fail(self, reason: str, detail: str) -> PayloadError:
        return PayloadError(reason, detail, device_id=self.device_id)


# ---- JSON objects ---------------------------------------------------------------


def _decode_object(doc: dict[str, Any], ctx: _Context) -> DecodedTelemetry:
    if "metrics" in doc:
        extra = doc.keys() - {"ts", "metrics"}
        if extra:
            raise ctx.fail(
                "unknown_metric",
                f"beside 'metrics' only 'ts' is allowed, got {sorted(extra)[0]!r}",
            )
        values = doc["metrics"]
        if not isinstance(values, dict):
            raise ctx.fail("decode", "'metrics' must be an object of metric values")
    else:
        values = doc
    if len(values) == (1 if values is doc and "ts" in doc else 0):
        raise ctx.fail("empty", "the message holds no metric values")
    ts = doc.get("ts")
    if ts is None:
        if "ts" in doc:
            raise ctx.fail("bad_timestamp", "'ts' is null")
        time = _receive_time(ctx)
    else:
        time = _check_window(_parse_timestamp(ts, ctx), ctx)
    readings: list[Reading] = []
    metrics = ctx.table.metrics
    for name, raw in values.items():
        if name == "ts" and values is doc:
            continue
        spec = metrics.get(name)
        if spec is None:
            raise ctx.fail("unknown_metric", f"{name!r} is not a metric of {ctx.table.profile}")
        readings.append(Reading(ctx.device_id, name, time, _check_value(name, raw, spec, ctx)))
    return DecodedTelemetry(readings, receive_time_used=ts is None)


def _receive_time(ctx: _Context) -> datetime:
    if not ctx.fallback:
        raise ctx.fail(
            "bad_timestamp", "no timestamp, and the profile does not allow the receive time"
        )
    return ctx.received_at


def _parse_timestamp(ts: object, ctx: _Context) -> datetime:
    if isinstance(ts, str):
        try:
            time = datetime.fromisoformat(ts)
        except ValueError:
            try:  # RFC 3339 allows a lower-case 't' and 'z'
                time = datetime.fromisoformat(ts.upper())
            except ValueError:
                raise ctx.fail("bad_timestamp", f"not an RFC 3339 time: {ts[:40]!r}") from None
        if time.utcoffset() is None:
            raise ctx.fail("bad_timestamp", f"time without a UTC offset: {ts[:40]!r}")
        return time.astimezone(UTC)
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        seconds = ts / 1000 if abs(ts) >= _EPOCH_MS_FROM else ts
        return _from_epoch(seconds, ctx)
    raise ctx.fail("bad_timestamp", f"'ts' must be an RFC 3339 string or epoch number: {ts!r}")


def _from_epoch(seconds: float, ctx: _Context) -> datetime:
    try:
        return _EPOCH + timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        raise ctx.fail("bad_timestamp", f"epoch time out of range: {seconds!r}") from None


def _check_window(time: datetime, ctx: _Context) -> datetime:
    if time > ctx.latest:
        raise ctx.fail("bad_timestamp", f"{time.isoformat()} is too far in the future")
    if time < ctx.earliest:
        raise ctx.fail("bad_timestamp", f"{time.isoformat()} is too far in the past")
    return time


def _check_value(name: str, raw: object, spec: _MetricSpec, ctx: _Context) -> float:
    # The common case first, cheaply: a plausible finite number for a numeric metric
    # (``type`` rather than ``isinstance``: a bool is an int, and goes the long way).
    if (type(raw) is float or type(raw) is int) and spec.type != "bool":
        value = float(raw)
        if (
            spec.min <= value <= spec.max
            and math.isfinite(value)
            and (spec.type == "float" or value.is_integer())
        ):
            return value
    return _checked_value(name, raw, spec, ctx)


def _checked_value(name: str, raw: object, spec: _MetricSpec, ctx: _Context) -> float:
    """Every rule, with the reason when one fails."""
    kind = spec.type
    if kind == "bool":
        if raw is True or raw is False:
            return 1.0 if raw else 0.0
        if isinstance(raw, int | float) and raw in (0, 1):
            return float(raw)
        raise ctx.fail("wrong_type", f"{name} must be true/false or 0/1, got {raw!r:.40}")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ctx.fail("wrong_type", f"{name} must be a number, got {raw!r:.40}")
    value = float(raw)
    if not math.isfinite(value):
        raise ctx.fail("wrong_type", f"{name} must be a finite number, got {raw!r}")
    if kind == "int" and not value.is_integer():
        raise ctx.fail("wrong_type", f"{name} must be a whole number, got {raw!r}")
    if value < spec.min or value > spec.max:
        raise ctx.fail(
            "implausible_value", f"{name}={value:g} outside {spec.min:g}..{spec.max:g} {spec.unit}"
        )
    return value


# ---- SenML --------------------------------------------------------------------


_SENML_FIELDS = frozenset(
    {"bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"}
)


def _decode_senml(pack: list[Any], ctx: _Context) -> DecodedTelemetry:
    if not pack:
        raise ctx.fail("empty", "the SenML pack has no records")
    base_name = ""
    base_time = 0.0
    base_unit: str | None = None
    base_value = 0.0
    base_sum = 0.0
    has_base_time = False
    any_timeless = False
    readings: list[Reading] = []
    metrics = ctx.table.metrics
    # Records of one pack mostly share names and times: resolve each once.
    resolved: dict[str, str] = {}
    times: dict[float, tuple[datetime, bool]] = {}
    for index, record in enumerate(pack):
        if not isinstance(record, dict):
            raise ctx.fail("decode", f"SenML record {index} is not an object")
        if not _SENML_FIELDS.issuperset(record):
            for key in record:
                if key.endswith("_"):
                    raise ctx.fail("decode", f"SenML record {index}: unsupported field {key!r}")
        if "bn" in record:
            base_name = _senml_str(record, "bn", index, ctx)
        if "bt" in record:
            base_time = _senml_number(record, "bt", index, ctx)
            has_base_time = True
        if "bu" in record:
            base_unit = _senml_str(record, "bu", index, ctx)
        if "bv" in record:
            base_value = _senml_number(record, "bv", index, ctx)
        if "bs" in record:
            base_sum = _senml_number(record, "bs", index, ctx)
        if "v" in record:
            v = record["v"]
            if type(v) is not float and type(v) is not int:  # bool is an int subclass
                v = _senml_number(record, "v", index, ctx)  # raises with the reason
            raw: float | bool = base_value + v
        elif "vb" in record:
            raw = record["vb"]
            if not isinstance(raw, bool):
                raise ctx.fail("wrong_type", f"SenML record {index}: 'vb' must be true or false")
        elif "vs" in record or "vd" in record:
            raise ctx.fail(
                "wrong_type", f"SenML record {index}: string and data values are not metrics"
            )
        elif "s" in record:
            raw = base_sum + _senml_number(record, "s", index, ctx)
        elif "n" in record or "u" in record or "t" in record:
            raise ctx.fail("decode", f"SenML record {index} has no value")
        else:
            continue  # a record of base fields only
        name = base_name + _senml_str(record, "n", index, ctx) if "n" in record else base_name
        metric = resolved.get(name)
        if metric is None:
            metric = resolved[name] = _metric_of(name, ctx, metrics)
        spec = metrics.get(metric)
        if spec is None:
            raise ctx.fail("unknown_metric", f"{metric!r} is not a metric of {ctx.table.profile}")
        if has_base_time or "t" in record:
            total = (
                base_time + _senml_number(record, "t", index, ctx) if "t" in record else base_time
            )
            cached = times.get(total)
            if cached is None:
                cached = times[total] = _senml_time(total, ctx)
            time, timeless = cached
        else:
            time, timeless = _receive_time(ctx), True
        any_timeless = any_timeless or timeless
        if "u" in record:
            unit: str | None = _senml_str(record, "u", index, ctx)
        else:
            # A boolean has no unit; a base unit meant for the numbers skips it.
            unit = None if raw is True or raw is False else base_unit
        if unit is not None and unit != spec.unit:
            if isinstance(raw, bool):
                raise ctx.fail("bad_unit", f"{metric} is in {spec.unit}, the record says {unit!r}")
            raw = _convert(metric, raw, unit, spec.unit, ctx)
        readings.append(Reading(ctx.device_id, metric, time, _check_value(metric, raw, spec, ctx)))
    if not readings:
        raise ctx.fail("empty", "the SenML pack holds no values")
    return DecodedTelemetry(readings, receive_time_used=any_timeless)


def _metric_of(name: str, ctx: _Context, metrics: dict[str, _MetricSpec]) -> str:
    """Split a SenML name into device and metric; the device must be this one."""
    device_id = ctx.device_id
    n = len(device_id)
    if (
        name.startswith(device_id)
        and name[n : n + 1] in (":", "/", ".")
        and name[n + 1 :] in metrics
    ):
        return name[n + 1 :]  # the usual "{device_id}:{metric}"
    cut = max(name.rfind(":"), name.rfind("/"), name.rfind("."))
    if cut < 0:
        return name
    device, metric = name[:cut], name[cut + 1 :]
    if device != ctx.device_id and not (
        device.endswith(ctx.device_id) and device[-len(ctx.device_id) - 1] in ":/"
    ):
        raise ctx.fail("unknown_device", f"SenML name {name[:80]!r} names another device")
    return metric


def _senml_time(total: float, ctx: _Context) -> tuple[datetime, bool]:
    if abs(total) < _SENML_RELATIVE_BELOW:
        # RFC 8428: relative to the time the pack was received.
        return _check_window(ctx.received_at + timedelta(seconds=total), ctx), True
    return _check_window(_from_epoch(total, ctx), ctx), False


def _senml_str(record: dict[str, Any], key: str, index: int, ctx: _Context) -> str:
    value = record[key]
    if not isinstance(value, str):
        raise ctx.fail("decode", f"SenML record {index}: {key!r} must be a string")
    return value


def _senml_number(record: dict[str, Any], key: str, index: int, ctx: _Context) -> float:
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        reason = "bad_timestamp" if key in ("t", "bt") else "wrong_type"
        raise ctx.fail(reason, f"SenML record {index}: {key!r} must be a number")
    if not math.isfinite(value):
        reason = "bad_timestamp" if key in ("t", "bt") else "wrong_type"
        raise ctx.fail(reason, f"SenML record {index}: {key!r} must be finite")
    return float(value)


def _convert(metric: str, value: float, unit: str, target: str, ctx: _Context) -> float:
    conversion = UNIT_CONVERSIONS.get((unit, target))
    if conversion is None:
        raise ctx.fail("bad_unit", f"{metric} is in {target}, cannot convert from {unit[:20]!r}")
    factor, offset = conversion
    return value * factor + offset


def convert_unit(value: float, unit: str, target: str) -> float:
    """Convert ``value`` from ``unit`` to ``target`` with the table; KeyError if unknown."""
    if unit == target:
        return value
    factor, offset = UNIT_CONVERSIONS[(unit, target)]
    return value * factor + offset
