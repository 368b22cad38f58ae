"""The checks every telemetry format applies: metric, type, range and time window.

A profile's metrics are read through a plain lookup table built once per
:class:`~hub.profiles.Profile` object, so the hot path never touches pydantic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hub.errors import PayloadError
from hub.profiles import Profile

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Epoch numbers at or above this are milliseconds (1e11 s would be the year 5138).
_EPOCH_MS_FROM = 1e11


@dataclass(frozen=True, slots=True)
class MetricSpec:
    type: str  # "float" | "int" | "bool"
    unit: str
    min: float
    max: float


@dataclass(frozen=True, slots=True)
class ProfileTable:
    profile: str
    fallback: bool
    metrics: dict[str, MetricSpec]


# Built once per Profile object, keyed by its id (the entry keeps the profile alive,
# so the id cannot be reused).
_TABLES: dict[int, tuple[Profile, ProfileTable]] = {}


def table_for(profile: Profile) -> ProfileTable:
    entry = _TABLES.get(id(profile))
    if entry is not None and entry[0] is profile:
        return entry[1]
    table = ProfileTable(
        profile=profile.name,
        fallback=profile.receive_time_fallback,
        metrics={
            name: MetricSpec(
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
class Checks:
    """One message's device, profile table and time window."""

    device_id: str
    table: ProfileTable
    received_at: datetime
    earliest: datetime
    latest: datetime
    fallback: bool

    @classmethod
    def of(
        cls,
        device_id: str,
        profile: Profile,
        received_at: datetime,
        max_future: timedelta,
        max_past: timedelta,
    ) -> Checks:
        if received_at.tzinfo is None:
            received_at = received_at.replace(tzinfo=UTC)  # the ingest passes UTC
        table = table_for(profile)
        return cls(
            device_id=device_id,
            table=table,
            received_at=received_at.astimezone(UTC),
            earliest=received_at - max_past,
            latest=received_at + max_future,
            fallback=table.fallback,
        )

    def fail(self, reason: str, detail: str) -> PayloadError:
        return PayloadError(reason, detail, device_id=self.device_id)


def receive_time(ctx: Checks) -> datetime:
    """The receive time for a reading without its own, if the profile allows it."""
    if not ctx.fallback:
        raise ctx.fail(
            "bad_timestamp", "no timestamp, and the profile does not allow the receive time"
        )
    return ctx.received_at


def parse_timestamp(ts: object, ctx: Checks) -> datetime:
    """An RFC 3339 string with offset, or epoch seconds or milliseconds."""
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
        return from_epoch(seconds, ctx)
    raise ctx.fail("bad_timestamp", f"'ts' must be an RFC 3339 string or epoch number: {ts!r}")


def from_epoch(seconds: float, ctx: Checks) -> datetime:
    try:
        return _EPOCH + timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        raise ctx.fail("bad_timestamp", f"epoch time out of range: {seconds!r}") from None


def check_window(time: datetime, ctx: Checks) -> datetime:
    if time > ctx.latest:
        raise ctx.fail("bad_timestamp", f"{time.isoformat()} is too far in the future")
    if time < ctx.earliest:
        raise ctx.fail("bad_timestamp", f"{time.isoformat()} is too far in the past")
    return time


def check_value(name: str, raw: object, spec: MetricSpec, ctx: Checks) -> float:
    """The value as stored (a float), or the refusal of the whole message."""
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


def _checked_value(name: str, raw: object, spec: MetricSpec, ctx: Checks) -> float:
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
