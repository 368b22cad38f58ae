"""Readings: one device's raw readings or buckets, and the latest values of a fleet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Response

from hub.api import cursor as cursors
from hub.api import params
from hub.api.deps import API_PREFIX, AppSettings, DbConn, Profiles
from hub.api.params import Cursor, DeviceId, From, Metrics, To, Tz
from hub.api.privacy import Visible, require_own_data
from hub.api.problems import responses
from hub.api.schemas.readings import (
    Aggregate,
    LatestPage,
    Readings,
)
from hub.config import Settings
from hub.errors import InvalidParameter
from hub.model import Device
from hub.privacy.access_log import Read, record
from hub.privacy.policy import Visibility
from hub.profiles import Profile
from hub.store import devices as device_store
from hub.store import readings as store
from hub.store.db import AsyncConn
from hub.store.devices import DeviceFilter

router = APIRouter(prefix=API_PREFIX, tags=["readings"])

DEFAULT_RANGE = timedelta(days=1)
# Buckets are bounded by their number (HUB_API_MAX_ROWS); this only keeps ranges sane.
LONGEST_BUCKETED_RANGE = timedelta(days=20 * 366)
_SOURCE_NAMES = {"raw": "raw", "1h": "rollup_1h", "1d": "rollup_1d"}

DeviceSelection = Annotated[DeviceFilter, Depends(params.device_filter(by_id=True))]


def _check_metrics(metrics: list[str] | None, profile: Profile | None) -> list[str] | None:
    if not metrics:
        return None
    if profile is not None:
        for name in metrics:
            if name not in profile.metrics:
                raise InvalidParameter(
                    "metric",
                    f"{name!r} is not a metric of {profile.name} "
                    f"(metrics: {', '.join(profile.metrics)})",
                )
    return sorted(set(metrics))


@router.get(
    "/devices/{device_id}/readings",
    summary="Readings of one device: raw, or aggregated in time buckets",
    response_model=Readings,
    responses=responses(401, 404, 422),
)
async def device_readings(
    device_id: DeviceId,
    conn: DbConn,
    vis: Visible,
    settings: AppSettings,
    profiles: Profiles,
    metric: Metrics = None,
    start: From = None,
    end: To = None,
    tz: Tz = None,
    bucket: Annotated[
        str | None,
        Query(
            max_length=10,
            description="Bucket width (`5m`, `15m`, `1h`, `6h`, `1d`, `7d`, `1w`...); "
            "omit for raw readings.",
            examples=["1h"],
        ),
    ] = None,
    agg: Annotated[Aggregate, Query(description="Aggregate of each bucket.")] = "avg",
    limit: Annotated[
        int | None,
        Query(ge=1, description="Raw readings per page; at most HUB_API_MAX_ROWS (default)."),
    ] = None,
    cursor: Cursor = None,
) -> Response:
    """Raw readings in `[from, to)` (at most `HUB_API_MAX_RANGE_DAYS`, a page of
    `limit` at a time), or with `bucket=` one `agg` value per bucket and metric.

    Buckets come from the hourly/daily rollups where they fit exactly (continuous
    aggregates on TimescaleDB), else from the raw readings. Buckets of whole days
    follow the calendar of `tz`; shorter ones are aligned to UTC. The range is
    widened to whole buckets. More than HUB_API_MAX_ROWS buckets x metrics is a 422.

    A personal device's readings need a key with the personal permission (403
    otherwise: read its district's aggregates); each such read is logged.
    """
    device = await require_own_data(conn, device_id, vis)
    profile = profiles.get(device.profile)
    metrics = _check_metrics(metric, profile)
    zone = params.zone(tz or settings.timezone)
    max_rows = settings.api_max_rows
    if limit is not None and limit > max_rows:
        raise InvalidParameter("limit", f"must be at most {max_rows}")
    units = {n: m.unit for n, m in profile.metrics.items()} if profile is not None else {}
    if metrics is not None:
        units = {n: u for n, u in units.items() if n in metrics}
    query = _Query(device, metrics, units, start, end, zone, max_rows, vis)
    if bucket is None:
        return await _raw_page(conn, query, settings, limit or max_rows, cursor)
    if cursor is not None:
        raise InvalidParameter(
            "cursor", "buckets come in one response; a cursor is for raw readings"
        )
    return await _buckets(conn, query, bucket, agg)


@dataclass(frozen=True, slots=True)
class _Query:
    """What both kinds of readings of one device share, checked."""

    device: Device
    metrics: list[str] | None
    units: dict[str, str]
    start: datetime | None
    end: datetime | None
    zone: str
    max_rows: int
    vis: Visibility

    async def log(self, conn: AsyncConn, what: str, rows: int) -> None:
        if self.vis.logs(self.device.data_class):
            await record(conn, self.vis, [Read(self.device.device_id, what, rows)])


async def _raw_page(
    conn: AsyncConn, query: _Query, settings: Settings, page_size: int, cursor: str | None
) -> Response:
    """One page of raw readings in time order, and the cursor of the next."""
    span = params.time_range(
        query.start,
        query.end,
        tz=query.zone,
        default=DEFAULT_RANGE,
        longest=timedelta(days=settings.api_max_range_days),
        hint="ask for buckets (bucket=1h) or use the CSV export",
    )
    after = None
    if cursor is not None:
        iso, name = cursors.decode(cursor, str, str)
        after = (_cursor_time(iso), name)
    points = await store.raw(
        conn,
        query.device.id,
        metrics=query.metrics,
        start=span.start,
        end=span.end,
        limit=page_size + 1,
        after=after,
    )
    more = len(points) > page_size
    points = points[:page_size]
    await query.log(conn, f"readings {span.start.isoformat()}/{span.end.isoformat()}", len(points))
    next_cursor = cursors.encode(points[-1].time.isoformat(), points[-1].metric) if more else None
    return _json(
        {
            "device_id": query.device.device_id,
            "from": span.start,
            "to": span.end,
            "bucket": None,
            "agg": None,
            "tz": None,
            "source": "raw",
            "units": query.units,
            "readings": [{"time": p.time, "metric": p.metric, "value": p.value} for p in points],
            "next_cursor": next_cursor,
        }
    )


async def _buckets(conn: AsyncConn, query: _Query, bucket: str, agg: Aggregate) -> Response:
    """One ``agg`` value per bucket and metric, the range widened to whole buckets."""
    width = params.bucket_width(bucket)
    span = params.time_range(
        query.start,
        query.end,
        tz=query.zone,
        default=DEFAULT_RANGE,
        longest=LONGEST_BUCKETED_RANGE,
        hint="choose a shorter range",
    )
    grid = store.make_grid(width, query.zone, span.start, span.end)
    series = len(query.metrics) if query.metrics is not None else max(1, len(query.units))
    if grid.buckets * series > query.max_rows:
        raise InvalidParameter(
            "bucket",
            f"{grid.buckets} buckets x {series} metrics is more than the limit of "
            f"{query.max_rows} values: choose a wider bucket, fewer metrics or a shorter range",
        )
    points = await store.buckets(
        conn, query.device.id, metrics=query.metrics, grid=grid, aggregate=agg
    )
    await query.log(
        conn,
        f"readings {bucket} {agg} {grid.start.isoformat()}/{grid.end.isoformat()}",
        len(points),
    )
    return _json(
        {
            "device_id": query.device.device_id,
            "from": grid.start,
            "to": grid.end,
            "bucket": bucket,
            "agg": agg,
            "tz": grid.tz,
            "source": _SOURCE_NAMES[grid.source],
            "units": query.units,
            "readings": [{"time": p.time, "metric": p.metric, "value": p.value} for p in points],
            "next_cursor": None,
        }
    )


def _json(body: dict[str, Any]) -> Response:
    # Built by hand: validating thousands of rows through the response model would
    # cost more than the query (the schemathesis test checks the shape instead).
    return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z), media_type="application/json")


def latest_lookback(profiles: dict[str, Profile]) -> timedelta:
    # A live device's latest reading is younger than twice its reporting interval;
    # older ones are still found (one probe each), this only sets what is scanned at
    # once. The offline time (hours for some profiles) read every reading of those
    # hours: the fleet of a town (500 devices) 393 ms with 6 hours, 85 ms with 30
    # minutes (docs/performance.md, "A year of a town").
    longest = max((2 * p.expected_interval_s for p in profiles.values()), default=1800)
    return min(timedelta(hours=6), max(timedelta(minutes=10), timedelta(seconds=longest)))


def _cursor_time(iso: str) -> datetime:
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        raise InvalidParameter(
            "cursor", "not a cursor this API gave out; start without one"
        ) from None


@router.get(
    "/readings/latest",
    summary="Latest value of every metric of many devices",
    response_model=LatestPage,
    responses=responses(401, 422),
)
async def latest_readings(
    conn: DbConn,
    vis: Visible,
    profiles: Profiles,
    where: DeviceSelection,
    metric: Metrics = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="Most devices per page.")] = 1000,
    cursor: Cursor = None,
) -> Response:
    """The fleet's latest values (or those of the devices the filters select), by
    device id, a page of devices at a time. Devices without readings have no values,
    and neither have those whose own data the reader may not read (personal devices
    without the personal permission: hub.privacy.policy)."""
    after = cursors.decode(cursor, str)[0] if cursor is not None else None
    wanted = sorted(set(metric)) if metric else None
    rows = await store.latest_page(
        conn,
        where,
        limit=limit + 1,
        after=after,
        metrics=wanted,
        lookback=latest_lookback(profiles),
    )
    items: list[dict[str, Any]] = []
    for device_id, profile_name, name, time, value in rows:
        if not items or items[-1]["device_id"] != device_id:
            items.append({"device_id": device_id, "profile": profile_name, "values": {}})
        if name is not None and time is not None and value is not None:
            spec = profiles.get(profile_name)
            unit = spec.metrics[name].unit if spec and name in spec.metrics else None
            items[-1]["values"][name] = {"time": time, "value": value, "unit": unit}
    more = len(items) > limit
    items = items[:limit]
    next_cursor = cursors.encode(items[-1]["device_id"]) if more and items else None
    if vis.audited:
        served = {i["device_id"]: len(i["values"]) for i in items if i["values"]}
        personal = await device_store.of_class(conn, list(served), "personal")
        await record(
            conn, vis, [Read(d, "GET /api/v1/readings/latest", served[d]) for d in personal]
        )
    return _json({"items": items, "next_cursor": next_cursor})
