"""Scheduled evaluation: window, stale and domain rules, and the hourly
air-quality classes. Each rule is one or two SQL queries over all the devices it
targets, then a pure verdict per device (:mod:`hub.alerts.conditions`,
:mod:`hub.alerts.domain`).

Data-driven rules judge each device at the time of its own newest reading, so
back-filled or late data raise the alerts they should; only the stale rule uses
the wall clock (silence has no reading time).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hub.alerts.conditions import Verdict, stale_verdict, window_verdict
from hub.alerts.domain import airquality, streetlight, water
from hub.alerts.lifecycle import Lifecycle
from hub.model import DeviceRow, Rule
from hub.profiles import Profile, shown_unit
from hub.store import airquality as aq_store
from hub.store import alerts_inputs as inputs
from hub.store.db import AsyncConn

log = logging.getLogger(__name__)

REFERENCE_DAYS = 7  # history a lamp's full-output power is learned from
REFERENCE_TTL = timedelta(hours=1)


@dataclass
class Context:
    """What a scheduled run needs besides the database."""

    lifecycle: Lifecycle
    profiles: Mapping[str, Profile]
    timezone: str
    site: tuple[float, float] | None
    now: datetime
    # Learned lamp power per rule: (when learned, device -> full-output watts).
    references: dict[int, tuple[datetime, dict[int, float]]] = field(default_factory=dict)
    unplaced: set[str] = field(default_factory=set)


async def evaluate(conn: AsyncConn, ctx: Context, rule: Rule, devices: Sequence[DeviceRow]) -> int:
    """Evaluate one scheduled rule for its devices; returns the alerts changed."""
    if not devices:
        return 0
    profile = ctx.profiles.get(rule.profile)
    if profile is None:
        return 0
    if rule.kind == "stale":
        verdicts = _stale(ctx, rule, profile, devices)
    elif rule.kind == "window":
        verdicts = await _window(conn, ctx, rule, devices)
    else:
        verdicts = await _domain(conn, ctx, rule, profile, devices)
    changed = 0
    for device, verdict in verdicts:
        if await ctx.lifecycle.apply(conn, rule, device, verdict) is not None:
            changed += 1
    return changed


Verdicts = list[tuple[DeviceRow, Verdict | None]]


def _stale(ctx: Context, rule: Rule, profile: Profile, devices: Sequence[DeviceRow]) -> Verdicts:
    limit_s = profile.expected_interval_s * rule.number("factor", profile.offline_factor)
    return [
        (
            d,
            stale_verdict(
                now=ctx.now,
                limit_s=limit_s,
                last_seen=d.last_seen,
                status=d.status,
                status_changed_at=d.status_changed_at,
            ),
        )
        for d in devices
    ]


async def _window(
    conn: AsyncConn, ctx: Context, rule: Rule, devices: Sequence[DeviceRow]
) -> Verdicts:
    assert rule.metric is not None
    values = await inputs.window_aggregates(
        conn,
        profile=rule.profile,
        metric=rule.metric,
        aggregate=str(rule.parameters.get("aggregate", "mean")),
        window=timedelta(seconds=rule.number("window_s", 86400)),
        local_day=bool(rule.parameters.get("local_day", False)),
        timezone=ctx.timezone,
    )
    profile = ctx.profiles.get(rule.profile)
    unit = shown_unit(profile.metrics.get(rule.metric) if profile is not None else None)
    out: Verdicts = []
    for d in devices:
        w = values.get(d.pk)
        if w is None:
            continue
        is_open = ctx.lifecycle.is_open(rule, d)
        verdict = window_verdict(
            rule, value=w.value, count=w.count, at=w.at, start=w.start, is_open=is_open,
            unit=unit,
        )  # fmt: skip
        out.append((d, verdict))
    return out


async def _domain(
    conn: AsyncConn, ctx: Context, rule: Rule, profile: Profile, devices: Sequence[DeviceRow]
) -> Verdicts:
    check = rule.parameters.get("check")
    metric = rule.metric or ""
    lookback = timedelta(seconds=profile.offline_after_s)
    for_s = timedelta(seconds=rule.number("for_s", streetlight.DEFAULT_FOR_S))
    if check == "night_flow":
        return await _night_flow(conn, ctx, rule, profile, devices)
    if check == "hourly_limit":
        return await _hourly_limit(conn, ctx, rule, devices)
    if check == "power_band":
        return await _power_band(conn, ctx, rule, devices, for_s + lookback)
    if check == "cycling":
        span = timedelta(hours=1)
    elif check == "register_backflow":
        span = max(timedelta(hours=1), 3 * timedelta(seconds=profile.expected_interval_s))
    else:
        span = for_s + lookback
    by_pk = {d.pk: d for d in devices}
    out: Verdicts = []
    spans = inputs.latest_spans(conn, profile=rule.profile, metric=metric, span=span)
    async with aclosing(spans) as rows:
        async for device_pk, samples in rows:
            d = by_pk.get(device_pk)
            if d is None:
                continue
            is_open = ctx.lifecycle.is_open(rule, d)
            if check == "cycling":
                out.append((d, streetlight.cycling(rule, samples, is_open=is_open)))
            elif check == "register_backflow":
                out.append((d, water.register_backflow(rule, samples, is_open=is_open)))
            elif check in ("day_burner", "lamp_outage"):
                place = _place(ctx, d)
                if place is None:
                    continue
                judge = streetlight.day_burner if check == "day_burner" else streetlight.lamp_outage
                out.append((d, judge(rule, samples, lat=place[0], lon=place[1], is_open=is_open)))
    return out


def _place(ctx: Context, device: DeviceRow) -> tuple[float, float] | None:
    if device.lat is not None and device.lon is not None:
        return device.lat, device.lon
    if ctx.site is None and device.device_id not in ctx.unplaced:
        if not ctx.unplaced:  # once, not once per lamp
            log.warning(
                "street light %s (and maybe others) has no coordinates and "
                "HUB_ALERTS_SITE_LAT/LON are unset: sun-based rules skip such lamps",
                device.device_id,
            )
        ctx.unplaced.add(device.device_id)
    return ctx.site


async def _night_flow(
    conn: AsyncConn, ctx: Context, rule: Rule, profile: Profile, devices: Sequence[DeviceRow]
) -> Verdicts:
    metric = rule.metric or "flow"
    needed = water.nights_needed(rule)
    nights = water.night_windows(rule, timezone=ctx.timezone, until=ctx.now, count=needed + 2)
    minima = await inputs.night_minima(
        conn, profile=rule.profile, metric=metric, windows=[(n.start, n.end) for n in nights]
    )
    latest = await inputs.latest_times(
        conn, profile=rule.profile, metric=metric, horizon=timedelta(days=needed + 3)
    )
    out: Verdicts = []
    for d in devices:
        newest = latest.get(d.pk)
        if newest is None:
            continue
        per_night = minima.get(d.pk, {})
        stats = []
        for index, night in enumerate(nights):
            if night.end > newest:
                continue
            minimum, count = per_night.get(index, (None, 0))
            stats.append(water.NightStat(night, minimum, count))
        verdict = water.night_flow(
            rule,
            stats,
            expected_interval_s=profile.expected_interval_s,
            is_open=ctx.lifecycle.is_open(rule, d),
        )
        out.append((d, verdict))
    return out


async def _power_band(
    conn: AsyncConn, ctx: Context, rule: Rule, devices: Sequence[DeviceRow], span: timedelta
) -> Verdicts:
    metric = rule.metric or "power"
    dim_metric = str(rule.parameters.get("dim_metric", "dim_level"))
    references: dict[int, float] = {}
    if rule.optional("rated_w") is None:
        learned = ctx.references.get(rule.id)
        if learned is None or ctx.now - learned[0] > REFERENCE_TTL:
            values = await inputs.power_references(
                conn,
                profile=rule.profile,
                metric=metric,
                dim_metric=dim_metric,
                min_ratio=rule.number("min_ratio", streetlight.DEFAULT_MIN_RATIO),
                since=ctx.now - timedelta(days=REFERENCE_DAYS),
                until=ctx.now - timedelta(hours=2),
            )
            learned = (ctx.now, values)
            ctx.references[rule.id] = learned
        references = learned[1]
    by_pk = {d.pk: d for d in devices}
    out: Verdicts = []
    spans = inputs.paired_spans(
        conn, profile=rule.profile, metric=metric, other=dim_metric, span=span
    )
    async with aclosing(spans) as rows:
        async for device_pk, paired in rows:
            d = by_pk.get(device_pk)
            if d is None:
                continue
            samples = [s for s in paired if s[2] > 0]
            if not samples:
                continue
            verdict = streetlight.power_band(
                rule,
                samples,
                reference_w=references.get(d.pk),
                is_open=ctx.lifecycle.is_open(rule, d),
            )
            out.append((d, verdict))
    return out


async def _hourly_limit(
    conn: AsyncConn, ctx: Context, rule: Rule, devices: Sequence[DeviceRow]
) -> Verdicts:
    metric = rule.metric or "no2"
    hours = await inputs.last_hour_means(conn, profile=rule.profile, metrics=[metric])
    if not hours:
        return []
    local_now = ctx.now.astimezone(ZoneInfo(ctx.timezone))
    year_start = local_now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    above = rule.number("above", 200.0)
    counts = await inputs.hours_above(
        conn, profile=rule.profile, metric=metric, above=above, since=year_start, until=ctx.now
    )
    out: Verdicts = []
    for d in devices:
        hour = hours.get(d.pk)
        if hour is None or metric not in hour.means:
            continue
        verdict = airquality.hourly_limit(
            rule,
            hour=hour.hour,
            mean=hour.means[metric],
            count=hour.counts[metric],
            exceedances_this_year=counts.get(d.pk, 0),
        )
        out.append((d, verdict))
    return out


async def update_air_quality(
    conn: AsyncConn,
    profiles: Mapping[str, Profile],
    devices: Sequence[DeviceRow],
    saved: dict[int, datetime],
) -> int:
    """Store the newest complete hour's class of every monitor; returns how many
    monitors got a new hour. ``saved`` remembers the hour stored per device."""
    stored = 0
    for profile in profiles.values():
        pollutants = [m for m in profile.metrics if m in airquality.CLASS_BOUNDS]
        if not pollutants or not any(d.profile == profile.name for d in devices):
            continue
        hours = await inputs.last_hour_means(conn, profile=profile.name, metrics=pollutants)
        for device_pk, hour in hours.items():
            if saved.get(device_pk) == hour.hour:
                continue
            classified = airquality.classify_hour(hour.hour, hour.means)
            if classified is None:
                continue
            await aq_store.save_class(
                conn,
                device=device_pk,
                hour=classified.hour,
                class_name=classified.name,
                pollutants=classified.pollutants,
                means=classified.values,
            )
            saved[device_pk] = hour.hour
            stored += 1
    return stored
